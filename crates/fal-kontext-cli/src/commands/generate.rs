//! `kontext generate`: an image from a prompt alone.

use clap::Args;

use super::one;
use crate::exit::Failure;
use crate::flags::{
    Global, InputFlags, LoraFlags, ProFlags, ProOrMax, QueueFlags, SaveFlags, WaitFlags,
};
use crate::job::{Job, Task};

/// `kontext generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to make.
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
    #[command(flatten)]
    #[allow(missing_docs)]
    pub lora: LoraFlags,
}

/// Generates, waits with progress, saves and prints the results.
pub async fn run(args: GenerateArgs, global: &Global) -> Result<(), Failure> {
    let job = Job {
        prompt: args.prompt,
        task: Task::TextToImage,
        model: args.model.into(),
        fields: args.input.fields(Some(&args.pro), None),
        loras: args.lora.loras.into(),
        queue: args.queue.into(),
        timeout: args.wait.timeout(),
    };
    one::run(job, &args.save, global).await.map(drop)
}
