//! One delivery: verified, then each event handled once, however often fal
//! delivers it (fal retries until it gets a 2xx, so the same event can come
//! again: <https://docs.fal.ai/model-apis/model-endpoints/webhooks>).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fal_kontext::Client;
use fal_kontext::webhook::{Event, Headers, Outcome, Verifier, WebhookError};
use hyper::{HeaderMap, StatusCode};
use serde_json::json;
use tokio::sync::Notify;

use super::saved;
use crate::flags::parse::request_id;
use crate::output::{AnyOutput, with_paths};
use crate::server_text::printable;

/// What the server knows: fal's keys, where images go, what it has seen.
pub struct Receiver {
    verifier: Verifier,
    downloads: Client,
    out: PathBuf,
    json: bool,
    /// How long saving one event's images may take.
    save_timeout: Duration,
    /// The events of this run, by request id; the images in `out` say
    /// which were handled by an earlier one.
    claims: Mutex<HashMap<String, Claim>>,
    /// Told when stdout is closed: no event can be reported any more, so
    /// the server stops.
    stop: Arc<Notify>,
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

/// A delivery's answer: the status and its text.
pub type Answer = (StatusCode, String);

impl Receiver {
    /// A receiver that saves images into `out` (which exists), giving up
    /// on an event's images after `save_timeout`, and notifies `stop` when
    /// stdout is closed.
    pub fn new(
        verifier: Verifier,
        downloads: Client,
        out: PathBuf,
        json: bool,
        save_timeout: Duration,
        stop: Arc<Notify>,
    ) -> Self {
        Self {
            verifier,
            downloads,
            out,
            json,
            save_timeout,
            claims: Mutex::default(),
            stop,
        }
    }

    /// The checks made before the body is read: fal's headers there, the
    /// timestamp fresh, the user the pinned one.
    pub fn check_headers(&self, headers: &HeaderMap) -> Result<(), Answer> {
        self.verifier
            .check_headers(&Headers::from(headers))
            .map_err(refused)
    }

    /// The delivery verified and decoded, its request id usable as a file
    /// name; else the refusal to answer.
    pub async fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Event<AnyOutput>, Answer> {
        let event = self
            .verifier
            .verify::<AnyOutput>(&Headers::from(headers), body)
            .await
            .map_err(refused)?;
        // It becomes a file name: fal's ids are UUIDs, anything else is refused.
        if let Err(rule) = request_id(&event.request_id) {
            let message = format!("the request id is unusable as a file name: {rule}");
            eprintln!("refused a delivery: {}", printable(&message));
            return Err((StatusCode::BAD_REQUEST, message));
        }
        Ok(event)
    }

    /// Handles a verified event once: saves its images and prints its line.
    pub async fn take(self: &Arc<Self>, event: Event<AnyOutput>) -> Answer {
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
        let claimed = Claimed {
            receiver: self.clone(),
            id,
        };
        // A task of its own, so that the event is handled to the end even
        // when fal stops waiting (it gives an attempt 15 s) and hangs up.
        let handled = tokio::spawn(async move { claimed.handle(&event).await });
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
        let mut claims = self.claims();
        match claims.get(request_id) {
            Some(claim) => *claim,
            None if saved::already_saved(&self.out, request_id) => Claim::Done,
            None => {
                claims.insert(request_id.to_owned(), Claim::InProgress);
                Claim::Claimed
            }
        }
    }

