//! The faults that hold a client rather than fail it, and the answers that
//! leave it unsure whether fal took its submit: a response that never
//! starts, a stream of keep-alives or junk, an error whose body never comes,
//! a trickling body, an upload that hangs, a submit cut or answered by a
//! gateway after the job was created, a CDN down for a while.

use std::time::Duration;

use fal_emulator::{Config, Fault, FaultRule, Route};
use futures::StreamExt;
use serde_json::Value;

use crate::common::*;
use crate::failures::{completed, held, release, url};
use crate::storage::initiate;

/// How long a test waits to see that nothing comes: far longer than the
/// emulator takes to answer on a loopback connection.
const NOTHING_COMES: Duration = Duration::from_millis(400);

async fn submit_with(fault: Fault) -> (fal_emulator::Emulator, reqwest::Result<reqwest::Response>) {
    let emulator = start(Config {
        faults: vec![FaultRule::once(Route::Submit, fault)],
        ..fast()
    })
    .await;
    let answer = client()
        .post(format!("{}/{KONTEXT}", emulator.queue_url()))
        .header("authorization", auth(&emulator))
        .json(&edit_input())
        .send()
        .await;
    (emulator, answer)
}

/// The URL of the first image of a finished job's output.
async fn an_image_url(emulator: &fal_emulator::Emulator) -> String {
    let (_, result) = complete(emulator, KONTEXT, &edit_input()).await;
    let output: Value = result.json().await.expect("JSON");
    output["images"][0]["url"].as_str().expect("url").to_owned()
}

#[tokio::test]
async fn no_answer_never_starts_the_stream_and_the_job_goes_on() {
    let emulator = start(Config {
        faults: vec![FaultRule::once(Route::Stream, Fault::NoAnswer)],
        ..fast()
    })
    .await;
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    let stream_url = format!("{}/stream", url(&submitted, "status_url"));
    let opened = tokio::time::timeout(NOTHING_COMES, get(&emulator, &stream_url)).await;
    assert!(opened.is_err(), "not even a status line: {opened:?}");
    wait_completed(&emulator, &url(&submitted, "status_url")).await;
    let events = sse_events(get(&emulator, &stream_url).await).await;
    assert_eq!(
        events.last().expect("events")["status"],
        "COMPLETED",
        "the fault was spent"
    );
    assert_eq!(emulator.stats().faults_injected, 1);
}

#[tokio::test]
async fn an_upload_put_that_is_never_answered_stores_nothing() {
    let emulator = start(fast()).await;
    let answer = initiate(&emulator, "in.png", "image/png").await;
    let upload_url = answer["upload_url"].as_str().expect("upload_url");
    let file_url = answer["file_url"].as_str().expect("file_url");
    emulator.set_faults(vec![FaultRule::once(Route::UploadPut, Fault::NoAnswer)]);
    let put = || {
        client()
            .put(upload_url)
            .body(b"\x89PNG fake".to_vec())
            .send()
    };
    let hung = tokio::time::timeout(NOTHING_COMES, put()).await;
    assert!(hung.is_err(), "the PUT is never answered: {hung:?}");
    assert_eq!(download(file_url).await.0, 404, "nothing was stored");
    assert_eq!(put().await.expect("answered").status(), 200, "spent");
}

