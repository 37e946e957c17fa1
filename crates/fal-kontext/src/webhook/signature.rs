//! fal's webhook signature, step by step as fal documents it
//! (<https://docs.fal.ai/model-apis/model-endpoints/webhooks>, "Verifying
//! webhooks"):
//! four headers, a ±300 s window, the message
//! `request_id \n user_id \n timestamp \n hex(sha256(body))`, and Ed25519.

use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use super::WebhookError;

/// `X-Fal-Webhook-Request-Id`.
pub const REQUEST_ID_HEADER: &str = "x-fal-webhook-request-id";
/// `X-Fal-Webhook-User-Id`.
pub const USER_ID_HEADER: &str = "x-fal-webhook-user-id";
/// `X-Fal-Webhook-Timestamp` (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "x-fal-webhook-timestamp";
/// `X-Fal-Webhook-Signature` (hex).
pub const SIGNATURE_HEADER: &str = "x-fal-webhook-signature";

/// How far a delivery's timestamp may be from this clock, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

/// The signature headers of one delivery, as received. Build it from any
/// server's headers with [`Headers::from_fn`], or from an `http::HeaderMap`
/// (axum's, hyper's, reqwest's) with `From`.
///
/// ```
/// let mut map = reqwest::header::HeaderMap::new();
/// map.insert("x-fal-webhook-request-id", "r1".parse().unwrap());
/// let headers = fal_kontext::webhook::Headers::from(&map);
/// assert_eq!(headers.request_id, Some("r1"));
/// assert_eq!(headers.signature, None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Headers<'a> {
    /// `X-Fal-Webhook-Request-Id`.
    pub request_id: Option<&'a str>,
    /// `X-Fal-Webhook-User-Id`.
    pub user_id: Option<&'a str>,
    /// `X-Fal-Webhook-Timestamp`.
    pub timestamp: Option<&'a str>,
    /// `X-Fal-Webhook-Signature`.
    pub signature: Option<&'a str>,
}

impl<'a> Headers<'a> {
    /// Reads the four headers with `get`, which is given each header's name
    /// in lowercase (`x-fal-webhook-request-id`, …).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let received: HashMap<&str, &str> = HashMap::from([("x-fal-webhook-timestamp", "1700000000")]);
    /// let headers = fal_kontext::webhook::Headers::from_fn(|name| received.get(name).copied());
    /// assert_eq!(headers.timestamp, Some("1700000000"));
    /// ```
    pub fn from_fn(mut get: impl FnMut(&'static str) -> Option<&'a str>) -> Self {
        Headers {
            request_id: get(REQUEST_ID_HEADER),
            user_id: get(USER_ID_HEADER),
            timestamp: get(TIMESTAMP_HEADER),
            signature: get(SIGNATURE_HEADER),
        }
    }
}

impl<'a> From<&'a reqwest::header::HeaderMap> for Headers<'a> {
    fn from(map: &'a reqwest::header::HeaderMap) -> Self {
        Headers::from_fn(|name| map.get(name).and_then(|value| value.to_str().ok()))
    }
}

/// A delivery whose headers are present, whose timestamp is in the window
/// and whose user is the one expected: what is left is its body, and a key
/// its signature verifies with.
pub(crate) struct CheckedHeaders<'a> {
    request_id: &'a str,
    user_id: &'a str,
    timestamp_text: &'a str,
    signature: Signature,
}

impl<'a> CheckedHeaders<'a> {
    /// Steps 1 and 2, and the account: every header there, the timestamp
    /// within [`TOLERANCE_SECS`] of `now`, the user id `user` when one is
    /// pinned (a genuine signature proves that fal sent a delivery, not that
    /// it is for this account: any fal account can point its webhook here),
    /// the signature 64 bytes of hex. Nothing here needs the body.
    pub fn check(
        headers: &Headers<'a>,
        now: SystemTime,
        user: Option<&str>,
    ) -> Result<Self, WebhookError> {
        let request_id = header(headers.request_id, "X-Fal-Webhook-Request-Id")?;
        let user_id = header(headers.user_id, "X-Fal-Webhook-User-Id")?;
        let timestamp_text = header(headers.timestamp, "X-Fal-Webhook-Timestamp")?;
        let signature = header(headers.signature, "X-Fal-Webhook-Signature")?;

        let timestamp: i64 =
            timestamp_text
                .trim()
                .parse()
                .map_err(|_| WebhookError::BadTimestamp {
                    value: timestamp_text.chars().take(40).collect(),
                })?;
        let skew_secs = unix_seconds(now).saturating_sub(timestamp);
        // unsigned: the skew of a timestamp near i64::MIN has no i64 absolute value
        if skew_secs.unsigned_abs() > TOLERANCE_SECS.unsigned_abs() {
            return Err(WebhookError::StaleTimestamp {
                timestamp,
                skew_secs,
            });
        }
        if let Some(expected) = user
            && user_id != expected
        {
            return Err(WebhookError::WrongUser {
                expected: expected.to_owned(),
                got: user_id.chars().take(80).collect(),
            });
        }

        let bytes: [u8; 64] = hex::decode(signature.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(WebhookError::MalformedSignature)?;
        Ok(CheckedHeaders {
            request_id,
            user_id,
            timestamp_text,
            signature: Signature::from_bytes(&bytes),
        })
    }

    /// Step 3: the message, built from the body exactly as received.
    pub fn with_body(self, body: &[u8]) -> Signed {
        let CheckedHeaders {
            request_id,
            user_id,
            timestamp_text,
            signature,
        } = self;
        // The header's text exactly as sent: that is what fal signed.
        let message = format!(
            "{request_id}\n{user_id}\n{timestamp_text}\n{}",
            hex::encode(Sha256::digest(body))
        );
        Signed {
            request_id: request_id.to_owned(),
            message: message.into_bytes(),
            signature,
        }
    }
}

/// A delivery whose headers passed [`CheckedHeaders::check`], with the
/// message its signature must sign.
pub(crate) struct Signed {
    pub request_id: String,
    message: Vec<u8>,
    signature: Signature,
}

impl Signed {
    /// Steps 1 to 3 (see [`CheckedHeaders::check`]), no user pinned.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn check(
        headers: &Headers<'_>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Self, WebhookError> {
        Ok(CheckedHeaders::check(headers, now, None)?.with_body(body))
    }

    /// Steps 4 and 5: genuine when the signature verifies with any key.
    pub fn verifies_with(&self, keys: &[VerifyingKey]) -> bool {
        keys.iter()
            .any(|key| key.verify_strict(&self.message, &self.signature).is_ok())
    }
}

fn header<'a>(value: Option<&'a str>, name: &'static str) -> Result<&'a str, WebhookError> {
    value.ok_or(WebhookError::MissingHeader(name))
}

/// Seconds since the Unix epoch (negative before it, for a wrong clock).
fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_at_the_ends_of_the_range_are_stale_not_a_panic() {
        let signature = "00".repeat(64);
        for (timestamp, now) in [
            (i64::MIN.to_string(), UNIX_EPOCH + Duration::from_secs(5)),
            (i64::MAX.to_string(), UNIX_EPOCH - Duration::from_secs(5)),
        ] {
            let headers = Headers {
                request_id: Some("r"),
                user_id: Some("u"),
                timestamp: Some(&timestamp),
                signature: Some(&signature),
            };
            let error = Signed::check(&headers, b"{}", now).err().unwrap();
            assert!(
                matches!(error, WebhookError::StaleTimestamp { .. }),
                "{error:?}"
            );
        }
    }
}
