//! `bench_driver <rust|floor> '<scenario JSON>'`: the Rust side of
//! `cargo xtask bench`, in its own process so that its CPU time and peak RSS
//! are its own. `rust` drives the fal-kontext SDK; `floor` drives the same
//! emulator with bare HTTP calls, the limit every client is compared with.
//! The scenarios mirror `bench/drivers/py_driver.py` and `js_driver.mjs`.

mod floor;
mod protocol;
mod sdk;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::json;

use protocol::{Config, Scenario, cpu_seconds, monotonic_ns, say, wait_for_end, wait_go};

enum Runner {
    Sdk(sdk::Sdk),
    Floor(floor::Bare),
}

impl Runner {
    async fn text(&self) -> Result<()> {
        match self {
            Runner::Sdk(sdk) => sdk.text().await,
            Runner::Floor(bare) => bare.text().await,
        }
    }

    async fn upload(&self, config: &Config) -> Result<()> {
        let path = config.image.as_deref().context("no image given")?;
        match self {
            Runner::Sdk(sdk) => sdk.upload(path).await,
            Runner::Floor(bare) => bare.upload(path).await,
        }
    }
}

/// One thread, as fal's Python and JS clients have (a synchronous caller or
/// an asyncio loop; Node's event loop): the figures compare like with like.
/// tokio's multi-thread runtime costs more CPU per job in wake-ups between
/// its workers (see BENCHMARKS.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match drive().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench_driver: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn drive() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(client), Some(config)) = (args.next(), args.next()) else {
        bail!("usage: bench_driver <rust|floor> '<scenario JSON>'");
    };
    let config: Config = serde_json::from_str(&config).context("the scenario JSON")?;
    let runner = Arc::new(match client.as_str() {
        "rust" => Runner::Sdk(sdk::Sdk::from_env()?),
        "floor" => Runner::Floor(floor::Bare::from_env()?),
        other => bail!("unknown client {other}"),
    });
    for _ in 0..config.warmup {
        runner.text().await?;
    }
    say(&json!({"ready": true}))?;
    match config.scenario {
        Scenario::Latency => {
            for _ in 0..config.jobs {
                wait_go().await?;
                runner.text().await?;
                say(&json!({"done_ns": monotonic_ns()}))?;
            }
        }
        Scenario::Cost => {
            wait_go().await?;
            let (cpu, started) = (cpu_seconds(), Instant::now());
            for _ in 0..config.jobs {
                runner.text().await?;
            }
            let wall_s = started.elapsed().as_secs_f64();
            say(&json!({"cpu_s": cpu_seconds() - cpu, "wall_s": wall_s}))?;
        }
        Scenario::Concurrency => {
            wait_go().await?;
            let started = Instant::now();
            let mut jobs = tokio::task::JoinSet::new();
            for _ in 0..config.jobs {
                let runner = runner.clone();
                jobs.spawn(async move { runner.text().await });
            }
            let mut failed = 0;
            while let Some(outcome) = jobs.join_next().await {
                if let Err(error) = outcome? {
                    failed += 1;
                    eprintln!("bench_driver: a job failed: {error:#}");
                }
            }
            let wall_s = started.elapsed().as_secs_f64();
            say(&json!({"wall_s": wall_s, "failed": failed}))?;
        }
        Scenario::Upload => {
            wait_go().await?;
            let started = Instant::now();
            runner.upload(&config).await?;
            say(&json!({"wall_s": started.elapsed().as_secs_f64()}))?;
        }
        Scenario::BigUpload => {
            let Runner::Sdk(sdk) = runner.as_ref() else {
                bail!("the floor has no big upload");
            };
            let path = config.image.as_deref().context("no file given")?;
            wait_go().await?;
            let started = Instant::now();
            sdk.big_upload(path, config.multipart).await?;
            say(&json!({"wall_s": started.elapsed().as_secs_f64()}))?;
        }
    }
    wait_for_end().await
}
