//! `kontext edit`: one image and a prompt.

use clap::Args;
use fal_kontext::ImageInput;

use super::one;
use crate::exit::Failure;
use crate::flags::{
    DevFlags, Global, InputFlags, LoraFlags, ProFlags, QueueFlags, SaveFlags, WaitFlags,
};
use crate::job::{Job, Model, Task};

/// `kontext edit`.
#[derive(Debug, Args)]
pub struct EditArgs {
    /// The image to edit: a local file (uploaded for you) or an http(s) URL.
    #[arg(long, value_name = "PATH|URL")]
    pub image: String,
    /// What to change.
    #[arg(long, value_name = "TEXT")]
    pub prompt: String,
    /// The model.
    #[arg(long, value_enum, default_value_t)]
    pub model: Model,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub input: InputFlags,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub pro: ProFlags,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub dev: DevFlags,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub queue: QueueFlags,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub wait: WaitFlags,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub save: SaveFlags,
    /// Also write a before/after page, NAME.html (the name of the images), beside them.
    #[arg(long, help_heading = "Output")]
    pub gallery: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub lora: LoraFlags,
}

/// Edits the image, waits with progress, saves and prints the results.
pub async fn run(args: EditArgs, global: &Global) -> Result<(), Failure> {
    let page = args.gallery.then(|| gallery_page(&args));
    let job = Job {
        prompt: args.prompt,
        task: Task::Edit(ImageInput::from(args.image)),
        model: args.model,
        fields: args.input.fields(Some(&args.pro), Some(&args.dev)),
        loras: args.lora.loras.clone().into(),
        queue: args.queue.into(),
        timeout: args.wait.timeout(),
    };
    let saved = one::run(job, &args.save, global).await?;
    if let Some(page) = page {
        page(saved, &args.save.out, args.save.name.as_deref());
    }
    Ok(())
}

/// With `--gallery`: what writes the before/after page beside the images.
fn gallery_page(
    args: &EditArgs,
) -> impl FnOnce(one::Saved, &std::path::Path, Option<&str>) + use<> {
    let (prompt, image) = (args.prompt.clone(), args.image.clone());
    let mut fields = vec![(
        "model".to_string(),
        format!("{:?}", args.model).to_lowercase(),
    )];
    if let Some(seed) = args.input.seed {
        fields.push(("seed".into(), seed.to_string()));
    }
    move |saved, out, name| {
        let stem = name.unwrap_or(&saved.request_id).to_owned();
        let request = (saved.request_id.clone(), saved.endpoint.clone());
        let entry =
            crate::commands::batch::gallery::edited(&stem, &prompt, &image, request, fields);
        match crate::commands::batch::gallery::single(out, &stem, entry, &saved.paths) {
            Ok(written) => eprintln!("gallery: {}", written.path.display()),
            Err(error) => eprintln!("warning: the before/after page could not be written: {error}"),
        }
    }
}
