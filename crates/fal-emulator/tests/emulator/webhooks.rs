//! Webhook deliveries: signed as fal signs them with the key the emulator's
//! JWKS lists, retried with backoff, counted, and spoiled on demand.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use fal_emulator::{Config, Emulator, Stats, WebhookFault, WebhookRetry};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{KONTEXT, client, edit_input, fast, start};

/// One delivery attempt as received.
#[derive(Clone, Debug)]
struct Attempt {
    headers: HeaderMap,
    body: Bytes,
}

impl Attempt {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header: {:?}", self.headers))
    }

    fn event(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    /// Whether fal's check passes: the signature verifies with `key` and the
    /// timestamp is within 300 s of now.
    fn is_genuine(&self, key: &VerifyingKey) -> bool {
        let timestamp = self.header("x-fal-webhook-timestamp");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let fresh = (now - timestamp.parse::<i64>().expect("Unix seconds")).abs() <= 300;
        let message = format!(
            "{}\n{}\n{timestamp}\n{}",
            self.header("x-fal-webhook-request-id"),
            self.header("x-fal-webhook-user-id"),
            hex::encode(Sha256::digest(&self.body))
        );
        let bytes: [u8; 64] = hex::decode(self.header("x-fal-webhook-signature"))
            .expect("hex")
            .try_into()
            .expect("64 bytes");
        fresh
            && key
                .verify_strict(message.as_bytes(), &Signature::from_bytes(&bytes))
                .is_ok()
    }
}

/// A webhook receiver on loopback that records every attempt and answers
/// each with the next status of its script (200 once the script is spent).
#[derive(Clone)]
struct Receiver {
    url: String,
    attempts: Arc<Mutex<Vec<Attempt>>>,
}

impl Receiver {
    async fn start(script: Vec<u16>) -> Self {
        let attempts: Arc<Mutex<Vec<Attempt>>> = Arc::default();
        let script = Arc::new(Mutex::new(script.into_iter()));
        let recorded = attempts.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                recorded.lock().unwrap().push(Attempt { headers, body });
                let status = script.lock().unwrap().next().unwrap_or(200);
                async move { StatusCode::from_u16(status).unwrap() }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, attempts }
    }

    fn attempts(&self) -> Vec<Attempt> {
        self.attempts.lock().unwrap().clone()
    }
}

/// Quick retries: `attempts` in all, 10 ms apart at first.
fn quick_retries(attempts: u32) -> Config {
    Config {
        webhook_retry: WebhookRetry {
            attempts,
            first_delay: Duration::from_millis(10),
        },
        ..fast()
    }
}

async fn submit_with_webhook(emulator: &Emulator, hook: &str) -> String {
    let response = client()
        .post(format!(
            "{}/{KONTEXT}?fal_webhook={hook}",
            emulator.queue_url()
        ))
        .header("authorization", format!("Key {}", emulator.key()))
        .json(&edit_input())
        .send()
        .await
        .unwrap();
    let submitted: Value = response.json().await.unwrap();
    submitted["request_id"].as_str().unwrap().to_owned()
}

/// The emulator's signing key, read from its JWKS without a key.
async fn published_key(emulator: &Emulator) -> VerifyingKey {
    let jwks: Value = client()
        .get(emulator.jwks_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");
    assert_eq!(
        (keys[0]["kty"].as_str(), keys[0]["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(keys[0]["x"].as_str().unwrap())
        .unwrap();
    VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap()
}

/// Waits (bounded) until the counters say the deliveries are over.
async fn settled(emulator: &Emulator, done: impl Fn(&Stats) -> bool) -> Stats {
    for _ in 0..2000 {
        let stats = emulator.stats();
        if done(&stats) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("deliveries never settled: {:?}", emulator.stats());
}

#[tokio::test]
async fn deliveries_are_signed_with_the_key_the_jwks_lists() {
    let emulator = start(fast()).await;
    let receiver = Receiver::start(vec![]).await;
    let id = submit_with_webhook(&emulator, &receiver.url).await;
    let stats = settled(&emulator, |s| s.webhook_deliveries == 1).await;
    let key = published_key(&emulator).await;

    let attempts = receiver.attempts();
    assert_eq!(attempts.len(), 1);
    let attempt = &attempts[0];
    assert!(attempt.is_genuine(&key));
    assert_eq!(attempt.header("x-fal-webhook-request-id"), id);
    assert_eq!(attempt.event()["request_id"], id.as_str());
    assert_eq!(attempt.event()["status"], "OK");
    assert_eq!(attempt.header("content-type"), "application/json");
    assert!(!attempt.headers.contains_key("authorization"));
    assert_eq!((stats.webhook_failures, emulator.stats().jwks), (0, 1));
}

#[tokio::test]
async fn a_failed_delivery_is_retried_until_it_is_taken() {
    let emulator = start(quick_retries(5)).await;
    // an error, a redirect (fal counts it as a failure), then taken
    let receiver = Receiver::start(vec![500, 307]).await;
    submit_with_webhook(&emulator, &receiver.url).await;
    let stats = settled(&emulator, |s| s.webhook_deliveries == 1).await;
    assert_eq!(stats.webhook_failures, 2);
    let attempts = receiver.attempts();
    assert_eq!(attempts.len(), 3);
    assert!(
        attempts.iter().all(|a| a.body == attempts[0].body),
        "the same event each time"
    );
}

#[tokio::test]
async fn a_delivery_refused_every_time_ends_after_its_attempts() {
    let emulator = start(quick_retries(3)).await;
    let receiver = Receiver::start(vec![503; 10]).await;
    submit_with_webhook(&emulator, &receiver.url).await;
    let stats = settled(&emulator, |s| s.webhook_failures == 3).await;
    assert_eq!(stats.webhook_deliveries, 0);
    assert_eq!(receiver.attempts().len(), 3);
}

#[tokio::test]
async fn faults_sign_with_a_stranger_s_key_send_a_stale_timestamp_or_repeat_the_event() {
    let emulator = start(Config {
        webhook_faults: vec![
            WebhookFault::ForeignKey,
            WebhookFault::StaleTimestamp,
            WebhookFault::Duplicate,
        ],
        ..quick_retries(5)
    })
    .await;
    // a receiver that verifies answers 401 to the first two
    let receiver = Receiver::start(vec![401, 401]).await;
    let id = submit_with_webhook(&emulator, &receiver.url).await;
    let stats = settled(&emulator, |s| s.webhook_deliveries == 2).await;
    assert_eq!((stats.webhook_failures, stats.faults_injected), (2, 3));

    let key = published_key(&emulator).await;
    let attempts = receiver.attempts();
    let genuine: Vec<bool> = attempts.iter().map(|a| a.is_genuine(&key)).collect();
    assert_eq!(genuine, [false, false, true, true]);
    let stale = attempts[1]
        .header("x-fal-webhook-timestamp")
        .parse::<u64>()
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now - stale > 300, "stale by {} s", now - stale);
    for attempt in &attempts {
        assert_eq!(attempt.event()["request_id"], id.as_str());
    }
}
