//! Waiting for a request: the SSE status stream as a hint (the status still
//! polled beside it), polling with backoff when the stream fails, is cut or
//! goes silent; what fal survives, the wait survives, until the deadline,
//! which alone (with an explicit cancel) cancels the request. What the wait
//! promises is stated once, on [`Subscription`]; the time limits and retries
//! of its calls are [`crate::retry`]'s.

pub(crate) mod sse;

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use fal_kontext_api::types::{AnyStatus, LogEntry, QueueStatus, Status};
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use tokio::time::{Instant, timeout_at};
use tracing::Instrument;

use crate::api_clients::Accept;
use crate::error::{CancelAtDeadline, Error, Result};
use crate::queue::RequestHandle;
use crate::request::{Kind, Request};
use crate::retry::{
    CANCEL_BUDGET, FIRST_POLL, Failed, MAX_POLL, MIN_POLL, retry_after_of, survivable,
};

/// A change in a request's progress.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// Waiting in fal's queue, at this position when fal says.
    Queued {
        /// 0 means next.
        position: Option<i64>,
    },
    /// Running; the log lines that are new since the last update.
    InProgress {
        /// New log lines.
        logs: Vec<LogEntry>,
    },
    /// Done; the last new log lines. The output follows from [`Subscription::output`].
    Completed {
        /// New log lines.
        logs: Vec<LogEntry>,
    },
}

/// A finished request: its id, its output, and what fal billed for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Completed<O> {
    /// The request id fal gave.
    pub request_id: String,
    /// The output.
    pub output: O,
    /// The billing units fal reported for the request (the result's
    /// `x-fal-billable-units`: images, or megapixels, as the endpoint's
    /// price says; see [`Client::prices`](crate::Client::prices)); `None`
    /// when fal did not say.
    pub billable_units: Option<f64>,
}

type Events = Pin<Box<dyn Stream<Item = QueueStatus> + Send>>;

enum Phase {
    Connect,
    /// The stream is open; the status is still polled at `next_poll`.
    Streaming {
        events: Events,
        next_poll: Instant,
    },
    Polling {
        delay: Duration,
    },
}

/// A submitted request being waited for: a stream of [`Update`]s through
/// [`next`](Self::next), then the output through [`output`](Self::output).
///
/// # What ends a wait, and what cancels the request
///
/// Every FLUX.1 Kontext request costs money, so a wait gives up on a request
/// only when there is no other way:
///
/// - **Waiting survives what fal survives.** A failed status, status stream
///   or result call that may succeed later (no connection, a broken body, a
///   call's own timeout, 408, 429, 500, 502, 503, a 504 other than the
///   user-timeout one) is tried again, with backoff and within the bounds of
///   `Retry-After`, for as long as the deadline allows: an outage of fal's
///   ingress is waited out.
/// - **A stream is a hint, polling is the truth.** A status stream whose
///   head does not come within the call timeout, that fails, ends early or
///   goes silent for longer than the client's `stream_idle_timeout` (default
///   45 s, three of fal's 15 s keep-alive intervals) gives way to polling;
///   while it is open the status is still polled every
///   `status_poll_interval` (default 30 s), so a stream that only keeps
///   alive, or sends junk, cannot hold a finished job.
/// - **Only the deadline and [`cancel`](Self::cancel) cancel the request.**
///   One made by [`Request::subscribe`] or [`RequestHandle::wait`] cancels
///   its request when the deadline passes (the error is [`Error::Timeout`],
///   whose `cancel` says what fal answered: cancelled, already completed, or
///   unknown).
///   One made by [`RequestHandle::watch`] never cancels.
/// - **Any other error ends the wait and leaves the request running**: a
///   refused key, an unknown request, a decode error, fal's final answer.
///   The error carries the request id ([`Error::request_id`]), so the job can
///   be fetched later ([`Client::request_handle`](crate::Client::request_handle),
///   `kontext result <id>`).
/// - **Dropping a `Subscription` does not cancel the request either**: a drop
///   also happens when an error is passed up with `?`, or when a task is
///   aborted, and a paid job is never cancelled as a side effect. The
///   request goes on and can be fetched by its id; to stop it, call
///   [`cancel`](Self::cancel). ([`detach`](Self::detach) gives the handle
///   back and lifts the deadline's cancel.)
///
/// ```no_run
/// # async fn demo() -> fal_kontext::Result<()> {
/// use fal_kontext::Update;
/// let client = fal_kontext::Client::from_env()?;
/// let mut job = client.edit("Make it night", "https://example.com/day.png").subscribe().await?;
/// while let Some(update) = job.next().await {
///     match update? {
///         Update::Queued { position } => eprintln!("queued at {position:?}"),
///         Update::InProgress { logs } => logs.iter().for_each(|l| eprintln!("{}", l.message)),
///         Update::Completed { .. } => eprintln!("done"),
///     }
/// }
/// let done = job.output().await?;
/// # Ok(()) }
/// ```
pub struct Subscription<O> {
    handle: RequestHandle<O>,
    deadline: Instant,
    allowed: Duration,
    phase: Phase,
    last: Option<(AnyStatus, Option<i64>)>,
    logs_seen: usize,
    /// Whether fal is asked for the job's log lines: not by
    /// [`output`](Subscription::output) alone, which reads no update, unless
    /// the log lines are traced.
    logs: bool,
    completed: Option<QueueStatus>,
    /// Whether the deadline cancels the request: not once it completed, was
    /// cancelled or detached, nor for a watch.
    cancels_at_deadline: bool,
    /// The job's span ([`crate::telemetry::job`]): the calls of the wait
    /// and its status changes go in it.
    span: tracing::Span,
}

