//! The batch gallery, as a user sees it: `kontext batch` against the
//! emulator writes `index.html`, which headless Chromium opens from
//! `file://` (driven over the DevTools protocol by `tests/browser/probe.mjs`):
//! every image loads, the counts and the total cost are right, the failed
//! filter shows exactly the failed jobs, a hostile prompt is text and runs
//! nothing, the console stays clean and the page is not blank. The same
//! checks are run on broken copies of the page, to prove that they fail.
//!
//! Needs `node` and `chromium` (or `CHROMIUM`); without them the browser
//! test says so and passes, except under CI (`CI=true`), where it fails.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::harness::*;

const HOSTILE: &str = r#"<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">"#;

/// A loopback server of the user's own images: `/sample.png` is the sample,
/// anything else is 404. The emulator fetches loopback URLs, like fal
/// fetches public ones.
fn image_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let sample = std::fs::read(SAMPLE).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = [0u8; 2048];
            let read = stream.read(&mut head).unwrap_or(0);
            let found = String::from_utf8_lossy(&head[..read]).starts_with("GET /sample.png ");
            let (status, body): (&str, &[u8]) = if found {
                ("200 OK", &sample)
            } else {
                ("404 Not Found", b"")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: image/png\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(body);
        }
    });
    format!("http://{address}")
}

/// `node` and `chromium`, when both run; a test that needs them and finds
/// none fails under CI, and says why it did nothing elsewhere.
fn browser() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let runs = |program: &str| {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if runs("node") && runs(&chromium) {
        return Some(chromium);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the browser tests need node and {chromium} (CI installs chromium: see .ci/run)"
    );
    eprintln!(
        "SKIPPED: the browser tests need node and {chromium}; neither CI nor this run has them"
    );
    None
}

