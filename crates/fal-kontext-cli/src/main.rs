//! `kontext`: edit and generate images with fal.ai's FLUX.1 Kontext models
//! from the command line. Built on the `fal-kontext` SDK (requests, uploads,
//! waiting, retries, downloads) and, with the default cargo feature
//! `emulator`, `fal-emulator` (`--local`, `kontext emulator`); this crate
//! adds flags, progress, output and resumable batches.
//! This file parses the command line ([`cli`]) and dispatches each command
//! to its module in [`commands`]. See the crate README for the commands and
//! exit codes.

#![warn(missing_docs)]

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use tracing::Instrument;

use crate::cli::{Cli, Command};
use crate::commands::webhook::WebhookCommand;
use crate::exit::Failure;
use crate::flags::LogFormat;

mod cli;
mod commands;
mod exit;
mod flags;
mod job;
mod local;
mod out_dir;
mod output;
mod progress;
mod server_text;
mod signal;
mod telemetry;

fn main() -> ExitCode {
    let parsed = Cli::command().try_get_matches().and_then(|matches| {
        let cli =
            Cli::from_arg_matches(&matches).map_err(|error| error.format(&mut Cli::command()))?;
        Ok((cli, matches))
    });
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return cli::command_line(error),
    };
    telemetry::init(cli.global.log_format == LogFormat::Json);
    let code = run(cli, matches.subcommand_name().unwrap_or_default());
    telemetry::flush();
    code
}

/// Runs the command, in a span of its own.
fn run(cli: Cli, name: &str) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(exit::FAILED);
        }
    };
    let json = cli.global.json;
    let span = telemetry::command_span(name);
    match runtime.block_on(dispatch(cli).instrument(span)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(json),
    }
}

/// Runs the command the line asks for: each to its module in `commands/`.
async fn dispatch(cli: Cli) -> Result<(), Failure> {
    use commands::*;
    let Cli { global, command } = cli;
    match command {
        Command::Edit(args) => edit::run(args, &global).await,
        Command::Generate(args) => generate::run(args, &global).await,
        Command::Multi(args) => multi::run(args, &global).await,
        Command::Inpaint(args) => inpaint::run(args, &global).await,
        Command::Train(args) => train::run(args, &global).await,
        Command::Submit(args) => submit::run(args, &global).await,
        Command::Status(args) => status::run(args, &global).await,
        Command::Result(args) => result::run(args, &global).await,
        Command::Cancel(args) => cancel::run(args, &global).await,
        Command::Batch(args) => batch::run(args, &global).await,
        Command::Gallery(args) => batch::gallery::command::run(args, &global),
        Command::Price(args) => price::run(args, &global).await,
        Command::History(args) => history::run(args, &global).await,
        Command::Delete(args) => delete::run(args, &global).await,
        Command::Emulator(args) => emulator::run(args).await,
        Command::Webhook(WebhookCommand::Serve(args)) => webhook::serve::run(args, &global).await,
        Command::Completions { shell } => {
            completions::print(shell, &mut Cli::command());
            Ok(())
        }
    }
}
