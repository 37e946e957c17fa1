//! The command line: every command, flag and help text, as clap types.
//! Enumerated values are parsed with the SDK's own `FromStr`, so the CLI and
//! the library accept the same values and name them the same way.

use std::ffi::OsStr;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand, ValueEnum};
use fal_kontext::{Acceleration, AspectRatio, OutputFormat, ResolutionMode, SafetyTolerance};

use crate::batch::pacing::Concurrency;
use crate::exit;
use crate::job::{Fields, LoraSpec, Model, QueueSettings};
use crate::telemetry::LogFormat;

/// Reports a command line clap refused: help and version as clap prints
/// them, anything else as one line (clap's message without its usage and
/// tips), exit code 2.
pub fn command_line(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = error.print();
        return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(exit::USAGE));
    }
    eprintln!("{}", one_line(&error.render().to_string()));
    ExitCode::from(exit::USAGE)
}

/// The first paragraph of clap's message, on one line.
fn one_line(message: &str) -> String {
    let first = message.split("\n\n").next().unwrap_or(message);
    first.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The exit codes, shown at the end of `kontext --help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    a result could not be saved locally (disk full, permissions)
  2    bad usage or input, found before any request was sent
  3    refused by the API (key, validation, unknown request)
  4    failed after retries (server, network, timeout, the model failed)
  5    batch stopped at --max-cost: jobs left unsubmitted, for a rerun
  130  interrupted by Ctrl-C; 143 by SIGTERM, 129 by SIGHUP (edit, generate
       and multi cancel their request first; batch leaves its requests
       running, recorded for a rerun)";

/// The whole command line.
#[derive(Debug, Parser)]
#[command(
    name = "kontext",
    version,
    about = "Edit and generate images with fal.ai's FLUX.1 Kontext models.",
    long_about = "Edit and generate images with fal.ai's FLUX.1 Kontext models.\n\n\
        Set FAL_KEY to your fal API key, or add --local to try everything against an \
        emulator started inside this process (no key, no network).\n\n\
        Example:\n  kontext edit --local --image assets/sample.png --prompt \"Put a donut next to the flour.\" --out out/",
    after_long_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Start a local fal emulator inside this process and use it: no key, no
    /// network. It lives as long as the command, so `status`, `result` and
    /// `cancel` cannot reach it (run `kontext emulator` for that).
    #[arg(long, global = true)]
    pub local: bool,
    /// Print one JSON document on stdout (the output, with local file paths added).
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress display on stderr (it is off anyway when stderr is not a terminal).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// The format of the logs on stderr, which RUST_LOG turns on (e.g. RUST_LOG=info).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Edit an image with a prompt, wait, and save the result.
    Edit(EditArgs),
    /// Make an image from a prompt alone, wait, and save the result.
    Generate(GenerateArgs),
    /// Edit with several reference images, wait, and save the result.
    Multi(MultiArgs),
    /// Repaint the masked region of an image after a reference image (FLUX.1
    /// Kontext \[dev\] with LoRAs), wait, and save the result.
    #[command(
        about = "Repaint the masked region of an image after a reference image (FLUX.1 Kontext [dev] with LoRAs), wait, and save the result"
    )]
    Inpaint(InpaintArgs),
    /// Train a Kontext LoRA on before/after pairs, wait, and save its
    /// weights and config.
    Train(TrainArgs),
    /// Submit a request, print its id and exit without waiting.
    Submit(SubmitArgs),
    /// Show the status of a submitted request.
    Status(StatusArgs),
    /// Wait for a submitted request and save its images.
    Result(ResultArgs),
    /// Cancel a submitted request.
    Cancel(CancelArgs),
    /// Run many jobs from a JSON-lines file; rerun the same command to resume.
    Batch(BatchArgs),
    /// Write the gallery of a batch directory: DIR/index.html, every job's
    /// images, state and cost (kontext batch writes it after each run).
    Gallery(GalleryArgs),
    /// Show fal's current prices of the Kontext endpoints (or of those named).
    Price(PriceArgs),
    /// List your requests at fal (its request history), newest first.
    History(crate::commands::HistoryArgs),
    /// Delete what fal stored of requests: their input, output and output files.
    Delete(crate::commands::DeleteArgs),
    /// Run the local fal emulator in the foreground until Ctrl-C.
    #[cfg(feature = "emulator")]
    Emulator(fal_emulator::EmulatorArgs),
    /// Run the local fal emulator (not in this build: it was built without
    /// the cargo feature `emulator`).
    #[cfg(not(feature = "emulator"))]
    Emulator(MissingEmulatorArgs),
    /// Receive fal's webhooks.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Print a shell completion script.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

/// Whatever follows `kontext emulator` in a build without the emulator: taken
/// as it is, so that the answer is that the emulator is missing, not that a
/// flag is unknown.
#[cfg(not(feature = "emulator"))]
#[derive(Debug, Args)]
pub struct MissingEmulatorArgs {
    /// Ignored.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub ignored: Vec<std::ffi::OsString>,
}

/// The input fields every model takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Input fields")]
pub struct InputFlags {
    /// The same seed, prompt and input give the same image.
    #[arg(long, allow_negative_numbers = true, value_parser = number::<i64>(SEED_RULE))]
    pub seed: Option<i64>,
    /// How closely to follow the prompt, 1 to 20 (default 3.5; dev 2.5).
    #[arg(long, value_name = "SCALE", value_parser = number::<f64>("must be from 1 to 20"))]
    pub guidance_scale: Option<f64>,
    /// How many images, 1 to 4 (default 1).
    #[arg(long, value_name = "N", value_parser = number::<u8>("must be from 1 to 4"))]
    pub num_images: Option<u8>,
    /// The format of the images (default jpeg).
    #[arg(long, value_name = "FORMAT", value_parser = choice(OutputFormat::ALL, OutputFormat::as_str))]
    pub output_format: Option<OutputFormat>,
    /// Return the images inline instead of as URLs; fal keeps no history of them.
    #[arg(long)]
    pub sync: bool,
}

impl InputFlags {
    /// The fields these flags set, with those of `pro` and `dev` when the
    /// command has them; flags left out stay unset (fal's defaults).
    pub fn fields(&self, pro: Option<&ProFlags>, dev: Option<&DevFlags>) -> Fields {
        Fields {
            seed: self.seed,
            guidance_scale: self.guidance_scale,
            num_images: self.num_images,
            output_format: self.output_format,
            sync_mode: self.sync.then_some(true),
            enhance_prompt: pro.and_then(|p| p.enhance_prompt.then_some(true)),
            safety_tolerance: pro.and_then(|p| p.safety_tolerance),
            aspect_ratio: pro.and_then(|p| p.aspect_ratio),
            num_inference_steps: dev.and_then(|d| d.num_inference_steps),
            acceleration: dev.and_then(|d| d.acceleration),
            resolution_mode: dev.and_then(|d| d.resolution_mode),
            enable_safety_checker: dev.and_then(|d| d.no_safety_checker.then_some(false)),
            loras: Box::default(),
        }
    }
}

/// The input fields of \[pro\] and \[max\].
#[derive(Debug, Args)]
#[command(next_help_heading = "Input fields")]
pub struct ProFlags {
    /// The safety filter, 1 (strictest) to 6 (default 2).
    #[arg(long, value_name = "LEVEL", value_parser = choice(SafetyTolerance::ALL, SafetyTolerance::as_str))]
    pub safety_tolerance: Option<SafetyTolerance>,
    /// The aspect ratio of the result.
    #[arg(long, value_name = "RATIO", value_parser = choice(AspectRatio::ALL, AspectRatio::as_str))]
    pub aspect_ratio: Option<AspectRatio>,
    /// Let fal rewrite the prompt for better results.
    #[arg(long)]
    pub enhance_prompt: bool,
}

/// The input fields of \[dev\] only.
#[derive(Debug, Args)]
#[command(next_help_heading = "Input fields of --model dev")]
pub struct DevFlags {
    /// Denoising steps, 10 to 50 (default 28).
    #[arg(long, value_name = "STEPS", value_parser = number::<u8>("must be from 10 to 50"))]
    pub num_inference_steps: Option<u8>,
    /// Trade quality for speed.
    #[arg(long, value_parser = choice(Acceleration::ALL, Acceleration::as_str))]
    pub acceleration: Option<Acceleration>,
    /// The size of the result (default match_input).
    #[arg(long, value_name = "MODE", value_parser = choice(ResolutionMode::ALL, ResolutionMode::as_str))]
    pub resolution_mode: Option<ResolutionMode>,
    /// Turn fal's safety checker off.
    #[arg(long)]
    pub no_safety_checker: bool,
}

/// Where fal reports, and the submit options fal documents.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Queue")]
pub struct QueueFlags {
    /// A URL fal calls with the result when the request completes.
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// How long the request's files live on fal's CDN (the output images and
    /// the local images uploaded for it), in seconds, 1 to 31536000000
    /// (default: fal's). Anyone with a URL can fetch the file until then;
    /// after, it is gone for good.
    #[arg(long, value_name = "SECS", value_parser = number::<u64>(LIFETIME_RULE))]
    pub cdn_lifetime: Option<u64>,
    /// fal keeps no copy of the request's input and output in its history
    /// (the files on the CDN are kept, see --cdn-lifetime).
    #[arg(long)]
    pub no_store_io: bool,
    /// fal does not retry the request internally (kontext's own retries of
    /// its calls are unchanged).
    #[arg(long)]
    pub no_retry: bool,
    /// fal refuses the request when the endpoint's queue is longer than N
    /// (N is 1 or more).
    #[arg(long, value_name = "N", value_parser = number::<u32>("must be a whole number, 1 or more"))]
    pub max_queue_length: Option<u32>,
    /// An extra header for an option fal adds later, NAME:VALUE; repeat for
    /// more. Not one kontext sets itself (authorization, content-type, the
    /// x-fal-… headers of the flags above, …).
    #[arg(long = "header", value_name = "NAME:VALUE", value_parser = header)]
    pub headers: Vec<(String, String)>,
}

impl From<QueueFlags> for QueueSettings {
    fn from(flags: QueueFlags) -> Self {
        let QueueFlags {
            webhook,
            cdn_lifetime,
            no_store_io,
            no_retry,
            max_queue_length,
            headers,
        } = flags;
        QueueSettings {
            webhook,
            cdn_lifetime,
            no_store_io,
            no_retry,
            max_queue_length,
            headers,
        }
    }
}

/// The rule of `--cdn-lifetime`, as its error says it.
const LIFETIME_RULE: &str = "must be whole seconds from 1 to 31536000000 (1000 years)";

/// `--header NAME:VALUE`, split at the first `:` (the SDK checks the name
/// and the value).
fn header(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((name, value)) => Ok((name.trim().to_owned(), value.trim().to_owned())),
        None => Err("must be NAME:VALUE, e.g. x-fal-new-option:on".into()),
    }
}

/// How long to wait.
#[derive(Debug, Args)]
#[command(next_help_heading = "Queue")]
pub struct WaitFlags {
    /// Give up (and cancel the request) after this many seconds (default 900).
    #[arg(long, value_name = "SECS", value_parser = seconds())]
    pub timeout: Option<u64>,
}

impl WaitFlags {
    /// The timeout, if one was given.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout.map(Duration::from_secs)
    }
}

/// Where the images go.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct SaveFlags {
    /// The directory for the images (created if missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Name the files NAME-1.jpg, NAME-2.jpg, … (default: the request id).
    /// Existing files are never overwritten: the next free number is taken.
    #[arg(long)]
    pub name: Option<String>,
}

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

/// `--lora`, repeatable.
#[derive(Debug, Args)]
#[command(next_help_heading = "LoRAs")]
pub struct LoraFlags {
    /// A LoRA: a local .safetensors file (uploaded for you) or a URL, with
    /// :SCALE from 0 to 4 (default 1); repeat for more. Any LoRA sends the
    /// request to FLUX.1 Kontext \[dev\] with LoRAs (fal-ai/flux-kontext-lora),
    /// which takes the --model dev fields.
    #[arg(
        long = "lora",
        value_name = "PATH|URL[:SCALE]",
        value_parser = lora,
        help = "A LoRA: a local .safetensors file (uploaded for you) or a URL, with :SCALE from 0 to 4 (default 1); repeat for more. Any LoRA sends the request to FLUX.1 Kontext [dev] with LoRAs (fal-ai/flux-kontext-lora), which takes the --model dev fields"
    )]
    pub loras: Vec<LoraSpec>,
}

/// `--lora PATH|URL[:SCALE]`; a local file must be there (the SDK checks
/// that it is a .safetensors file, and the scale).
fn lora(text: &str) -> Result<LoraSpec, String> {
    let spec: LoraSpec = text.parse()?;
    let url = spec.path.starts_with("http://") || spec.path.starts_with("https://");
    if !url && let Err(error) = std::fs::File::open(&spec.path) {
        return Err(format!(
            "{error}; must be a local .safetensors file or an http(s) URL, with :SCALE (0 to 4) or not"
        ));
    }
    Ok(spec)
}

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

/// `[pro]` or `[max]`: the models of text-to-image and multi.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ProModel {
    /// FLUX.1 Kontext \[pro\].
    #[default]
    #[value(help = "FLUX.1 Kontext [pro]")]
    Pro,
    /// FLUX.1 Kontext \[max\].
    #[value(help = "FLUX.1 Kontext [max]")]
    Max,
}

impl From<ProModel> for Model {
    fn from(model: ProModel) -> Self {
        match model {
            ProModel::Pro => Model::Pro,
            ProModel::Max => Model::Max,
        }
    }
}

/// `kontext generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to make.
    #[arg(long, value_name = "TEXT")]
    pub prompt: String,
    /// The model.
    #[arg(long, value_enum, default_value_t)]
    pub model: ProModel,
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
    pub model: ProModel,
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

/// Which request: its id, and where it was submitted.
#[derive(Debug, Args)]
pub struct RequestRef {
    /// The request id that `kontext submit` printed.
    #[arg(value_parser = request_id)]
    pub id: String,
    /// The model it was submitted to.
    #[arg(long, value_enum, default_value_t, conflicts_with = "endpoint")]
    pub model: Model,
    /// The endpoint id it was submitted to, e.g. fal-ai/flux-pro/kontext (instead of --model).
    #[arg(long, value_name = "ENDPOINT", value_parser = clap::builder::PossibleValuesParser::new(fal_kontext::endpoints::ALL))]
    pub endpoint: Option<String>,
}

impl RequestRef {
    /// The endpoint: `--endpoint`, else the main endpoint of `--model` (fal
    /// answers by app, which every endpoint of a model shares).
    pub fn endpoint(&self) -> &str {
        match (&self.endpoint, self.model) {
            (Some(endpoint), _) => endpoint,
            (None, Model::Pro) => fal_kontext::endpoints::FLUX_PRO_KONTEXT,
            (None, Model::Max) => fal_kontext::endpoints::FLUX_PRO_KONTEXT_MAX,
            (None, Model::Dev) => fal_kontext::endpoints::FLUX_KONTEXT_DEV,
        }
    }
}

/// `kontext status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub request: RequestRef,
    /// Show the model's log lines too.
    #[arg(long)]
    pub logs: bool,
    /// Follow the request until it completes (Ctrl-C stops watching; the request goes on).
    #[arg(long)]
    pub watch: bool,
}

