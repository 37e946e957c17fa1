//! The flags more than one command takes, as clap types: the global ones,
//! the input fields, the queue and wait flags, where the images go, which
//! request; and [`parse`], how a flag's value is read. Each command's own
//! flags are in its module in `commands/`.

use std::path::PathBuf;

use clap::Args;

mod input;
pub mod parse;
mod queue;
mod request;

pub use input::{DevFlags, InputFlags, LoraFlags, ProFlags, ProOrMax};
pub use queue::{QueueFlags, WaitFlags};
pub use request::RequestRef;

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

/// The format of the logs on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event.
    Text,
    /// One JSON object per event.
    Json,
}
