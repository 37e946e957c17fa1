//! `kontext webhook serve` within its limits: another account's deliveries
//! refused unread, a flood of large bodies that cannot grow the server or
//! keep a genuine delivery out, a closed stdout that stops it cleanly, and
//! an image fetch that never ends that does not hold the event.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use fal_emulator::{Config, Fault, FaultRule, Route, Stats, WebhookRetry};

use crate::harness::{Emu, describe, files, kontext, quick};
use crate::webhook::{Server, emulator, serve, signed_for, stdout_lines, submit_with_webhook};

/// The user id the emulator's deliveries carry.
const EMULATOR_USER: &str = "emulator-user";

const MIB: usize = 1024 * 1024;

/// Waits until `check` holds for the stats; a bound that only proves "not
/// hung" (these tests run the debug binary on a shared machine).
fn wait_for(emu: &Emu, what: &str, check: impl Fn(&Stats) -> bool) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if check(&emu.stats()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}: {:?}", emu.stats());
}

/// POSTs to `url` a body of `length` bytes that says it has `declared`,
/// the body written from another thread (so that an answer given before
/// the body is read is read at once); the answer's status.
fn post_large(url: &str, headers: &[(&str, String)], declared: usize, length: usize) -> u16 {
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut head =
        format!("POST /hook HTTP/1.1\r\nhost: {address}\r\ncontent-length: {declared}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut body = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let chunk = vec![b' '; MIB];
        let mut left = length;
        while left > 0 {
            let n = left.min(MIB);
            // a server that answered already may close the connection
            if body.write_all(&chunk[..n]).is_err() {
                return;
            }
            left -= n;
        }
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.windows(2).any(|pair| pair == b"\r\n") {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    sender.join().unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

/// The most memory the process has held (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a number of kB");
    kib * 1024
}

#[test]
fn another_account_s_deliveries_are_refused_unread_and_fetch_nothing() {
    let emu = emulator(Vec::new());
    let out = tempfile::tempdir().unwrap();
    let server = Server::start(
        &emu.emulator.jwks_url(),
        out.path(),
        &["--user-id", "someone-else"],
    );
    submit_with_webhook(&emu, &server.url);
    wait_for(&emu, "every attempt refused", |s| s.webhook_failures == 5);
    let stats = emu.stats();
    assert_eq!(
        (stats.webhook_deliveries, stats.jwks, stats.cdn),
        (0, 0, 0),
        "no delivery taken, neither fal's keys nor an image fetched"
    );
    let output = server.stop();
    assert!(files(out.path()).is_empty(), "{}", describe(&output));
    assert!(stdout_lines(&output).is_empty(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("taking the deliveries of fal user someone-else only"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "refused a delivery: the delivery is for fal user \"emulator-user\", not \"someone-else\""
        ),
        "{stderr}"
    );

    // the same account, named by the environment: taken
    let mut command = serve(&emu.emulator.jwks_url(), out.path(), 0, &[]);
    command.env("FAL_WEBHOOK_USER_ID", EMULATOR_USER);
    let server = Server::launch(command);
    let id = submit_with_webhook(&emu, &server.url);
    wait_for(&emu, "the delivery", |s| s.webhook_deliveries == 1);
    let output = server.stop();
    assert_eq!(
        files(out.path()),
        [format!("{id}-1.jpg")],
        "{}",
        describe(&output)
    );
}

#[test]
fn without_a_user_id_the_server_warns_that_any_account_is_taken() {
    let emu = emulator(Vec::new());
    let out = tempfile::tempdir().unwrap();
    let output = Server::start(&emu.emulator.jwks_url(), out.path(), &[]).stop();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("warning: no --user-id: the deliveries of any fal account are taken"),
        "{stderr}"
    );
    let refused = crate::harness::run(kontext(["webhook", "serve", "--user-id", "two words"]));
    assert_eq!(crate::harness::code(&refused), 2, "{}", describe(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("for '--user-id'"),
        "{}",
        describe(&refused)
    );
}

/// 16 unsigned 64 MiB bodies (and one never sent) are refused from their
/// headers, unread; bodies whose headers pass (a stranger's signature) are
/// read within the budget and refused; one that says it is over 64 MiB is
/// refused unread; and the genuine delivery sent meanwhile is taken. The
/// server's peak memory is measured (and reported on stderr).
#[test]
fn a_flood_of_large_bodies_is_refused_within_bounds_and_a_genuine_delivery_gets_through() {
    let emu = emulator(Vec::new());
    let out = tempfile::tempdir().unwrap();
    let server = Server::start(
        &emu.emulator.jwks_url(),
        out.path(),
        &["--user-id", EMULATOR_USER],
    );
    let stranger = SigningKey::from_bytes(&[5; 32]);
    let mut flood = Vec::new();
    for _ in 0..16 {
        let url = server.url.clone();
        flood.push((
            "unsigned 64 MiB",
            401,
            std::thread::spawn(move || post_large(&url, &[], 64 * MIB, 64 * MIB)),
        ));
    }
    for n in 0..3 {
        let url = server.url.clone();
        let headers = signed_for(
            EMULATOR_USER,
            &stranger,
            &format!("forged-{n}"),
            b"not this body",
            Duration::ZERO,
        );
        flood.push((
            "a stranger's signature on 48 MiB",
            401,
            std::thread::spawn(move || post_large(&url, &headers, 48 * MIB, 48 * MIB)),
        ));
    }
    // refused from the headers: had the body been waited for, the answer
    // would be the 408 of a body that never came
    let url = server.url.clone();
    flood.push((
        "unsigned, its body never sent",
        401,
        std::thread::spawn(move || post_large(&url, &[], 64 * MIB, 0)),
    ));
    let url = server.url.clone();
    let headers = signed_for(EMULATOR_USER, &stranger, "huge", b"", Duration::ZERO);
    flood.push((
        "a body that says it is over 64 MiB",
        413,
        std::thread::spawn(move || post_large(&url, &headers, 64 * MIB + 1, MIB)),
    ));

    let id = submit_with_webhook(&emu, &server.url);
    wait_for(&emu, "the genuine delivery, during the flood", |s| {
        s.webhook_deliveries == 1
    });
    for (what, expected, post) in flood {
        assert_eq!(post.join().unwrap(), expected, "{what}");
    }
    let peak = peak_rss(server.child.id());
    eprintln!(
        "kontext webhook serve: peak RSS {} MiB under the flood",
        peak / MIB
    );
    let output = server.stop();
    assert!(
        peak < 256 * MIB,
        "peak RSS {} MiB: {}",
        peak / MIB,
        describe(&output)
    );
    assert_eq!(
        files(out.path()),
        [format!("{id}-1.jpg")],
        "{}",
        describe(&output)
    );
    assert_eq!(
        emu.stats().webhook_failures,
        0,
        "taken at its first attempt"
    );
}

#[test]
fn a_closed_stdout_stops_the_server_and_leaves_the_event_for_the_next_run() {
    // attempts 300 ms, 600 ms, 1.2 s, … apart: time for a second server
    let emu = Emu::with(Config {
        timing: quick(),
        webhook_retry: WebhookRetry {
            attempts: 8,
            first_delay: Duration::from_millis(300),
        },
        ..Config::default()
    });
    let out = tempfile::tempdir().unwrap();
    let mut first = Server::start(&emu.emulator.jwks_url(), out.path(), &[]);
    drop(first.child.stdout.take());
    let port: u16 = first
        .url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("a port");
    let id = submit_with_webhook(&emu, &first.url);
    let output = first.wait();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("stdout is closed ("), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "): stopping; request {id} is left for fal to deliver again"
        )),
        "{stderr}"
    );
    assert!(files(out.path()).is_empty(), "nothing kept of the event");

    let second = Server::launch(serve(&emu.emulator.jwks_url(), out.path(), port, &[]));
    wait_for(&emu, "the event delivered again", |s| {
        s.webhook_deliveries == 1
    });
    let output = second.stop();
    assert_eq!(files(out.path()), [format!("{id}-1.jpg")]);
    assert_eq!(
        stdout_lines(&output),
        [format!(
            "{id} OK {}",
            out.path().join(format!("{id}-1.jpg")).display()
        )]
    );
}

#[test]
fn an_image_fetch_that_never_ends_does_not_hold_the_event() {
    // the CDN answers the first download 503 with a length, then nothing
    let emu = Emu::with(Config {
        timing: quick(),
        webhook_retry: WebhookRetry {
            attempts: 5,
            first_delay: Duration::from_millis(10),
        },
        faults: vec![FaultRule::once(Route::Cdn, Fault::StalledErrorBody(503))],
        ..Config::default()
    });
    let out = tempfile::tempdir().unwrap();
    let server = Server::start(
        &emu.emulator.jwks_url(),
        out.path(),
        &["--save-timeout", "2"],
    );
    let id = submit_with_webhook(&emu, &server.url);
    wait_for(&emu, "a delivery taken after the failed one", |s| {
        s.webhook_deliveries == 1
    });
    let output = server.stop();
    assert!(emu.stats().webhook_failures >= 1, "{:?}", emu.stats());
    assert_eq!(
        files(out.path()),
        [format!("{id}-1.jpg")],
        "{}",
        describe(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("could not save the images of request {id}")),
        "{stderr}"
    );
    assert!(!stderr.contains("being handled"), "{stderr}");
}
