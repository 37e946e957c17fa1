//! The rules of every network call, in one place: which failures are worth
//! another try, how long to wait between tries, and how long one call may
//! take. Every call goes through [`Client::retrying`]: submit, status,
//! stream open, result, cancel, upload initiate, PUT, part and complete, download, the
//! Platform API; the status stream's reading and the JWKS fetch read their
//! bodies with [`limits::read_capped`]. `http.rs`, `wait/` and `output.rs`
//! keep no rule of their own.
//!
//! # The rulebook
//!
//! **Which failures are retried** ([`classify`]):
//! - *Idempotent calls to fal's API* (status, result, cancel, upload
//!   initiate, the Platform API): a connection error, a broken body, the
//!   call's own time limit, 408, 429, 500, 502, 503 and 504. fal's clients
//!   retry transport errors and timeouts, 408, 409, 429 and ingress pages
//!   (fal-client 1.0.3 `client.py`, `_should_retry`, `RETRY_CODES`,
//!   `INGRESS_ERROR_CODES`), and 429, 502, 503, 504 and network errors
//!   (@fal-ai/client 1.10.1 `retry.js`, `DEFAULT_RETRYABLE_STATUS_CODES`);
//!   a 500 of fal's queue passes too, as the queue answers one while it
//!   restarts.
//! - *Calls to other hosts* (CDN download, storage PUT): the same but 500,
//!   which a CDN or storage answers for a fault of its own.
//! - *A submit* creates a paid job, so it is repeated only where fal cannot
//!   have taken it: no connection was made, a 429 (refused before the app),
//!   or an nginx 503 page of fal's ingress without `x-fal-request-id` (every
//!   answer that came through fal carries it: fal-client 1.0.3
//!   `_is_ingress_error`). A 502 or 504 without `x-fal-request-id`, a
//!   connection lost after the request was sent, or no whole answer within
//!   the call's limit, do not prove that: the submit is *ambiguous*
//!   ([`Error::AmbiguousSubmit`]) and never sent again. A 2xx whose headers
//!   carry `x-fal-request-id` names the job even when its body is lost: the
//!   job is followed by that id. `run_sync` follows the same rules.
//! - *Never retried*: the 504 fal answers when the caller's own
//!   `x-fal-request-timeout` ran out (`x-fal-request-timeout-type: user`;
//!   @fal-ai/client 1.10.1 `ApiError.isUserTimeout`, fal-client 1.0.3
//!   `_should_retry_response`), and every other answer (401, 403, 404, 422,
//!   a body that is not JSON, one too large).
//!
//! **How long to wait between tries** ([`RetryPolicy`]): exponential backoff
//! with jitter (100 ms doubling to 10 s, 5 retries by default; fal-client
//! 1.0.3 `_get_retry_delay` uses 0.1 s doubling with jitter), or the answer's
//! `Retry-After`, bounded by the policy's `max_delay` (a `Retry-After` no
//! clock can hold is read as an hour first, [`crate::durations`]).
//!
//! **How long one call may take** ([`limits::Limits`]):
//! - *time to first byte*: the answer's head within the call timeout
//!   (default 60 s, [`ClientBuilder::call_timeout`](crate::ClientBuilder::call_timeout));
//!   for an upload (a `PUT`, a part), within the call timeout of the end of
//!   its body ([`limits::BodySent`]), as a slow link may take minutes to
//!   send it and no answer can come before;
//! - *idle time between body bytes*: at most the body idle timeout (default
//!   30 s, [`ClientBuilder::body_idle_timeout`](crate::ClientBuilder::body_idle_timeout)),
//!   an error answer's body included, so a body that never comes or
//!   trickles ends (kept shorter than the call timeout, so that an error
//!   page whose body never comes is still read as the page it is, and a
//!   submit's ingress 503 retried, before the call's total runs out);
//! - *a total per call*: the call timeout for calls to fal's API, the
//!   transfer timeout (default 10 min,
//!   [`ClientBuilder::transfer_timeout`](crate::ClientBuilder::transfer_timeout))
//!   for a download or an upload PUT, which move megabytes;
//! - all inside the caller's deadline: a wait checks its deadline around
//!   each call, and `run_sync`'s one call is bounded by it.
//!
//! fal's Python client bounds its queue calls the same way (fal-client 1.0.3
//! `QUEUE_POLL_TIMEOUT`: "the client's default timeout … can fail to fire
//! when the hang is at the raw SSL socket level").
//!
//! **Waiting** ([`crate::Subscription`]): the status stream is a hint and
//! polling is the truth. The stream's open is a call like any other (its
//! head within the call timeout); while it is open the status is still
//! polled every [`ClientBuilder::status_poll_interval`](crate::ClientBuilder::status_poll_interval)
//! (default 30 s), so a stream that stays silent or only keeps alive cannot
//! hold a finished job; a stream silent for the stream idle timeout (45 s,
//! three of fal's 15 s keep-alives: @fal-ai/client 1.10.1 `streaming.js`,
//! `EVENT_STREAM_TIMEOUT`) gives way to polling. A failed poll or result
//! call that [`survivable`] says may succeed later is tried again until the
//! deadline.

