//! How many of a batch's jobs are at fal at once (`--concurrency`).
//!
//! fal runs 2 requests at once for a new account, up to 40 with credit; only
//! running requests count, and queued ones are never refused
//! (<https://docs.fal.ai/documentation/model-apis/concurrency-limits>,
//! <https://docs.fal.ai/faq>). A job's deadline (`--timeout`) runs from its
//! submit, so a job sent while the account's slots are full spends it
//! waiting in fal's queue. With `auto` the batch learns the account's slots
//! from what fal reports while it waits, and keeps at most the jobs fal runs
//! plus [`HEADROOM`] submitted: enough for the next one to start the moment
//! a slot frees, never a long queue.
//!
//! The rule, in one line: **at fal at once = jobs fal reports running +
//! [`HEADROOM`]**, within a ceiling. When every job sent runs, that is 2 more
//! than are sent, so the batch grows; when jobs wait in fal's queue, the
//! running count stops growing and so does the batch. A slot freed by a job
//! that finished counts as running until fal reports the next queued job
//! running (fal's queue is first in, first out): the batch refills at once
//! instead of one status event later. A submit refused with
//! 429 (a gateway, or `fal_max_queue_length`) halves the ceiling and pauses
//! every submit (for the `Retry-After`, else [`DEFAULT_PAUSE`]); each submit
//! fal accepts raises the ceiling by one again (additive increase,
//! multiplicative decrease). A fixed `--concurrency N` is the ceiling's top.

use std::cell::{Cell, RefCell};
use std::str::FromStr;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

/// Jobs kept submitted beyond those fal runs, so that a freed slot finds
/// the next job already in fal's queue (and a new account's 2 slots are
/// filled at the start).
pub const HEADROOM: usize = 2;

/// The most requests fal runs at once for one account.
pub const MOST_RUNNING: usize = 40;

/// How long submits pause after a 429 without `Retry-After`.
pub const DEFAULT_PAUSE: Duration = Duration::from_secs(1);

/// `--concurrency`: `auto`, or a fixed number of jobs at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concurrency {
    /// As many as fal runs, plus [`HEADROOM`].
    Auto,
    /// At most this many.
    Fixed(u16),
}

impl FromStr for Concurrency {
    type Err = std::num::ParseIntError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Concurrency::Auto),
            _ => text.parse().map(Concurrency::Fixed),
        }
    }
}

/// Where a job is, as the batch last heard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Its submit is on the way.
    Submitting,
    /// fal took it and reports it queued (or has not said otherwise yet).
    Queued,
    /// fal reports it running.
    Running,
}

/// The decisions, apart from time and tasks (see the module docs).
#[derive(Debug)]
pub struct Pacer {
    concurrency: Concurrency,
    /// The top of `ceiling`.
    most: usize,
    /// Lowered by 429s, raised by accepted submits.
    ceiling: usize,
    submitting: usize,
    queued: usize,
    running: usize,
    /// Slots freed by jobs that finished running, presumed taken by queued
    /// jobs fal has not reported running yet (at most `queued`).
    handed: usize,
    /// No submit before this (a 429's pause).
    paused_until: Option<Instant>,
}

impl Pacer {
    /// A pacer with nothing in flight.
    pub fn new(concurrency: Concurrency) -> Self {
        let most = match concurrency {
            Concurrency::Auto => MOST_RUNNING + HEADROOM,
            Concurrency::Fixed(n) => usize::from(n).max(1),
        };
        Self {
            concurrency,
            most,
            ceiling: most,
            submitting: 0,
            queued: 0,
            running: 0,
            handed: 0,
            paused_until: None,
        }
    }

    /// The most jobs ever in flight at once.
    pub fn most(&self) -> usize {
        self.most
    }

    /// How many jobs may be in flight now.
    pub fn limit(&self) -> usize {
        let wanted = match self.concurrency {
            Concurrency::Auto => self.running + self.handed + HEADROOM,
            Concurrency::Fixed(n) => usize::from(n),
        };
        wanted.min(self.ceiling).max(1)
    }

    /// Jobs submitting, queued or running.
    pub fn in_flight(&self) -> usize {
        self.submitting + self.queued + self.running
    }

    /// Whether one more job may be submitted at `now`.
    pub fn may_submit(&self, now: Instant) -> bool {
        self.paused_until.is_none_or(|until| now >= until) && self.in_flight() < self.limit()
    }

    /// (running, queued) as fal reported them.
    pub fn counts(&self) -> (usize, usize) {
        (self.running, self.queued)
    }

    fn count(&mut self, stage: Stage) -> &mut usize {
        match stage {
            Stage::Submitting => &mut self.submitting,
            Stage::Queued => &mut self.queued,
            Stage::Running => &mut self.running,
        }
    }

    /// A job moves from `from` (none: it was not in flight) to `to` (none:
    /// it left: finished, failed, or given up on).
    pub fn moved(&mut self, from: Option<Stage>, to: Option<Stage>) {
        if let Some(from) = from {
            let count = self.count(from);
            *count = count.saturating_sub(1);
        }
        if let Some(to) = to {
            *self.count(to) += 1;
        }
        match (from, to) {
            (Some(Stage::Running), None) => self.handed += 1,
            (Some(Stage::Queued), Some(Stage::Running)) => {
                self.handed = self.handed.saturating_sub(1);
            }
            _ => {}
        }
        self.handed = self.handed.min(self.queued);
    }

