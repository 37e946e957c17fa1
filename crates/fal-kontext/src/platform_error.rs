//! The error answers of fal's Platform APIs (prices, request history,
//! payload deletion): every operation declares 400, 401, 403, 404, 429 and
//! 500 with one body, `{"error": {"type", "message", "docs_url",
//! "request_id"}}` (<https://api.fal.ai/v1/openapi.json>), unlike the model
//! endpoints' `{"detail": …}`. The generated type reads it; what it says goes
//! into [`Error`](crate::Error) as its message, its `error_type` and fal's
//! request id.

use fal_kontext_api::platform::types::ErrorResponse;

/// What an error body in the Platform APIs' shape says.
pub(crate) struct PlatformError {
    /// `error.type` (`authorization_error`, `rate_limited`, …).
    pub kind: Option<String>,
    /// `error.message`.
    pub message: String,
    /// `error.request_id`: the id to quote to fal's support.
    pub request_id: Option<String>,
}

/// The Platform APIs' error in `body`, if it has that shape.
pub(crate) fn read(body: &[u8]) -> Option<PlatformError> {
    let answer: ErrorResponse = serde_json::from_slice(body).ok()?;
    let error = answer.error;
    Some(PlatformError {
        kind: error.type_.filter(|kind| !kind.is_empty()),
        message: error.message,
        request_id: error.request_id.filter(|id| !id.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_shape_is_read_and_others_are_not() {
        let error = read(br#"{"error": {"type": "rate_limited", "message": "Slow down", "request_id": "req-9", "docs_url": "https://docs.fal.ai"}}"#)
            .expect("the shared shape");
        assert_eq!(error.kind.as_deref(), Some("rate_limited"));
        assert_eq!(error.message, "Slow down");
        assert_eq!(error.request_id.as_deref(), Some("req-9"));
        // a type fal adds later, and no request id
        let error = read(br#"{"error": {"type": "quota_exceeded", "message": "m"}}"#).unwrap();
        assert_eq!(error.kind.as_deref(), Some("quota_exceeded"));
        assert!(error.request_id.is_none());
        for other in [
            &br#"{"detail": "Not Found"}"#[..],
            b"<html>nginx</html>",
            b"{}",
        ] {
            assert!(read(other).is_none());
        }
    }
}
