//! `kontext batch JOBS.jsonl --out DIR`: many jobs, a few at a time, each
//! request id on disk the moment fal accepts it, so that a rerun after a
//! crash, a kill or Ctrl-C collects what was submitted instead of paying for
//! it again. With `--estimate` it asks fal what the jobs would cost and
//! stops; with `--max-cost` it keeps what it submits within a budget.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Mutex;
use std::time::Duration;

use fal_kontext::{Client, DEFAULT_WAIT_TIMEOUT, Images, Kind, Request};
use futures::StreamExt;
use serde::Serialize;
use serde_json::json;
use tokio::sync::RwLock;

use crate::batch::budget::{self, Budget};
use crate::batch::jobs;
use crate::batch::state::{JobState, Record, StateFile};
use crate::cli::{BatchArgs, Global};
use crate::exit::{self, Failure};
use crate::job::{Job, Runner};
use crate::local::connect;
use crate::output::{self, AnyOutput};
use crate::progress::BatchBar;

/// What becomes of one line.
enum Outcome {
    /// Saved in this run.
    Done {
        request_id: String,
        paths: Vec<PathBuf>,
    },
    /// Saved by an earlier run.
    Skipped {
        request_id: Option<String>,
        paths: Vec<PathBuf>,
    },
    /// Failed, with the exit code its error stands for.
    Failed { reason: String, code: u8 },
    /// Not submitted: it would have passed `--max-cost`.
    Unsubmitted,
}

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
    output::prepare_dir(&args.out)?;
    let (mut state, previous) =
        StateFile::open(&args.out).map_err(|error| Failure::Usage(error.to_string()))?;
    let base = args.jobs.parent().unwrap_or(Path::new(""));
    let timeout = args.timeout.map(Duration::from_secs);
    let lines = jobs::parse(&text, base, args.model, timeout);
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
                        },
                    )?;
                }
                Some(Outcome::Failed {
                    reason: reason.clone(),
                    code: exit::USAGE,
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
            budget::print(&estimate, to_submit.len(), &plan, global);
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
    let batch = Batch {
        client: &connection.client,
        out: &args.out,
        timeout: timeout.unwrap_or(DEFAULT_WAIT_TIMEOUT),
        state: Mutex::new(state),
        budget: spending,
        gate: RwLock::new(()),
        stopping: Cell::new(false),
        running: Cell::new(0),
        collecting: Cell::new(0),
        bar: BatchBar::new(global.quiet, lines.len() as u64, settled as u64),
    };
    let mut results = futures::stream::iter(work)
        .map(|(slot, id, work)| {
            let batch = &batch;
            async move { (slot, batch.run_job(&id, work).await) }
        })
        .buffer_unordered(usize::from(args.concurrency));

    let mut interrupt = pin!(tokio::signal::ctrl_c());
    loop {
        tokio::select! {
            next = results.next() => match next {
                Some((slot, Some(outcome))) => {
                    if let Outcome::Failed { reason, .. } = &outcome {
                        batch.bar.println(format!("failed {}: {reason}", lines[slot].name()));
                    }
                    outcomes[slot] = Some(outcome);
                    batch.bar.finished();
                }
                Some((_, None)) => {}
                None => break,
            },
            Ok(()) = &mut interrupt, if !batch.stopping.get() => {
                batch.stopping.set(true);
                batch.bar.notice("interrupted: letting the submits in flight finish, to record their request ids");
            }
            _closed = batch.gate.write(), if batch.stopping.get() => {
                batch.bar.finish();
                eprintln!(
                    "interrupted: {} submitted job(s) left running, recorded in {}; rerun the same command to collect them",
                    batch.collecting.get(),
                    batch.state.lock().expect("state lock").path().display(),
                );
                // Exiting here, not returning: the waits end at once, and
                // their jobs go on at fal (a dropped wait cancels nothing)
                // for a rerun to collect.
                std::process::exit(i32::from(exit::INTERRUPTED));
            }
        }
    }
    drop(results);
    batch.bar.finish();
    let budget = batch.budget;
    let state_path = batch
        .state
        .into_inner()
        .expect("state lock")
        .path()
        .to_path_buf();
    let outcomes: Vec<Outcome> = outcomes
        .into_iter()
        .map(|o| o.expect("every job ran"))
        .collect();
    crate::gallery::after_batch(&connection.client, &args.jobs, &args.out, global.quiet).await;
    summarize(&lines, &outcomes, &state_path, budget.as_ref(), global)
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
    /// Set by Ctrl-C: start no new submit.
    stopping: Cell<bool>,
    /// Jobs started and not finished, for the bar.
    running: Cell<usize>,
    /// Jobs whose request fal has accepted, being waited for.
    collecting: Cell<usize>,
    bar: BatchBar,
}

impl Batch<'_> {
    /// Runs one job to its outcome; `None` when Ctrl-C came before it started.
    async fn run_job(&self, id: &str, work: Work) -> Option<Outcome> {
        self.running.set(self.running.get() + 1);
        self.bar.running(self.running.get());
        let (result, reserved) = match work {
            Work::Submit(job) => {
                let cost = self.budget.as_ref().map_or(0.0, |b| b.cost_of(&job));
                let submit = Submit {
                    batch: self,
                    id,
                    cost,
                };
                let result = match job.run(self.client, submit).await {
                    Ok(Ok(Sent::Accepted(request_id, endpoint))) => {
                        self.collect(id, request_id, endpoint).await
                    }
                    Ok(Ok(Sent::Interrupted)) => {
                        self.running.set(self.running.get() - 1);
                        return None;
                    }
                    Ok(Ok(Sent::OverBudget)) => {
                        self.running.set(self.running.get() - 1);
                        self.bar.running(self.running.get());
                        return Some(Outcome::Unsubmitted);
                    }
                    Ok(Err(failure)) => Err(failure),
                    Err(error) => Err(Failure::Sdk(error)),
                };
                (result, Some(cost))
            }
            // submitted (and paid for) by an earlier run: not this run's spending
            Work::Collect(request_id, endpoint) => {
                (self.collect(id, request_id, endpoint).await, None)
            }
        };
        self.running.set(self.running.get() - 1);
        self.bar.running(self.running.get());
        let (outcome, record) = match result {
            Ok(Collected {
                request_id,
                endpoint,
                paths,
                billable_units,
            }) => {
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
            // What was reserved for a job that failed stays spent: fal may
            // bill a request that failed validation (422), and a job that
            // timed out may still finish and be billed
            // (/work/shared/api/platform-pricing.md, "Billing facts").
            Err(failure) => {
                let reason = failure.job_reason();
                let record = Record::Failed {
                    id: id.into(),
                    failed: reason.clone(),
                };
                (
                    Outcome::Failed {
                        reason,
                        code: failure.code(),
                    },
                    record,
                )
            }
        };
        let mut state = self.state.lock().expect("state lock");
        match self::record(&mut state, record) {
            Ok(()) => Some(outcome),
            Err(failure) => Some(Outcome::Failed {
                reason: failure.job_reason(),
                code: failure.code(),
            }),
        }
    }

    /// Waits for a submitted request and saves its images as `<id>-<n>.<ext>`.
    async fn collect(
        &self,
        id: &str,
        request_id: String,
        endpoint: String,
    ) -> Result<Collected, Failure> {
        let handle = self
            .client
            .request_handle::<AnyOutput>(&endpoint, &request_id);
        self.collecting.set(self.collecting.get() + 1);
        let done = handle.wait(self.timeout).output().await;
        self.collecting.set(self.collecting.get() - 1);
        let done = done?;
        let paths = self
            .client
            .download_as(&done.output, self.out, id)
            .await
            .map_err(Failure::Save)?;
        Ok(Collected {
            request_id,
            endpoint,
            paths,
            billable_units: done.billable_units,
        })
    }
}

/// A job's request, finished and saved.
struct Collected {
    request_id: String,
    endpoint: String,
    paths: Vec<PathBuf>,
    /// What fal reported it billed.
    billable_units: Option<f64>,
}

/// What became of a submit.
enum Sent {
    /// fal accepted it: the request id and endpoint.
    Accepted(String, String),
    /// Ctrl-C came first; nothing was sent.
    Interrupted,
    /// It would have passed `--max-cost`; nothing was sent.
    OverBudget,
}

/// Submits a job's request and records its id before anything else.
struct Submit<'a> {
    batch: &'a Batch<'a>,
    id: &'a str,
    /// What it costs at fal's prices (with `--max-cost`).
    cost: f64,
}

