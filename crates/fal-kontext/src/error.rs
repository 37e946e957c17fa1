//! One error type that users match on.

use std::path::PathBuf;
use std::time::Duration;

use crate::submitted::SubmitRecord;

/// One item of fal's `detail` list in a 422 answer (pydantic's format).
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct ValidationDetail {
    /// Where the problem is, such as `["body", "num_images"]`.
    #[serde(default)]
    pub loc: Vec<serde_json::Value>,
    /// What is wrong, in words.
    #[serde(default)]
    pub msg: String,
    /// The kind of problem, such as `less_than_equal`.
    #[serde(default, rename = "type")]
    pub kind: String,
}

impl std::fmt::Display for ValidationDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let loc: Vec<String> = self
            .loc
            .iter()
            .map(|part| {
                part.as_str()
                    .map_or_else(|| part.to_string(), str::to_owned)
            })
            .collect();
        write!(f, "{}: {}", loc.join("."), self.msg)
    }
}

/// What fal said about a failure besides its status, kept on every error
/// that an answer caused or that happened after a submit. Its `Display` is
/// empty when nothing is known, else ` (request …, error_type …, retryable)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorContext {
    /// The request the error concerns: the id of the submitted request, else
    /// the `x-fal-request-id` header of the answer. With it the job can be
    /// fetched later (`RequestHandle`, `kontext result <id>`).
    pub request_id: Option<String>,
    /// fal's kind of failure: the body's `error_type`, else the
    /// `x-fal-error-type` header (`request_timeout`, `startup_timeout`,
    /// `runner_scheduling_failure`, `runner_disconnected`, …).
    pub error_type: Option<String>,
    /// fal's `x-fal-retryable` header: whether fal says the same call may
    /// succeed when repeated.
    pub retryable: Option<bool>,
}

impl std::fmt::Display for ErrorContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(id) = &self.request_id {
            parts.push(format!("request {id}"));
        }
        if let Some(kind) = &self.error_type {
            parts.push(format!("error_type {kind}"));
        }
        match self.retryable {
            Some(true) => parts.push("retryable".into()),
            Some(false) => parts.push("not retryable".into()),
            None => {}
        }
        if parts.is_empty() {
            Ok(())
        } else {
            write!(f, " ({})", parts.join(", "))
        }
    }
}

