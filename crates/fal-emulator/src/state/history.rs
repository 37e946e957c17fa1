//! The request history fal keeps of an account's requests (its Platform
//! APIs' `GET /models/requests/by-endpoint`): every queue and run request,
//! its times and how it ended, and its input and output JSON unless it was
//! sent with `x-fal-store-io: 0` or `sync_mode` (fal keeps no payloads of
//! those: <https://docs.fal.ai/documentation/model-apis/common-parameters> ,
//! the Kontext schemas' `sync_mode`). A payload deletion removes both JSONs
//! and the output files from the CDN.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::state::jobs::Outcome;

/// Requests kept; the oldest go first.
const KEPT: usize = 10_000;
/// How long an idempotency key's answer is kept (fal: 10 minutes).
pub(crate) const IDEMPOTENCY_WINDOW: std::time::Duration = std::time::Duration::from_secs(600);

/// One request of the history.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) request_id: String,
    pub(crate) endpoint_id: &'static str,
    pub(crate) sent_at: OffsetDateTime,
    started_at: Option<OffsetDateTime>,
    pub(crate) ended_at: Option<OffsetDateTime>,
    pub(crate) status_code: Option<u16>,
    pub(crate) duration: Option<f64>,
    /// Whether fal may keep its payloads.
    store: bool,
    input: Option<Value>,
    output: Option<Value>,
    /// The output files on the CDN, until deleted.
    files: Vec<String>,
}

impl Entry {
    /// The item fal answers, with the payloads when asked.
    pub(crate) fn item(&self, payloads: bool) -> Value {
        let time = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
        let mut item = json!({
            "request_id": self.request_id,
            "endpoint_id": self.endpoint_id,
            "sent_at": time(self.sent_at),
            "ended_at": self.ended_at.map(time),
            "status_code": self.status_code,
            "duration": self.duration,
        });
        // not started yet: no start time to give
        if let Some(started) = self.started_at {
            item["started_at"] = json!(time(started));
        }
        if payloads {
            item["json_input"] = self.input.clone().unwrap_or(Value::Null);
            item["json_output"] = self.output.clone().unwrap_or(Value::Null);
        }
        item
    }

    /// fal's status classes: 2xx success, 4xx the user's error, 5xx fal's.
    pub(crate) fn status_class(&self) -> Option<&'static str> {
        match self.status_code? {
            200..=299 => Some("success"),
            400..=499 => Some("user_error"),
            _ => Some("error"),
        }
    }
}

/// The history, and the answers of recent payload deletions by idempotency key.
#[derive(Default)]
pub(crate) struct RequestLog {
    entries: Mutex<VecDeque<Entry>>,
    deletions: Mutex<HashMap<String, (Instant, String, Value)>>,
}

/// Whether fal keeps an input's payloads: not with `sync_mode`.
fn keeps_payloads(input: &Value) -> bool {
    input.get("sync_mode").and_then(Value::as_bool) != Some(true)
}

