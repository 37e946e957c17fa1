//! `kontext submit`: send a request and print its id, without waiting.

use std::io::IsTerminal;

use clap::Args;
use fal_kontext::{Images, Kind, Request};
use serde::Serialize;
use serde_json::json;

use crate::exit::Failure;
use crate::flags::{DevFlags, Global, InputFlags, ProFlags, QueueFlags};
use crate::job::{Job, Model, Runner};
use crate::local::connect;
use crate::output;
use crate::server_text::printable;

/// `kontext submit`.
#[derive(Debug, Args)]
#[command(
    after_help = "The endpoint follows from the images: none makes an image from text, one edits it, several are a multi edit."
)]
pub struct SubmitArgs {
    /// An input image (local file or URL); repeat for a multi edit, omit for text-to-image.
    #[arg(long = "image", value_name = "PATH|URL")]
    pub images: Vec<String>,
    /// The prompt.
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
}

/// Submits and prints the request id (with `--json`: the id, endpoint and URLs).
pub async fn run(args: SubmitArgs, global: &Global) -> Result<(), Failure> {
    let job = Job {
        prompt: args.prompt,
        task: Job::task_for(&args.images),
        model: args.model,
        fields: args.input.fields(Some(&args.pro), Some(&args.dev)),
        loras: Box::default(),
        queue: args.queue.into(),
        timeout: None,
    };
    let connection = connect(global.local).await?;
    let submitted = job.run(&connection.client, Submit).await??;
    if global.json {
        output::print_json(&submitted);
        return Ok(());
    }
    let id = printable(submitted["request_id"].as_str().unwrap_or_default());
    println!("{id}");
    if !global.quiet && std::io::stderr().is_terminal() {
        let model = match args.model {
            Model::Dev => " --model dev",
            Model::Pro | Model::Max => "",
        };
        eprintln!(
            "follow it with: kontext status {id}{model} --watch; save it with: kontext result {id}{model}"
        );
    }
    Ok(())
}

/// Submits, and describes the submitted request.
struct Submit;

impl Runner for Submit {
    type Output = Result<serde_json::Value, Failure>;

    async fn run<K: Kind>(self, request: Request<K>) -> Self::Output
    where
        K::Output: Images + Serialize,
    {
        let endpoint = request.endpoint();
        let handle = request
            .submit()
            .await
            .map_err(|error| Failure::of_submit(error, endpoint))?;
        Ok(json!({
            "request_id": handle.request_id(),
            "endpoint": handle.endpoint(),
            "status_url": handle.status_url(),
            "response_url": handle.response_url(),
        }))
    }
}
