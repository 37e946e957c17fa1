//! `kontext emulator`: the local fal emulator in the foreground.

#[cfg(not(feature = "emulator"))]
use clap::Args;

use crate::exit::Failure;

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

/// Serves until Ctrl-C; the URLs and key go to stdout as one JSON line.
#[cfg(feature = "emulator")]
pub async fn run(args: fal_emulator::EmulatorArgs) -> Result<(), Failure> {
    fal_emulator::serve_until_ctrl_c(args.into_config())
        .await
        .map_err(Failure::Emulator)
}

/// A build without the emulator says so.
#[cfg(not(feature = "emulator"))]
pub async fn run(_: MissingEmulatorArgs) -> Result<(), Failure> {
    Err(crate::local::missing_emulator())
}
