//! `kontext completions <shell>`.

/// Prints the completion script of `shell` for `command` (the whole
/// command line, `kontext`) on stdout.
pub fn print(shell: clap_complete::Shell, command: &mut clap::Command) {
    clap_complete::generate(shell, command, "kontext", &mut std::io::stdout());
}
