//! Waiting for a request: the SSE status stream first, polling with backoff
//! when the stream fails, is cut or goes silent; what fal survives, the wait
//! survives, until the deadline, which alone (with an explicit cancel)
//! cancels the request. The rules are stated once, on [`Subscription`].

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::Eventsource;
use fal_kontext_api::types::{AnyStatus, LogEntry, QueueStatus, Status};
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use tokio::time::{Instant, timeout_at};

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::http::Failed;
use crate::operations::{Accept, per_app};
use crate::queue::RequestHandle;
use crate::requests::{Kind, Request};

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

/// The first pause after the stream is lost, and the longest between polls.
const FIRST_POLL: Duration = Duration::ZERO;
const MIN_POLL: Duration = Duration::from_millis(50);
const MAX_POLL: Duration = Duration::from_secs(2);
/// How long a cancel sent at the deadline may take, and how long a submit
/// whose answer is in flight at the deadline may still take to name its
/// request (so that it is cancelled, not lost).
const CANCEL_BUDGET: Duration = Duration::from_secs(5);
/// The longest event of a status stream the SDK reads, 1 MiB (fal's events
/// are a status of a few KiB, with its log lines); a longer one ends the
/// stream, and polling takes over.
pub(crate) const MAX_EVENT_BYTES: usize = 1024 * 1024;

type Events = Pin<Box<dyn Stream<Item = QueueStatus> + Send>>;

enum Phase {
    Connect,
    Streaming(Events),
    Polling { delay: Duration },
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
///   ingress is waited out. A status stream that fails, ends early or goes
///   silent for longer than the client's `stream_idle_timeout` (default
///   45 s, three of fal's 15 s keep-alive intervals) gives way to polling.
/// - **Only the deadline and [`cancel`](Self::cancel) cancel the request.**
///   One made by [`Request::subscribe`] or [`RequestHandle::wait`] cancels
///   its request when the deadline passes (the error is [`Error::Timeout`]).
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
    completed: Option<QueueStatus>,
    /// Whether the deadline cancels the request: not once it completed, was
    /// cancelled or detached, nor for a watch.
    cancels_at_deadline: bool,
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
        let mut submit = std::pin::pin!(self.submit());
        let handle = match timeout_at(deadline, &mut submit).await {
            Ok(submitted) => submitted?,
            Err(_) => {
                // The deadline passed with the submit's answer in flight: fal
                // may have created the job. Its answer gets a short while
                // more, to name the request and cancel it, not lose it.
                let late = tokio::time::timeout(CANCEL_BUDGET, submit).await;
                let cancelled = matches!(late, Ok(Ok(_)));
                let request_id = match late {
                    Ok(Ok(handle)) => {
                        let cancelled = tokio::time::timeout(CANCEL_BUDGET, handle.cancel()).await;
                        tracing::debug!(
                            ?cancelled,
                            request_id = handle.request_id(),
                            "deadline passed during the submit"
                        );
                        Some(handle.request_id().to_string())
                    }
                    // an answer that began names its request: not lost
                    Ok(Err(error)) => error.request_id().map(str::to_string),
                    Err(_) => None,
                };
                return Err(Error::Timeout {
                    cancelled,
                    request_id,
                    after: allowed,
                });
            }
        };
        Ok(handle.wait_until(deadline, allowed))
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
        self.wait_until(crate::durations::deadline_after(timeout), timeout)
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

    fn wait_until(self, deadline: Instant, allowed: Duration) -> Subscription<O> {
        Subscription {
            handle: self,
            deadline,
            allowed,
            phase: Phase::Connect,
            last: None,
            logs_seen: 0,
            completed: None,
            cancels_at_deadline: true,
        }
    }

    /// Opens the SSE status stream (`{status_url}/stream`, a generated
    /// operation); each event's data is a status. The stream ends when its
    /// body breaks, ends, or sends no byte (keep-alive comments count) for
    /// `idle`.
    async fn open_stream(&self, idle: Duration) -> Result<Events> {
        let returned = self.status_url().map(|url| format!("{url}/stream"));
        let (api, app) = self.api(returned.as_ref(), Accept::EventStream)?;
        let id = self.request_id();
        let sent = per_app!(
            app,
            api.status_stream_flux_pro(),
            api.status_stream_flux_kontext(),
            |op| op.request_id(id).logs(1).send().await
        );
        match sent {
            Ok(answer) => Ok(Box::pin(statuses(until_idle(
                answer.into_inner_stream(),
                idle,
            )))),
            Err(error) => Err(self.concerning(
                Failed::from_api(error, "the status stream")
                    .await
                    .into_error(),
            )),
        }
    }
}

