//! Receive fal's webhooks in your own server: verify each delivery, then act
//! on the typed event. axum here; any server works, since the verifier takes
//! the header values and the body bytes.
//!
//! `cargo run -p fal-kontext --example webhook` listens on 127.0.0.1:3000
//! (`PORT` to change it) and checks deliveries against fal's keys, or
//! against the key set at `FAL_JWKS_URL`; with `FAL_WEBHOOK_USER_ID` it takes
//! that fal user's deliveries only (any account's otherwise). Submit with
//! `.webhook("https://<your host>/fal/webhook")` (fal calls public addresses
//! only: put a tunnel or a reverse proxy in front). To try it offline, run
//! `kontext emulator`, set `FAL_JWKS_URL=<its rest URL>/.well-known/jwks.json`
//! here, and submit to the emulator with
//! `kontext submit --prompt "A lighthouse" --webhook http://127.0.0.1:3000/fal/webhook`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use fal_kontext::TextToImageOutput;
use fal_kontext::webhook::{Headers, Outcome, Verifier};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut verifier = Verifier::builder();
    if let Ok(url) = std::env::var("FAL_JWKS_URL") {
        verifier = verifier.jwks_url(url);
    }
    // fal signs every account's deliveries with the same keys: pin yours.
    if let Ok(user_id) = std::env::var("FAL_WEBHOOK_USER_ID") {
        verifier = verifier.user_id(user_id);
    }
    // One verifier for the server's life: it caches fal's keys.
    let verifier = verifier.build()?;
    let app = axum::Router::new()
        .route("/fal/webhook", post(receive))
        .with_state(verifier);
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    eprintln!("listening on http://{}/fal/webhook", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// One delivery: the body must be the bytes exactly as received.
async fn receive(State(verifier): State<Verifier>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let event = match verifier
        .verify::<TextToImageOutput>(&Headers::from(&headers), &body)
        .await
    {
        Ok(event) => event,
        Err(error) => {
            eprintln!("refused: {error}");
            // 401 forged or stale, 400 not an event, 503 keys unavailable
            return StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
        }
    };
    // fal may deliver an event more than once: act on each request id once.
    match event.outcome {
        Outcome::Success(output) => {
            for image in &output.images {
                println!("{}: {}", event.request_id, image.url);
            }
        }
        Outcome::Failure { error, details, .. } => {
            println!("{} failed: {error} {details:?}", event.request_id);
        }
        Outcome::PayloadError { reason } => println!("{}: no output ({reason})", event.request_id),
        other => println!("{}: {other:?}", event.request_id),
    }
    StatusCode::OK
}
