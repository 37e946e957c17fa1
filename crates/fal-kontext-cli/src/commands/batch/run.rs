//! `kontext batch JOBS.jsonl --out DIR`: many jobs, a few at a time, each
//! request id on disk the moment fal accepts it, so that a rerun after a
//! crash, a kill, Ctrl-C, SIGTERM or SIGHUP, or after a failure on this side
//! (a download, the deadline, the network), collects what was submitted
//! instead of paying for it again. With `--estimate` it asks fal what the
//! jobs would cost and stops; with `--max-cost` it keeps what it submits
//! within a budget.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Mutex;
use std::time::Duration;

use fal_kontext::{
    Client, DEFAULT_WAIT_TIMEOUT, Error, Images, Kind, Request, SubmitLookup, SubmitRecord, Update,
};
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::RwLock;

use super::args::BatchArgs;
use super::budget::{self, Budget};
use super::jobs;
use super::outcome::{Outcome, Rerun, failed, saved_requests, summarize};
use super::pacing::{Pace, Place, Stage};
use super::payloads;
use super::state::{JobState, Record, StateFile};
use crate::exit::{self, Failure};
use crate::flags::Global;
use crate::job::{Job, Runner};
use crate::local::connect;
use crate::output::AnyOutput;
use crate::progress::BatchBar;
use crate::server_text::printable;
use crate::signal::{self, Stop};

/// What is left to do for a job.
enum Work {
    /// Submit it, then collect it.
    Submit(Job),
    /// Collect a request an earlier run submitted: request id and endpoint.
    Collect(String, String),
}

