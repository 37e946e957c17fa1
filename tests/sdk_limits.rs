//! The time limits of a call and of a wait, against an emulator that holds
//! the client (issue 19's stalls): each ends in a retry or a clean error
//! within the client's limits, never at the wait's deadline. The limits are
//! short here, and the deadline long: a test that ran into the deadline
//! would fail by `NEVER_HANGS` first.

mod common;

use std::time::Duration;

use common::{builder, emulator_with, quick};
use fal_emulator::{Config, Emulator, Fault, FaultRule, Route, Timing};
use fal_kontext::{CancelAtDeadline, Error, Images};

/// A wait's deadline here: far past every limit under test.
const DEADLINE: Duration = Duration::from_secs(120);
/// "Never hangs": every test ends well before the wait's deadline.
const NEVER_HANGS: Duration = Duration::from_secs(30);
/// The short limit under test.
const LIMIT: Duration = Duration::from_millis(400);

async fn emulator_faulting(route: Route, fault: Fault) -> Emulator {
    emulator_with(Config {
        timing: quick(),
        faults: vec![FaultRule::once(route, fault)],
        ..Config::default()
    })
    .await
}

/// Runs `future`, failing the test if it outlasts [`NEVER_HANGS`].
async fn bounded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(NEVER_HANGS, future)
        .await
        .expect("ended by a limit, not by the wait's deadline")
}

#[tokio::test]
async fn a_trickling_answer_of_a_generated_call_ends_at_the_body_idle_limit() {
    // a byte a second: inside the call timeout (60 s) only the idle limit
    // between body bytes, kept by the generated client's hook, ends it
    let emulator = emulator_faulting(Route::Result, Fault::Trickle(Duration::from_secs(1))).await;
    let client = builder(&emulator).body_idle_timeout(LIMIT).build().unwrap();
    let done = bounded(client.text_to_image("p").timeout(DEADLINE).run()).await;
    assert_eq!(done.unwrap().output.images().len(), 1);
    assert_eq!(
        emulator.stats().result,
        2,
        "the stalled try, then the retry"
    );
}

#[tokio::test]
async fn an_error_answer_whose_body_never_comes_ends_at_the_body_idle_limit() {
    // the CDN answers 503 with a Content-Length, then nothing
    let emulator = emulator_with(Config {
        timing: quick(),
        ..Config::default()
    })
    .await;
    let client = builder(&emulator).body_idle_timeout(LIMIT).build().unwrap();
    let done = client.text_to_image("p").run().await.unwrap();
    emulator.set_faults(vec![FaultRule::once(
        Route::Cdn,
        Fault::StalledErrorBody(503),
    )]);
    let dir = tempfile::tempdir().unwrap();
    let saved = bounded(client.download(&done.output, dir.path())).await;
    assert_eq!(saved.unwrap().len(), 1, "retried after the stalled 503");
}

#[tokio::test]
async fn a_status_stream_that_never_starts_gives_way_to_polling() {
    let emulator = emulator_faulting(Route::Stream, Fault::NoAnswer).await;
    let client = builder(&emulator).call_timeout(LIMIT).build().unwrap();
    let done = bounded(client.text_to_image("p").timeout(DEADLINE).run()).await;
    assert_eq!(done.unwrap().output.images().len(), 1);
    assert!(emulator.stats().status > 0, "polled");
}

#[tokio::test]
async fn a_keep_alive_only_stream_cannot_hold_a_finished_job() {
    // the stream never sends an event, and never goes silent: only the
    // status polled beside it can see the job done
    let emulator = emulator_faulting(
        Route::Stream,
        Fault::KeepAliveOnly(Duration::from_millis(50)),
    )
    .await;
    let client = builder(&emulator)
        .status_poll_interval(LIMIT)
        .build()
        .unwrap();
    let done = bounded(client.text_to_image("p").timeout(DEADLINE).run()).await;
    assert_eq!(done.unwrap().output.images().len(), 1);
    let stats = emulator.stats();
    assert_eq!((stats.stream, stats.cancel), (1, 0), "{stats:?}");
    assert!(stats.status > 0, "polled beside the stream: {stats:?}");
}

#[tokio::test]
async fn a_junk_stream_cannot_hold_a_finished_job() {
    // invalid UTF-8, then newlines as fast as the client reads
    let emulator = emulator_faulting(Route::Stream, Fault::JunkStreamAfter(1)).await;
    let client = builder(&emulator)
        .status_poll_interval(LIMIT)
        .build()
        .unwrap();
    let done = bounded(client.text_to_image("p").timeout(DEADLINE).run()).await;
    assert_eq!(done.unwrap().output.images().len(), 1);
}