/// `kontext result`.
#[derive(Debug, Args)]
pub struct ResultArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub request: RequestRef,
    /// Stop waiting after this many seconds (the request is not cancelled).
    #[arg(long, value_name = "SECS", value_parser = seconds())]
    pub timeout: Option<u64>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub save: SaveFlags,
}

/// `kontext cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub request: RequestRef,
}

/// `kontext batch`.
#[derive(Debug, Args)]
#[command(after_long_help = BATCH_HELP)]
pub struct BatchArgs {
    /// The jobs: one JSON object per line (see below).
    #[arg(value_name = "JOBS.jsonl")]
    pub jobs: PathBuf,
    /// The directory for the images and the state file.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// How many jobs are at fal at once: auto (as many as fal runs for the account, plus 2), or
    /// a fixed number (see below).
    #[arg(long, value_name = "auto|N", default_value = "auto", value_parser = concurrency())]
    pub concurrency: Concurrency,
    /// The model of every job.
    #[arg(long, value_enum, default_value_t)]
    pub model: Model,
    /// Give up on a job (and cancel it) after this many seconds (default 900).
    #[arg(long, value_name = "SECS", value_parser = seconds())]
    pub timeout: Option<u64>,
    /// Print fal's estimate of what the jobs still to submit would cost, and
    /// exit without submitting anything.
    #[arg(long)]
    pub estimate: bool,
    /// The most this run may spend, in the currency of fal's prices (USD):
    /// refuse to start (nothing submitted) when fal's estimate is more; stop
    /// submitting once what was submitted would cost more.
    #[arg(long, value_name = "AMOUNT", value_parser = amount(), allow_negative_numbers = true)]
    pub max_cost: Option<f64>,
    /// Submit again the jobs whose submit, in an earlier run, may have
    /// reached fal (its answer was lost): they may then be paid twice.
    #[arg(long)]
    pub resubmit_unknown: bool,
    /// How long fal's request history may take to list a request it took
    /// (fal does not say): a job whose submit may have reached fal and that
    /// the history does not list is submitted again only once its submit is
    /// this many seconds old (default 600).
    #[arg(long, value_name = "SECS", value_parser = number_in::<u64>(0.., "must be a whole number of seconds, 0 or more"), allow_negative_numbers = true)]
    pub history_delay: Option<u64>,
    /// Ask fal not to keep the jobs' input and output in its request history
    /// (`X-Fal-Store-IO: 0`). A job whose submit answer is lost can then not
    /// be told apart there: a rerun leaves it (see below).
    #[arg(long)]
    pub no_store_io: bool,
    /// Once a job's images are saved, delete what fal stored of its request
    /// (input, output, output files; needs an ADMIN key: FAL_ADMIN_KEY, else
    /// FAL_KEY). Recorded in the state file: a rerun does not repeat it.
    #[arg(long)]
    pub delete_payloads: bool,
}

