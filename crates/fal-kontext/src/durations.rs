//! Durations that come from outside the SDK — a `Retry-After` header from fal
//! or a proxy in front of it, a wait timeout from the user — made safe to act
//! on. Every such duration passes through here, so none can panic the SDK
//! (`Duration::from_secs_f64` panics on a huge or NaN value, and
//! `Instant + Duration` panics when the sum overflows).

use std::time::Duration;

use tokio::time::Instant;

/// The longest `Retry-After` the SDK reads: an hour. A longer one is read as
/// an hour (a retry then waits the retry policy's own cap, which is shorter).
pub(crate) const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The longest wait the SDK plans for: a year. A longer timeout (the user's
/// "forever") waits a year, which no job outlives.
pub(crate) const LONGEST_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// A `Retry-After` value in seconds (fal and its ingress send seconds), at
/// most [`LONGEST_RETRY_AFTER`]. `None` for what is not a non-negative number
/// of seconds: NaN, a negative number, an HTTP date, text.
pub(crate) fn retry_after_secs(text: &str) -> Option<Duration> {
    let seconds = text.trim().parse::<f64>().ok()?;
    if seconds.is_nan() || seconds < 0.0 {
        return None;
    }
    // `inf` and values past the cap become the cap, never a panic.
    Some(
        Duration::try_from_secs_f64(seconds)
            .map_or(LONGEST_RETRY_AFTER, |d| d.min(LONGEST_RETRY_AFTER)),
    )
}

/// The instant `wait` from now, with `wait` at most [`LONGEST_WAIT`].
pub(crate) fn deadline_after(wait: Duration) -> Instant {
    Instant::now() + wait.min(LONGEST_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_bounded_and_never_panics() {
        assert_eq!(retry_after_secs("2"), Some(Duration::from_secs(2)));
        assert_eq!(retry_after_secs(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(retry_after_secs("0"), Some(Duration::ZERO));
        for huge in ["1e20", "inf", "+inf", "1e308", &"9".repeat(400)] {
            assert_eq!(retry_after_secs(huge), Some(LONGEST_RETRY_AFTER), "{huge}");
        }
        for refused in [
            "-1",
            "-inf",
            "NaN",
            "soon",
            "",
            "Wed, 21 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(retry_after_secs(refused), None, "{refused}");
        }
    }

    #[tokio::test]
    async fn a_huge_wait_makes_a_deadline_a_year_away() {
        let now = Instant::now();
        let deadline = deadline_after(Duration::MAX);
        assert!(deadline >= now + LONGEST_WAIT);
        assert!(deadline <= Instant::now() + LONGEST_WAIT);
        assert!(deadline_after(Duration::from_secs(1)) <= Instant::now() + Duration::from_secs(1));
    }
}
