//! What a request asks of the queue besides its input ([`QueueOptions`]):
//! the webhook, the start timeout, the priority, the runner hint, the wait's
//! deadline, and the submit options fal documents beyond the queue's own (the output files'
//! lifetime on fal's CDN, keeping no history, no retries inside fal, the
//! longest queue to join) and the extra headers a caller adds for options fal
//! adds later: their rules, and how each goes on the wire
//! (<https://docs.fal.ai/documentation/model-apis/common-parameters>).

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::error::{Error, Result};

/// What the queue is asked besides the input.
/// (Public only because [`Kind`](crate::Kind) names it; it cannot be reached from outside.)
#[derive(Clone, Debug, Default)]
pub struct QueueOptions {
    pub webhook: Option<String>,
    pub request_timeout: Option<Duration>,
    pub priority: Option<Priority>,
    pub runner_hint: Option<String>,
    pub wait_timeout: Option<Duration>,
    pub cdn_lifetime: Option<Duration>,
    pub store_io: Option<bool>,
    pub no_retry: Option<bool>,
    pub max_queue_length: Option<u32>,
    pub headers: Vec<(String, String)>,
}

/// The queue priority of a request (`x-fal-queue-priority`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// The default.
    Normal,
    /// Runs after normal requests.
    Low,
}

impl Priority {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }
}

/// The header of the files' lifetime on fal's CDN, on a submit (and on the
/// run host) and on an upload's initiate.
pub(crate) const LIFECYCLE_PREFERENCE: &str = "x-fal-object-lifecycle-preference";
/// The same preference under the name fal's CDN upload reads; fal's clients
/// send it on an upload's initiate too (@fal-ai/client 1.10.1, `storage.js`,
/// `initiateUpload`: `X-Fal-Object-Lifecycle`; fal-client 1.0.3, `client.py`,
/// `_object_lifecycle_headers`: both names, "CDN uploads expect
/// X-Fal-Object-Lifecycle, while storage-backed upload initiation uses
/// X-Fal-Object-Lifecycle-Preference").
const LIFECYCLE: &str = "x-fal-object-lifecycle";

/// The longest lifetime accepted: 1000 years, the value fal's JS client
/// documents for "effectively unlimited storage" (@fal-ai/client 1.10.1,
/// `storage.ts`, `expiration_duration_seconds`: "e.g., 31536000000").
/// Anything longer is a mistake (milliseconds given as seconds, most likely).
pub(crate) const MAX_LIFETIME_SECS: u64 = 31_536_000_000;

/// The headers the SDK sets itself, which an extra header may not replace:
/// the key, what HTTP and the body need, and every option with a method of
/// its own (whose value that method checks).
const OWNED_HEADERS: &[&str] = &[
    "authorization",
    "host",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "accept",
    "accept-encoding",
    "user-agent",
    "x-fal-request-timeout",
    "x-fal-queue-priority",
    "x-fal-runner-hint",
    "x-fal-no-retry",
    "x-fal-store-io",
    LIFECYCLE_PREFERENCE,
    LIFECYCLE,
];

/// Checks the lifetime, queue length and extra headers, sending nothing.
pub(crate) fn validate(queue: &QueueOptions) -> Result<()> {
    if let Some(lifetime) = queue.cdn_lifetime {
        check_lifetime(lifetime)?;
    }
    if queue.max_queue_length == Some(0) {
        return Err(Error::InvalidInput {
            field: "fal_max_queue_length",
            value: "0".into(),
            rule: "must be 1 or more (fal refuses the submit when the queue is longer)".into(),
        });
    }
    for (name, value) in &queue.headers {
        extra_header(name, value)?;
    }
    Ok(())
}

/// A lifetime is whole seconds, from 1 second to [`MAX_LIFETIME_SECS`]: fal
/// reads 0 as "never expires" (fal-client 1.0.3, `client.py`: "the backend
/// treats `0` as no expiration"; it refuses 0 or less).
fn check_lifetime(lifetime: Duration) -> Result<()> {
    let ok = lifetime.subsec_nanos() == 0 && (1..=MAX_LIFETIME_SECS).contains(&lifetime.as_secs());
    if ok {
        return Ok(());
    }
    Err(Error::InvalidInput {
        field: LIFECYCLE_PREFERENCE,
        value: lifetime.as_secs_f64().to_string(),
        rule: format!(
            "must be whole seconds from 1 to {MAX_LIFETIME_SECS} (1000 years); \
             leave it unset for fal's default"
        ),
    })
}

/// The header value of a (checked) lifetime, as fal's clients send it:
/// `{"expiration_duration_seconds": N}`.
pub(crate) fn lifecycle_preference(lifetime: Duration) -> String {
    serde_json::json!({ "expiration_duration_seconds": lifetime.as_secs() }).to_string()
}

/// The lifetime headers of an upload's initiate (see [`LIFECYCLE`]).
pub(crate) fn upload_headers(lifetime: Option<Duration>) -> Vec<(&'static str, String)> {
    lifetime
        .map(|lifetime| {
            let value = lifecycle_preference(lifetime);
            vec![(LIFECYCLE_PREFERENCE, value.clone()), (LIFECYCLE, value)]
        })
        .unwrap_or_default()
}

