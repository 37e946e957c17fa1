//! `kontext completions <shell>`.

use clap::CommandFactory;

use crate::cli::Cli;

/// Prints the completion script of `shell` on stdout.
pub fn print(shell: clap_complete::Shell) {
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "kontext",
        &mut std::io::stdout(),
    );
}
