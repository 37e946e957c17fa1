//! The one rule for the stem of a saved image's file name: it may come from
//! the server (a request id), so it must name a file inside the chosen
//! directory and nothing else.

use crate::error::{Error, Result};

/// The longest stem; with `-<n>.<ext>` a name stays far below the 255 bytes
/// file systems allow.
const LONGEST: usize = 128;

/// Checks that `stem` can name a file inside a directory: 1 to 128 ASCII
/// letters, digits, `.`, `_` or `-`, not starting with `.`. So never a path
/// separator, `..`, an absolute path, a hidden file, or a control character.
/// [`Client::download_as`](crate::Client::download_as) checks its stem (often
/// fal's request id) this way before it creates or writes anything.
///
/// ```
/// use fal_kontext::{Error, check_file_stem};
///
/// assert!(check_file_stem("764cabcf-b745-4b3e-ae38-1200304cf45b").is_ok());
/// assert!(matches!(
///     check_file_stem("../../etc/cron.d/x"),
///     Err(Error::InvalidInput { field: "stem", .. })
/// ));
/// ```
pub fn check_file_stem(stem: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if stem.is_empty()
        || stem.len() > LONGEST
        || stem.starts_with('.')
        || !stem.chars().all(allowed)
    {
        return Err(Error::InvalidInput {
            field: "stem",
            // The stem may be the server's: shown escaped and short, so that
            // it cannot write control sequences to a terminal.
            value: stem.chars().take(64).flat_map(char::escape_debug).collect(),
            rule: format!(
                "must be 1 to {LONGEST} letters, digits, '.', '_' or '-', not starting with '.', to name a file inside the directory"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_and_plain_names_pass() {
        for good in [
            "764cabcf-b745-4b3e-ae38-1200304cf45b",
            "a1",
            "shot_2.v3-final",
            "x..y",
        ] {
            assert!(check_file_stem(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn anything_that_could_leave_the_directory_is_refused() {
        let long = "a".repeat(LONGEST + 1);
        for bad in [
            "",
            "..",
            ".",
            "../up",
            "a/b",
            "a\\b",
            "/etc/passwd",
            "C:",
            ".hidden",
            "sp ace",
            "new\nline",
            "\u{1b}[2J",
            "é",
            "a\0b",
            &long,
        ] {
            let error = check_file_stem(bad).unwrap_err();
            assert!(
                matches!(&error, Error::InvalidInput { field: "stem", .. }),
                "{bad:?}: {error:?}"
            );
            let shown = error.to_string();
            assert!(
                !shown.contains('\n') && !shown.contains('\u{1b}'),
                "{shown:?}"
            );
        }
    }
}
