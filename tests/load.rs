//! Load: a thousand jobs through `subscribe` at once, with one request in
//! twenty on every queue route faulted in a way the SDK promises to survive.
//! Every job must end with its output, none lost, none created twice.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{client, emulator_with};
use fal_emulator::{Config, Fault, FaultRule, Route, Timing};

const JOBS: usize = 1_000;
/// "Never hangs": the whole run must end by then.
const LIMIT: Duration = Duration::from_secs(180);

/// Two faults per route, each drawn at 2.5%: about 5% of the requests of
/// each route fail, with faults the retry rules cover for that route (a
/// submit only with those fal never saw).
fn five_percent() -> Vec<FaultRule> {
    let rate = 0.025;
    let limited = Fault::TooManyRequests {
        retry_after_secs: 1,
    };
    vec![
        FaultRule::rate(Route::Submit, limited.clone(), rate),
        FaultRule::rate(Route::Submit, Fault::Ingress(503), rate),
        FaultRule::rate(Route::Stream, Fault::CutStreamAfter(1), rate),
        FaultRule::rate(Route::Stream, Fault::Ingress(502), rate),
        FaultRule::rate(Route::Status, limited, rate),
        FaultRule::rate(Route::Status, Fault::Ingress(504), rate),
        FaultRule::rate(Route::Result, Fault::ResetMidBody, rate),
        FaultRule::rate(Route::Result, Fault::Ingress(503), rate),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_jobs_at_once_under_five_percent_faults_all_end_once() {
    let emulator = emulator_with(Config {
        concurrency: 64,
        timing: Timing {
            queue_delay: Duration::ZERO,
            processing_time: Duration::from_millis(20),
        },
        faults: five_percent(),
        ..Config::default()
    })
    .await;
    let c = client(&emulator);

    // Ten seeds: each job's output is told apart by its seed, while the
    // emulator renders only ten images (same prompt and seed, same bytes).
    let seed = |n: usize| (n % 10) as i64;
    let jobs = (0..JOBS).map(|n| {
        let request = c
            .text_to_image("a load test")
            .seed(seed(n))
            .timeout(Duration::from_secs(120));
        tokio::spawn(async move { request.subscribe().await?.output().await })
    });
    let ended = tokio::time::timeout(LIMIT, futures::future::join_all(jobs))
        .await
        .expect("every job ends within the limit");

    let mut ids = HashSet::new();
    let mut failures = Vec::new();
    for (n, joined) in ended.into_iter().enumerate() {
        match joined.expect("no job panics") {
            Ok(done) => {
                assert_eq!(
                    done.output.seed,
                    Some(seed(n)),
                    "job {n} got its own output"
                );
                assert_eq!(done.output.images.len(), 1);
                assert!(ids.insert(done.request_id), "job {n}: a request id twice");
            }
            Err(error) => failures.push(format!("job {n}: {error}")),
        }
    }
    let stats = emulator.stats();
    // Retried calls are the submits and result reads beyond one per job; a
    // stream that failed is not retried but left for polling, whose polls
    // are counted apart.
    let submit_retries = stats.submit - stats.jobs_created;
    let result_retries = stats.result - JOBS as u64;
    println!(
        "load: {JOBS} jobs, {} faults injected, {} retried calls (submit {submit_retries}, \
         result {result_retries}), {} status polls after failed streams, {} jobs created",
        stats.faults_injected,
        submit_retries + result_retries,
        stats.status,
        stats.jobs_created,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(ids.len(), JOBS, "none lost");
    assert_eq!(
        stats.jobs_created, JOBS as u64,
        "none created twice: {stats:?}"
    );
    // the emulator counts a completion just after it publishes the result
    assert!(
        common::eventually(&emulator, |s| s.jobs_completed == JOBS as u64).await,
        "{:?}",
        emulator.stats()
    );
    assert_eq!(stats.jobs_cancelled, 0, "{stats:?}");
    assert!(
        stats.faults_injected > 0,
        "the faults were injected: {stats:?}"
    );
    assert_eq!(stats.key_leaks, 0);
}
