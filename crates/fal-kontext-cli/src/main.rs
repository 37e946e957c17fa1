//! `kontext`: edit and generate images with fal.ai's FLUX.1 Kontext models
//! from the command line. Built on the `fal-kontext` SDK (requests, uploads,
//! waiting, retries, downloads) and, with the default cargo feature
//! `emulator`, `fal-emulator` (`--local`, `kontext emulator`); this crate
//! adds flags, progress, output and resumable batches.
//! See the crate README for the commands and exit codes.

#![warn(missing_docs)]

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use tracing::Instrument;

mod batch;
mod cli;
mod commands;
mod exit;
mod gallery;
mod job;
mod local;
mod out_dir;
mod output;
mod progress;
mod server_text;
mod signal;
mod telemetry;
mod webhook;

fn main() -> ExitCode {
    let parsed = cli::Cli::command().try_get_matches().and_then(|matches| {
        let cli = cli::Cli::from_arg_matches(&matches)
            .map_err(|error| error.format(&mut cli::Cli::command()))?;
        Ok((cli, matches))
    });
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return cli::command_line(error),
    };
    telemetry::init(cli.global.log_format);
    let code = run(cli, matches.subcommand_name().unwrap_or_default());
    telemetry::flush();
    code
}

/// Runs the command, in a span of its own.
fn run(cli: cli::Cli, name: &str) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(exit::FAILED);
        }
    };
    let json = cli.global.json;
    let span = telemetry::command_span(name);
    match runtime.block_on(commands::run(cli).instrument(span)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(json),
    }
}
