//! One error type that users match on.

use std::path::PathBuf;
use std::time::Duration;

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

/// Everything that can go wrong. Variants carry what a caller needs to decide
/// what to do next; none carries the API key.
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
    #[error("fal refused the API key ({status}): {detail}")]
    Authentication {
        /// 401 or 403.
        status: u16,
        /// fal's explanation.
        detail: String,
    },
    /// The request id or endpoint does not exist (404).
    #[error("not found: {detail}")]
    NotFound {
        /// fal's explanation.
        detail: String,
    },
    /// fal rejected the input (422), with its `detail` list.
    #[error("fal rejected the input: {}", display_details(.details))]
    Validation {
        /// fal's `detail` items.
        details: Vec<ValidationDetail>,
    },
    /// Too many requests (429), still after the retries.
    #[error("rate limited by fal{}", .retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// What `Retry-After` asked for, when it was given.
        retry_after: Option<Duration>,
    },
    /// fal or a gateway in front of it failed (5xx), still after any retries.
    #[error("fal answered {status}: {body}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// Another answer the client did not expect (4xx).
    #[error("fal answered {status}: {body}")]
    Http {
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The request completed but the model failed (`error` on a COMPLETED status).
    #[error("the request failed: {message}")]
    RequestFailed {
        /// fal's `error`.
        message: String,
        /// fal's `error_type`, when given.
        error_type: Option<String>,
    },
    /// The caller's deadline passed; a submitted request was cancelled. With
    /// no `request_id`, a download whose server sent nothing for longer than
    /// the call timeout, on every try.
    #[error("gave up after {after:?}{}", .request_id.as_ref().map(|id| format!(" waiting for request {id} (cancelled)")).unwrap_or_default())]
    Timeout {
        /// The request that was cancelled, when one had been submitted.
        request_id: Option<String>,
        /// How long the caller allowed.
        after: Duration,
    },
    /// The connection failed or broke.
    #[error("network error: {0}")]
    Transport(#[source] reqwest::Error),
    /// A body could not be decoded.
    #[error("could not decode {what}: {source}; the body began: {body}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// The start of the body.
        body: String,
        /// The decoder's complaint.
        #[source]
        source: serde_json::Error,
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
