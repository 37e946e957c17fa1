//! How long to wait before trying a call again.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// How calls that may be repeated are retried: exponential backoff with
/// jitter, or what a `Retry-After` header asks for (at most `max_delay`).
/// Which failures are retried, and the time limits of each call, are the
/// SDK's rules, listed once in the `retry` module (and, with the test of each, in the
/// repository's `docs/reliability.md`): a submit is retried only where fal provably never took
/// it, so a retry never pays for a job twice.
///
/// This policy bounds one call. While a [`Subscription`](crate::Subscription)
/// waits, a status or result call that still fails after its retries is
/// tried again until the wait's deadline (see its docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 turns retrying off).
    pub max_retries: usize,
    /// The first delay.
    pub min_delay: Duration,
    /// The longest delay, also the cap on `Retry-After`.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    ///
    /// ```
    /// let client = fal_kontext::Client::builder()
    ///     .key("id:secret")
    ///     .retry(fal_kontext::RetryPolicy::none())
    ///     .build()
    ///     .unwrap();
    /// # drop(client);
    /// ```
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The delays before each retry, in order (jittered).
    pub(crate) fn delays(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_jitter()
            .build()
    }
}

/// The `Retry-After` of an answer, bounded (see [`crate::durations`]).
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    crate::durations::retry_after_secs(headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stop() {
        let policy = RetryPolicy {
            max_retries: 3,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        let delays: Vec<Duration> = policy.delays().collect();
        assert_eq!(delays.len(), 3);
        // jitter adds up to the base delay again, so each lies in [base, 2·base]
        for (delay, base) in delays.iter().zip([100, 200, 400]) {
            assert!(
                *delay >= Duration::from_millis(base) && *delay <= Duration::from_millis(2 * base),
                "{delay:?}"
            );
        }
        assert_eq!(RetryPolicy::none().delays().count(), 0);
    }

    #[test]
    fn retry_after_reads_seconds() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
