//! The four scenarios, harness side: an emulator set up for the scenario,
//! one driver process for the client, and what is read from both.
//!
//! Every emulator serves TLS (fal-client speaks nothing else, and fal serves
//! nothing else), on fresh ports, so that its counters and its connections
//! belong to one client's run.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use fal_emulator::{Config, Emulator, Stats, Timing};
use serde::Deserialize;
use serde_json::json;

use super::clients::{self, Client, Drivers};
use super::fixture;
use super::netns;
use super::percentile::percentile;
use super::process::Driver;
use super::rng::SplitMix64;

/// How many jobs each scenario runs.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub latency_jobs: usize,
    /// Jobs per round of the cost scenario.
    pub cost_jobs: usize,
    /// Rounds of the cost scenario, the clients' taking turns: a figure is
    /// the median of its rounds, so one noisy stretch of the shared machine
    /// weighs on one round of one client, not on its whole figure.
    pub cost_rounds: usize,
    pub concurrent_jobs: usize,
    pub processing: Duration,
    pub upload_runs: usize,
}

impl Plan {
    pub const FULL: Plan = Plan {
        latency_jobs: 200,
        cost_jobs: 100,
        cost_rounds: 5,
        concurrent_jobs: 1000,
        processing: Duration::from_secs(2),
        upload_runs: 3,
    };
    /// Fewer latency samples and one upload; the other scenarios are cheap
    /// for the Rust client and keep their size, so their figures compare.
    pub const QUICK: Plan = Plan {
        latency_jobs: 40,
        upload_runs: 1,
        ..Plan::FULL
    };
}

/// Jobs start and finish at once; drivers warm up with this timing.
const INSTANT: Timing = Timing {
    queue_delay: Duration::ZERO,
    processing_time: Duration::ZERO,
};
/// Holds a job in the queue until the timing changes back to [`INSTANT`].
const HOLD: Timing = Timing {
    queue_delay: Duration::from_secs(3600),
    processing_time: Duration::ZERO,
};
/// A held job is released at a random instant this long after its submit
/// arrived, plus up to [`RELEASE_SPREAD`]: the spread covers a whole polling
/// period of the slowest client (500 ms), so releases fall at every phase of
/// a polling loop, as real completions do.
const RELEASE_AFTER: Duration = Duration::from_millis(20);
const RELEASE_SPREAD: Duration = Duration::from_millis(500);

const LATENCY_WARMUP: usize = 5;
const COST_WARMUP: usize = 10;

pub struct Latency {
    pub median_ms: f64,
    pub p99_ms: f64,
}

/// One round of the cost scenario; `connections` is `None` when the bench
/// could not have a network namespace of its own to count them in.
pub struct Cost {
    pub cpu_ms: f64,
    pub requests: f64,
    pub connections: Option<u64>,
}

impl Cost {
    /// The rounds as one figure: the median round's CPU per job (nearest
    /// rank), the mean requests per job, every connection opened.
    pub fn median_of(rounds: &[Cost]) -> Cost {
        let cpu: Vec<f64> = rounds.iter().map(|r| r.cpu_ms).collect();
        let cpu_ms = percentile(&cpu, 50.0).unwrap_or(f64::NAN);
        let (low, high) = cpu
            .iter()
            .fold((f64::INFINITY, 0.0_f64), |(l, h), &c| (l.min(c), h.max(c)));
        eprintln!(
            "  CPU per job over {} rounds: median {cpu_ms:.3} ms, {low:.3} to {high:.3} ms",
            rounds.len()
        );
        Cost {
            cpu_ms,
            requests: rounds.iter().map(|r| r.requests).sum::<f64>() / rounds.len() as f64,
            connections: rounds.iter().map(|r| r.connections).sum(),
        }
    }
}

pub struct Concurrency {
    pub wall_s: f64,
    pub peak_rss_mib: f64,
    pub connections: Option<u64>,
}

pub struct Upload {
    pub rss_growth_mib: f64,
    pub throughput_mb_s: f64,
}

#[derive(Deserialize)]
struct LatencyDone {
    done_ns: f64,
}

#[derive(Deserialize)]
struct CostDone {
    cpu_s: f64,
    wall_s: f64,
}

#[derive(Deserialize)]
struct ConcurrencyDone {
    wall_s: f64,
    failed: usize,
}

#[derive(Deserialize)]
struct UploadDone {
    wall_s: f64,
}

pub struct Bench {
    runtime: tokio::runtime::Runtime,
    work: tempfile::TempDir,
    image: Option<(PathBuf, u64)>,
    plan: Plan,
    drivers: Drivers,
    /// Whether the bench has a network namespace of its own (see [`netns`]).
    isolated: bool,
}

