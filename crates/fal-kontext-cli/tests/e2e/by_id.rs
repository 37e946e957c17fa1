//! `submit`, then `status`, `result` and `cancel` by request id, each in a
//! process of its own.

use std::time::Duration;

use fal_emulator::{Config, Route};
use serde_json::Value;

use crate::harness::*;

#[test]
fn a_submitted_request_is_followed_and_saved_by_id() {
    let emu = Emu::with(Config {
        timing: slow(Duration::from_millis(600)),
        ..Config::default()
    });
    let stdout =
        success(&run(emu.kontext([
            "submit", "--image", SAMPLE, "--prompt", "p", "--seed", "3",
        ])));
    let id = stdout.trim();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert_eq!(emu.only_submit().body.unwrap()["seed"], 3);
    assert_eq!(emu.stats().result, 0, "submit does not wait");

    let status = success(&run(emu.kontext(["status", id])));
    assert!(
        ["IN_QUEUE", "IN_PROGRESS"]
            .iter()
            .any(|s| status.starts_with(s)),
        "{status}"
    );

    let watched = success(&run(emu.kontext(["status", id, "--watch", "--logs"])));
    assert_eq!(watched.lines().last(), Some("COMPLETED"), "{watched}");
    assert!(
        watched.lines().any(|l| l.starts_with("  ")),
        "log lines: {watched}"
    );

    let out = tempfile::tempdir().unwrap();
    let saved = success(&run(emu.kontext([
        "result",
        id,
        "--out",
        out.path().to_str().unwrap(),
    ])));
    assert_eq!(
        printed_paths(&saved),
        [out.path().join(format!("{id}-1.jpg"))]
    );
    assert!(is_whole_jpeg(&out.path().join(format!("{id}-1.jpg"))));
    assert_eq!(
        emu.stats().cancel,
        0,
        "following a request never cancels it"
    );
}

