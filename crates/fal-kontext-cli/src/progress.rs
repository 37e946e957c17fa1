//! Progress on stderr: a spinner for one request, a bar for a batch. Both are
//! hidden when stderr is not a terminal (indicatif's stderr target checks)
//! or with `--quiet`, so that scripts and pipes see only the results.

use std::cell::RefCell;
use std::rc::Rc;
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

/// A batch: jobs finished out of all, what fal reports of the ones at fal
/// (running, queued), done and failed in this run, and the rate.
#[derive(Clone)]
pub struct BatchBar {
    bar: ProgressBar,
    tally: Rc<RefCell<Tally>>,
}

/// What the bar's message says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Jobs fal reports running.
    pub running: usize,
    /// Jobs fal took and reports queued (or has not said otherwise yet).
    pub queued: usize,
    /// Jobs saved in this run.
    pub done: usize,
    /// Jobs failed in this run.
    pub failed: usize,
}

impl Tally {
    /// The message, with the rate of jobs finished in this run over
    /// `elapsed`.
    pub fn message(&self, elapsed: Duration) -> String {
        let finished = self.done + self.failed;
        let minutes = elapsed.as_secs_f64() / 60.0;
        let rate = if finished > 0 && minutes > 0.0 {
            format!(", {:.1} jobs/min", finished as f64 / minutes)
        } else {
            String::new()
        };
        format!(
            "{} running, {} queued at fal, {} done, {} failed{rate}",
            self.running, self.queued, self.done, self.failed
        )
    }
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
        Self {
            bar,
            tally: Rc::default(),
        }
    }

    fn show(&self) {
        let message = self.tally.borrow().message(self.bar.elapsed());
        self.bar.set_message(message);
    }

    /// One more job finished, done or failed.
    pub fn finished(&self, failed: bool) {
        {
            let mut tally = self.tally.borrow_mut();
            match failed {
                true => tally.failed += 1,
                false => tally.done += 1,
            }
        }
        self.bar.inc(1);
        self.show();
    }

    /// How many jobs fal reports running and queued now.
    pub fn at_fal(&self, running: usize, queued: usize) {
        {
            let mut tally = self.tally.borrow_mut();
            tally.running = running;
            tally.queued = queued;
        }
        self.show();
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

    #[test]
    fn the_batch_message_counts_every_state_and_the_rate() {
        let mut tally = Tally {
            running: 4,
            queued: 2,
            done: 0,
            failed: 0,
        };
        assert_eq!(
            tally.message(Duration::from_secs(5)),
            "4 running, 2 queued at fal, 0 done, 0 failed"
        );
        tally.done = 29;
        tally.failed = 1;
        assert_eq!(
            tally.message(Duration::from_secs(30)),
            "4 running, 2 queued at fal, 29 done, 1 failed, 60.0 jobs/min"
        );
    }
}
