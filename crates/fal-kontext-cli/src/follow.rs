//! Following a request by id without owning it: `status --watch` and
//! `result` poll its status until it completes and never cancel it, so Ctrl-C
//! or `--timeout` stop only the watching. (The SDK's `Subscription` cancels
//! the request when it is dropped early, which suits the command that
//! submitted it, not a bystander.)

use std::time::Duration;

use fal_kontext::{Error, LogEntry, QueueStatus, RequestHandle, Status};
use tokio::time::Instant;

/// The pause between two polls.
const POLL: Duration = Duration::from_millis(500);

/// How a status reads on one line: `IN_QUEUE (2 ahead)`, `COMPLETED, failed: …`.
pub fn describe(status: &QueueStatus) -> String {
    let mut line = status.status.to_string();
    match (status.status, status.queue_position, &status.error) {
        (Status::InQueue, Some(0), _) => line.push_str(" (next)"),
        (Status::InQueue, Some(ahead), _) => line.push_str(&format!(" ({ahead} ahead)")),
        (Status::Completed, _, Some(error)) => line.push_str(&format!(", failed: {error}")),
        _ => {}
    }
    line
}

/// Polls until the request completes, calling `each` with every status that
/// differs from the one before (`changed`) or brings new log lines (when
/// `logs`), and those lines. `None` when `deadline` passes first.
pub async fn until_completed<O>(
    handle: &RequestHandle<O>,
    logs: bool,
    deadline: Option<Instant>,
    mut each: impl FnMut(&QueueStatus, bool, &[LogEntry]),
) -> Result<Option<QueueStatus>, Error> {
    let mut logs_seen = 0;
    let mut last = None;
    loop {
        let status = handle.status(logs).await?;
        // A polled status holds every log line so far.
        let all_logs = status.logs.as_deref().unwrap_or_default();
        let new_logs = all_logs.get(logs_seen..).unwrap_or_default();
        let now = (status.status, status.queue_position);
        let changed = last != Some(now);
        if changed || !new_logs.is_empty() {
            each(&status, changed, new_logs);
        }
        last = Some(now);
        logs_seen = logs_seen.max(all_logs.len());
        if status.status == Status::Completed {
            return Ok(Some(status));
        }
        let wake = Instant::now() + POLL;
        if deadline.is_some_and(|deadline| wake > deadline) {
            return Ok(None);
        }
        tokio::time::sleep_until(wake).await;
    }
}
