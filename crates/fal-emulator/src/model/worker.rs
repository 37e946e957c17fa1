//! One job's life: queue delay, a slot (concurrency), IN_PROGRESS with its
//! log lines, the simulated model, then the webhook.

use std::future::pending;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use super::output;
use super::webhook;
use crate::catalog::endpoints::Endpoint;
use crate::state::Shared;
use crate::state::jobs::{LogLine, Outcome};
use crate::state::stats::bump;

/// A request accepted into the queue (or by the run origin).
pub(crate) struct Submission {
    pub(crate) endpoint: &'static Endpoint,
    /// The input, or the `detail` list the app will answer it with.
    pub(crate) input: Result<Value, Vec<Value>>,
    /// `x-fal-request-timeout`: how long it may wait before it starts.
    pub(crate) start_timeout: Option<Duration>,
    /// `?fal_webhook=`.
    pub(crate) webhook: Option<String>,
    /// Whether fal may keep its payloads in the request history (not with
    /// `x-fal-store-io: 0`).
    pub(crate) store_io: bool,
    /// The API key that sent it (its running cap).
    pub(crate) key: String,
}

/// Creates the job and starts its worker; returns the request id and the
/// job's queue position.
pub(crate) fn spawn(shared: &Arc<Shared>, submission: Submission) -> (String, usize) {
    let id = uuid::Uuid::new_v4().to_string();
    let cancel = shared.shutdown.child_token();
    let (position, key_queued) = shared.jobs.create(
        id.clone(),
        submission.endpoint,
        &submission.key,
        cancel.clone(),
    );
    bump(&shared.counters.jobs_created);
    shared
        .counters
        .peak_queued_per_key
        .fetch_max(key_queued as u64, Ordering::Relaxed);
    shared.history.record(
        &id,
        submission.endpoint.id,
        submission.input.as_ref().ok(),
        submission.store_io,
    );
    tokio::spawn(run(shared.clone(), id.clone(), submission, cancel));
    (id, position)
}

async fn run(shared: Arc<Shared>, id: String, submission: Submission, cancel: CancellationToken) {
    let deadline = submission
        .start_timeout
        .map(|timeout| Instant::now() + timeout);
    let expired = async {
        match deadline {
            Some(deadline) => sleep_until(deadline).await,
            None => pending().await,
        }
    };
    // The key's slot first, then one of the emulator's: a job waits its
    // turn among its key's jobs, as fal's per-account limit makes it.
    let slot = async {
        queue_delay(&shared).await;
        let mut waited = false;
        let key_permit = match shared.key_slots(&submission.key) {
            Some(slots) => Some(take(&shared, slots, &mut waited).await),
            None => None,
        };
        let permit = take(&shared, shared.slots.clone(), &mut waited).await;
        (key_permit, permit)
    };
    // A deadline already gone (an injected user timeout) ends the job before
    // it can race a free slot.
    if deadline.is_some_and(|deadline| deadline <= Instant::now()) {
        finish(&shared, &id, &submission, Outcome::TimedOut, None);
        return;
    }
    let permit = tokio::select! {
        // Cancelled while queued: the cancel call already ended the job.
        () = cancel.cancelled() => return,
        () = expired => {
            finish(&shared, &id, &submission, Outcome::TimedOut, None);
            return;
        }
        permit = slot => permit,
    };
    if !shared.jobs.start(&id) {
        return;
    }
    shared.history.started(&id);

    let started = Instant::now();
    let outcome = match &submission.input {
        // The app rejects a bad input at once.
        Err(details) => Outcome::Invalid(Arc::new(details.clone())),
        Ok(input) => tokio::select! {
            () = cancel.cancelled() => Outcome::Cancelled,
            outcome = process(&shared, &id, submission.endpoint, input, started) => outcome,
        },
    };
    drop(permit);
    let seconds = started.elapsed().as_secs_f64();
    finish(&shared, &id, &submission, outcome, Some(seconds));
}

/// A permit of `slots`; a job that finds none free is counted once, when
/// it starts to wait.
async fn take(shared: &Shared, slots: Arc<Semaphore>, waited: &mut bool) -> OwnedSemaphorePermit {
    match slots.clone().try_acquire_owned() {
        Ok(permit) => permit,
        Err(_) => {
            if !*waited {
                *waited = true;
                bump(&shared.counters.jobs_waited_for_slot);
            }
            slots
                .acquire_owned()
                .await
                .expect("the slot semaphores are never closed")
        }
    }
}

/// Waits out the queue delay, counted from now, following changes to it
/// (so a test can hold jobs in the queue and then release them).
async fn queue_delay(shared: &Shared) {
    let queued_at = Instant::now();
    let mut timing = shared.watch_timing();
    loop {
        let until = queued_at + timing.borrow_and_update().queue_delay;
        tokio::select! {
            () = sleep_until(until) => return,
            changed = timing.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

fn finish(
    shared: &Arc<Shared>,
    id: &str,
    submission: &Submission,
    outcome: Outcome,
    seconds: Option<f64>,
) {
    let Some(outcome) = shared.jobs.finish(id, outcome, seconds) else {
        return;
    };
    shared
        .history
        .finished(id, &outcome, seconds, output_files(shared, &outcome));
    if matches!(outcome, Outcome::Cancelled) {
        bump(&shared.counters.jobs_cancelled);
        return;
    }
    bump(&shared.counters.jobs_completed);
    if let Some(url) = &submission.webhook {
        webhook::deliver(shared, url.clone(), id.to_owned(), outcome);
    }
}

/// The URLs of an output's files on the emulator's CDN.
fn output_files(shared: &Shared, outcome: &Outcome) -> Vec<String> {
    let Outcome::Done(output) = outcome else {
        return Vec::new();
    };
    let files = format!("{}/files/", shared.urls.cdn);
    output["images"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|image| image["url"].as_str())
        .filter(|url| url.starts_with(&files))
        .map(str::to_owned)
        .collect()
}

/// IN_PROGRESS: log lines spread over the processing time, then the model.
async fn process(
    shared: &Shared,
    id: &str,
    endpoint: &'static Endpoint,
    input: &Value,
    started: Instant,
) -> Outcome {
    let seed = input["seed"]
        .as_u64()
        .or_else(|| input["seed"].as_i64().map(|seed| seed as u64))
        .unwrap_or_else(|| shared.next_seed());
    let lines = shared.log_lines;
    let pause = shared.timing().processing_time / u32::try_from(lines + 1).unwrap_or(u32::MAX);
    for index in 0..lines {
        sleep(pause).await;
        shared.jobs.log(id, log_line(index, lines, endpoint, seed));
    }
    sleep(pause).await;
    let seconds = started.elapsed().as_secs_f64();
    match output::generate(shared, endpoint, input, seed, seconds).await {
        Ok(output) => Outcome::Done(Arc::new(output)),
        Err(details) => Outcome::Invalid(Arc::new(details)),
    }
}

fn log_line(index: usize, count: usize, endpoint: &Endpoint, seed: u64) -> LogLine {
    let stage = match index % 3 {
        0 => format!("loading inputs for {}", endpoint.id),
        1 => format!("generating with seed {seed}"),
        _ => "encoding and storing images".to_owned(),
    };
    LogLine {
        message: format!("[emulator] step {}/{count}: {stage}", index + 1),
        level: "INFO",
        source: "user",
        timestamp: OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default(),
    }
}