/// Everything that can go wrong. Variants carry what a caller needs to decide
/// what to do next; none carries the API key. Every error that an answer
/// caused, or that happened after a submit, carries an [`ErrorContext`]
/// (see [`Error::request_id`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field's value breaks the endpoint's rules; nothing was sent.
    #[error("invalid {field} `{value}`: {rule}")]
    InvalidInput {
        /// The input field, as fal names it (`num_images`).
        field: &'static str,
        /// The value given.
        value: String,
        /// The rule it breaks, with the allowed values.
        rule: String,
    },
    /// No API key is configured.
    #[error(
        "no fal API key: set FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET), or call ClientBuilder::key"
    )]
    MissingKey,
    /// A setting such as a base URL is unusable.
    #[error("invalid setting {setting}: {message}")]
    Config {
        /// The setting (`FAL_QUEUE_URL`, …).
        setting: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// fal refused the key (401 or 403).
    #[error("fal refused the API key ({status}): {detail}{context}")]
    Authentication {
        /// 401 or 403.
        status: u16,
        /// fal's explanation.
        detail: String,
        /// What else fal said.
        context: ErrorContext,
    },
    /// The request id or endpoint does not exist (404).
    #[error("not found: {detail}{context}")]
    NotFound {
        /// fal's explanation.
        detail: String,
        /// What else fal said.
        context: ErrorContext,
    },
    /// fal rejected the input (422), with its `detail` list.
    #[error("fal rejected the input: {}{context}", display_details(.details))]
    Validation {
        /// fal's `detail` items.
        details: Vec<ValidationDetail>,
        /// What else fal said.
        context: ErrorContext,
    },
    /// Too many requests (429), still after the retries.
    #[error("rate limited by fal{}{context}", .retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// What `Retry-After` asked for, when it was given.
        retry_after: Option<Duration>,
        /// What else fal said.
        context: ErrorContext,
    },
    /// fal or a gateway in front of it failed (5xx), still after any retries.
    #[error("fal answered {status}: {body}{context}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
        /// What else fal said.
        context: ErrorContext,
    },
    /// Another answer the client did not expect (4xx).
    #[error("fal answered {status}: {body}{context}")]
    Http {
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
        /// What else fal said.
        context: ErrorContext,
    },
    /// fal gave up on the request because it did not start within the
    /// `request_timeout` the caller set (`x-fal-request-timeout`): a 504
    /// marked `x-fal-request-timeout-type: user`. Final: never retried, as
    /// fal's clients do not.
    #[error("the request did not start within its request_timeout: {detail}{context}")]
    RequestTimeout {
        /// fal's explanation.
        detail: String,
        /// The request and what else fal said.
        context: ErrorContext,
    },
    /// The request completed but the model failed (`error` on a COMPLETED
    /// status); `context.error_type` says how.
    #[error("the request failed: {message}{context}")]
    RequestFailed {
        /// fal's `error`.
        message: String,
        /// The request and fal's `error_type`.
        context: ErrorContext,
    },
    /// Time ran out. With a `request_id`, the caller's deadline passed while
    /// waiting for that request, and `cancel` says what became of it: a
    /// wait that owns its request sends a cancel at its deadline (as the
    /// deadline's owner asked) and reports fal's answer; a watch's deadline,
    /// or a wait whose request had completed, send none and leave the
    /// request to fetch later. Without a `request_id`, one call got no whole
    /// answer within its time limit, on every try.
    #[error("gave up after {after:?}{}", timeout_suffix(.request_id.as_deref(), *.cancel))]
    Timeout {
        /// The request concerned, when one had been submitted.
        request_id: Option<String>,
        /// How long the caller allowed.
        after: Duration,
        /// What the cancel sent because of it answered, if one was sent.
        cancel: CancelAtDeadline,
    },
    /// A submit whose answer does not prove whether fal took the job: a
    /// gateway's 502 or 504 without `x-fal-request-id`, or a connection lost
    /// after the request was sent. It is not sent again, since a second
    /// submit could pay for the job twice: the job may be running at fal,
    /// and fal's request history of `endpoint` is where to find it.
    #[error(
        "the submit to {endpoint} may have reached fal ({reason}); it was not sent again, so the job may be running: look for it in fal's request history{context}"
    )]
    AmbiguousSubmit {
        /// The endpoint the submit went to (`fal-ai/flux-pro/kontext`).
        endpoint: String,
        /// What happened to the answer.
        reason: String,
        /// What the submit sent, and when: what
        /// [`Client::find_submitted`](crate::Client::find_submitted) looks
        /// for in fal's request history (set by every submit and `run_sync`).
        submitted: Option<Box<SubmitRecord>>,
        /// What else the answer said, if one came.
        context: ErrorContext,
    },
    /// fal's output lists more images than were asked for (`num_images`,
    /// default 1), or than any endpoint of the family makes (4): nothing of
    /// it was used, nothing downloaded.
    #[error(
        "the output lists {listed} images, more than the {allowed} asked for; nothing of it was used{context}"
    )]
    TooManyImages {
        /// How many images the output lists.
        listed: usize,
        /// How many were asked for (at most 4).
        allowed: usize,
        /// The request.
        context: ErrorContext,
    },
    /// The connection failed or broke.
    #[error("network error: {source}{context}")]
    Transport {
        /// What the HTTP client reported.
        #[source]
        source: reqwest::Error,
        /// The request, when one had been submitted.
        context: ErrorContext,
    },
    /// A body could not be decoded.
    #[error("could not decode {what}: {source}; the body began: {body}{context}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// The start of the body.
        body: String,
        /// The decoder's complaint.
        #[source]
        source: serde_json::Error,
        /// What else fal said.
        context: ErrorContext,
    },
    /// An answer, or an event of a status stream, was larger than the SDK
    /// reads (the limits keep a broken or hostile server from exhausting
    /// memory); nothing of it was used.
    #[error("{what} is larger than the {limit} bytes the SDK reads{context}")]
    TooLarge {
        /// What was being read.
        what: &'static str,
        /// The limit, in bytes.
        limit: u64,
        /// The request, when one had been submitted.
        context: ErrorContext,
    },
    /// A local file could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// An upload in parts failed for good at one step (`part 3 of 30`,
    /// `complete`, or `initiate-multipart` when its answer is unusable);
    /// `source` is what fal answered or what went wrong. The file was not
    /// stored: nothing is served at its URL.
    #[error("upload of {file} failed at {step}: {source}")]
    Upload {
        /// The uploaded file's name.
        file: String,
        /// The step that failed.
        step: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
}

/// The context of an error (`&` or `&mut`, as the error is borrowed).
macro_rules! context_of {
    ($error:expr) => {
        match $error {
            Error::Authentication { context, .. }
            | Error::NotFound { context, .. }
            | Error::Validation { context, .. }
            | Error::RateLimited { context, .. }
            | Error::Server { context, .. }
            | Error::Http { context, .. }
            | Error::RequestTimeout { context, .. }
            | Error::RequestFailed { context, .. }
            | Error::AmbiguousSubmit { context, .. }
            | Error::TooManyImages { context, .. }
            | Error::Transport { context, .. }
            | Error::Decode { context, .. }
            | Error::TooLarge { context, .. } => Some(context),
            Error::InvalidInput { .. }
            | Error::MissingKey
            | Error::Config { .. }
            | Error::Timeout { .. }
            | Error::Io { .. }
            | Error::Upload { .. } => None,
        }
    };
}

