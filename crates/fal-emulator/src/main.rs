//! `fal-emulator [--port N] [--key K] [--tls] …`: serves fal's HTTP surface
//! locally, prints its base URLs as one JSON line on stdout when ready, and
//! serves until killed.

use std::process::ExitCode;

use clap::Parser;
use fal_emulator::{EmulatorArgs, serve_until_ctrl_c};

/// A local, fal-compatible server for FLUX.1 Kontext clients (images are simulated).
#[derive(Parser, Debug)]
#[command(name = "fal-emulator", version, about)]
struct Cli {
    #[command(flatten)]
    emulator: EmulatorArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match serve_until_ctrl_c(cli.emulator.into_config()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fal-emulator: {error}");
            ExitCode::FAILURE
        }
    }
}
