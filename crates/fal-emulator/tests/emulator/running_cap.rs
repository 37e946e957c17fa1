//! A cap on the jobs one key runs at once (fal's per-account concurrency),
//! and `fal_max_queue_length`'s 429 at submit.

use std::time::Duration;

use fal_emulator::{Config, Emulator, Timing};
use serde_json::{Value, json};

use crate::common::*;

fn capped(cap: usize) -> Config {
    Config {
        max_running_per_key: Some(cap),
        timing: Timing {
            queue_delay: Duration::ZERO,
            processing_time: Duration::from_secs(60),
        },
        ..Config::default()
    }
}

/// Submits with `key`, and `query` after the endpoint; returns the answer.
async fn submit_as(emulator: &Emulator, key: &str, query: &str) -> reqwest::Response {
    client()
        .post(format!("{}/{KONTEXT}{query}", emulator.queue_url()))
        .header("authorization", format!("Key {key}"))
        .json(&edit_input())
        .send()
        .await
        .expect("submit is answered")
}

async fn status(emulator: &Emulator, submitted: &Value) -> Value {
    let url = submitted["status_url"].as_str().expect("status_url");
    get(emulator, url).await.json().await.expect("JSON")
}

#[tokio::test]
async fn a_key_runs_at_most_its_cap_and_the_rest_wait_in_order() {
    let emulator = start(capped(2)).await;
    let mut jobs = Vec::new();
    for _ in 0..4 {
        jobs.push(submit(&emulator, KONTEXT, &edit_input()).await);
    }
    for job in &jobs[..2] {
        wait_status(
            &emulator,
            job["status_url"].as_str().unwrap(),
            "IN_PROGRESS",
        )
        .await;
    }
    let waiting = [
        status(&emulator, &jobs[2]).await,
        status(&emulator, &jobs[3]).await,
    ];
    assert_eq!(
        waiting.map(|s| (s["status"].clone(), s["queue_position"].clone())),
        [(json!("IN_QUEUE"), json!(0)), (json!("IN_QUEUE"), json!(1))]
    );

    // Another key has slots of its own.
    let other = submit_as(&emulator, emulator.admin_key(), "").await;
    let other: Value = other.json().await.expect("JSON");
    wait_status(
        &emulator,
        other["status_url"].as_str().unwrap(),
        "IN_PROGRESS",
    )
    .await;
    assert_eq!(status(&emulator, &jobs[3]).await["status"], "IN_QUEUE");

    // A freed slot goes to the key's next job, and the one after moves up.
    emulator.set_timing(Timing {
        queue_delay: Duration::ZERO,
        processing_time: Duration::from_secs(30),
    });
    let cancel = client()
        .put(jobs[0]["cancel_url"].as_str().expect("url"))
        .header("authorization", auth(&emulator))
        .send()
        .await
        .expect("answered");
    assert_eq!(cancel.status(), 202);
    wait_status(
        &emulator,
        jobs[2]["status_url"].as_str().unwrap(),
        "IN_PROGRESS",
    )
    .await;
    let last = status(&emulator, &jobs[3]).await;
    assert_eq!(
        (last["status"].clone(), last["queue_position"].clone()),
        (json!("IN_QUEUE"), json!(0))
    );

    let stats = emulator.stats();
    assert_eq!(stats.jobs_waited_for_slot, 2);
    assert_eq!(stats.peak_queued_per_key, 2);
}

#[tokio::test]
async fn fal_max_queue_length_refuses_a_submit_with_429_when_the_queue_is_full() {
    let emulator = start(capped(1)).await;
    let key = emulator.key().to_owned();
    let running: Value = submit_as(&emulator, &key, "")
        .await
        .json()
        .await
        .expect("JSON");
    wait_status(
        &emulator,
        running["status_url"].as_str().unwrap(),
        "IN_PROGRESS",
    )
    .await;
    let limited = "?fal_max_queue_length=1";
    let queued = submit_as(&emulator, &key, limited).await;
    assert_eq!(queued.status(), 200, "the queue was empty");
    let refused = submit_as(&emulator, &key, limited).await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.expect("JSON");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("fal_max_queue_length"),
        "{body}"
    );
    assert_eq!(
        submit_as(&emulator, &key, "?fal_max_queue_length=2")
            .await
            .status(),
        200
    );
    assert_eq!(
        emulator.stats().jobs_created,
        3,
        "the refused submit made no job"
    );
}