impl<K: Kind> Request<K> {
    /// Submits the request and returns a [`Subscription`] to follow it.
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let job = client.text_to_image("A red kite").subscribe().await?;
    /// println!("waiting for {}", job.request_id());
    /// let done = job.output().await?;
    /// # Ok(()) }
    /// ```
    pub async fn subscribe(self) -> Result<Subscription<K::Output>> {
        let allowed = self
            .queue
            .wait_timeout
            .unwrap_or(self.client.settings().wait_timeout);
        let deadline = crate::durations::deadline_after(allowed);
        let span = self.job_span();
        let subscribed = self.subscribe_in(&span, deadline, allowed).await;
        if let Err(error) = &subscribed {
            crate::telemetry::finished(&span, Err(error));
        }
        subscribed
    }

    async fn subscribe_in(
        self,
        span: &tracing::Span,
        deadline: Instant,
        allowed: Duration,
    ) -> Result<Subscription<K::Output>> {
        let mut submit = std::pin::pin!(self.submit_in(span));
        let handle = match timeout_at(deadline, &mut submit).await {
            Ok(submitted) => submitted?,
            Err(_) => {
                // The deadline passed with the submit's answer in flight: fal
                // may have created the job. Its answer gets a short while
                // more, to name the request and cancel it, not lose it.
                let late = tokio::time::timeout(CANCEL_BUDGET, submit).await;
                let (request_id, cancel) = match late {
                    Ok(Ok(handle)) => (
                        Some(handle.request_id().to_string()),
                        cancel_at_deadline(&handle).await,
                    ),
                    // what fal may have taken is said as such
                    Ok(Err(error @ Error::AmbiguousSubmit { .. })) => return Err(error),
                    Ok(Err(error)) => (
                        error.request_id().map(str::to_string),
                        CancelAtDeadline::NotSent,
                    ),
                    Err(_) => (None, CancelAtDeadline::NotSent),
                };
                return Err(Error::Timeout {
                    cancel,
                    request_id,
                    after: allowed,
                });
            }
        };
        Ok(handle.wait_until(deadline, allowed, span.clone()))
    }