/// `kontext gallery`.
#[derive(Debug, Args)]
pub struct GalleryArgs {
    /// The batch's --out directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The jobs file (default: the one the last batch run into DIR used).
    #[arg(long, value_name = "JOBS.jsonl")]
    pub jobs: Option<PathBuf>,
    /// Open the page in the default browser.
    #[arg(long)]
    pub open: bool,
}

/// `kontext price`.
#[derive(Debug, Args)]
pub struct PriceArgs {
    /// The endpoints (default: the seven of the Kontext family).
    #[arg(value_name = "ENDPOINT", num_args = 0..=50)]
    pub endpoints: Vec<String>,
}

/// `kontext webhook …`.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Accept fal's webhook deliveries until Ctrl-C: verify each, save the images, print one line per event.
    Serve(ServeArgs),
}

/// `kontext webhook serve`.
#[derive(Debug, Args)]
#[command(after_long_help = SERVE_HELP)]
pub struct ServeArgs {
    /// The port to listen on (0: any free port; the address is printed on stderr).
    #[arg(long, default_value_t = 8080, value_parser = number::<u16>("must be a port number from 0 to 65535 (0: any free port)"))]
    pub port: u16,
    /// The address to listen on. fal calls public addresses only: put a
    /// reverse proxy or a tunnel in front, or listen on a public address.
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1", value_parser = number::<IpAddr>("must be an IP address such as 127.0.0.1 or 0.0.0.0"))]
    pub host: IpAddr,
    /// The directory for the images (created if missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// fal's webhook key set (a JWKS).
    #[arg(long, value_name = "URL", default_value = fal_kontext::webhook::DEFAULT_JWKS_URL)]
    pub jwks_url: String,
    /// Take only this fal user's deliveries (their signed X-Fal-Webhook-User-Id): any other
    /// account's is answered 401, unread, and nothing is fetched for it.
    #[arg(long, value_name = "ID", env = "FAL_WEBHOOK_USER_ID")]
    pub user_id: Option<String>,
    /// Give up saving one event's images after this many seconds: the delivery is answered 503
    /// and the next one fal sends is handled anew.
    #[arg(long, value_name = "SECS", default_value_t = 120, value_parser = seconds())]
    pub save_timeout: u64,
}