/// Runs the batch and prints a summary; see the module docs.
pub async fn run(args: BatchArgs, global: &Global) -> Result<(), Failure> {
    let text = std::fs::read_to_string(&args.jobs).map_err(|error| {
        Failure::Usage(format!(
            "invalid value '{}' for '<JOBS.jsonl>': must be a readable JSON-lines file ({error})",
            args.jobs.display()
        ))
    })?;
    crate::out_dir::prepare_dir(&args.out)?;
    let (mut state, previous) =
        StateFile::open(&args.out).map_err(|error| Failure::Usage(error.to_string()))?;
    if let Some(repaired) = state.repaired() {
        eprintln!("note: {}", printable(repaired));
    }
    let base = args.jobs.parent().unwrap_or(Path::new(""));
    let timeout = args.timeout.map(Duration::from_secs);
    let mut lines = jobs::parse(&text, base, args.model, timeout);
    for (_, job) in lines.iter_mut().filter_map(|line| line.job.as_mut().ok()) {
        job.queue.no_store_io = args.no_store_io;
    }
    let connection = connect(global.local).await?;

    // Lines that need no request are settled now; the rest is work.
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(lines.len());
    let mut work = Vec::new();
    for (slot, line) in lines.iter().enumerate() {
        let outcome = match &line.job {
            Err((id, reason)) => {
                if let Some(id) = id {
                    record(
                        &mut state,
                        Record::Failed {
                            id: id.clone(),
                            failed: reason.clone(),
                            request_id: None,
                        },
                    )?;
                }
                Some(Outcome::Failed {
                    reason: reason.clone(),
                    code: exit::USAGE,
                    request_id: None,
                    rerun: Rerun::Submit,
                })
            }
            Ok((id, job)) => match previous.get(id) {
                Some(JobState {
                    done: Some(paths),
                    request,
                    ..
                }) => Some(Outcome::Skipped {
                    request_id: request.as_ref().map(|(request_id, _)| request_id.clone()),
                    paths: paths.clone(),
                }),
                Some(JobState {
                    pending: true,
                    request: Some((request_id, endpoint)),
                    ..
                }) => {
                    work.push((
                        slot,
                        id.clone(),
                        Work::Collect(request_id.clone(), endpoint.clone()),
                    ));
                    None
                }
                Some(JobState {
                    unknown: Some(unknown),
                    ..
                }) => {
                    let decided = unknown_submit(&connection.client, id, job, unknown, &args).await;
                    if let Ok(Work::Collect(request_id, endpoint)) = &decided {
                        // Its request id on disk before anything else.
                        let found = Record::Submitted {
                            id: id.clone(),
                            request_id: request_id.clone(),
                            endpoint: endpoint.clone(),
                        };
                        record(&mut state, found)?;
                    }
                    match decided {
                        Ok(next) => {
                            work.push((slot, id.clone(), next));
                            None
                        }
                        Err(outcome) => Some(outcome),
                    }
                }
                _ => {
                    work.push((slot, id.clone(), Work::Submit(job.clone())));
                    None
                }
            },
        };
        outcomes.push(outcome);
    }

    // What the jobs to submit would cost, when asked (`--estimate`) or
    // needed (`--max-cost`): before anything is submitted.
    let mut spending = None;
    if args.estimate || args.max_cost.is_some() {
        let to_submit: Vec<&Job> = work
            .iter()
            .filter_map(|(_, _, work)| match work {
                Work::Submit(job) => Some(job),
                Work::Collect(..) => None,
            })
            .collect();
        let plan = budget::plan(to_submit.iter().copied());
        let estimate = budget::estimate(&connection.client, &plan).await?;
        if args.estimate {
            budget::print(&estimate, to_submit.len(), &plan, global.json);
            return Ok(());
        }
        if let Some(max) = args.max_cost {
            if estimate.total_cost > max {
                return Err(Failure::Usage(format!(
                    "fal's estimate for the {} job(s) to submit is {}, over --max-cost {max}: \
                     nothing was submitted",
                    to_submit.len(),
                    budget::amount(estimate.total_cost, estimate.currency.as_deref()),
                )));
            }
            spending = Some(Budget::new(max, &estimate));
        }
    }

    let settled = outcomes.iter().filter(|o| o.is_some()).count();
    let bar = BatchBar::new(global.quiet, lines.len() as u64, settled as u64);
    let pace = {
        let bar = bar.clone();
        Pace::new(args.concurrency, move |pacer| {
            let (running, queued) = pacer.counts();
            bar.at_fal(running, queued);
        })
    };
    let batch = Batch {
        client: &connection.client,
        out: &args.out,
        timeout: timeout.unwrap_or(DEFAULT_WAIT_TIMEOUT),
        state: Mutex::new(state),
        budget: spending,
        gate: RwLock::new(()),
        stopping: Cell::new(None),
        collecting: Cell::new(0),
        bar,
        pace,
    };
    let mut results = futures::stream::iter(work)
        .map(|(slot, id, work)| {
            let batch = &batch;
            async move { (slot, batch.run_job(&id, work).await) }
        })
        .buffer_unordered(batch.pace.most());

    // Ctrl-C, SIGTERM and SIGHUP alike: no new submit starts, the submits
    // in flight finish and are recorded, then the process exits.
    let mut interrupt = pin!(signal::stop());
    loop {
        tokio::select! {
            next = results.next() => match next {
                Some((slot, Some(outcome))) => {
                    if let Outcome::Failed { reason, .. } = &outcome {
                        batch.bar.println(format!("failed {}: {}", lines[slot].name(), printable(reason)));
                    }
                    batch.bar.finished(matches!(outcome, Outcome::Failed { .. }));
                    outcomes[slot] = Some(outcome);
                }
                Some((_, None)) => {}
                None => break,
            },
            stop = &mut interrupt, if batch.stopping.get().is_none() => {
                batch.stopping.set(Some(stop));
                batch.bar.notice(&format!("{}: letting the submits in flight finish, to record their request ids", stop.name()));
            }
            _closed = batch.gate.write(), if batch.stopping.get().is_some() => {
                let stop = batch.stopping.get().unwrap_or(Stop::Interrupt);
                // The waits and downloads end here; a download dropped
                // removes its temporary file. Their jobs go on at fal (a
                // dropped wait cancels nothing) for a rerun to collect.
                drop(results);
                batch.bar.finish();
                eprintln!(
                    "{}: {} submitted job(s) left running, recorded in {}; rerun the same command to collect them",
                    stop.name(),
                    batch.collecting.get(),
                    batch.state.lock().expect("state lock").path().display(),
                );
                // Exiting here, not returning: nothing else is left to do.
                crate::telemetry::flush();
                std::process::exit(i32::from(stop.exit_code()));
            }
        }
    }
    drop(results);
    batch.bar.finish();
    let budget = batch.budget;
    let mut state = batch.state.into_inner().expect("state lock");
    let state_path = state.path().to_path_buf();
    let outcomes: Vec<Outcome> = outcomes
        .into_iter()
        .map(|o| o.expect("every job ran"))
        .collect();
    let deleted = match args.delete_payloads {
        true => {
            let saved = saved_requests(&lines, &outcomes);
            payloads::delete_saved(&connection.client, &mut state, &previous, saved).await
        }
        false => Ok(()),
    };
    // the gallery reads the state file: unlocked first
    drop(state);
    super::gallery::after_batch(&connection.client, &args.jobs, &args.out, global.quiet).await;
    summarize(&lines, &outcomes, &state_path, budget.as_ref(), global).and(deleted)
}