impl Error {
    /// This error, with what its submit sent when it is an
    /// [`Error::AmbiguousSubmit`]: so the job can be looked for in fal's
    /// request history.
    pub(crate) fn with_submitted(mut self, sent: impl FnOnce() -> Option<SubmitRecord>) -> Self {
        if let Error::AmbiguousSubmit { submitted, .. } = &mut self {
            *submitted = sent().map(Box::new);
        }
        self
    }

    /// The id of the request this error concerns, when one had been
    /// submitted (or fal named one): the job may still be fetched with it.
    ///
    /// ```no_run
    /// # async fn demo(client: fal_kontext::Client) {
    /// if let Err(error) = client.edit("Make it night", "day.png").run().await {
    ///     if let Some(id) = error.request_id() {
    ///         eprintln!("fetch it later: kontext result {id}");
    ///     }
    /// }
    /// # }
    /// ```
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Timeout { request_id, .. } => request_id.as_deref(),
            other => other.context()?.request_id.as_deref(),
        }
    }

    /// What fal said besides the status, for the errors that carry it.
    ///
    /// ```
    /// let error = fal_kontext::Error::MissingKey;
    /// assert!(error.context().is_none());
    /// ```
    pub fn context(&self) -> Option<&ErrorContext> {
        context_of!(self)
    }

    /// The same error, concerning the request `request_id` (which replaces
    /// any id an answer's header named: the submit's id is the one to fetch
    /// the job with).
    pub(crate) fn for_request(mut self, request_id: &str) -> Self {
        if let Error::Timeout { request_id: id, .. } = &mut self {
            id.get_or_insert_with(|| request_id.to_string());
        } else if let Some(context) = self.context_mut() {
            context.request_id = Some(request_id.to_string());
        }
        self
    }

    fn context_mut(&mut self) -> Option<&mut ErrorContext> {
        context_of!(self)
    }

    /// A transport error with no request behind it yet.
    pub(crate) fn transport(source: reqwest::Error) -> Self {
        Error::Transport {
            source,
            context: ErrorContext::default(),
        }
    }
}

/// What became of a request whose wait's deadline passed
/// ([`Error::Timeout`]): what fal answered the cancel, if one was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelAtDeadline {
    /// No cancel was sent (a watch, a request that had completed, or one
    /// call's own time limit): the request goes on, to fetch later.
    NotSent,
    /// fal accepted the cancel: the request stops or never starts.
    Cancelled,
    /// fal answered that the request had already completed: its output is
    /// there to fetch (and was billed).
    AlreadyCompleted,
    /// A cancel was sent, but no answer said what it did (it failed or took
    /// too long): the request may still run.
    Unknown,
}

fn timeout_suffix(request_id: Option<&str>, cancel: CancelAtDeadline) -> String {
    let Some(id) = request_id else {
        return String::new();
    };
    let what = match cancel {
        CancelAtDeadline::NotSent => "not cancelled: fetch it later",
        CancelAtDeadline::Cancelled => "cancelled",
        CancelAtDeadline::AlreadyCompleted => "it had completed: fetch it",
        CancelAtDeadline::Unknown => "cancel sent, its outcome unknown: it may still run",
    };
    format!(" waiting for request {id} ({what})")
}

fn display_details(details: &[ValidationDetail]) -> String {
    if details.is_empty() {
        return "no details given".into();
    }
    details
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The crate's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// At most this much of a body goes into an error.
const EXCERPT: usize = 500;

/// The start of a body, for an error message, on one line. An HTML error
/// page (an ingress's) is given by its title.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if let Some(title) = html_title(&text) {
        return title.to_string();
    }
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = flat.chars().take(EXCERPT).collect();
    if flat.chars().count() > EXCERPT {
        cut.push('…');
    }
    cut
}

fn html_title(text: &str) -> Option<&str> {
    let start = text.find("<title>")? + "<title>".len();
    let end = start + text[start..].find("</title>")?;
    Some(text[start..end].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_list_fals_details() {
        let error = Error::Validation {
            details: vec![ValidationDetail {
                loc: vec!["body".into(), "num_images".into()],
                msg: "Input should be less than or equal to 4".into(),
                kind: "less_than_equal".into(),
            }],
            context: ErrorContext::default(),
        };
        assert_eq!(
            error.to_string(),
            "fal rejected the input: body.num_images: Input should be less than or equal to 4"
        );
    }

    #[test]
    fn excerpts_are_bounded_and_on_one_line() {
        let long = vec![b'x'; 2000];
        assert_eq!(excerpt(&long).chars().count(), EXCERPT + 1);
        assert_eq!(excerpt(b"short\r\n  body"), "short body");
        let nginx = b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>nginx</body></html>";
        assert_eq!(excerpt(nginx), "503 Service Temporarily Unavailable");
    }
}
