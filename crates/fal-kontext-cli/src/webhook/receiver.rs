//! One delivery: verified, then each event handled once, however often fal
//! delivers it (fal retries until it gets a 2xx, so the same event can come
//! again: /work/shared/api/webhooks-and-headers.md, "Delivery").

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use fal_kontext::Client;
use fal_kontext::webhook::{Event, Headers, Outcome, Verifier};
use hyper::{HeaderMap, StatusCode};
use serde_json::json;

use super::saved;
use crate::cli::request_id;
use crate::output::{AnyOutput, with_paths};

/// What the server knows: fal's keys, where images go, what it has seen.
pub struct Receiver {
    verifier: Verifier,
    downloads: Client,
    out: PathBuf,
    json: bool,
    /// The events of this run, by request id; the images in `out` say
    /// which were handled by an earlier one.
    claims: Mutex<HashMap<String, Claim>>,
}

/// Where an event stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Claim {
    /// Handled: its line printed, its images saved.
    Done,
    /// Being handled by an earlier delivery.
    InProgress,
    /// New: this delivery handles it.
    Claimed,
}

impl Receiver {
    /// A receiver that saves images into `out` (which exists).
    pub fn new(verifier: Verifier, downloads: Client, out: PathBuf, json: bool) -> Self {
        Self {
            verifier,
            downloads,
            out,
            json,
            claims: Mutex::default(),
        }
    }

    /// Verifies and handles one delivery; the status and text to answer.
    pub async fn receive(
        self: &Arc<Self>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> (StatusCode, String) {
        let event = match self
            .verifier
            .verify::<AnyOutput>(&Headers::from(headers), body)
            .await
        {
            Ok(event) => event,
            Err(error) => {
                eprintln!("refused a delivery: {error}");
                let status =
                    StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
                return (status, error.to_string());
            }
        };
        // It becomes a file name: fal's ids are UUIDs, anything else is refused.
        if let Err(rule) = request_id(&event.request_id) {
            let message = format!("the request id is unusable as a file name: {rule}");
            eprintln!("refused a delivery: {message}");
            return (StatusCode::BAD_REQUEST, message);
        }
        let id = event.request_id.clone();
        match self.claim(&id) {
            Claim::Done => {
                eprintln!("request {id} delivered again: already handled");
                return (StatusCode::OK, "already handled".into());
            }
            // Not acknowledged until saved: fal delivers it again later.
            Claim::InProgress => {
                return (
                    StatusCode::CONFLICT,
                    "being handled; deliver it again later".into(),
                );
            }
            Claim::Claimed => {}
        }
        // A task of its own, so that the event is handled to the end even
        // when fal stops waiting (it gives an attempt 15 s) and hangs up.
        let receiver = self.clone();
        let handled = tokio::spawn(async move {
            let handled = receiver.handle(&event).await;
            let mut claims = receiver.claims.lock().expect("claims lock");
            match handled {
                Ok(line) => {
                    println!("{line}");
                    claims.insert(id, Claim::Done);
                    (StatusCode::OK, "ok".into())
                }
                Err(error) => {
                    // fal delivers it again; then it is tried anew
                    claims.remove(&id);
                    let message = format!("request {id}: {error}");
                    eprintln!("could not save the images of {message}");
                    (StatusCode::INTERNAL_SERVER_ERROR, message)
                }
            }
        });
        handled.await.unwrap_or_else(|error| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the handler failed: {error}"),
            )
        })
    }

    /// Where an event stands; claims it when it is new to this run and its
    /// images are not in `out` (from an earlier run).
    fn claim(&self, request_id: &str) -> Claim {
        let mut claims = self.claims.lock().expect("claims lock");
        match claims.get(request_id) {
            Some(claim) => *claim,
            None if saved::already_saved(&self.out, request_id) => Claim::Done,
            None => {
                claims.insert(request_id.to_owned(), Claim::InProgress);
                Claim::Claimed
            }
        }
    }

    /// Saves a success's images; the line that reports the event.
    async fn handle(&self, event: &Event<AnyOutput>) -> fal_kontext::Result<String> {
        let id = &event.request_id;
        let (plain, document) = match &event.outcome {
            Outcome::Success(output) => {
                let paths = saved::save(&self.downloads, output, &self.out, id).await?;
                let listed: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                let plain = format!("{id} OK {}", listed.join(" "));
                let document =
                    json!({"status": "OK", "output": with_paths(output.0.clone(), &paths)});
                (plain, document)
            }
            Outcome::Failure { error, details, .. } => {
                let mut plain = format!("{id} ERROR {error}");
                for detail in details {
                    plain.push_str(&format!("; {detail}"));
                }
                let document = json!({"status": "ERROR", "error": error, "details": details});
                (plain, document)
            }
            Outcome::PayloadError { reason } => (
                format!("{id} PAYLOAD_ERROR {reason}"),
                json!({"status": "PAYLOAD_ERROR", "payload_error": reason}),
            ),
            // an outcome this version does not know: reported, nothing saved
            other => (
                format!("{id} UNKNOWN {other:?}"),
                json!({"status": "UNKNOWN"}),
            ),
        };
        if !self.json {
            return Ok(plain);
        }
        let mut document = document;
        document["request_id"] = json!(id);
        document["gateway_request_id"] = json!(event.gateway_request_id);
        Ok(document.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_claimed_once_and_acknowledged_only_when_done() {
        let out = tempfile::tempdir().unwrap();
        let receiver = Receiver::new(
            Verifier::new().unwrap(),
            Client::builder().build().unwrap(),
            out.path().to_path_buf(),
            false,
        );
        assert_eq!(receiver.claim("r1"), Claim::Claimed);
        assert_eq!(
            receiver.claim("r1"),
            Claim::InProgress,
            "a delivery while it is handled"
        );
        receiver
            .claims
            .lock()
            .unwrap()
            .insert("r1".into(), Claim::Done);
        assert_eq!(receiver.claim("r1"), Claim::Done);
        // saved by an earlier run
        std::fs::write(out.path().join("r2-1.png"), b"").unwrap();
        assert_eq!(receiver.claim("r2"), Claim::Done);
    }
}
