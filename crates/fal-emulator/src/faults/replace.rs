//! The answers a fault gives in place of the app's: a 429, fal's ingress
//! pages, a 401, 404 or 422, an error whose body never comes.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::rules::Fault;

/// The answer that replaces the app's, for faults that stop the request
/// at the edge.
pub(crate) fn short_circuit(fault: &Fault) -> Option<Response> {
    match fault {
        Fault::TooManyRequests { retry_after_secs } => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({"detail": "Too many requests, please retry later."})),
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            Some(response)
        }
        Fault::Ingress(code) => Some(ingress_error(*code)),
        Fault::StalledErrorBody(code) => Some(stalled_body(ingress_error(*code))),
        Fault::Outage => Some(ingress_error(502)),
        Fault::AbsurdRetryAfter(text) => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({"detail": "Too many requests, please retry later."})),
            )
                .into_response();
            if let Ok(value) = HeaderValue::from_bytes(text.as_bytes()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Some(response)
        }
        Fault::PlatformRateLimited => Some(crate::replies::platform_error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Rate limit exceeded",
        )),
        Fault::Unauthorized => Some(crate::replies::unauthorized(
            "No user found for Key ID and Secret",
        )),
        Fault::NotFound => Some(
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"detail": "Not Found"})),
            )
                .into_response(),
        ),
        Fault::Unprocessable => Some(
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(json!({"detail": [{
                    "loc": ["body"],
                    "msg": "Injected validation failure",
                    "type": "value_error",
                }]})),
            )
                .into_response(),
        ),
        _ => None,
    }
}

/// An nginx-style error page, as fal's ingress answers when no app is
/// reached: HTML, `Server: nginx`, and no `x-fal-request-id` (fal's clients
/// use exactly those to tell an ingress error from the app's).
pub(super) fn ingress_error(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
    let title = match status.as_u16() {
        503 => "503 Service Temporarily Unavailable".to_owned(),
        504 => "504 Gateway Time-out".to_owned(),
        _ => format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error")
        ),
    };
    let body = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    headers.insert(header::SERVER, HeaderValue::from_static("nginx"));
    response
}

/// The answer's status and headers, and a body that never comes.
fn stalled_body(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let length = axum::body::HttpBody::size_hint(&body).exact().unwrap_or(1);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    let never = futures::stream::pending::<Result<Bytes, std::convert::Infallible>>();
    Response::from_parts(parts, Body::from_stream(never))
}
