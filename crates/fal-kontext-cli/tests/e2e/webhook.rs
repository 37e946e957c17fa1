//! `kontext webhook serve`: fal's deliveries (the emulator's, signed with its
//! key) verified, their images saved once; forged, stale and malformed ones
//! answered as fal's protocol wants, saving nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use fal_emulator::{Config, WebhookFault, WebhookRetry};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::{
    Emu, code, describe, files, finish, is_whole_jpeg, kontext, quick, signal, spawn, success,
};

/// A running `kontext webhook serve`.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:<port>/`.
    pub url: String,
    /// Drains stderr (so the server never blocks on it) and gives it whole.
    stderr: std::thread::JoinHandle<String>,
}

impl Server {
    /// Starts it on a free port, with `extra` flags, and waits for its address.
    pub fn start(jwks_url: &str, out: &Path, extra: &[&str]) -> Server {
        Server::launch(serve(jwks_url, out, 0, extra))
    }

    /// Starts `command` (a `kontext webhook serve`) and waits for its address.
    pub fn launch(command: Command) -> Server {
        let mut child = spawn(command);
        // the address is on stderr's first line
        let stderr = child.stderr.take().unwrap();
        let (sender, ready) = mpsc::channel();
        let mut rest = String::new();
        let drain = std::thread::spawn(move || {
            let mut lines = BufReader::new(stderr).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = sender.send(first.clone());
                rest.push_str(&first);
            }
            for line in lines.map_while(Result::ok) {
                rest.push('\n');
                rest.push_str(&line);
            }
            rest
        });
        let first = ready
            .recv_timeout(Duration::from_secs(60))
            .expect("the server says where it listens");
        let url = first
            .split_whitespace()
            .find(|word| word.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_owned();
        Server {
            child,
            url,
            stderr: drain,
        }
    }

    /// Ctrl-C; its output (stderr with the address line first).
    pub fn stop(self) -> Output {
        signal(self.child.id(), "INT");
        self.wait()
    }

    /// Waits for it to end by itself; its output, as [`stop`](Self::stop).
    pub fn wait(self) -> Output {
        let mut output = finish(self.child);
        output.stderr = self.stderr.join().unwrap().into_bytes();
        assert_eq!(code(&output), 0, "{}", describe(&output));
        output
    }
}

/// `kontext webhook serve` on `port` (0: a free one) with `extra` flags.
pub fn serve(jwks_url: &str, out: &Path, port: u16, extra: &[&str]) -> Command {
    let port = port.to_string();
    let mut command = kontext(["webhook", "serve", "--port", &port, "--jwks-url", jwks_url]);
    command.arg("--out").arg(out).args(extra);
    command
}

/// An emulator whose failed deliveries are retried after 10 ms.
pub fn emulator(faults: Vec<WebhookFault>) -> Emu {
    Emu::with(Config {
        timing: quick(),
        webhook_retry: WebhookRetry {
            attempts: 5,
            first_delay: Duration::from_millis(10),
        },
        webhook_faults: faults,
        ..Config::default()
    })
}

/// Submits a text-to-image request through the SDK with `webhook`; its id.
pub fn submit_with_webhook(emu: &Emu, webhook: &str) -> String {
    let client = fal_kontext::Client::builder()
        .key(emu.emulator.key())
        .queue_url(emu.emulator.queue_url())
        .build()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let handle = runtime
        .block_on(
            client
                .text_to_image("A lighthouse at dusk")
                .webhook(webhook)
                .submit(),
        )
        .unwrap();
    handle.request_id().to_owned()
}

/// POSTs `body` with `headers` to `url` over a plain connection; the status.
fn post(url: &str, headers: &[(&str, String)], body: &[u8]) -> u16 {
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(address).unwrap();
    let mut head = format!(
        "POST /hook HTTP/1.1\r\nhost: {address}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("{answer}"))
}

/// The four headers of `body` signed now (or `age` ago) by `key`, as fal signs.
fn signed(
    key: &SigningKey,
    request_id: &str,
    body: &[u8],
    age: Duration,
) -> Vec<(&'static str, String)> {
    signed_for("user-1", key, request_id, body, age)
}

/// [`signed`] for the fal user `user`.
pub fn signed_for(
    user: &str,
    key: &SigningKey,
    request_id: &str,
    body: &[u8],
    age: Duration,
) -> Vec<(&'static str, String)> {
    let timestamp = (SystemTime::now() - age)
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let message = format!(
        "{request_id}\n{user}\n{timestamp}\n{}",
        hex::encode(Sha256::digest(body))
    );
    vec![
        ("x-fal-webhook-request-id", request_id.to_owned()),
        ("x-fal-webhook-user-id", user.to_owned()),
        ("x-fal-webhook-timestamp", timestamp),
        (
            "x-fal-webhook-signature",
            hex::encode(key.sign(message.as_bytes()).to_bytes()),
        ),
    ]
}

/// Serves one fixed JWKS (holding `key`) on loopback; its URL.
fn jwks_server(key: &SigningKey) -> String {
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
    let body = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x}]}).to_string();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    url
}

