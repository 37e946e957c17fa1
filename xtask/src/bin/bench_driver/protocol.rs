//! The line protocol between `cargo xtask bench` and a driver, the same for
//! every driver (see `bench/drivers/README.md`): the scenario as JSON in the
//! first argument, `go` lines on stdin, one JSON object per line on stdout.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;

/// What the harness asks for.
#[derive(Deserialize)]
pub struct Config {
    pub scenario: Scenario,
    /// Measured jobs.
    pub jobs: usize,
    /// Jobs run before `ready`, so that connections, caches and JITs are warm.
    pub warmup: usize,
    /// The input image of the upload scenario (the file of `big_upload`).
    pub image: Option<PathBuf>,
    /// `big_upload`: in parts (the client's default) rather than in one PUT.
    #[serde(default)]
    pub multipart: bool,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    Latency,
    Cost,
    Concurrency,
    Upload,
    /// A file uploaded to storage alone, no job.
    BigUpload,
}

/// Every driver sends the same request, so that the emulator renders its
/// image once and serves it from cache afterwards.
pub const PROMPT: &str = "a lighthouse at dusk";
pub const SEED: i64 = 42;

/// Prints one JSON line and flushes it: the harness is waiting for it.
pub fn say(message: &Value) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, message)?;
    writeln!(stdout)?;
    stdout.flush()?;
    Ok(())
}

/// Waits for the harness's next `go` line (off the runtime's threads).
pub async fn wait_go() -> Result<()> {
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    })
    .await?
    .context("reading stdin")?;
    if line.trim() != "go" {
        bail!("expected `go` from the harness, got {line:?}");
    }
    Ok(())
}

/// Waits until the harness closes stdin: it reads this process's peak RSS
/// from /proc first, which it could not do once the process has exited.
pub async fn wait_for_end() -> Result<()> {
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().lock().read_line(&mut sink)? > 0 {
            sink.clear();
        }
        Ok::<_, std::io::Error>(())
    })
    .await??;
    Ok(())
}

/// CLOCK_MONOTONIC in nanoseconds: the clock the harness, Python's
/// `time.monotonic_ns()` and Node's `process.hrtime.bigint()` read too, so
/// instants compare across processes.
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// User plus system CPU time of this process (all threads) so far, in seconds.
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
