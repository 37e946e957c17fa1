//! `kontext train`: train a Kontext LoRA on before/after pairs, follow it
//! with progress (its log lines shown), and save the weights and config.
//! Training takes minutes and is paid by the step: Ctrl-C (SIGTERM,
//! SIGHUP) and the end of `--timeout` leave it running at fal and say how
//! to collect it (`--resume ID`); only `kontext cancel` cancels it.

use std::path::PathBuf;
use std::pin::pin;
use std::time::Duration;

use clap::{Args, ValueEnum};
use fal_kontext::endpoints::FLUX_KONTEXT_TRAINER;
use fal_kontext::{Error, Subscription, TrainOutput};

use crate::exit::Failure;
use crate::flags::parse::{number, request_id, seconds};
use crate::flags::{Global, QueueFlags};
use crate::local::connect;
use crate::output;
use crate::progress::Spinner;
use crate::server_text::printable;
use crate::signal;

/// How the trained weights name their keys (`--format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LoraFormat {
    /// For fal's LoRA endpoints and diffusers.
    #[default]
    #[value(help = "for fal's LoRA endpoints and diffusers")]
    Fal,
    /// For ComfyUI.
    #[value(help = "for ComfyUI")]
    Comfy,
}

/// `kontext train`.
#[derive(Debug, Args)]
#[command(
    after_help = "The pairs: ROOT_start.EXT (before) and ROOT_end.EXT (after) images, and an optional ROOT.txt caption per pair (the edit instruction); pairs without one take --caption. They are checked before anything is sent, and a directory is zipped for you."
)]
pub struct TrainArgs {
    /// The pairs: a directory, a zip, or a zip's http(s) URL.
    #[arg(
        long,
        value_name = "DIR|ZIP|URL",
        required_unless_present = "resume",
        conflicts_with = "resume"
    )]
    pub pairs: Option<String>,
    /// Collect a training submitted earlier (its request id) instead of starting one.
    #[arg(long, value_name = "ID", value_parser = request_id)]
    pub resume: Option<String>,
    /// Training steps, 2 to 10000 (default 1000; the price scales with them).
    #[arg(long, value_name = "N", value_parser = number::<u32>("must be from 2 to 10000"))]
    pub steps: Option<u32>,
    /// The caption (edit instruction) of pairs without a ROOT.txt.
    #[arg(long, value_name = "TEXT")]
    pub caption: Option<String>,
    /// The optimiser's learning rate (default 0.0001).
    #[arg(long, value_name = "RATE", value_parser = number::<f64>("must be a positive number"))]
    pub learning_rate: Option<f64>,
    /// How the weights name their keys.
    #[arg(long, value_enum, default_value_t)]
    pub format: LoraFormat,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub queue: QueueFlags,
    /// Give up waiting after this many seconds (default 3600); the training
    /// keeps running at fal, collect it with --resume.
    #[arg(long, value_name = "SECS", value_parser = seconds(), help_heading = "Queue")]
    pub timeout: Option<u64>,
    /// The directory for the weights and the config (created if missing).
    #[arg(long, value_name = "DIR", help_heading = "Output")]
    pub out: PathBuf,
}

/// How long `train` follows a training when no `--timeout` is given.
const DEFAULT_WAIT: Duration = Duration::from_secs(3600);

/// Trains (or collects `--resume ID`), waits, saves and prints the files.
pub async fn run(args: TrainArgs, global: &Global) -> Result<(), Failure> {
    crate::out_dir::check_dir(&args.out)?;
    let connection = connect(global.local).await?;
    let client = &connection.client;
    let wait = args.timeout.map_or(DEFAULT_WAIT, Duration::from_secs);
    let spinner = Spinner::new(global.quiet, "checking the pairs");
    let mut interrupt = pin!(signal::stop());
    let handle = match &args.resume {
        Some(id) => client.request_handle::<TrainOutput>(FLUX_KONTEXT_TRAINER, id),
        None => {
            let mut submitting = pin!(request(client, &args).submit());
            tokio::select! {
                handle = &mut submitting => handle.map_err(|e| Failure::of_submit(e, FLUX_KONTEXT_TRAINER))?,
                stop = &mut interrupt => {
                    spinner.notice(&format!("{}: waiting for the submit in flight, to say how to collect it", stop.name()));
                    let said = match submitting.await {
                        Ok(handle) => left_running(handle.request_id(), &args),
                        Err(_) => "before fal accepted the training; nothing runs".into(),
                    };
                    spinner.finish();
                    return Err(Failure::Interrupted(stop, format!("{}: {said}", stop.name())));
                }
            }
        }
    };
    let id = handle.request_id().to_string();
    spinner.set(format!("training {}", printable(&id)));
    // Watched, not owned: neither the wait's end nor a drop cancels it.
    let mut job: Subscription<TrainOutput> = handle.watch(wait);
    let accepted = |failure: Failure| failure.accepted(&id, FLUX_KONTEXT_TRAINER);
    loop {
        tokio::select! {
            update = job.next() => match update {
                Some(Ok(update)) => spinner.show(&update),
                Some(Err(Error::Timeout { .. })) => {
                    spinner.notice(&format!("--timeout: {}", left_running(&id, &args)));
                    spinner.finish();
                    return Err(Failure::StillRunning(id));
                }
                Some(Err(error)) => return Err(accepted(error.into())),
                None => break,
            },
            stop = &mut interrupt => {
                spinner.finish();
                return Err(Failure::Interrupted(stop, format!("{}: {}", stop.name(), left_running(&id, &args))));
            }
        }
    }
    spinner.set("downloading the LoRA");
    let done = job.output().await.map_err(|e| accepted(e.into()))?;
    let saved = client
        .download_lora(&done.output, &args.out, &done.request_id)
        .await
        .map_err(|e| accepted(Failure::Save(e)))?;
    spinner.finish();
    let paths: Vec<_> = std::iter::once(saved.weights).chain(saved.config).collect();
    if global.json {
        let fal_output =
            serde_json::to_value(&done.output).expect("the SDK's output types serialize to JSON");
        output::print_json(&output::document(
            &done.request_id,
            FLUX_KONTEXT_TRAINER,
            fal_output,
            &paths,
        ));
    } else {
        output::print_paths(&paths);
    }
    Ok(())
}

/// The SDK request the flags ask for.
fn request(
    client: &fal_kontext::Client,
    args: &TrainArgs,
) -> fal_kontext::Request<fal_kontext::Train> {
    let pairs = args.pairs.clone().unwrap_or_default();
    let mut request = client.train(pairs).lora_format(match args.format {
        LoraFormat::Fal => fal_kontext::LoraFormat::Fal,
        LoraFormat::Comfy => fal_kontext::LoraFormat::Comfy,
    });
    if let Some(steps) = args.steps {
        request = request.steps(steps);
    }
    if let Some(rate) = args.learning_rate {
        request = request.learning_rate(rate);
    }
    if let Some(caption) = &args.caption {
        request = request.default_caption(caption);
    }
    crate::job::queue_options(request, &args.queue.clone().into())
}

/// The command that collects training `id` into the same `--out`.
fn collect(id: &str, args: &TrainArgs) -> String {
    format!("kontext train --resume {id} --out {}", args.out.display())
}

/// What to say of a training left running.
fn left_running(id: &str, args: &TrainArgs) -> String {
    format!(
        "training {id} keeps running at fal (not cancelled); collect it with `{}`, or cancel it with \
         `kontext cancel {id} --endpoint {FLUX_KONTEXT_TRAINER}`",
        collect(id, args)
    )
}
