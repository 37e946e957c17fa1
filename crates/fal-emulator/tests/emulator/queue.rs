//! The queue origin: submit, status, stream, result, cancel.

use std::time::Duration;

use fal_emulator::{Config, Timing};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn submit_answers_in_queue_with_urls_at_the_app_root() {
    let emulator = start(fast()).await;
    let response = client()
        .post(format!("{}/{KONTEXT}", emulator.queue_url()))
        .header("authorization", auth(&emulator))
        .json(&edit_input())
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200);
    let header_id = response.headers()["x-fal-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let answer: Value = response.json().await.expect("JSON");
    let id = answer["request_id"].as_str().expect("request_id");
    assert_eq!(header_id, id);
    let base = format!("{}/fal-ai/flux-pro/requests/{id}", emulator.queue_url());
    assert_eq!(
        answer,
        json!({
            "status": "IN_QUEUE",
            "request_id": id,
            "response_url": base,
            "status_url": format!("{base}/status"),
            "cancel_url": format!("{base}/cancel"),
            "logs": null,
            "metrics": {},
            "queue_position": 0,
        })
    );
}

#[tokio::test]
async fn a_job_completes_with_metrics_and_a_result_that_matches_the_output_schema() {
    let emulator = start(fast()).await;
    let (submitted, result) = complete(&emulator, KONTEXT, &edit_input()).await;
    let status = wait_completed(&emulator, submitted["status_url"].as_str().expect("url")).await;
    assert!(
        status["metrics"]["inference_time"]
            .as_f64()
            .expect("inference_time")
            >= 0.0
    );
    assert_eq!(
        status["logs"],
        Value::Null,
        "logs are null unless asked for"
    );
    assert!(status.get("error").is_none());
    assert_eq!(result.status(), 200);
    assert_eq!(
        result.headers()["x-fal-request-id"],
        submitted["request_id"].as_str().expect("id")
    );
    let output: Value = result.json().await.expect("JSON");
    assert_matches_output_schema(KONTEXT, &output);
    assert_eq!(output["seed"], 42);
    assert_eq!(output["prompt"], "put a donut next to the flour");
    assert_eq!(output["has_nsfw_concepts"], json!([false]));
    let stats = emulator.stats();
    assert_eq!(
        (stats.submit, stats.jobs_created, stats.jobs_completed),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn the_result_is_refused_while_the_job_is_not_done() {
    let emulator = start(Config {
        timing: Timing {
            queue_delay: Duration::from_secs(30),
            processing_time: Duration::ZERO,
        },
        ..Config::default()
    })
    .await;
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    let response = get(&emulator, submitted["response_url"].as_str().expect("url")).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["detail"], "Request is still in progress");
}

#[tokio::test]
async fn logs_are_sent_only_when_asked_for() {
    let emulator = start(fast()).await;
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    let status_url = submitted["status_url"].as_str().expect("url");
    wait_completed(&emulator, status_url).await;
    for asked in ["1", "true"] {
        let status: Value = get(&emulator, &format!("{status_url}?logs={asked}"))
            .await
            .json()
            .await
            .expect("JSON");
        let logs = status["logs"].as_array().expect("logs listed");
        assert_eq!(logs.len(), 3, "{status}");
        for line in logs {
            for field in ["message", "level", "source", "timestamp"] {
                assert!(line[field].is_string(), "{field} in {line}");
            }
        }
    }
    for not_asked in ["0", "false"] {
        let status: Value = get(&emulator, &format!("{status_url}?logs={not_asked}"))
            .await
            .json()
            .await
            .expect("JSON");
        assert_eq!(status["logs"], Value::Null);
    }
}

/// One slot, held by a long job: the others wait with real positions, and
/// cancelling the running job frees the slot for them.
#[tokio::test]
async fn jobs_beyond_the_concurrency_wait_with_real_positions() {
    let emulator = start(Config {
        concurrency: 1,
        timing: Timing {
            queue_delay: Duration::ZERO,
            processing_time: Duration::from_secs(60),
        },
        ..Config::default()
    })
    .await;
    let first = submit(&emulator, KONTEXT, &edit_input()).await;
    let first_status = first["status_url"].as_str().expect("url");
    let running = wait_status(&emulator, first_status, "IN_PROGRESS").await;
    assert!(running.get("queue_position").is_none());
    let second = submit(&emulator, KONTEXT, &edit_input()).await;
    let third = submit(&emulator, KONTEXT, &edit_input()).await;
    assert_eq!(
        (
            second["queue_position"].clone(),
            third["queue_position"].clone()
        ),
        (json!(0), json!(1))
    );

    let response = get(&emulator, third["status_url"].as_str().expect("url")).await;
    assert_eq!(response.status(), 202);
    let queued: Value = response.json().await.expect("JSON");
    assert_eq!(
        (queued["status"].clone(), queued["queue_position"].clone()),
        (json!("IN_QUEUE"), json!(1))
    );

    emulator.set_timing(Timing {
        queue_delay: Duration::ZERO,
        processing_time: Duration::from_millis(5),
    });
    let cancel = client()
        .put(first["cancel_url"].as_str().expect("url"))
        .header("authorization", auth(&emulator))
        .send()
        .await
        .expect("answered");
    assert_eq!(cancel.status(), 202);
    assert_eq!(
        cancel.json::<Value>().await.expect("JSON"),
        json!({"status": "CANCELLATION_REQUESTED"})
    );

    let done = wait_completed(&emulator, third["status_url"].as_str().expect("url")).await;
    assert!(done.get("error").is_none());
    let cancelled = wait_completed(&emulator, first_status).await;
    assert_eq!(cancelled["error_type"], "request_cancelled");
    let result = get(&emulator, first["response_url"].as_str().expect("url")).await;
    assert_eq!(result.status(), 400);
    let stats = emulator.stats();
    assert_eq!((stats.jobs_completed, stats.jobs_cancelled), (2, 1));
}

#[tokio::test]
async fn cancel_answers_follow_the_job_state() {
    let emulator = start(Config {
        timing: Timing {
            queue_delay: Duration::from_secs(60),
            processing_time: Duration::ZERO,
        },
        ..Config::default()
    })
    .await;
    let put = |url: String| {
        let key = auth(&emulator);
        async move {
            client()
                .put(url)
                .header("authorization", key)
                .send()
                .await
                .expect("answered")
        }
    };
    let queued = submit(&emulator, KONTEXT, &edit_input()).await;
    let cancel_url = queued["cancel_url"].as_str().expect("url").to_owned();
    let first = put(cancel_url.clone()).await;
    assert_eq!(first.status(), 202);
    let status = wait_completed(&emulator, queued["status_url"].as_str().expect("url")).await;
    assert_eq!(status["error_type"], "request_cancelled");
    let again = put(cancel_url).await;
    assert_eq!(again.status(), 400);
    assert_eq!(
        again.json::<Value>().await.expect("JSON"),
        json!({"status": "ALREADY_COMPLETED"})
    );

    let missing = put(format!(
        "{}/fal-ai/flux-pro/requests/nope/cancel",
        emulator.queue_url()
    ))
    .await;
    assert_eq!(missing.status(), 404);
    assert_eq!(emulator.stats().jobs_cancelled, 1);
}

/// Cancels racing completion: whatever the timing, a 202 always means a
/// cancelled job and a 400 a delivered result, and every job is counted once.
#[tokio::test]
async fn cancellation_races_resolve_consistently() {
    let emulator = start(Config {
        concurrency: 4,
        timing: Timing {
            queue_delay: Duration::ZERO,
            processing_time: Duration::from_millis(3),
        },
        log_lines: 1,
        ..Config::default()
    })
    .await;
    let jobs = futures::stream::iter(0..24u64)
        .map(|i| {
            let emulator = &emulator;
            async move {
                let submitted = submit(emulator, KONTEXT, &edit_input()).await;
                // Spread the cancels over the job's life.
                tokio::time::sleep(Duration::from_millis(i % 8 * 2)).await;
                let cancel = client()
                    .put(submitted["cancel_url"].as_str().expect("url"))
                    .header("authorization", auth(emulator))
                    .send()
                    .await
                    .expect("answered")
                    .status()
                    .as_u16();
                wait_completed(emulator, submitted["status_url"].as_str().expect("url")).await;
                let result = get(emulator, submitted["response_url"].as_str().expect("url")).await;
                (cancel, result.status().as_u16())
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    for (cancel, result) in &jobs {
        match cancel {
            202 => assert_eq!(*result, 400, "a cancelled job has no result"),
            400 => assert_eq!(*result, 200, "an uncancellable job kept its result"),
            other => panic!("cancel answered {other}"),
        }
    }
    let stats = emulator.stats();
    let cancelled = jobs.iter().filter(|(cancel, _)| *cancel == 202).count() as u64;
    assert_eq!(stats.jobs_cancelled, cancelled);
    assert_eq!(stats.jobs_cancelled + stats.jobs_completed, 24);
}

#[tokio::test]
async fn request_urls_also_work_under_the_full_endpoint_path_but_not_another_app() {
    let emulator = start(fast()).await;
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    let id = submitted["request_id"].as_str().expect("id");
    let full = format!("{}/{KONTEXT}/requests/{id}/status", emulator.queue_url());
    wait_completed(&emulator, &full).await;
    let result = get(
        &emulator,
        &format!("{}/{KONTEXT}/requests/{id}", emulator.queue_url()),
    )
    .await;
    assert_eq!(result.status(), 200);
    let other = get(
        &emulator,
        &format!(
            "{}/fal-ai/flux-kontext/requests/{id}/status",
            emulator.queue_url()
        ),
    )
    .await;
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn the_status_stream_sends_each_change_once_and_closes_after_completed() {
    let emulator = start(Config {
        timing: Timing {
            queue_delay: Duration::from_millis(30),
            processing_time: Duration::from_millis(60),
        },
        ..Config::default()
    })
    .await;
    let submitted = submit(&emulator, KONTEXT, &edit_input()).await;
    let url = format!(
        "{}/stream?logs=1",
        submitted["status_url"].as_str().expect("url")
    );
    let response = get(&emulator, &url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = sse_events(response).await;
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses.last(), Some(&"COMPLETED"), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == "COMPLETED").count(), 1);
    let first_running = statuses
        .iter()
        .position(|s| *s == "IN_PROGRESS")
        .expect("IN_PROGRESS seen");
    assert!(
        statuses[..first_running].iter().all(|s| *s == "IN_QUEUE"),
        "{statuses:?}"
    );
    let lines: usize = events
        .iter()
        .map(|e| e["logs"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(lines, 3, "each log line is streamed once: {events:?}");
    assert_eq!(emulator.stats().stream, 1);
}

#[tokio::test]
async fn invalid_input_is_reported_by_the_result_call() {
    let emulator = start(fast()).await;
    let input = json!({"prompt": "p", "image_url": png_data_uri(8, 8), "num_images": 9});
    let (submitted, result) = complete(&emulator, KONTEXT, &input).await;
    let status = wait_completed(&emulator, submitted["status_url"].as_str().expect("url")).await;
    assert_eq!(status["error_type"], "validation_error");
    assert_eq!(result.status(), 422);
    let body: Value = result.json().await.expect("JSON");
    assert_eq!(
        body["detail"][0],
        json!({"loc": ["body", "num_images"], "msg": "Input should be less than or equal to 4",
               "type": "less_than_equal", "input": 9, "ctx": {"le": 4}})
    );
}

#[tokio::test]
async fn eager_validation_answers_422_at_submit_and_creates_no_job() {
    let emulator = start(Config {
        eager_validation: true,
        ..fast()
    })
    .await;
    let response = client()
        .post(format!("{}/{KONTEXT}", emulator.queue_url()))
        .header("authorization", auth(&emulator))
        .json(&json!({"prompt": "p"}))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "image_url"]));
    assert_eq!(body["detail"][0]["type"], "missing");
    assert_eq!(emulator.stats().jobs_created, 0);
}

#[tokio::test]
async fn unknown_endpoints_and_requests_are_404() {
    let emulator = start(fast()).await;
    let response = client()
        .post(format!("{}/fal-ai/not-a-model", emulator.queue_url()))
        .header("authorization", auth(&emulator))
        .json(&json!({}))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 404);
    let status = get(
        &emulator,
        &format!(
            "{}/fal-ai/flux-pro/requests/nope/status",
            emulator.queue_url()
        ),
    )
    .await;
    assert_eq!(status.status(), 404);
}

#[tokio::test]
async fn a_request_timeout_that_passes_in_the_queue_ends_the_job_with_504() {
    let emulator = start(Config {
        timing: Timing {
            queue_delay: Duration::from_secs(60),
            processing_time: Duration::ZERO,
        },
        ..Config::default()
    })
    .await;
    let response = client()
        .post(format!("{}/{KONTEXT}", emulator.queue_url()))
        .header("authorization", auth(&emulator))
        .header("x-fal-request-timeout", "0.2")
        .header("x-fal-queue-priority", "low")
        .header("x-fal-runner-hint", "runner-7")
        .json(&edit_input())
        .send()
        .await
        .expect("answered");
    let submitted: Value = response.json().await.expect("JSON");
    let status = wait_completed(&emulator, submitted["status_url"].as_str().expect("url")).await;
    assert_eq!(status["error_type"], "request_timeout");
    let result = get(&emulator, submitted["response_url"].as_str().expect("url")).await;
    assert_eq!(result.status(), 504);
    assert_eq!(result.headers()["x-fal-request-timeout-type"], "user");

    let recorded = emulator.requests();
    let headers = &recorded
        .iter()
        .find(|r| r.route == fal_emulator::Route::Submit)
        .expect("recorded")
        .headers;
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("x-fal-queue-priority"), Some("low"));
    assert_eq!(header("x-fal-runner-hint"), Some("runner-7"));
}

#[tokio::test]
async fn webhooks_receive_the_result_on_loopback() {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Value>(1);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let sender = sender.clone();
            async move {
                let _ = sender.send(body).await;
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let emulator = start(fast()).await;
    let response = client()
        .post(format!("{}/{KONTEXT}", emulator.queue_url()))
        .query(&[("fal_webhook", &hook)])
        .header("authorization", auth(&emulator))
        .json(&edit_input())
        .send()
        .await
        .expect("answered");
    let submitted: Value = response.json().await.expect("JSON");
    let payload = tokio::time::timeout(Duration::from_secs(20), receiver.recv())
        .await
        .expect("webhook called")
        .expect("payload");
    assert_eq!(payload["request_id"], submitted["request_id"]);
    assert_eq!(payload["status"], "OK");
    assert_matches_output_schema(KONTEXT, &payload["payload"]);
}

/// A thousand jobs held at once (positions up to 999), all completed, with
/// the emulator's memory staying small.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_jobs_are_held_and_completed() {
    const JOBS: u64 = 1000;
    let emulator = start(Config {
        concurrency: 16,
        log_lines: 1,
        timing: Timing {
            queue_delay: Duration::from_secs(3600),
            processing_time: Duration::from_millis(1),
        },
        ..Config::default()
    })
    .await;
    let before = resident_kib();
    let input = json!({"prompt": "p", "seed": 1, "aspect_ratio": "1:1"});
    let answers: Vec<Value> = futures::stream::iter(0..JOBS)
        .map(|_| submit(&emulator, "fal-ai/flux-pro/kontext/text-to-image", &input))
        .buffer_unordered(32)
        .collect()
        .await;
    let mut positions: Vec<u64> = answers
        .iter()
        .filter_map(|a| a["queue_position"].as_u64())
        .collect();
    positions.sort_unstable();
    assert_eq!(
        positions,
        (0..JOBS).collect::<Vec<_>>(),
        "each job had its own place in one queue"
    );
    let held = get(&emulator, answers[0]["status_url"].as_str().expect("url")).await;
    assert_eq!(held.status(), 202);

    // Release the queue: they drain through 16 slots.
    emulator.set_timing(Timing {
        queue_delay: Duration::ZERO,
        processing_time: Duration::from_millis(1),
    });

    for _ in 0..6000 {
        if emulator.stats().jobs_completed == JOBS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(emulator.stats().jobs_completed, JOBS);
    let last = answers.last().expect("answers");
    let result = get(&emulator, last["response_url"].as_str().expect("url")).await;
    assert_eq!(result.status(), 200);
    if let (Some(before), Some(after)) = (before, resident_kib()) {
        let grown_mib = after.saturating_sub(before) / 1024;
        assert!(grown_mib < 256, "resident memory grew by {grown_mib} MiB");
    }
}

/// This process's resident set, where /proc tells it.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test]
async fn the_stats_are_served_as_json_on_the_queue_origin() {
    let emulator = start(fast()).await;
    complete(&emulator, KONTEXT, &edit_input()).await;
    let stats: fal_emulator::Stats = client()
        .get(format!("{}/__emulator/stats", emulator.queue_url()))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("Stats JSON");
    assert_eq!(stats, emulator.stats());
    assert_eq!(
        (stats.submit, stats.result, stats.jobs_completed),
        (1, 1, 1)
    );
    assert!(stats.status >= 1);
}

#[tokio::test]
async fn the_openapi_documents_are_served_byte_for_byte() {
    let emulator = start(fast()).await;
    let endpoints = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../openapi/endpoints.txt"
    ))
    .expect("endpoint list");
    let ids: Vec<&str> = endpoints
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    for id in &ids {
        let response = client()
            .get(format!(
                "{}/api/openapi/queue/openapi.json",
                emulator.queue_url()
            ))
            .query(&[("endpoint_id", id)])
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), 200, "{id}");
        let served = response.text().await.expect("text");
        let vendored = std::fs::read_to_string(format!(
            "{}/../../openapi/{}.json",
            env!("CARGO_MANIFEST_DIR"),
            id.replace('/', "__")
        ))
        .expect("vendored");
        assert_eq!(served, vendored, "{id}");
    }
    let missing = client()
        .get(format!(
            "{}/api/openapi/queue/openapi.json?endpoint_id=fal-ai/nope",
            emulator.queue_url()
        ))
        .send()
        .await
        .expect("answered");
    assert_eq!(missing.status(), 404);
    assert_eq!(emulator.stats().openapi, ids.len() as u64 + 1);
}
