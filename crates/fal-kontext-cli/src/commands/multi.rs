//! `kontext multi`: several reference images and a prompt.

use fal_kontext::ImageInput;

use super::one;
use crate::cli::{Global, MultiArgs};
use crate::exit::Failure;
use crate::job::{Job, Task};

/// Edits with the images, waits with progress, saves and prints the results.
pub async fn run(args: MultiArgs, global: &Global) -> Result<(), Failure> {
    let job = Job {
        prompt: args.prompt,
        task: Task::Multi(args.images.into_iter().map(ImageInput::from).collect()),
        model: args.model.into(),
        fields: args.input.fields(Some(&args.pro), None),
        queue: args.queue.into(),
        timeout: args.wait.timeout(),
    };
    one::run(job, &args.save, global).await.map(drop)
}
