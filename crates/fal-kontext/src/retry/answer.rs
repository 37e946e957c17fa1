//! An unsuccessful answer, read whole (within the limits of a call): what
//! the classifier of failed attempts reads, and the [`Error`] it stands for.

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::limits::{MAX_ANSWER_BYTES, read_capped};
use super::policy::retry_after;
use crate::error::{Error, ErrorContext, ValidationDetail, excerpt};
use crate::platform_error;

/// A complete unsuccessful answer: status, headers and the (start of the) body.
#[derive(Debug)]
pub(crate) struct ErrorAnswer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ErrorAnswer {
    /// Reads an unsuccessful answer; a body that does not come within
    /// `idle` (an error page that declares a length and sends nothing)
    /// counts as empty, as does one that broke or is too large.
    pub async fn read(response: reqwest::Response, idle: std::time::Duration) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let body =
            read_capped::<_, reqwest::Error>(response.bytes_stream(), MAX_ANSWER_BYTES, idle)
                .await
                .unwrap_or_default();
        ErrorAnswer {
            status,
            headers,
            body,
        }
    }

    /// What fal said besides the status: the request id, `error_type` (the
    /// body's, else the header's) and `x-fal-retryable`, as fal's clients
    /// read them (fal-client 1.0.3, `_raise_for_status`: the body's
    /// `error_type`, else `x-fal-error-type`; @fal-ai/client 1.10.1,
    /// `response.js`: `x-fal-request-id`;
    /// <https://docs.fal.ai/documentation/model-apis/request-errors>).
    pub fn context(&self) -> ErrorContext {
        let header = |name: &str| header_text(&self.headers, name);
        let body_type = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("error_type")?.as_str().map(str::to_string));
        // the Platform APIs' `{"error": {type, message, request_id}}`
        let platform = platform_error::read(&self.body);
        let (platform_type, platform_id) =
            platform.map_or((None, None), |e| (e.kind, e.request_id));
        ErrorContext {
            request_id: header("x-fal-request-id").or(platform_id),
            error_type: body_type
                .or(platform_type)
                .or_else(|| header("x-fal-error-type")),
            retryable: header("x-fal-retryable").and_then(|v| {
                match v.to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" => Some(true),
                    "false" | "0" | "no" => Some(false),
                    _ => None,
                }
            }),
        }
    }

    /// The error an unsuccessful answer stands for.
    pub fn into_error(self) -> Error {
        let status = self.status.as_u16();
        let context = self.context();
        let detail = || detail_text(&self.body);
        if is_user_timeout(&self) {
            return Error::RequestTimeout {
                detail: detail(),
                context,
            };
        }
        match self.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::Authentication {
                status,
                detail: detail(),
                context,
            },
            StatusCode::NOT_FOUND => Error::NotFound {
                detail: detail(),
                context,
            },
            StatusCode::UNPROCESSABLE_ENTITY => Error::Validation {
                details: validation_details(&self.body),
                context,
            },
            StatusCode::TOO_MANY_REQUESTS => Error::RateLimited {
                retry_after: retry_after(&self.headers),
                context,
            },
            s if s.is_server_error() => Error::Server {
                status,
                body: excerpt(&self.body),
                context,
            },
            _ => Error::Http {
                status,
                body: excerpt(&self.body),
                context,
            },
        }
    }
}

