//! The batch state file: an append-only log of JSON lines in `--out`, one
//! record per event, each on disk (fsync'd) before the batch goes on:
//!
//! ```text
//! {"id":"a1","request_id":"…","endpoint":"fal-ai/flux-pro/kontext"}   fal accepted it
//! {"id":"a1","done":["out/a1-1.png"],"billable_units":1,"cost":0.04} its images are saved
//! {"id":"a2","failed":"fal rejected the input: …"}                    fal (or the line) failed it
//! {"id":"a3","request_id":"…","endpoint":"…","unfinished":"…"}        it failed here, after fal accepted it
//! {"id":"a4","endpoint":"…","unknown":"…"}                            its submit may have reached fal
//! {"id":"a1","payloads_deleted":"…"}                                 fal's stored payloads of its request are deleted
//! ```
//!
//! Replaying it tells a rerun what to skip (done), what to collect by its
//! request id, never submitting it again (submitted, or unfinished: the
//! download, the deadline, the network failed after fal accepted it), what
//! to submit again (failed: fal refused or failed it, or it was never sent),
//! and what to leave alone unless told (unknown: a submit whose answer was
//! lost may have started a job at fal). The file is locked while a batch
//! runs, so two runs cannot submit the same job; a torn last line (a kill
//! or a full disk in the middle of a write) is cut off on the next open,
//! and the records before it are kept.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use fal_kontext::SubmitRecord;

/// The state file's name in `--out`.
pub const FILE_NAME: &str = "batch-state.jsonl";