pub fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_webhook_delivered_twice_lands_in_out_once() {
    let emu = emulator(vec![WebhookFault::Duplicate]);
    let out = tempfile::tempdir().unwrap();
    let server = Server::start(&emu.emulator.jwks_url(), out.path(), &["--json"]);
    let id = submit_with_webhook(&emu, &server.url);
    emu.wait_for("the delivery and its repeat", |s| s.webhook_deliveries == 2);
    let output = server.stop();

    let image = format!("{id}-1.jpg");
    assert_eq!(
        files(out.path()),
        vec![image.clone()],
        "{}",
        describe(&output)
    );
    assert!(is_whole_jpeg(&out.path().join(&image)));
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 1, "one line for the event: {lines:?}");
    let line: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(line["request_id"], id.as_str());
    assert_eq!(line["status"], "OK");
    let saved = out.path().join(&image);
    assert_eq!(line["output"]["images"][0]["path"], saved.to_str().unwrap());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("request {id} delivered again: already handled")),
        "{stderr}"
    );
    assert_eq!(emu.stats().webhook_failures, 0);
}

#[test]
fn kontext_submit_registers_the_webhook_and_forged_deliveries_save_nothing() {
    // the emulator's first two attempts are signed by a stranger and sent
    // stale; its third is genuine
    let emu = emulator(vec![WebhookFault::ForeignKey, WebhookFault::StaleTimestamp]);
    let out = tempfile::tempdir().unwrap();
    let server = Server::start(&emu.emulator.jwks_url(), out.path(), &[]);
    let submitted = success(&crate::harness::run(emu.kontext([
        "submit",
        "--prompt",
        "A lighthouse",
        "--webhook",
        &server.url,
    ])));
    let id = submitted.trim().to_owned();
    emu.wait_for("a genuine delivery after two refused", |s| {
        s.webhook_deliveries == 1
    });
    assert_eq!(emu.stats().webhook_failures, 2);
    assert_eq!(files(out.path()), [format!("{id}-1.jpg")]);

    // a delivery of this test's making, with a key fal does not have
    let body = json!({"request_id": "forged-1", "status": "OK",
        "payload": {"images": [{"url": format!("{}/files/out/x.jpg", emu.emulator.cdn_url())}]}})
    .to_string();
    let forged = signed(
        &SigningKey::from_bytes(&[7; 32]),
        "forged-1",
        body.as_bytes(),
        Duration::ZERO,
    );
    assert_eq!(post(&server.url, &forged, body.as_bytes()), 401);
    assert_eq!(
        post(&server.url, &[], body.as_bytes()),
        401,
        "no signature at all"
    );
    let output = server.stop();

    assert_eq!(
        files(out.path()),
        [format!("{id}-1.jpg")],
        "nothing else saved"
    );
    assert_eq!(
        stdout_lines(&output),
        [format!(
            "{id} OK {}",
            out.path().join(format!("{id}-1.jpg")).display()
        )]
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    for refusal in [
        "refused a delivery: the signature matches no key of fal's webhook key set",
        "refused a delivery: the delivery's timestamp",
        "refused a delivery: the delivery has no X-Fal-Webhook-Request-Id header",
    ] {
        assert!(stderr.contains(refusal), "{refusal}: {stderr}");
    }
}

#[test]
fn each_delivery_gets_the_answer_fal_s_protocol_wants() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let out = tempfile::tempdir().unwrap();
    let server = Server::start(&jwks_server(&key), out.path(), &[]);
    let failure = json!({"request_id": "r-failed", "status": "ERROR", "error": "Invalid status code: 422",
        "payload": {"detail": [{"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"}]}})
    .to_string();
    let not_an_event = json!({"request_id": "r-odd", "hello": "world"}).to_string();
    let unsafe_id =
        json!({"request_id": "../escape", "status": "OK", "payload": {"images": []}}).to_string();
    let cases: [(&str, &str, &str, Duration, u16); 5] = [
        (
            "a genuine failure event",
            "r-failed",
            &failure,
            Duration::ZERO,
            200,
        ),
        (
            "the same event again",
            "r-failed",
            &failure,
            Duration::ZERO,
            200,
        ),
        (
            "a stale timestamp",
            "r-failed",
            &failure,
            Duration::from_secs(301),
            401,
        ),
        (
            "a genuine body that is not an event",
            "r-odd",
            &not_an_event,
            Duration::ZERO,
            400,
        ),
        (
            "a request id that would leave --out",
            "../escape",
            &unsafe_id,
            Duration::ZERO,
            400,
        ),
    ];
    for (case, id, body, age, status) in cases {
        let headers = signed(&key, id, body.as_bytes(), age);
        assert_eq!(
            post(&server.url, &headers, body.as_bytes()),
            status,
            "{case}"
        );
    }
    let output = server.stop();
    assert_eq!(
        stdout_lines(&output),
        ["r-failed ERROR Invalid status code: 422; body.prompt: Field required"],
        "one line for the one event, however often it came"
    );
    assert!(files(out.path()).is_empty(), "{:?}", files(out.path()));
    assert!(!out.path().parent().unwrap().join("escape").exists());
}
