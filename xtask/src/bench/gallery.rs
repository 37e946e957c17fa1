//! `cargo xtask bench --gallery`: how long `kontext gallery` takes to build
//! the page of a 2,000-job batch whose images exist, and how large the page
//! is. A batch directory is made in `target/bench-gallery/` (2,000 jobs, each
//! a 1024×768 JPEG input and output, as fal's Kontext outputs are about one
//! megapixel; one job in 50 failed), then the release `kontext gallery` runs
//! twice: cold (every thumbnail made) and warm (the thumbnails cached, as
//! after a batch run, which makes them). Then, when node and Chromium are
//! there, the page is opened in headless Chromium (the browser test's
//! probe) for how long it takes to open and whether every image loads.
//! Prints the figures; writes nothing else.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};

/// The batch's size.
const JOBS: usize = 2_000;
/// Distinct pictures the images are copies of (decoding cost does not
/// depend on the content repeating; making 4,000 would take longer than
/// the measure).
const PICTURES: usize = 8;
/// The targets of the issue: built in under 10 s, under 3 MB of HTML.
const TARGET_TIME: Duration = Duration::from_secs(10);
const TARGET_BYTES: u64 = 3_000_000;

pub fn run(root: &Path) -> Result<()> {
    let kontext = release_kontext(root)?;
    let dir = root.join("target/bench-gallery");
    let out = dir.join("out");
    make_batch(&dir, &out)?;
    // Cold: no thumbnail yet.
    let _ = std::fs::remove_dir_all(out.join(".gallery/thumbs"));
    let cold = time(&kontext, &out)?;
    let warm = time(&kontext, &out)?;
    let bytes = std::fs::metadata(out.join("index.html"))?.len();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("gallery of {JOBS} jobs (4,000 images of 1024x768), {cores} core(s):");
    println!(
        "  cold (4,000 thumbnails made): {:.2} s",
        cold.as_secs_f64()
    );
    println!(
        "  warm (thumbnails cached):     {:.2} s   target < {} s: {}",
        warm.as_secs_f64(),
        TARGET_TIME.as_secs(),
        verdict(warm < TARGET_TIME)
    );
    println!(
        "  index.html:                   {:.2} MB ({:.0} bytes a job)   target < 3 MB: {}",
        bytes as f64 / 1e6,
        bytes as f64 / JOBS as f64,
        verdict(bytes < TARGET_BYTES)
    );
    match open_in_chromium(root, &out.join("index.html"), &dir.join("page.png")) {
        Ok((opened, images, broken)) => println!(
            "  opens in headless Chromium:   {opened} ms (load event); {images} images, {broken} broken"
        ),
        Err(error) => println!("  not opened in Chromium: {error:#}"),
    }
    Ok(())
}

/// Opens the page with the browser test's probe: its load time in ms, how
/// many images it has, how many of them did not load.
fn open_in_chromium(root: &Path, page: &Path, shot: &Path) -> Result<(u64, usize, usize)> {
    let probe = root.join("crates/fal-kontext-cli/tests/browser/probe.mjs");
    let output = Command::new("node")
        .arg(probe)
        .arg(page)
        .arg(shot)
        .output()
        .context("running node")?;
    ensure!(
        output.status.success(),
        "the probe failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let images = seen["images"]
        .as_array()
        .context("no images in the probe's answer")?;
    let broken = images.iter().filter(|i| i["width"] == 0).count();
    Ok((
        seen["loadedMs"].as_u64().unwrap_or_default(),
        images.len(),
        broken,
    ))
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// Builds the release `kontext` (with its default features) and gives its path.
fn release_kontext(root: &Path) -> Result<PathBuf> {
    eprintln!("bench: building the release kontext");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["build", "--release", "--quiet", "-p", "fal-kontext-cli"])
        .status()
        .context("running cargo build")?;
    ensure!(status.success(), "the release build failed");
    Ok(root.join("target/release/kontext"))
}

/// One run of `kontext gallery`, timed.
fn time(kontext: &Path, out: &Path) -> Result<Duration> {
    let started = Instant::now();
    let output = Command::new(kontext)
        .arg("gallery")
        .arg(out)
        .output()
        .context("running kontext gallery")?;
    let took = started.elapsed();
    ensure!(
        output.status.success(),
        "kontext gallery failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(took)
}

/// The batch directory: jobs file, state file, images (kept between runs).
fn make_batch(dir: &Path, out: &Path) -> Result<()> {
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos)?;
    std::fs::create_dir_all(out)?;
    let pictures: Vec<Vec<u8>> = (0..PICTURES).map(picture).collect::<Result<_>>()?;
    let mut jobs = String::new();
    let mut state = String::new();
    for n in 0..JOBS {
        let id = format!("product-{n:04}");
        let input = photos.join(format!("{id}.jpg"));
        if !input.exists() {
            std::fs::write(&input, &pictures[n % PICTURES])?;
        }
        jobs.push_str(&format!(
            "{{\"id\": \"{id}\", \"prompt\": \"Put product {n} on a white marble table in soft morning light, keep the label readable\", \"image_url\": \"photos/{id}.jpg\", \"seed\": {n}}}\n"
        ));
        state.push_str(&format!(
            "{{\"id\":\"{id}\",\"request_id\":\"{:08x}-6062-456b-a21d-931f720fbfe8\",\"endpoint\":\"fal-ai/flux-pro/kontext\"}}\n",
            n
        ));
        if n % 50 == 49 {
            state.push_str(&format!(
                "{{\"id\":\"{id}\",\"failed\":\"the request failed: 422 Unprocessable Entity: file_download_error\"}}\n"
            ));
            continue;
        }
        let output = out.join(format!("{id}-1.jpg"));
        if !output.exists() {
            std::fs::write(&output, &pictures[(n + 3) % PICTURES])?;
        }
        state.push_str(&format!(
            "{{\"id\":\"{id}\",\"done\":[\"{}\"],\"billable_units\":1.0,\"cost\":0.04}}\n",
            output.display()
        ));
    }
    std::fs::write(dir.join("jobs.jsonl"), jobs)?;
    std::fs::write(out.join("batch-state.jsonl"), state)?;
    std::fs::create_dir_all(out.join(".gallery"))?;
    std::fs::write(
        out.join(".gallery/jobs-file"),
        format!("{}\n", dir.join("jobs.jsonl").display()),
    )?;
    Ok(())
}

/// A 1024×768 JPEG, different for each `seed`: gradients and a disc.
fn picture(seed: usize) -> Result<Vec<u8>> {
    let shift = (seed * 37) as u32;
    let image = image::RgbImage::from_fn(1024, 768, |x, y| {
        let (dx, dy) = (x as i64 - 512, y as i64 - 384);
        let disc = dx * dx + dy * dy < 200 * 200;
        image::Rgb([
            ((x + shift) % 256) as u8,
            ((y + shift * 2) % 256) as u8,
            if disc { 240 } else { ((x ^ y) % 256) as u8 },
        ])
    });
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90).encode_image(&image)?;
    Ok(bytes)
}