const SERVE_HELP: &str = "\
Submit with `--webhook URL` (URL: where fal reaches this server). Each delivery is answered
200 when genuine, 401 when its signature is missing or wrong, its timestamp is more than
5 minutes off or it is for another fal user than --user-id, 400 when it is genuine but not an
event, 413 when its body is over 64 MiB, 500 when the images could not be saved, 503 when fal's
key set cannot be fetched, the images were not saved within --save-timeout or too many bodies
are being read at once (fal delivers again later). The headers are checked before the body is
read. Without --user-id, any fal account can have its deliveries saved here: set it (or
FAL_WEBHOOK_USER_ID) to the user id of your deliveries. The images of each successful event are
saved in --out as <request-id>-<n>.<ext>; an event delivered again saves nothing new. One line
per event on stdout (one JSON object with --json); refused deliveries are reported on stderr.
When stdout is closed, the server stops.";

const BATCH_HELP: &str = "\
Each line is one job, with the input's own field names and an \"id\" that names its outputs:
  {\"id\": \"a1\", \"prompt\": \"Make it night\", \"image_url\": \"photos/a1.png\", \"seed\": 7}
\"image_url\" edits one image, \"image_urls\" (a list) is a multi edit, neither makes an image
from text. A local path is taken relative to the jobs file. Images are saved as <id>-<n>.<ext>.

Every request id is written to batch-state.jsonl in --out the moment fal accepts it. Rerun the
same command to resume after a crash, a kill, Ctrl-C, SIGTERM, SIGHUP or failed jobs:
  - done jobs are skipped;
  - a job fal accepted is collected by its request id and never submitted again, also when it
    failed on this side: its download, the deadline (--timeout), the network, the result fetch;
  - a job fal failed (its input refused, an error status, its request_timeout passed) or that
    was never sent is submitted again;
  - a job whose submit may have reached fal (the answer was lost: a gateway's 502 or 504, a
    connection cut after sending) is recorded as unknown, with what it sent. A rerun looks for
    it in fal's request history: found, it is collected by that request's id; not listed (and
    older than --history-delay), it is submitted again; when the history cannot tell (the job
    was sent with --no-store-io, or several requests match) it is left, since submitting it
    again could pay twice, unless --resubmit-unknown.
Ctrl-C, SIGTERM and SIGHUP start no new submit, let the submits in flight finish and record
their ids, and exit without cancelling anything (130, 143, 129). A torn last line of the state
file (a kill or a full disk mid-write) is cut off on the next run; the records before it are
kept. Exits 0 when every job is done, else with the highest exit code among the failures.

--concurrency auto (the default) keeps at fal the jobs fal runs for the account plus 2, learned
from what fal reports while it waits (running or queued): 2 at the start, as many as 42 (fal
runs up to 40 at once per account). A job's --timeout runs from its submit, so with auto it is
spent running, not waiting. With a fixed N, N jobs are submitted at once: those beyond the
account's running slots wait in fal's queue (fal never refuses a queued job) and their
deadlines run while they wait, so a large N on a small account ends in jobs cancelled at their
deadline. A submit fal refuses with 429 (its gateway, or a limit on its queue's length) is
sent again: the batch halves how many jobs it keeps at fal and pauses for the Retry-After (else
1 s), then grows again; the job never fails for it.

--estimate and --max-cost ask fal's Platform API (FAL_PLATFORM_URL) for the prices and for the
estimate of exactly what this run would submit: each job's endpoint and images (num_images,
else 1; an image billed by megapixels counts as one), only the jobs not done or submitted
before. With --max-cost, a job is submitted only while what this run sent to fal, at fal's
prices (at what fal billed, once it says), stays within the amount; a job refused before it
was sent (an unreadable image, a failed upload) or by fal's edge (429, an ingress error page)
counts for nothing. The jobs in flight finish, the rest is left for a rerun (exit 5). The state
file records each job's billable units as fal reported them, and their cost when the prices
are known (with --max-cost).";

/// The range of `--seed`, as its error says it.
const SEED_RULE: &str = "must be a whole number from -9223372036854775808 to 9223372036854775807";

/// The message of a refused value: the flag (or argument) and the rule, on
/// one line, as the SDK's own refusals are worded.
fn invalid(cmd: &clap::Command, arg: Option<&clap::Arg>, text: &str, rule: &str) -> clap::Error {
    let flag = arg.map_or_else(String::new, |arg| match arg.get_long() {
        Some(long) => format!(" for '--{long}'"),
        None => format!(" for '<{}>'", arg.get_id().as_str().to_uppercase()),
    });
    clap::Error::raw(
        ErrorKind::InvalidValue,
        format!("invalid value '{text}'{flag}: {rule}\n"),
    )
    .with_cmd(cmd)
}

/// A number flag: text that is not a `T` is refused with `rule`, the
/// allowed values. (Ranges the SDK checks are left to it, which words them
/// the same way.)
fn number<T: PartialOrd + 'static>(rule: &'static str) -> Number<T> {
    number_in(.., rule)
}

