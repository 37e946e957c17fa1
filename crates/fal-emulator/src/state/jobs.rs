//! The job table: every request's state, its queue position, its logs and
//! its outcome, behind one lock, with a change signal that status streams
//! and synchronous runs wait on.
//!
//! Cancellation is decided under the same lock as completion, so a cancel
//! that answered `CANCELLATION_REQUESTED` always ends in a cancelled job, and
//! one that answered `ALREADY_COMPLETED` never touches the result.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::catalog::endpoints::Endpoint;

/// Finished jobs kept for status and result calls; the oldest go first.
const KEPT_FINISHED: usize = 10_000;

/// How a job ended.
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    /// The output JSON.
    Done(Arc<Value>),
    /// The app refused the input: 422 with this `detail` list.
    Invalid(Arc<Vec<Value>>),
    Cancelled,
    /// `x-fal-request-timeout` passed before the job started.
    TimedOut,
}

/// A job's phase, as a status call sees it.
#[derive(Clone, Debug)]
pub(crate) enum Phase {
    Queued { position: usize },
    Running,
    Finished(Outcome),
}

/// One log line, in fal's shape.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct LogLine {
    pub(crate) message: String,
    pub(crate) level: &'static str,
    pub(crate) source: &'static str,
    pub(crate) timestamp: String,
}

/// What a status call or a stream needs of a job.
#[derive(Clone, Debug)]
pub(crate) struct JobView {
    pub(crate) id: String,
    pub(crate) endpoint: &'static Endpoint,
    pub(crate) phase: Phase,
    pub(crate) logs: Vec<LogLine>,
    /// Seconds spent IN_PROGRESS, once finished.
    pub(crate) inference_time: Option<f64>,
}

impl JobView {
    pub(crate) fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Finished(_))
    }
}

/// The answer to a cancel call.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CancelAnswer {
    /// Accepted; `dequeued` when the job was still queued and is now
    /// cancelled (a running job ends cancelled when its worker stops).
    Requested {
        dequeued: bool,
    },
    AlreadyCompleted,
    NotFound,
}

enum State {
    Queued { seq: u64 },
    Running { cancel_requested: bool },
    Finished(Outcome),
}

struct Job {
    endpoint: &'static Endpoint,
    /// The API key that submitted it (its running cap and queue count).
    key: String,
    state: State,
    logs: Vec<LogLine>,
    cancel: CancellationToken,
    inference_time: Option<f64>,
}

#[derive(Default)]
struct Table {
    jobs: HashMap<String, Job>,
    /// Queued jobs by arrival: a job's position is the count before it.
    queued: BTreeMap<u64, String>,
    /// How many jobs each key has queued.
    queued_by_key: HashMap<String, usize>,
    finished: VecDeque<String>,
    next_seq: u64,
}

pub(crate) struct Jobs {
    table: Mutex<Table>,
    changes: watch::Sender<u64>,
}

impl Jobs {
    pub(crate) fn new() -> Self {
        Self {
            table: Mutex::default(),
            changes: watch::Sender::new(0),
        }
    }

