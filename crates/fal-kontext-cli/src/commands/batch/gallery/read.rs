//! What the gallery shows of each job, read from the batch's jobs file (what
//! was asked) and its state file (what became of it), without locking or
//! changing either: a gallery can be built while a batch runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::commands::batch::state::{FILE_NAME, Record};

/// Where `kontext batch` notes its jobs file for `kontext gallery DIR`.
pub const JOBS_FILE_NOTE: &str = ".gallery/jobs-file";

/// One job as the page shows it.
#[derive(Debug, Default)]
pub struct Entry {
    /// The jobs file's `id` (or `line N` for a line without one).
    pub id: String,
    /// The prompt, when the line has one.
    pub prompt: Option<String>,
    /// The input images as the line names them: paths (relative to the jobs
    /// file) or URLs.
    pub inputs: Vec<String>,
    /// The other fields the line sets, as JSON text (`seed`: `7`).
    pub fields: Vec<(String, String)>,
    /// The request's id and endpoint, when fal accepted one.
    pub request: Option<(String, String)>,
    /// What became of it.
    pub state: State,
    /// The saved images, by file name (they live in `--out`).
    pub outputs: Vec<String>,
    /// The billing units fal reported, and their cost, when known.
    pub billable_units: Option<f64>,
    /// See `billable_units`.
    pub cost: Option<f64>,
    /// Fields of its last state record this reader does not know, as
    /// `key: value` text (a newer kontext's records).
    pub extra: Vec<(String, String)>,
}

/// What became of a job.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum State {
    /// Its images are saved.
    Done,
    /// It failed on this side after fal accepted its request (a download,
    /// the deadline, the network): a rerun collects it, and so may
    /// `kontext result`.
    FailedAfterSubmit(String),
    /// fal refused or failed its request (a 422, an error status, a user
    /// timeout): a rerun submits it again.
    FailedAtFal(String),
    /// Its submit's answer was lost: fal may have taken it. A rerun leaves
    /// it unless told `--resubmit-unknown`.
    Unknown(String),
    /// It failed before fal accepted a request (bad line, refused input,
    /// unreadable image): nothing to collect.
    FailedBeforeSubmit(String),
    /// fal accepted it and no run has collected it yet: a rerun will.
    Submitted,
    /// No run has got to it.
    #[default]
    NotRun,
    /// A state record this reader does not know, shown as it is.
    Other(String),
}

impl State {
    /// The state's name, for the filters (a CSS-safe word).
    pub fn key(&self) -> &'static str {
        match self {
            State::Done => "done",
            State::FailedAfterSubmit(_)
            | State::FailedAtFal(_)
            | State::FailedBeforeSubmit(_)
            | State::Unknown(_) => "failed",
            State::Submitted => "submitted",
            State::NotRun => "not-run",
            State::Other(_) => "other",
        }
    }
}

/// Every state key, in the order of the page's filters.
pub const STATE_KEYS: [&str; 5] = ["done", "failed", "submitted", "not-run", "other"];

/// The state one record gives a job, knowing its last request. This is the
/// one place that reads the state file's kinds of record: a record of a
/// kind it does not know (`record` is `None`) is shown as its raw JSON.
fn state_of(record: Option<&Record>, raw: &Value, request: Option<&(String, String)>) -> State {
    match record {
        Some(Record::Submitted { .. }) => State::Submitted,
        Some(Record::Unfinished { unfinished, .. }) => State::FailedAfterSubmit(unfinished.clone()),
        Some(Record::Unknown { unknown, .. }) => State::Unknown(unknown.clone()),
        Some(Record::Done { .. }) => State::Done,
        // A failure that names a request, or follows one (a state file of
        // an earlier version, which recorded every failure so), is fal's.
        Some(Record::Failed {
            failed, request_id, ..
        }) => match (request_id, request) {
            (Some(_), _) | (_, Some(_)) => State::FailedAtFal(failed.clone()),
            (None, None) => State::FailedBeforeSubmit(failed.clone()),
        },
        // (a payload deletion never reaches here: `apply` leaves the job as
        // it was)
        Some(Record::PayloadsDeleted { .. }) | None => State::Other(raw.to_string()),
    }
}

