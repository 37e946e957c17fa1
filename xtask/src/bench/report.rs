//! `BENCHMARKS.md`: how to reproduce, the table, the targets, the machine,
//! the versions and the method, written from a full run. The analysis
//! section is written by people; a rewrite keeps it.

use std::path::Path;

use anyhow::{Context, Result};

use super::machine::Facts;
use super::scenarios::Plan;
use super::targets::{self, Target};

const ANALYSIS_START: &str = "<!-- analysis: written by hand, kept by `cargo xtask bench` -->";
const ANALYSIS_END: &str = "<!-- end of analysis -->";
const NO_ANALYSIS: &str = "\nNo analysis yet: explain every missed target here.\n";

pub struct Report<'a> {
    pub date: String,
    pub minutes: f64,
    pub plan: Plan,
    pub table: &'a str,
    pub failures: &'a [String],
    pub targets: &'a [Target],
    pub facts: &'a Facts,
}

/// The hand-written analysis in an earlier report, between its markers.
pub fn analysis_of(report: &str) -> Option<&str> {
    let (_, rest) = report.split_once(ANALYSIS_START)?;
    let (analysis, _) = rest.split_once(ANALYSIS_END)?;
    Some(analysis)
}

/// Writes the report to `path`, keeping the analysis already there.
pub fn write(path: &Path, report: &Report) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let analysis = analysis_of(&old).unwrap_or(NO_ANALYSIS);
    std::fs::write(path, markdown(report, analysis))
        .with_context(|| format!("writing {}", path.display()))
}

