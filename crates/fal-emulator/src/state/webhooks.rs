//! The emulator's side of fal's signed webhooks: its signing key (served as
//! a JWKS), the delivery client, how failed deliveries are retried, and the
//! faults queued for the next attempts; each attempt's four signed headers.
//!
//! As fal documents it (<https://docs.fal.ai/model-apis/model-endpoints/webhooks>): the body
//! `{request_id, gateway_request_id, status, payload, error}`; four headers
//! `X-Fal-Webhook-{Request-Id,User-Id,Timestamp,Signature}`; the signature is
//! Ed25519 over `request_id\nuser_id\ntimestamp\nhex(sha256(body))`, with a
//! key of the JWKS served at `{rest}/.well-known/jwks.json`; the first
//! attempt times out after 15 s; redirects count as failures.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::faults::WebhookFault;
use crate::state::config::WebhookRetry;

/// The user id the emulator's deliveries carry (fal's is the account's).
pub(crate) const USER_ID: &str = "emulator-user";

/// How long one delivery attempt may take (fal: 15 s).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);

/// How far back a stale timestamp is put: beyond fal's 300 s window.
const STALE_BY: Duration = Duration::from_secs(600);

/// The emulator's side of webhooks: its keys, its delivery client and the
/// faults waiting for the next attempts.
pub(crate) struct Webhooks {
    key: SigningKey,
    /// Signs the [`WebhookFault::ForeignKey`] attempts: never in the JWKS.
    foreign_key: SigningKey,
    /// Redirects are not followed: fal counts them as failures.
    pub(crate) http: reqwest::Client,
    pub(crate) retry: WebhookRetry,
    faults: Mutex<VecDeque<WebhookFault>>,
}

impl Webhooks {
    pub(crate) fn new(retry: WebhookRetry, faults: Vec<WebhookFault>) -> Self {
        Self {
            key: random_key(),
            foreign_key: random_key(),
            http: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(ATTEMPT_TIMEOUT)
                .build()
                .expect("a plain reqwest client builds"),
            retry,
            faults: Mutex::new(faults.into()),
        }
    }

    pub(crate) fn set_faults(&self, faults: Vec<WebhookFault>) {
        *self.faults.lock().expect("webhook fault lock") = faults.into();
    }

    pub(crate) fn next_fault(&self) -> Option<WebhookFault> {
        self.faults.lock().expect("webhook fault lock").pop_front()
    }

    /// The JWKS of the emulator's signing key, as fal publishes its own.
    pub(crate) fn jwks(&self) -> Value {
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(self.key.verifying_key().as_bytes());
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "emulator", "use": "sig", "alg": "EdDSA"}]})
    }

    /// The four headers of one attempt.
    pub(crate) fn headers(
        &self,
        id: &str,
        body: &[u8],
        fault: Option<WebhookFault>,
    ) -> [(&'static str, String); 4] {
        let mut now = SystemTime::now();
        if fault == Some(WebhookFault::StaleTimestamp) {
            now -= STALE_BY;
        }
        let timestamp = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
            .to_string();
        let key = match fault {
            Some(WebhookFault::ForeignKey) => &self.foreign_key,
            _ => &self.key,
        };
        let message = format!(
            "{id}\n{USER_ID}\n{timestamp}\n{}",
            hex::encode(Sha256::digest(body))
        );
        let signature = hex::encode(key.sign(message.as_bytes()).to_bytes());
        [
            ("x-fal-webhook-request-id", id.to_owned()),
            ("x-fal-webhook-user-id", USER_ID.to_owned()),
            ("x-fal-webhook-timestamp", timestamp),
            ("x-fal-webhook-signature", signature),
        ]
    }
}

fn random_key() -> SigningKey {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the system has randomness");
    SigningKey::from_bytes(&seed)
}
