//! `cargo xtask bench --batch-concurrency`: `kontext batch` of 200 jobs on
//! an account that runs 4 at once (the emulator's `max_running_per_key`),
//! with a fixed `--concurrency 200` and with `auto`: wall time, jobs done
//! and failed, jobs that waited in fal's queue for a slot, the longest the
//! queue got, and the jobs cancelled at their deadline. Each job's deadline
//! (`--timeout 3`) is shorter than the batch. The emulator runs in this
//! process; `kontext` is built in this xtask's profile (the figures that
//! matter, queue and failures, do not depend on it). Prints the figures;
//! writes nothing else.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use fal_emulator::{Config, Emulator, Stats, Timing};
use serde_json::Value;

/// The batch's size.
const JOBS: usize = 200;
/// The account's slots: jobs of its key that run at once.
const SLOTS: usize = 4;
/// How long a job runs (fal's Kontext takes seconds; scaled down).
const PROCESSING: Duration = Duration::from_millis(200);
/// Each job's deadline, in seconds: the batch needs 200 / 4 × 0.2 = 10 s.
const TIMEOUT_SECS: &str = "3";

/// What one run of the batch gave.
struct Figures {
    wall: Duration,
    done: u64,
    failed: u64,
    stats: Stats,
}

pub fn run(root: &Path) -> Result<()> {
    let kontext = build_kontext(root)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!(
        "kontext batch of {JOBS} jobs, {SLOTS} slots per key, {} ms a job, --timeout {TIMEOUT_SECS} ({profile} build):",
        PROCESSING.as_millis()
    );
    println!(
        "  {:<18} {:>8} {:>6} {:>7} {:>12} {:>11} {:>10} {:>8}",
        "--concurrency",
        "wall s",
        "done",
        "failed",
        "waited slot",
        "peak queue",
        "cancelled",
        "submits"
    );
    for concurrency in ["200", "6", "auto"] {
        let figures = once(&runtime, &kontext, concurrency)?;
        println!(
            "  {:<18} {:>8.2} {:>6} {:>7} {:>12} {:>11} {:>10} {:>8}",
            concurrency,
            figures.wall.as_secs_f64(),
            figures.done,
            figures.failed,
            figures.stats.jobs_waited_for_slot,
            figures.stats.peak_queued_per_key,
            figures.stats.jobs_cancelled,
            figures.stats.submit,
        );
    }
    Ok(())
}

/// One batch on a fresh emulator.
fn once(runtime: &tokio::runtime::Runtime, kontext: &Path, concurrency: &str) -> Result<Figures> {
    let emulator = runtime.block_on(Emulator::start_with(Config {
        max_running_per_key: Some(SLOTS),
        timing: Timing {
            queue_delay: Duration::ZERO,
            processing_time: PROCESSING,
        },
        ..Config::default()
    }))?;
    let dir = tempfile::Builder::new()
        .prefix("fal-bench-batch-")
        .tempdir()?;
    let jobs = dir.path().join("jobs.jsonl");
    let lines: Vec<String> = (1..=JOBS)
        .map(|n| format!(r#"{{"id": "j{n}", "prompt": "a red kite, take {n}"}}"#))
        .collect();
    std::fs::write(&jobs, lines.join("\n"))?;
    eprintln!("bench: kontext batch --concurrency {concurrency}");
    let started = Instant::now();
    let output = Command::new(kontext)
        .arg("batch")
        .arg(&jobs)
        .arg("--out")
        .arg(dir.path().join("out"))
        .args(["--concurrency", concurrency, "--timeout", TIMEOUT_SECS])
        .args(["--json", "--quiet"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("FAL_KEY", emulator.key())
        .env("FAL_QUEUE_URL", emulator.queue_url())
        .env("FAL_RUN_URL", emulator.run_url())
        .env("FAL_REST_URL", emulator.rest_url())
        .env("FAL_PLATFORM_URL", emulator.platform_url())
        .output()
        .context("running kontext batch")?;
    let wall = started.elapsed();
    let summary: Value = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "kontext batch printed no summary: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    let count = |key: &str| summary[key].as_u64().unwrap_or_default();
    Ok(Figures {
        wall,
        done: count("done"),
        failed: count("failed"),
        stats: emulator.stats(),
    })
}

/// Builds `kontext` in this xtask's profile and gives its path.
fn build_kontext(root: &Path) -> Result<PathBuf> {
    let release = !cfg!(debug_assertions);
    eprintln!("bench: building kontext");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(root)
        .args(["build", "--quiet", "-p", "fal-kontext-cli"]);
    if release {
        build.arg("--release");
    }
    ensure!(
        build.status().context("running cargo build")?.success(),
        "the build failed"
    );
    let profile = if release { "release" } else { "debug" };
    Ok(root.join("target").join(profile).join("kontext"))
}