/// A number flag whose range the CLI checks itself.
fn number_in<T: PartialOrd + 'static>(
    range: impl std::ops::RangeBounds<T> + Send + Sync + 'static,
    rule: &'static str,
) -> Number<T> {
    Number {
        allowed: std::sync::Arc::new(move |n: &T| range.contains(n)),
        rule,
    }
}

/// `--concurrency`: `auto`, or a number from 1 to 256.
fn concurrency() -> Number<Concurrency> {
    Number {
        allowed: std::sync::Arc::new(|c: &Concurrency| match c {
            Concurrency::Auto => true,
            Concurrency::Fixed(n) => (1..=256).contains(n),
        }),
        rule: "must be from 1 to 256, or auto",
    }
}

/// A whole number of seconds, at least 1.
fn seconds() -> Number<u64> {
    number_in(1.., "must be a whole number of seconds, 1 or more")
}

/// An amount of money: a number, 0 or more (`inf` and `NaN` are none).
fn amount() -> Number<f64> {
    Number {
        allowed: std::sync::Arc::new(|n: &f64| n.is_finite() && *n >= 0.0),
        rule: "must be an amount, 0 or more, in the currency of fal's prices (such as 25 or 2.50)",
    }
}

/// See [`number`].
#[derive(Clone)]
pub struct Number<T> {
    allowed: std::sync::Arc<dyn Fn(&T) -> bool + Send + Sync>,
    rule: &'static str,
}

