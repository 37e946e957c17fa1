//! The faults a client must live through on the real service: an ingress
//! outage, a silent stream, lean answers, URLs on a foreign host, the
//! caller's own start deadline, an absurd `Retry-After`; and the request id
//! that tells fal's app from its ingress.

use std::time::Duration;

use fal_emulator::{Config, Emulator, Fault, FaultRule, Route, Timing};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::common::*;

/// Jobs held in the queue until the test releases them.
pub fn held() -> Config {
    Config {
        timing: Timing {
            queue_delay: Duration::from_secs(600),
            processing_time: Duration::from_millis(10),
        },
        ..Config::default()
    }
}

pub fn release(emulator: &Emulator) {
    emulator.set_timing(Timing {
        queue_delay: Duration::ZERO,
        processing_time: Duration::from_millis(10),
    });
}

pub fn url(answer: &Value, name: &str) -> String {
    answer[name].as_str().expect(name).to_owned()
}

/// Waits (bounded) until the emulator has finished `n` jobs.
pub async fn completed(emulator: &Emulator, n: u64) {
    for _ in 0..2000 {
        if emulator.stats().jobs_completed >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{n} job(s) never completed");
}

/// Opens the job's status stream and reads its first event.
async fn open_stream(
    emulator: &Emulator,
    submitted: &Value,
) -> impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + use<> {
    let url = format!("{}/stream", url(submitted, "status_url"));
    let mut frames = get(emulator, &url).await.bytes_stream();
    let first = frames.next().await.expect("an event").expect("bytes");
    assert!(first.starts_with(b"data: "), "{first:?}");
    frames
}

/// `POST url` with a JSON body and this `Authorization`.
async fn post(url: &str, authorization: &str, body: &Value) -> reqwest::Response {
    client()
        .post(url)
        .header("authorization", authorization)
        .json(body)
        .send()
        .await
        .expect("answered")
}

fn assert_ingress_page(response: &reqwest::Response, what: &str) {
    assert_eq!(response.status(), 502, "{what}");
    assert_eq!(response.headers()["content-type"], "text/html", "{what}");
    assert!(
        !response.headers().contains_key("x-fal-request-id"),
        "{what}: an ingress page has no request id"
    );
}

#[tokio::test]
async fn an_outage_answers_every_queue_call_with_an_nginx_502_and_cuts_open_streams() {
    let emulator = start(held()).await;
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    let frames = open_stream(&emulator, &submitted).await;

    emulator.set_faults(vec![FaultRule::outage(Duration::from_secs(600))]);
    let rest: Vec<_> = frames.collect().await;
    assert!(
        rest.last().is_some_and(Result::is_err),
        "the open stream is cut, not closed cleanly: {rest:?}"
    );

    let calls = [
        (
            "submit",
            reqwest::Method::POST,
            format!("{}/{KONTEXT}", emulator.queue_url()),
        ),
        (
            "status",
            reqwest::Method::GET,
            url(&submitted, "status_url"),
        ),
        (
            "stream",
            reqwest::Method::GET,
            format!("{}/stream", url(&submitted, "status_url")),
        ),
        (
            "result",
            reqwest::Method::GET,
            url(&submitted, "response_url"),
        ),
        (
            "cancel",
            reqwest::Method::PUT,
            url(&submitted, "cancel_url"),
        ),
    ];
    for (what, method, target) in calls {
        let response = client()
            .request(method, target)
            .header("authorization", auth(&emulator))
            .json(&edit_input())
            .send()
            .await
            .expect("answered");
        assert_ingress_page(&response, what);
        assert!(response.text().await.expect("text").contains("nginx"));
    }
    let stats = emulator.stats();
    assert_eq!(
        (stats.jobs_created, stats.cancel, stats.jobs_cancelled),
        (1, 1, 0),
        "the outage let no submit or cancel through"
    );

    // The app behind the ingress goes on: the job finishes during the outage.
    release(&emulator);
    completed(&emulator, 1).await;
    emulator.set_faults(Vec::new());
    let result = get(&emulator, &url(&submitted, "response_url")).await;
    assert_eq!(result.status(), 200, "the job lived through the outage");
}

#[tokio::test]
async fn an_outage_ends_when_its_window_does() {
    let emulator = start(fast()).await;
    let target = format!(
        "{}/fal-ai/flux-pro/requests/nope/status",
        emulator.queue_url()
    );
    let input = edit_input();
    let _warm = client();
    emulator.set_faults(vec![FaultRule::outage(Duration::from_secs(1))]);
    // The first answers are the ingress page, then the app's (a 404 for
    // this unknown request), and never the page again.
    let mut codes = Vec::new();
    for _ in 0..400 {
        let code = get(&emulator, &target).await.status().as_u16();
        codes.push(code);
        if code != 502 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(codes.first(), Some(&502), "{codes:?}");
    assert_eq!(codes.last(), Some(&404), "{codes:?}");
    let (_, result) = complete(&emulator, KONTEXT, &input).await;
    assert_eq!(result.status(), 200, "after the window the queue answers");
    assert_eq!(emulator.stats().jobs_created, 1);
}

#[tokio::test]
async fn an_outage_leaves_the_cdn_alone() {
    let emulator = start(fast()).await;
    let (_, result) = complete(&emulator, KONTEXT, &edit_input()).await;
    let output: Value = result.json().await.expect("JSON");
    emulator.set_faults(vec![FaultRule::outage(Duration::from_secs(600))]);
    let (status, _, bytes) = download(output["images"][0]["url"].as_str().expect("url")).await;
    assert_eq!(
        (status, json!(bytes.len())),
        (200, output["images"][0]["file_size"].clone())
    );
}

#[tokio::test]
async fn an_idle_stream_sends_keep_alive_comments() {
    let emulator = start(Config {
        keep_alive: Duration::from_millis(20),
        ..held()
    })
    .await;
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    let mut frames = open_stream(&emulator, &submitted).await;
    let second = frames.next().await.expect("a keep-alive").expect("bytes");
    assert_eq!(&second[..], b": keep-alive\n\n");
    release(&emulator);
    let rest: Vec<u8> = frames
        .flat_map(|frame| futures::stream::iter(frame.expect("bytes").to_vec()))
        .collect()
        .await;
    assert!(
        String::from_utf8_lossy(&rest).contains("\"COMPLETED\""),
        "keep-alives do not end the stream"
    );
}

#[tokio::test]
async fn a_silent_stream_sends_nothing_more_and_stays_open() {
    let emulator = start(Config {
        keep_alive: Duration::from_millis(20),
        faults: vec![FaultRule::once(Route::Stream, Fault::SilentStreamAfter(1))],
        ..held()
    })
    .await;
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    let mut frames = open_stream(&emulator, &submitted).await;
    release(&emulator);
    completed(&emulator, 1).await;
    // A live stream would now have sent COMPLETED, and keep-alives every 20 ms.
    let next = tokio::time::timeout(Duration::from_millis(300), frames.next()).await;
    assert!(
        next.is_err(),
        "neither a byte nor the end of the stream: {next:?}"
    );
    let status = get(&emulator, &url(&submitted, "status_url")).await;
    assert_eq!(status.status(), 200, "the job itself completed");
}

#[tokio::test]
async fn lean_answers_carry_only_the_status_and_the_image_urls() {
    let emulator = start(Config {
        faults: vec![FaultRule::rate(Route::Any, Fault::Lean, 1.0)],
        ..fast()
    })
    .await;
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    assert!(
        submitted["request_id"].is_string() && submitted["status_url"].is_string(),
        "a submit answer keeps what fal's clients read from it: {submitted}"
    );
    let stream = get(
        &emulator,
        &format!("{}/stream?logs=1", url(&submitted, "status_url")),
    )
    .await;
    for event in sse_events(stream).await {
        assert_eq!(event.as_object().map(|o| o.len()), Some(1), "{event}");
        assert!(event["status"].is_string(), "{event}");
    }
    let status: Value = get(
        &emulator,
        &format!("{}?logs=1", url(&submitted, "status_url")),
    )
    .await
    .json()
    .await
    .expect("JSON");
    assert_eq!(status, json!({"status": "COMPLETED"}));
    let result = get(&emulator, &url(&submitted, "response_url")).await;
    assert_eq!(result.status(), 200);
    let output: Value = result.json().await.expect("JSON");
    let image_url = output["images"][0]["url"].as_str().expect("url");
    assert_eq!(output, json!({"images": [{"url": image_url}]}));
    assert_eq!(download(image_url).await.0, 200);
}

#[tokio::test]
async fn foreign_urls_point_at_another_host_that_counts_the_keys_it_is_sent() {
    let emulator = start(Config {
        faults: vec![FaultRule::rate(Route::Any, Fault::ForeignUrls, 1.0)],
        ..fast()
    })
    .await;
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    for name in ["status_url", "response_url", "cancel_url"] {
        assert!(
            url(&submitted, name).starts_with(&format!("{}/", emulator.foreign_url())),
            "{name}: {submitted}"
        );
    }
    assert_ne!(emulator.foreign_url(), emulator.queue_url());

    // Without a key the foreign host still answers, and records nothing.
    let status_url = url(&submitted, "status_url");
    let anonymous = client().get(&status_url).send().await.expect("answered");
    assert!(matches!(anonymous.status().as_u16(), 200 | 202));
    let status: Value = anonymous.json().await.expect("JSON");
    assert!(url(&status, "response_url").starts_with(emulator.foreign_url()));
    let stats = emulator.stats();
    assert_eq!(
        (
            stats.foreign_requests,
            stats.foreign_authorizations,
            stats.key_leaks
        ),
        (1, 0, 0)
    );
    assert_eq!(stats.status, 0, "the queue origin's own counters are apart");

    // A client that sends its key there is caught.
    get(&emulator, &status_url).await;
    let stats = emulator.stats();
    assert_eq!(
        (
            stats.foreign_requests,
            stats.foreign_authorizations,
            stats.key_leaks
        ),
        (2, 1, 1)
    );
    client()
        .get(&status_url)
        .header("authorization", "Bearer something-else")
        .send()
        .await
        .expect("answered");
    let stats = emulator.stats();
    assert_eq!(
        (stats.foreign_authorizations, stats.key_leaks),
        (2, 1),
        "any Authorization header is counted; only the key is a key leak"
    );
    let submit_there = client()
        .post(format!("{}/{KONTEXT}", emulator.foreign_url()))
        .json(&edit_input())
        .send()
        .await
        .expect("answered");
    assert_eq!(
        submit_there.status(),
        404,
        "the foreign host takes no submits"
    );
}

#[tokio::test]
async fn a_user_timeout_ends_the_job_with_fals_504() {
    let emulator = start(Config {
        faults: vec![FaultRule::once(Route::Submit, Fault::UserTimeout)],
        ..fast()
    })
    .await;
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    let status = wait_completed(&emulator, &url(&submitted, "status_url")).await;
    assert_eq!(
        (&status["error"], &status["error_type"]),
        (&json!("Request timed out"), &json!("request_timeout"))
    );
    let result = get(&emulator, &url(&submitted, "response_url")).await;
    assert_eq!(result.status(), 504);
    let headers = result.headers();
    assert_eq!(headers["x-fal-request-timeout-type"], "user");
    assert_eq!(headers["x-fal-error-type"], "request_timeout");
    assert_eq!(
        headers["x-fal-request-id"],
        submitted["request_id"].as_str().expect("id")
    );
    let stats = emulator.stats();
    assert_eq!((stats.jobs_created, stats.faults_injected), (1, 1));
}

#[tokio::test]
async fn a_user_timeout_on_the_run_origin_answers_504() {
    let emulator = start(Config {
        faults: vec![FaultRule::once(Route::Run, Fault::UserTimeout)],
        ..fast()
    })
    .await;
    let response = post(
        &format!("{}/{KONTEXT}", emulator.run_url()),
        &auth(&emulator),
        &edit_input(),
    )
    .await;
    assert_eq!(response.status(), 504);
    assert_eq!(response.headers()["x-fal-request-timeout-type"], "user");
    assert_eq!(response.headers()["x-fal-error-type"], "request_timeout");
}

#[tokio::test]
async fn an_absurd_retry_after_is_sent_as_is() {
    let absurd = [
        "1e20",
        "18446744073709551616",
        "-1",
        "inf",
        "soon",
        "\r\nx: y",
    ];
    let emulator = start(Config {
        faults: absurd
            .iter()
            .map(|text| FaultRule::once(Route::Status, Fault::AbsurdRetryAfter((*text).into())))
            .collect(),
        ..fast()
    })
    .await;
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    for text in absurd {
        let response = get(&emulator, &url(&submitted, "status_url")).await;
        assert_eq!(response.status(), 429, "{text:?}");
        let sent = response
            .headers()
            .get("retry-after")
            .map(|v| v.as_bytes().to_vec());
        if text.contains('\n') {
            assert_eq!(sent, None, "not a header value: none is sent");
        } else {
            assert_eq!(sent.as_deref(), Some(text.as_bytes()));
        }
    }
    assert_eq!(
        get(&emulator, &url(&submitted, "status_url"))
            .await
            .status()
            .as_u16()
            / 100,
        2
    );
}

/// fal's gateway gives every answer past its ingress a request id; fal's
/// clients tell an ingress error page by its absence.
#[tokio::test]
async fn every_queue_answer_from_the_app_carries_a_request_id() {
    let emulator = start(Config {
        eager_validation: true,
        ..fast()
    })
    .await;
    let queue = emulator.queue_url().to_owned();
    let unknown_request = get(
        &emulator,
        &format!("{queue}/fal-ai/flux-pro/requests/nope/status"),
    )
    .await;
    let unknown_app = post(
        &format!("{queue}/fal-ai/not-a-model"),
        &auth(&emulator),
        &json!({}),
    )
    .await;
    let wrong_key = post(&format!("{queue}/{KONTEXT}"), "Key wrong", &edit_input()).await;
    let invalid = post(
        &format!("{queue}/{KONTEXT}"),
        &auth(&emulator),
        &json!({"prompt": "p"}),
    )
    .await;
    emulator.set_faults(vec![FaultRule::once(
        Route::Submit,
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
    )]);
    let throttled = post(
        &format!("{queue}/{KONTEXT}"),
        &auth(&emulator),
        &edit_input(),
    )
    .await;
    for (what, response, code) in [
        ("unknown request", unknown_request, 404),
        ("unknown app", unknown_app, 404),
        ("wrong key", wrong_key, 401),
        ("invalid input", invalid, 422),
        ("throttled", throttled, 429),
    ] {
        assert_eq!(response.status(), code, "{what}");
        let id = response.headers().get("x-fal-request-id");
        assert!(
            id.is_some_and(|id| !id.is_empty()),
            "{what}: no x-fal-request-id"
        );
    }
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    emulator.set_faults(vec![FaultRule::once(Route::Status, Fault::Ingress(502))]);
    assert_ingress_page(
        &get(&emulator, &url(&submitted, "status_url")).await,
        "ingress 502",
    );
}