    /// Submits the request, waits for it, and returns its output.
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let done = client.edit("Make it night", "day.png").run().await?;
    /// println!("{}: {}", done.request_id, done.output.images[0].url);
    /// # Ok(()) }
    /// ```
    pub async fn run(self) -> Result<Completed<K::Output>> {
        self.subscribe().await?.output().await
    }
}

impl<O> RequestHandle<O> {
    /// Follows a submitted request, for at most `timeout`.
    ///
    /// ```no_run
    /// # async fn demo(handle: fal_kontext::RequestHandle<fal_kontext::EditOutput>) -> fal_kontext::Result<()> {
    /// let done = handle.wait(std::time::Duration::from_secs(300)).output().await?;
    /// # Ok(()) }
    /// ```
    pub fn wait(self, timeout: Duration) -> Subscription<O> {
        let span = crate::telemetry::job(self.endpoint(), None);
        crate::telemetry::request_id(&span, self.request_id());
        self.wait_until(crate::durations::deadline_after(timeout), timeout, span)
    }

    /// Follows a request without owning it, for at most `timeout`: the same
    /// updates and output as [`wait`](Self::wait), but neither the deadline
    /// nor a drop cancels the request (for a request someone else submitted).
    ///
    /// ```no_run
    /// # async fn demo(client: fal_kontext::Client) -> fal_kontext::Result<()> {
    /// let handle = client.request_handle::<fal_kontext::EditOutput>(fal_kontext::endpoints::FLUX_PRO_KONTEXT, "0123");
    /// match handle.watch(std::time::Duration::from_secs(60)).output().await {
    ///     Ok(done) => println!("{} images", done.output.images.len()),
    ///     Err(fal_kontext::Error::Timeout { .. }) => println!("still running; not cancelled"),
    ///     Err(error) => return Err(error),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn watch(self, timeout: Duration) -> Subscription<O> {
        let mut subscription = self.wait(timeout);
        subscription.cancels_at_deadline = false;
        subscription
    }

    fn wait_until(
        self,
        deadline: Instant,
        allowed: Duration,
        span: tracing::Span,
    ) -> Subscription<O> {
        Subscription {
            handle: self,
            deadline,
            allowed,
            phase: Phase::Connect,
            last: None,
            logs_seen: 0,
            logs: true,
            completed: None,
            cancels_at_deadline: true,
            span,
        }
    }

    /// Opens the SSE status stream (`{status_url}/stream`, a generated
    /// operation), with the log lines when `logs` is true; each event's data
    /// is a status. The stream ends when its body breaks, ends, or sends no
    /// byte (keep-alive comments count) for `idle`.
    async fn open_stream(&self, idle: Duration, logs: bool) -> Result<Events> {
        let returned = self.status_url().map(|url| format!("{url}/stream"));
        let (api, app) = self.api(returned.as_ref(), Accept::EventStream)?;
        let id = self.request_id();
        // not retried (polling takes over): one attempt
        let span = crate::telemetry::attempt("status_stream", 1);
        // boxed, as an attempt of `retrying` is: the Subscription's futures stay small
        let sent = fal_kontext_api::per_app!(app, api, status_stream, |op| Box::pin(
            op.request_id(id)
                .logs(i64::from(logs))
                .send()
                .instrument(span.clone())
        )
        .await);
        match sent {
            Ok(answer) => Ok(Box::pin(sse::statuses(until_idle(
                answer.into_inner_stream(),
                idle,
            )))),
            Err(error) => {
                let idle = self.client.settings().body_idle_timeout;
                Err(self.concerning(
                    Failed::from_api(error, "the status stream", idle)
                        .await
                        .into_error(),
                ))
            }
        }
    }
}