    /// The claims; a handler that panicked holding them left them as they
    /// were, and they stay usable.
    fn claims(&self) -> MutexGuard<'_, HashMap<String, Claim>> {
        self.claims.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Saves a success's images; the line that reports the event, and the
    /// files saved.
    async fn save(&self, event: &Event<AnyOutput>) -> fal_kontext::Result<(String, Vec<PathBuf>)> {
        let id = &event.request_id;
        let (plain, document, paths) = match &event.outcome {
            Outcome::Success(output) => {
                let paths = saved::save(&self.downloads, output, &self.out, id).await?;
                let listed: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                let plain = format!("{id} OK {}", listed.join(" "));
                let document =
                    json!({"status": "OK", "output": with_paths(output.0.clone(), &paths)});
                (plain, document, paths)
            }
            Outcome::Failure { error, details, .. } => {
                let mut plain = format!("{id} ERROR {error}");
                for detail in details {
                    plain.push_str(&format!("; {detail}"));
                }
                let document = json!({"status": "ERROR", "error": error, "details": details});
                (plain, document, Vec::new())
            }
            Outcome::PayloadError { reason } => (
                format!("{id} PAYLOAD_ERROR {reason}"),
                json!({"status": "PAYLOAD_ERROR", "payload_error": reason}),
                Vec::new(),
            ),
            // an outcome this version does not know: reported, nothing saved
            other => (
                format!("{id} UNKNOWN {other:?}"),
                json!({"status": "UNKNOWN"}),
                Vec::new(),
            ),
        };
        if !self.json {
            return Ok((plain, paths));
        }
        let mut document = document;
        document["request_id"] = json!(id);
        document["gateway_request_id"] = json!(event.gateway_request_id);
        Ok((document.to_string(), paths))
    }
}

/// A refused delivery, reported on stderr; what to answer fal.
fn refused(error: WebhookError) -> Answer {
    eprintln!("refused a delivery: {}", printable(&error.to_string()));
    let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
    (status, error.to_string())
}

/// An event claimed by this delivery. Dropped without [`done`](Self::done)
/// (its handling failed, ran out of time, or panicked) it lets the event go,
/// so that fal's next delivery of it is handled anew rather than answered
/// "being handled" for ever.
struct Claimed {
    receiver: Arc<Receiver>,
    id: String,
}

impl Claimed {
    /// Saves the event's images within the time allowed and prints its
    /// line; the answer to give fal.
    async fn handle(self, event: &Event<AnyOutput>) -> Answer {
        let receiver = &self.receiver;
        let id = &self.id;
        let saved = tokio::time::timeout(receiver.save_timeout, receiver.save(event)).await;
        let (line, paths) = match saved {
            Ok(Ok(saved)) => saved,
            Ok(Err(error)) => {
                let message = format!("request {id}: {error}");
                eprintln!("could not save the images of {}", printable(&message));
                return (StatusCode::INTERNAL_SERVER_ERROR, message);
            }
            Err(_) => {
                // The download was dropped midway: its staging files go too.
                saved::discard(&receiver.out, id);
                let message = format!(
                    "request {id}: not done within {} s (--save-timeout); fal delivers it again",
                    receiver.save_timeout.as_secs()
                );
                eprintln!("could not save the images of {message}");
                return (StatusCode::SERVICE_UNAVAILABLE, message);
            }
        };
        if let Err(error) = print_line(&line) {
            // Nobody can learn of the event from this run: it is left, files
            // and all, for fal to deliver again to the next one.
            for path in &paths {
                let _ = std::fs::remove_file(path);
            }
            eprintln!(
                "stdout is closed ({error}): stopping; request {id} is left for fal to deliver again"
            );
            receiver.stop.notify_one();
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is stopping; deliver it again later".into(),
            );
        }
        self.done();
        (StatusCode::OK, "ok".into())
    }

    /// The event is handled: later deliveries are acknowledged at once.
    fn done(self) {
        self.receiver.claims().insert(self.id.clone(), Claim::Done);
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        let mut claims = self.receiver.claims();
        if claims.get(&self.id) == Some(&Claim::InProgress) {
            claims.remove(&self.id);
        }
    }
}

/// One line on stdout, flushed; an error when stdout is closed.
fn print_line(line: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receiver(out: &std::path::Path) -> Arc<Receiver> {
        Arc::new(Receiver::new(
            Verifier::new().unwrap(),
            Client::builder().build().unwrap(),
            out.to_path_buf(),
            false,
            Duration::from_secs(1),
            Arc::default(),
        ))
    }

    #[test]
    fn an_event_is_claimed_once_and_acknowledged_only_when_done() {
        let out = tempfile::tempdir().unwrap();
        let receiver = receiver(out.path());
        assert_eq!(receiver.claim("r1"), Claim::Claimed);
        assert_eq!(
            receiver.claim("r1"),
            Claim::InProgress,
            "a delivery while it is handled"
        );
        Claimed {
            receiver: receiver.clone(),
            id: "r1".into(),
        }
        .done();
        assert_eq!(receiver.claim("r1"), Claim::Done);
        // saved by an earlier run
        std::fs::write(out.path().join("r2-1.png"), b"").unwrap();
        assert_eq!(receiver.claim("r2"), Claim::Done);
    }

    #[test]
    fn a_claim_dropped_unfinished_lets_the_event_go() {
        let out = tempfile::tempdir().unwrap();
        let receiver = receiver(out.path());
        assert_eq!(receiver.claim("r1"), Claim::Claimed);
        let handler = std::thread::spawn({
            let claimed = Claimed {
                receiver: receiver.clone(),
                id: "r1".into(),
            };
            move || {
                let _claimed = claimed;
                panic!("a handler that fails midway");
            }
        });
        assert!(handler.join().is_err());
        assert_eq!(
            receiver.claim("r1"),
            Claim::Claimed,
            "the next delivery handles it anew"
        );
    }
}
