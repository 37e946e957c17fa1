//! Edit an image with the open-weights FLUX.1 Kontext [dev], synchronously
//! (`fal.run`, no queue).
//!
//! Point it at the emulator as `edit.rs` says, or at fal with FAL_KEY.

use fal_kontext::{Acceleration, Client, ImageInput};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sample.png");

#[tokio::main]
async fn main() -> fal_kontext::Result<()> {
    let client = Client::from_env()?;
    let image = ImageInput::bytes(
        std::fs::read(SAMPLE).expect("the sample image ships with the repo"),
        "sample.png",
    );
    let output = client
        .dev("Make it snow", image)
        .num_inference_steps(20)
        .acceleration(Acceleration::Regular)
        .run_sync()
        .await?;
    for path in client.download_as(&output, "out", "dev").await? {
        println!("{}", path.display());
    }
    Ok(())
}