/// The chunks of a body until it sends nothing for `idle`: a stream that is
/// silent for longer than a few of fal's 15 s keep-alive intervals is dead
/// (/work/shared/api/queue-urls.md), whatever the connection says.
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

/// The statuses in a status stream's body: SSE events, each one's data a
/// status. A broken body, or an event longer than [`MAX_EVENT_BYTES`], ends
/// them; events that are not a status (comments, keep-alives) are skipped.
pub(crate) fn statuses<B, E>(body: B) -> impl Stream<Item = QueueStatus> + Send
where
    B: Stream<Item = std::result::Result<Bytes, E>> + Send,
    E: Send,
{
    let mut event = EventLength::default();
    body.take_while(move |chunk| {
        let within = chunk.as_ref().is_ok_and(|bytes| event.add(bytes));
        if chunk.is_ok() && !within {
            tracing::warn!(
                "{}",
                Error::TooLarge {
                    what: "an event of the status stream",
                    limit: MAX_EVENT_BYTES as u64,
                    context: Default::default(),
                }
            );
        }
        std::future::ready(within)
    })
    .eventsource()
    .take_while(|event| std::future::ready(event.is_ok()))
    .filter_map(|event| {
        std::future::ready(
            event
                .ok()
                .and_then(|e| serde_json::from_str::<QueueStatus>(&e.data).ok()),
        )
    })
}

/// The length of the event being read: the bytes since the last blank line.
#[derive(Default)]
struct EventLength {
    since_boundary: usize,
    after_newline: bool,
}

