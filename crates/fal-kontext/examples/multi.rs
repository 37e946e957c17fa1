//! Combine several reference images with FLUX.1 Kontext [pro] (or [max] with `-- max`).
//!
//! Point it at the emulator as `edit.rs` says, or at fal with FAL_KEY.

use fal_kontext::Client;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sample.png");

#[tokio::main]
async fn main() -> fal_kontext::Result<()> {
    let client = Client::from_env()?;
    let mut request = client
        .multi(
            "Place both bowls side by side on one table",
            [SAMPLE, SAMPLE],
        )
        .num_images(2);
    if std::env::args().any(|arg| arg == "max") {
        request = request.max();
    }
    let done = request.run().await?;
    for path in client
        .download_as(&done.output, "out", &done.request_id)
        .await?
    {
        println!("{}", path.display());
    }
    Ok(())
}
