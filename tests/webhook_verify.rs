//! The webhook verifier: against a signature OpenSSL made, each way a
//! delivery can be wrong, and fal's key set fetched, cached, rotated and
//! fetched once however many deliveries wait for it.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use ed25519_dalek::{Signer, SigningKey};
use fal_kontext::EditOutput;
use fal_kontext::webhook::{Headers, Outcome, Verifier, WebhookError};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

// A delivery signed by OpenSSL, not by this project: the output of one run of
// `bash tests/fixtures/webhook_vector.sh` (OpenSSL 3.0.19), which generates an
// Ed25519 key (`openssl genpkey -algorithm ed25519`), hashes the body with
// `sha256sum`, signs `request_id\nuser_id\ntimestamp\nsha256hex` with
// `openssl pkeyutl -sign -rawin`, and prints the public key as a JWK `x`
// (`openssl pkey -pubout -outform DER | tail -c 32 | basenc --base64url`).
const VECTOR_REQUEST_ID: &str = "0f6a5d2e-5c1b-4c1e-9a51-3c7f1b2d9e40";
const VECTOR_USER_ID: &str = "github|4711";
const VECTOR_TIMESTAMP: &str = "1767225600";
const VECTOR_BODY: &str = r#"{"request_id":"0f6a5d2e-5c1b-4c1e-9a51-3c7f1b2d9e40","gateway_request_id":"0f6a5d2e-5c1b-4c1e-9a51-3c7f1b2d9e40","status":"OK","payload":{"images":[{"url":"https://v3.fal.media/files/x/out.jpg","width":1024,"height":768,"content_type":"image/jpeg"}],"seed":42,"has_nsfw_concepts":[false],"prompt":"Put a donut next to the flour.","timings":{}}}"#;
const VECTOR_SIGNATURE: &str = "3ec685c68310569473ba42f2014e22e19ac6104a0a9b8d1fa51020d2f4323ae2fd39e7f7f805cf4b7e98ac1934b96e925a396e540b928e9548b689dd51a07e06";
const VECTOR_JWK_X: &str = "o1uvsGrmoL_AWI2JC0i7yP_wwAYbU07VelOZ4XRemKM";

/// A delivery: its four headers and its body.
#[derive(Clone, Debug)]
struct Delivery {
    request_id: String,
    user_id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
}

impl Delivery {
    fn vector() -> Self {
        Delivery {
            request_id: VECTOR_REQUEST_ID.into(),
            user_id: VECTOR_USER_ID.into(),
            timestamp: VECTOR_TIMESTAMP.into(),
            signature: VECTOR_SIGNATURE.into(),
            body: VECTOR_BODY.into(),
        }
    }

    /// A delivery of `body` signed now by `key`, as fal signs them.
    fn signed(key: &SigningKey, body: &Value) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut delivery = Delivery {
            request_id: body["request_id"].as_str().unwrap().into(),
            user_id: "user-1".into(),
            timestamp: now.to_string(),
            signature: String::new(),
            body: body.to_string().into_bytes(),
        };
        let message = format!(
            "{}\n{}\n{}\n{}",
            delivery.request_id,
            delivery.user_id,
            delivery.timestamp,
            hex::encode(Sha256::digest(&delivery.body))
        );
        delivery.signature = hex::encode(key.sign(message.as_bytes()).to_bytes());
        delivery
    }

    fn headers(&self) -> Headers<'_> {
        Headers {
            request_id: Some(&self.request_id),
            user_id: Some(&self.user_id),
            timestamp: Some(&self.timestamp),
            signature: Some(&self.signature),
        }
    }
}