/// One line of the state file. (Untagged: the variants are tried in this
/// order, so each comes before any whose fields are a subset of its own.)
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Record {
    /// fal accepted the job's request, then the job failed on this side (a
    /// download, the deadline, the network, a result fetch): the request is
    /// fal's to finish, and a rerun collects it.
    Unfinished {
        /// The job.
        id: String,
        /// fal's request id.
        request_id: String,
        /// Where it was submitted.
        endpoint: String,
        /// What went wrong.
        unfinished: String,
    },
    /// fal accepted the job's request.
    Submitted {
        /// The job.
        id: String,
        /// fal's request id.
        request_id: String,
        /// Where it was submitted.
        endpoint: String,
    },
    /// The job's submit may have reached fal: its answer was lost (a
    /// gateway's 502 or 504, a connection lost after the request was sent).
    Unknown {
        /// The job.
        id: String,
        /// Where it was submitted.
        endpoint: String,
        /// What happened to the answer.
        unknown: String,
        /// What the submit sent, and when: what a rerun looks for in fal's
        /// request history (absent in a state file of an earlier version).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sent: Option<SubmitRecord>,
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
    /// The job failed: fal refused or failed it, or it was never sent.
    Failed {
        /// The job.
        id: String,
        /// Why.
        failed: String,
        /// The request fal failed, when there was one (for the record).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
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
    /// True while its last record is a submit, or a failure here after it:
    /// there is a request to collect.
    pub pending: bool,
    /// When its last record is an unknown submit: the endpoint it went to,
    /// and what it sent when the record says.
    pub unknown: Option<(String, Option<SubmitRecord>)>,
    /// The request whose stored payloads were deleted, if any.
    pub payloads_deleted: Option<String>,
}

/// The open, locked state file.
#[derive(Debug)]
pub struct StateFile {
    file: File,
    path: PathBuf,
    /// Its length: where the next record starts.
    len: u64,
    /// What opening it repaired, for a notice.
    repaired: Option<String>,
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
    /// A torn last line (a write cut short by a kill or a full disk: no
    /// line end) is cut off, so that the next record starts on a line of its
    /// own; a line that is not a record is skipped. Either is said in
    /// [`StateFile::repaired`].
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
        // Bytes, not text: a write cut in the middle of a character is no
        // reason to refuse the records before it.
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let whole = bytes
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |end| end + 1);
        let mut repairs = Vec::new();
        if whole < bytes.len() {
            file.set_len(whole as u64).map_err(io)?;
            file.sync_data().map_err(io)?;
            repairs.push(format!(
                "cut off a torn last line ({} bytes, a write interrupted by a kill or a full disk)",
                bytes.len() - whole
            ));
        }
        let mut records = Vec::new();
        let mut unreadable = 0;
        for line in bytes[..whole].split(|&b| b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Record>(line) {
                Ok(record) => records.push(record),
                Err(_) => unreadable += 1,
            }
        }
        if unreadable > 0 {
            repairs.push(format!("skipped {unreadable} line(s) that are not records"));
        }
        let repaired =
            (!repairs.is_empty()).then(|| format!("{}: {}", path.display(), repairs.join("; ")));
        let state = StateFile {
            file,
            path,
            len: whole as u64,
            repaired,
        };
        Ok((state, replay(records)))
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What opening the file repaired, if anything.
    pub fn repaired(&self) -> Option<&str> {
        self.repaired.as_deref()
    }

    /// Appends one record and waits until it is on disk. A write that fails
    /// part way (a full disk) is taken back, so that no torn line is left
    /// for the next record to be glued to.
    pub fn record(&mut self, record: &Record) -> io::Result<()> {
        let mut line = serde_json::to_vec(record).expect("records serialize");
        line.push(b'\n');
        // One write per record: a kill cannot leave half of one behind a whole one.
        if let Err(error) = self.file.write_all(&line) {
            let _ = self.file.set_len(self.len);
            return Err(error);
        }
        self.len += line.len() as u64;
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
            }
            | Record::Unfinished {
                id,
                request_id,
                endpoint,
                ..
            } => {
                jobs.insert(
                    id,
                    JobState {
                        request: Some((request_id, endpoint)),
                        pending: true,
                        ..JobState::default()
                    },
                );
            }
            Record::Unknown {
                id, endpoint, sent, ..
            } => {
                let job = jobs.entry(id).or_default();
                job.done = None;
                job.pending = false;
                job.unknown = Some((endpoint, sent));
            }
            Record::Done { id, done, .. } => {
                let job = jobs.entry(id).or_default();
                job.done = Some(done);
                job.pending = false;
                job.unknown = None;
            }
            Record::Failed { id, .. } => {
                let job = jobs.entry(id).or_default();
                job.done = None;
                job.pending = false;
                job.unknown = None;
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
                request_id: Some("r3".into()),
            },
            submitted("d", "r4"),
            Record::Unfinished {
                id: "d".into(),
                request_id: "r4".into(),
                endpoint: "fal-ai/flux-pro/kontext".into(),
                unfinished: "could not save the images".into(),
            },
            Record::Unknown {
                id: "e".into(),
                endpoint: "fal-ai/flux-pro/kontext".into(),
                unknown: "a gateway's 502".into(),
                sent: None,
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
        assert!(jobs["d"].pending, "failed here: collected by a rerun");
        assert_eq!(jobs["d"].request.as_ref().unwrap().0, "r4");
        assert!(!jobs["e"].pending);
        assert_eq!(
            jobs["e"].unknown,
            Some(("fal-ai/flux-pro/kontext".into(), None))
        );
    }

    #[test]
    fn every_record_reads_back_as_itself() {
        let records = [
            submitted("a", "r1"),
            Record::Unfinished {
                id: "a".into(),
                request_id: "r1".into(),
                endpoint: "e".into(),
                unfinished: "network error".into(),
            },
            Record::Unknown {
                id: "b".into(),
                endpoint: "e".into(),
                unknown: "502".into(),
                sent: Some(SubmitRecord::new(
                    "e",
                    serde_json::json!({"prompt": "p", "seed": 7}),
                    std::time::UNIX_EPOCH + std::time::Duration::from_millis(1500),
                )),
            },
            Record::Done {
                id: "a".into(),
                done: vec!["out/a-1.png".into()],
                billable_units: Some(1.0),
                cost: Some(0.04),
            },
            Record::Failed {
                id: "c".into(),
                failed: "fal rejected the input".into(),
                request_id: None,
            },
            Record::Failed {
                id: "c".into(),
                failed: "the request failed".into(),
                request_id: Some("r2".into()),
            },
        ];
        for record in records {
            let line = serde_json::to_string(&record).unwrap();
            assert_eq!(
                serde_json::from_str::<Record>(&line).unwrap(),
                record,
                "{line}"
            );
        }
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
        // Cut in the middle of a character: the file is not valid UTF-8.
        file.write_all(
            "{\"id\":\"b\",\"request_id\":\"\u{e9}"
                .as_bytes()
                .split_last()
                .unwrap()
                .1,
        )
        .unwrap();
        drop(file);

        let (mut state, jobs) = StateFile::open(dir.path()).unwrap();
        assert!(
            state
                .repaired()
                .unwrap()
                .contains("cut off a torn last line"),
            "{:?}",
            state.repaired()
        );
        assert_eq!(jobs.len(), 1);
        assert!(jobs["a"].pending);
        state.record(&submitted("b", "r2")).unwrap();
        drop(state);

        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        let (state, jobs) = StateFile::open(dir.path()).unwrap();
        assert!(jobs["b"].pending);
        assert_eq!(state.repaired(), None, "nothing left to repair");
    }

    #[test]
    fn a_second_batch_cannot_open_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let (_held, _) = StateFile::open(dir.path()).unwrap();
        let error = StateFile::open(dir.path()).unwrap_err();
        assert!(matches!(error, OpenError::Busy(_)), "{error}");
    }
}
