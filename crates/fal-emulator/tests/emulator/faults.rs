//! Each fault, as a client meets it.

use std::time::Duration;

use fal_emulator::{Config, Fault, FaultRule, Route};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::common::*;

async fn submit_raw(emulator: &fal_emulator::Emulator) -> reqwest::Response {
    client()
        .post(format!("{}/{KONTEXT}", emulator.queue_url()))
        .header("authorization", auth(emulator))
        .json(&edit_input())
        .send()
        .await
        .expect("answered")
}

#[tokio::test]
async fn too_many_requests_carries_retry_after_and_spends_itself() {
    let emulator = start(Config {
        faults: vec![FaultRule::once(
            Route::Submit,
            Fault::TooManyRequests {
                retry_after_secs: 7,
            },
        )],
        ..fast()
    })
    .await;
    let first = submit_raw(&emulator).await;
    assert_eq!(first.status(), 429);
    assert_eq!(first.headers()["retry-after"], "7");
    assert_eq!(submit_raw(&emulator).await.status(), 200);
    let stats = emulator.stats();
    assert_eq!(
        (stats.submit, stats.faults_injected, stats.jobs_created),
        (2, 1, 1)
    );
}

#[tokio::test]
async fn ingress_errors_are_nginx_pages_and_create_no_job() {
    for code in [502u16, 503, 504] {
        let emulator = start(Config {
            faults: vec![FaultRule::once(Route::Submit, Fault::Ingress(code))],
            ..fast()
        })
        .await;
        let response = submit_raw(&emulator).await;
        assert_eq!(response.status().as_u16(), code);
        assert!(!response.headers().contains_key("x-fal-request-id"));
        assert_eq!(response.headers()["content-type"], "text/html");
        let body = response.text().await.expect("text");
        assert!(
            body.contains("nginx") && body.contains(&code.to_string()),
            "{body}"
        );
        assert_eq!(
            emulator.stats().jobs_created,
            0,
            "{code}: the request never reached the app"
        );
    }
}

