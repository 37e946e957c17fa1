//! `kontext edit`: one image and a prompt.

use fal_kontext::ImageInput;

use super::one;
use crate::cli::{EditArgs, Global};
use crate::exit::Failure;
use crate::job::{Fields, Job, Task};

/// Edits the image, waits with progress, saves and prints the results.
pub async fn run(args: EditArgs, global: &Global) -> Result<(), Failure> {
    let job = Job {
        prompt: args.prompt,
        task: Task::Edit(ImageInput::from(args.image)),
        model: args.model,
        fields: Fields::from_flags(&args.input, Some(&args.pro), Some(&args.dev)),
        queue: args.queue,
        timeout: args.wait.timeout(),
    };
    one::run(job, &args.save, global).await
}
