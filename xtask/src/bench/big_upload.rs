//! `cargo xtask bench --big-upload`: a 300 MB file uploaded to the
//! emulator's storage origin (TLS, loopback), in one PUT and in parts, by
//! fal-kontext (`Client::upload`) and by fal-client (`fal_client.upload_file`,
//! when installed in `.peers/`): throughput (MB/s over the upload's wall
//! time) and peak RSS (the driver's peak during the upload, and its growth
//! over the RSS before it). Each run has an emulator of its own. Prints the
//! figures; writes nothing else.
//!
//! The two clients speak their own dialects (see the emulator's
//! `multipart.rs`): fal-kontext initiates on the REST host and PUTs parts to
//! the signed URL, as fal-js does; fal-client uses its CDN token. "One PUT"
//! for fal-client is its `upload_file` with `MULTIPART_THRESHOLD` raised past
//! the file (its own path below 100 MiB), which reads the file into memory.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde::Deserialize;
use serde_json::json;

use super::clients::Client;
use super::rng::SplitMix64;
use super::scenarios::Bench;

/// The file's size: 300 MB.
const SIZE: u64 = 300_000_000;
/// Runs of each cell; the median throughput and the highest peak are kept.
const RUNS: usize = 3;
/// The goal: at least fal-client's throughput with a tenth of its memory.
const MEMORY_RATIO: f64 = 10.0;

const MIB: f64 = 1024.0 * 1024.0;

#[derive(Deserialize)]
struct Done {
    wall_s: f64,
}

/// One cell's figures.
pub struct Figures {
    pub throughput_mb_s: f64,
    pub peak_rss_mib: f64,
    pub growth_mib: f64,
    pub parts_in_flight: u64,
}

pub fn run(bench: &Bench, clients: &[Client]) -> Result<()> {
    let path = bench.work_dir().join("big-upload.bin");
    write_file(&path)?;
    let mut rows = Vec::new();
    for &client in clients {
        for multipart in [false, true] {
            let mode = if multipart { "in parts" } else { "one PUT" };
            eprintln!("bench: a 300 MB upload, {mode}, {}", client.label());
            let figures = cell(bench, client, &path, multipart)?;
            rows.push((client, mode, figures));
        }
    }
    println!("A 300 MB upload (loopback, TLS), median of {RUNS} runs (peak: the highest):\n");
    println!("| client | mode | throughput | peak RSS | RSS growth | parts in flight (most) |");
    println!("|---|---|---|---|---|---|");
    for (client, mode, f) in &rows {
        println!(
            "| {} | {mode} | {:.0} MB/s | {:.1} MiB | {:.1} MiB | {} |",
            client.label(),
            f.throughput_mb_s,
            f.peak_rss_mib,
            f.growth_mib,
            f.parts_in_flight
        );
    }
    let figure = |who: Client, mode: &str| {
        rows.iter()
            .find(|(client, m, _)| *client == who && *m == mode)
            .map(|(_, _, f)| f)
    };
    if let (Some(ours), Some(theirs)) = (
        figure(Client::Rust, "in parts"),
        figure(Client::Python, "in parts"),
    ) {
        let faster = ours.throughput_mb_s >= theirs.throughput_mb_s;
        let leaner = ours.growth_mib * MEMORY_RATIO <= theirs.growth_mib;
        println!(
            "\nGoal (in parts): at least fal-client's throughput: {}; a tenth of its RSS growth or less: {} ({:.1} vs {:.1} MiB)",
            verdict(faster),
            verdict(leaner),
            ours.growth_mib,
            theirs.growth_mib
        );
    }
    Ok(())
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// The file: noise (nothing in the path compresses it), written in pieces.
fn write_file(path: &std::path::Path) -> Result<()> {
    if std::fs::metadata(path).is_ok_and(|meta| meta.len() == SIZE) {
        return Ok(());
    }
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut rng = SplitMix64::new(0x300_0000);
    let mut piece = vec![0u8; 1 << 20];
    let mut left = SIZE;
    while left > 0 {
        for chunk in piece.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(piece.len() as u64) as usize;
        file.write_all(&piece[..n])?;
        left -= n as u64;
    }
    file.flush()?;
    Ok(())
}

fn cell(bench: &Bench, client: Client, path: &std::path::Path, multipart: bool) -> Result<Figures> {
    let mut throughputs = Vec::new();
    let (mut peak, mut growth, mut in_flight) = (0.0f64, 0.0f64, 0);
    for _ in 0..RUNS {
        let (emulator, ca) = bench.tls_emulator(4)?;
        let scenario = json!({
            "scenario": "big_upload", "jobs": 1, "warmup": 0,
            "image": path, "multipart": multipart,
        });
        let mut driver =
            bench.spawn_driver(client, &emulator, &ca, scenario, Duration::from_secs(600))?;
        driver.ready()?;
        let baseline = driver.memory()?.rss_bytes;
        driver.reset_peak()?;
        driver.go()?;
        let done: Done = driver.next()?;
        let top = driver.memory()?.peak_bytes;
        driver.finish()?;
        let stats = emulator.stats();
        ensure!(
            (stats.upload_part > 0) == multipart,
            "{} parts for a {} upload",
            stats.upload_part,
            if multipart { "multipart" } else { "single" }
        );
        throughputs.push(SIZE as f64 / 1e6 / done.wall_s);
        peak = peak.max(top as f64 / MIB);
        growth = growth.max(top.saturating_sub(baseline) as f64 / MIB);
        in_flight = in_flight.max(stats.upload_parts_in_flight_max);
    }
    Ok(Figures {
        throughput_mb_s: super::percentile::percentile(&throughputs, 50.0).context("no runs")?,
        peak_rss_mib: peak,
        growth_mib: growth,
        parts_in_flight: in_flight,
    })
}
