//! `kontext history`, `kontext delete` and `kontext batch --delete-payloads`
//! against one emulator's request history.

use std::collections::BTreeSet;

use fal_emulator::Route;
use serde_json::Value;

use crate::harness::*;

/// Runs `kontext edit --json` on the sample; the request id it printed.
fn edit(emu: &Emu, prompt: &str, out: &std::path::Path) -> String {
    let output = run(emu.kontext([
        "edit",
        "--image",
        SAMPLE,
        "--prompt",
        prompt,
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(code(&output), 0, "{}", describe(&output));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    document["request_id"].as_str().unwrap().to_string()
}

/// The JSON lines of stdout.
fn json_lines(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

#[test]
fn three_edits_are_listed_by_history_across_pages() {
    let emu = Emu::start();
    let dir = tempfile::tempdir().unwrap();
    let edited: BTreeSet<String> = ["night", "snow", "rain"]
        .iter()
        .map(|prompt| edit(&emu, prompt, dir.path()))
        .collect();
    assert_eq!(edited.len(), 3);

    let output = run(emu.kontext(["history", "--json", "--page-size", "2"]));
    assert_eq!(code(&output), 0, "{}", describe(&output));
    let listed = json_lines(&output);
    let ids: BTreeSet<String> = listed
        .iter()
        .map(|item| item["request_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, edited, "exactly those three");
    assert_eq!(listed.len(), 3, "each once");
    assert!(
        listed
            .iter()
            .all(|item| item["endpoint_id"] == "fal-ai/flux-pro/kontext")
    );
    assert_eq!(emu.stats().history, 2, "two pages: 2, then 1");

    // the table, and the payloads of one request
    let some = edited.iter().next().unwrap();
    let output = run(emu.kontext(["history", "--request-id", some, "--payloads"]));
    assert_eq!(code(&output), 0, "{}", describe(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 2, "a header and one row: {text}");
    assert!(rows[0].starts_with("REQUEST ID"), "{text}");
    assert!(
        rows[1].starts_with(some.as_str()) && rows[1].ends_with("input, output"),
        "{text}"
    );
}

#[test]
fn history_refuses_a_bad_window_before_sending_anything() {
    let emu = Emu::start();
    for bad in [
        ["history", "--since", "yesterday"],
        ["history", "--status", "ok"],
        ["history", "--local", "--json"],
    ] {
        let output = run(emu.kontext(bad));
        assert_eq!(code(&output), 2, "{}", describe(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("must be") || stderr.contains("knows no earlier request"),
            "{stderr}"
        );
    }
    assert_eq!(emu.stats().history, 0);
}

#[test]
fn delete_needs_an_admin_key_and_prints_each_file() {
    let emu = Emu::start();
    let dir = tempfile::tempdir().unwrap();
    let id = edit(&emu, "night", dir.path());

    let output = run(emu.kontext(["delete", "--yes", &id]));
    assert_eq!(code(&output), 3, "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ADMIN scope") && stderr.contains("FAL_ADMIN_KEY"),
        "{stderr}"
    );
    assert!(!stderr.contains(emu.emulator.key()), "{stderr}");

    let mut command = emu.kontext(["delete", "--yes", &id]);
    command.env("FAL_ADMIN_KEY", emu.emulator.admin_key());
    let output = run(command);
    assert_eq!(code(&output), 0, "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().next().unwrap_or_default();
    assert!(
        line.starts_with(&format!("{id}: deleted {}/files/", emu.emulator.cdn_url())),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(emu.emulator.admin_key()), "{stderr}");
    assert_eq!(emu.stats().key_leaks, 0);
}

#[test]
fn batch_deletes_each_jobs_payloads_once_across_reruns() {
    let emu = Emu::start();
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    std::fs::write(
        &jobs,
        "{\"id\": \"k1\", \"prompt\": \"a kite\"}\n{\"id\": \"k2\", \"prompt\": \"two kites\"}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let with_admin = |extra: &[&str]| {
        let mut command = batch(&emu, &jobs, &out, extra);
        command.env("FAL_ADMIN_KEY", emu.emulator.admin_key());
        command
    };

    let output = run(with_admin(&["--delete-payloads"]));
    assert_eq!(code(&output), 0, "{}", describe(&output));
    let images: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".jpg"))
        .collect();
    assert_eq!(images.len(), 2, "the images stay on disk");
    assert_eq!(emu.stats().payload_deletions, 2);
    // the output files are gone at fal's CDN, and the stored payloads too
    let downloaded: Vec<String> = emu.on(Route::Cdn).into_iter().map(|r| r.path).collect();
    assert_eq!(downloaded.len(), 2, "{downloaded:?}");
    for path in &downloaded {
        assert_eq!(status_of(emu.emulator.cdn_url(), path), 404, "{path}");
    }
    let state = std::fs::read_to_string(out.join("batch-state.jsonl")).unwrap();
    let deleted = state
        .lines()
        .filter(|line| line.contains("\"payloads_deleted\""))
        .count();
    assert_eq!(deleted, 2, "{state}");
    let history = run(emu.kontext(["history", "--json", "--payloads"]));
    let items = json_lines(&history);
    assert_eq!(items.len(), 2);
    for item in items {
        assert!(
            item["input"].is_null() && item["output"].is_null(),
            "{item}"
        );
    }

    // a rerun: every job is done, and no payload is deleted twice
    let output = run(with_admin(&["--delete-payloads"]));
    assert_eq!(code(&output), 0, "{}", describe(&output));
    assert_eq!(emu.stats().payload_deletions, 2);
    assert_eq!(emu.stats().submit, 2);
}

/// The HTTP status of `GET {origin}{path}` (a plain HTTP/1.1 request).
fn status_of(origin: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let host = origin.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}
