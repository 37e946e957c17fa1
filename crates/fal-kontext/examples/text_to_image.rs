//! Make an image from text with FLUX.1 Kontext [pro] (or [max] with `-- max`).
//!
//! Point it at the emulator as `edit.rs` says, or at fal with FAL_KEY.

use fal_kontext::{AspectRatio, Client};

#[tokio::main]
async fn main() -> fal_kontext::Result<()> {
    let client = Client::from_env()?;
    let mut request = client
        .text_to_image("A lighthouse at dusk, oil painting")
        .aspect_ratio(AspectRatio::Landscape16x9);
    if std::env::args().any(|arg| arg == "max") {
        request = request.max();
    }
    let done = request.run().await?;
    let image = &done.output.images[0];
    // fal may leave the size out; only the URL is sure to be there.
    if let (Some(width), Some(height)) = (image.width, image.height) {
        eprintln!("{width}×{height} from request {}", done.request_id);
    }
    for path in client
        .download_as(&done.output, "out", &done.request_id)
        .await?
    {
        println!("{}", path.display());
    }
    Ok(())
}