impl EventLength {
    /// Counts `bytes`; false once the event is longer than [`MAX_EVENT_BYTES`].
    fn add(&mut self, bytes: &[u8]) -> bool {
        for &byte in bytes {
            match byte {
                b'\n' if self.after_newline => self.since_boundary = 0,
                b'\n' => self.after_newline = true,
                b'\r' => {}
                _ => {
                    self.after_newline = false;
                    self.since_boundary += 1;
                }
            }
        }
        self.since_boundary <= MAX_EVENT_BYTES
    }
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
        if self.completed.is_some() {
            return None;
        }
        loop {
            let status = match &mut self.phase {
                _ if Instant::now() >= self.deadline => return Some(Err(self.give_up().await)),
                Phase::Connect => {
                    let idle = self.handle.client.settings().stream_idle_timeout;
                    self.phase =
                        match timeout_at(self.deadline, self.handle.open_stream(idle)).await {
                            Ok(Ok(events)) => Phase::Streaming(events),
                            Ok(Err(error @ Error::Authentication { .. })) => {
                                return Some(Err(error));
                            }
                            Ok(Err(error)) => {
                                tracing::debug!(%error, "status stream unavailable, polling");
                                Phase::Polling { delay: FIRST_POLL }
                            }
                            Err(_) => continue,
                        };
                    continue;
                }
                Phase::Streaming(events) => match timeout_at(self.deadline, events.next()).await {
                    Err(_) => continue,
                    Ok(Some(status)) => status,
                    Ok(None) => {
                        tracing::debug!("status stream ended before completion, polling");
                        self.phase = Phase::Polling { delay: FIRST_POLL };
                        continue;
                    }
                },
                Phase::Polling { delay } => {
                    let wake = crate::durations::deadline_after(*delay).min(self.deadline);
                    *delay = (*delay * 2).clamp(MIN_POLL, MAX_POLL);
                    tokio::time::sleep_until(wake).await;
                    match timeout_at(self.deadline, self.handle.status(true)).await {
                        Err(_) => continue,
                        Ok(Ok(status)) => status,
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
            let cumulative = matches!(self.phase, Phase::Polling { .. });
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
        let AnyStatus::Known(known) = status.status else {
            // A status fal added after this client was made: not finished.
            return None;
        };
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
        self.handle.cancel().await
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
        let cancelled = std::mem::take(&mut self.cancels_at_deadline);
        if cancelled {
            let cancelled = tokio::time::timeout(CANCEL_BUDGET, self.handle.cancel()).await;
            tracing::debug!(
                ?cancelled,
                request_id = self.request_id(),
                "deadline passed"
            );
        }
        Error::Timeout {
            request_id: Some(self.request_id().to_string()),
            after: self.allowed,
            cancelled,
        }
    }
}

/// Whether an error of a status or result call may pass while waiting: the
/// call may succeed later. fal's clients retry the same and no more
/// (fal-client 1.0.3 `_should_retry`: transport errors, timeouts, 408, 409,
/// 429 and ingress errors, never a 504 the caller's `x-fal-request-timeout`
/// caused; @fal-ai/client 1.10.1 `retry.js`: 429, 502, 503, 504 and network
/// errors, never the user timeout); a 500 is waited out too, as fal's queue
/// answers one while it restarts.
pub(crate) fn survivable(error: &Error) -> bool {
    match error {
        Error::Transport { .. } | Error::RateLimited { .. } => true,
        // a call's own timeout (a wait's deadline is checked before)
        Error::Timeout { .. } => true,
        Error::Server { status, .. } => matches!(status, 500 | 502 | 503 | 504),
        Error::Http { status, .. } => *status == 408,
        _ => false,
    }
}

/// What a 429 asked for in `Retry-After` (bounded when read).
fn retry_after_of(error: &Error) -> Option<Duration> {
    match error {
        Error::RateLimited { retry_after, .. } => *retry_after,
        _ => None,
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
    pub async fn output(mut self) -> Result<Completed<O>> {
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
        let retry = self.handle.client.settings().retry;
        let mut delays = retry.delays();
        loop {
            match timeout_at(self.deadline, self.handle.billed_result()).await {
                Ok(Ok((output, billable_units))) => {
                    return Ok(Completed {
                        request_id: self.request_id().to_string(),
                        output,
                        billable_units,
                    });
                }
                Ok(Err(error)) if survivable(&error) => {
                    tracing::debug!(%error, "result call failed, trying again");
                    let pause = retry_after_of(&error)
                        .or_else(|| delays.next())
                        .unwrap_or(MAX_POLL)
                        .min(retry.max_delay);
                    let wake = crate::durations::deadline_after(pause).min(self.deadline);
                    tokio::time::sleep_until(wake).await;
                }
                Ok(Err(error)) => return Err(error),
                Err(_) => {
                    // completed: the output is there to fetch
                    return Err(Error::Timeout {
                        request_id: Some(self.request_id().into()),
                        after: self.allowed,
                        cancelled: false,
                    });
                }
            }
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

    fn read(pieces: &[&[u8]]) -> Vec<QueueStatus> {
        let body = futures::stream::iter(
            pieces
                .iter()
                .map(|p| Ok::<_, std::convert::Infallible>(bytes::Bytes::copy_from_slice(p))),
        );
        futures::executor::block_on(statuses(body).collect())
    }

    #[test]
    fn statuses_do_not_depend_on_where_the_network_split_the_body() {
        let body = "data: {\"status\":\"IN_PROGRESS\",\"request_id\":\"r\",\"logs\":[{\"message\":\"étape 1\",\"level\":\"INFO\",\"source\":\"user\",\"timestamp\":\"t\"}]}\r\n\r\n: keep-alive\n\ndata: {\"status\":\"COMPLETED\",\"request_id\":\"r\"}\n\n";
        let whole = read(&[body.as_bytes()]);
        assert_eq!(whole.len(), 2, "{whole:?}");
        // split inside the two bytes of "é", and between "\r" and "\n"
        let at_e = body.find('é').unwrap() + 1;
        let at_crlf = body.find("\r\n").unwrap() + 1;
        let bytes = body.as_bytes();
        let split = read(&[&bytes[..at_e], &bytes[at_e..at_crlf], &bytes[at_crlf..]]);
        assert_eq!(split, whole);
    }

    #[test]
    fn an_event_longer_than_the_limit_ends_the_stream() {
        let first = b"data: {\"status\":\"IN_QUEUE\"}\n\n".to_vec();
        let huge = [b"data: ".as_slice(), &vec![b'x'; MAX_EVENT_BYTES]].concat();
        let after = b"\n\ndata: {\"status\":\"COMPLETED\"}\n\n".to_vec();
        let statuses = read(&[&first, &huge, &after]);
        assert_eq!(statuses.len(), 1, "{statuses:?}");
        // as long as the limit, split anywhere, is read
        let fits = [b"data: ".as_slice(), &vec![b' '; MAX_EVENT_BYTES - 40]].concat();
        let statuses = read(&[&first, &fits, b"\n\n", &after[2..]]);
        assert_eq!(statuses.len(), 2, "{statuses:?}");
    }

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
