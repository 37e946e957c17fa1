//! The SDK's `tracing` spans and events, in one place: their names, their
//! fields, and what may go in them. The spans follow a job from submit to
//! result, and each HTTP attempt inside it; `tracing-opentelemetry` turns
//! them into OpenTelemetry spans (it reads `otel.name`, `otel.kind` and
//! `otel.status_code`), with OpenTelemetry's HTTP and GenAI semantic
//! conventions' field names where one fits (see `docs/telemetry.md`):
//!
//! ```text
//! fal.job          gen_ai.request.model (the endpoint), fal.request_id, fal.outcome, …
//! ├── fal.upload   (an input image uploaded to fal's storage)
//! │   └── fal.attempt  fal.operation = upload_initiate, upload_put
//! ├── fal.attempt  fal.operation = submit, status_stream, status, result, cancel
//! │   └── event "retrying" (retry.reason, retry.delay_ms)
//! └── events "queued", "in progress", fal log lines (debug)
//! fal.download     (a job's images fetched)
//! └── fal.attempt  fal.operation = download
//! ```
//!
//! Never in a span or event: the key or the admin key (no header is
//! recorded), a URL's query (`url.full` is recorded without it: a signed URL
//! carries its secret there, see `fal_kontext_api::telemetry`), an image's
//! bytes. Prompts are not recorded.
//!
//! Numbers are recorded as `i64`, OpenTelemetry's integer: an unsigned one
//! reaches an exporter as text.

use tracing::Span;
use tracing::field::Empty;

use fal_kontext_api::types::Status;

use crate::error::Error;

/// OpenTelemetry's GenAI operation of every job: fal's models generate
/// content (the closest of the conventions' well-known values).
const GEN_AI_OPERATION: &str = "generate_content";

/// The span of one job's life, submit to result: `endpoint` is the
/// endpoint id, `kind` the SDK's request kind (`Edit`, `TextToImage`, …),
/// when known.
pub(crate) fn job(endpoint: &str, kind: Option<&'static str>) -> Span {
    tracing::info_span!(
        "fal.job",
        otel.name = %format_args!("{GEN_AI_OPERATION} {endpoint}"),
        otel.kind = "client",
        otel.status_code = Empty,
        gen_ai.operation.name = GEN_AI_OPERATION,
        gen_ai.provider.name = "fal",
        gen_ai.request.model = endpoint,
        fal.model_kind = kind,
        fal.request_id = Empty,
        fal.outcome = Empty,
        fal.billable_units = Empty,
        error.type = Empty,
    )
}

/// The span of one attempt of an HTTP call: `operation` names the call
/// (`submit`, `status`, `download`, …), `number` counts from 1. The method,
/// URL, server and status are recorded by whatever sends the request
/// (`fal_kontext_api::telemetry`).
pub(crate) fn attempt(operation: &'static str, number: u32) -> Span {
    let span = tracing::info_span!(
        "fal.attempt",
        otel.name = operation,
        otel.kind = "client",
        otel.status_code = Empty,
        fal.operation = operation,
        fal.attempt = i64::from(number),
        http.request.method = Empty,
        http.request.resend_count = Empty,
        http.response.status_code = Empty,
        url.full = Empty,
        server.address = Empty,
        server.port = Empty,
        error.type = Empty,
    );
    // OpenTelemetry's HTTP convention: set on the resends only
    if number > 1 {
        span.record("http.request.resend_count", i64::from(number - 1));
    }
    span
}

/// The span of a job's images being fetched.
pub(crate) fn download(images: usize) -> Span {
    let images = i64::try_from(images).unwrap_or(i64::MAX);
    tracing::info_span!("fal.download", fal.images = images)
}

/// The span of an input image uploaded to fal's storage.
pub(crate) fn upload(bytes: u64) -> Span {
    let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
    tracing::info_span!("fal.upload", fal.upload.bytes = bytes)
}

/// Records the request id fal gave the job.
pub(crate) fn request_id(span: &Span, request_id: &str) {
    span.record("fal.request_id", request_id);
}

/// Records how the job ended: completed (with the billing units fal
/// reported, when it did), or the error's kind.
pub(crate) fn finished(span: &Span, outcome: Result<Option<f64>, &Error>) {
    match outcome {
        Ok(billable_units) => {
            span.record("fal.outcome", "completed");
            span.record("otel.status_code", "ok");
            if let Some(units) = billable_units {
                span.record("fal.billable_units", units);
            }
        }
        Err(error) => {
            if let Some(id) = error.request_id() {
                request_id(span, id);
            }
            let kind = error_type(error);
            span.record("fal.outcome", kind);
            span.record("error.type", kind);
            span.record("otel.status_code", "error");
        }
    }
}

/// A status change of the job (`IN_QUEUE` at `position`, `IN_PROGRESS`,
/// `COMPLETED`).
pub(crate) fn status(status: &Status, position: Option<i64>) {
    tracing::info!(fal.status = %status, fal.queue_position = position, "status");
}

/// One of fal's log lines for the job (at debug: they may be many).
pub(crate) fn log_line(message: &str) {
    tracing::debug!(fal.log = message, "fal log");
}

/// Whether [`log_line`]'s events are recorded by the subscriber: when not,
/// and nobody reads the updates, fal is not asked for the log lines.
pub(crate) fn log_lines_traced() -> bool {
    tracing::enabled!(tracing::Level::DEBUG)
}

/// A short, stable name of an error's kind (OpenTelemetry's `error.type`).
pub(crate) fn error_type(error: &Error) -> &'static str {
    match error {
        Error::InvalidInput { .. } => "invalid_input",
        Error::MissingKey => "missing_key",
        Error::Config { .. } => "config",
        Error::Authentication { .. } => "authentication",
        Error::NotFound { .. } => "not_found",
        Error::Validation { .. } => "validation",
        Error::RateLimited { .. } => "rate_limited",
        Error::Server { .. } => "server",
        Error::Http { .. } => "http",
        Error::RequestTimeout { .. } => "request_timeout",
        Error::RequestFailed { .. } => "request_failed",
        Error::Timeout { .. } => "timeout",
        Error::AmbiguousSubmit { .. } => "ambiguous_submit",
        Error::TooManyImages { .. } => "too_many_images",
        Error::Transport { .. } => "transport",
        Error::Decode { .. } => "decode",
        Error::TooLarge { .. } => "too_large",
        Error::Io { .. } => "io",
        Error::Upload { .. } => "upload",
    }
}
