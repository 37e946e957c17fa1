//! Progress on stderr: a spinner for one request, a bar for a batch. Both are
//! hidden when stderr is not a terminal (indicatif's stderr target checks)
//! or with `--quiet`, so that scripts and pipes see only the results.

use std::time::Duration;

use fal_kontext::{LogEntry, Update};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::server_text::printable;

const TICK: Duration = Duration::from_millis(120);

fn bar(quiet: bool, length: Option<u64>, template: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(length, ProgressDrawTarget::stderr());
    bar.set_style(ProgressStyle::with_template(template).expect("the templates are valid"));
    bar.enable_steady_tick(TICK);
    bar
}

/// What one request is doing: queue position, elapsed time, and the model's
/// log lines above it.
pub struct Spinner {
    bar: ProgressBar,
}

impl Spinner {
    /// A spinner showing `message`.
    pub fn new(quiet: bool, message: &str) -> Self {
        let bar = bar(quiet, None, "{spinner} {msg} [{elapsed}]");
        bar.set_message(message.to_string());
        Self { bar }
    }

    /// Changes the message.
    pub fn set(&self, message: impl Into<String>) {
        self.bar.set_message(message.into());
    }

    /// Shows an update from the SDK.
    pub fn show(&self, update: &Update) {
        match update {
            Update::Queued { position } => self.set(queued(*position)),
            Update::InProgress { logs } => {
                self.set("running");
                self.logs(logs);
            }
            Update::Completed { logs } => {
                self.logs(logs);
                self.set("completed");
            }
        }
    }

    /// Prints the model's log lines above the spinner.
    pub fn logs(&self, logs: &[LogEntry]) {
        for entry in logs {
            self.bar.println(format!("  {}", printable(&entry.message)));
        }
    }

    /// A notice that must be seen even without a terminal (an interrupt).
    pub fn notice(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Removes the spinner.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The words for a queue position (0 is next).
pub fn queued(position: Option<i64>) -> String {
    match position {
        Some(0) => "in queue, next".into(),
        Some(ahead) => format!("in queue, {ahead} ahead"),
        None => "in queue".into(),
    }
}

/// A batch: jobs finished out of all, and how many run now.
pub struct BatchBar {
    bar: ProgressBar,
}

impl BatchBar {
    /// A bar over `total` jobs, `finished` of which are done already.
    pub fn new(quiet: bool, total: u64, finished: u64) -> Self {
        let bar = bar(
            quiet,
            Some(total),
            "{spinner} [{bar:30}] {pos}/{len} jobs [{elapsed}] {msg}",
        );
        bar.set_position(finished);
        Self { bar }
    }

    /// One more job finished (done or failed).
    pub fn finished(&self) {
        self.bar.inc(1);
    }

    /// How many jobs run now.
    pub fn running(&self, n: usize) {
        self.bar.set_message(format!("{n} running"));
    }

    /// A line above the bar, on a terminal only.
    pub fn println(&self, line: String) {
        self.bar.println(line);
    }

    /// A notice that must be seen even without a terminal (an interrupt).
    pub fn notice(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_positions_read_well() {
        assert_eq!(queued(Some(0)), "in queue, next");
        assert_eq!(queued(Some(3)), "in queue, 3 ahead");
        assert_eq!(queued(None), "in queue");
    }
}
