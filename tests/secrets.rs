//! The key is a secret: it never appears in a `Debug` or `Display`, an error,
//! a log line at any level, or a request to a host that is not fal's API, and
//! a redirect to another host drops it; nor does a panic message or the
//! webhook fal calls carry it.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use common::{SAMPLE, builder, client, emulator, emulator_with, on, quick};
use fal_emulator::{Config, Fault, FaultRule, Route};

const KEY: &str = "emulator-key-0123456789-very-secret";

async fn keyed_emulator(faults: Vec<FaultRule>) -> fal_emulator::Emulator {
    emulator_with(Config {
        key: KEY.into(),
        timing: quick(),
        faults,
        ..Config::default()
    })
    .await
}

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_log_line_at_any_level_carries_the_key() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // a run with an upload, retries, a stream cut, a download and a failure
    let emulator = keyed_emulator(vec![
        FaultRule::once(
            Route::Submit,
            Fault::TooManyRequests {
                retry_after_secs: 0,
            },
        ),
        FaultRule::once(Route::Stream, Fault::CutStreamAfter(1)),
    ])
    .await;
    let c = builder(&emulator).inline_limit(0).build().unwrap();
    let done = c.edit("p", SAMPLE).run().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    c.download(&done.output, dir.path()).await.unwrap();
    let _ = builder(&emulator)
        .key("wrong-key")
        .build()
        .unwrap()
        .text_to_image("p")
        .run()
        .await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "the capture works: {} bytes",
        logs.len()
    );
    assert!(!logs.contains(KEY), "the key appeared in a log line");
    assert_eq!(emulator.stats().key_leaks, 0);
}

#[tokio::test]
async fn debug_display_and_errors_never_show_the_key() {
    let emulator = keyed_emulator(vec![FaultRule::once(Route::Result, Fault::Unprocessable)]).await;
    let c = client(&emulator);
    assert!(!format!("{c:?}").contains(KEY));
    let handle = c.text_to_image("p").submit().await.unwrap();
    assert!(!format!("{handle:?}").contains(KEY));
    let error = handle
        .wait(std::time::Duration::from_secs(10))
        .output()
        .await
        .unwrap_err();
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(KEY), "{text}");
    }
    // an error from a refused key does not echo it either
    let refused = builder(&emulator)
        .key(format!("{KEY}-typo"))
        .build()
        .unwrap();
    let error = refused.text_to_image("p").submit().await.unwrap_err();
    assert!(matches!(error, fal_kontext::Error::Authentication { .. }));
    assert!(!format!("{error} {error:?}").contains(KEY));
}

#[tokio::test]
async fn the_key_goes_to_api_hosts_only() {
    let emulator = keyed_emulator(vec![]).await;
    let c = builder(&emulator).inline_limit(0).build().unwrap();
    let done = c.edit("p", SAMPLE).num_images(2).run().await.unwrap();
    c.download(&done.output, tempfile::tempdir().unwrap().path())
        .await
        .unwrap();
    for request in emulator.requests() {
        let has_key = request
            .headers
            .iter()
            .any(|(name, _)| name == "authorization");
        let api = matches!(
            request.route,
            Route::Submit
                | Route::Stream
                | Route::Status
                | Route::Result
                | Route::Cancel
                | Route::UploadInitiate
        );
        assert_eq!(has_key, api, "{:?} {}", request.route, request.path);
    }
    assert!(!on(&emulator, Route::UploadPut).is_empty() && !on(&emulator, Route::Cdn).is_empty());
    assert_eq!(emulator.stats().key_leaks, 0);
}

/// One HTTP exchange on a plain listener: the request's head, then `answer`.
fn serve_once(listener: TcpListener, answer: String) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
            head.push(byte[0]);
        }
        stream.write_all(answer.as_bytes()).unwrap();
        String::from_utf8_lossy(&head).to_lowercase()
    })
}

#[tokio::test]
async fn a_redirect_to_another_host_drops_the_key() {
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let target_url = format!("http://{}/elsewhere", target.local_addr().unwrap());
    let redirector = TcpListener::bind("127.0.0.1:0").unwrap();
    let queue_url = format!("http://{}", redirector.local_addr().unwrap());
    let redirected = serve_once(
        redirector,
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: {target_url}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        ),
    );
    let landed = serve_once(
        target,
        "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}".into(),
    );
    let c = fal_kontext::Client::builder()
        .key(KEY)
        .queue_url(&queue_url)
        .build()
        .unwrap();
    let handle =
        c.request_handle::<fal_kontext::EditOutput>(fal_kontext::endpoints::FLUX_PRO_KONTEXT, "r1");
    let _ = handle.status(false).await;
    let first = redirected.join().unwrap();
    let second = landed.join().unwrap();
    assert!(
        first.contains("authorization: key"),
        "the API host gets the key: {first}"
    );
    assert!(second.starts_with("get /elsewhere"), "{second}");
    assert!(
        !second.contains("authorization"),
        "the other host must not: {second}"
    );
}

