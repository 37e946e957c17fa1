//! Embeds the vendored OpenAPI documents: `openapi/` in this package, a
//! symbolic link to the workspace's `openapi/` (cargo packages the files it
//! points to, so the published crate carries its own copy).
//!
//! The emulator validates inputs and shapes outputs from the same documents
//! the client is generated from, so it must follow `openapi/endpoints.txt`
//! exactly: this script turns that list into a table of `include_str!`s, and a
//! `cargo xtask regen` that adds an endpoint or rewrites a document is picked
//! up on the next build.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let openapi = documents_dir(&manifest);
    let list = openapi.join("endpoints.txt");
    println!("cargo:rerun-if-changed={}", openapi.display());
    println!("cargo:rerun-if-changed={}", list.display());

    let text = fs::read_to_string(&list)
        .unwrap_or_else(|error| panic!("reading {}: {error}", list.display()));
    let mut table = String::from("&[\n");
    for id in text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
    {
        let file = openapi.join(format!("{}.json", id.replace('/', "__")));
        println!("cargo:rerun-if-changed={}", file.display());
        let file = file
            .canonicalize()
            .unwrap_or_else(|error| panic!("endpoint {id}: {}: {error}", file.display()));
        writeln!(
            table,
            "    ({id:?}, include_str!({:?})),",
            file.display().to_string()
        )
        .expect("writing to a String cannot fail");
    }
    table.push_str("]\n");

    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("documents.rs");
    fs::write(&out, table).unwrap_or_else(|error| panic!("writing {}: {error}", out.display()));
}

/// `openapi/` in this package. Where git checks a symbolic link out as a
/// plain file holding its target (Windows without symlink support), follow
/// that target by hand.
fn documents_dir(manifest: &Path) -> PathBuf {
    let link = manifest.join("openapi");
    match fs::read_to_string(&link) {
        Ok(target) => manifest.join(target.trim()),
        Err(_) => link,
    }
}