/// The chunks of a body until it sends nothing for `idle`: a stream that is
/// silent for longer than a few of fal's 15 s keep-alive intervals is dead
/// (<https://docs.fal.ai/documentation/model-apis/inference/queue>), whatever
/// the connection says.
fn until_idle<B, E>(
    body: B,
    idle: Duration,
) -> impl Stream<Item = std::result::Result<Bytes, E>> + Send
where
    B: Stream<Item = std::result::Result<Bytes, E>> + Send + Unpin,
    E: Send,
{
    futures::stream::unfold(body, move |mut body| async move {
        match tokio::time::timeout(idle, body.next()).await {
            Ok(Some(chunk)) => Some((chunk, body)),
            Ok(None) => None,
            Err(_) => {
                tracing::debug!(?idle, "the status stream went silent");
                None
            }
        }
    })
}

impl<O> Subscription<O> {
    /// The request id.
    ///
    /// ```no_run
    /// # async fn demo(job: fal_kontext::Subscription<fal_kontext::EditOutput>) {
    /// eprintln!("waiting for {}", job.request_id());
    /// # }
    /// ```
    pub fn request_id(&self) -> &str {
        self.handle.request_id()
    }

    /// The handle of the request being followed.
    ///
    /// ```no_run
    /// # async fn demo(job: fal_kontext::Subscription<fal_kontext::EditOutput>) -> fal_kontext::Result<()> {
    /// let status = job.handle().status(false).await?;
    /// # Ok(()) }
    /// ```
    pub fn handle(&self) -> &RequestHandle<O> {
        &self.handle
    }

