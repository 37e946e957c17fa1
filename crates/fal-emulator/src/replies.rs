//! The small answers every layer gives: fal's `{"detail": …}` error and its
//! 401, the Platform APIs' error shape, the `x-fal-request-id` header, and an
//! answer's body read whole (for the faults that rewrite or cut it).

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// `{"detail": "…"}` with a status code.
pub(crate) fn detail(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"detail": message}))).into_response()
}

/// fal's 401.
pub(crate) fn unauthorized(message: &str) -> Response {
    detail(StatusCode::UNAUTHORIZED, message)
}

/// An answer in the Platform APIs' error shape.
pub(crate) fn platform_error(status: StatusCode, kind: &str, message: &str) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    (
        status,
        Json(json!({"error": {"type": kind, "message": message, "request_id": id}})),
    )
        .into_response()
}

pub(crate) fn with_request_id(mut response: Response, id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert("x-fal-request-id", value);
    }
    response
}

/// The answer's head and its whole body.
pub(crate) async fn buffered(response: Response) -> (axum::http::response::Parts, Bytes) {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    (parts, bytes)
}
