//! What the end-to-end tests share: an emulator and a client pointed at it.

#![allow(dead_code)] // each test file uses its own part of this module

use std::time::Duration;

use fal_emulator::{Config, Emulator, RecordedRequest, Route, Timing};
use fal_kontext::{Client, RetryPolicy};

/// The sample image that ships with the repo (160×120 PNG).
pub const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/sample.png");

/// An emulator that completes jobs quickly.
pub async fn emulator() -> Emulator {
    emulator_with(Config {
        timing: quick(),
        ..Config::default()
    })
    .await
}

pub async fn emulator_with(config: Config) -> Emulator {
    Emulator::start_with(config)
        .await
        .expect("the emulator starts on loopback")
}

/// An emulator whose jobs run for 30 s: long enough to be cancelled, watched
/// or abandoned while running.
pub async fn slow_emulator() -> Emulator {
    emulator_with(Config {
        timing: Timing {
            queue_delay: Duration::ZERO,
            processing_time: Duration::from_secs(30),
        },
        ..Config::default()
    })
    .await
}

pub fn quick() -> Timing {
    Timing {
        queue_delay: Duration::ZERO,
        processing_time: Duration::from_millis(20),
    }
}

/// Short retry delays, so fault tests stay fast.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 4,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    }
}

/// A client for `emulator` with its key.
pub fn client(emulator: &Emulator) -> Client {
    builder(emulator).build().unwrap()
}

pub fn builder(emulator: &Emulator) -> fal_kontext::ClientBuilder {
    Client::builder()
        .key(emulator.key())
        .queue_url(emulator.queue_url())
        .run_url(emulator.run_url())
        .rest_url(emulator.rest_url())
        .platform_url(emulator.platform_url())
        .retry(fast_retries())
}

/// The requests the emulator received on one route.
pub fn on(emulator: &Emulator, route: Route) -> Vec<RecordedRequest> {
    emulator
        .requests()
        .into_iter()
        .filter(|r| r.route == route)
        .collect()
}

/// Waits (bounded) until `check` holds for the emulator's stats; for effects
/// that happen in a background task, such as a cancel sent on drop.
pub async fn eventually(emulator: &Emulator, check: impl Fn(&fal_emulator::Stats) -> bool) -> bool {
    for _ in 0..200 {
        if check(&emulator.stats()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Asserts that `error` names `field` and that the emulator saw nothing.
pub fn refused(
    emulator: &fal_emulator::Emulator,
    error: fal_kontext::Error,
    field: &str,
    rule: &str,
) {
    match &error {
        fal_kontext::Error::InvalidInput {
            field: named,
            rule: said,
            ..
        } => {
            assert_eq!(*named, field, "{error}");
            assert!(said.contains(rule), "{error}");
        }
        other => panic!("expected InvalidInput for {field}, got {other:?}"),
    }
    assert!(
        emulator.requests().is_empty(),
        "nothing may be sent for a bad {field}"
    );
}
