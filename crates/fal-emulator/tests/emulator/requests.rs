//! The Platform APIs' request history and payload deletion over HTTP: the
//! filters and the window, the error shape, the scopes, the run origin's
//! requests, and the deletion's idempotency key.

use fal_emulator::{Emulator, Fault, FaultRule, Route};
use serde_json::{Value, json};

use crate::common::*;

const PRO: &str = "fal-ai/flux-pro/kontext";

/// `GET {platform}/models/requests/by-endpoint?{query}` with `key`.
async fn history(emulator: &Emulator, query: &str, key: &str) -> (u16, Value) {
    let response = client()
        .get(format!(
            "{}/models/requests/by-endpoint?{query}",
            emulator.platform_url()
        ))
        .header("authorization", format!("Key {key}"))
        .send()
        .await
        .expect("answered");
    (
        response.status().as_u16(),
        response.json().await.expect("JSON"),
    )
}

/// `DELETE {platform}/models/requests/{id}/payloads` with `key`.
async fn delete(
    emulator: &Emulator,
    id: &str,
    key: &str,
    idempotency: Option<&str>,
) -> (u16, Value) {
    let mut request = client()
        .delete(format!(
            "{}/models/requests/{id}/payloads",
            emulator.platform_url()
        ))
        .header("authorization", format!("Key {key}"));
    if let Some(idempotency) = idempotency {
        request = request.header("idempotency-key", idempotency);
    }
    let response = request.send().await.expect("answered");
    (
        response.status().as_u16(),
        response.json().await.expect("JSON"),
    )
}

#[tokio::test]
async fn bad_parameters_get_the_platform_error_shape() {
    let emulator = start(fast()).await;
    let key = emulator.key().to_owned();
    for query in [
        "",
        "endpoint_id=a&limit=0",
        "endpoint_id=a&limit=101",
        "endpoint_id=a&cursor=nope",
        "endpoint_id=a&start=yesterday",
        "endpoint_id=a&status=ok",
        "endpoint_id=a&expand=billing",
        "endpoint_id=a&sort_by=cost",
    ] {
        let (status, body) = history(&emulator, query, &key).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["type"], "validation_error", "{query}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        assert!(body["error"]["request_id"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn run_and_queue_requests_are_listed_within_their_window() {
    let emulator = start(fast()).await;
    let key = emulator.key().to_owned();
    let (queued, _) = complete(&emulator, PRO, &edit_input()).await;
    let ran = client()
        .post(format!("{}/{PRO}", emulator.run_url()))
        .header("authorization", auth(&emulator))
        .header("x-fal-store-io", "0")
        .json(&edit_input())
        .send()
        .await
        .unwrap();
    assert_eq!(ran.status(), 200);

    let (status, body) = history(
        &emulator,
        &format!("endpoint_id={PRO}&expand=payloads"),
        &key,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{body}");
    assert_eq!(
        (body["next_cursor"].clone(), body["has_more"].clone()),
        (Value::Null, json!(false))
    );
    let queued_item = items
        .iter()
        .find(|i| i["request_id"] == queued["request_id"])
        .unwrap();
    assert_eq!(queued_item["json_input"], edit_input());
    assert_eq!(queued_item["status_code"], 200);
    let run_item = items
        .iter()
        .find(|i| i["request_id"] != queued["request_id"])
        .unwrap();
    assert_eq!(run_item["json_input"], Value::Null, "x-fal-store-io: 0");

    // a window in the past, and one given as dates, hold nothing and both
    let (_, past) = history(
        &emulator,
        &format!("endpoint_id={PRO}&end=2020-01-01"),
        &key,
    )
    .await;
    assert_eq!(past["items"], json!([]));
    let (_, dated) = history(
        &emulator,
        &format!("endpoint_id={PRO}&start=2020-01-01&end=2999-01-01T00:00:00Z"),
        &key,
    )
    .await;
    assert_eq!(dated["items"].as_array().unwrap().len(), 2);
    // another endpoint's history, and a status none has
    let (_, other) = history(&emulator, "endpoint_id=fal-ai/flux-kontext/dev", &key).await;
    assert_eq!(other["items"], json!([]));
    let (_, failed) = history(&emulator, &format!("endpoint_id={PRO}&status=error"), &key).await;
    assert_eq!(failed["items"], json!([]));
}

#[tokio::test]
async fn only_the_admin_key_deletes_and_a_key_repeats_its_answer() {
    let emulator = start(fast()).await;
    let (submitted, result) = complete(&emulator, PRO, &edit_input()).await;
    let id = submitted["request_id"].as_str().unwrap();
    let output: Value = result.json().await.unwrap();
    let url = output["images"][0]["url"].as_str().unwrap().to_owned();

    let (status, body) = delete(&emulator, id, emulator.key(), None).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["type"], "authorization_error");
    assert!(body["error"]["message"].as_str().unwrap().contains("ADMIN"));
    assert_eq!(download(&url).await.0, 200, "nothing deleted");

    // the admin key is accepted wherever the key is
    let admin = emulator.admin_key().to_owned();
    let (status, _) = history(&emulator, &format!("endpoint_id={PRO}"), &admin).await;
    assert_eq!(status, 200);

    let (status, first) = delete(&emulator, id, &admin, Some("k1")).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        first,
        json!({"cdn_delete_results": [{"link": url, "exception": null}]})
    );
    assert_eq!(download(&url).await.0, 404);
    let (_, again) = delete(&emulator, id, &admin, Some("k1")).await;
    assert_eq!(again, first, "the same key, the first answer");
    let (_, fresh) = delete(&emulator, id, &admin, None).await;
    assert_eq!(fresh, json!({"cdn_delete_results": []}));
    let (status, unknown) = delete(&emulator, "no-such-request", &admin, None).await;
    assert_eq!(status, 404);
    assert_eq!(unknown["error"]["type"], "not_found");

    let recorded: Vec<String> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::DeletePayloads)
        .flat_map(|r| {
            r.headers
                .into_iter()
                .filter(|(n, _)| n == "authorization")
                .map(|(_, v)| v)
        })
        .collect();
    assert_eq!(recorded[0], "Key <redacted>");
    assert!(
        recorded[1..]
            .iter()
            .all(|v| v == "Key <redacted admin key>"),
        "{recorded:?}"
    );
    assert_eq!(emulator.stats().payload_deletions, 5);
}

#[tokio::test]
async fn the_platform_rate_limit_has_no_retry_after() {
    let emulator = start(fast()).await;
    emulator.set_faults(vec![FaultRule::once(
        Route::History,
        Fault::PlatformRateLimited,
    )]);
    let response = client()
        .get(format!(
            "{}/models/requests/by-endpoint?endpoint_id={PRO}",
            emulator.platform_url()
        ))
        .header("authorization", auth(&emulator))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limited");
}
