//! `kontext gallery DIR [--open]`: the batch's page, written again from its
//! jobs file and state file (nothing is fetched).

use std::path::PathBuf;

use clap::Args;

use crate::exit::Failure;
use crate::flags::Global;

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

/// Writes `DIR/index.html`, prints its path, and opens it when asked.
pub fn run(args: GalleryArgs, global: &Global) -> Result<(), Failure> {
    if !args
        .dir
        .join(crate::commands::batch::state::FILE_NAME)
        .is_file()
    {
        return Err(Failure::Usage(format!(
            "invalid value '{}' for '<DIR>': must be the --out directory of a kontext batch (it has no {})",
            args.dir.display(),
            crate::commands::batch::state::FILE_NAME
        )));
    }
    let written = super::write(&args.dir, args.jobs.as_deref()).map_err(|source| {
        Failure::Save(fal_kontext::Error::Io {
            path: args.dir.join(super::PAGE),
            source,
        })
    })?;
    if global.json {
        crate::output::print_json(&serde_json::json!({
            "path": written.path,
            "jobs": written.jobs,
            "bytes": written.bytes,
        }));
    } else {
        crate::output::print_paths([&written.path]);
    }
    if args.open {
        open(&written.path);
    }
    Ok(())
}

/// Opens a file in the default browser, as the desktop does; a failure to
/// is said, never an error (the page is written).
fn open(path: &std::path::Path) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if let Err(error) = std::process::Command::new(opener).arg(path).spawn() {
        eprintln!("warning: could not run {opener} to open the page: {error}");
    }
}
