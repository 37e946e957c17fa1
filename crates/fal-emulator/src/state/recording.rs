//! The log of requests received, for tests that assert on what a client sent.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde_json::Value;

use crate::route::Route;

/// How many requests are kept (the oldest go first), so that a long soak
/// does not grow without bound.
const KEPT: usize = 20_000;
/// Strings longer than this (data URIs, mostly) are cut in recorded bodies.
const LONGEST_STRING: usize = 2_048;

/// One request as the emulator received it.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// let emulator = fal_emulator::Emulator::start().await?;
/// // ... let the client under test submit ...
/// let submits: Vec<_> = emulator
///     .requests()
///     .into_iter()
///     .filter(|r| r.route == fal_emulator::Route::Submit)
///     .collect();
/// assert!(submits.iter().all(|r| r.body.is_some()));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, serde::Serialize)]
pub struct RecordedRequest {
    /// Which route it matched ([`Route::Any`]: none).
    pub route: Route,
    /// The HTTP method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// Every header, in order; a correct `Authorization` value is redacted
    /// to `Key <redacted>` (the admin key's to `Key <redacted admin key>`), a
    /// wrong one is kept as sent.
    pub headers: Vec<(String, String)>,
    /// The body, when it was JSON (strings over 2 KiB are cut, with a note
    /// of their length).
    pub body: Option<Value>,
}

#[derive(Default)]
pub(crate) struct Recorder {
    requests: Mutex<VecDeque<RecordedRequest>>,
}

impl Recorder {
    /// Records a request; an `Authorization` with one of `keys` is recorded
    /// as the text paired with it.
    pub(crate) fn record(
        &self,
        route: Route,
        parts: &Parts,
        body: &[u8],
        keys: &[(&str, &'static str)],
    ) {
        let entry = RecordedRequest {
            route,
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: redacted_headers(&parts.headers, keys),
            body: json_body(&parts.headers, body),
        };
        let mut requests = self.requests.lock().expect("recorder lock");
        if requests.len() == KEPT {
            requests.pop_front();
        }
        requests.push_back(entry);
    }

    pub(crate) fn all(&self) -> Vec<RecordedRequest> {
        self.requests
            .lock()
            .expect("recorder lock")
            .iter()
            .cloned()
            .collect()
    }
}

fn redacted_headers(headers: &HeaderMap, keys: &[(&str, &'static str)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            let redacted = keys
                .iter()
                .find(|(key, _)| value == format!("Key {key}"))
                .map(|(_, redacted)| (*redacted).to_owned());
            let value = match redacted {
                Some(redacted) if name == header::AUTHORIZATION => redacted,
                _ => value,
            };
            (name.as_str().to_owned(), value)
        })
        .collect()
}

fn json_body(headers: &HeaderMap, body: &[u8]) -> Option<Value> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("json"));
    if !is_json || body.is_empty() {
        return None;
    }
    let mut value: Value = serde_json::from_slice(body).ok()?;
    shorten_strings(&mut value);
    Some(value)
}

fn shorten_strings(value: &mut Value) {
    match value {
        Value::String(text) if text.len() > LONGEST_STRING => {
            let mut end = LONGEST_STRING;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let note = format!("…({} bytes)", text.len());
            text.truncate(end);
            text.push_str(&note);
        }
        Value::Array(items) => items.iter_mut().for_each(shorten_strings),
        Value::Object(map) => map.values_mut().for_each(shorten_strings),
        _ => {}
    }
}