/// CLOCK_MONOTONIC in nanoseconds, the clock every driver reports in.
fn monotonic_ns() -> f64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as f64 * 1e9 + now.tv_nsec as f64
}

/// Every request the emulator counted, on any route.
fn requests(stats: &Stats) -> u64 {
    stats.submit
        + stats.status
        + stats.stream
        + stats.result
        + stats.cancel
        + stats.run
        + stats.upload_initiate
        + stats.upload_put
        + stats.cdn
        + stats.openapi
}

/// Polls `condition` every 50 µs until it holds, for at most `limit`.
fn wait_for(limit: Duration, condition: impl Fn() -> bool) -> Result<()> {
    let until = Instant::now() + limit;
    while !condition() {
        ensure!(Instant::now() < until, "gave up after {limit:?}");
        std::thread::sleep(Duration::from_micros(50));
    }
    Ok(())
}

const MIB: f64 = 1024.0 * 1024.0;

impl Bench {
    pub fn new(plan: Plan, drivers: Drivers, isolated: bool) -> Result<Self> {
        Ok(Self {
            runtime: tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?,
            work: tempfile::Builder::new().prefix("fal-bench-").tempdir()?,
            image: None,
            plan,
            drivers,
            isolated,
        })
    }

    /// Connections the emulators accepted so far, when they can be counted.
    fn accepted(&self) -> Option<u64> {
        self.isolated.then(netns::accepted_connections).flatten()
    }

    /// The bench's temporary folder.
    pub fn work_dir(&self) -> &std::path::Path {
        self.work.path()
    }

    /// See [`emulator`](Self::emulator) (for the other scenarios' modules).
    pub fn tls_emulator(&self, concurrency: usize) -> Result<(Emulator, PathBuf)> {
        self.emulator(concurrency)
    }

    /// See [`driver`](Self::driver) (for the other scenarios' modules).
    pub fn spawn_driver(
        &self,
        client: Client,
        emulator: &Emulator,
        ca: &std::path::Path,
        scenario: serde_json::Value,
        limit: Duration,
    ) -> Result<Driver> {
        self.driver(client, emulator, ca, scenario, limit)
    }

    /// A TLS emulator whose jobs start and finish at once, and the file
    /// holding its CA certificate.
    fn emulator(&self, concurrency: usize) -> Result<(Emulator, PathBuf)> {
        let emulator = self.runtime.block_on(Emulator::start_with(Config {
            tls: true,
            concurrency,
            timing: INSTANT,
            ..Config::default()
        }))?;
        let port = emulator.queue_url().rsplit(':').next().unwrap_or_default();
        let ca = self.work.path().join(format!("ca-{port}.pem"));
        std::fs::write(&ca, emulator.ca_cert_pem().expect("TLS is on"))?;
        Ok((emulator, ca))
    }

    fn driver(
        &self,
        client: Client,
        emulator: &Emulator,
        ca: &std::path::Path,
        scenario: serde_json::Value,
        limit: Duration,
    ) -> Result<Driver> {
        let command = clients::command(client, &self.drivers, emulator, ca, &scenario.to_string());
        Driver::spawn(client.label(), command, limit)
    }

    /// Scenario 1: each job is held in the queue, released at a random
    /// instant, and completes at once; the sample is the time from its
    /// completion (the emulator's counter ticking, watched every 50 µs) to
    /// the driver having the result.
    pub fn latency(&self, client: Client) -> Result<Latency> {
        let jobs = self.plan.latency_jobs;
        let (emulator, ca) = self.emulator(16)?;
        let scenario = json!({"scenario": "latency", "jobs": jobs, "warmup": LATENCY_WARMUP});
        let limit = Duration::from_secs(60 + 3 * jobs as u64);
        let mut driver = self.driver(client, &emulator, &ca, scenario, limit)?;
        driver.ready()?;
        let mut rng = SplitMix64::new(monotonic_ns() as u64);
        let mut samples = Vec::with_capacity(jobs);
        for _ in 0..jobs {
            emulator.set_timing(HOLD);
            let submitted = emulator.stats().submit;
            driver.go()?;
            wait_for(Duration::from_secs(10), || {
                emulator.stats().submit > submitted
            })
            .context("waiting for the job's submit")?;
            std::thread::sleep(RELEASE_AFTER + RELEASE_SPREAD.mul_f64(rng.unit()));
            let completed = emulator.stats().jobs_completed;
            emulator.set_timing(INSTANT);
            wait_for(Duration::from_secs(10), || {
                emulator.stats().jobs_completed > completed
            })
            .context("waiting for the released job to complete")?;
            let completed_at = monotonic_ns();
            let done: LatencyDone = driver.next()?;
            // The counter is read after the job completed, by up to a poll.
            samples.push((done.done_ns - completed_at).max(0.0) / 1e6);
        }
        driver.finish()?;
        Ok(Latency {
            median_ms: percentile(&samples, 50.0).context("no samples")?,
            p99_ms: percentile(&samples, 99.0).context("no samples")?,
        })
    }

