//! `cargo xtask …`: the project's own automation, written in Rust so that it
//! runs wherever cargo does.

use clap::{Parser, Subcommand};

mod bench;
mod circles;
mod regen;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Project automation for fal-kontext")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch fal's OpenAPI documents and regenerate `crates/fal-kontext-api`.
    Regen(regen::RegenArgs),
    /// Benchmark fal-kontext against fal's Python and JS clients on a local
    /// emulator (a release build); writes BENCHMARKS.md.
    Bench(bench::BenchArgs),
    /// Fail if the modules of a crate import each other in a circle.
    Circles(circles::CirclesArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Regen(args) => regen::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Circles(args) => circles::run(&args),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
