//! `kontext batch --concurrency auto` (the default) against an account that
//! runs 4 jobs at once: every job finishes within a deadline shorter than
//! the batch, because fal's queue stays short; a submit's 429 slows the
//! batch down instead of failing a job.

use std::path::Path;
use std::time::{Duration, Instant};

use fal_emulator::{Config, Fault, FaultRule, Route};
use serde_json::Value;

use crate::harness::*;

/// A jobs file of `count` text-to-image jobs.
fn jobs_file(dir: &Path, count: usize) -> std::path::PathBuf {
    let jobs = dir.join("jobs.jsonl");
    let lines: Vec<String> = (1..=count)
        .map(|n| format!(r#"{{"id": "j{n}", "prompt": "job {n}"}}"#))
        .collect();
    std::fs::write(&jobs, lines.join("\n")).unwrap();
    jobs
}

#[test]
fn auto_fills_a_four_slot_account_without_a_long_queue_or_a_missed_deadline() {
    const JOBS: usize = 200;
    let emu = Emu::with(Config {
        timing: slow(Duration::from_millis(100)),
        max_running_per_key: Some(4),
        ..Config::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let jobs = jobs_file(dir.path(), JOBS);
    let out = dir.path().join("out");

    // 200 jobs on 4 slots take at least 50 × 100 ms: longer than a job's
    // own 2 s deadline.
    let started = Instant::now();
    let output = run(batch(&emu, &jobs, &out, &["--timeout", "2", "--json"]));
    let took = started.elapsed();
    let summary: Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", describe(&output)));
    assert_eq!(
        (summary["done"].as_u64(), summary["failed"].as_u64()),
        (Some(JOBS as u64), Some(0)),
        "{}",
        describe(&output)
    );
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        took > Duration::from_secs(2),
        "the batch outlasts a job's deadline"
    );

    let stats = emu.stats();
    assert_eq!(stats.jobs_cancelled, 0);
    assert_eq!(
        (stats.submit, stats.jobs_completed),
        (JOBS as u64, JOBS as u64)
    );
    // auto keeps at most the 4 running + 2 at fal, so never more than a
    // few wait (a fixed --concurrency 200 leaves about 190 waiting: see
    // `cargo xtask bench --batch-concurrency`).
    assert!(
        stats.peak_queued_per_key <= 6,
        "at most a few jobs wait in fal's queue: {stats:?}"
    );
    assert!(
        stats.jobs_waited_for_slot > 0,
        "auto kept the next jobs ready in fal's queue: {stats:?}"
    );
}

#[test]
fn a_submit_refused_with_429_slows_the_batch_and_the_job_runs_later() {
    // Twelve 429s in a row: the SDK gives up after six attempts of one
    // submit, so the batch itself meets at least one.
    let emu = Emu::with(Config {
        timing: quick(),
        faults: vec![FaultRule::times(
            Route::Submit,
            Fault::TooManyRequests {
                retry_after_secs: 0,
            },
            12,
        )],
        ..Config::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let jobs = jobs_file(dir.path(), 6);
    let out = dir.path().join("out");

    let output = run(batch(&emu, &jobs, &out, &["--json"]));
    let summary: Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", describe(&output)));
    assert_eq!(
        (summary["done"].as_u64(), summary["failed"].as_u64()),
        (Some(6), Some(0)),
        "{}",
        describe(&output)
    );
    assert!(
        stderr(&output).contains("fal refused a submit for now (429)"),
        "{}",
        describe(&output)
    );
    let stats = emu.stats();
    assert_eq!(stats.faults_injected, 12);
    assert_eq!((stats.jobs_created, stats.jobs_cancelled), (6, 0));
}