    /// fal accepted a submit: one more allowed under the ceiling.
    pub fn accepted(&mut self) {
        self.moved(Some(Stage::Submitting), Some(Stage::Queued));
        self.ceiling = (self.ceiling + 1).min(self.most);
    }

    /// fal refused a submit with 429, asking for `retry_after`: the ceiling
    /// halves and submits pause; gives the pause.
    pub fn refused(&mut self, now: Instant, retry_after: Option<Duration>) -> Duration {
        self.ceiling = (self.limit() / 2).max(1);
        self.moved(Some(Stage::Submitting), None);
        let pause = retry_after.unwrap_or(DEFAULT_PAUSE);
        let until = now + pause;
        self.paused_until = Some(self.paused_until.map_or(until, |before| before.max(until)));
        pause
    }

    /// When submits may start again after a 429, if they are paused.
    pub fn paused_until(&self) -> Option<Instant> {
        self.paused_until
    }
}

/// A batch's [`Pacer`], shared by its jobs (all on one task), and the signal
/// that wakes the jobs waiting to submit.
pub struct Pace {
    pacer: RefCell<Pacer>,
    changes: watch::Sender<u64>,
    on_change: Box<dyn Fn(&Pacer)>,
}

impl Pace {
    /// A pace for `concurrency`; `on_change` sees every change (the bar).
    pub fn new(concurrency: Concurrency, on_change: impl Fn(&Pacer) + 'static) -> Self {
        Self {
            pacer: RefCell::new(Pacer::new(concurrency)),
            changes: watch::Sender::new(0),
            on_change: Box::new(on_change),
        }
    }

    /// The most jobs ever in flight at once.
    pub fn most(&self) -> usize {
        self.pacer.borrow().most()
    }

    fn change(&self, f: impl FnOnce(&mut Pacer)) {
        f(&mut self.pacer.borrow_mut());
        (self.on_change)(&self.pacer.borrow());
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Waits until one more job may be submitted; it is then `Submitting`.
    pub async fn admit(&self) -> Place<'_> {
        let mut changes = self.changes.subscribe();
        loop {
            let now = Instant::now();
            let (may, paused_until) = {
                let pacer = self.pacer.borrow();
                (pacer.may_submit(now), pacer.paused_until())
            };
            if may {
                return self.place(Stage::Submitting);
            }
            match paused_until.filter(|until| *until > now) {
                Some(until) => tokio::select! {
                    _ = changes.changed() => {}
                    () = sleep_until(until) => {}
                },
                // the sender lives in `self`: this ends only with a change
                None => {
                    let _ = changes.changed().await;
                }
            }
        }
    }

    /// A job already at fal `stage` (submitted by an earlier run).
    pub fn place(&self, stage: Stage) -> Place<'_> {
        self.change(|pacer| pacer.moved(None, Some(stage)));
        Place {
            pace: self,
            stage: Cell::new(Some(stage)),
        }
    }
}

/// One job's place in the pace: it leaves when dropped.
pub struct Place<'a> {
    pace: &'a Pace,
    stage: Cell<Option<Stage>>,
}

