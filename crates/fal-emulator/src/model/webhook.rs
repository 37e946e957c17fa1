//! Delivering a finished job's outcome to its `?fal_webhook=URL`: fal POSTs
//! it there, signed, and retries a failed delivery with growing backoff; the
//! emulator does the same (to loopback URLs only: it never reaches off this
//! machine). The keys, the signature and the retry policy are
//! `state/webhooks.rs`'s.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::fetch::is_loopback;
use crate::faults::WebhookFault;
use crate::state::Shared;
use crate::state::jobs::Outcome;
use crate::state::stats::bump;

pub(crate) fn deliver(shared: &Arc<Shared>, url: String, id: String, outcome: Outcome) {
    if !is_loopback(&url) {
        tracing::warn!(%url, "webhook not called: only loopback URLs are");
        return;
    }
    let payload = match outcome {
        Outcome::Done(output) => json!({
            "request_id": id,
            "gateway_request_id": id,
            "status": "OK",
            "payload": output.as_ref(),
            "error": null,
        }),
        Outcome::Invalid(details) => json!({
            "request_id": id,
            "gateway_request_id": id,
            "status": "ERROR",
            "error": "Invalid status code: 422",
            "payload": {"detail": details.as_ref()},
        }),
        Outcome::TimedOut => json!({
            "request_id": id,
            "gateway_request_id": id,
            "status": "ERROR",
            "error": "Invalid status code: 504",
            "payload": {"detail": "Request timed out"},
        }),
        Outcome::Cancelled => return,
    };
    let body = payload.to_string().into_bytes();
    let shared = shared.clone();
    tokio::spawn(async move {
        let redeliver = deliver_with_retries(&shared, &url, &id, &body).await;
        if redeliver {
            deliver_with_retries(&shared, &url, &id, &body).await;
        }
    });
}

/// Attempts until one is answered 2xx or the attempts run out; true when a
/// [`WebhookFault::Duplicate`] asks for the event to be delivered again.
async fn deliver_with_retries(shared: &Shared, url: &str, id: &str, body: &[u8]) -> bool {
    let webhooks = &shared.webhooks;
    let mut delay = webhooks.retry.first_delay;
    let attempts = webhooks.retry.attempts.max(1);
    for attempt in 1..=attempts {
        let fault = webhooks.next_fault();
        if fault.is_some() {
            bump(&shared.counters.faults_injected);
        }
        let mut request = webhooks
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in webhooks.headers(id, body, fault) {
            request = request.header(name, value);
        }
        let answer = tokio::select! {
            answer = request.send() => answer,
            () = shared.shutdown.cancelled() => return false,
        };
        match answer {
            Ok(response) if response.status().is_success() => {
                bump(&shared.counters.webhook_deliveries);
                return fault == Some(WebhookFault::Duplicate);
            }
            Ok(response) => {
                tracing::warn!(%url, attempt, status = %response.status(), "webhook refused");
            }
            Err(error) => tracing::warn!(%url, attempt, %error, "webhook call failed"),
        }
        bump(&shared.counters.webhook_failures);
        if attempt == attempts {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shared.shutdown.cancelled() => return false,
        }
        delay = (delay * 2).min(Duration::from_secs(60));
    }
    false
}
