//! `kontext inpaint`: repaint the masked region of an image after a reference.

use fal_kontext::ImageInput;

use super::one;
use crate::cli::{Global, InpaintArgs};
use crate::exit::Failure;
use crate::job::{Fields, Inpainting, Job, Task};

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
        fields: Fields {
            loras: args.lora.loras.into(),
            ..args.input.fields(None, Some(&args.dev))
        },
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
