//! `kontext` built without its default `emulator` feature
//! (`cargo test -p fal-kontext-cli --no-default-features`): `--local` and
//! `kontext emulator` say that this build lacks the emulator, with the usage
//! exit code, before anything is sent or written. (With the feature, the
//! end-to-end tests in `tests/e2e/` cover both.)

#![cfg(not(feature = "emulator"))]

use std::path::Path;
use std::process::{Command, Output};

/// The first words of the one line a build without the emulator answers.
const MISSING: &str = "error: this build of kontext has no local emulator (it was built without the cargo feature \
     `emulator`)";

/// `kontext` with `args` and no fal settings in its environment.
fn kontext(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kontext"))
        .args(args)
        .current_dir(dir)
        .env_remove("FAL_KEY")
        .env_remove("FAL_KEY_ID")
        .env_remove("FAL_KEY_SECRET")
        .output()
        .unwrap()
}

/// Exit code 2, one line on stderr naming the missing feature and how to get
/// it, nothing on stdout.
fn assert_refused(output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with(MISSING), "{stderr}");
    assert!(stderr.contains("cargo install fal-kontext-cli"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn local_says_the_build_has_no_emulator_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.png"), b"\x89PNG\r\n\x1a\n").unwrap();
    let output = kontext(
        &[
            "edit", "--local", "--image", "in.png", "--prompt", "a donut", "--out", "out",
        ],
        dir.path(),
    );
    assert_refused(&output);
    assert!(!dir.path().join("out").exists(), "no --out was created");
}

#[test]
fn the_emulator_command_says_the_build_has_no_emulator() {
    let dir = tempfile::tempdir().unwrap();
    assert_refused(&kontext(&["emulator", "--port", "0"], dir.path()));
}

#[test]
fn help_says_the_emulator_is_not_in_this_build() {
    let dir = tempfile::tempdir().unwrap();
    let output = kontext(&["--help"], dir.path());
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    let line = help
        .lines()
        .find(|line| line.trim_start().starts_with("emulator"))
        .unwrap_or_else(|| panic!("no emulator line in:\n{help}"));
    assert!(line.contains("not in this build"), "{line}");
}
