//! `cargo xtask bench`: fal-kontext against fal's own Python and JS clients,
//! side by side, all talking to one emulator on loopback, and against the
//! floor, the same emulator driven by bare HTTP calls.
//!
//! - [`scenarios`]: the four scenarios, harness side, on a fresh TLS emulator each.
//! - [`clients`]: each client's driver process and its configuration;
//!   [`peers`]: installing fal's clients into `.peers/`.
//! - [`process`]: a driver process, its protocol, its memory.
//! - [`netns`]: a network namespace of the bench's own, to count connections in.
//! - [`results`]: what a run measured, per client and scenario.
//! - [`figures`], [`table`], [`targets`], [`report`], [`machine`]: the output.
//! - [`gallery`]: `--gallery`, the batch gallery's build time and size, alone.
//! - [`batch_pacing`]: `--batch-concurrency`, `kontext batch` on a 4-slot
//!   account with a fixed concurrency and with `auto`, alone.
//! - [`big_upload`]: `--big-upload`, a 300 MB upload in one PUT and in parts, alone.

mod batch_pacing;
mod big_upload;
mod clients;
mod figures;
mod fixture;
mod gallery;
mod machine;
mod netns;
mod peers;
mod percentile;
mod process;
mod report;
mod results;
mod rng;
mod scenarios;
mod table;
mod targets;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};

use clients::{Client, Drivers};
use peers::Peers;
use results::{Measured, Results};
use scenarios::{Bench, Cost, Plan};

/// The arguments of `cargo xtask bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// A short run (40 latency samples, one upload) of the Rust client and the
    /// floor, unless --clients says otherwise; prints the table, writes nothing.
    #[arg(long)]
    pub quick: bool,
    /// Install fal's Python and JS clients, pinned, into `.peers/`, and stop.
    #[arg(long)]
    pub install_peers: bool,
    /// The clients to run besides the floor (default: rust and every
    /// installed peer; with --quick, rust).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub clients: Vec<Client>,
    /// Only the gallery: time `kontext gallery` (release) on a 2,000-job
    /// batch and give the page's size; prints the figures, writes nothing.
    #[arg(long)]
    pub gallery: bool,
    /// Only `kontext batch` of 200 jobs on a 4-slot account (the emulator's
    /// per-key cap), `--concurrency 200` against `auto`; prints the figures,
    /// writes nothing.
    #[arg(long)]
    pub batch_concurrency: bool,
    /// Only a 300 MB upload, in one PUT and in parts, by fal-kontext and (when
    /// installed) fal-client: throughput and peak RSS; prints the figures,
    /// writes nothing.
    #[arg(long)]
    pub big_upload: bool,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let root = workspace_root();
    let peers = Peers::new(&root);
    if args.install_peers {
        return peers.install();
    }
    // It builds and times the release kontext; the xtask's own build does
    // not matter to it.
    if args.gallery {
        return gallery::run(&root);
    }
    // In this xtask's own profile: its figures are the queue's, not speed.
    if args.batch_concurrency {
        return batch_pacing::run(&root);
    }
    if cfg!(debug_assertions) {
        return rerun_in_release(&root);
    }
    // Before any thread starts: threads keep the namespace they start in.
    let isolated = match netns::isolate() {
        Ok(()) => true,
        Err(error) => {
            eprintln!(
                "bench: no network namespace of its own ({error}); TCP connections will not be counted"
            );
            false
        }
    };
    let lineup = lineup(args, &peers)?;
    let plan = if args.quick { Plan::QUICK } else { Plan::FULL };
    let here = std::env::current_exe()?;
    let drivers = Drivers {
        bench_driver: here.with_file_name("bench_driver"),
        scripts: root.join("bench/drivers"),
        peers,
    };
    let (started, load_before) = (Instant::now(), machine::load_average());
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    let mut bench = Bench::new(plan, drivers, isolated)?;
    if args.big_upload {
        let peers: Vec<Client> = lineup
            .iter()
            .copied()
            .filter(|&client| matches!(client, Client::Rust | Client::Python))
            .collect();
        return big_upload::run(&bench, &peers);
    }
    let mut results: Results = lineup.iter().map(|&c| (c, Measured::default())).collect();
    for &client in &lineup {
        let measured = measure("completion latency", client, || bench.latency(client));
        results.entry(client).or_default().latency = Some(measured);
    }
    let mut rounds: BTreeMap<Client, Result<Vec<Cost>, String>> =
        lineup.iter().map(|&c| (c, Ok(Vec::new()))).collect();
    for round in 1..=plan.cost_rounds {
        let scenario = format!("cost per job, round {round} of {}", plan.cost_rounds);
        for (&client, done) in &mut rounds {
            // a client that failed a round runs no more
            if let Ok(costs) = done {
                match measure(&scenario, client, || bench.cost(client)) {
                    Ok(cost) => costs.push(cost),
                    Err(error) => *done = Err(error),
                }
            }
        }
    }
    for (client, done) in rounds {
        results.entry(client).or_default().cost = Some(done.map(|costs| Cost::median_of(&costs)));
    }
    for &client in &lineup {
        let measured = measure("concurrency", client, || bench.concurrency(client));
        results.entry(client).or_default().concurrency = Some(measured);
    }
    for &client in &lineup {
        let measured = measure("upload", client, || bench.upload(client));
        results.entry(client).or_default().upload = Some(measured);
    }

    let table = figures::render(&results);
    let failures = figures::failures(&results);
    let targets = targets::check(&results);
    println!("{table}\n");
    for failure in &failures {
        println!("{failure}");
    }
    println!("Targets (fal-kontext):\n{}", targets::render(&targets));
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    eprintln!("\nbench: {minutes:.1} minutes");
    if args.quick {
        eprintln!("bench: a quick run; BENCHMARKS.md is left as it is");
        return Ok(());
    }
    let facts = machine::gather(&root, &Peers::new(&root), &load_before);
    let path = root.join("BENCHMARKS.md");
    report::write(
        &path,
        &report::Report {
            date,
            minutes,
            plan,
            table: &table,
            failures: &failures,
            targets: &targets,
            facts: &facts,
        },
    )?;
    eprintln!("bench: wrote {}", path.display());
    Ok(())
}

