//! Edit an image with FLUX.1 Kontext [pro] (or [max] with `-- max`).
//!
//! Against fal: `FAL_KEY=… cargo run -p fal-kontext --example edit`.
//! Against the local emulator: start `cargo run -p fal-emulator`, then set
//! FAL_KEY, FAL_QUEUE_URL, FAL_RUN_URL and FAL_REST_URL to what it prints.

use fal_kontext::{Client, OutputFormat, Update};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sample.png");

#[tokio::main]
async fn main() -> fal_kontext::Result<()> {
    let client = Client::from_env()?;
    let mut request = client
        .edit("Put a donut next to the flour.", SAMPLE)
        .output_format(OutputFormat::Png);
    if std::env::args().any(|arg| arg == "max") {
        request = request.max();
    }
    let job = request.subscribe().await?;
    eprintln!(
        "submitted {} to {}",
        job.request_id(),
        job.handle().endpoint()
    );
    let done = job
        .output_with(|update| match update {
            Update::Queued { position } => eprintln!("queued (position {position:?})"),
            Update::InProgress { logs } => {
                logs.iter().for_each(|line| eprintln!("  {}", line.message))
            }
            Update::Completed { .. } => eprintln!("completed"),
        })
        .await?;
    for path in client
        .download_as(&done.output, "out", &done.request_id)
        .await?
    {
        println!("{}", path.display());
    }
    Ok(())
}
