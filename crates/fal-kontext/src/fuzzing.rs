//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, not for
//! users): thin wrappers that reach the SDK's internal decoders and checks,
//! with no logic of their own.

use bytes::Bytes;
use fal_kontext_api::types::QueueStatus;
use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::request::{Kind, Request};
use crate::retry::ErrorAnswer;

/// The statuses the SDK reads from a status stream whose body arrives in
/// these pieces (the pipeline of `Subscription`: bytes, SSE events, statuses).
pub fn stream_statuses(pieces: Vec<Vec<u8>>) -> Vec<QueueStatus> {
    let body = futures::stream::iter(
        pieces
            .into_iter()
            .map(|piece| Ok::<_, std::convert::Infallible>(Bytes::from(piece))),
    );
    futures::executor::block_on(crate::wait::sse::statuses(body).collect())
}

/// An answer as the SDK holds one, from a status code, an optional
/// `Content-Type` and `Retry-After`, and the body.
fn answer(
    status: u16,
    content_type: &[u8],
    retry_after: &[u8],
    body: &[u8],
) -> Option<ErrorAnswer> {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(content_type) {
        headers.insert(CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_bytes(retry_after) {
        headers.insert(RETRY_AFTER, value);
    }
    Some(ErrorAnswer {
        status: StatusCode::from_u16(status).ok()?,
        headers,
        body: Bytes::copy_from_slice(body),
    })
}

/// What the SDK makes of a whole answer: a 2xx decoded as `T` (as the
/// generated operations decode it), anything else as its error.
fn decoded<T: DeserializeOwned>(answer: ErrorAnswer, what: &'static str) -> Result<T> {
    if answer.status.is_success() {
        crate::http::decode(&answer.body, what)
    } else {
        Err(answer.into_error())
    }
}

/// What the SDK makes of an answer to a status call (`None`: no valid
/// HTTP status code).
pub fn decode_status(
    status: u16,
    content_type: &[u8],
    retry_after: &[u8],
    body: &[u8],
) -> Option<Result<QueueStatus>> {
    Some(decoded(
        answer(status, content_type, retry_after, body)?,
        "the status",
    ))
}

/// What the SDK makes of an answer to a result call, as output type `O`.
pub fn decode_output<O: DeserializeOwned>(
    status: u16,
    content_type: &[u8],
    retry_after: &[u8],
    body: &[u8],
) -> Option<Result<O>> {
    Some(decoded(
        answer(status, content_type, retry_after, body)?,
        "the output",
    ))
}

/// The error the SDK makes of an unsuccessful answer.
pub fn decode_error(
    status: u16,
    content_type: &[u8],
    retry_after: &[u8],
    body: &[u8],
) -> Option<Error> {
    Some(answer(status, content_type, retry_after, body)?.into_error())
}

/// The bytes of a `data:` URI in an output (`uri` without its `data:`).
pub fn decode_data_uri(uri: &str) -> Result<Vec<u8>> {
    crate::output::decode_data_uri(uri)
}

/// The sync steps of [`Verifier::verify_at`](crate::webhook::Verifier::verify_at)
/// with `jwks` as the fetched key set: the headers and window checked, the
/// key set read, the signature tried against each key (`Ok(false)`: none).
pub fn webhook_signature(
    headers: &crate::webhook::Headers<'_>,
    body: &[u8],
    jwks: &[u8],
    now: std::time::SystemTime,
) -> std::result::Result<bool, crate::webhook::WebhookError> {
    let signed = crate::webhook::signature::Signed::check(headers, body, now)?;
    let keys = crate::webhook::keys::parse_jwks(jwks).map_err(|message| {
        crate::webhook::WebhookError::Keys {
            url: "fuzz".into(),
            message,
        }
    })?;
    Ok(signed.verifies_with(&keys))
}

/// The builders' checks, run before anything is sent.
pub fn validate<K: Kind>(request: &Request<K>) -> Result<()> {
    request.validate()
}

/// The JSON body a validated request sends, its images already resolved to
/// `image_urls`.
pub fn input<K: Kind>(request: &Request<K>, image_urls: Vec<String>) -> Result<Value> {
    let input = request
        .kind
        .input(&request.prompt, &request.fields, image_urls)?;
    Ok(serde_json::to_value(input).expect("generated inputs always serialize"))
}