/// Writes a record; a state that cannot be written cannot protect anything.
fn record(state: &mut StateFile, record: Record) -> Result<(), Failure> {
    let path = state.path().to_path_buf();
    state
        .record(&record)
        .map_err(|source| Failure::Save(fal_kontext::Error::Io { path, source }))
}

/// The running batch, shared by the jobs (all on one task).
struct Batch<'a> {
    client: &'a Client,
    out: &'a Path,
    timeout: Duration,
    state: Mutex<StateFile>,
    /// What this run may still spend (`--max-cost`).
    budget: Option<Budget>,
    /// Held (read) by each submit from before it starts until its id is on
    /// disk; Ctrl-C takes it (write), so no accepted request goes unrecorded.
    gate: RwLock<()>,
    /// Set by Ctrl-C, SIGTERM or SIGHUP: start no new submit.
    stopping: Cell<Option<Stop>>,
    /// Jobs whose request fal has accepted, being waited for.
    collecting: Cell<usize>,
    bar: BatchBar,
    /// How many jobs are at fal at once (`--concurrency`).
    pace: Pace,
}

impl Batch<'_> {
    /// Runs one job to its outcome; `None` when a stop signal came before
    /// it started.
    async fn run_job(&self, id: &str, work: Work) -> Option<Outcome> {
        let (request, reserved, result) = match work {
            Work::Submit(job) => match self.submit(id, &job).await? {
                Submitted::Accepted {
                    place,
                    request_id,
                    endpoint,
                    cost,
                } => {
                    let result = self.collect(id, &request_id, &endpoint, place).await;
                    (Some((request_id, endpoint)), Some(cost), result)
                }
                Submitted::OverBudget => return Some(Outcome::Unsubmitted),
                Submitted::Failed {
                    failure,
                    request,
                    reserved,
                } => (request, reserved, Err(failure)),
            },
            // submitted (and paid for) by an earlier run: not this run's spending
            Work::Collect(request_id, endpoint) => {
                let place = self.pace.place(Stage::Queued);
                let result = self.collect(id, &request_id, &endpoint, place).await;
                (Some((request_id, endpoint)), None, result)
            }
        };
        let (outcome, record) = match result {
            Ok(Collected {
                paths,
                billable_units,
            }) => {
                let (request_id, endpoint) = request.expect("a collected job has a request");
                let cost = self.budget.as_ref().and_then(|budget| {
                    let billed = budget.billed(&endpoint, billable_units?)?;
                    if let Some(reserved) = reserved {
                        budget.settle(reserved, billed);
                    }
                    Some(billed)
                });
                let record = Record::Done {
                    id: id.into(),
                    done: paths.clone(),
                    billable_units,
                    cost,
                };
                (Outcome::Done { request_id, paths }, record)
            }
            // What was reserved for a job that failed after it was sent
            // stays spent: fal may bill a request that failed validation
            // (422), and a job that timed out may still finish and be
            // billed (https://docs.fal.ai/documentation/model-apis/pricing).
            Err(failure) => failed(id, request, failure),
        };
        let mut state = self.state.lock().expect("state lock");
        match self::record(&mut state, record) {
            Ok(()) => Some(outcome),
            Err(failure) => Some(Outcome::Failed {
                reason: failure.job_reason(),
                code: failure.code(),
                request_id: None,
                rerun: Rerun::Submit,
            }),
        }
    }

    /// Submits a job when the pace lets it; `None` when a stop signal came
    /// first. A submit fal refused for now (a 429, see [`refused_for_now`])
    /// slows the batch down and the job waits its turn again: it never
    /// fails for it.
    async fn submit(&self, id: &str, job: &Job) -> Option<Submitted<'_>> {
        let cost = self.budget.as_ref().map_or(0.0, |b| b.cost_of(job));
        loop {
            let place = self.pace.admit().await;
            let submit = Submit {
                batch: self,
                id,
                cost,
            };
            return Some(match job.clone().run(self.client, submit).await {
                Ok(Ok(Sent::Accepted(request_id, endpoint))) => {
                    place.accepted();
                    Submitted::Accepted {
                        place,
                        request_id,
                        endpoint,
                        cost,
                    }
                }
                Ok(Ok(Sent::Refused(retry_after))) => {
                    let (pause, limit) = place.refused(retry_after);
                    self.bar.notice(&format!(
                        "fal refused a submit for now (429): at most {limit} job(s) at fal, \
                         submitting again in {:.1}s",
                        pause.as_secs_f64()
                    ));
                    continue;
                }
                Ok(Ok(Sent::Interrupted)) => return None,
                Ok(Ok(Sent::OverBudget)) => Submitted::OverBudget,
                Ok(Err((failure, request))) => Submitted::Failed {
                    failure,
                    request,
                    reserved: Some(cost),
                },
                Err(error) => Submitted::Failed {
                    failure: Failure::Sdk(error),
                    request: None,
                    reserved: None,
                },
            });
        }
    }

    /// Waits for a submitted request (its `place` following what fal
    /// reports) and saves its images as `<id>-<n>.<ext>`.
    async fn collect(
        &self,
        id: &str,
        request_id: &str,
        endpoint: &str,
        place: Place<'_>,
    ) -> Result<Collected, Failure> {
        let handle = self
            .client
            .request_handle::<AnyOutput>(endpoint, request_id);
        self.collecting.set(self.collecting.get() + 1);
        let collected = async {
            let done = handle
                .wait(self.timeout)
                .output_with(|update| match update {
                    Update::Queued { .. } => place.go(Stage::Queued),
                    Update::InProgress { .. } => place.go(Stage::Running),
                    Update::Completed { .. } => place.leave(),
                })
                .await;
            // no longer holding one of fal's slots, whatever the outcome
            place.leave();
            let done = done?;
            let paths = self
                .client
                .download_as(&done.output, self.out, id)
                .await
                .map_err(Failure::Save)?;
            Ok(Collected {
                paths,
                billable_units: done.billable_units,
            })
        }
        .await;
        self.collecting.set(self.collecting.get() - 1);
        collected
    }
}