impl Runner for Submit<'_> {
    type Output = Result<Sent, Failure>;

    async fn run<K: Kind>(self, request: Request<K>) -> Self::Output
    where
        K::Output: Images + Serialize,
    {
        let _open = self.batch.gate.read().await;
        if self.batch.stopping.get() {
            return Ok(Sent::Interrupted);
        }
        if let Some(budget) = &self.batch.budget
            && !budget.reserve(self.cost)
        {
            return Ok(Sent::OverBudget);
        }
        let handle = request.submit().await?;
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
            // Unrecorded, a rerun would pay for it again: better not to run it.
            let _ = handle.cancel().await;
            return Err(failure);
        }
        Ok(Sent::Accepted(request_id, endpoint))
    }
}

/// Prints the summary (failures with their reasons on stderr; paths or the
/// `--json` document on stdout) and gives the batch's exit status.
fn summarize(
    lines: &[jobs::Line],
    outcomes: &[Outcome],
    state_path: &Path,
    budget: Option<&Budget>,
    global: &Global,
) -> Result<(), Failure> {
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let done = count(|o| matches!(o, Outcome::Done { .. }));
    let skipped = count(|o| matches!(o, Outcome::Skipped { .. }));
    let failed = count(|o| matches!(o, Outcome::Failed { .. }));
    let left = count(|o| matches!(o, Outcome::Unsubmitted));
    if failed > 0 || left > 0 || !global.quiet {
        eprintln!("{done} done, {skipped} skipped (done before), {failed} failed");
    }
    if let Some(budget) = budget
        && (left > 0 || !global.quiet)
    {
        eprintln!(
            "spent {} of --max-cost (at fal's prices; what fal billed where it said); \
             {left} job(s) left unsubmitted",
            budget.spent()
        );
    }
    for (line, outcome) in lines.iter().zip(outcomes) {
        if let Outcome::Failed { reason, .. } = outcome {
            eprintln!("  {}: {reason}", line.name());
        }
    }
    if global.json {
        let jobs: Vec<_> = lines
            .iter()
            .zip(outcomes)
            .map(|(line, outcome)| {
                let id = line
                    .job
                    .as_ref()
                    .map_or_else(|(id, _)| id.clone(), |(id, _)| Some(id.clone()));
                let mut entry = json!({"line": line.number, "id": id});
                let details = match outcome {
                    Outcome::Done { request_id, paths } => {
                        json!({"status": "done", "request_id": request_id, "paths": paths})
                    }
                    Outcome::Skipped { request_id, paths } => {
                        json!({"status": "skipped", "request_id": request_id, "paths": paths})
                    }
                    Outcome::Failed { reason, code } => {
                        json!({"status": "failed", "reason": reason, "exit_code": code})
                    }
                    Outcome::Unsubmitted => json!({"status": "unsubmitted"}),
                };
                entry
                    .as_object_mut()
                    .expect("an object")
                    .extend(details.as_object().expect("an object").clone());
                entry
            })
            .collect();
        let mut document = json!({
            "state_file": state_path,
            "done": done,
            "skipped": skipped,
            "failed": failed,
            "jobs": jobs,
        });
        if let Some(budget) = budget {
            document["budget"] = budget.json(left);
        }
        output::print_json(&document);
    } else {
        output::print_paths(outcomes.iter().flat_map(|outcome| match outcome {
            Outcome::Done { paths, .. } => paths.as_slice(),
            _ => &[],
        }));
    }
    match outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Failed { code, .. } => Some(*code),
            _ => None,
        })
        .max()
    {
        Some(code) => Err(Failure::Batch { failed, code }),
        None if left > 0 => Err(Failure::OverBudget {
            left,
            spent: budget.map(Budget::spent).unwrap_or_default(),
        }),
        None => Ok(()),
    }
}
