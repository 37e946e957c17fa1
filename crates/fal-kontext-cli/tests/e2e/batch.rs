//! `kontext batch`: bounded concurrency, bad lines that stop nothing, and a
//! resume after the process is killed that pays for no job twice.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use fal_emulator::{Config, Route};
use serde_json::Value;

use crate::harness::*;

/// How many submits the emulator received for each prompt.
pub fn submits_per_prompt(emu: &Emu) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for submit in emu.on(Route::Submit) {
        let prompt = submit.body.unwrap()["prompt"].as_str().unwrap().to_string();
        *counts.entry(prompt).or_default() += 1;
    }
    counts
}

/// The records of the state file, by kind: submitted, done, failed.
pub fn state_counts(out: &Path) -> (usize, usize, usize) {
    let text = std::fs::read_to_string(out.join("batch-state.jsonl")).unwrap_or_default();
    let records: Vec<Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let count = |key: &str| records.iter().filter(|r| r.get(key).is_some()).count();
    (count("request_id"), count("done"), count("failed"))
}

#[test]
fn every_good_line_runs_and_the_bad_ones_are_listed() {
    let emu = Emu::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("photos")).unwrap();
    std::fs::copy(SAMPLE, dir.path().join("photos/a1.png")).unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    std::fs::write(
        &jobs,
        r#"{"id": "a1", "prompt": "night", "image_url": "photos/a1.png", "seed": 7}
{"id": "a2", "prompt": "snow", "image_url": "https://example.com/street.jpg", "output_format": "png"}
{"id": "t1", "prompt": "a kite"}

{"id": "m1", "prompt": "together", "image_urls": ["photos/a1.png", "https://example.com/b.png"]}
{"id": "bad", "prompt": "too many", "num_images": 7}
not json
{"id": "gone", "prompt": "lost", "image_url": "photos/nope.png"}
"#,
    )
    .unwrap();
    let out = dir.path().join("out");

    let output = run(batch(&emu, &jobs, &out, &["--concurrency", "2", "--json"]));
    assert_eq!(code(&output), 2, "{}", describe(&output));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (summary["done"].as_u64(), summary["failed"].as_u64()),
        (Some(4), Some(3))
    );
    let errors = stderr(&output);
    assert!(
        errors.contains("  bad: invalid num_images `7`: must be from 1 to 4\n"),
        "{errors}"
    );
    assert!(errors.contains("  line 7: not a JSON object"), "{errors}");
    assert!(errors.contains("  gone: "), "{errors}");

    assert_eq!(
        files(&out),
        [
            ".gallery",
            "a1-1.jpg",
            "a2-1.png",
            "batch-state.jsonl",
            "index.html",
            "m1-1.jpg",
            "t1-1.jpg"
        ]
    );
    let bodies: BTreeMap<String, Value> = emu
        .on(Route::Submit)
        .into_iter()
        .map(|s| {
            let body = s.body.unwrap();
            (body["prompt"].as_str().unwrap().to_string(), body)
        })
        .collect();
    assert_eq!(bodies.len(), 4);
    assert_eq!(bodies["night"]["seed"], 7);
    assert!(
        bodies["night"]["image_url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png")
    );
    assert_eq!(
        bodies["together"]["image_urls"][1],
        "https://example.com/b.png"
    );
    assert_eq!(
        state_counts(&out),
        (4, 4, 2),
        "bad lines with an id are recorded"
    );

    // A rerun skips what is done and submits nothing again.
    let again = run(batch(&emu, &jobs, &out, &["--json"]));
    assert_eq!(code(&again), 2, "{}", describe(&again));
    let summary: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(summary["skipped"], 4);
    assert_eq!(summary["done"], 0);
    assert_eq!(emu.stats().submit, 4);
    assert_eq!(files(&out).len(), 7);
}

#[test]
fn a_killed_batch_resumes_without_submitting_any_job_twice() {
    let emu = Emu::with(Config {
        timing: slow(Duration::from_millis(150)),
        ..Config::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    let lines: Vec<String> = (1..=8)
        .map(|n| format!(r#"{{"id": "j{n}", "prompt": "job {n}"}}"#))
        .collect();
    std::fs::write(&jobs, lines.join("\n")).unwrap();
    let out = dir.path().join("out");

    let child = spawn(batch(&emu, &jobs, &out, &["--concurrency", "2"]));
    // Let some jobs finish, then make the next ones slow, and kill the batch
    // while it waits on two of those, their ids on disk.
    let mut waited = 0;
    while state_counts(&out).1 < 2 {
        std::thread::sleep(Duration::from_millis(10));
        waited += 1;
        assert!(waited < 3000, "no job finished");
    }
    let created = emu.stats().jobs_created;
    emu.emulator.set_timing(slow(Duration::from_secs(2)));
    emu.wait_for("two slow jobs in flight, recorded", |s| {
        s.jobs_created >= created + 2
            && s.jobs_created - s.jobs_completed == 2
            && state_counts(&out).0 as u64 == s.jobs_created
    });
    signal(child.id(), "KILL");
    let killed = finish(child);
    assert!(killed.status.code().is_none(), "{}", describe(&killed));
    let (submitted, done, _) = state_counts(&out);
    assert!(done >= 2 && submitted == done + 2, "{submitted} {done}");

    emu.emulator.set_timing(quick());
    let output = run(batch(&emu, &jobs, &out, &["--concurrency", "2", "--json"]));
    let summary: Value = serde_json::from_str(&success(&output)).unwrap();
    assert_eq!(summary["skipped"].as_u64(), Some(done as u64));
    assert_eq!(summary["done"].as_u64(), Some(8 - done as u64));

    let expected: BTreeMap<String, usize> = (1..=8).map(|n| (format!("job {n}"), 1)).collect();
    assert_eq!(
        submits_per_prompt(&emu),
        expected,
        "every job submitted exactly once"
    );
    for n in 1..=8 {
        let image = out.join(format!("j{n}-1.jpg"));
        assert!(is_whole_jpeg(&image), "{image:?}");
    }
}

#[test]
fn ctrl_c_stops_a_batch_without_cancelling_what_a_rerun_collects() {
    let emu = Emu::with(Config {
        timing: slow(Duration::from_millis(1500)),
        ..Config::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    let lines: Vec<String> = (1..=4)
        .map(|n| format!(r#"{{"id": "j{n}", "prompt": "job {n}"}}"#))
        .collect();
    std::fs::write(&jobs, lines.join("\n")).unwrap();
    let out = dir.path().join("out");

    let child = spawn(batch(&emu, &jobs, &out, &["--concurrency", "2"]));
    emu.wait_for("two jobs in flight, recorded", |s| {
        s.jobs_created == 2 && state_counts(&out).0 == 2
    });
    signal(child.id(), "INT");
    let output = finish(child);
    assert_eq!(code(&output), 130, "{}", describe(&output));
    assert!(
        stderr(&output).contains("2 submitted job(s) left running"),
        "{}",
        describe(&output)
    );
    assert_eq!(
        emu.stats().cancel,
        0,
        "nothing is cancelled: a rerun collects it"
    );
    assert_eq!(emu.stats().jobs_created, 2, "no job starts after Ctrl-C");

    emu.emulator.set_timing(quick());
    let summary: Value =
        serde_json::from_str(&success(&run(batch(&emu, &jobs, &out, &["--json"])))).unwrap();
    assert_eq!(summary["done"], 4);
    let expected: BTreeMap<String, usize> = (1..=4).map(|n| (format!("job {n}"), 1)).collect();
    assert_eq!(submits_per_prompt(&emu), expected);
}
