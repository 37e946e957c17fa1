//! Waiting for a request: the SSE status stream first, polling with backoff
//! when the stream fails or is cut, never past the deadline, and a cancel when
//! the wait is abandoned.

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::Eventsource;
use fal_kontext_api::types::{AnyStatus, LogEntry, QueueStatus, Status};
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use tokio::time::{Instant, timeout_at};

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

/// A finished request: its id and its output.
#[derive(Clone, Debug, PartialEq)]
pub struct Completed<O> {
    /// The request id fal gave.
    pub request_id: String,
    /// The output.
    pub output: O,
}

/// The first pause after the stream is lost, and the longest between polls.
const FIRST_POLL: Duration = Duration::ZERO;
const MIN_POLL: Duration = Duration::from_millis(50);
const MAX_POLL: Duration = Duration::from_secs(2);
/// How long a cancel sent on the way out may take.
const CANCEL_BUDGET: Duration = Duration::from_secs(5);

type Events = Pin<Box<dyn Stream<Item = QueueStatus> + Send>>;

enum Phase {
    Connect,
    Streaming(Events),
    Polling { delay: Duration },
}

/// A submitted request being waited for: a stream of [`Update`]s through
/// [`next`](Self::next), then the output through [`output`](Self::output).
///
/// One made by [`Request::subscribe`] or [`RequestHandle::wait`] owns its
/// request: past its deadline, or dropped before completion, it cancels it
/// ([`detach`](Self::detach) lets go without cancelling, and
/// [`cancel`](Self::cancel) cancels and reports). One made by
/// [`RequestHandle::watch`] only watches, and never cancels.
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
    /// True once nothing is left to cancel: completed, cancelled already,
    /// detached, or never owned (a watch).
    settled: bool,
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
        let handle = timeout_at(deadline, self.submit())
            .await
            .map_err(|_| Error::Timeout {
                request_id: None,
                after: allowed,
            })??;
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
        subscription.settled = true;
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
            settled: false,
        }
    }

    /// Opens the SSE status stream (`{status_url}/stream`, a generated
    /// operation); each event's data is a status.
    async fn open_stream(&self) -> Result<Events> {
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
            Ok(answer) => Ok(Box::pin(statuses(answer.into_inner_stream()))),
            Err(error) => Err(self.concerning(
                Failed::from_api(error, "the status stream")
                    .await
                    .into_error(),
            )),
        }
    }
}

/// The statuses in a status stream's body: SSE events, each one's data a
/// status. A broken body ends them; events that are not a status (comments,
/// keep-alives) are skipped.
pub(crate) fn statuses<B, E>(body: B) -> impl Stream<Item = QueueStatus> + Send
where
    B: Stream<Item = std::result::Result<bytes::Bytes, E>> + Send,
    E: Send,
{
    body.eventsource()
        .take_while(|event| std::future::ready(event.is_ok()))
        .filter_map(|event| {
            std::future::ready(
                event
                    .ok()
                    .and_then(|e| serde_json::from_str::<QueueStatus>(&e.data).ok()),
            )
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
        if self.completed.is_some() {
            return None;
        }
        loop {
            let status = match &mut self.phase {
                _ if Instant::now() >= self.deadline => return Some(Err(self.give_up().await)),
                Phase::Connect => {
                    self.phase = match timeout_at(self.deadline, self.handle.open_stream()).await {
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
                    let wake = (Instant::now() + *delay).min(self.deadline);
                    *delay = (*delay * 2).clamp(MIN_POLL, MAX_POLL);
                    tokio::time::sleep_until(wake).await;
                    match timeout_at(self.deadline, self.handle.status(true)).await {
                        Err(_) => continue,
                        Ok(Ok(status)) => status,
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
                self.settled = true;
                self.completed = Some(status);
                Some(Update::Completed { logs: new_logs })
            }
        }
    }

    /// Cancels the request now and reports fal's answer; nothing is cancelled
    /// again on drop.
    ///
    /// ```no_run
    /// # async fn demo(job: fal_kontext::Subscription<fal_kontext::EditOutput>) -> fal_kontext::Result<()> {
    /// let outcome = job.cancel().await?;
    /// println!("{outcome:?}");
    /// # Ok(()) }
    /// ```
    pub async fn cancel(mut self) -> Result<crate::CancelOutcome> {
        self.settled = true;
        self.handle.cancel().await
    }

    /// Stops following without cancelling, and returns the handle to come
    /// back to the request later.
    ///
    /// ```no_run
    /// # async fn demo(job: fal_kontext::Subscription<fal_kontext::EditOutput>) {
    /// let handle = job.detach();
    /// println!("collect {} later", handle.request_id());
    /// # }
    /// ```
    pub fn detach(mut self) -> RequestHandle<O> {
        self.settled = true;
        self.handle.clone()
    }

    /// Cancels the request (best effort, briefly) and says why.
    async fn give_up(&mut self) -> Error {
        if !self.settled {
            self.settled = true;
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
        }
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
        let output = match timeout_at(self.deadline, self.handle.result()).await {
            Ok(output) => output?,
            Err(_) => {
                return Err(Error::Timeout {
                    request_id: Some(self.request_id().into()),
                    after: self.allowed,
                });
            }
        };
        Ok(Completed {
            request_id: self.request_id().to_string(),
            output,
        })
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

impl<O> Drop for Subscription<O> {
    /// A wait abandoned before completion cancels the request, so nobody pays
    /// for a result that nobody will read.
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let handle = self.handle.retyped::<()>();
            runtime.spawn(async move {
                let outcome = tokio::time::timeout(CANCEL_BUDGET, handle.cancel()).await;
                tracing::debug!(
                    ?outcome,
                    request_id = handle.request_id(),
                    "cancelled on drop"
                );
            });
        }
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
}