impl RequestLog {
    /// A request fal took; `store_io` is false when it came with
    /// `x-fal-store-io: 0`.
    pub(crate) fn record(
        &self,
        request_id: &str,
        endpoint_id: &'static str,
        input: Option<&Value>,
        store_io: bool,
    ) {
        let store = store_io && input.is_none_or(keeps_payloads);
        let entry = Entry {
            request_id: request_id.to_owned(),
            endpoint_id,
            sent_at: OffsetDateTime::now_utc(),
            started_at: None,
            ended_at: None,
            status_code: None,
            duration: None,
            store,
            input: input.filter(|_| store).cloned(),
            output: None,
            files: Vec::new(),
        };
        let mut entries = self.lock();
        if entries.len() == KEPT {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    pub(crate) fn started(&self, request_id: &str) {
        self.update(request_id, |entry| {
            entry.started_at = Some(OffsetDateTime::now_utc());
        });
    }

    /// How the request ended; `files` are its output files' URLs on the CDN.
    pub(crate) fn finished(
        &self,
        request_id: &str,
        outcome: &Outcome,
        seconds: Option<f64>,
        files: Vec<String>,
    ) {
        self.update(request_id, |entry| {
            let now = OffsetDateTime::now_utc();
            entry.ended_at = Some(now);
            entry.started_at.get_or_insert(now);
            entry.duration = seconds;
            entry.status_code = Some(match outcome {
                Outcome::Done(_) => 200,
                Outcome::Invalid(_) => 422,
                Outcome::Cancelled => 400,
                Outcome::TimedOut => 504,
            });
            if let Outcome::Done(output) = outcome {
                entry.files = files;
                if entry.store {
                    entry.output = Some(output.as_ref().clone());
                }
            }
        });
    }

    /// Every request, newest first.
    pub(crate) fn all(&self) -> Vec<Entry> {
        self.lock().iter().rev().cloned().collect()
    }

    /// Deletes a request's payloads; the URLs of its output files, which the
    /// caller deletes from the CDN (none the second time); `None` for a
    /// request the history does not hold.
    pub(crate) fn delete_payloads(&self, request_id: &str) -> Option<Vec<String>> {
        let mut entries = self.lock();
        let entry = entries.iter_mut().find(|e| e.request_id == request_id)?;
        entry.input = None;
        entry.output = None;
        entry.store = false;
        Some(std::mem::take(&mut entry.files))
    }

    /// The answer given for `key` within the last 10 minutes, for the same
    /// request.
    pub(crate) fn cached_deletion(&self, key: &str, request_id: &str) -> Option<Value> {
        let mut deletions = self.deletions.lock().expect("deletion lock");
        deletions.retain(|_, (at, _, _)| at.elapsed() < IDEMPOTENCY_WINDOW);
        deletions
            .get(key)
            .filter(|(_, id, _)| id == request_id)
            .map(|(_, _, answer)| answer.clone())
    }

    pub(crate) fn remember_deletion(&self, key: String, request_id: &str, answer: Value) {
        self.deletions
            .lock()
            .expect("deletion lock")
            .insert(key, (Instant::now(), request_id.to_owned(), answer));
    }

    fn update(&self, request_id: &str, change: impl FnOnce(&mut Entry)) {
        if let Some(entry) = self
            .lock()
            .iter_mut()
            .rev()
            .find(|e| e.request_id == request_id)
        {
            change(entry);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Entry>> {
        self.entries.lock().expect("history lock")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn payloads_are_kept_unless_store_io_is_off_or_sync_mode() {
        let log = RequestLog::default();
        let input = json!({"prompt": "p"});
        log.record("kept", "e", Some(&input), true);
        log.record("store-io-off", "e", Some(&input), false);
        log.record(
            "sync",
            "e",
            Some(&json!({"prompt": "p", "sync_mode": true})),
            true,
        );
        for id in ["kept", "store-io-off", "sync"] {
            log.finished(
                id,
                &Outcome::Done(Arc::new(json!({"images": []}))),
                Some(0.1),
                vec![],
            );
        }
        let items: HashMap<String, Value> = log
            .all()
            .iter()
            .map(|e| (e.request_id.clone(), e.item(true)))
            .collect();
        assert_eq!(items["kept"]["json_input"], input);
        assert_eq!(items["kept"]["json_output"], json!({"images": []}));
        for id in ["store-io-off", "sync"] {
            assert_eq!(items[id]["json_input"], Value::Null, "{id}");
            assert_eq!(items[id]["json_output"], Value::Null, "{id}");
        }
        assert_eq!(items["kept"]["status_code"], 200);
        assert!(log.all()[0].item(false).get("json_input").is_none());
    }

    #[test]
    fn a_deletion_empties_the_payloads_and_hands_the_files_over_once() {
        let log = RequestLog::default();
        log.record("r", "e", Some(&json!({"prompt": "p"})), true);
        log.finished(
            "r",
            &Outcome::Done(Arc::new(json!({}))),
            None,
            vec!["http://cdn/files/out/a.png".into()],
        );
        assert_eq!(
            log.delete_payloads("r"),
            Some(vec!["http://cdn/files/out/a.png".to_string()])
        );
        assert_eq!(log.delete_payloads("r"), Some(vec![]));
        assert_eq!(log.delete_payloads("unknown"), None);
        assert_eq!(log.all()[0].item(true)["json_input"], Value::Null);
    }
}