mod answer;
mod classify;
pub(crate) mod limits;
mod policy;

use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;

pub(crate) use answer::{ErrorAnswer, header_text};
pub(crate) use classify::{Call, Failed, Verdict};
pub use policy::RetryPolicy;
pub(crate) use policy::retry_after;

use crate::Client;
use crate::error::{Error, ErrorContext, Result};
use crate::telemetry;
use limits::Limits;

/// Whether an error of a status or result call may pass while waiting: the
/// call may succeed later (the same failures [`classify`] retries for an
/// idempotent call).
pub(crate) fn survivable(error: &Error) -> bool {
    match error {
        Error::Transport { .. } | Error::RateLimited { .. } => true,
        // a call's own time limit (a wait's deadline is checked before)
        Error::Timeout { .. } => true,
        Error::Server { status, .. } => matches!(status, 500 | 502 | 503 | 504),
        Error::Http { status, .. } => *status == 408,
        _ => false,
    }
}

/// What a 429 asked for in `Retry-After` (bounded when read).
pub(crate) fn retry_after_of(error: &Error) -> Option<Duration> {
    match error {
        Error::RateLimited { retry_after, .. } => *retry_after,
        _ => None,
    }
}

/// The pauses between polls of a wait: the first right after the stream is
/// lost, then doubling from `MIN_POLL` up to `MAX_POLL` (fal's JS client
/// polls every 500 ms, @fal-ai/client 1.10.1 `queue.js`,
/// `DEFAULT_POLL_INTERVAL`; fal-client 1.0.3 every 100 ms).
pub(crate) const FIRST_POLL: Duration = Duration::ZERO;
/// See [`FIRST_POLL`].
pub(crate) const MIN_POLL: Duration = Duration::from_millis(50);
/// See [`FIRST_POLL`].
pub(crate) const MAX_POLL: Duration = Duration::from_secs(2);

/// How long a cancel sent at the deadline may take, and how long a submit
/// whose answer is in flight at the deadline may still take to name its
/// request (so that it is cancelled, not lost).
pub(crate) const CANCEL_BUDGET: Duration = Duration::from_secs(5);

impl Client {
    /// The time limits of a call of this kind.
    pub(crate) fn limits(&self, transfer: bool) -> Limits {
        let settings = self.settings();
        Limits {
            first_byte: settings.call_timeout,
            idle: settings.body_idle_timeout,
            total: if transfer {
                settings.transfer_timeout
            } else {
                settings.call_timeout
            },
        }
    }