#[tokio::test]
async fn a_keep_alive_only_stream_pings_and_never_sends_an_event() {
    let emulator = start(Config {
        faults: vec![FaultRule::once(
            Route::Stream,
            Fault::KeepAliveOnly(Duration::from_millis(10)),
        )],
        ..held()
    })
    .await;
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    let stream_url = format!("{}/stream", url(&submitted, "status_url"));
    let response = get(&emulator, &stream_url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert!(response.headers().contains_key("x-fal-request-id"));
    release(&emulator);
    completed(&emulator, 1).await;
    let mut received = Vec::new();
    let mut frames = response.bytes_stream();
    while received.len() < 10 * b": ping\n\n".len() {
        let frame = frames.next().await.expect("the stream goes on");
        received.extend_from_slice(&frame.expect("bytes"));
    }
    let text = String::from_utf8(received).expect("UTF-8");
    assert!(
        text.split_inclusive("\n\n")
            .all(|part| ": ping\n\n".starts_with(part)),
        "only keep-alive comments, after the job completed too: {text:?}"
    );
}

#[tokio::test]
async fn a_junk_stream_sends_bytes_that_are_not_utf8_then_newlines_without_end() {
    let emulator = start(Config {
        faults: vec![FaultRule::once(Route::Stream, Fault::JunkStreamAfter(1))],
        ..held()
    })
    .await;
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    let stream_url = format!("{}/stream", url(&submitted, "status_url"));
    let mut frames = get(&emulator, &stream_url).await.bytes_stream();
    let mut received = Vec::new();
    while received.len() < 2 * 1024 * 1024 {
        let frame = frames.next().await.expect("the stream goes on");
        received.extend_from_slice(&frame.expect("bytes"));
    }
    let (event, rest) = received.split_at(
        received
            .windows(2)
            .position(|pair| pair == b"\n\n")
            .expect("a whole first event")
            + 2,
    );
    let data = event.strip_prefix(b"data: ").expect("an event");
    let status: Value = serde_json::from_slice(data).expect("the first event is JSON");
    assert_eq!(status["status"], "IN_QUEUE");
    let line_end = rest.iter().position(|&b| b == b'\n').expect("a line");
    assert!(rest.starts_with(b"data: "), "{:?}", &rest[..line_end]);
    assert!(
        std::str::from_utf8(&rest[..line_end]).is_err(),
        "the line is not UTF-8"
    );
    assert!(
        rest[line_end..].iter().all(|&b| b == b'\n'),
        "then newlines only"
    );
}

#[tokio::test]
async fn an_error_whose_body_never_comes_promises_a_length_and_sends_nothing() {
    let emulator = start(fast()).await;
    let image = an_image_url(&emulator).await;
    emulator.set_faults(vec![FaultRule::once(
        Route::Cdn,
        Fault::StalledErrorBody(503),
    )]);
    let response = client().get(&image).send().await.expect("the headers come");
    assert_eq!(response.status(), 503);
    assert!(response.content_length().is_some_and(|length| length > 0));
    assert!(!response.headers().contains_key("x-fal-request-id"));
    let body = tokio::time::timeout(NOTHING_COMES, response.bytes()).await;
    assert!(body.is_err(), "not a byte of the body: {body:?}");
    assert_eq!(download(&image).await.0, 200, "spent");
}

#[tokio::test]
async fn an_error_whose_body_never_comes_on_submit_creates_no_job() {
    let (emulator, answer) = submit_with(Fault::StalledErrorBody(503)).await;
    let response = answer.expect("the headers come");
    assert_eq!(response.status(), 503);
    assert!(!response.headers().contains_key("x-fal-request-id"));
    assert_eq!(emulator.stats().jobs_created, 0);
}

#[tokio::test]
async fn a_trickle_sends_the_whole_body_a_byte_at_a_time() {
    let emulator = start(fast()).await;
    let (submitted, _) = complete(&emulator, KONTEXT, &edit_input()).await;
    let status_url = url(&submitted, "status_url");
    let whole = get(&emulator, &status_url)
        .await
        .bytes()
        .await
        .expect("body");
    let every = Duration::from_millis(3);
    emulator.set_faults(vec![FaultRule::once(Route::Status, Fault::Trickle(every))]);
    let started = tokio::time::Instant::now();
    let response = get(&emulator, &status_url).await;
    assert_eq!(response.content_length(), Some(whole.len() as u64));
    let chunks: Vec<_> = response.bytes_stream().collect().await;
    let body: Vec<u8> = chunks
        .iter()
        .flat_map(|chunk| chunk.as_ref().expect("chunk").to_vec())
        .collect();
    assert_eq!(body, whole.to_vec(), "the whole body, in the end");
    assert!(chunks.len() > 1, "in {} piece(s)", chunks.len());
    assert!(
        started.elapsed() >= every * whole.len() as u32,
        "each byte waited its turn"
    );
}

#[tokio::test]
async fn a_submit_cut_after_its_headers_names_the_job_it_created() {
    let (emulator, answer) = submit_with(Fault::CutAfterHeaders).await;
    let response = answer.expect("the headers come");
    assert_eq!(response.status(), 200);
    assert!(response.content_length().is_some_and(|length| length > 0));
    let id = response.headers()["x-fal-request-id"]
        .to_str()
        .expect("text")
        .to_owned();
    let body = response.bytes().await;
    assert!(body.is_err(), "the body never arrives: {body:?}");
    assert_eq!(emulator.stats().jobs_created, 1);
    let status_url = format!(
        "{}/fal-ai/flux-pro/requests/{id}/status",
        emulator.queue_url()
    );
    wait_completed(&emulator, &status_url).await;
}

#[tokio::test]
async fn a_submit_cut_before_any_header_still_created_its_job() {
    let (emulator, answer) = submit_with(Fault::CutBeforeHeaders).await;
    let error = answer.expect_err("no answer at all");
    assert!(!error.is_timeout() && !error.is_connect(), "{error:?}");
    assert_eq!(emulator.stats().jobs_created, 1);
    completed(&emulator, 1).await;
}

#[tokio::test]
async fn a_gateway_error_after_the_app_took_the_submit_carries_no_request_id() {
    for code in [502u16, 504] {
        let (emulator, answer) = submit_with(Fault::GatewayAfterApp(code)).await;
        let response = answer.expect("answered");
        assert_eq!(response.status().as_u16(), code);
        assert_eq!(response.headers()["content-type"], "text/html");
        assert!(
            !response.headers().contains_key("x-fal-request-id"),
            "{code}: as an ingress page"
        );
        assert!(response.text().await.expect("text").contains("nginx"));
        assert_eq!(emulator.stats().jobs_created, 1, "{code}: the job exists");
        completed(&emulator, 1).await;
    }
}

#[tokio::test]
async fn the_cdn_is_down_for_a_while_then_back() {
    let emulator = start(fast()).await;
    let image = an_image_url(&emulator).await;
    // long enough for the first download to fall within it on a busy machine
    let window = Duration::from_secs(2);
    emulator.set_faults(vec![FaultRule::cdn_down(window)]);
    let (status, content_type, _) = download(&image).await;
    assert_eq!((status, content_type.as_str()), (503, "text/html"));
    tokio::time::sleep(window).await;
    assert_eq!(download(&image).await.0, 200, "back after the window");

    emulator.set_faults(vec![FaultRule::times(Route::Cdn, Fault::Ingress(503), 2)]);
    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(download(&image).await.0);
    }
    assert_eq!(codes, [503, 503, 200], "back after two downloads");
}