impl Place<'_> {
    /// fal reports the job at `stage`.
    pub fn go(&self, stage: Stage) {
        let from = self.stage.get();
        if from != Some(stage) {
            self.stage.set(Some(stage));
            self.pace.change(|pacer| pacer.moved(from, Some(stage)));
        }
    }

    /// fal accepted its submit.
    pub fn accepted(&self) {
        if self.stage.get() == Some(Stage::Submitting) {
            self.stage.set(Some(Stage::Queued));
            self.pace.change(Pacer::accepted);
        }
    }

    /// fal refused its submit with 429: submits slow down; gives the pause
    /// and the new limit.
    pub fn refused(self, retry_after: Option<Duration>) -> (Duration, usize) {
        self.stage.set(None);
        let mut pause = Duration::ZERO;
        self.pace
            .change(|pacer| pause = pacer.refused(Instant::now(), retry_after));
        (pause, self.pace.pacer.borrow().limit())
    }

    /// The job is no longer at fal (done, failed, or given up on).
    pub fn leave(&self) {
        if let Some(from) = self.stage.take() {
            self.pace.change(|pacer| pacer.moved(Some(from), None));
        }
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pacer with `queued` and `running` jobs at fal.
    fn with(concurrency: Concurrency, queued: usize, running: usize) -> Pacer {
        let mut pacer = Pacer::new(concurrency);
        for _ in 0..queued {
            pacer.moved(None, Some(Stage::Queued));
        }
        for _ in 0..running {
            pacer.moved(None, Some(Stage::Running));
        }
        pacer
    }

    #[test]
    fn auto_starts_with_a_new_accounts_two_slots() {
        let pacer = Pacer::new(Concurrency::Auto);
        assert_eq!(pacer.limit(), 2);
        assert!(pacer.may_submit(Instant::now()));
        assert_eq!(pacer.most(), MOST_RUNNING + HEADROOM);
    }

    #[test]
    fn auto_grows_while_every_job_sent_runs() {
        let now = Instant::now();
        let pacer = with(Concurrency::Auto, 0, 2);
        assert_eq!(pacer.limit(), 4);
        assert!(pacer.may_submit(now));
        let pacer = with(Concurrency::Auto, 0, 10);
        assert_eq!(pacer.limit(), 12);
    }

    #[test]
    fn auto_stops_growing_when_jobs_wait_in_fals_queue() {
        // 4 slots: 4 run, 2 wait; no more until one of them runs.
        let pacer = with(Concurrency::Auto, 2, 4);
        assert_eq!(pacer.limit(), 6);
        assert!(!pacer.may_submit(Instant::now()));
        // A job finished: its slot goes to the next queued job, and one
        // more may go at once.
        let mut pacer = pacer;
        pacer.moved(Some(Stage::Running), None);
        assert_eq!(pacer.limit(), 6);
        assert!(pacer.may_submit(Instant::now()));
        pacer.moved(None, Some(Stage::Submitting));
        pacer.accepted();
        // fal reports it: the presumption is settled, nothing more goes.
        pacer.moved(Some(Stage::Queued), Some(Stage::Running));
        assert_eq!((pacer.counts(), pacer.limit()), ((4, 2), 6));
        assert!(!pacer.may_submit(Instant::now()));
    }

    #[test]
    fn a_freed_slot_is_not_presumed_taken_without_a_queued_job() {
        let mut pacer = with(Concurrency::Auto, 0, 3);
        pacer.moved(Some(Stage::Running), None);
        assert_eq!(pacer.limit(), 4, "2 running + the headroom");
        let mut pacer = with(Concurrency::Auto, 1, 3);
        pacer.moved(Some(Stage::Running), None);
        pacer.moved(Some(Stage::Queued), None);
        assert_eq!(pacer.limit(), 4, "the queued job left: nothing presumed");
    }

    #[test]
    fn auto_never_passes_fals_most_running_plus_the_headroom() {
        let pacer = with(Concurrency::Auto, 0, 60);
        assert_eq!(pacer.limit(), MOST_RUNNING + HEADROOM);
    }

    #[test]
    fn a_fixed_number_is_the_limit_whatever_fal_reports() {
        let pacer = with(Concurrency::Fixed(200), 150, 4);
        assert_eq!(pacer.limit(), 200);
        assert!(pacer.may_submit(Instant::now()));
        assert!(!with(Concurrency::Fixed(3), 3, 0).may_submit(Instant::now()));
    }

    #[test]
    fn a_429_halves_the_limit_and_pauses_then_accepted_submits_raise_it() {
        let now = Instant::now();
        let mut pacer = with(Concurrency::Fixed(8), 0, 7);
        pacer.moved(None, Some(Stage::Submitting));
        let pause = pacer.refused(now, Some(Duration::from_secs(3)));
        assert_eq!(pause, Duration::from_secs(3));
        assert_eq!(pacer.limit(), 4);
        assert_eq!(pacer.paused_until(), Some(now + pause));
        for _ in 0..4 {
            pacer.moved(Some(Stage::Running), None);
        }
        assert!(!pacer.may_submit(now), "paused");
        assert!(pacer.may_submit(now + pause));
        pacer.moved(None, Some(Stage::Submitting));
        pacer.accepted();
        assert_eq!(pacer.limit(), 5);
        assert_eq!(pacer.counts(), (3, 1));
    }

    #[test]
    fn a_429_without_retry_after_pauses_for_the_default_and_never_below_one() {
        let now = Instant::now();
        let mut pacer = Pacer::new(Concurrency::Auto);
        pacer.moved(None, Some(Stage::Submitting));
        assert_eq!(pacer.refused(now, None), DEFAULT_PAUSE);
        pacer.moved(None, Some(Stage::Submitting));
        pacer.refused(now, None);
        assert_eq!(pacer.limit(), 1);
        assert!(pacer.may_submit(now + DEFAULT_PAUSE));
    }

    #[test]
    fn concurrency_reads_auto_or_a_number() {
        assert_eq!("auto".parse(), Ok(Concurrency::Auto));
        assert_eq!("12".parse(), Ok(Concurrency::Fixed(12)));
        assert!("fast".parse::<Concurrency>().is_err());
    }

    #[tokio::test]
    async fn a_waiting_submit_is_admitted_when_a_job_leaves() {
        let pace = Pace::new(Concurrency::Fixed(1), |_| {});
        let first = pace.admit().await;
        first.accepted();
        let second = pace.admit();
        tokio::pin!(second);
        assert!(
            futures::poll!(second.as_mut()).is_pending(),
            "one at a time"
        );
        drop(first);
        let second = second.await;
        assert_eq!(pace.pacer.borrow().in_flight(), 1);
        drop(second);
        assert_eq!(pace.pacer.borrow().in_flight(), 0);
    }
}
