//! `kontext multi`: several reference images and a prompt.

use clap::Args;
use fal_kontext::ImageInput;

use super::one;
use crate::exit::Failure;
use crate::flags::{Global, InputFlags, ProFlags, ProOrMax, QueueFlags, SaveFlags, WaitFlags};
use crate::job::{Job, Task};

/// `kontext multi`.
#[derive(Debug, Args)]
pub struct MultiArgs {
    /// A reference image (local file or URL); give the flag once per image.
    #[arg(long = "image", value_name = "PATH|URL", required = true)]
    pub images: Vec<String>,
    /// What to make of them.
    #[arg(long, value_name = "TEXT")]
    pub prompt: String,
    /// The model.
    #[arg(long, value_enum, default_value_t)]
    pub model: ProOrMax,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub input: InputFlags,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub pro: ProFlags,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub queue: QueueFlags,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub wait: WaitFlags,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub save: SaveFlags,
}

/// Edits with the images, waits with progress, saves and prints the results.
pub async fn run(args: MultiArgs, global: &Global) -> Result<(), Failure> {
    let job = Job {
        prompt: args.prompt,
        task: Task::Multi(args.images.into_iter().map(ImageInput::from).collect()),
        model: args.model.into(),
        fields: args.input.fields(Some(&args.pro), None),
        loras: Box::default(),
        queue: args.queue.into(),
        timeout: args.wait.timeout(),
    };
    one::run(job, &args.save, global).await.map(drop)
}
