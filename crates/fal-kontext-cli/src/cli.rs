//! The whole command line, `kontext` and its commands (each command's flags
//! are in its module in `commands/`, the global and shared ones in `flags/`),
//! and how a command line clap refuses is reported.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands::{
    batch::BatchArgs, batch::gallery::command::GalleryArgs, cancel::CancelArgs, delete::DeleteArgs,
    edit::EditArgs, generate::GenerateArgs, history::HistoryArgs, inpaint::InpaintArgs,
    multi::MultiArgs, price::PriceArgs, result::ResultArgs, status::StatusArgs, submit::SubmitArgs,
    train::TrainArgs, webhook::WebhookCommand,
};
use crate::exit;
use crate::flags::Global;

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
    History(HistoryArgs),
    /// Delete what fal stored of requests: their input, output and output files.
    Delete(DeleteArgs),
    /// Run the local fal emulator in the foreground until Ctrl-C.
    #[cfg(feature = "emulator")]
    Emulator(fal_emulator::EmulatorArgs),
    /// Run the local fal emulator (not in this build: it was built without
    /// the cargo feature `emulator`).
    #[cfg(not(feature = "emulator"))]
    Emulator(crate::commands::emulator::MissingEmulatorArgs),
    /// Receive fal's webhooks.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Print a shell completion script.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;
    use fal_kontext::{AspectRatio, SafetyTolerance};

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
