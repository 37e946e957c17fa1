//! `kontext inpaint`: repaint the masked region of an image after a reference.

use clap::Args;
use fal_kontext::ImageInput;

use super::one;
use crate::exit::Failure;
use crate::flags::Global;
use crate::flags::parse::number;
use crate::flags::{DevFlags, InputFlags, LoraFlags, QueueFlags, SaveFlags, WaitFlags};
use crate::job::{Inpainting, Job, Task};

/// `kontext inpaint`.
#[derive(Debug, Args)]
pub struct InpaintArgs {
    /// The image to repaint: a local file or an http(s) URL.
    #[arg(long, value_name = "PATH|URL")]
    pub image: String,
    /// The mask of the region to repaint (the emulator repaints where it is
    /// white; fal does not document its convention).
    #[arg(long, value_name = "PATH|URL")]
    pub mask: String,
    /// The image the region is painted after.
    #[arg(long, value_name = "PATH|URL")]
    pub reference: String,
    /// What to paint.
    #[arg(long, value_name = "TEXT")]
    pub prompt: String,
    /// How far the region may depart from the original, 0.01 to 1 (default 0.88).
    #[arg(long, value_name = "STRENGTH", value_parser = number::<f64>("must be from 0.01 to 1"))]
    pub strength: Option<f64>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub input: InputFlags,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub dev: DevFlags,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub lora: LoraFlags,
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

/// Inpaints, waits with progress, saves and prints the results.
pub async fn run(args: InpaintArgs, global: &Global) -> Result<(), Failure> {
    // The SDK names an unreadable file by its path only: each is checked
    // here first, so that the message names its flag.
    for (flag, value) in [
        ("--image", &args.image),
        ("--mask", &args.mask),
        ("--reference", &args.reference),
    ] {
        readable(flag, value)?;
    }
    let job = Job {
        prompt: args.prompt,
        task: Task::Inpaint(Box::new(Inpainting {
            image: ImageInput::from(args.image),
            mask: ImageInput::from(args.mask),
            reference: ImageInput::from(args.reference),
            strength: args.strength,
        })),
        model: crate::job::Model::Dev,
        fields: args.input.fields(None, Some(&args.dev)),
        loras: args.lora.loras.into(),
        queue: args.queue.into(),
        timeout: args.wait.timeout(),
    };
    one::run(job, &args.save, global).await.map(drop)
}

/// A local image `flag` names must be a file that can be opened.
fn readable(flag: &str, value: &str) -> Result<(), Failure> {
    if let ImageInput::Path(path) = ImageInput::from(value)
        && !path.as_os_str().is_empty()
        && let Err(error) = std::fs::File::open(&path)
    {
        return Err(Failure::Usage(format!(
            "invalid value '{}' for '{flag}': {error}; must be a readable JPEG, PNG, WebP, GIF or \
             AVIF file, or an http(s) URL",
            path.display()
        )));
    }
    Ok(())
}