/// The keys of the records [`state_of`] knows; others are shown as extras.
const KNOWN_KEYS: [&str; 9] = [
    "id",
    "request_id",
    "endpoint",
    "done",
    "billable_units",
    "cost",
    "failed",
    "unfinished",
    "unknown",
];

/// Reads the batch in `out`: the jobs of `jobs` (when given and readable),
/// in its order, then any job the state file names that the jobs file does
/// not (a line since removed).
pub fn batch(out: &Path, jobs: Option<&Path>) -> Vec<Entry> {
    let mut entries = jobs
        .and_then(|path| std::fs::read_to_string(path).ok())
        .map(|text| lines(&text))
        .unwrap_or_default();
    let mut index: HashMap<String, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, entry)| (entry.id.clone(), i))
        .collect();
    let text = std::fs::read_to_string(out.join(FILE_NAME)).unwrap_or_default();
    // Whole lines only: the last one may be a write in progress.
    let whole = text.rfind('\n').map_or("", |end| &text[..end]);
    for raw in whole
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        let Some(id) = raw.get("id").and_then(Value::as_str) else {
            continue;
        };
        let slot = *index.entry(id.to_owned()).or_insert_with(|| {
            entries.push(Entry {
                id: id.to_owned(),
                ..Entry::default()
            });
            entries.len() - 1
        });
        apply(&mut entries[slot], &raw);
    }
    entries
}

/// Folds one state record into its job.
fn apply(entry: &mut Entry, raw: &Value) {
    let record = serde_json::from_value::<Record>(raw.clone()).ok();
    // a deletion of fal's stored payloads leaves the job as it was (its
    // images stay on disk)
    if let Some(Record::PayloadsDeleted { .. }) = record {
        return;
    }
    match &record {
        Some(Record::Submitted {
            request_id,
            endpoint,
            ..
        }) => {
            entry.request = Some((request_id.clone(), endpoint.clone()));
            entry.outputs.clear();
            (entry.billable_units, entry.cost) = (None, None);
        }
        Some(Record::Done {
            done,
            billable_units,
            cost,
            ..
        }) => {
            entry.outputs = done.iter().filter_map(|p| file_name(p)).collect();
            (entry.billable_units, entry.cost) = (*billable_units, *cost);
        }
        _ => entry.outputs.clear(),
    }
    entry.state = state_of(record.as_ref(), raw, entry.request.as_ref());
    entry.extra = match (&record, raw.as_object()) {
        (Some(_), Some(map)) => map
            .iter()
            .filter(|(key, _)| !KNOWN_KEYS.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), text_of(value)))
            .collect(),
        _ => Vec::new(),
    };
}

/// A saved image's file name: the images live in `--out`, whatever the
/// directory was called when they were saved.
pub(super) fn file_name(path: &Path) -> Option<String> {
    Some(path.file_name()?.to_str()?.to_owned())
}

/// A JSON value as the page shows it: strings without their quotes.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The jobs of a jobs file, one per usable line, first of an id only (as
/// the batch runs them).
fn lines(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Ok(mut map) = serde_json::from_str::<Map<String, Value>>(line) else {
            entries.push(Entry {
                id: format!("line {}", index + 1),
                state: State::FailedBeforeSubmit("not a JSON object".into()),
                ..Entry::default()
            });
            continue;
        };
        let Some(Value::String(id)) = map.remove("id") else {
            entries.push(Entry {
                id: format!("line {}", index + 1),
                state: State::FailedBeforeSubmit("no string \"id\"".into()),
                ..Entry::default()
            });
            continue;
        };
        if entries.iter().any(|e| e.id == id) {
            continue;
        }
        let prompt = map.remove("prompt").map(|p| text_of(&p));
        let mut inputs = Vec::new();
        for value in [map.remove("image_url"), map.remove("image_urls")]
            .into_iter()
            .flatten()
        {
            match value {
                Value::Array(items) => inputs.extend(items.iter().map(text_of)),
                other => inputs.push(text_of(&other)),
            }
        }
        let fields = map
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        entries.push(Entry {
            id,
            prompt,
            inputs,
            fields,
            ..Entry::default()
        });
    }
    entries
}