/// What Chromium saw of `page`, and its screenshot.
fn probe(chromium: &str, page: &Path, screenshot: &Path) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/probe.mjs");
    let mut command = Command::new("node");
    command
        .args([Path::new(script), page, screenshot])
        .env("CHROMIUM", chromium);
    let output = command.output().expect("node runs");
    assert!(output.status.success(), "{}", describe(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// What the page must show.
struct Expected {
    all: u64,
    done: u64,
    failed: BTreeSet<String>,
    total_cost: String,
    hostile_id: &'static str,
}

/// Everything wrong with what the browser saw; empty when all is right.
fn problems(seen: &Value, expected: &Expected) -> Vec<String> {
    let mut problems = Vec::new();
    let images = seen["images"].as_array().unwrap();
    if images.is_empty() {
        problems.push("no image at all".into());
    }
    for image in images {
        if image["width"].as_u64() == Some(0) {
            problems.push(format!("broken image {}", image["src"]));
        }
    }
    let counts = &seen["counts"];
    let failed = expected.failed.len() as u64;
    for (key, want) in [
        ("all", expected.all),
        ("done", expected.done),
        ("failed", failed),
    ] {
        if counts[key].as_u64() != Some(want) {
            problems.push(format!("count {key}: {} shown, {want} right", counts[key]));
        }
    }
    if seen["totalCost"] != expected.total_cost.as_str() {
        problems.push(format!(
            "total cost {} shown, {} right",
            seen["totalCost"], expected.total_cost
        ));
    }
    let visible = |key: &str| -> BTreeSet<String> {
        seen[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect()
    };
    if visible("visibleFailed") != expected.failed {
        problems.push(format!(
            "the failed filter shows {:?}, not {:?}",
            visible("visibleFailed"),
            expected.failed
        ));
    }
    if visible("visibleAll").len() as u64 != expected.all {
        problems.push(format!("{} job(s) visible", visible("visibleAll").len()));
    }
    if seen["prompts"][expected.hostile_id] != HOSTILE {
        problems.push(format!(
            "the hostile prompt shows as {}",
            seen["prompts"][expected.hostile_id]
        ));
    }
    if !seen["pwned"].is_null() || seen["scripts"] != 1 {
        problems.push(format!(
            "a script from the data ran or is in the page: pwned {}, {} script(s)",
            seen["pwned"], seen["scripts"]
        ));
    }
    if seen["errors"] != Value::Array(vec![]) {
        problems.push(format!("console errors: {}", seen["errors"]));
    }
    problems
}

/// Whether a screenshot shows something: not one flat colour, many colours.
fn blank(screenshot: &Path) -> bool {
    let image = image::open(screenshot).unwrap().into_rgb8();
    let colours: BTreeSet<[u8; 3]> = image.pixels().map(|p| p.0).collect();
    colours.len() < 64
}

/// The batch every browser check runs on: done, failed before and after
/// fal took them, a remote input, a multi edit, text to image, a hostile
/// prompt. Returns the `--out` directory.
fn made_batch(emu: &Emu, dir: &Path) -> PathBuf {
    let server = image_server();
    std::fs::create_dir(dir.join("photos")).unwrap();
    std::fs::copy(SAMPLE, dir.join("photos/kitchen.png")).unwrap();
    let jobs = dir.join("jobs.jsonl");
    let hostile = serde_json::to_string(HOSTILE).unwrap();
    std::fs::write(
        &jobs,
        format!(
            r#"{{"id": "donut", "prompt": "Put a donut next to the flour.", "image_url": "photos/kitchen.png", "seed": 7}}
{{"id": "night", "prompt": "Make it night", "image_url": "{server}/sample.png"}}
{{"id": "hostile", "prompt": {hostile}, "image_url": "photos/kitchen.png"}}
{{"id": "kites", "prompt": "Two kites at dusk", "num_images": 2}}
{{"id": "together", "prompt": "Both on one table", "image_urls": ["photos/kitchen.png", "{server}/sample.png"]}}
{{"id": "too-many", "prompt": "Seven", "num_images": 7}}
{{"id": "lost", "prompt": "Gone", "image_url": "{server}/gone.png"}}
"#
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let output = run(batch(emu, &jobs, &out, &["--max-cost", "10"]));
    assert_eq!(code(&output), 3, "{}", describe(&output));
    out
}

/// The sum of the costs the state file records, as the page writes amounts.
fn recorded_cost(out: &Path) -> String {
    let text = std::fs::read_to_string(out.join("batch-state.jsonl")).unwrap();
    let total: f64 = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|record| record["cost"].as_f64())
        .fold(0.0, |sum, cost| sum + cost);
    assert!(total > 0.0, "{text}");
    format!("{total:.6}")
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_owned()
}

#[test]
fn chromium_shows_every_job_of_a_batch_and_catches_a_broken_page() {
    let Some(chromium) = browser() else { return };
    let emu = Emu::start();
    let dir = tempfile::tempdir().unwrap();
    let out = made_batch(&emu, dir.path());
    let page = out.join("index.html");
    let expected = Expected {
        all: 7,
        done: 5,
        failed: ["too-many", "lost"].map(String::from).into(),
        total_cost: recorded_cost(&out),
        hostile_id: "hostile",
    };
    let shot = dir.path().join("gallery.png");
    let seen = probe(&chromium, &page, &shot);
    assert_eq!(problems(&seen, &expected), Vec::<String>::new(), "{seen:#}");
    assert!(!blank(&shot), "the screenshot is blank");
    // Each single edit's input, output and before/after pair (4 each:
    // donut, hostile, and night, whose remote input was fetched when the
    // batch ran), the multi edit's 2 inputs and output, the 2 outputs of the
    // text-to-image job; the failed jobs have nothing to show.
    assert_eq!(seen["images"].as_array().unwrap().len(), 17, "{seen:#}");
    assert_eq!(seen["sliderCut"], "20%");
    if let Ok(keep) = std::env::var("KONTEXT_GALLERY_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }

    // The same checks fail on a broken page: a missing thumbnail, a wrong
    // count, a prompt pasted in as markup.
    let html = std::fs::read_to_string(&page).unwrap();
    let broken = |name: &str, html: String| {
        let path = out.join(name);
        std::fs::write(&path, html).unwrap();
        problems(&probe(&chromium, &path, &shot), &expected)
    };
    // (A build without thumbnails shows the input itself.)
    let (shown, name) = if cfg!(feature = "thumbnails") {
        (out.join(".gallery/thumbs/donut-in1.jpg"), "donut-in1")
    } else {
        (dir.path().join("photos/kitchen.png"), "kitchen.png")
    };
    let saved = std::fs::read(&shown).unwrap();
    std::fs::remove_file(&shown).unwrap();
    let found = broken("no-thumb.html", html.clone());
    assert!(
        found
            .iter()
            .any(|p| p.contains("broken image") && p.contains(name)),
        "{found:?}"
    );
    std::fs::write(&shown, saved).unwrap();

    let found = broken(
        "miscounted.html",
        html.replace("id=\"count-failed\">2<", "id=\"count-failed\">1<"),
    );
    assert_eq!(found, ["count failed: 1 shown, 2 right"]);

    let escaped = html_escape(HOSTILE);
    assert!(html.contains(&escaped));
    let found = broken("injected.html", html.replace(&escaped, HOSTILE));
    assert!(
        found.iter().any(|p| p.contains("hostile prompt")),
        "{found:?}"
    );
}

/// The escaping the page uses, written out here to find the prompt in it.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[test]
fn a_rerun_updates_the_page_and_kontext_gallery_rebuilds_it_offline() {
    let emu = Emu::start();
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    std::fs::write(&jobs, "{\"id\": \"first\", \"prompt\": \"one\"}\n").unwrap();
    let out = dir.path().join("out");
    success(&run(batch(&emu, &jobs, &out, &[])));
    let page = out.join("index.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("id=\"count-done\">1<"), "{html}");

    std::fs::write(
        &jobs,
        "{\"id\": \"first\", \"prompt\": \"one\"}\n{\"id\": \"second\", \"prompt\": \"two\"}\n",
    )
    .unwrap();
    success(&run(batch(&emu, &jobs, &out, &[])));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("id=\"count-done\">2<"), "{html}");
    assert!(html.contains("data-id=\"second\""));
    assert_eq!(
        out.join(".gallery/thumbs/second-1.jpg.jpg").is_file(),
        cfg!(feature = "thumbnails")
    );

    // Rebuilt from the directory alone (the jobs file it noted), with no
    // emulator to ask: nothing is fetched.
    std::fs::remove_file(&page).unwrap();
    drop(emu);
    let output = run(kontext(["gallery", out.to_str().unwrap()]));
    assert_eq!(
        printed_paths(&success(&output)),
        std::slice::from_ref(&page)
    );
    let rebuilt = std::fs::read_to_string(&page).unwrap();
    assert!(rebuilt.contains("id=\"count-done\">2<"), "{rebuilt}");
    assert!(
        rebuilt.contains("<dd class=\"prompt\">two</dd>"),
        "{rebuilt}"
    );

    let output = run(kontext(["gallery", dir.path().to_str().unwrap()]));
    assert_eq!(code(&output), 2, "{}", describe(&output));
    assert!(stderr(&output).contains("must be the --out directory of a kontext batch"));
}

#[test]
fn edit_with_gallery_writes_its_before_and_after_page_beside_the_images() {
    let emu = Emu::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = run(emu.kontext([
        "edit",
        "--image",
        SAMPLE,
        "--prompt",
        "A <b>bold</b> donut",
        "--out",
        out.to_str().unwrap(),
        "--name",
        "shot",
        "--gallery",
    ]));
    assert_eq!(printed_paths(&success(&output)), [out.join("shot-1.jpg")]);
    let html = std::fs::read_to_string(out.join("shot.html")).unwrap();
    assert!(html.contains("A &lt;b&gt;bold&lt;/b&gt; donut"), "{html}");
    assert!(html.contains("<div class=\"compare\">"), "{html}");
    let shown = if cfg!(feature = "thumbnails") {
        "src=\".gallery/thumbs/shot-1.jpg.jpg\""
    } else {
        "src=\"shot-1.jpg\""
    };
    assert!(html.contains(shown), "{html}");
    assert!(!out.join("index.html").exists());
}