/// The floor, then the clients asked for, or every one that is installed.
fn lineup(args: &BenchArgs, peers: &Peers) -> Result<Vec<Client>> {
    let installed = |client: Client| match client {
        Client::Python => peers.python_client().is_some(),
        Client::Js => peers.js_client().is_some(),
        Client::Floor | Client::Rust => true,
    };
    let wanted = if !args.clients.is_empty() {
        for &client in &args.clients {
            if !installed(client) {
                bail!(
                    "{} is not installed: run `cargo xtask bench --install-peers`",
                    client.label()
                );
            }
        }
        args.clients.clone()
    } else if args.quick {
        vec![Client::Rust]
    } else {
        let all = [Client::Rust, Client::Python, Client::Js];
        for peer in all.iter().filter(|&&client| !installed(client)) {
            eprintln!(
                "bench: {} is not installed (`cargo xtask bench --install-peers`); running without it",
                peer.label()
            );
        }
        all.into_iter()
            .filter(|&client| installed(client))
            .collect()
    };
    let mut lineup = vec![Client::Floor];
    lineup.extend(wanted);
    lineup.sort_unstable();
    lineup.dedup();
    Ok(lineup)
}

/// Runs one scenario for one client, saying so; a failure is kept, with its
/// reason, and the bench goes on.
fn measure<T>(
    scenario: &str,
    client: Client,
    run: impl FnOnce() -> Result<T>,
) -> Result<T, String> {
    eprintln!("bench: {scenario}, {}", client.label());
    run().map_err(|error| {
        eprintln!("bench: {scenario}, {} failed: {error:#}", client.label());
        format!("{error:#}")
    })
}

/// Benchmarks are only meaningful optimised: builds the release xtask and
/// bench driver, and runs the release xtask with the same arguments.
fn rerun_in_release(root: &Path) -> Result<()> {
    eprintln!("bench: building the release xtask and bench_driver");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--quiet",
            "--package",
            "xtask",
            "--bins",
        ])
        .status()
        .context("running cargo build")?;
    ensure!(status.success(), "the release build failed");
    let debug = std::env::current_exe()?;
    let release = debug
        .parent()
        .and_then(Path::parent)
        .context("the xtask binary is not in a target directory")?
        .join("release")
        .join("xtask");
    let status = Command::new(&release)
        .args(std::env::args_os().skip(1))
        .status()
        .with_context(|| format!("running {}", release.display()))?;
    ensure!(status.success(), "the release bench failed");
    Ok(())
}