/// One extra header, checked: a valid name that is not one the SDK sets,
/// and a value of visible ASCII. The value is never put in the error (it
/// may be a secret of the caller's).
fn extra_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue)> {
    let refused = |rule: String| Error::InvalidInput {
        field: "header",
        value: name.to_string(),
        rule,
    };
    let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        refused("must be a header name: letters, digits and !#$%&'*+-.^_`|~, nothing else".into())
    })?;
    if OWNED_HEADERS.contains(&header.as_str()) {
        return Err(refused(format!(
            "is set by the SDK (use its own method where it has one); an extra header may be \
             any other name, not one of: {}",
            OWNED_HEADERS.join(", ")
        )));
    }
    let value = HeaderValue::from_str(value)
        .ok()
        .filter(|value| !value.is_empty())
        .ok_or_else(|| refused("its value must be visible ASCII text, not empty".into()))?;
    Ok((header, value))
}

/// The extra headers, checked (see [`validate`]), for the generated
/// client's `inner` headers or a run request. A name given twice keeps its
/// last value.
pub(crate) fn extra_headers(queue: &QueueOptions) -> Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    for (name, value) in &queue.headers {
        let (name, value) = extra_header(name, value)?;
        headers.insert(name, value);
    }
    Ok(headers)
}

/// The values of the typed options as they are sent, when set.
pub(crate) struct Wire {
    /// `x-fal-object-lifecycle-preference`.
    pub lifecycle: Option<String>,
    /// `x-fal-store-io`: `0` when fal is to keep no history (the default,
    /// keeping it, is sent as nothing).
    pub store_io: Option<&'static str>,
    /// `x-fal-no-retry`: `1` when fal is not to retry.
    pub no_retry: Option<&'static str>,
    /// `fal_max_queue_length`.
    pub max_queue_length: Option<std::num::NonZeroU64>,
}

impl Wire {
    /// The wire values of `queue`'s options.
    pub(crate) fn of(queue: &QueueOptions) -> Self {
        Wire {
            lifecycle: queue.cdn_lifetime.map(lifecycle_preference),
            store_io: (queue.store_io == Some(false)).then_some("0"),
            no_retry: (queue.no_retry == Some(true)).then_some("1"),
            max_queue_length: queue
                .max_queue_length
                .and_then(|n| std::num::NonZeroU64::new(n.into())),
        }
    }

    /// The headers among them, for the run host (which takes the same
    /// headers as a submit; `fal_max_queue_length` is the queue's alone).
    pub(crate) fn headers(&self) -> Vec<(&'static str, String)> {
        [
            (LIFECYCLE_PREFERENCE, self.lifecycle.clone()),
            ("x-fal-store-io", self.store_io.map(str::to_string)),
            ("x-fal-no-retry", self.no_retry.map(str::to_string)),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(edit: impl FnOnce(&mut QueueOptions)) -> Result<()> {
        let mut queue = QueueOptions::default();
        edit(&mut queue);
        validate(&queue)
    }

    fn refused_field(result: Result<()>) -> (&'static str, String) {
        match result {
            Err(Error::InvalidInput { field, rule, .. }) => (field, rule),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn lifetimes_are_whole_seconds_from_one_to_a_thousand_years() {
        for ok in [1, 60, 86_400, MAX_LIFETIME_SECS] {
            with(|q| q.cdn_lifetime = Some(Duration::from_secs(ok))).unwrap();
        }
        for bad in [
            Duration::ZERO,
            Duration::from_millis(1500),
            Duration::from_secs(MAX_LIFETIME_SECS + 1),
            Duration::MAX,
        ] {
            let (field, rule) = refused_field(with(|q| q.cdn_lifetime = Some(bad)));
            assert_eq!(field, "x-fal-object-lifecycle-preference");
            assert!(rule.contains("from 1 to 31536000000"), "{rule}");
        }
        assert_eq!(
            lifecycle_preference(Duration::from_secs(3600)),
            r#"{"expiration_duration_seconds":3600}"#
        );
    }

    #[test]
    fn extra_headers_refuse_bad_names_values_and_the_sdks_own() {
        for (name, value, says) in [
            ("Authorization", "Key someone-elses", "is set by the SDK"),
            ("X-Fal-Store-IO", "1", "is set by the SDK"),
            ("content-type", "text/plain", "is set by the SDK"),
            ("bad name", "v", "must be a header name"),
            ("", "v", "must be a header name"),
            ("x-fal-new", "line\nbreak", "visible ASCII"),
            ("x-fal-new", "", "not empty"),
        ] {
            let result = with(|q| q.headers = vec![(name.into(), value.into())]);
            let error = result.unwrap_err().to_string();
            assert!(error.contains(says), "{name}: {error}");
            assert!(error.starts_with("invalid header"), "{error}");
            if value.len() > 3 {
                assert!(!error.contains(value), "the value is never shown: {error}");
            }
        }
        with(|q| q.headers = vec![("X-Fal-Something-New".into(), "on".into())]).unwrap();
    }

    #[test]
    fn a_queue_length_of_zero_is_refused() {
        let (field, _) = refused_field(with(|q| q.max_queue_length = Some(0)));
        assert_eq!(field, "fal_max_queue_length");
        with(|q| q.max_queue_length = Some(1)).unwrap();
    }

    #[test]
    fn only_the_non_default_choices_go_on_the_wire() {
        let defaults = QueueOptions {
            store_io: Some(true),
            no_retry: Some(false),
            ..QueueOptions::default()
        };
        assert!(Wire::of(&defaults).headers().is_empty());
        let set = QueueOptions {
            cdn_lifetime: Some(Duration::from_secs(60)),
            store_io: Some(false),
            no_retry: Some(true),
            ..QueueOptions::default()
        };
        assert_eq!(
            Wire::of(&set).headers(),
            [
                (
                    LIFECYCLE_PREFERENCE,
                    r#"{"expiration_duration_seconds":60}"#.to_string()
                ),
                ("x-fal-store-io", "0".to_string()),
                ("x-fal-no-retry", "1".to_string()),
            ]
        );
    }
}
