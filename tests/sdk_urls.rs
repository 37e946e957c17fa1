//! Which URL a call about a submitted request goes to. fal's submit answer
//! returns `status_url`, `response_url` and `cancel_url`; they are the
//! authority on the path (some apps answer only at their full endpoint id),
//! and the key goes only to the configured origins. So a returned URL on the
//! configured queue origin is followed, with the key, whatever its path; one
//! on another origin is never sent anything, and the generated app-root path
//! on the configured origin serves the call instead.
//!
//! A stand-in queue plays fal here, so that the submit answer can name any
//! URL: it answers the submit with the URLs it is told to return, and every
//! status or result path with a completed request (or, told to, a result
//! larger than the SDK reads, which it refuses unread).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fal_kontext::{Client, RetryPolicy};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const KEY: &str = "stand-in-key";

/// One request the stand-in received.
#[derive(Clone, Debug, PartialEq)]
struct Seen {
    method: String,
    path: String,
    with_key: bool,
}

/// A stand-in for fal's queue on 127.0.0.1.
struct StandIn {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Where its submit answer says the request's URLs are.
    returned: Arc<Mutex<String>>,
    /// Whether its result answer declares a body larger than the SDK reads.
    huge: Arc<AtomicBool>,
}

impl StandIn {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let returned = Arc::new(Mutex::new(String::new()));
        let huge = Arc::new(AtomicBool::new(false));
        let (log, urls, too_big) = (seen.clone(), returned.clone(), huge.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, urls, too_big) = (log.clone(), urls.clone(), too_big.clone());
                tokio::spawn(async move {
                    let huge = too_big.load(Ordering::SeqCst);
                    let _ = answer(stream, &log, &urls, huge).await;
                });
            }
        });
        StandIn {
            url,
            seen,
            returned,
            huge,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads one request and answers it (one request per connection).
async fn answer(
    stream: tokio::net::TcpStream,
    log: &Mutex<Vec<Seen>>,
    returned: &Mutex<String>,
    huge: bool,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default().to_string();
    let (mut with_key, mut length) = (false, 0usize);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).await?;
        if header.trim().is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or_default();
        match name.trim().to_ascii_lowercase().as_str() {
            "authorization" => with_key |= value.trim() == format!("Key {KEY}"),
            "content-length" => length = value.trim().parse().unwrap_or(0),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    log.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        with_key,
    });
    let base = returned.lock().unwrap().clone();
    let mut stream = reader.into_inner();
    if huge && method == "GET" && !path.contains("/status") {
        // a body of 1 GiB announced; none of it is ever sent
        return stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1073741824\r\n\r\n")
            .await;
    }
    let (status, body) = match (method.as_str(), path.as_str()) {
        (_, p) if p.ends_with("/status/stream") => ("404 Not Found", r#"{"detail":"no stream here"}"#.to_string()),
        ("POST", _) => (
            "200 OK",
            serde_json::json!({
                "status": "IN_QUEUE",
                "request_id": "r1",
                "status_url": format!("{base}/status"),
                "response_url": base,
                "cancel_url": format!("{base}/cancel"),
            })
            .to_string(),
        ),
        ("GET", p) if p.ends_with("/status") => (
            "200 OK",
            r#"{"status":"COMPLETED","request_id":"r1"}"#.to_string(),
        ),
        ("GET", _) => (
            "200 OK",
            serde_json::json!({
                "images": [{"url": "https://example.com/out.png", "width": 8, "height": 8, "content_type": "image/png"}],
                "prompt": "p",
                "seed": 1,
                "has_nsfw_concepts": [false],
                "timings": {}
            })
            .to_string(),
        ),
        _ => ("404 Not Found", "{}".to_string()),
    };
    stream
        .write_all(
            format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
}

fn client(queue: &StandIn) -> Client {
    Client::builder()
        .key(KEY)
        .queue_url(&queue.url)
        .retry(RetryPolicy::none())
        .wait_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The calls of a `run` whose request's URLs are at `at`, all with the key:
/// the submit, the status stream (refused here), a status poll, the result.
fn run_calls(at: &str) -> Vec<Seen> {
    let seen = |method: &str, path: String| Seen {
        method: method.into(),
        path,
        with_key: true,
    };
    vec![
        seen("POST", "/fal-ai/flux-pro/kontext/text-to-image".into()),
        seen("GET", format!("{at}/status/stream")),
        seen("GET", format!("{at}/status")),
        seen("GET", at.into()),
    ]
}

#[tokio::test]
async fn a_returned_url_on_the_queue_origin_is_followed_with_the_key() {
    let queue = StandIn::start().await;
    // the request's URLs at its full endpoint id, not the app root
    *queue.returned.lock().unwrap() = format!(
        "{}/fal-ai/flux-pro/kontext/text-to-image/requests/r1",
        queue.url
    );
    let done = client(&queue).text_to_image("p").run().await.unwrap();
    assert_eq!(done.request_id, "r1");
    assert_eq!(done.output.images[0].url, "https://example.com/out.png");
    assert_eq!(
        queue.seen(),
        run_calls("/fal-ai/flux-pro/kontext/text-to-image/requests/r1")
    );
}

#[tokio::test]
async fn a_returned_url_on_another_origin_is_never_sent_anything() {
    let queue = StandIn::start().await;
    let elsewhere = StandIn::start().await;
    *queue.returned.lock().unwrap() = format!(
        "{}/fal-ai/flux-pro/kontext/text-to-image/requests/r1",
        elsewhere.url
    );
    let client = client(&queue);
    let handle = client.text_to_image("p").submit().await.unwrap();
    assert!(handle.status_url().unwrap().starts_with(&elsewhere.url));
    let done = handle.wait(Duration::from_secs(10)).output().await.unwrap();
    assert_eq!(done.output.images.len(), 1);
    assert_eq!(
        elsewhere.seen(),
        [],
        "the other origin got no request, so no key"
    );
    // the generated app-root paths on the configured origin served the calls
    assert_eq!(queue.seen(), run_calls("/fal-ai/flux-pro/requests/r1"));
}

#[tokio::test]
async fn an_answer_larger_than_the_sdk_reads_is_refused_unread() {
    let queue = StandIn::start().await;
    *queue.returned.lock().unwrap() = format!("{}/fal-ai/flux-pro/requests/r1", queue.url);
    let job = client(&queue).text_to_image("p").subscribe().await.unwrap();
    queue.huge.store(true, Ordering::SeqCst);
    let error = job.output().await.unwrap_err();
    match &error {
        fal_kontext::Error::TooLarge {
            what,
            limit,
            context,
        } => {
            assert_eq!(*what, "the output");
            assert!(*limit < 1 << 30, "{limit}");
            assert_eq!(context.request_id.as_deref(), Some("r1"));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(
        error
            .to_string()
            .starts_with("the output is larger than the"),
        "{error}"
    );
}
