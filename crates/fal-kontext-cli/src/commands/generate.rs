//! `kontext generate`: an image from a prompt alone.

use super::one;
use crate::cli::{GenerateArgs, Global};
use crate::exit::Failure;
use crate::job::{Fields, Job, Task};

/// Generates, waits with progress, saves and prints the results.
pub async fn run(args: GenerateArgs, global: &Global) -> Result<(), Failure> {
    let job = Job {
        prompt: args.prompt,
        task: Task::TextToImage,
        model: args.model.into(),
        fields: Fields {
            loras: args.lora.loras.into(),
            ..args.input.fields(Some(&args.pro), None)
        },
        queue: args.queue.into(),
        timeout: args.wait.timeout(),
    };
    one::run(job, &args.save, global).await.map(drop)
}
