//! `kontext batch` never pays twice: a rerun after a failure on this side
//! (the CDN down), after SIGTERM or SIGHUP, after a torn state file, or
//! after a submit whose answer was lost, submits each job at most once,
//! counted at the emulator.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fal_emulator::{Config, Fault, FaultRule, Route};
use serde_json::Value;

use crate::batch::submits_per_prompt;
use crate::harness::*;

/// A directory holding a jobs file of `n` text-to-image jobs `j1`… with
/// prompts `job 1`…, and the path of `--out` in it: (directory, jobs, out).
fn workspace(n: usize) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    let lines: Vec<String> = (1..=n)
        .map(|n| format!(r#"{{"id": "j{n}", "prompt": "job {n}"}}"#))
        .collect();
    std::fs::write(&jobs, lines.join("\n")).unwrap();
    let out = dir.path().join("out");
    (dir, jobs, out)
}

/// Each of the `n` prompts submitted exactly once.
fn once_each(n: usize) -> BTreeMap<String, usize> {
    (1..=n).map(|n| (format!("job {n}"), 1)).collect()
}

/// The state file's records.
fn records(out: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(out.join("batch-state.jsonl")).unwrap();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect()
}

/// The records of one kind (the key that marks it).
fn of_kind(records: &[Value], key: &str) -> Vec<Value> {
    records
        .iter()
        .filter(|r| r.get(key).is_some())
        .cloned()
        .collect()
}

/// Temporary download files (`.kontext-….part`) left in `dir`.
fn part_files(dir: &Path) -> Vec<String> {
    files(dir)
        .into_iter()
        .filter(|name| name.ends_with(".part"))
        .collect()
}

#[test]
fn a_rerun_after_a_cdn_outage_collects_every_job_without_submitting_it_again() {
    let emu = Emu::start();
    // The CDN is down for the whole first run: every download gets nginx's
    // 503 page.
    emu.emulator
        .set_faults(vec![FaultRule::cdn_down(Duration::from_secs(600))]);
    let (_dir, jobs, out) = workspace(2);

    let first = run(batch(&emu, &jobs, &out, &["--json"]));
    assert_eq!(code(&first), 4, "{}", describe(&first));
    let summary: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(summary["failed"], 2, "{summary:#}");
    for job in summary["jobs"].as_array().unwrap() {
        assert_eq!(job["rerun"], "collect", "{job:#}");
        let request_id = job["request_id"]
            .as_str()
            .expect("the job names its request");
        assert!(
            stderr(&first).contains(&format!(
                "a rerun collects request {request_id}, never submitting it again"
            )),
            "{}",
            describe(&first)
        );
    }
    let unfinished = of_kind(&records(&out), "unfinished");
    assert_eq!(unfinished.len(), 2, "{unfinished:#?}");
    assert_eq!(part_files(&out), Vec::<String>::new());

    // The CDN is back.
    emu.emulator.set_faults(vec![]);
    let second = run(batch(&emu, &jobs, &out, &["--json"]));
    let summary: Value = serde_json::from_str(&success(&second)).unwrap();
    assert_eq!(summary["done"], 2, "{summary:#}");
    assert_eq!(
        submits_per_prompt(&emu),
        once_each(2),
        "each job submitted exactly once across both runs"
    );
    for n in 1..=2 {
        assert!(is_whole_jpeg(&out.join(format!("j{n}-1.jpg"))));
    }
}

#[test]
fn sigterm_and_sighup_stop_a_batch_like_ctrl_c_and_a_rerun_pays_for_nothing_twice() {
    for (signal_name, exit_code, words) in [
        ("TERM", 143, "terminated (SIGTERM)"),
        ("HUP", 129, "hung up (SIGHUP)"),
    ] {
        let emu = Emu::with(Config {
            timing: slow(Duration::from_secs(2)),
            ..Config::default()
        });
        // Every submit's answer trickles for a second and a half: the
        // signal comes while two submits are on the wire, their jobs
        // already made at fal.
        emu.emulator.set_faults(vec![FaultRule::rate(
            Route::Submit,
            Fault::SlowBody(Duration::from_millis(1500)),
            1.0,
        )]);
        let (_dir, jobs, out) = workspace(4);

        let child = spawn(batch(&emu, &jobs, &out, &["--concurrency", "2"]));
        emu.wait_for("two submits on the wire", |s| s.jobs_created == 2);
        signal(child.id(), signal_name);
        let stopped = finish(child);
        assert_eq!(code(&stopped), exit_code, "{}", describe(&stopped));
        assert!(
            stderr(&stopped).contains(&format!("{words}: 2 submitted job(s) left running")),
            "{}",
            describe(&stopped)
        );
        let submitted = of_kind(&records(&out), "request_id");
        assert_eq!(
            submitted.len(),
            2,
            "the submits in flight were recorded before the exit"
        );
        let stats = emu.stats();
        assert_eq!(
            (stats.jobs_created, stats.cancel),
            (2, 0),
            "no new submit after the signal, nothing cancelled"
        );
        assert_eq!(part_files(&out), Vec::<String>::new());

        emu.emulator.set_faults(vec![]);
        emu.emulator.set_timing(quick());
        let again = run(batch(&emu, &jobs, &out, &["--json"]));
        let summary: Value = serde_json::from_str(&success(&again)).unwrap();
        assert_eq!(summary["done"], 4, "{summary:#}");
        assert_eq!(submits_per_prompt(&emu), once_each(4), "{signal_name}");
        for n in 1..=4 {
            assert!(is_whole_jpeg(&out.join(format!("j{n}-1.jpg"))));
        }
    }
}

#[test]
fn a_torn_last_line_is_cut_off_and_the_records_before_it_are_kept() {
    let emu = Emu::start();
    let (_dir, jobs, out) = workspace(3);
    success(&run(batch(&emu, &jobs, &out, &["--concurrency", "1"])));
    assert_eq!(emu.stats().submit, 3);

    // A kill (or a full disk) in the middle of writing the last record: j3's
    // "done", after its "submitted".
    let path = out.join("batch-state.jsonl");
    let whole = std::fs::read(&path).unwrap();
    let last = String::from_utf8_lossy(&whole)
        .lines()
        .last()
        .unwrap()
        .to_string();
    assert!(last.contains("\"done\""), "{last}");
    std::fs::write(&path, &whole[..whole.len() - 8]).unwrap();
    let torn_id = serde_json::from_str::<Value>(&last).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let output = run(batch(&emu, &jobs, &out, &["--json"]));
    let summary: Value = serde_json::from_str(&success(&output)).unwrap();
    assert!(
        stderr(&output).contains("cut off a torn last line"),
        "{}",
        describe(&output)
    );
    assert_eq!(
        (&summary["skipped"], &summary["done"]),
        (&Value::from(2), &Value::from(1)),
        "{summary:#}"
    );
    let collected = summary["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["status"] == "done")
        .unwrap();
    assert_eq!(collected["id"], torn_id.as_str());
    assert_eq!(
        emu.stats().submit,
        3,
        "the job whose record was torn is collected, not submitted again"
    );
    // Every line of the repaired file is a whole record, the new one too.
    let records = records(&out);
    assert_eq!(records.len(), 3 + 2 + 1, "{records:#?}");
}

#[test]
fn max_cost_counts_only_the_jobs_that_reached_fal() {
    // fal bills j1 two images' worth, 0.08 USD.
    let emu = Emu::with(Config {
        timing: quick(),
        faults: vec![FaultRule::once(Route::Result, Fault::BilledUnits(2.0))],
        ..Config::default()
    });
    let dir = tempfile::tempdir().unwrap();
    // The first job's image cannot be read: it fails before anything is
    // sent, and costs nothing. Estimated 3 × 0.04 = 0.12, within 0.12; then
    // 0.08 for j1 and 0.04 for j2 fit only if nothing is counted for the first.
    let jobs = dir.path().join("jobs.jsonl");
    std::fs::write(
        &jobs,
        r#"{"id": "gone", "prompt": "job 0", "image_url": "nope.png"}
{"id": "j1", "prompt": "job 1"}
{"id": "j2", "prompt": "job 2"}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = run(batch(
        &emu,
        &jobs,
        &out,
        &["--concurrency", "1", "--max-cost", "0.12", "--json"],
    ));
    assert_eq!(
        code(&output),
        2,
        "the unreadable image: {}",
        describe(&output)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (&summary["done"], &summary["failed"]),
        (&Value::from(2), &Value::from(1)),
        "{summary:#}"
    );
    assert_eq!(summary["budget"]["left_for_a_rerun"], 0, "{summary:#}");
    assert_eq!(submits_per_prompt(&emu), once_each(2));
}

/// The first run of a batch of two jobs where fal takes j1's submit and its
/// answer is lost (`fault`): j1 is recorded unknown, with what it sent, and
/// not sent again. Returns the workspace.
fn first_run_loses_j1s_answer(
    emu: &Emu,
    fault: Fault,
    flags: &[&str],
) -> (tempfile::TempDir, PathBuf, PathBuf) {
    emu.emulator
        .set_faults(vec![FaultRule::once(Route::Submit, fault.clone())]);
    let (dir, jobs, out) = workspace(2);
    let flags = [&["--concurrency", "1", "--json"], flags].concat();
    let first = run(batch(emu, &jobs, &out, &flags));
    assert_eq!(code(&first), 4, "{fault:?}: {}", describe(&first));
    let summary: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(summary["jobs"][0]["rerun"], "unknown", "{summary:#}");
    assert_eq!(summary["done"], 1, "{summary:#}");
    assert!(
        stderr(&first).contains("a rerun looks for it in fal's request history"),
        "{}",
        describe(&first)
    );
    let unknown = of_kind(&records(&out), "unknown");
    assert_eq!(unknown.len(), 1, "{unknown:#?}");
    assert_eq!(unknown[0]["id"], "j1");
    assert_eq!(
        unknown[0]["endpoint"],
        "fal-ai/flux-pro/kontext/text-to-image"
    );
    assert_eq!(
        unknown[0]["sent"]["input"]["prompt"], "job 1",
        "what it sent is kept for the rerun: {unknown:#?}"
    );
    assert_eq!(
        submits_per_prompt(emu),
        once_each(2),
        "{fault:?}: the submit was not repeated"
    );
    (dir, jobs, out)
}

#[test]
fn a_rerun_finds_a_submit_whose_answer_was_lost_in_the_history_and_collects_it() {
    // fal takes j1's submit, then the answer is lost: a gateway's 502
    // without a request id, or the connection cut before a byte of it.
    for fault in [Fault::GatewayAfterApp(502), Fault::CutBeforeHeaders] {
        let emu = Emu::start();
        let (_dir, jobs, out) = first_run_loses_j1s_answer(&emu, fault.clone(), &[]);

        let again = run(batch(&emu, &jobs, &out, &["--json"]));
        let summary: Value = serde_json::from_str(&success(&again)).unwrap();
        assert_eq!(
            (&summary["done"], &summary["skipped"]),
            (&Value::from(1), &Value::from(1)),
            "{summary:#}"
        );
        assert!(
            stderr(&again).contains("in fal's history: collecting it"),
            "{}",
            describe(&again)
        );
        assert_eq!(
            submits_per_prompt(&emu),
            once_each(2),
            "{fault:?}: exactly one submit of each job"
        );
        assert!(is_whole_jpeg(&out.join("j1-1.jpg")));
        let found = of_kind(&records(&out), "request_id");
        assert!(
            found.iter().any(|r| r["id"] == "j1"),
            "the found request is recorded: {found:#?}"
        );
    }
}

#[test]
fn a_lost_submit_the_history_cannot_tell_apart_is_left_unless_told() {
    // Sent with store-io off, fal keeps no input to compare with.
    let emu = Emu::start();
    let (_dir, jobs, out) =
        first_run_loses_j1s_answer(&emu, Fault::GatewayAfterApp(502), &["--no-store-io"]);

    let again = run(batch(&emu, &jobs, &out, &["--no-store-io", "--json"]));
    assert_eq!(code(&again), 4, "{}", describe(&again));
    let summary: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(summary["skipped"], 1, "{summary:#}");
    assert_eq!(summary["jobs"][0]["rerun"], "unknown", "{summary:#}");
    let reason = summary["jobs"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("fal's history cannot tell") && reason.contains("not submitted again"),
        "{reason}"
    );
    assert_eq!(submits_per_prompt(&emu), once_each(2));

    // Told to, it submits it again.
    let told = run(batch(&emu, &jobs, &out, &["--resubmit-unknown", "--json"]));
    let summary: Value = serde_json::from_str(&success(&told)).unwrap();
    assert_eq!(summary["done"], 1, "{summary:#}");
    assert_eq!(submits_per_prompt(&emu)["job 1"], 2);
    assert!(is_whole_jpeg(&out.join("j1-1.jpg")));
}

#[test]
fn a_lost_submit_the_history_does_not_list_is_submitted_again_after_the_history_delay() {
    // A gateway's 502 that never reached fal: nothing in the history.
    let emu = Emu::start();
    let (_dir, jobs, out) = first_run_loses_j1s_answer(&emu, Fault::Ingress(502), &[]);
    let submitted = |emu: &Emu| submits_per_prompt(emu).get("job 1").copied().unwrap_or(0);
    let before = submitted(&emu);

    // Too soon: fal may not list it yet.
    let soon = run(batch(&emu, &jobs, &out, &["--json"]));
    assert_eq!(code(&soon), 4, "{}", describe(&soon));
    let summary: Value = serde_json::from_slice(&soon.stdout).unwrap();
    let reason = summary["jobs"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("does not list it yet"), "{reason}");
    assert_eq!(submitted(&emu), before);

    let later = run(batch(
        &emu,
        &jobs,
        &out,
        &["--history-delay", "0", "--json"],
    ));
    let summary: Value = serde_json::from_str(&success(&later)).unwrap();
    assert_eq!(summary["done"], 1, "{summary:#}");
    assert!(
        stderr(&later).contains("not in fal's history: submitting it again"),
        "{}",
        describe(&later)
    );
    assert_eq!(submitted(&emu), before + 1);
    assert!(is_whole_jpeg(&out.join("j1-1.jpg")));
}

#[test]
fn a_stop_signal_during_the_downloads_leaves_no_partial_file_and_a_rerun_collects_them() {
    let emu = Emu::start();
    // Each image trickles from the CDN for a few seconds.
    emu.emulator.set_faults(vec![FaultRule::rate(
        Route::Cdn,
        Fault::SlowBody(Duration::from_secs(5)),
        1.0,
    )]);
    let (_dir, jobs, out) = workspace(2);

    let child = spawn(batch(&emu, &jobs, &out, &["--concurrency", "2"]));
    emu.wait_for("both downloads under way", |s| s.cdn >= 2);
    // Until the downloads have written something.
    let mut waited = 0;
    while part_files(&out).len() < 2 {
        std::thread::sleep(Duration::from_millis(10));
        waited += 1;
        assert!(waited < 1000, "no download started: {:?}", files(&out));
    }
    signal(child.id(), "INT");
    let stopped = finish(child);
    assert_eq!(code(&stopped), 130, "{}", describe(&stopped));
    assert_eq!(
        files(&out),
        ["batch-state.jsonl"],
        "the downloads in flight removed their temporary files"
    );

    emu.emulator.set_faults(vec![]);
    let again = run(batch(&emu, &jobs, &out, &["--json"]));
    let summary: Value = serde_json::from_str(&success(&again)).unwrap();
    assert_eq!(summary["done"], 2, "{summary:#}");
    assert_eq!(submits_per_prompt(&emu), once_each(2));
}

#[test]
fn a_job_whose_deadline_passed_after_it_finished_is_collected_not_paid_again() {
    let emu = Emu::start();
    // The jobs finish at once, but their results cannot be fetched before
    // the batch's deadline passes: fal's ingress answers 503 to every fetch.
    emu.emulator.set_faults(vec![FaultRule::rate(
        Route::Result,
        Fault::Ingress(503),
        1.0,
    )]);
    let (_dir, jobs, out) = workspace(2);

    let first = run(batch(&emu, &jobs, &out, &["--timeout", "2", "--json"]));
    assert_eq!(code(&first), 4, "{}", describe(&first));
    let summary: Value = serde_json::from_slice(&first.stdout).unwrap();
    for job in summary["jobs"].as_array().unwrap() {
        assert_eq!(job["rerun"], "collect", "{job:#}");
        assert!(
            job["reason"]
                .as_str()
                .unwrap()
                .starts_with("gave up after 2s"),
            "{job:#}"
        );
    }
    assert_eq!(of_kind(&records(&out), "unfinished").len(), 2);

    emu.emulator.set_faults(vec![]);
    let second = run(batch(&emu, &jobs, &out, &["--json"]));
    let summary: Value = serde_json::from_str(&success(&second)).unwrap();
    assert_eq!(summary["done"], 2, "{summary:#}");
    assert_eq!(submits_per_prompt(&emu), once_each(2));
}