    /// A receiver woken on every change of any job.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes
            .send_modify(|version| *version = version.wrapping_add(1));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().expect("job table lock")
    }

    /// A new queued job of `key`; its token fires when it is cancelled.
    /// Returns its queue position and how many jobs `key` now has queued.
    pub(crate) fn create(
        &self,
        id: String,
        endpoint: &'static Endpoint,
        key: &str,
        cancel: CancellationToken,
    ) -> (usize, usize) {
        let mut table = self.lock();
        let position = table.queued.len();
        let seq = table.next_seq;
        table.next_seq += 1;
        table.queued.insert(seq, id.clone());
        let key_queued = table.queued_by_key.entry(key.to_owned()).or_default();
        *key_queued += 1;
        let key_queued = *key_queued;
        table.jobs.insert(
            id,
            Job {
                endpoint,
                key: key.to_owned(),
                state: State::Queued { seq },
                logs: Vec::new(),
                cancel,
                inference_time: None,
            },
        );
        drop(table);
        self.changed();
        (position, key_queued)
    }

    /// How many jobs `key` has queued now.
    pub(crate) fn queued_of(&self, key: &str) -> usize {
        self.lock().queued_by_key.get(key).copied().unwrap_or(0)
    }

    /// IN_QUEUE → IN_PROGRESS; false if the job is no longer queued.
    pub(crate) fn start(&self, id: &str) -> bool {
        let mut table = self.lock();
        let Some(job) = table.jobs.get_mut(id) else {
            return false;
        };
        let State::Queued { seq } = job.state else {
            return false;
        };
        job.state = State::Running {
            cancel_requested: false,
        };
        Self::dequeue(&mut table, id, seq);
        drop(table);
        self.changed();
        true
    }

    pub(crate) fn log(&self, id: &str, line: LogLine) {
        if let Some(job) = self.lock().jobs.get_mut(id) {
            job.logs.push(line);
        }
        self.changed();
    }

    /// Ends a job. A job whose cancellation was requested ends cancelled,
    /// whatever it produced. Returns the outcome recorded, or `None` if the
    /// job had already ended (cancelled while queued).
    pub(crate) fn finish(
        &self,
        id: &str,
        outcome: Outcome,
        inference_time: Option<f64>,
    ) -> Option<Outcome> {
        let mut table = self.lock();
        let job = table.jobs.get_mut(id)?;
        let outcome = match job.state {
            State::Finished(_) => return None,
            State::Running {
                cancel_requested: true,
            } => Outcome::Cancelled,
            State::Running { .. } => outcome,
            State::Queued { seq } => {
                Self::dequeue(&mut table, id, seq);
                outcome
            }
        };
        let job = table.jobs.get_mut(id)?;
        job.state = State::Finished(outcome.clone());
        job.inference_time = inference_time;
        Self::retire(&mut table, id);
        drop(table);
        self.changed();
        Some(outcome)
    }

    /// Cancels a job: a queued one leaves the queue at once, a running one
    /// is told to stop (and ends cancelled).
    pub(crate) fn cancel(&self, id: &str) -> CancelAnswer {
        let mut table = self.lock();
        let Some(job) = table.jobs.get_mut(id) else {
            return CancelAnswer::NotFound;
        };
        let dequeued = match job.state {
            State::Finished(_) => return CancelAnswer::AlreadyCompleted,
            State::Running {
                ref mut cancel_requested,
            } => {
                *cancel_requested = true;
                job.cancel.cancel();
                false
            }
            State::Queued { seq } => {
                job.state = State::Finished(Outcome::Cancelled);
                job.cancel.cancel();
                Self::dequeue(&mut table, id, seq);
                Self::retire(&mut table, id);
                true
            }
        };
        drop(table);
        self.changed();
        CancelAnswer::Requested { dequeued }
    }

    /// Takes a job out of the queue and out of its key's count.
    fn dequeue(table: &mut Table, id: &str, seq: u64) {
        table.queued.remove(&seq);
        let Some(key) = table.jobs.get(id).map(|job| job.key.clone()) else {
            return;
        };
        if let Some(count) = table.queued_by_key.get_mut(&key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                table.queued_by_key.remove(&key);
            }
        }
    }

    fn retire(table: &mut Table, id: &str) {
        table.finished.push_back(id.to_owned());
        while table.finished.len() > KEPT_FINISHED {
            if let Some(oldest) = table.finished.pop_front() {
                table.jobs.remove(&oldest);
            }
        }
    }

    pub(crate) fn view(&self, id: &str) -> Option<JobView> {
        let table = self.lock();
        let job = table.jobs.get(id)?;
        let phase = match &job.state {
            State::Queued { seq } => Phase::Queued {
                position: table.queued.range(..*seq).count(),
            },
            State::Running { .. } => Phase::Running,
            State::Finished(outcome) => Phase::Finished(outcome.clone()),
        };
        Some(JobView {
            id: id.to_owned(),
            endpoint: job.endpoint,
            phase,
            logs: job.logs.clone(),
            inference_time: job.inference_time,
        })
    }

    /// How many jobs are kept (queued, running and finished).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().jobs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::endpoints;
    use serde_json::json;

    fn endpoint() -> &'static Endpoint {
        endpoints::find("fal-ai/flux-pro/kontext").expect("vendored")
    }

    fn position(jobs: &Jobs, id: &str) -> Option<usize> {
        match jobs.view(id)?.phase {
            Phase::Queued { position } => Some(position),
            _ => None,
        }
    }

    #[test]
    fn positions_count_the_jobs_ahead() {
        let jobs = Jobs::new();
        for id in ["a", "b", "c"] {
            jobs.create(id.into(), endpoint(), "k", CancellationToken::new());
        }
        assert_eq!(position(&jobs, "c"), Some(2));
        assert!(jobs.start("a"));
        assert_eq!(position(&jobs, "c"), Some(1));
        assert_eq!(jobs.cancel("b"), CancelAnswer::Requested { dequeued: true });
        assert_eq!(position(&jobs, "c"), Some(0));
    }

    #[test]
    fn each_key_counts_its_own_queued_jobs() {
        let jobs = Jobs::new();
        assert_eq!(
            jobs.create("a".into(), endpoint(), "k1", CancellationToken::new()),
            (0, 1)
        );
        assert_eq!(
            jobs.create("b".into(), endpoint(), "k2", CancellationToken::new()),
            (1, 1)
        );
        assert_eq!(
            jobs.create("c".into(), endpoint(), "k1", CancellationToken::new()),
            (2, 2)
        );
        assert!(jobs.start("a"));
        jobs.cancel("c");
        assert_eq!((jobs.queued_of("k1"), jobs.queued_of("k2")), (0, 1));
        jobs.finish("b", Outcome::TimedOut, None);
        assert_eq!(jobs.queued_of("k2"), 0);
    }

    #[test]
    fn a_cancel_requested_while_running_wins_over_the_output() {
        let jobs = Jobs::new();
        let token = CancellationToken::new();
        jobs.create("a".into(), endpoint(), "k", token.clone());
        jobs.start("a");
        assert_eq!(
            jobs.cancel("a"),
            CancelAnswer::Requested { dequeued: false }
        );
        assert!(token.is_cancelled());
        let outcome = jobs.finish("a", Outcome::Done(Arc::new(json!({}))), None);
        assert!(matches!(outcome, Some(Outcome::Cancelled)));
        assert_eq!(jobs.cancel("a"), CancelAnswer::AlreadyCompleted);
    }

    #[test]
    fn a_finished_job_cannot_be_cancelled_and_keeps_its_output() {
        let jobs = Jobs::new();
        jobs.create("a".into(), endpoint(), "k", CancellationToken::new());
        jobs.start("a");
        jobs.finish("a", Outcome::Done(Arc::new(json!({"ok": 1}))), Some(0.1));
        assert_eq!(jobs.cancel("a"), CancelAnswer::AlreadyCompleted);
        assert_eq!(jobs.cancel("zzz"), CancelAnswer::NotFound);
        assert!(matches!(
            jobs.view("a").map(|v| v.phase),
            Some(Phase::Finished(Outcome::Done(_)))
        ));
    }

    #[test]
    fn finished_jobs_are_bounded() {
        let jobs = Jobs::new();
        for i in 0..KEPT_FINISHED + 5 {
            let id = i.to_string();
            jobs.create(id.clone(), endpoint(), "k", CancellationToken::new());
            jobs.finish(&id, Outcome::Cancelled, None);
        }
        assert_eq!(jobs.len(), KEPT_FINISHED);
        assert!(jobs.view("0").is_none());
    }
}
