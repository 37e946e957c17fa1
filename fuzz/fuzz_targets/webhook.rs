//! Webhook deliveries as a receiver gets them from the network: any header
//! values, body, key set and clock. Checking the signature and decoding the
//! event never panic; every refusal prints and has an HTTP status to answer.

#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use arbitrary::Arbitrary;
use fal_kontext::EditOutput;
use fal_kontext::fuzzing::webhook_signature;
use fal_kontext::webhook::{Event, Headers, WebhookError};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Delivery<'a> {
    request_id: Option<&'a str>,
    user_id: Option<&'a str>,
    timestamp: Option<&'a str>,
    signature: Option<&'a str>,
    /// The receiver's clock, in seconds either side of the epoch.
    now_secs: i64,
    jwks: &'a [u8],
    body: &'a [u8],
}

fn refused(error: &WebhookError) {
    let _ = (error.to_string(), format!("{error:?}"));
    assert!(matches!(error.http_status(), 400 | 401 | 503), "{error:?}");
}

fuzz_target!(|d: Delivery<'_>| {
    let headers = Headers {
        request_id: d.request_id,
        user_id: d.user_id,
        timestamp: d.timestamp,
        signature: d.signature,
    };
    let offset = Duration::from_secs(d.now_secs.unsigned_abs());
    let now = if d.now_secs < 0 {
        UNIX_EPOCH.checked_sub(offset)
    } else {
        UNIX_EPOCH.checked_add(offset)
    };
    if let Some(now) = now
        && let Err(error) = webhook_signature(&headers, d.body, d.jwks, now)
    {
        refused(&error);
    }
    for header_id in [None, d.request_id] {
        if let Err(error) = Event::<serde_json::Value>::decode(d.body, header_id) {
            refused(&error);
        }
        if let Err(error) = Event::<EditOutput>::decode(d.body, header_id) {
            refused(&error);
        }
    }
});
