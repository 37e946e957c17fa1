//! The `--out` directory, checked before anything is sent: an unusable one
//! costs no request.

use std::path::Path;

use crate::exit::Failure;

/// What `--out` must be, for its error messages.
const OUT_RULE: &str = "must be a directory, or a path where one can be created";

/// Creates the output directory before anything is sent, so that an unusable
/// `--out` costs no request (batch: its state file lives there).
pub fn prepare_dir(dir: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).map_err(|error| {
        Failure::Usage(format!(
            "invalid value '{}' for '--out': {OUT_RULE} ({error})",
            dir.display()
        ))
    })
}

/// Checks, before anything is sent and without creating anything, that
/// `--out` is a directory or can become one: its nearest existing ancestor
/// is a writable directory. (The download creates it; input refused later
/// then leaves nothing behind.)
pub fn check_dir(dir: &Path) -> Result<(), Failure> {
    let refuse = |why: String| {
        Failure::Usage(format!(
            "invalid value '{}' for '--out': {OUT_RULE} ({why})",
            dir.display()
        ))
    };
    let mut probe = dir;
    loop {
        match std::fs::metadata(probe) {
            Ok(found) if !found.is_dir() => {
                return Err(refuse(format!("{} is not a directory", probe.display())));
            }
            Ok(found) if found.permissions().readonly() => {
                return Err(refuse(format!("{} is read-only", probe.display())));
            }
            Ok(_) => return Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                probe = match probe.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => parent,
                    _ => Path::new("."),
                };
            }
            Err(error) => return Err(refuse(error.to_string())),
        }
    }
}