/// Where a batch's jobs file is, as the last batch run into `out` wrote it
/// down (the state file does not name it).
pub fn recorded_jobs_file(out: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(out.join(JOBS_FILE_NOTE)).ok()?;
    Some(PathBuf::from(text.trim_end_matches('\n')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn each_job_gets_the_state_of_its_last_record() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = write(
            dir.path(),
            "jobs.jsonl",
            r#"{"id": "a", "prompt": "night", "image_url": "a.png", "seed": 7}
{"id": "b", "prompt": "snow", "image_urls": ["b.png", "https://x/c.png"]}
{"id": "c", "prompt": "kite"}
{"id": "d", "prompt": "never"}
{"id": "e", "prompt": "refused"}
not json
{"id": "a", "prompt": "duplicate"}
{"id": "f", "prompt": "lost"}
{"id": "g", "prompt": "refused by fal"}
"#,
        );
        write(
            dir.path(),
            FILE_NAME,
            r#"{"id":"a","request_id":"r1","endpoint":"fal-ai/flux-pro/kontext"}
{"id":"a","done":["somewhere/a-1.jpg"],"billable_units":1.0,"cost":0.04}
{"id":"b","request_id":"r2","endpoint":"fal-ai/flux-pro/kontext/multi"}
{"id":"b","request_id":"r2","endpoint":"fal-ai/flux-pro/kontext/multi","unfinished":"timed out"}
{"id":"c","request_id":"r3","endpoint":"fal-ai/flux-pro/kontext/text-to-image"}
{"id":"e","failed":"invalid seed"}
{"id":"f","endpoint":"fal-ai/flux-pro/kontext","unknown":"a gateway's 502"}
{"id":"g","failed":"fal rejected the input","request_id":"r7"}
{"id":"z","mystery":true}
{"id":"c","done":["c-1.jpg"],"at":"2026-01-01"}
{"id":"torn","request_"#,
        );
        let entries = batch(dir.path(), Some(&jobs));
        let by_id: HashMap<&str, &Entry> = entries.iter().map(|e| (e.id.as_str(), e)).collect();
        let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "d", "e", "line 6", "f", "g", "z"]);

        let a = by_id["a"];
        assert_eq!(a.state, State::Done);
        assert_eq!(a.outputs, ["a-1.jpg"]);
        assert_eq!((a.billable_units, a.cost), (Some(1.0), Some(0.04)));
        assert_eq!(a.prompt.as_deref(), Some("night"));
        assert_eq!(a.inputs, ["a.png"]);
        assert_eq!(a.fields, [("seed".to_string(), "7".to_string())]);

        let b = by_id["b"];
        assert_eq!(b.state, State::FailedAfterSubmit("timed out".into()));
        assert_eq!(b.request.as_ref().unwrap().0, "r2");
        assert_eq!(b.inputs, ["b.png", "https://x/c.png"]);

        assert_eq!(by_id["c"].state, State::Done);
        assert_eq!(by_id["c"].extra, [("at".into(), "2026-01-01".into())]);
        assert_eq!(by_id["d"].state, State::NotRun);
        assert_eq!(
            by_id["e"].state,
            State::FailedBeforeSubmit("invalid seed".into())
        );
        assert_eq!(by_id["line 6"].state.key(), "failed");
        assert_eq!(by_id["f"].state, State::Unknown("a gateway's 502".into()));
        assert_eq!(
            by_id["g"].state,
            State::FailedAtFal("fal rejected the input".into())
        );
        assert_eq!(
            by_id["z"].state,
            State::Other(r#"{"id":"z","mystery":true}"#.into())
        );
    }

    #[test]
    fn without_a_jobs_file_the_state_file_alone_is_shown() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            FILE_NAME,
            "{\"id\":\"a\",\"request_id\":\"r1\",\"endpoint\":\"e\"}\n",
        );
        let entries = batch(dir.path(), None);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].state, State::Submitted);
        assert!(batch(&dir.path().join("missing"), None).is_empty());
    }
}