fn vector_time(offset_secs: i64) -> SystemTime {
    let timestamp: i64 = VECTOR_TIMESTAMP.parse().unwrap();
    UNIX_EPOCH + Duration::from_secs((timestamp + offset_secs) as u64)
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn jwk(key: &SigningKey) -> Value {
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
    json!({"kty": "OKP", "crv": "Ed25519", "x": x})
}

/// A key-set server on loopback whose answer, delay and status a test sets,
/// counting the fetches and how many were in flight at once.
#[derive(Clone)]
struct KeyServer {
    url: String,
    answer: Arc<Mutex<(u16, String)>>,
    delay: Arc<Mutex<Duration>>,
    fetches: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
    authorizations: Arc<AtomicUsize>,
}

impl KeyServer {
    async fn start(jwks: Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = KeyServer {
            url: format!(
                "http://{}/.well-known/jwks.json",
                listener.local_addr().unwrap()
            ),
            answer: Arc::new(Mutex::new((200, jwks.to_string()))),
            delay: Arc::default(),
            fetches: Arc::default(),
            in_flight: Arc::default(),
            most_in_flight: Arc::default(),
            authorizations: Arc::default(),
        };
        let shared = server.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let server = shared.clone();
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let server = server.clone();
                            async move { Ok::<_, Infallible>(server.answer(&request).await) }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        server
    }

    async fn answer(
        &self,
        request: &hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Full<Bytes>> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        if request.headers().contains_key("authorization") {
            self.authorizations.fetch_add(1, Ordering::SeqCst);
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let delay = *self.delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let (status, body) = self.answer.lock().unwrap().clone();
        hyper::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    }

    fn serve(&self, status: u16, body: Value) {
        *self.answer.lock().unwrap() = (status, body.to_string());
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn verifier(&self, cooldown: Duration) -> Verifier {
        Verifier::builder()
            .jwks_url(&self.url)
            .refresh_cooldown(cooldown)
            .build()
            .unwrap()
    }
}

fn event_body(request_id: &str) -> Value {
    json!({"request_id": request_id, "gateway_request_id": request_id, "status": "OK",
        "payload": {"images": [{"url": "https://cdn.example/a.jpg"}], "seed": 1,
            "has_nsfw_concepts": [false], "prompt": "p", "timings": {}}})
}

#[tokio::test]
async fn a_delivery_signed_by_openssl_verifies_and_decodes() {
    let server = KeyServer::start(json!({"keys": [
        {"kty": "OKP", "crv": "Ed25519", "x": VECTOR_JWK_X, "kid": "openssl", "use": "sig"}
    ]}))
    .await;
    let verifier = server.verifier(Duration::ZERO);
    let delivery = Delivery::vector();
    let event = verifier
        .verify_at::<EditOutput>(&delivery.headers(), &delivery.body, vector_time(10))
        .await
        .unwrap();
    assert_eq!(event.request_id, VECTOR_REQUEST_ID);
    let Outcome::Success(output) = event.outcome else {
        panic!("{:?}", event.outcome)
    };
    assert_eq!(output.images[0].url, "https://v3.fal.media/files/x/out.jpg");
    assert_eq!(output.seed, Some(42));
    assert_eq!(server.fetches(), 1);
    assert_eq!(
        server.authorizations.load(Ordering::SeqCst),
        0,
        "the key set is fetched without a key"
    );
}

#[tokio::test]
async fn each_way_to_be_wrong_is_refused() {
    let server =
        KeyServer::start(json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": VECTOR_JWK_X}]}))
            .await;
    let verifier = server.verifier(Duration::ZERO);
    let changed = |change: fn(&mut Delivery)| {
        let mut delivery = Delivery::vector();
        change(&mut delivery);
        delivery
    };
    let mut cases: Vec<(&str, Delivery, SystemTime, WebhookError)> = vec![
        (
            "a changed body",
            changed(|d| d.body[10] ^= 1),
            vector_time(0),
            WebhookError::BadSignature,
        ),
        (
            "a changed user id",
            changed(|d| d.user_id = "github|4712".into()),
            vector_time(0),
            WebhookError::BadSignature,
        ),
        (
            "a changed request id",
            changed(|d| d.request_id.replace_range(0..1, "1")),
            vector_time(0),
            WebhookError::BadSignature,
        ),
        (
            "a changed timestamp",
            changed(|d| d.timestamp = "1767225601".into()),
            vector_time(0),
            WebhookError::BadSignature,
        ),
        (
            "a stale timestamp",
            Delivery::vector(),
            vector_time(301),
            WebhookError::StaleTimestamp {
                timestamp: 1767225600,
                skew_secs: 301,
            },
        ),
        (
            "a future timestamp",
            Delivery::vector(),
            vector_time(-301),
            WebhookError::StaleTimestamp {
                timestamp: 1767225600,
                skew_secs: -301,
            },
        ),
        (
            "a timestamp that is no number",
            changed(|d| d.timestamp = "yesterday".into()),
            vector_time(0),
            WebhookError::BadTimestamp {
                value: "yesterday".into(),
            },
        ),
        (
            "a signature one byte short",
            changed(|d| d.signature.truncate(126)),
            vector_time(0),
            WebhookError::MalformedSignature,
        ),
        (
            "a signature one byte long",
            changed(|d| d.signature.push_str("00")),
            vector_time(0),
            WebhookError::MalformedSignature,
        ),
        (
            "a signature that is not hex",
            changed(|d| d.signature.replace_range(0..2, "zz")),
            vector_time(0),
            WebhookError::MalformedSignature,
        ),
    ];
    type Remove = fn(&mut Headers<'_>);
    let missing: [(&str, Remove); 4] = [
        ("X-Fal-Webhook-Request-Id", |h| h.request_id = None),
        ("X-Fal-Webhook-User-Id", |h| h.user_id = None),
        ("X-Fal-Webhook-Timestamp", |h| h.timestamp = None),
        ("X-Fal-Webhook-Signature", |h| h.signature = None),
    ];
    for (case, delivery, now, expected) in cases.drain(..) {
        let outcome = verifier
            .verify_at::<Value>(&delivery.headers(), &delivery.body, now)
            .await;
        assert_eq!(outcome.unwrap_err(), expected, "{case}");
        assert_eq!(expected.http_status(), 401, "{case}");
    }
    let delivery = Delivery::vector();
    for (name, remove) in missing {
        let mut headers = delivery.headers();
        remove(&mut headers);
        let outcome = verifier
            .verify_at::<Value>(&headers, &delivery.body, vector_time(0))
            .await;
        assert_eq!(outcome.unwrap_err(), WebhookError::MissingHeader(name));
    }
    // the edges of the window are inside it
    for offset in [-300, 300] {
        let outcome = verifier
            .verify_at::<Value>(&delivery.headers(), &delivery.body, vector_time(offset))
            .await;
        assert!(outcome.is_ok(), "{offset}: {outcome:?}");
    }

    // a key fal does not publish
    server.serve(200, json!({"keys": [jwk(&key(9))]}));
    let fresh = server.verifier(Duration::ZERO);
    let outcome = fresh
        .verify_at::<Value>(&delivery.headers(), &delivery.body, vector_time(0))
        .await;
    assert_eq!(outcome.unwrap_err(), WebhookError::BadSignature);
}

/// A genuine signature proves fal sent a delivery, not that it is for this
/// account: a verifier pinned to a user takes that user's deliveries only,
/// and refuses the others from their headers, fetching nothing.
#[tokio::test]
async fn a_pinned_user_takes_its_own_deliveries_only_and_refuses_others_unfetched() {
    let server =
        KeyServer::start(json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": VECTOR_JWK_X}]}))
            .await;
    let pinned = |user: &str| {
        Verifier::builder()
            .jwks_url(&server.url)
            .user_id(user)
            .build()
            .unwrap()
    };
    let delivery = Delivery::vector();

    let stranger = pinned("github|4712");
    let expected = WebhookError::WrongUser {
        expected: "github|4712".into(),
        got: VECTOR_USER_ID.into(),
    };
    assert_eq!(
        stranger.check_headers_at(&delivery.headers(), vector_time(0)),
        Err(expected.clone()),
        "refused from the headers alone"
    );
    let outcome = stranger
        .verify_at::<Value>(&delivery.headers(), &delivery.body, vector_time(0))
        .await;
    assert_eq!(outcome.unwrap_err(), expected);
    assert_eq!(expected.http_status(), 401);
    assert!(
        expected.to_string().contains("github|4711")
            && expected.to_string().contains("github|4712"),
        "{expected}"
    );
    assert_eq!(server.fetches(), 0, "nothing fetched for another account");

    // claiming the pinned user does not help a delivery signed for another
    let mut claimed = Delivery::vector();
    claimed.user_id = "github|4712".into();
    assert_eq!(
        stranger.check_headers_at(&claimed.headers(), vector_time(0)),
        Ok(())
    );
    let outcome = stranger
        .verify_at::<Value>(&claimed.headers(), &claimed.body, vector_time(0))
        .await;
    assert_eq!(outcome.unwrap_err(), WebhookError::BadSignature);

    let own = pinned(VECTOR_USER_ID);
    assert_eq!(
        own.check_headers_at(&delivery.headers(), vector_time(0)),
        Ok(())
    );
    let event = own
        .verify_at::<Value>(&delivery.headers(), &delivery.body, vector_time(0))
        .await
        .unwrap();
    assert_eq!(event.request_id, VECTOR_REQUEST_ID);
    // the header checks need no body, and are the same checks
    assert!(matches!(
        own.check_headers_at(&delivery.headers(), vector_time(301)),
        Err(WebhookError::StaleTimestamp { .. })
    ));
    let mut headers = delivery.headers();
    headers.signature = None;
    assert_eq!(
        own.check_headers_at(&headers, vector_time(0)),
        Err(WebhookError::MissingHeader("X-Fal-Webhook-Signature"))
    );
}

#[test]
fn a_user_id_no_header_can_carry_is_refused_at_build() {
    for bad in ["", "two words", "tab\there", "caf\u{e9}"] {
        let error = Verifier::builder().user_id(bad).build().unwrap_err();
        assert!(error.to_string().contains("user_id"), "{bad:?}: {error}");
    }
}

#[tokio::test]
async fn a_genuine_body_that_is_not_an_event_is_a_bad_request() {
    let signer = key(1);
    let server = KeyServer::start(json!({"keys": [jwk(&signer)]})).await;
    let verifier = server.verifier(Duration::ZERO);
    let delivery = Delivery::signed(&signer, &json!({"request_id": "r1", "hello": "world"}));
    let error = verifier
        .verify::<Value>(&delivery.headers(), &delivery.body)
        .await
        .unwrap_err();
    assert!(
        matches!(error, WebhookError::NotAnEvent { request_id: Some(ref id), .. } if id == "r1"),
        "{error}"
    );
    assert_eq!(error.http_status(), 400);
}

#[tokio::test]
async fn a_key_set_that_cannot_be_fetched_is_a_clear_error() {
    let signer = key(1);
    let delivery = Delivery::signed(&signer, &event_body("r1"));

    // nothing listens there
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        closed.local_addr().unwrap()
    );
    drop(closed);
    let verifier = Verifier::builder().jwks_url(&url).build().unwrap();
    let error = verifier
        .verify::<Value>(&delivery.headers(), &delivery.body)
        .await
        .unwrap_err();
    assert!(
        matches!(error, WebhookError::Keys { url: ref at, .. } if *at == url),
        "{error}"
    );
    assert_eq!(error.http_status(), 503);

    let server = KeyServer::start(json!({})).await;
    for (status, body, expected) in [
        (
            503,
            json!({"detail": "down"}),
            "the server answered 503 Service Unavailable",
        ),
        (200, json!("<html>"), "the key set holds no Ed25519 key"),
        (
            200,
            json!({"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]}),
            "the key set holds no Ed25519 key",
        ),
    ] {
        server.serve(status, body);
        let verifier = server.verifier(Duration::ZERO);
        let error = verifier
            .verify::<Value>(&delivery.headers(), &delivery.body)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "fal's webhook keys could not be fetched from {}: {expected}",
                server.url
            )
        );
    }
}

#[tokio::test]
async fn a_rotated_key_is_found_by_fetching_the_set_once_more() {
    let (old, new) = (key(1), key(2));
    let server = KeyServer::start(json!({"keys": [jwk(&old)]})).await;
    let verifier = server.verifier(Duration::ZERO);

    let first = Delivery::signed(&old, &event_body("r1"));
    verifier
        .verify::<EditOutput>(&first.headers(), &first.body)
        .await
        .unwrap();
    verifier
        .verify::<EditOutput>(&first.headers(), &first.body)
        .await
        .unwrap();
    assert_eq!(server.fetches(), 1, "the set is cached");

    // fal rotates: the new key signs, the set lists both
    server.serve(200, json!({"keys": [jwk(&new), jwk(&old)]}));
    let rotated = Delivery::signed(&new, &event_body("r2"));
    let event = verifier
        .verify::<EditOutput>(&rotated.headers(), &rotated.body)
        .await
        .unwrap();
    assert_eq!(event.request_id, "r2");
    assert_eq!(
        server.fetches(),
        2,
        "fetched once more when no cached key verified"
    );

    // a key outside the set: one more fetch, then refused
    let stranger = Delivery::signed(&key(3), &event_body("r3"));
    let error = verifier
        .verify::<EditOutput>(&stranger.headers(), &stranger.body)
        .await
        .unwrap_err();
    assert_eq!(error, WebhookError::BadSignature);
    assert_eq!(server.fetches(), 3);
}

#[tokio::test]
async fn within_the_cooldown_a_stranger_s_signature_fetches_nothing() {
    let signer = key(1);
    let server = KeyServer::start(json!({"keys": [jwk(&signer)]})).await;
    let verifier = server.verifier(Duration::from_secs(3600));
    let genuine = Delivery::signed(&signer, &event_body("r1"));
    verifier
        .verify::<Value>(&genuine.headers(), &genuine.body)
        .await
        .unwrap();
    for n in 0..5 {
        let forged = Delivery::signed(&key(7), &event_body(&format!("f{n}")));
        let error = verifier
            .verify::<Value>(&forged.headers(), &forged.body)
            .await
            .unwrap_err();
        assert_eq!(error, WebhookError::BadSignature);
    }
    assert_eq!(server.fetches(), 1, "forged deliveries caused no fetch");
}

#[tokio::test]
async fn deliveries_that_arrive_together_share_one_fetch() {
    let signer = key(1);
    let server = KeyServer::start(json!({"keys": [jwk(&signer)]})).await;
    *server.delay.lock().unwrap() = Duration::from_millis(300);
    let verifier = server.verifier(Duration::ZERO);
    for outcome in deliver_together(&verifier, &signer, 50).await {
        outcome.unwrap();
    }
    assert_eq!(server.fetches(), 1);

    // when the fetch fails, those waiting for it share the failure rather
    // than each fetching in turn
    server.serve(503, json!({"detail": "down"}));
    let verifier = server.verifier(Duration::ZERO);
    let before = server.fetches();
    for outcome in deliver_together(&verifier, &signer, 20).await {
        assert!(matches!(outcome, Err(WebhookError::Keys { .. })));
    }
    assert_eq!(
        server.most_in_flight.load(Ordering::SeqCst),
        1,
        "never two fetches at once"
    );
    assert!(
        server.fetches() - before < 20,
        "{} fetches for 20 deliveries",
        server.fetches() - before
    );
}

/// `count` deliveries signed by `signer`, verified at once.
async fn deliver_together(
    verifier: &Verifier,
    signer: &SigningKey,
    count: usize,
) -> Vec<Result<fal_kontext::webhook::Event<EditOutput>, WebhookError>> {
    let deliveries = (0..count).map(|n| {
        let verifier = verifier.clone();
        let delivery = Delivery::signed(signer, &event_body(&format!("r{n}")));
        tokio::spawn(async move {
            verifier
                .verify::<EditOutput>(&delivery.headers(), &delivery.body)
                .await
        })
    });
    let outcomes = futures::future::join_all(deliveries).await;
    outcomes
        .into_iter()
        .map(|outcome| outcome.unwrap())
        .collect()
}
