//! fal's answers about a job: the status object and the result response.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::replies::{detail, with_request_id};
use crate::state::Shared;
use crate::state::jobs::{JobView, Outcome, Phase};

/// Which logs a status object carries.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Logs {
    /// `logs: null` (not asked for).
    Omitted,
    /// Every line so far (status polls; a stream sends each line once and
    /// fills `logs` itself).
    All,
}

/// The status object of a job, as submit, status polls and streams send it.
pub(crate) fn status_body(shared: &Shared, job: &JobView, logs: Logs) -> Value {
    let base = shared.request_url(job.endpoint, &job.id);
    let mut body = json!({
        "request_id": job.id,
        "response_url": base,
        "status_url": format!("{base}/status"),
        "cancel_url": format!("{base}/cancel"),
        "logs": match logs {
            Logs::Omitted => Value::Null,
            Logs::All => json!(job.logs),
        },
        "metrics": {},
    });
    match &job.phase {
        Phase::Queued { position } => {
            body["status"] = json!("IN_QUEUE");
            body["queue_position"] = json!(position);
        }
        Phase::Running => body["status"] = json!("IN_PROGRESS"),
        Phase::Finished(outcome) => {
            body["status"] = json!("COMPLETED");
            if let Some(seconds) = job.inference_time {
                body["metrics"] = json!({"inference_time": seconds});
            }
            let failure = match outcome {
                Outcome::Done(_) => None,
                Outcome::Invalid(_) => Some(("Unprocessable Entity", "validation_error")),
                Outcome::Cancelled => Some(("Request was cancelled", "request_cancelled")),
                Outcome::TimedOut => Some(("Request timed out", "request_timeout")),
            };
            if let Some((error, error_type)) = failure {
                body["error"] = json!(error);
                body["error_type"] = json!(error_type);
            }
        }
    }
    body
}

/// The HTTP status of a status answer: 202 until the job is done.
pub(crate) fn status_code(job: &JobView) -> StatusCode {
    if job.is_finished() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    }
}

/// The result call's answer (also the run origin's). A successful output
/// carries `x-fal-billable-units`, as fal bills it (see `Shared::billable_units`).
pub(crate) fn result_response(shared: &Shared, job: &JobView) -> Response {
    let response = match &job.phase {
        Phase::Queued { .. } | Phase::Running => {
            detail(StatusCode::BAD_REQUEST, "Request is still in progress")
        }
        Phase::Finished(Outcome::Done(output)) => {
            let mut response = Json(output.as_ref()).into_response();
            if let Some(units) = shared
                .billable_units(job.endpoint, output)
                .and_then(|units| HeaderValue::from_str(&units).ok())
            {
                response.headers_mut().insert("x-fal-billable-units", units);
            }
            response
        }
        Phase::Finished(Outcome::Invalid(details)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"detail": details.as_ref()})),
        )
            .into_response(),
        Phase::Finished(Outcome::Cancelled) => {
            let mut response = detail(StatusCode::BAD_REQUEST, "Request was cancelled");
            response.headers_mut().insert(
                "x-fal-error-type",
                HeaderValue::from_static("request_cancelled"),
            );
            response
        }
        // fal marks the caller's own start deadline with both headers
        // (https://docs.fal.ai/documentation/model-apis/request-errors; fal-client 1.0.3 reads
        // `x-fal-error-type` when the body has no `error_type`).
        Phase::Finished(Outcome::TimedOut) => {
            let mut response = detail(StatusCode::GATEWAY_TIMEOUT, "Request timed out");
            let headers = response.headers_mut();
            headers.insert(
                "x-fal-request-timeout-type",
                HeaderValue::from_static("user"),
            );
            headers.insert(
                "x-fal-error-type",
                HeaderValue::from_static("request_timeout"),
            );
            response
        }
    };
    with_request_id(response, &job.id)
}