    /// Scenario 2, one round: jobs one at a time, with no processing time.
    pub fn cost(&self, client: Client) -> Result<Cost> {
        let jobs = self.plan.cost_jobs;
        let (emulator, ca) = self.emulator(16)?;
        let scenario = json!({"scenario": "cost", "jobs": jobs, "warmup": COST_WARMUP});
        let limit = Duration::from_secs(60 + 2 * jobs as u64);
        let mut driver = self.driver(client, &emulator, &ca, scenario, limit)?;
        driver.ready()?;
        let (before, accepted) = (emulator.stats(), self.accepted());
        driver.go()?;
        let done: CostDone = driver.next()?;
        let (after, opened) = (emulator.stats(), self.accepted());
        driver.finish()?;
        ensure!(
            after.jobs_completed - before.jobs_completed == jobs as u64,
            "{} of {jobs} jobs completed",
            after.jobs_completed - before.jobs_completed
        );
        eprintln!("  {jobs} jobs in {:.1} s", done.wall_s);
        Ok(Cost {
            cpu_ms: done.cpu_s * 1e3 / jobs as f64,
            requests: (requests(&after) - requests(&before)) as f64 / jobs as f64,
            connections: opened.zip(accepted).map(|(after, before)| after - before),
        })
    }

    /// Scenario 3: every job at once, each processing for a while; the
    /// emulator runs them all at once too.
    pub fn concurrency(&self, client: Client) -> Result<Concurrency> {
        let jobs = self.plan.concurrent_jobs;
        let (emulator, ca) = self.emulator(jobs)?;
        let scenario = json!({"scenario": "concurrency", "jobs": jobs, "warmup": 1});
        let mut driver = self.driver(client, &emulator, &ca, scenario, Duration::from_secs(300))?;
        driver.ready()?;
        emulator.set_timing(Timing {
            queue_delay: Duration::ZERO,
            processing_time: self.plan.processing,
        });
        let accepted = self.accepted();
        driver.go()?;
        let done: ConcurrencyDone = driver.next()?;
        let (memory, opened) = (driver.memory()?, self.accepted());
        driver.finish()?;
        ensure!(done.failed == 0, "{} of {jobs} jobs failed", done.failed);
        Ok(Concurrency {
            wall_s: done.wall_s,
            peak_rss_mib: memory.peak_bytes as f64 / MIB,
            connections: opened.zip(accepted).map(|(after, before)| after - before),
        })
    }

    /// Scenario 4: an edit whose input is a large local PNG. The RSS growth
    /// is the peak during the job less the RSS before it; throughput is the
    /// image's size over the job's wall time.
    pub fn upload(&mut self, client: Client) -> Result<Upload> {
        let (image, bytes) = match &self.image {
            Some(image) => image.clone(),
            None => {
                let path = self.work.path().join("large.png");
                let bytes = fixture::large_png(&path)?;
                self.image.insert((path, bytes)).clone()
            }
        };
        let mut growths = Vec::new();
        let mut throughputs = Vec::new();
        for _ in 0..self.plan.upload_runs {
            let (emulator, ca) = self.emulator(16)?;
            let scenario = json!({"scenario": "upload", "jobs": 1, "warmup": 1, "image": image});
            let mut driver =
                self.driver(client, &emulator, &ca, scenario, Duration::from_secs(300))?;
            driver.ready()?;
            let baseline = driver.memory()?.rss_bytes;
            driver.reset_peak()?;
            driver.go()?;
            let done: UploadDone = driver.next()?;
            let peak = driver.memory()?.peak_bytes;
            driver.finish()?;
            ensure!(
                emulator.stats().upload_put == 1,
                "the image was not uploaded (inlined?)"
            );
            growths.push(peak.saturating_sub(baseline) as f64 / MIB);
            throughputs.push(bytes as f64 / 1e6 / done.wall_s);
        }
        Ok(Upload {
            rss_growth_mib: percentile(&growths, 100.0).context("no runs")?,
            throughput_mb_s: percentile(&throughputs, 50.0).context("no runs")?,
        })
    }
}