/// What a rerun does with a job whose submit, in an earlier run, may have
/// reached fal (its last record is `unknown`): the one place that decides
/// it, and says on stderr which way it went. Submitting it again could pay
/// for it twice, so fal's request history is asked first, for a request of
/// its endpoint since the submit whose stored input is what it sent
/// ([`Client::find_submitted`]): found, the job is collected by that
/// request's id; not listed, it is submitted again once the submit is older
/// than `--history-delay` (how soon fal lists a request is not documented);
/// otherwise (no stored input to compare with, several matches, the history
/// unreachable, a state file that did not keep what was sent) it stays a
/// failure that says why, unless `--resubmit-unknown`.
async fn unknown_submit(
    client: &Client,
    id: &str,
    job: &Job,
    (endpoint, sent): &(String, Option<SubmitRecord>),
    args: &BatchArgs,
) -> Result<Work, Outcome> {
    if args.resubmit_unknown {
        return Ok(Work::Submit(job.clone()));
    }
    let left = |why: String| Outcome::Failed {
        reason: format!(
            "an earlier run's submit to {endpoint} may have reached fal (its answer was lost), \
             and {why}: it is not submitted again, since the job may be running"
        ),
        code: exit::FAILED,
        request_id: None,
        rerun: Rerun::Unknown,
    };
    let Some(sent) = sent else {
        return Err(left(
            "the state file does not say what it sent: look for it with kontext history".into(),
        ));
    };
    let note = |what: &str| eprintln!("note: job {}: {what}", printable(id));
    match client.find_submitted(sent).await {
        Ok(SubmitLookup::Found { request_id }) => {
            note(&format!(
                "its lost submit is request {} in fal's history: collecting it",
                printable(&request_id)
            ));
            Ok(Work::Collect(request_id, sent.endpoint.clone()))
        }
        Ok(SubmitLookup::NotFound) => {
            let delay = Duration::from_secs(args.history_delay.unwrap_or(HISTORY_DELAY));
            let age = sent.submitted_at.elapsed().unwrap_or_default();
            if age < delay {
                return Err(left(format!(
                    "fal's history does not list it yet (its submit is {} s old; a request may \
                     take up to --history-delay, {} s, to be listed): rerun later",
                    age.as_secs(),
                    delay.as_secs()
                )));
            }
            note("its lost submit is not in fal's history: submitting it again");
            Ok(Work::Submit(job.clone()))
        }
        Ok(SubmitLookup::Several { request_ids }) => Err(left(format!(
            "fal's history has several requests with its input ({}): collect the one with \
             kontext result",
            printable(&request_ids.join(", "))
        ))),
        Ok(SubmitLookup::CannotKnow { reason }) => Err(left(format!(
            "fal's history cannot tell ({})",
            printable(&reason)
        ))),
        Err(error) => Err(left(format!(
            "fal's history could not be read ({})",
            printable(&error.to_string())
        ))),
    }
}

