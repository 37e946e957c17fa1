//! What can be wrong with a delivery, and what a receiver answers fal.

/// Why a delivery was not accepted. None of these carries the API key: the
/// verifier never holds one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// One of the four `X-Fal-Webhook-*` headers is missing (or not text).
    #[error("the delivery has no {0} header")]
    MissingHeader(&'static str),
    /// `X-Fal-Webhook-Timestamp` is not a whole number of Unix seconds.
    #[error("the timestamp header `{value}` is not a number of Unix seconds")]
    BadTimestamp {
        /// The header's value (at most 40 characters of it).
        value: String,
    },
    /// The timestamp is more than 300 seconds from this machine's clock
    /// (a replay, or a clock that is wrong).
    #[error(
        "the delivery's timestamp {timestamp} is {skew_secs} s from this clock (at most 300 s allowed)"
    )]
    StaleTimestamp {
        /// The timestamp the delivery carried.
        timestamp: i64,
        /// This clock minus the timestamp, in seconds (negative: from the future).
        skew_secs: i64,
    },
    /// The delivery names another fal account (`X-Fal-Webhook-User-Id`)
    /// than the one the verifier is pinned to
    /// ([`VerifierBuilder::user_id`](super::VerifierBuilder::user_id)): fal
    /// signs every account's deliveries with the same keys, so a genuine
    /// signature alone does not make a delivery this account's.
    #[error(
        "the delivery is for fal user {got:?}, not {expected:?}: this receiver takes its own account's deliveries only"
    )]
    WrongUser {
        /// The user id the verifier is pinned to.
        expected: String,
        /// The user id the delivery named (at most 80 characters of it).
        got: String,
    },
    /// `X-Fal-Webhook-Signature` is not the hex of 64 bytes.
    #[error("the signature header is not the hex of a 64-byte Ed25519 signature")]
    MalformedSignature,
    /// The signature verifies against no key of fal's key set, even after
    /// the set was fetched again.
    #[error("the signature matches no key of fal's webhook key set")]
    BadSignature,
    /// fal's key set could not be fetched or read: the delivery could not be
    /// checked either way.
    #[error("fal's webhook keys could not be fetched from {url}: {message}")]
    Keys {
        /// The JWKS URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The delivery is genuine, but its body is not a webhook event (of this
    /// output type).
    #[error("not a fal webhook event{}: {message}", .request_id.as_ref().map(|id| format!(" (request {id})")).unwrap_or_default())]
    NotAnEvent {
        /// The request it is about, when that could be read.
        request_id: Option<String>,
        /// What is wrong with it.
        message: String,
    },
}

impl WebhookError {
    /// The HTTP status a receiver should answer fal with: 401 for a delivery
    /// that is not proven to come from fal or is for another account, 400
    /// for a genuine one whose body is not an event, 503 when fal's keys
    /// cannot be fetched (fal retries a failed delivery, so it comes again
    /// once they can).
    ///
    /// ```
    /// use fal_kontext::webhook::WebhookError;
    /// assert_eq!(WebhookError::BadSignature.http_status(), 401);
    /// assert_eq!(WebhookError::MissingHeader("X-Fal-Webhook-Signature").http_status(), 401);
    /// let stranger = WebhookError::WrongUser { expected: "me".into(), got: "them".into() };
    /// assert_eq!(stranger.http_status(), 401);
    /// ```
    pub fn http_status(&self) -> u16 {
        match self {
            WebhookError::NotAnEvent { .. } => 400,
            WebhookError::Keys { .. } => 503,
            _ => 401,
        }
    }
}
