//! One delivery: verified, then each event handled once, however often fal
//! delivers it (fal retries until it gets a 2xx, so the same event can come
//! again: /work/shared/api/webhooks-and-headers.md, "Delivery").

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;

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
    /// Request ids handled, or being handled, by this run; the images in
    /// `out` say the same across runs.
    seen: Mutex<HashSet<String>>,
}

impl Receiver {
    /// A receiver that saves images into `out` (which exists).
    pub fn new(verifier: Verifier, downloads: Client, out: PathBuf, json: bool) -> Self {
        Self {
            verifier,
            downloads,
            out,
            json,
            seen: Mutex::default(),
        }
    }

    /// Verifies and handles one delivery; the status and text to answer.
    pub async fn receive(&self, headers: &HeaderMap, body: &[u8]) -> (StatusCode, String) {
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
        if !self.claim(&event.request_id) {
            eprintln!(
                "request {} delivered again: already handled",
                event.request_id
            );
            return (StatusCode::OK, "already handled".into());
        }
        match self.handle(&event).await {
            Ok(line) => {
                println!("{line}");
                (StatusCode::OK, "ok".into())
            }
            Err(error) => {
                // fal delivers it again; then it is tried anew
                self.release(&event.request_id);
                let message = format!("request {}: {error}", event.request_id);
                eprintln!("could not save the images of {message}");
                (StatusCode::INTERNAL_SERVER_ERROR, message)
            }
        }
    }

    /// Marks an event as being handled; false when it was, by this run or
    /// (its images are in `out`) an earlier one.
    fn claim(&self, request_id: &str) -> bool {
        let mut seen = self.seen.lock().expect("seen lock");
        !saved::already_saved(&self.out, request_id) && seen.insert(request_id.to_owned())
    }

    fn release(&self, request_id: &str) {
        self.seen.lock().expect("seen lock").remove(request_id);
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
