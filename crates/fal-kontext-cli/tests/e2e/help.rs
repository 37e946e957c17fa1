//! Help, version and completions.

use crate::harness::*;

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let help = success(&run(kontext(["--help"])));
    insta::assert_snapshot!(help);
    for command in [
        "edit",
        "generate",
        "multi",
        "submit",
        "status",
        "result",
        "cancel",
        "batch",
        "emulator",
        "completions",
    ] {
        let output = run(kontext([command, "--help"]));
        assert!(success(&output).contains("Usage: kontext"), "{command}");
    }
}

#[test]
fn edit_help_shows_the_allowed_values() {
    let help = success(&run(kontext(["edit", "--help"])));
    insta::assert_snapshot!(help);
}

#[test]
fn completions_cover_the_commands() {
    let script = success(&run(kontext(["completions", "bash"])));
    assert!(script.contains("_kontext()"), "{script}");
    for command in ["edit", "batch", "completions"] {
        assert!(script.contains(command), "{command}");
    }
    let output = run(kontext(["completions", "tcsh"]));
    assert_eq!(code(&output), 2, "{}", describe(&output));
}
