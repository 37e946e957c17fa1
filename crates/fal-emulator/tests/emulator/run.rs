//! The run origin: the synchronous call.

use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn run_answers_with_the_result_itself() {
    let emulator = start(fast()).await;
    let response = client()
        .post(format!("{}/{KONTEXT}", emulator.run_url()))
        .header("authorization", auth(&emulator))
        .json(&edit_input())
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-fal-request-id"));
    let output: Value = response.json().await.expect("JSON");
    assert_matches_output_schema(KONTEXT, &output);
    let stats = emulator.stats();
    assert_eq!((stats.run, stats.submit, stats.jobs_completed), (1, 0, 1));
}

#[tokio::test]
async fn run_refuses_a_bad_input_at_once_and_unknown_endpoints_with_404() {
    let emulator = start(fast()).await;
    let post = |url: String, body: Value| {
        let key = auth(&emulator);
        async move {
            client()
                .post(url)
                .header("authorization", key)
                .json(&body)
                .send()
                .await
                .expect("answered")
        }
    };
    let bad = post(
        format!("{}/{KONTEXT}", emulator.run_url()),
        json!({"image_url": "x"}),
    )
    .await;
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.expect("JSON");
    assert_eq!(
        body["detail"][0],
        json!({"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"})
    );
    assert_eq!(emulator.stats().jobs_created, 0);

    let unknown = post(
        format!("{}/fal-ai/unknown/model", emulator.run_url()),
        json!({}),
    )
    .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_422() {
    let emulator = start(fast()).await;
    let response = client()
        .post(format!("{}/{KONTEXT}", emulator.run_url()))
        .header("authorization", auth(&emulator))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["detail"][0]["type"], "json_invalid");
}
