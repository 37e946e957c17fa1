//! `kontext price` and `kontext batch --estimate/--max-cost`, against the
//! emulator's Platform API (fal's published prices: 0.04 USD an image for
//! \[pro\], 0.08 for \[max\], 0.025 a megapixel for \[dev\]), with the
//! emulator's count of submits as the proof of what was paid for.

use std::path::Path;

use fal_emulator::{Config, Fault, FaultRule, Route};
use serde_json::Value;

use crate::harness::*;

fn write_jobs(dir: &Path, lines: &[&str]) -> std::path::PathBuf {
    let jobs = dir.join("jobs.jsonl");
    std::fs::write(&jobs, lines.join("\n")).unwrap();
    jobs
}

fn close(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 1e-9)
}

/// The state file's records.
fn records(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("batch-state.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[test]
fn price_lists_the_eleven_endpoints_or_those_named() {
    let emu = Emu::start();
    let output = run(emu.kontext(["price"]));
    let text = success(&output);
    assert_eq!(text.lines().count(), 11, "{text}");
    let line = |endpoint: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(endpoint))
            .unwrap_or_else(|| panic!("{endpoint} in {text}"))
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(line("fal-ai/flux-pro/kontext/max"), "0.08 USD per image");
    assert_eq!(line("fal-ai/flux-kontext/dev"), "0.025 USD per megapixels");
    assert_eq!(
        line("fal-ai/flux-kontext-lora/inpaint"),
        "0.035 USD per megapixels"
    );
    assert_eq!(line("fal-ai/flux-kontext-trainer"), "0.0025 USD per steps");

    let output = run(emu.kontext([
        "price",
        "fal-ai/flux-pro/kontext",
        "fal-ai/unknown",
        "--json",
    ]));
    let listed: Value = serde_json::from_str(&success(&output)).unwrap();
    assert!(close(&listed["prices"][0]["unit_price"], 0.04), "{listed}");
    assert_eq!(listed["prices"][1]["endpoint_id"], "fal-ai/unknown");
    assert!(listed["prices"][1]["unit_price"].is_null(), "{listed}");
    assert_eq!(emu.stats().pricing, 2);
}

#[test]
fn an_estimate_submits_nothing_and_counts_only_what_a_rerun_would_submit() {
    let emu = Emu::start();
    let dir = tempfile::tempdir().unwrap();
    let jobs = write_jobs(
        dir.path(),
        &[
            r#"{"id": "p1", "prompt": "a kite"}"#,
            r#"{"id": "p2", "prompt": "two kites", "num_images": 2}"#,
            r#"{"id": "p3", "prompt": "done before"}"#,
            r#"{"id": "p4", "prompt": "submitted before"}"#,
            r#"{"id": "m1", "prompt": "night", "image_url": "https://example.com/a.png"}"#,
        ],
    );
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // an earlier run finished p3 and submitted p4
    std::fs::write(
        out.join("batch-state.jsonl"),
        concat!(
            r#"{"id":"p3","request_id":"r3","endpoint":"fal-ai/flux-pro/kontext/text-to-image"}"#,
            "\n",
            r#"{"id":"p3","done":["p3-1.jpg"]}"#,
            "\n",
            r#"{"id":"p4","request_id":"r4","endpoint":"fal-ai/flux-pro/kontext/text-to-image"}"#,
            "\n"
        ),
    )
    .unwrap();

    let output = run(batch(
        &emu,
        &jobs,
        &out,
        &["--model", "max", "--estimate", "--json"],
    ));
    let estimate: Value = serde_json::from_str(&success(&output)).unwrap();
    // p1, p2 (2 images) text to image and m1 an edit, all [max]: 4 × 0.08
    assert_eq!(estimate["jobs"], 3);
    assert_eq!(
        estimate["endpoints"]["fal-ai/flux-pro/kontext/max/text-to-image"]["images"],
        3
    );
    assert_eq!(
        estimate["endpoints"]["fal-ai/flux-pro/kontext/max"]["images"],
        1
    );
    assert!(close(&estimate["total_cost"], 0.32), "{estimate}");
    assert_eq!(estimate["currency"], "USD");
    let stats = emu.stats();
    assert_eq!(
        (stats.submit, stats.status, stats.estimates),
        (0, 0, 1),
        "{stats:?}"
    );

    // the same, as a line
    let output = run(batch(&emu, &jobs, &out, &["--estimate"]));
    let line = success(&output);
    assert!(
        line.starts_with("3 job(s) to submit: ")
            && line.trim_end().ends_with("fal's estimate: 0.16 USD"),
        "{line}"
    );
    assert_eq!(emu.stats().submit, 0);
}

#[test]
fn max_cost_refuses_to_start_over_the_estimate_and_submits_nothing() {
    let emu = Emu::start();
    let dir = tempfile::tempdir().unwrap();
    let jobs = write_jobs(
        dir.path(),
        &[
            r#"{"id": "a", "prompt": "one"}"#,
            r#"{"id": "b", "prompt": "two"}"#,
            r#"{"id": "c", "prompt": "three"}"#,
        ],
    );
    let out = dir.path().join("out");
    let output = run(batch(&emu, &jobs, &out, &["--max-cost", "0.1"]));
    assert_eq!(code(&output), 2, "{}", describe(&output));
    assert!(
        stderr(&output).contains(
            "fal's estimate for the 3 job(s) to submit is 0.12 USD, over --max-cost 0.1: nothing was submitted"
        ),
        "{}",
        describe(&output)
    );
    assert_eq!(emu.stats().submit, 0);
}

#[test]
fn max_cost_stops_submitting_part_way_and_a_rerun_does_the_rest() {
    // fal bills the first job three images' worth (a price per megapixel on
    // a larger image would, or a price that rose): what was submitted then
    // reaches the budget before every job is.
    let emu = Emu::with(Config {
        timing: quick(),
        faults: vec![FaultRule::once(Route::Result, Fault::BilledUnits(3.0))],
        ..Config::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (1..=4)
        .map(|n| format!(r#"{{"id": "j{n}", "prompt": "job {n}"}}"#))
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let jobs = write_jobs(dir.path(), &lines);
    let out = dir.path().join("out");

    // 4 × 0.04 = 0.16 estimated, within 0.2; billed 0.12 + 0.04 + 0.04, and
    // the fourth would make 0.24
    let output = run(batch(
        &emu,
        &jobs,
        &out,
        &["--max-cost", "0.2", "--concurrency", "1", "--json"],
    ));
    assert_eq!(code(&output), 5, "{}", describe(&output));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["done"], 3, "{summary}");
    assert_eq!(summary["budget"]["left_for_a_rerun"], 1, "{summary}");
    assert!(close(&summary["budget"]["spent"], 0.2), "{summary}");
    assert!(
        stderr(&output)
            .contains("stopped at --max-cost after spending 0.2 USD: 1 job(s) left unsubmitted"),
        "{}",
        describe(&output)
    );
    assert_eq!(emu.stats().submit, 3, "the fourth job was not submitted");
    let billed: Vec<(f64, f64)> = records(&out)
        .iter()
        .filter(|r| r.get("done").is_some())
        .map(|r| {
            (
                r["billable_units"].as_f64().unwrap(),
                r["cost"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(billed.len(), 3);
    assert!(
        billed
            .iter()
            .any(|(units, cost)| *units == 3.0 && (cost - 0.12).abs() < 1e-9),
        "{billed:?}"
    );

    // the rerun submits only what was left
    let again = run(batch(&emu, &jobs, &out, &["--max-cost", "0.2", "--json"]));
    let summary: Value = serde_json::from_str(&success(&again)).unwrap();
    assert_eq!(
        (summary["skipped"].as_u64(), summary["done"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(emu.stats().submit, 4, "each job submitted once in all");
}

#[test]
fn no_estimate_is_an_error_before_anything_is_submitted() {
    for (fault, code_expected) in [(Fault::Unauthorized, 3), (Fault::AppError, 4)] {
        let emu = Emu::with(Config {
            timing: quick(),
            faults: vec![FaultRule::rate(Route::Estimate, fault.clone(), 1.0)],
            ..Config::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let jobs = write_jobs(dir.path(), &[r#"{"id": "a", "prompt": "one"}"#]);
        let out = dir.path().join("out");
        for flag in [&["--estimate"][..], &["--max-cost", "10"][..]] {
            let output = run(batch(&emu, &jobs, &out, flag));
            assert_eq!(
                code(&output),
                code_expected,
                "{fault:?} {flag:?}: {}",
                describe(&output)
            );
            assert!(
                stderr(&output).contains(
                    "could not get fal's estimate (FAL_PLATFORM_URL); nothing was submitted"
                ),
                "{}",
                describe(&output)
            );
            assert!(
                output.stdout.is_empty(),
                "no estimate printed: {}",
                describe(&output)
            );
        }
        assert_eq!(emu.stats().submit, 0, "{fault:?}");
    }
}

#[test]
fn max_cost_counts_only_what_this_run_submits() {
    // job a was submitted by an earlier run (paid then); this run collects it
    // and has the budget of its one new job, b
    let emu = Emu::start();
    let dir = tempfile::tempdir().unwrap();
    let submitted = run(emu.kontext(["submit", "--prompt", "job a", "--json"]));
    let submitted: Value = serde_json::from_str(&success(&submitted)).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let record = serde_json::json!({
        "id": "a",
        "request_id": submitted["request_id"],
        "endpoint": submitted["endpoint"],
    });
    std::fs::write(out.join("batch-state.jsonl"), format!("{record}\n")).unwrap();
    let jobs = write_jobs(
        dir.path(),
        &[
            r#"{"id": "a", "prompt": "job a"}"#,
            r#"{"id": "b", "prompt": "job b"}"#,
        ],
    );

    let output = run(batch(
        &emu,
        &jobs,
        &out,
        &["--max-cost", "0.04", "--concurrency", "1", "--json"],
    ));
    let summary: Value = serde_json::from_str(&success(&output)).unwrap();
    assert_eq!(summary["done"], 2, "{summary}");
    assert!(close(&summary["budget"]["spent"], 0.04), "{summary}");
    assert_eq!(
        emu.stats().submit,
        2,
        "a once, by hand; b once, by the batch"
    );
    // what fal billed for a is still recorded
    let costs: Vec<f64> = records(&out)
        .iter()
        .filter_map(|r| r.get("cost").and_then(Value::as_f64))
        .collect();
    assert_eq!(costs.len(), 2, "{costs:?}");
}
