//! `kontext`: edit and generate images with fal.ai's FLUX.1 Kontext models
//! from the command line. Built on the `fal-kontext` SDK (requests, uploads,
//! waiting, retries, downloads) and, with the default cargo feature
//! `emulator`, `fal-emulator` (`--local`, `kontext emulator`); this crate
//! adds flags, progress, output and resumable batches.
//! See the crate README for the commands and exit codes.

#![warn(missing_docs)]

use std::process::ExitCode;

use clap::Parser;

mod batch;
mod cli;
mod commands;
mod exit;
mod gallery;
mod job;
mod local;
mod output;
mod progress;
mod server_text;
mod signal;
mod webhook;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return exit::command_line(error),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(exit::FAILED);
        }
    };
    let json = cli.global.json;
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(json),
    }
}
