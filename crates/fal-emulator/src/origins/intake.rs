//! Reading a submission, as the queue and the run origins both take one:
//! its input checked against the endpoint's document (and the 404 of a path
//! that names no endpoint), its start deadline, its key, and whether fal
//! may keep its payloads.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::catalog::endpoints::Endpoint;
use crate::catalog::validation;
use crate::faults::Fault;
use crate::replies::detail;

/// The input of a request body, or the `detail` list fal's app answers.
pub(crate) fn read_input(endpoint: &Endpoint, body: &Bytes) -> Result<Value, Vec<Value>> {
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|error| validation::invalid_json(&error))?
    };
    endpoint.validator.check(&input)?;
    Ok(input)
}

/// How long the job may wait to start: none when a `Fault::UserTimeout`
/// hit the request, else `x-fal-request-timeout` (seconds, maybe fractional).
pub(crate) fn start_timeout(request: &Request) -> Option<Duration> {
    if let Some(Fault::UserTimeout) = request.extensions().get::<Fault>() {
        return Some(Duration::ZERO);
    }
    let seconds: f64 = request
        .headers()
        .get("x-fal-request-timeout")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (seconds.is_finite() && seconds > 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// The 404 for a path that names no endpoint.
pub(crate) fn unknown_endpoint(path: &str) -> Response {
    detail(
        StatusCode::NOT_FOUND,
        &format!("Application '{}' not found", path.trim_matches('/')),
    )
}

/// The key an `Authorization: Key <key>` header names (empty without one).
pub(crate) fn key_of(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Key "))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Whether a request lets fal keep its payloads: not with `x-fal-store-io: 0`
/// (<https://docs.fal.ai/documentation/model-apis/common-parameters>).
pub(crate) fn store_io(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get("x-fal-store-io")
        .and_then(|value| value.to_str().ok())
        .is_none_or(|value| value.trim() != "0")
}
