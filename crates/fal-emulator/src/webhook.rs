//! `?fal_webhook=URL`: fal POSTs the outcome there when a request ends. The
//! emulator only calls loopback URLs (it never reaches off this machine).

use std::sync::Arc;

use serde_json::json;

use crate::fetch::is_loopback;
use crate::jobs::Outcome;
use crate::state::Shared;

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
    let http = shared.http.clone();
    tokio::spawn(async move {
        if let Err(error) = http.post(&url).json(&payload).send().await {
            tracing::warn!(%url, %error, "webhook call failed");
        }
    });
}
