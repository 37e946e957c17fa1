//! The key: checked on the API origins, never wanted elsewhere.

use fal_emulator::{Config, Route};
use serde_json::{Value, json};

use crate::common::*;

async fn submit_with(
    emulator: &fal_emulator::Emulator,
    authorization: Option<&str>,
) -> reqwest::Response {
    let mut request = client()
        .post(format!("{}/{KONTEXT}", emulator.queue_url()))
        .json(&edit_input());
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.expect("answered")
}

#[tokio::test]
async fn a_missing_or_wrong_key_is_refused_with_fals_body() {
    let emulator = start(Config {
        key: "right".into(),
        ..fast()
    })
    .await;
    let missing = submit_with(&emulator, None).await;
    assert_eq!(missing.status(), 401);
    assert!(missing.json::<Value>().await.expect("JSON")["detail"].is_string());
    let wrong = submit_with(&emulator, Some("Key wrong")).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        wrong.json::<Value>().await.expect("JSON"),
        json!({"detail": "No user found for Key ID and Secret"})
    );
    let bearer = submit_with(&emulator, Some("Bearer right")).await;
    assert_eq!(bearer.status(), 401);
    let stats = emulator.stats();
    assert_eq!((stats.unauthorized, stats.jobs_created), (3, 0));

    assert_eq!(
        submit_with(&emulator, Some("Key right")).await.status(),
        200
    );
    let recorded: Vec<String> = emulator
        .requests()
        .iter()
        .filter_map(|r| {
            r.headers
                .iter()
                .find(|(n, _)| n == "authorization")
                .map(|(_, v)| v.clone())
        })
        .collect();
    assert_eq!(
        recorded,
        ["Key wrong", "Bearer right", "Key <redacted>"],
        "only the right key is redacted"
    );
}

#[tokio::test]
async fn every_api_route_wants_the_key() {
    let emulator = start(fast()).await;
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    let url = |field: &str| submitted[field].as_str().expect("url").to_owned();
    let no_key = client();
    let answers = [
        no_key.get(url("status_url")).send().await,
        no_key
            .get(format!("{}/stream", url("status_url")))
            .send()
            .await,
        no_key.get(url("response_url")).send().await,
        no_key.put(url("cancel_url")).send().await,
        no_key
            .post(format!("{}/{KONTEXT}", emulator.run_url()))
            .json(&edit_input())
            .send()
            .await,
        no_key
            .post(format!("{}/storage/upload/initiate", emulator.rest_url()))
            .json(&json!({"content_type": "a/b", "file_name": "x"}))
            .send()
            .await,
    ];
    for answer in answers {
        assert_eq!(answer.expect("answered").status(), 401);
    }
    assert_eq!(emulator.stats().unauthorized, 6);
    let openapi = no_key
        .get(format!(
            "{}/api/openapi/queue/openapi.json?endpoint_id={KONTEXT}",
            emulator.queue_url()
        ))
        .send()
        .await
        .expect("answered");
    assert_eq!(openapi.status(), 200, "the documents are public");
}

#[tokio::test]
async fn requests_are_recorded_in_order_with_their_json_bodies() {
    let emulator = start(fast()).await;
    let (submitted, _) = complete(&emulator, KONTEXT, &edit_input()).await;
    let recorded = emulator.requests();
    assert_eq!(recorded[0].route, Route::Submit);
    assert_eq!(recorded[0].method, "POST");
    assert_eq!(recorded[0].path, format!("/{KONTEXT}"));
    let body = recorded[0].body.as_ref().expect("JSON body recorded");
    assert_eq!(body["seed"], 42);
    assert_eq!(recorded.last().expect("result").route, Route::Result);
    let id = submitted["request_id"].as_str().expect("id");
    assert!(recorded.iter().skip(1).all(|r| r.path.contains(id)));

    let long = format!("data:image/png;base64,{}", "A".repeat(10_000));
    submit(
        &emulator,
        KONTEXT,
        &json!({"prompt": "p", "image_url": long}),
    )
    .await;
    let recorded = emulator.requests();
    let kept = recorded
        .last()
        .expect("submit")
        .body
        .as_ref()
        .expect("body")["image_url"]
        .as_str()
        .expect("string")
        .to_owned();
    assert!(
        kept.len() < 2200 && kept.ends_with("(10022 bytes)"),
        "long strings are cut: {}",
        kept.len()
    );
}
