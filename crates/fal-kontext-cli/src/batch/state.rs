//! The batch state file: an append-only log of JSON lines in `--out`, one
//! record per event, each on disk (fsync'd) before the batch goes on:
//!
//! ```text
//! {"id":"a1","request_id":"…","endpoint":"fal-ai/flux-pro/kontext"}   fal accepted it
//! {"id":"a1","done":["out/a1-1.png"],"billable_units":1,"cost":0.04} its images are saved
//! {"id":"a2","failed":"fal rejected the input: …"}                    it failed
//! {"id":"a1","payloads_deleted":"…"}       fal's stored payloads of that request are deleted
//! ```
//!
//! Replaying it tells a rerun what to skip (done), what to collect
//! (submitted, never submitted again) and what to try again (failed). The
//! file is locked while a batch runs, so two runs cannot submit the same job.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The state file's name in `--out`.
pub const FILE_NAME: &str = "batch-state.jsonl";

/// One line of the state file.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Record {
    /// fal accepted the job's request.
    Submitted {
        /// The job.
        id: String,
        /// fal's request id.
        request_id: String,
        /// Where it was submitted.
        endpoint: String,
    },
    /// The job's images are saved.
    Done {
        /// The job.
        id: String,
        /// The files.
        done: Vec<PathBuf>,
        /// The billing units fal reported for its request, when it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        billable_units: Option<f64>,
        /// What they cost at fal's price, when the run knew the price
        /// (`--max-cost`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cost: Option<f64>,
    },
    /// The job failed.
    Failed {
        /// The job.
        id: String,
        /// Why.
        failed: String,
    },
    /// What fal stored of the job's request is deleted (`--delete-payloads`).
    PayloadsDeleted {
        /// The job.
        id: String,
        /// The request whose payloads were deleted.
        payloads_deleted: String,
    },
}

/// What the state file says of one job: its last request and its last record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobState {
    /// The last request submitted for it: id and endpoint.
    pub request: Option<(String, String)>,
    /// Its images, when it is done (and nothing came after).
    pub done: Option<Vec<PathBuf>>,
    /// True while its last record is a submit: there is a request to collect.
    pub pending: bool,
    /// The request whose stored payloads were deleted, if any.
    pub payloads_deleted: Option<String>,
}

/// The open, locked state file.
#[derive(Debug)]
pub struct StateFile {
    file: File,
    path: PathBuf,
}

/// Why the state file cannot be used.
#[derive(Debug)]
pub enum OpenError {
    /// Another batch holds it.
    Busy(PathBuf),
    /// It cannot be read or written.
    Io(PathBuf, io::Error),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Busy(path) => write!(
                f,
                "{} is in use by another kontext batch; wait for it to finish",
                path.display()
            ),
            OpenError::Io(path, error) => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl StateFile {
    /// Opens (or creates) the state file in `dir`, locks it, and replays it.
    /// A torn last line (a write cut short by a crash) is dropped, so that
    /// the next record starts on a line of its own.
    pub fn open(dir: &Path) -> Result<(StateFile, HashMap<String, JobState>), OpenError> {
        let path = dir.join(FILE_NAME);
        let io = |error| OpenError::Io(path.clone(), error);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(OpenError::Busy(path)),
            Err(std::fs::TryLockError::Error(error)) => return Err(io(error)),
        }
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(io)?;
        let whole = text.rfind('\n').map_or(0, |end| end + 1);
        if whole < text.len() {
            file.set_len(whole as u64).map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        let records = text[..whole]
            .lines()
            .filter_map(|line| serde_json::from_str::<Record>(line).ok());
        Ok((StateFile { file, path }, replay(records)))
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and waits until it is on disk.
    pub fn record(&mut self, record: &Record) -> io::Result<()> {
        let mut line = serde_json::to_vec(record).expect("records serialize");
        line.push(b'\n');
        // One write per record: a kill cannot leave half of one behind a whole one.
        self.file.write_all(&line)?;
        self.file.sync_data()
    }
}

/// Folds the records, in order, into each job's state.
fn replay(records: impl IntoIterator<Item = Record>) -> HashMap<String, JobState> {
    let mut jobs: HashMap<String, JobState> = HashMap::new();
    for record in records {
        match record {
            Record::Submitted {
                id,
                request_id,
                endpoint,
            } => {
                let job = jobs.entry(id).or_default();
                job.request = Some((request_id, endpoint));
                job.done = None;
                job.pending = true;
            }
            Record::Done { id, done, .. } => {
                let job = jobs.entry(id).or_default();
                job.done = Some(done);
                job.pending = false;
            }
            Record::Failed { id, .. } => {
                let job = jobs.entry(id).or_default();
                job.done = None;
                job.pending = false;
            }
            Record::PayloadsDeleted {
                id,
                payloads_deleted,
            } => {
                jobs.entry(id).or_default().payloads_deleted = Some(payloads_deleted);
            }
        }
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submitted(id: &str, request_id: &str) -> Record {
        Record::Submitted {
            id: id.into(),
            request_id: request_id.into(),
            endpoint: "fal-ai/flux-pro/kontext".into(),
        }
    }

    #[test]
    fn the_last_record_of_a_job_decides() {
        let jobs = replay([
            submitted("a", "r1"),
            Record::Done {
                id: "a".into(),
                done: vec!["out/a-1.png".into()],
                billable_units: Some(1.0),
                cost: None,
            },
            submitted("b", "r2"),
            submitted("c", "r3"),
            Record::Failed {
                id: "c".into(),
                failed: "boom".into(),
            },
        ]);
        assert_eq!(jobs["a"].done, Some(vec![PathBuf::from("out/a-1.png")]));
        assert!(!jobs["a"].pending);
        assert!(jobs["b"].pending);
        assert_eq!(
            jobs["b"].request,
            Some(("r2".into(), "fal-ai/flux-pro/kontext".into()))
        );
        assert!(!jobs["c"].pending && jobs["c"].done.is_none());
    }

    #[test]
    fn a_payload_deletion_is_remembered_with_its_request() {
        let deleted = Record::PayloadsDeleted {
            id: "a".into(),
            payloads_deleted: "r1".into(),
        };
        let line = serde_json::to_string(&deleted).unwrap();
        assert_eq!(line, r#"{"id":"a","payloads_deleted":"r1"}"#);
        let read: Record = serde_json::from_str(&line).unwrap();
        let jobs = replay([submitted("a", "r1"), read]);
        assert_eq!(jobs["a"].payloads_deleted.as_deref(), Some("r1"));
        assert!(jobs["a"].pending, "a deletion does not settle the job");
    }

    #[test]
    fn records_survive_a_reopen_and_a_torn_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut state, jobs) = StateFile::open(dir.path()).unwrap();
            assert!(jobs.is_empty());
            state.record(&submitted("a", "r1")).unwrap();
        }
        // A crash in the middle of a write.
        let path = dir.path().join(FILE_NAME);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"id":"b","request_"#).unwrap();
        drop(file);

        let (mut state, jobs) = StateFile::open(dir.path()).unwrap();
        assert_eq!(jobs.len(), 1);
        assert!(jobs["a"].pending);
        state.record(&submitted("b", "r2")).unwrap();
        drop(state);

        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        let (_, jobs) = StateFile::open(dir.path()).unwrap();
        assert!(jobs["b"].pending);
    }

    #[test]
    fn a_second_batch_cannot_open_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let (_held, _) = StateFile::open(dir.path()).unwrap();
        let error = StateFile::open(dir.path()).unwrap_err();
        assert!(matches!(error, OpenError::Busy(_)), "{error}");
    }
}