#[tokio::test]
async fn an_app_error_on_submit_still_created_the_job() {
    let emulator = start(Config {
        faults: vec![FaultRule::once(Route::Submit, Fault::AppError)],
        ..fast()
    })
    .await;
    let response = submit_raw(&emulator).await;
    assert_eq!(response.status(), 500);
    assert!(
        response.headers().contains_key("x-fal-request-id"),
        "the app answered"
    );
    assert!(response.json::<Value>().await.expect("JSON")["detail"].is_string());
    for _ in 0..2000 {
        if emulator.stats().jobs_completed == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stats = emulator.stats();
    assert_eq!(
        (stats.jobs_created, stats.jobs_completed),
        (1, 1),
        "the request did land"
    );
}

#[tokio::test]
async fn a_reset_mid_body_breaks_the_read() {
    let emulator = start(fast()).await;
    let (submitted, _) = complete(&emulator, KONTEXT, &edit_input()).await;
    emulator.set_faults(vec![FaultRule::once(Route::Result, Fault::ResetMidBody)]);
    let outcome = async {
        let response = client()
            .get(submitted["response_url"].as_str().expect("url"))
            .header("authorization", auth(&emulator))
            .send()
            .await?;
        response.bytes().await
    }
    .await;
    assert!(
        outcome.is_err(),
        "the body should not arrive whole: {outcome:?}"
    );
    let again = get(&emulator, submitted["response_url"].as_str().expect("url")).await;
    assert_eq!(again.status(), 200, "the fault was spent");
}

#[tokio::test]
async fn a_truncated_download_is_shorter_than_promised() {
    let emulator = start(fast()).await;
    let (_, result) = complete(&emulator, KONTEXT, &edit_input()).await;
    let output: Value = result.json().await.expect("JSON");
    let url = output["images"][0]["url"].as_str().expect("url");
    emulator.set_faults(vec![FaultRule::once(Route::Cdn, Fault::Truncate)]);
    let response = client().get(url).send().await.expect("headers arrive");
    let promised = response.content_length().expect("a length is promised");
    assert_eq!(json!(promised), output["images"][0]["file_size"]);
    match response.bytes().await {
        Ok(bytes) => assert!((bytes.len() as u64) < promised),
        Err(error) => assert!(error.is_body() || error.is_decode(), "{error}"),
    }
    let (status, _, bytes) = download(url).await;
    assert_eq!(
        (status, json!(bytes.len())),
        (200, output["images"][0]["file_size"].clone())
    );
}

#[tokio::test]
async fn a_cut_status_stream_ends_without_completed() {
    let emulator = start(Config {
        faults: vec![FaultRule::once(Route::Stream, Fault::CutStreamAfter(1))],
        ..fast()
    })
    .await;
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    let url = format!("{}/stream", submitted["status_url"].as_str().expect("url"));
    let events = sse_events(get(&emulator, &url).await).await;
    assert_eq!(events.len(), 1);
    assert_ne!(events[0]["status"], "COMPLETED");
    let events = sse_events(get(&emulator, &url).await).await;
    assert_eq!(
        events.last().expect("events")["status"],
        "COMPLETED",
        "the next stream is whole"
    );
}

#[tokio::test]
async fn a_slow_body_trickles_but_arrives_whole() {
    let emulator = start(fast()).await;
    let (submitted, _) = complete(&emulator, KONTEXT, &edit_input()).await;
    let whole = get(&emulator, submitted["status_url"].as_str().expect("url"))
        .await
        .bytes()
        .await
        .expect("body");
    emulator.set_faults(vec![FaultRule::once(
        Route::Status,
        Fault::SlowBody(Duration::from_millis(100)),
    )]);
    let response = get(&emulator, submitted["status_url"].as_str().expect("url")).await;
    let chunks: Vec<_> = response.bytes_stream().collect().await;
    let body: Vec<u8> = chunks
        .iter()
        .flat_map(|chunk| chunk.as_ref().expect("chunk").to_vec())
        .collect();
    assert_eq!(body, whole.to_vec());
    assert!(
        chunks.len() >= 2,
        "the body came in {} piece(s)",
        chunks.len()
    );
}

#[tokio::test]
async fn malformed_json_is_a_200_that_does_not_parse() {
    let emulator = start(Config {
        faults: vec![FaultRule::once(Route::Status, Fault::MalformedJson)],
        ..fast()
    })
    .await;
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    let response = get(&emulator, submitted["status_url"].as_str().expect("url")).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("text");
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
}

#[tokio::test]
async fn injected_401_404_and_422_have_fals_bodies() {
    let emulator = start(Config {
        faults: vec![
            FaultRule::once(Route::Submit, Fault::Unauthorized),
            FaultRule::once(Route::Submit, Fault::NotFound),
            FaultRule::once(Route::Submit, Fault::Unprocessable),
        ],
        ..fast()
    })
    .await;
    let unauthorized = submit_raw(&emulator).await;
    assert_eq!(unauthorized.status(), 401);
    assert!(unauthorized.json::<Value>().await.expect("JSON")["detail"].is_string());
    let not_found = submit_raw(&emulator).await;
    assert_eq!(not_found.status(), 404);
    assert!(not_found.json::<Value>().await.expect("JSON")["detail"].is_string());
    let unprocessable = submit_raw(&emulator).await;
    assert_eq!(unprocessable.status(), 422);
    let detail = &unprocessable.json::<Value>().await.expect("JSON")["detail"][0];
    assert!(detail["loc"].is_array() && detail["msg"].is_string() && detail["type"].is_string());
    let stats = emulator.stats();
    assert_eq!(
        (
            stats.faults_injected,
            stats.unauthorized,
            stats.jobs_created
        ),
        (3, 0, 0)
    );
}

/// A rate is drawn from a fixed generator: two emulators with the same rules
/// fault the same requests.
#[tokio::test]
async fn rate_rules_are_deterministic_and_partial() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let emulator = start(Config {
            faults: vec![FaultRule::rate(Route::Any, Fault::Ingress(503), 0.5)],
            ..fast()
        })
        .await;
        let mut codes = Vec::new();
        for _ in 0..30 {
            codes.push(
                client()
                    .get(format!(
                        "{}/api/openapi/queue/openapi.json?endpoint_id={KONTEXT}",
                        emulator.queue_url()
                    ))
                    .send()
                    .await
                    .expect("answered")
                    .status()
                    .as_u16(),
            );
        }
        runs.push(codes);
    }
    assert_eq!(runs[0], runs[1]);
    let faulted = runs[0].iter().filter(|code| **code == 503).count();
    assert!((5..25).contains(&faulted), "{faulted} of 30 at rate 0.5");
    assert!(runs[0].iter().all(|code| matches!(code, 200 | 503)));
}

#[tokio::test]
async fn times_rules_fault_exactly_n_requests() {
    let emulator = start(fast()).await;
    emulator.set_faults(vec![FaultRule::times(
        Route::Submit,
        Fault::Ingress(502),
        2,
    )]);
    let codes = [
        submit_raw(&emulator).await.status().as_u16(),
        submit_raw(&emulator).await.status().as_u16(),
        submit_raw(&emulator).await.status().as_u16(),
    ];
    assert_eq!(codes, [502, 502, 200]);
    emulator.set_faults(vec![FaultRule::rate(
        Route::Submit,
        Fault::Ingress(502),
        1.0,
    )]);
    assert_eq!(submit_raw(&emulator).await.status(), 502);
    emulator.set_faults(Vec::new());
    assert_eq!(submit_raw(&emulator).await.status(), 200);
}
