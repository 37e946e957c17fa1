//! `kontext emulator`: the local fal emulator in the foreground.

use crate::exit::Failure;

/// Serves until Ctrl-C; the URLs and key go to stdout as one JSON line.
#[cfg(feature = "emulator")]
pub async fn run(args: fal_emulator::EmulatorArgs) -> Result<(), Failure> {
    fal_emulator::serve_until_ctrl_c(args.into_config())
        .await
        .map_err(Failure::Emulator)
}

/// A build without the emulator says so.
#[cfg(not(feature = "emulator"))]
pub async fn run(_: crate::cli::MissingEmulatorArgs) -> Result<(), Failure> {
    Err(crate::local::missing_emulator())
}
