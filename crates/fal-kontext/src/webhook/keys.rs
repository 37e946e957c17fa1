//! fal's webhook keys: a JWKS fetched from a public URL, cached for at most
//! 24 hours (<https://docs.fal.ai/model-apis/model-endpoints/webhooks>), fetched
//! again when no cached key verifies (key rotation), and fetched by one
//! caller at a time however many deliveries wait for it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use ed25519_dalek::VerifyingKey;
use serde_json::Value;
use tokio::time::Instant;

use super::WebhookError;
use crate::retry::limits::{Cut, JWKS_LIMITS, read_capped};

/// The largest key set read: a few keys take a few hundred bytes.
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// One fetched key set.
#[derive(Clone)]
pub(crate) struct KeySet {
    pub keys: Arc<[VerifyingKey]>,
    fetched: Instant,
    /// Which fetch made it (counting finished fetches): a later one is newer.
    generation: u64,
}

pub(crate) struct KeyCache {
    pub url: String,
    http: reqwest::Client,
    max_age: Duration,
    /// How soon after a fetch a signature that matches no key may cause
    /// another: forged deliveries must not turn into a stream of fetches.
    refresh_cooldown: Duration,
    current: Mutex<Option<KeySet>>,
    /// Fetches finished, successful or not.
    finished: AtomicU64,
    /// Held while fetching (so one caller fetches at a time); holds the last
    /// fetch's failure and its number, shared with whoever waited for it.
    fetching: tokio::sync::Mutex<Option<(u64, WebhookError)>>,
}

impl KeyCache {
    pub fn new(
        url: String,
        http: reqwest::Client,
        max_age: Duration,
        refresh_cooldown: Duration,
    ) -> Self {
        Self {
            url,
            http,
            max_age,
            refresh_cooldown,
            current: Mutex::new(None),
            finished: AtomicU64::new(0),
            fetching: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached set while it is younger than the maximum age, else a new one.
    pub async fn keys(&self) -> Result<KeySet, WebhookError> {
        self.fetch_unless(|set| set.fetched.elapsed() < self.max_age)
            .await
    }

    /// A set newer than `stale`, in which no key verified a delivery: one
    /// another caller fetched meanwhile, or a new fetch, unless `stale` is
    /// younger than the cooldown (then `stale` itself).
    pub async fn newer_than(&self, stale: &KeySet) -> Result<KeySet, WebhookError> {
        self.fetch_unless(|set| {
            set.generation > stale.generation || set.fetched.elapsed() < self.refresh_cooldown
        })
        .await
    }

    fn cached(&self, good: &impl Fn(&KeySet) -> bool) -> Option<KeySet> {
        let current = self.current.lock().expect("key cache lock");
        current.as_ref().filter(|set| good(set)).cloned()
    }

    /// The cached set if `good` accepts it, else the outcome of one fetch:
    /// this caller's, or the one that finished while it waited its turn.
    async fn fetch_unless(&self, good: impl Fn(&KeySet) -> bool) -> Result<KeySet, WebhookError> {
        if let Some(set) = self.cached(&good) {
            return Ok(set);
        }
        let arrived_after = self.finished.load(Ordering::SeqCst);
        let mut last_failure = self.fetching.lock().await;
        if let Some(set) = self.cached(&good) {
            return Ok(set);
        }
        if let Some((number, error)) = &*last_failure
            && *number > arrived_after
        {
            return Err(error.clone());
        }
        let fetched = self.fetch().await;
        let number = self.finished.fetch_add(1, Ordering::SeqCst) + 1;
        match fetched {
            Ok(keys) => {
                let set = KeySet {
                    keys: keys.into(),
                    fetched: Instant::now(),
                    generation: number,
                };
                *self.current.lock().expect("key cache lock") = Some(set.clone());
                *last_failure = None;
                Ok(set)
            }
            Err(error) => {
                *last_failure = Some((number, error.clone()));
                Err(error)
            }
        }
    }

    /// One GET of the key set. The JWKS is a public document: the request
    /// carries no key (the client never has a default `Authorization`).
    async fn fetch(&self) -> Result<Vec<VerifyingKey>, WebhookError> {
        let failed = |message: String| WebhookError::Keys {
            url: self.url.clone(),
            message,
        };
        let response = self
            .http
            .get(&self.url)
            .timeout(JWKS_LIMITS.total)
            .send()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(failed(format!("the server answered {status}")));
        }
        let body = read_capped(
            response.bytes_stream(),
            MAX_JWKS_BYTES as u64,
            JWKS_LIMITS.idle,
        )
        .await
        .map_err(|cut| {
            failed(match cut {
                Cut::Broken(e) => e.without_url().to_string(),
                Cut::TooLarge => format!("the key set is larger than {MAX_JWKS_BYTES} bytes"),
                Cut::Stalled(after) => format!("no byte of the key set came for {after:?}"),
            })
        })?;
        parse_jwks(&body).map_err(failed)
    }
}

/// The Ed25519 keys of a JWKS: each `{"kty": "OKP", "crv": "Ed25519", "x":
/// <base64url public key>}`. Keys of other kinds are skipped, as are
/// unknown fields; a set without one usable key is an error.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Vec<VerifyingKey>, String> {
    let document: Value =
        serde_json::from_slice(body).map_err(|e| format!("the key set is not JSON: {e}"))?;
    let keys: Vec<VerifyingKey> = document
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|jwk| jwk["kty"] == "OKP" && jwk["crv"] == "Ed25519")
        .filter_map(|jwk| {
            let x = jwk["x"].as_str()?.trim_end_matches('=');
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(x)
                .ok()?;
            VerifyingKey::from_bytes(&bytes.try_into().ok()?).ok()
        })
        .collect();
    if keys.is_empty() {
        return Err("the key set holds no Ed25519 key".into());
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ed25519_keys_are_taken() {
        let key = VerifyingKey::from_bytes(&[
            0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64,
            0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68,
            0xf7, 0x07, 0x51, 0x1a,
        ])
        .unwrap();
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes());
        let jwks = serde_json::json!({"keys": [
            {"kty": "RSA", "n": "…", "e": "AQAB"},
            {"kty": "OKP", "crv": "X25519", "x": x},
            {"kty": "OKP", "crv": "Ed25519", "x": "not base64!"},
            {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1", "future": {"field": 1}},
        ]});
        assert_eq!(parse_jwks(jwks.to_string().as_bytes()).unwrap(), vec![key]);
        assert_eq!(
            parse_jwks(br#"{"keys": [{"kty": "RSA"}]}"#).unwrap_err(),
            "the key set holds no Ed25519 key"
        );
        assert!(
            parse_jwks(b"<html>")
                .unwrap_err()
                .starts_with("the key set is not JSON")
        );
    }
}