/// TLS is rustls: neither OpenSSL nor native-tls is anywhere in the build.
#[test]
fn tls_is_rustls_only() {
    let lock =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock")).unwrap();
    let packages: Vec<&str> = lock
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .map(|n| n.trim_end_matches('"'))
        .collect();
    assert!(packages.contains(&"rustls"), "rustls is the TLS stack");
    for banned in ["openssl", "openssl-sys", "native-tls", "hyper-tls"] {
        assert!(!packages.contains(&banned), "{banned} must not be built");
    }
}

#[tokio::test]
async fn emulator_counts_a_key_sent_to_the_cdn_as_a_leak() {
    // the detector the other tests rely on does detect a leak
    let emulator = emulator().await;
    let done = client(&emulator).text_to_image("p").run().await.unwrap();
    let leaky = reqwest::Client::new();
    leaky
        .get(&done.output.images[0].url)
        .header("authorization", format!("Key {}", emulator.key()))
        .send()
        .await
        .unwrap();
    assert_eq!(emulator.stats().key_leaks, 1);
}

/// What a user's `unwrap` prints when the SDK fails: the `Debug` of the
/// error, in a panic message. A hook records every panic message while the
/// SDK runs through faults (and then passes it on to the hook before it).
#[tokio::test]
async fn no_panic_message_carries_the_key() {
    let messages: Arc<Mutex<Vec<String>>> = Arc::default();
    let previous = Arc::new(std::panic::take_hook());
    {
        let (messages, previous) = (messages.clone(), Arc::clone(&previous));
        std::panic::set_hook(Box::new(move |info| {
            messages.lock().unwrap().push(info.to_string());
            previous(info);
        }));
    }

    let emulator = keyed_emulator(vec![]).await;
    let c = builder(&emulator).inline_limit(0).build().unwrap();
    let faults = [
        (Route::Submit, Fault::AppError),
        // a submit whose answer is lost after its head follows the job
        // (and succeeds): these two are ambiguous, and fail
        (Route::Submit, Fault::CutBeforeHeaders),
        (Route::Submit, Fault::GatewayAfterApp(502)),
        (Route::Result, Fault::Unprocessable),
        (Route::UploadInitiate, Fault::Unauthorized),
        (Route::UploadPut, Fault::NotFound),
    ];
    // what a user's code does with the results: unwrap them
    let mut outcomes = Vec::new();
    for (route, fault) in faults {
        emulator.set_faults(vec![FaultRule::once(route, fault)]);
        outcomes.push(c.edit("p", SAMPLE).run().await);
    }
    let refused = builder(&emulator)
        .key(format!("{KEY}-typo"))
        .build()
        .unwrap();
    outcomes.push(refused.edit("p", SAMPLE).run().await);
    let unwrapped = outcomes.len() + 1;
    for outcome in outcomes {
        let panicked =
            std::panic::catch_unwind(AssertUnwindSafe(move || outcome.expect("the edit runs")));
        assert!(panicked.is_err(), "each run failed");
    }
    let panicked = std::panic::catch_unwind(AssertUnwindSafe(move || panic!("gave up: {c:?}")));
    assert!(panicked.is_err());

    // the hook before this test's comes back
    std::panic::set_hook(Box::new(move |info| previous(info)));
    let messages = messages.lock().unwrap().clone();
    assert!(
        messages.len() >= unwrapped,
        "the hook saw every panic: {messages:?}"
    );
    for message in &messages {
        assert!(!message.contains(KEY), "{message}");
    }
}

/// The emulator, standing in for fal, POSTs the result to the webhook: the
/// key must not travel with it (nor may the SDK have put it in the URL).
#[tokio::test]
async fn the_webhook_never_receives_the_key() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        // the head, then as many body bytes as it announces
        loop {
            let n = stream.read(&mut buffer).await.unwrap();
            request.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&request).to_lowercase();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8_lossy(&request).into_owned()
    });

    let emulator = keyed_emulator(vec![]).await;
    let done = client(&emulator)
        .text_to_image("p")
        .webhook(&hook)
        .run()
        .await
        .unwrap();
    let request = tokio::time::timeout(std::time::Duration::from_secs(10), received)
        .await
        .expect("the webhook is called")
        .unwrap();
    assert!(request.starts_with("POST /hook"), "{request}");
    assert!(
        request.contains(&done.request_id),
        "it is this request's webhook: {request}"
    );
    assert!(!request.contains(KEY), "{request}");
    assert!(
        !request.to_lowercase().contains("authorization: key"),
        "{request}"
    );
    let submit = &on(&emulator, Route::Submit)[0];
    assert!(
        !submit.query.as_deref().unwrap_or_default().contains(KEY),
        "the webhook URL sent with the submit is the caller's own"
    );
}
