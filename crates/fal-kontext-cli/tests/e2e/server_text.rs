//! Server text reaches the terminal inert: a stand-in for fal whose answers
//! hold escape sequences (set the window title, clear the screen, colour)
//! and line breaks; `kontext` prints them escaped, never as the raw bytes a
//! terminal would obey.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use crate::harness::*;

/// A server on a free local port that answers every request with `status`
/// and the JSON `body`, for as long as the test runs. Gives its URL.
fn stand_in(status: &'static str, body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            // The request's head; its body, if any, is not needed.
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// `kontext status ID --logs` against `url`.
fn status(url: &str) -> std::process::Output {
    let mut command = kontext(["status", "0191a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "--logs"]);
    command
        .env("FAL_KEY", "key-id:key-secret")
        .env("FAL_QUEUE_URL", url);
    run(command)
}

/// Neither ESC nor BEL, raw, in `bytes`.
fn inert(bytes: &[u8]) -> bool {
    !bytes.iter().any(|&b| b == 0x1b || b == 0x07)
}

#[test]
fn log_lines_and_errors_of_a_status_print_escaped() {
    let body = serde_json::json!({
        "status": "COMPLETED",
        "error": "\u{1b}]0;pwned\u{7}boom",
        "logs": [{
            "message": "\u{1b}[2Jstep 1\r\n$ fake prompt",
            "level": "INFO",
            "source": "user",
            "timestamp": "2026-01-01T00:00:00Z",
        }],
    })
    .to_string();
    let output = status(&stand_in("200 OK", body));
    let stdout = success(&output);
    assert!(inert(&output.stdout), "{stdout:?}");
    assert!(
        stdout.contains("  \\u{1b}[2Jstep 1\\r\\n$ fake prompt\n"),
        "one inert line per log entry: {stdout:?}"
    );
    assert!(
        stdout.contains("COMPLETED, failed: \\u{1b}]0;pwned\\u{7}boom"),
        "{stdout:?}"
    );
}

#[test]
fn an_error_answer_prints_escaped() {
    let body = serde_json::json!({"detail": "\u{1b}[31mno such request\u{7}"}).to_string();
    let output = status(&stand_in("404 Not Found", body));
    assert_eq!(code(&output), 3, "{}", describe(&output));
    assert!(inert(&output.stderr), "{}", describe(&output));
    assert!(
        stderr(&output).contains("\\u{1b}[31mno such request\\u{7}"),
        "{}",
        describe(&output)
    );
}