fn facts_table(facts: &[(&'static str, String)]) -> String {
    facts
        .iter()
        .map(|(name, value)| format!("- {name}: {value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn markdown(report: &Report, analysis: &str) -> String {
    let plan = report.plan;
    let failures = if report.failures.is_empty() {
        String::new()
    } else {
        let lines: Vec<String> = report.failures.iter().map(|f| format!("- {f}")).collect();
        format!("\nFailures in this run:\n\n{}\n", lines.join("\n"))
    };
    format!(
        "# Benchmarks

fal-kontext against fal's own clients, [fal-client](https://pypi.org/project/fal-client/)
(Python) and [@fal-ai/client](https://www.npmjs.com/package/@fal-ai/client) (JS), in one
run, all talking to the same emulator on loopback, and against the floor: the same
emulator driven by bare HTTP calls with no client logic.

To reproduce (the first command installs the two official clients, pinned, into the
ignored `.peers/` folder; without them the bench runs the Rust client alone):

```sh
cargo xtask bench --install-peers
cargo xtask bench
```

`cargo xtask bench --quick` is a short run of the Rust client and the floor that
prints the table and leaves this file alone.

## Results

Run of {date}, {minutes:.0} minutes. Each cell gives the figure and, in brackets,
its ratio to the floor's. The machine has 2 cores shared with other work (see the
load averages below): read differences of 20% or less as noise.

{table}
{failures}
## Targets (fal-kontext)

{targets}

## Analysis

{ANALYSIS_START}{analysis}{ANALYSIS_END}

## Machine

{machine}

## Versions

{versions}

## Method

Every client runs as its own process, through a small driver that uses only its
public API and its own configuration, so that its CPU time and memory are its own;
the emulator (`crates/fal-emulator`) runs in the bench's process. For each client and
scenario the bench starts a fresh emulator, serving TLS on 127.0.0.1 with a
certificate authority of its own (fal-client speaks HTTPS only, and fal serves
nothing else), so that its counters belong to that run alone. The bench and its
drivers run in a network namespace of their own (`unshare(CLONE_NEWNET)`, loopback
only), so no traffic leaves the machine and the kernel's TCP counters count theirs
alone.

- fal-kontext: `xtask/src/bin/bench_driver` (release build) with `Client::from_env()`
  (`FAL_KEY`, `FAL_QUEUE_URL`, `FAL_RUN_URL`, `FAL_REST_URL`; the CA through
  `SSL_CERT_FILE`), each job `subscribe()` then `output()`: the status stream, then
  the result. It runs on tokio's current-thread runtime: one thread, as the Python
  and JS clients have.
- fal-client: `bench/drivers/py_driver.py` with `fal_client.subscribe(...)`, which
  polls the status every 100 ms by default (`fal_client.AsyncClient` and
  `asyncio.gather` for the concurrency scenario). `FAL_QUEUE_RUN_HOST` and
  `FAL_RUN_HOST` point it at the emulator, `SSL_CERT_FILE` gives it the CA, and
  `HTTPS_PROXY` sends its calls to `rest.fal.ai`, a host it does not let you change,
  through the emulator's forward proxy.
- @fal-ai/client: `bench/drivers/js_driver.mjs` with `fal.subscribe(...)`, which
  polls every 500 ms by default; a `requestMiddleware` (a `fal.config` option) maps
  fal's hosts to the emulator's origins, `NODE_EXTRA_CA_CERTS` gives Node the CA.
- floor: `bench_driver floor`: reqwest and nothing else, on the same runtime: POST
  the submit, GET the status stream and read it to its end (the queue closes it
  after COMPLETED), GET the result.

Every job is the same text-to-image request (fixed prompt and seed), so the emulator
renders its image once and serves it from cache; each driver warms up (connections,
caches, JIT) before the measured part. The drivers speak a line protocol on stdin and
stdout (`bench/drivers/README.md`).

1. **Completion latency** ({latency} jobs): the emulator holds each job in its queue
   until the bench releases it, at a random instant 20 to 520 ms after the submit
   arrived (a whole polling period of the slowest client, so releases fall at every
   phase of a polling loop); the job then completes with no processing time. The
   bench watches the emulator's count of completed jobs (every 50 µs) for the
   instant of completion. A sample is the time from that instant to the driver
   having the result, both read from CLOCK_MONOTONIC, which the bench's and the
   drivers' processes share. Median and p99 are nearest-rank. The floor's figure is
   the emulator's and the transport's share (the stream event, the result call),
   which every client pays too.
2. **Cost per job** ({rounds} rounds of {cost} jobs, one at a time, no processing
   time; each round a fresh driver, warmed up, the clients taking turns): CPU is the
   driver's own `getrusage(RUSAGE_SELF)` user + system time over the measured jobs
   (all its threads; start-up and warm-up excluded) divided by the jobs, the median
   round's; requests are the emulator's counters over every route divided by the
   jobs; TCP connections are those opened during the measured jobs (all of them, not
   per job), counted as below.
3. **Concurrency** ({concurrent} jobs submitted at once, each processing
   {processing:.0} s; the emulator runs them all at once, so the floor is
   {processing:.0} s plus the cost of the requests): wall time from the start signal to
   the last result, measured by the driver; peak RSS is the driver's `VmHWM` from
   `/proc/<pid>/status`. TCP connections opened are the connections the emulator
   accepted meanwhile: the kernel's `PassiveOpens` counter (`/proc/net/snmp`) of the
   bench's own network namespace, read before and after. It counts every connection,
   short-lived ones and those closed by a reset included (TLS teardown leaves most
   closed connections out of the socket tables), without sampling.
4. **Upload** ({uploads} run(s)): an edit whose input is a local 3168 × 3168 PNG of
   noise stored uncompressed (30.1 MB), given as the clients document it: a path to
   fal-kontext; `fal_client.upload_file(path)` then `subscribe` for fal-client; a
   file-backed `Blob` (`fs.openAsBlob`) in the input for @fal-ai/client, which uploads
   it itself; the floor initiates the upload and PUTs the file streamed from disk. RSS
   growth is the peak RSS during the job (reset with `/proc/<pid>/clear_refs` just
   before it) less the RSS before it; throughput is the image's size over the job's
   wall time (upload, submit, the emulator decoding the image, result). The largest
   growth and the median throughput over the runs.
5. **The floor** is the fourth column: each figure of a client is also given as its
   ratio to the floor's.
",
        date = report.date,
        minutes = report.minutes,
        table = report.table,
        targets = targets::render(report.targets),
        machine = facts_table(&report.facts.machine),
        versions = facts_table(&report.facts.versions),
        latency = plan.latency_jobs,
        cost = plan.cost_jobs,
        rounds = plan.cost_rounds,
        concurrent = plan.concurrent_jobs,
        processing = plan.processing.as_secs_f64(),
        uploads = plan.upload_runs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_keeps_the_analysis() {
        let facts = Facts {
            machine: vec![("cores (nproc)", "2".into())],
            versions: vec![("rustc", "rustc 1.95.0".into())],
        };
        let report = Report {
            date: "2026-01-01".into(),
            minutes: 12.0,
            plan: Plan::FULL,
            table: "| a |",
            failures: &[],
            targets: &[],
            facts: &facts,
        };
        let first = markdown(&report, NO_ANALYSIS);
        assert_eq!(analysis_of(&first), Some(NO_ANALYSIS));
        let edited = first.replace(NO_ANALYSIS, "\nThe stream connection is not reused.\n");
        let rewritten = markdown(&report, analysis_of(&edited).unwrap());
        assert!(rewritten.contains("\nThe stream connection is not reused.\n"));
        assert!(rewritten.contains("- cores (nproc): 2"));
        assert!(rewritten.contains("1. **Completion latency** (200 jobs)"));
    }

    #[test]
    fn no_markers_no_analysis() {
        assert_eq!(analysis_of("# Benchmarks\n"), None);
    }
}