/// A header's value as text, trimmed; `None` when absent, empty or not text.
pub(crate) fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// fal's `detail` as text: a string, or the joined messages of a list.
fn detail_text(body: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("detail").cloned())
    {
        Some(serde_json::Value::String(text)) => text,
        Some(list @ serde_json::Value::Array(_)) => {
            serde_json::from_value::<Vec<ValidationDetail>>(list)
                .map(|items| {
                    items
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_else(|_| excerpt(body))
        }
        _ => platform_error::read(body).map_or_else(|| excerpt(body), |error| error.message),
    }
}

/// The `detail` list of a 422 (a lone string becomes one item).
pub(crate) fn validation_details(body: &[u8]) -> Vec<ValidationDetail> {
    let detail = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("detail").cloned());
    match detail {
        Some(list @ serde_json::Value::Array(_)) => {
            serde_json::from_value(list).unwrap_or_default()
        }
        Some(serde_json::Value::String(msg)) => vec![ValidationDetail {
            loc: vec![],
            msg,
            kind: String::new(),
        }],
        _ => vec![ValidationDetail {
            loc: vec![],
            msg: excerpt(body),
            kind: String::new(),
        }],
    }
}

/// The 504 fal answers when the start deadline the caller set with
/// `x-fal-request-timeout` ran out: fal's clients never retry it
/// (@fal-ai/client 1.10.1, `ApiError.isUserTimeout`; fal-client 1.0.3,
/// `_should_retry_response`).
pub(crate) fn is_user_timeout(answer: &ErrorAnswer) -> bool {
    answer.status == StatusCode::GATEWAY_TIMEOUT
        && answer
            .headers
            .get("x-fal-request-timeout-type")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"user"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, content_type: &str, body: &str) -> ErrorAnswer {
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::CONTENT_TYPE, content_type.parse().unwrap());
        ErrorAnswer {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: Bytes::from(body.to_string()),
        }
    }

    fn with(mut answer: ErrorAnswer, header: &'static str, value: &str) -> ErrorAnswer {
        answer.headers.insert(header, value.parse().unwrap());
        answer
    }

    #[test]
    fn the_user_timeout_is_final_and_its_own_error() {
        let timed_out = || {
            with(
                answer(504, "application/json", r#"{"detail":"Request timed out"}"#),
                "x-fal-request-timeout-type",
                "user",
            )
        };
        let error = with(timed_out(), "x-fal-error-type", "request_timeout").into_error();
        assert!(
            matches!(&error, Error::RequestTimeout { detail, .. } if detail == "Request timed out"),
            "{error:?}"
        );
        assert_eq!(
            error.context().unwrap().error_type.as_deref(),
            Some("request_timeout")
        );
    }

    #[test]
    fn answers_map_to_errors_with_what_fal_said() {
        let error = answer(
            422,
            "application/json",
            r#"{"detail":[{"loc":["body","seed"],"msg":"bad","type":"int_parsing"}]}"#,
        )
        .into_error();
        assert!(
            matches!(&error, Error::Validation { details, .. } if details[0].kind == "int_parsing"),
            "{error:?}"
        );
        let error = answer(401, "application/json", r#"{"detail":"No key"}"#).into_error();
        assert!(
            matches!(&error, Error::Authentication { status: 401, detail, .. } if detail == "No key"),
            "{error:?}"
        );
        assert!(matches!(
            answer(404, "text/plain", "gone").into_error(),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            answer(400, "text/plain", "x").into_error(),
            Error::Http { status: 400, .. }
        ));

        let mut failed = answer(
            503,
            "application/json",
            r#"{"detail":"no runner","error_type":"runner_scheduling_failure"}"#,
        );
        failed
            .headers
            .insert("x-fal-request-id", "req-1".parse().unwrap());
        failed
            .headers
            .insert("x-fal-error-type", "ignored".parse().unwrap());
        failed
            .headers
            .insert("x-fal-retryable", "true".parse().unwrap());
        let error = failed.into_error();
        let context = error.context().unwrap();
        assert_eq!(context.request_id.as_deref(), Some("req-1"));
        assert_eq!(
            context.error_type.as_deref(),
            Some("runner_scheduling_failure"),
            "the body's error_type comes first"
        );
        assert_eq!(context.retryable, Some(true));
        assert!(matches!(error, Error::Server { status: 503, .. }));
        assert!(
            error
                .to_string()
                .ends_with(" (request req-1, error_type runner_scheduling_failure, retryable)"),
            "{error}"
        );
    }
}