    /// The next change, or `None` once [`Update::Completed`] has been given.
    /// Past the deadline the request is cancelled and this is
    /// [`Error::Timeout`].
    ///
    /// ```no_run
    /// # async fn demo(mut job: fal_kontext::Subscription<fal_kontext::EditOutput>) -> fal_kontext::Result<()> {
    /// while let Some(update) = job.next().await {
    ///     eprintln!("{:?}", update?);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn next(&mut self) -> Option<Result<Update>> {
        let span = self.span.clone();
        let next = self.next_unspanned().instrument(span.clone()).await;
        if let Some(Err(error)) = &next {
            crate::telemetry::finished(&span, Err(error));
        }
        next
    }

    async fn next_unspanned(&mut self) -> Option<Result<Update>> {
        if self.completed.is_some() {
            return None;
        }
        loop {
            let status = match &mut self.phase {
                _ if Instant::now() >= self.deadline => return Some(Err(self.give_up().await)),
                Phase::Connect => {
                    let settings = self.handle.client.settings();
                    let idle = settings.stream_idle_timeout;
                    // the stream's head comes within the call timeout, like
                    // any call's; one that never starts is polled around
                    let opened = crate::retry::wake_at(settings.call_timeout, self.deadline);
                    self.phase =
                        match timeout_at(opened, self.handle.open_stream(idle, self.logs)).await {
                            Ok(Ok(events)) => Phase::Streaming {
                                events,
                                next_poll: crate::retry::wake_at(
                                    settings.status_poll_interval.max(MIN_POLL),
                                    self.deadline,
                                ),
                            },
                            Ok(Err(error @ Error::Authentication { .. })) => {
                                return Some(Err(error));
                            }
                            Ok(Err(error)) => {
                                tracing::debug!(%error, "status stream unavailable, polling");
                                Phase::Polling { delay: FIRST_POLL }
                            }
                            Err(_) => {
                                tracing::debug!("status stream did not start, polling");
                                Phase::Polling { delay: FIRST_POLL }
                            }
                        };
                    continue;
                }
                Phase::Streaming { events, next_poll } => {
                    let poll_at = *next_poll;
                    tokio::select! {
                        event = timeout_at(self.deadline, events.next()) => match event {
                            Err(_) => continue,
                            Ok(Some(status)) => (status, false),
                            Ok(None) => {
                                tracing::debug!("status stream ended before completion, polling");
                                self.phase = Phase::Polling { delay: FIRST_POLL };
                                continue;
                            }
                        },
                        () = tokio::time::sleep_until(poll_at) => {
                            // at least MIN_POLL apart, whatever was set
                            let settings = self.handle.client.settings();
                            let interval = settings.status_poll_interval.max(MIN_POLL);
                            *next_poll = crate::retry::wake_at(interval, self.deadline);
                            match timeout_at(self.deadline, self.handle.status(false)).await {
                                // the stream reports the log lines
                                Ok(Ok(status)) => (status, false),
                                Ok(Err(error)) if survivable(&error) => continue,
                                Ok(Err(error)) => return Some(Err(error)),
                                Err(_) => continue,
                            }
                        }
                    }
                }
                Phase::Polling { delay } => {
                    let wake = crate::retry::wake_at(*delay, self.deadline);
                    *delay = (*delay * 2).clamp(MIN_POLL, MAX_POLL);
                    tokio::time::sleep_until(wake).await;
                    match timeout_at(self.deadline, self.handle.status(self.logs)).await {
                        Err(_) => continue,
                        Ok(Ok(status)) => (status, true),
                        Ok(Err(error)) if survivable(&error) => {
                            // fal may be back in a moment: poll again, after
                            // what the answer asked for when it did
                            tracing::debug!(%error, "status poll failed, polling on");
                            if let Some(asked) = retry_after_of(&error) {
                                *delay = asked.min(self.handle.client.settings().retry.max_delay);
                            }
                            continue;
                        }
                        Ok(Err(error)) => return Some(Err(error)),
                    }
                }
            };
            let (status, cumulative) = status;
            if let Some(update) = self.observe(status, cumulative) {
                return Some(Ok(update));
            }
        }
    }

    /// Turns a status into an update when something changed. The status
    /// stream sends only the log lines that are new with each event, while a
    /// polled status holds every line so far: `cumulative` says which this is,
    /// and `logs_seen` counts the lines already reported either way.
    fn observe(&mut self, status: QueueStatus, cumulative: bool) -> Option<Update> {
        let logs = status.logs.as_deref().unwrap_or_default();
        let skip = if cumulative { self.logs_seen } else { 0 };
        let new_logs: Vec<LogEntry> = logs.iter().skip(skip).cloned().collect();
        self.logs_seen += new_logs.len();
        let now = (status.status.clone(), status.queue_position);
        let changed = self.last.as_ref() != Some(&now);
        self.last = Some(now);
        new_logs
            .iter()
            .for_each(|line| crate::telemetry::log_line(&line.message));
        let AnyStatus::Known(known) = status.status else {
            // A status fal added after this client was made: not finished.
            return None;
        };
        if changed {
            crate::telemetry::status(&known, status.queue_position);
        }
        match known {
            Status::InQueue if changed => Some(Update::Queued {
                position: status.queue_position,
            }),
            Status::InQueue => None,
            Status::InProgress if changed || !new_logs.is_empty() => {
                Some(Update::InProgress { logs: new_logs })
            }
            Status::InProgress => None,
            Status::Completed => {
                self.cancels_at_deadline = false;
                self.completed = Some(status);
                Some(Update::Completed { logs: new_logs })
            }
        }
    }

    /// Cancels the request now and reports fal's answer.
    ///
    /// ```no_run
    /// # async fn demo(job: fal_kontext::Subscription<fal_kontext::EditOutput>) -> fal_kontext::Result<()> {
    /// let outcome = job.cancel().await?;
    /// println!("{outcome:?}");
    /// # Ok(()) }
    /// ```
    pub async fn cancel(self) -> Result<crate::CancelOutcome> {
        self.handle.cancel().instrument(self.span.clone()).await
    }

    /// Stops following (the deadline will not cancel the request), and
    /// returns the handle to come back to the request later.
    ///
    /// ```no_run
    /// # async fn demo(job: fal_kontext::Subscription<fal_kontext::EditOutput>) {
    /// let handle = job.detach();
    /// println!("collect {} later", handle.request_id());
    /// # }
    /// ```
    pub fn detach(self) -> RequestHandle<O> {
        self.handle
    }

    /// The deadline passed: cancels the request (best effort, briefly) when
    /// this wait owns it, and says why.
    async fn give_up(&mut self) -> Error {
        let cancel = if std::mem::take(&mut self.cancels_at_deadline) {
            cancel_at_deadline(&self.handle).await
        } else {
            CancelAtDeadline::NotSent
        };
        Error::Timeout {
            request_id: Some(self.request_id().to_string()),
            after: self.allowed,
            cancel,
        }
    }
}