    /// The one retry loop: makes attempts of one call until one succeeds or
    /// the rules of its kind say stop; each attempt within `total`, in a span
    /// of its own named `operation` ([`crate::telemetry::attempt`]).
    pub(crate) async fn retrying<T, F, A>(
        &self,
        call: Call,
        operation: &'static str,
        total: Duration,
        mut attempt: F,
    ) -> Result<T>
    where
        F: FnMut() -> A,
        A: Future<Output = std::result::Result<T, Failed>>,
    {
        let settings = self.settings();
        let mut delays = settings.retry.delays();
        let mut number = 0;
        loop {
            number += 1;
            let span = telemetry::attempt(operation, number);
            // Boxed: an attempt holds a whole HTTP exchange (kilobytes), which
            // every future around it would otherwise hold and move too.
            let tried = tokio::time::timeout(total, Box::pin(attempt())).instrument(span.clone());
            let failed = match tried.await {
                Ok(Ok(value)) => {
                    span.record("otel.status_code", "ok");
                    return Ok(value);
                }
                Ok(Err(failed)) => failed,
                Err(_) => Failed::TimedOut(total),
            };
            attempt_failed(&span, &failed);
            match classify::verdict(call, &failed) {
                Verdict::Retry => {}
                Verdict::Stop => return Err(failed.into_error()),
                Verdict::Ambiguous(reason) => {
                    let Call::Submit { endpoint } = call else {
                        unreachable!("only a submit is ambiguous")
                    };
                    let context = match failed {
                        Failed::Answer(answer) => answer.context(),
                        _ => ErrorContext::default(),
                    };
                    return Err(Error::AmbiguousSubmit {
                        endpoint: endpoint.to_string(),
                        reason,
                        submitted: None,
                        context,
                    });
                }
            }
            let Some(delay) = delays.next() else {
                return Err(failed.into_error());
            };
            let pause = match &failed {
                Failed::Answer(answer) => retry_after(&answer.headers)
                    .map_or(delay, |asked| asked.min(settings.retry.max_delay)),
                _ => delay,
            };
            retrying(&span, &failed, pause);
            drop(span);
            tokio::time::sleep(pause).await;
        }
    }
}

/// Records on `span` (an attempt's, [`telemetry::attempt`]) how it failed.
fn attempt_failed(span: &tracing::Span, failed: &Failed) {
    span.record("otel.status_code", "error");
    match failed {
        Failed::Answer(answer) => {
            let status = answer.status.as_u16();
            span.record("http.response.status_code", i64::from(status));
            span.record("error.type", status.to_string().as_str());
        }
        Failed::Transport(error) if error.is_connect() => {
            span.record("error.type", "connect");
        }
        Failed::Transport(_) => {
            span.record("error.type", "transport");
        }
        Failed::TimedOut(_) => {
            span.record("error.type", "timeout");
        }
        Failed::Final(error) => {
            span.record("error.type", telemetry::error_type(error));
        }
    }
}

/// The event of an attempt that is tried again, after `delay`.
fn retrying(span: &tracing::Span, failed: &Failed, delay: std::time::Duration) {
    let reason = match failed {
        Failed::Answer(answer) => format!("status {}", answer.status.as_u16()),
        Failed::Transport(error) if error.is_connect() => "no connection".into(),
        Failed::Transport(_) => "the connection broke".into(),
        Failed::TimedOut(after) => format!("no whole answer within {after:?}"),
        Failed::Final(error) => telemetry::error_type(error).into(),
    };
    let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    tracing::info!(parent: span, retry.reason = %reason, retry.delay_ms = delay_ms, "retrying");
}

impl Client {
    /// Makes `call` (itself retried by [`retrying`](Self::retrying)) again
    /// while its error is [`survivable`], until it succeeds, fails for good,
    /// or `deadline` passes (`None`); between tries, what a 429 asked for,
    /// else the policy's backoff, at most its `max_delay`.
    pub(crate) async fn until_deadline<T, F, A>(
        &self,
        deadline: Instant,
        mut call: F,
    ) -> Option<Result<T>>
    where
        F: FnMut() -> A,
        A: Future<Output = Result<T>>,
    {
        let retry = self.settings().retry;
        let mut delays = retry.delays();
        loop {
            match tokio::time::timeout_at(deadline, call()).await {
                Err(_) => return None,
                Ok(Err(error)) if survivable(&error) => {
                    tracing::debug!(%error, "a call failed while waiting, trying again");
                    let pause = retry_after_of(&error)
                        .or_else(|| delays.next())
                        .unwrap_or(MAX_POLL)
                        .min(retry.max_delay);
                    tokio::time::sleep_until(wake_at(pause, deadline)).await;
                }
                Ok(done) => return Some(done),
            }
        }
    }
}

/// The instant `after` from now, no later than `deadline`.
pub(crate) fn wake_at(after: Duration, deadline: Instant) -> Instant {
    crate::durations::deadline_after(after).min(deadline)
}
