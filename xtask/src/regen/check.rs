//! `--check`: compare what regeneration produces with the committed tree.

use std::path::PathBuf;

use anyhow::{Result, bail};
use similar::TextDiff;

use super::layout::Layout;

pub fn compare(layout: &Layout, outputs: &[(PathBuf, String)]) -> Result<()> {
    let mut stale = Vec::new();
    for (path, expected) in outputs {
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        if &committed != expected {
            let name = layout.relative(path).display().to_string();
            let diff = TextDiff::from_lines(&committed, expected)
                .unified_diff()
                .context_radius(3)
                .header(
                    &format!("a/{name} (committed)"),
                    &format!("b/{name} (regenerated)"),
                )
                .to_string();
            eprintln!("{diff}");
            stale.push(name);
        }
    }
    if stale.is_empty() {
        eprintln!("regen check: {} files up to date", outputs.len());
        Ok(())
    } else {
        bail!(
            "{} file(s) differ from what `cargo xtask regen` writes: {}",
            stale.len(),
            stale.join(", ")
        )
    }
}