/// Cancels a request whose deadline passed (briefly: within
/// [`CANCEL_BUDGET`]), and says what fal answered.
async fn cancel_at_deadline<O>(handle: &RequestHandle<O>) -> CancelAtDeadline {
    let answered = tokio::time::timeout(CANCEL_BUDGET, handle.cancel()).await;
    tracing::debug!(
        ?answered,
        request_id = handle.request_id(),
        "deadline passed"
    );
    match answered {
        Ok(Ok(crate::CancelOutcome::Requested)) => CancelAtDeadline::Cancelled,
        Ok(Ok(crate::CancelOutcome::AlreadyCompleted)) => CancelAtDeadline::AlreadyCompleted,
        Ok(Err(_)) | Err(_) => CancelAtDeadline::Unknown,
    }
}

impl<O: DeserializeOwned> Subscription<O> {
    /// Waits for completion (ignoring the updates not yet read) and returns the output.
    ///
    /// ```no_run
    /// # async fn demo(job: fal_kontext::Subscription<fal_kontext::EditOutput>) -> fal_kontext::Result<()> {
    /// let done = job.output().await?;
    /// println!("{} images", done.output.images.len());
    /// # Ok(()) }
    /// ```
    pub async fn output(self) -> Result<Completed<O>> {
        let span = self.span.clone();
        let output = self.output_unspanned().instrument(span.clone()).await;
        let outcome = output.as_ref().map(|done| done.billable_units);
        crate::telemetry::finished(&span, outcome);
        output
    }

    async fn output_unspanned(mut self) -> Result<Completed<O>> {
        // The updates are dropped here, so their log lines are asked for only
        // when they are traced. fal's clients ask for none by default: JS
        // `logs ? "1" : "0"` (@fal-ai/client 1.10.1, src/queue.js), Python
        // `handle.get()` polls `with_logs=False` (fal-client 1.0.3, client.py).
        self.logs &= crate::telemetry::log_lines_traced();
        while let Some(update) = self.next().await {
            update?;
        }
        let status = self
            .completed
            .take()
            .expect("next returns None only after completion");
        if let Some(error) = self.handle.failure(&status).await {
            return Err(error);
        }
        let handle = &self.handle;
        match handle
            .client
            .until_deadline(self.deadline, || handle.billed_result())
            .await
        {
            Some(Ok((output, billable_units))) => Ok(Completed {
                request_id: self.request_id().to_string(),
                output,
                billable_units,
            }),
            Some(Err(error)) => Err(error),
            // completed: the output is there to fetch
            None => Err(Error::Timeout {
                request_id: Some(self.request_id().into()),
                after: self.allowed,
                cancel: CancelAtDeadline::NotSent,
            }),
        }
    }

    /// Like [`output`](Self::output), calling `on_update` with each update first.
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let job = client.edit("Make it night", "day.png").subscribe().await?;
    /// let done = job.output_with(|update| eprintln!("{update:?}")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn output_with(mut self, mut on_update: impl FnMut(&Update)) -> Result<Completed<O>> {
        while let Some(update) = self.next().await {
            on_update(&update?);
        }
        self.output().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_silent_body_ends_after_its_idle_bound() {
        let body = futures::stream::iter([Ok::<_, std::convert::Infallible>(
            bytes::Bytes::from_static(b": keep-alive\n\n"),
        )])
        .chain(futures::stream::pending());
        let read: Vec<_> = until_idle(body, Duration::from_millis(50)).collect().await;
        assert_eq!(read.len(), 1, "the keep-alive, then the end");
    }
}
