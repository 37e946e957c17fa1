//! `?fal_webhook=URL`: when a request ends, fal POSTs its outcome there,
//! signed, and retries a failed delivery with growing backoff; the emulator
//! does the same (to loopback URLs only: it never reaches off this machine).
//!
//! As fal documents it (<https://docs.fal.ai/model-apis/model-endpoints/webhooks>): the body
//! `{request_id, gateway_request_id, status, payload, error}`; four headers
//! `X-Fal-Webhook-{Request-Id,User-Id,Timestamp,Signature}`; the signature is
//! Ed25519 over `request_id\nuser_id\ntimestamp\nhex(sha256(body))`, with a
//! key of the JWKS served at `{rest}/.well-known/jwks.json`; the first
//! attempt times out after 15 s; redirects count as failures.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::fetch::is_loopback;
use crate::jobs::Outcome;
use crate::state::Shared;
use crate::stats::bump;

/// The user id the emulator's deliveries carry (fal's is the account's).
pub(crate) const USER_ID: &str = "emulator-user";

/// How long one delivery attempt may take (fal: 15 s).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);

/// How far back a stale timestamp is put: beyond fal's 300 s window.
const STALE_BY: Duration = Duration::from_secs(600);

/// What goes wrong with a webhook delivery (see
/// [`Emulator::set_webhook_faults`](crate::Emulator::set_webhook_faults)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookFault {
    /// The attempt is signed with a key that is not in the JWKS.
    ForeignKey,
    /// The attempt carries a timestamp ten minutes old (signed correctly).
    StaleTimestamp,
    /// Once delivered, the event is delivered again, as fal may.
    Duplicate,
}

/// How failed deliveries are retried: `attempts` in all, the first pause
/// `first_delay`, doubling up to a minute (fal retries for up to hours; the
/// default is ten attempts over about four minutes).
///
/// ```
/// use std::time::Duration;
/// let quick = fal_emulator::WebhookRetry { attempts: 3, first_delay: Duration::from_millis(10) };
/// assert_eq!(fal_emulator::WebhookRetry::default().attempts, 10);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebhookRetry {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// The pause after the first failed attempt.
    pub first_delay: Duration,
}

impl Default for WebhookRetry {
    fn default() -> Self {
        Self {
            attempts: 10,
            first_delay: Duration::from_secs(1),
        }
    }
}

/// The emulator's side of webhooks: its keys, its delivery client and the
/// faults waiting for the next attempts.
pub(crate) struct Webhooks {
    key: SigningKey,
    /// Signs the [`WebhookFault::ForeignKey`] attempts: never in the JWKS.
    foreign_key: SigningKey,
    /// Redirects are not followed: fal counts them as failures.
    http: reqwest::Client,
    retry: WebhookRetry,
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

    fn next_fault(&self) -> Option<WebhookFault> {
        self.faults.lock().expect("webhook fault lock").pop_front()
    }

    /// The JWKS of the emulator's signing key, as fal publishes its own.
    pub(crate) fn jwks(&self) -> Value {
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(self.key.verifying_key().as_bytes());
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "emulator", "use": "sig", "alg": "EdDSA"}]})
    }

    /// The four headers of one attempt.
    fn headers(
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

pub(crate) fn deliver(shared: &Arc<Shared>, url: String, id: String, outcome: Outcome) {
    if !is_loopback(&url) {
        tracing::warn!(%url, "webhook not called: only loopback URLs are");
        return;
    }
    let payload = match outcome {
        Outcome::Done(output) => json!({
            "request_id": id,
            "gateway_request_id": id,
            "status": "OK",
            "payload": output.as_ref(),
            "error": null,
        }),
        Outcome::Invalid(details) => json!({
            "request_id": id,
            "gateway_request_id": id,
            "status": "ERROR",
            "error": "Invalid status code: 422",
            "payload": {"detail": details.as_ref()},
        }),
        Outcome::TimedOut => json!({
            "request_id": id,
            "gateway_request_id": id,
            "status": "ERROR",
            "error": "Invalid status code: 504",
            "payload": {"detail": "Request timed out"},
        }),
        Outcome::Cancelled => return,
    };
    let body = payload.to_string().into_bytes();
    let shared = shared.clone();
    tokio::spawn(async move {
        let redeliver = deliver_with_retries(&shared, &url, &id, &body).await;
        if redeliver {
            deliver_with_retries(&shared, &url, &id, &body).await;
        }
    });
}

/// Attempts until one is answered 2xx or the attempts run out; true when a
/// [`WebhookFault::Duplicate`] asks for the event to be delivered again.
async fn deliver_with_retries(shared: &Shared, url: &str, id: &str, body: &[u8]) -> bool {
    let webhooks = &shared.webhooks;
    let mut delay = webhooks.retry.first_delay;
    let attempts = webhooks.retry.attempts.max(1);
    for attempt in 1..=attempts {
        let fault = webhooks.next_fault();
        if fault.is_some() {
            bump(&shared.counters.faults_injected);
        }
        let mut request = webhooks
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in webhooks.headers(id, body, fault) {
            request = request.header(name, value);
        }
        let answer = tokio::select! {
            answer = request.send() => answer,
            () = shared.shutdown.cancelled() => return false,
        };
        match answer {
            Ok(response) if response.status().is_success() => {
                bump(&shared.counters.webhook_deliveries);
                return fault == Some(WebhookFault::Duplicate);
            }
            Ok(response) => {
                tracing::warn!(%url, attempt, status = %response.status(), "webhook refused");
            }
            Err(error) => tracing::warn!(%url, attempt, %error, "webhook call failed"),
        }
        bump(&shared.counters.webhook_failures);
        if attempt == attempts {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shared.shutdown.cancelled() => return false,
        }
        delay = (delay * 2).min(Duration::from_secs(60));
    }
    false
}