/// How long fal's request history may take to list a request it took, by
/// default (`--history-delay`): fal does not document it (its history is
/// described at <https://docs.fal.ai/platform-apis/v1/models/requests/by-endpoint>),
/// so the margin is wide: a job left in fal's queue may not be listed while
/// it waits.
const HISTORY_DELAY: u64 = 600;

/// Whether a failed submit is tried again in this run, and after what
/// `Retry-After`: only a 429, which proves fal did not take the job (the
/// SDK retries a submit's 429 itself for that reason, then gives up with
/// [`Error::RateLimited`]; a gateway or `fal_max_queue_length` answers it:
/// <https://docs.fal.ai/documentation/model-apis/common-parameters>). Never
/// [`Error::AmbiguousSubmit`], which may have reached fal: see
/// [`unknown_submit`] for what a rerun does with those.
fn refused_for_now(error: &Error) -> Option<Option<Duration>> {
    match error {
        Error::RateLimited { retry_after, .. } => Some(*retry_after),
        _ => None,
    }
}

/// What became of a job's submit, once the pace let it go.
enum Submitted<'a> {
    /// fal took it: its place, request id and endpoint, and its cost.
    Accepted {
        place: Place<'a>,
        request_id: String,
        endpoint: String,
        cost: f64,
    },
    /// It would have passed `--max-cost`; nothing was sent.
    OverBudget,
    /// It failed, after fal took `request` if it did; `reserved` is what
    /// `--max-cost` counted for it.
    Failed {
        failure: Failure,
        request: Option<(String, String)>,
        reserved: Option<f64>,
    },
}

/// A job's request, finished and saved.
struct Collected {
    paths: Vec<PathBuf>,
    /// What fal reported it billed.
    billable_units: Option<f64>,
}

/// What became of a submit.
enum Sent {
    /// fal accepted it: the request id and endpoint.
    Accepted(String, String),
    /// A stop signal came first; nothing was sent.
    Interrupted,
    /// It would have passed `--max-cost`; nothing was sent.
    OverBudget,
    /// fal refused it for now (429), asking to wait this long if it said;
    /// fal did not take it.
    Refused(Option<Duration>),
}

/// Submits a job's request and records its id before anything else.
struct Submit<'a> {
    batch: &'a Batch<'a>,
    id: &'a str,
    /// What it costs at fal's prices (with `--max-cost`).
    cost: f64,
}

impl Runner for Submit<'_> {
    /// A submit that failed gives why, and the request fal took for it
    /// when its answer named one (id and endpoint).
    type Output = Result<Sent, (Failure, Option<(String, String)>)>;

    async fn run<K: Kind>(self, request: Request<K>) -> Self::Output
    where
        K::Output: Images + Serialize,
    {
        let _open = self.batch.gate.read().await;
        if self.batch.stopping.get().is_some() {
            return Ok(Sent::Interrupted);
        }
        if let Some(budget) = &self.batch.budget
            && !budget.reserve(self.cost)
        {
            return Ok(Sent::OverBudget);
        }
        let endpoint = request.endpoint();
        let handle = match request.submit().await {
            Ok(handle) => handle,
            Err(error) => {
                if let Some(retry_after) = refused_for_now(&error) {
                    if let Some(budget) = &self.batch.budget {
                        budget.release(self.cost);
                    }
                    return Ok(Sent::Refused(retry_after));
                }
                // --max-cost counts only what fal may bill.
                if let Some(budget) = &self.batch.budget
                    && !budget::may_bill(&error)
                {
                    budget.release(self.cost);
                }
                // An answer that named the job: fal took it.
                let request = error
                    .request_id()
                    .map(|id| (id.to_string(), endpoint.to_string()));
                return Err((Failure::Sdk(error), request));
            }
        };
        let (request_id, endpoint) = (
            handle.request_id().to_string(),
            handle.endpoint().to_string(),
        );
        let submitted = Record::Submitted {
            id: self.id.into(),
            request_id: request_id.clone(),
            endpoint: endpoint.clone(),
        };
        let recorded = record(&mut self.batch.state.lock().expect("state lock"), submitted);
        if let Err(failure) = recorded {
            // Unrecorded, a rerun would not know that fal took it. It is not
            // cancelled for that (a paid job is cancelled only by its deadline
            // or by the user): the failure names the request, which the
            // summary lists for `kontext result`.
            return Err((failure, Some((request_id, endpoint))));
        }
        Ok(Sent::Accepted(request_id, endpoint))
    }
}