#[tokio::test]
async fn an_upload_put_that_hangs_is_retried() {
    let emulator = emulator_faulting(Route::UploadPut, Fault::NoAnswer).await;
    let client = builder(&emulator)
        .inline_limit(0)
        .call_timeout(LIMIT)
        .build()
        .unwrap();
    let done = bounded(client.edit("p", common::SAMPLE).timeout(DEADLINE).run()).await;
    assert_eq!(done.unwrap().output.images().len(), 1);
    assert_eq!(
        emulator.stats().upload_put,
        2,
        "the hung try, then the retry"
    );
}

#[tokio::test]
async fn the_deadline_error_says_what_the_cancel_answered() {
    // completed while the wait could not see it (keep-alives only, no poll
    // before the deadline): the cancel finds it done
    let emulator = emulator_faulting(
        Route::Stream,
        Fault::KeepAliveOnly(Duration::from_millis(50)),
    )
    .await;
    let client = builder(&emulator).build().unwrap();
    let error = bounded(
        client
            .text_to_image("p")
            .timeout(Duration::from_secs(1))
            .run(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Timeout {
                cancel: CancelAtDeadline::AlreadyCompleted,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("it had completed: fetch it"),
        "{error}"
    );

    // the cancel itself failed: the outcome is unknown, not "cancelled"
    let emulator = emulator_with(Config {
        timing: Timing {
            queue_delay: Duration::from_secs(60),
            processing_time: Duration::ZERO,
        },
        faults: vec![FaultRule::once(Route::Cancel, Fault::Unauthorized)],
        ..Config::default()
    })
    .await;
    let client = builder(&emulator).build().unwrap();
    let error = bounded(
        client
            .text_to_image("p")
            .timeout(Duration::from_millis(500))
            .run(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Timeout {
                cancel: CancelAtDeadline::Unknown,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.request_id().is_some(), "{error:?}");
}

#[tokio::test]
async fn a_download_dropped_half_way_leaves_no_part_file() {
    // the image trickles; the caller gives up (a Ctrl-C drops the future)
    let emulator = emulator_with(Config {
        timing: quick(),
        ..Config::default()
    })
    .await;
    let client = builder(&emulator).build().unwrap();
    let done = client.text_to_image("p").run().await.unwrap();
    emulator.set_faults(vec![FaultRule::once(
        Route::Cdn,
        Fault::Trickle(Duration::from_millis(20)),
    )]);
    let dir = tempfile::tempdir().unwrap();
    let dropped = tokio::time::timeout(
        Duration::from_millis(300),
        client.download(&done.output, dir.path()),
    )
    .await;
    assert!(dropped.is_err(), "still downloading when dropped");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn an_output_listing_more_than_four_images_is_refused_before_any_download() {
    let url = "http://127.0.0.1:9/never-fetched.png";
    let images: Vec<_> = (0..5).map(|_| serde_json::json!({ "url": url })).collect();
    let output: fal_kontext::EditOutput =
        serde_json::from_value(serde_json::json!({ "images": images })).unwrap();
    let client = fal_kontext::Client::builder().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let error = client.download(&output, dir.path()).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::TooManyImages {
                listed: 5,
                allowed: 4,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A queue that answers every call at once and lists `images` images in
/// the output, whatever was asked for; returns its base URL.
async fn queue_listing(images: usize) -> String {
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let path = request.uri().path().to_string();
                let (status, body) = if request.method() == hyper::Method::POST {
                    (
                        200,
                        serde_json::json!({"request_id": "r1", "status": "IN_QUEUE"}),
                    )
                } else if path.ends_with("/status/stream") {
                    (404, serde_json::json!({"detail": "no stream"}))
                } else if path.ends_with("/status") {
                    (
                        200,
                        serde_json::json!({"request_id": "r1", "status": "COMPLETED"}),
                    )
                } else {
                    let url = "http://127.0.0.1:9/never-fetched.png";
                    let list: Vec<_> = (0..images)
                        .map(|_| serde_json::json!({"url": url}))
                        .collect();
                    (200, serde_json::json!({"images": list}))
                };
                let answer = hyper::Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .header("x-fal-request-id", "r1")
                    .body(Full::new(bytes::Bytes::from(body.to_string())))
                    .unwrap();
                async move { Ok::<_, std::convert::Infallible>(answer) }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    base
}

#[tokio::test]
async fn an_output_listing_more_images_than_asked_for_is_refused_and_names_the_job() {
    let queue = queue_listing(3).await;
    let client = fal_kontext::Client::builder()
        .key("id:secret")
        .queue_url(&queue)
        .retry(common::fast_retries())
        .build()
        .unwrap();
    // one image asked for (the default), three listed
    let error = bounded(client.text_to_image("p").run()).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::TooManyImages {
                listed: 3,
                allowed: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.request_id(), Some("r1"), "{error}");
    // as many as asked for is an output
    let done = bounded(client.text_to_image("p").num_images(3).run()).await;
    assert_eq!(done.unwrap().output.images().len(), 3);
}