impl<T> TypedValueParser for Number<T>
where
    T: std::str::FromStr + Clone + Send + Sync + 'static,
{
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let text = value.to_string_lossy();
        match text.parse::<T>() {
            Ok(n) if (self.allowed)(&n) => Ok(n),
            _ => Err(invalid(cmd, arg, &text, self.rule)),
        }
    }
}

/// A request id as fal gives them (a UUID): letters, digits, `-` and `_`;
/// anything else would change the URL (or the file name) it is put in.
pub fn request_id(text: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_');
    if !text.is_empty() && text.len() <= 128 && text.chars().all(allowed) {
        Ok(text.to_owned())
    } else {
        Err(
            "must be the request id `kontext submit` printed: 1 to 128 letters, digits, '-' or '_'"
                .into(),
        )
    }
}

/// A clap value parser for one of the SDK's enums: its `FromStr` decides, so
/// the message names the field and its allowed values; `--help` lists them.
fn choice<T>(all: &'static [T], name: fn(T) -> &'static str) -> SdkChoice<T>
where
    T: Copy + Send + Sync + 'static,
{
    SdkChoice { all, name }
}

/// See [`choice`].
#[derive(Clone)]
pub struct SdkChoice<T: 'static> {
    all: &'static [T],
    name: fn(T) -> &'static str,
}

