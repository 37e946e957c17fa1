//! The `fal-emulator` binary: one JSON line when ready, then it serves.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use fal_emulator::ReadyLine;

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_prints_its_urls_as_one_json_line_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fal-emulator"))
        .args(["--key", "bin-key", "--processing-ms", "5", "--tls"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let child = Killed(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("a line");
        line
    })
    .await
    .expect("reader");
    let raw: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
    for field in [
        "queue",
        "run",
        "rest",
        "cdn",
        "key",
        "platform",
        "admin_key",
    ] {
        assert!(raw[field].is_string(), "{field} in {line}");
    }
    let ready: ReadyLine = serde_json::from_value(raw).expect("a ReadyLine");
    assert_eq!(ready.urls.key, "bin-key");
    assert_eq!(ready.platform, format!("{}/v1", ready.urls.rest));
    let ca_path = ready.ca_cert.expect("--tls names the CA file");
    let pem = std::fs::read(&ca_path).expect("the CA file exists");
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("PEM")])
        .no_proxy()
        .build()
        .expect("client");
    let stats: fal_emulator::Stats = client
        .get(format!("{}/__emulator/stats", ready.urls.queue))
        .send()
        .await
        .expect("it serves")
        .json()
        .await
        .expect("stats");
    assert_eq!(stats, fal_emulator::Stats::default());
    drop(child);
}