/// The queue flags reach fal as its headers and query parameters, and a
/// local image uploaded for the request carries the same CDN lifetime.
#[test]
fn submit_passes_the_queue_flags_to_fal() {
    let emu = Emu::start();
    let uploaded = tempfile::tempdir().unwrap();
    // larger than what goes inline, so it is uploaded
    let big = uploaded.path().join("big.png");
    let mut bytes = std::fs::read(SAMPLE).unwrap();
    bytes.resize(bytes.len() + 300 * 1024, 0);
    std::fs::write(&big, bytes).unwrap();
    success(&run(emu.kontext([
        "submit",
        "--image",
        big.to_str().unwrap(),
        "--prompt",
        "p",
        "--cdn-lifetime",
        "7200",
        "--no-store-io",
        "--no-retry",
        "--max-queue-length",
        "5",
        "--header",
        "x-fal-future-option: on",
        "--webhook",
        "https://example.com/hook",
    ])));
    let submit = emu.only_submit();
    let header = |name: &str| {
        submit
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let lifetime = r#"{"expiration_duration_seconds":7200}"#;
    assert_eq!(
        header("x-fal-object-lifecycle-preference").as_deref(),
        Some(lifetime)
    );
    assert_eq!(header("x-fal-store-io").as_deref(), Some("0"));
    assert_eq!(header("x-fal-no-retry").as_deref(), Some("1"));
    assert_eq!(header("x-fal-future-option").as_deref(), Some("on"));
    assert_eq!(
        submit.query.as_deref(),
        Some("fal_max_queue_length=5&fal_webhook=https%3A%2F%2Fexample.com%2Fhook")
    );
    let initiates = emu.on(Route::UploadInitiate);
    assert_eq!(initiates.len(), 1, "the image was uploaded");
    assert!(
        initiates[0]
            .headers
            .iter()
            .any(|(n, v)| n == "x-fal-object-lifecycle-preference" && v == lifetime),
        "{:?}",
        initiates[0].headers
    );
}

#[test]
fn result_waits_for_a_request_still_running() {
    let emu = Emu::with(Config {
        timing: slow(Duration::from_millis(800)),
        ..Config::default()
    });
    let id = success(&run(emu.kontext(["submit", "--prompt", "a kite"])));
    let out = tempfile::tempdir().unwrap();
    let output = run(emu.kontext([
        "result",
        "--json",
        id.trim(),
        "--out",
        out.path().to_str().unwrap(),
    ]));
    let document: Value = serde_json::from_str(&success(&output)).unwrap();
    assert_eq!(document["request_id"], id.trim());
    assert_eq!(document["endpoint"], "fal-ai/flux-pro/kontext");
    let path = document["images"][0]["path"].as_str().unwrap();
    assert!(is_whole_jpeg(std::path::Path::new(path)));
}

#[test]
fn cancel_stops_a_running_request() {
    let emu = Emu::with(Config {
        timing: slow(Duration::from_secs(60)),
        ..Config::default()
    });
    let submitted: Value = serde_json::from_str(&success(&run(emu.kontext([
        "submit",
        "--json",
        "--model",
        "dev",
        "--image",
        "https://example.com/a.png",
        "--prompt",
        "p",
    ]))))
    .unwrap();
    assert_eq!(submitted["endpoint"], "fal-ai/flux-kontext/dev");
    let id = submitted["request_id"].as_str().unwrap();

    let cancelled: Value = serde_json::from_str(&success(&run(
        emu.kontext(["cancel", id, "--model", "dev", "--json"])
    )))
    .unwrap();
    assert_eq!(cancelled["cancel"], "requested");
    let cancels = emu.on(Route::Cancel);
    assert_eq!(cancels.len(), 1);
    assert_eq!(
        cancels[0].path,
        format!("/fal-ai/flux-kontext/requests/{id}/cancel")
    );
    assert_eq!(emu.stats().jobs_cancelled, 1);
}

#[test]
fn result_gives_up_at_its_timeout_without_cancelling() {
    let emu = Emu::with(Config {
        timing: slow(Duration::from_secs(60)),
        ..Config::default()
    });
    let id = success(&run(emu.kontext(["submit", "--prompt", "p"])));
    let out = tempfile::tempdir().unwrap();
    let output = run(emu.kontext([
        "result",
        id.trim(),
        "--timeout",
        "1",
        "--out",
        out.path().to_str().unwrap(),
    ]));
    assert_eq!(code(&output), 4, "{}", describe(&output));
    assert!(
        stderr(&output).contains("was not cancelled"),
        "{}",
        describe(&output)
    );
    assert_eq!(emu.stats().cancel, 0);
    assert_eq!(files(out.path()), Vec::<String>::new());
}

#[test]
fn an_unknown_id_exits_3() {
    let emu = Emu::start();
    let output = run(emu.kontext(["status", "no-such-request"]));
    assert_eq!(code(&output), 3, "{}", describe(&output));
    assert!(
        stderr(&output).starts_with("error: not found"),
        "{}",
        describe(&output)
    );
}

#[test]
fn local_cannot_reach_requests_of_another_process() {
    let output = run(kontext(["status", "--local", "some-id"]));
    assert_eq!(code(&output), 2, "{}", describe(&output));
    assert!(
        stderr(&output).contains("kontext emulator"),
        "{}",
        describe(&output)
    );
    assert_eq!(stderr(&output).lines().count(), 1);
}

#[test]
fn a_submit_whose_answer_is_lost_names_the_job_or_says_it_may_be_running() {
    // The answer's head (with x-fal-request-id) came, its body did not: the
    // job it names is the one submitted, and `result` fetches it.
    let emu = Emu::start();
    emu.emulator.set_faults(vec![fal_emulator::FaultRule::once(
        Route::Submit,
        fal_emulator::Fault::CutAfterHeaders,
    )]);
    let stdout = success(&run(emu.kontext(["submit", "--prompt", "p"])));
    let id = stdout.trim();
    let out = tempfile::tempdir().unwrap();
    let fetched = success(&run(emu.kontext([
        "result",
        id,
        "--out",
        out.path().to_str().unwrap(),
    ])));
    assert!(is_whole_jpeg(&printed_paths(&fetched)[0]), "{fetched}");

    // A gateway's 502 after fal took it: not sent again, and said so.
    emu.emulator.set_faults(vec![fal_emulator::FaultRule::once(
        Route::Submit,
        fal_emulator::Fault::GatewayAfterApp(502),
    )]);
    let output = run(emu.kontext(["submit", "--prompt", "p", "--json"]));
    assert_eq!(code(&output), 4, "{}", describe(&output));
    assert!(
        stderr(&output).contains("may have reached fal")
            && stderr(&output).contains("request history"),
        "{}",
        describe(&output)
    );
    let stats = emu.stats();
    assert_eq!((stats.submit, stats.jobs_created), (2, 2), "{stats:?}");
}