impl<T> TypedValueParser for SdkChoice<T>
where
    T: std::str::FromStr<Err = fal_kontext::Error> + Copy + Clone + Send + Sync + 'static,
{
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let text = value.to_string_lossy();
        text.parse().map_err(|error| {
            let rule = match error {
                fal_kontext::Error::InvalidInput { rule, .. } => rule,
                other => other.to_string(),
            };
            invalid(cmd, arg, &text, &rule)
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            self.all
                .iter()
                .map(|value| PossibleValue::new((self.name)(*value))),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn enum_flags_use_the_sdk_values_and_messages() {
        let cli = Cli::try_parse_from([
            "kontext",
            "edit",
            "--image=a.png",
            "--prompt=p",
            "--aspect-ratio=16:9",
            "--safety-tolerance=5",
        ])
        .unwrap();
        let Command::Edit(edit) = cli.command else {
            panic!("parsed {:?}", cli.command)
        };
        assert_eq!(edit.pro.aspect_ratio, Some(AspectRatio::Landscape16x9));
        assert_eq!(edit.pro.safety_tolerance, Some(SafetyTolerance::Level5));

        let error = Cli::try_parse_from([
            "kontext",
            "edit",
            "--image=a.png",
            "--prompt=p",
            "--output-format=webp",
        ])
        .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidValue);
        let first_line = error.to_string().lines().next().unwrap().to_string();
        assert_eq!(
            first_line,
            r#"error: invalid value 'webp' for '--output-format': must be one of "jpeg", "png""#
        );
    }

    #[test]
    fn clap_messages_become_one_line() {
        let message = "error: invalid value 'x' for '--model <MODEL>'\n  [possible values: pro, max, dev]\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(message),
            "error: invalid value 'x' for '--model <MODEL>' [possible values: pro, max, dev]"
        );
    }
}
