//! Waiting through the emulator: the status stream, the fallback to polling,
//! faults survived or reported, deadlines, cancels, and fal's errors.

mod common;

use std::time::Duration;

use common::{SAMPLE, builder, client, emulator, emulator_with, on, quick, slow_emulator};
use fal_emulator::{Config, Fault, FaultRule, Route, Timing};
use fal_kontext::{CancelAtDeadline, CancelOutcome, Error, Update};

#[tokio::test]
async fn a_job_costs_submit_stream_and_result_only() {
    let emulator = emulator().await;
    let done = client(&emulator)
        .edit("Put a donut next to the flour.", SAMPLE)
        .run()
        .await
        .unwrap();
    assert_eq!(done.output.images.len(), 1);
    let stats = emulator.stats();
    // completion came from the stream: no status poll, and the result was read once
    assert_eq!(
        (stats.submit, stats.stream, stats.status, stats.result),
        (1, 1, 0, 1),
        "{stats:?}"
    );
    // and in that order
    let routes: Vec<Route> = emulator.requests().iter().map(|r| r.route).collect();
    assert_eq!(routes, [Route::Submit, Route::Stream, Route::Result]);
    // run() reads no update: the stream carries no log line
    let stream = &emulator.requests()[1];
    assert_eq!(stream.query.as_deref(), Some("logs=0"), "{stream:?}");
}

#[tokio::test]
async fn updates_report_queue_positions_and_new_log_lines() {
    // one job at a time, so the second waits behind the first
    let emulator = emulator_with(Config {
        concurrency: 1,
        timing: Timing {
            queue_delay: Duration::ZERO,
            processing_time: Duration::from_millis(200),
        },
        ..Config::default()
    })
    .await;
    let c = client(&emulator);
    let first = c.text_to_image("first").subscribe().await.unwrap();
    let mut second = c.text_to_image("second").subscribe().await.unwrap();
    let mut updates = Vec::new();
    while let Some(update) = second.next().await {
        updates.push(update.unwrap());
    }
    assert!(
        matches!(updates.first(), Some(Update::Queued { position: Some(p) }) if *p >= 0),
        "{updates:?}"
    );
    assert!(
        matches!(updates.last(), Some(Update::Completed { .. })),
        "{updates:?}"
    );
    let lines: Vec<String> = updates
        .iter()
        .flat_map(|u| match u {
            Update::InProgress { logs } | Update::Completed { logs } => logs.clone(),
            Update::Queued { .. } => vec![],
        })
        .map(|l| l.message)
        .collect();
    let unique: std::collections::BTreeSet<&String> = lines.iter().collect();
    assert!(!lines.is_empty(), "the model's log lines are reported");
    assert_eq!(
        unique.len(),
        lines.len(),
        "each log line is reported once: {lines:?}"
    );
    second.output().await.unwrap();
    first.output().await.unwrap();
    // the stream read with next() asked for the log lines, the one only
    // output() read did not
    let streams: Vec<_> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::Stream)
        .filter_map(|r| r.query)
        .collect();
    assert_eq!(streams, ["logs=1", "logs=0"]);
}

#[tokio::test]
async fn a_cut_stream_falls_back_to_polling_and_completes() {
    let emulator = emulator_with(Config {
        timing: Timing {
            queue_delay: Duration::ZERO,
            processing_time: Duration::from_millis(150),
        },
        faults: vec![FaultRule::once(Route::Stream, Fault::CutStreamAfter(1))],
        ..Config::default()
    })
    .await;
    let done = client(&emulator)
        .text_to_image("a kite")
        .run()
        .await
        .unwrap();
    assert_eq!(done.output.images.len(), 1);
    let stats = emulator.stats();
    assert_eq!(stats.stream, 1, "the stream is not reopened in a loop");
    assert!(stats.status >= 1, "polling took over: {stats:?}");
    assert_eq!(stats.submit, 1);
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let emulator = emulator_with(Config {
        timing: quick(),
        faults: vec![FaultRule::once(
            Route::Submit,
            Fault::TooManyRequests {
                retry_after_secs: 1,
            },
        )],
        ..Config::default()
    })
    .await;
    client(&emulator)
        .text_to_image("a kite")
        .run()
        .await
        .unwrap();
    let stats = emulator.stats();
    assert_eq!(
        (stats.submit, stats.jobs_created),
        (2, 1),
        "refused once, created once: {stats:?}"
    );
}

#[tokio::test]
async fn an_ingress_503_is_survived_on_submit_and_status() {
    let emulator = emulator_with(Config {
        timing: quick(),
        faults: vec![
            FaultRule::once(Route::Submit, Fault::Ingress(503)),
            FaultRule::times(Route::Stream, Fault::Ingress(503), 1),
            FaultRule::times(Route::Status, Fault::Ingress(503), 2),
        ],
        ..Config::default()
    })
    .await;
    client(&emulator)
        .text_to_image("a kite")
        .run()
        .await
        .unwrap();
    let stats = emulator.stats();
    assert_eq!(stats.jobs_created, 1, "{stats:?}");
}

#[tokio::test]
async fn a_submit_is_never_repeated_after_a_500() {
    let emulator = emulator_with(Config {
        timing: quick(),
        faults: vec![FaultRule::once(Route::Submit, Fault::AppError)],
        ..Config::default()
    })
    .await;
    let error = client(&emulator)
        .text_to_image("a kite")
        .run()
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Server { status: 500, .. }),
        "{error:?}"
    );
    assert_eq!(
        emulator.stats().submit,
        1,
        "a 500 may have created the job: no second submit"
    );
}

#[tokio::test]
async fn a_submit_met_by_an_ingress_503_is_sent_again_and_makes_one_job() {
    // fal's ingress answered 503 (nginx, no x-fal-request-id): fal never saw it
    for status in [503] {
        let emulator = emulator_with(Config {
            timing: quick(),
            faults: vec![FaultRule::once(Route::Submit, Fault::Ingress(status))],
            ..Config::default()
        })
        .await;
        let handle = client(&emulator)
            .text_to_image("a kite")
            .submit()
            .await
            .unwrap();
        let stats = emulator.stats();
        assert_eq!(
            (stats.submit, stats.jobs_created),
            (2, 1),
            "{status}: {stats:?}"
        );
        assert!(!handle.request_id().is_empty());
    }
}

#[tokio::test]
async fn the_deadline_cancels_the_job_on_the_server() {
    let emulator = slow_emulator().await;
    let error = client(&emulator)
        .text_to_image("slow")
        .timeout(Duration::from_millis(300))
        .run()
        .await
        .unwrap_err();
    match &error {
        Error::Timeout {
            request_id: Some(_),
            after,
            cancel: CancelAtDeadline::Cancelled,
        } => assert_eq!(*after, Duration::from_millis(300)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    let stats = emulator.stats();
    assert_eq!((stats.cancel, stats.jobs_cancelled), (1, 1), "{stats:?}");
}

#[tokio::test]
async fn dropping_a_subscription_leaves_the_job_running() {
    let emulator = slow_emulator().await;
    let job = client(&emulator)
        .text_to_image("abandoned")
        .subscribe()
        .await
        .unwrap();
    let id = job.request_id().to_string();
    drop(job);
    // the job goes on, and can be fetched by its id
    let handle = client(&emulator).request_handle::<fal_kontext::TextToImageOutput>(
        fal_kontext::endpoints::FLUX_PRO_KONTEXT_TEXT_TO_IMAGE,
        &id,
    );
    let status = handle.status(false).await.unwrap();
    assert_ne!(
        status.status,
        fal_kontext::AnyStatus::Known(fal_kontext::Status::Completed)
    );
    let stats = emulator.stats();
    assert_eq!((stats.cancel, stats.jobs_cancelled), (0, 0), "{stats:?}");
}

#[tokio::test]
async fn a_job_lives_through_an_outage_of_fals_ingress() {
    let emulator = emulator_with(Config {
        timing: Timing {
            queue_delay: Duration::ZERO,
            processing_time: Duration::from_millis(500),
        },
        ..Config::default()
    })
    .await;
    let job = client(&emulator)
        .text_to_image("through the outage")
        .subscribe()
        .await
        .unwrap();
    // every queue call answers an nginx 502 for 3 s, the open stream is cut:
    // far longer than the client's retries of one call take
    emulator.set_faults(vec![FaultRule::outage(Duration::from_secs(3))]);
    let done = job.output().await.unwrap();
    assert_eq!(done.output.images.len(), 1);
    let stats = emulator.stats();
    assert_eq!(
        (stats.submit, stats.jobs_created, stats.cancel),
        (1, 1, 0),
        "{stats:?}"
    );
    assert!(stats.faults_injected > 0, "the outage was met: {stats:?}");
}

#[tokio::test]
async fn an_error_that_ends_a_wait_names_the_job_and_does_not_cancel_it() {
    let emulator = slow_emulator().await;
    let job = client(&emulator)
        .text_to_image("refused")
        .subscribe()
        .await
        .unwrap();
    let id = job.request_id().to_string();
    // the stream is refused with 401: a refused key is final, not waited out
    emulator.set_faults(vec![FaultRule::once(Route::Stream, Fault::Unauthorized)]);
    let error = job.output().await.unwrap_err();
    assert!(matches!(error, Error::Authentication { .. }), "{error:?}");
    assert_eq!(error.request_id(), Some(id.as_str()));
    assert!(error.to_string().contains(&id), "{error}");
    let stats = emulator.stats();
    assert_eq!((stats.cancel, stats.jobs_cancelled), (0, 0), "{stats:?}");
}

#[tokio::test]
async fn a_start_deadline_that_runs_out_is_its_own_final_error() {
    let emulator = emulator_with(Config {
        timing: quick(),
        faults: vec![FaultRule::once(Route::Submit, Fault::UserTimeout)],
        ..Config::default()
    })
    .await;
    let error = client(&emulator)
        .text_to_image("never started")
        .request_timeout(Duration::from_secs(2))
        .run()
        .await
        .unwrap_err();
    let Error::RequestTimeout { context, .. } = &error else {
        panic!("expected Error::RequestTimeout, got {error:?}");
    };
    assert_eq!(context.error_type.as_deref(), Some("request_timeout"));
    let id = context.request_id.clone().expect("the request is named");
    assert!(
        error
            .to_string()
            .contains(&format!("request {id}, error_type request_timeout")),
        "{error}"
    );
    let stats = emulator.stats();
    assert_eq!(
        (stats.submit, stats.result),
        (1, 1),
        "never retried: {stats:?}"
    );
}

#[tokio::test]
async fn a_deadline_that_passes_during_the_submit_cancels_the_job_it_names() {
    let emulator = emulator_with(Config {
        timing: Timing {
            queue_delay: Duration::from_secs(60),
            processing_time: Duration::ZERO,
        },
        // the submit's answer trickles out over 2 s
        faults: vec![FaultRule::once(
            Route::Submit,
            Fault::SlowBody(Duration::from_secs(2)),
        )],
        ..Config::default()
    })
    .await;
    let error = client(&emulator)
        .text_to_image("late answer")
        .timeout(Duration::from_millis(500))
        .run()
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Timeout {
                cancel: CancelAtDeadline::Cancelled,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.request_id().is_some(), "the job is named: {error:?}");
    let stats = emulator.stats();
    assert_eq!(
        (stats.jobs_created, stats.cancel, stats.jobs_cancelled),
        (1, 1, 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn a_submit_whose_answer_is_lost_follows_the_job_fal_named() {
    // fal took the job and its answer's headers named it (x-fal-request-id);
    // then the body trickled (past the call timeout), broke, was cut short,
    // or was not JSON. The job is followed by that id: never submitted
    // again, never cancelled, and its output arrives.
    for fault in [
        Fault::SlowBody(Duration::from_secs(60)),
        Fault::ResetMidBody,
        Fault::Truncate,
        Fault::MalformedJson,
    ] {
        let emulator = emulator_with(Config {
            timing: quick(),
            faults: vec![FaultRule::once(Route::Submit, fault.clone())],
            ..Config::default()
        })
        .await;
        let client = builder(&emulator)
            .call_timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        let done = client.text_to_image("lost answer").run().await;
        let done = done.unwrap_or_else(|error| panic!("{fault:?}: {error:?}"));
        assert_eq!(done.output.images.len(), 1, "{fault:?}");
        let stats = emulator.stats();
        assert_eq!(
            (stats.submit, stats.jobs_created, stats.cancel),
            (1, 1, 0),
            "{fault:?}: {stats:?}"
        );
    }
}

#[tokio::test]
async fn a_gateway_502_or_504_on_a_submit_is_ambiguous_and_never_repeated() {
    // a gateway's 502 or 504 without x-fal-request-id may come after fal took
    // the job: not sent again, and said as such
    for status in [502, 504] {
        let emulator = emulator_with(Config {
            timing: quick(),
            faults: vec![FaultRule::once(Route::Submit, Fault::Ingress(status))],
            ..Config::default()
        })
        .await;
        let c = client(&emulator);
        let error = c.text_to_image("a kite").run().await.unwrap_err();
        assert!(
            matches!(&error, Error::AmbiguousSubmit { endpoint, reason, .. }
                if endpoint == fal_kontext::endpoints::FLUX_PRO_KONTEXT_TEXT_TO_IMAGE
                    && reason.contains(&status.to_string())),
            "{status}: {error:?}"
        );
        assert_eq!(emulator.stats().submit, 1, "{status}: never repeated");
        // the same for the synchronous run, where a 504 after a long run is normal
        let emulator = emulator_with(Config {
            timing: quick(),
            faults: vec![FaultRule::once(Route::Run, Fault::Ingress(status))],
            ..Config::default()
        })
        .await;
        let error = client(&emulator)
            .text_to_image("a kite")
            .run_sync()
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::AmbiguousSubmit { .. }),
            "{status}: {error:?}"
        );
        assert_eq!(emulator.stats().run, 1, "{status}: run_sync never repeated");
    }
}

#[tokio::test]
async fn a_synchronous_run_cut_after_its_head_names_the_job_and_is_not_repeated() {
    let emulator = emulator_with(Config {
        timing: quick(),
        faults: vec![FaultRule::once(Route::Run, Fault::CutAfterHeaders)],
        ..Config::default()
    })
    .await;
    let error = client(&emulator)
        .text_to_image("a kite")
        .run_sync()
        .await
        .unwrap_err();
    assert!(error.request_id().is_some(), "{error:?}");
    assert_eq!(emulator.stats().run, 1, "never repeated: {error:?}");
    // cut before any answer: the run may have happened, not repeated either
    let emulator = emulator_with(Config {
        timing: quick(),
        faults: vec![FaultRule::once(Route::Run, Fault::CutBeforeHeaders)],
        ..Config::default()
    })
    .await;
    let error = client(&emulator)
        .text_to_image("a kite")
        .run_sync()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::AmbiguousSubmit { .. }), "{error:?}");
    assert_eq!(emulator.stats().run, 1);
}

#[tokio::test]
async fn a_finished_subscription_sends_no_cancel() {
    let emulator = emulator().await;
    let job = client(&emulator)
        .text_to_image("done")
        .subscribe()
        .await
        .unwrap();
    job.output().await.unwrap();
    tokio::task::yield_now().await;
    assert_eq!(emulator.stats().cancel, 0);
}

#[tokio::test]
async fn submit_status_result_and_cancel_by_hand() {
    let emulator = emulator().await;
    let c = client(&emulator);
    let handle = c.edit("p", SAMPLE).submit().await.unwrap();
    let status_url = handle.status_url().expect("fal returns the URLs");
    assert!(
        status_url.starts_with(emulator.queue_url()),
        "later calls follow the URLs fal returned: {status_url}"
    );
    assert!(
        status_url.contains("/fal-ai/flux-pro/requests/"),
        "{status_url}"
    );
    let done = handle
        .clone()
        .wait(Duration::from_secs(10))
        .output()
        .await
        .unwrap();
    let status = handle.status(true).await.unwrap();
    assert_eq!(
        status.status,
        fal_kontext::AnyStatus::Known(fal_kontext::Status::Completed)
    );
    assert!(status.logs.is_some_and(|logs| !logs.is_empty()));
    let again = handle.result().await.unwrap();
    assert_eq!(again, done.output);
    assert_eq!(
        handle.cancel().await.unwrap(),
        CancelOutcome::AlreadyCompleted
    );
    // a handle made from the id alone reaches the same request
    let by_id = c.request_handle::<fal_kontext::EditOutput>(
        fal_kontext::endpoints::FLUX_PRO_KONTEXT,
        handle.request_id(),
    );
    assert_eq!(by_id.result().await.unwrap(), done.output);
}

#[tokio::test]
async fn cancelling_a_queued_job_is_requested() {
    let emulator = emulator_with(Config {
        timing: Timing {
            queue_delay: Duration::from_secs(30),
            processing_time: Duration::from_millis(10),
        },
        ..Config::default()
    })
    .await;
    let handle = client(&emulator)
        .text_to_image("never")
        .submit()
        .await
        .unwrap();
    assert_eq!(handle.cancel().await.unwrap(), CancelOutcome::Requested);
    assert_eq!(emulator.stats().jobs_cancelled, 1);
}

#[tokio::test]
async fn a_422_from_the_result_call_carries_fals_details() {
    let emulator = emulator_with(Config {
        timing: quick(),
        faults: vec![FaultRule::once(Route::Result, Fault::Unprocessable)],
        ..Config::default()
    })
    .await;
    let error = client(&emulator)
        .text_to_image("p")
        .run()
        .await
        .unwrap_err();
    match error {
        Error::Validation { details, context } => {
            assert!(context.request_id.is_some(), "the job can be fetched later");
            assert!(!details.is_empty());
            assert!(details.iter().all(|d| !d.msg.is_empty()), "{details:?}");
        }
        other => panic!("expected Validation, got {other:?}"),
    }
}

#[tokio::test]
async fn a_completed_request_with_an_error_is_an_error() {
    // nothing listens on port 9 of loopback: the emulator cannot fetch the image
    let emulator = emulator().await;
    let error = client(&emulator)
        .edit("p", "http://127.0.0.1:9/missing.png")
        .run()
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::RequestFailed { .. }
                | Error::Validation { .. }
                | Error::Http { .. }
                | Error::Server { .. }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_wrong_key_is_an_authentication_error() {
    let emulator = emulator().await;
    let c = builder(&emulator).key("not-the-key").build().unwrap();
    let error = c.text_to_image("p").run().await.unwrap_err();
    assert!(
        matches!(error, Error::Authentication { status: 401, .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("not-the-key"), "{error}");
}

#[tokio::test]
async fn an_unknown_request_id_is_not_found() {
    let emulator = emulator().await;
    let handle = client(&emulator).request_handle::<fal_kontext::EditOutput>(
        fal_kontext::endpoints::FLUX_PRO_KONTEXT,
        "no-such-id",
    );
    assert!(matches!(
        handle.status(false).await.unwrap_err(),
        Error::NotFound { .. }
    ));
}

#[tokio::test]
async fn the_synchronous_run_returns_the_output() {
    let emulator = emulator().await;
    let output = client(&emulator)
        .text_to_image("p")
        .num_images(2)
        .run_sync()
        .await
        .unwrap();
    assert_eq!(output.images.len(), 2);
    let stats = emulator.stats();
    assert_eq!((stats.run, stats.submit), (1, 0));
    assert_eq!(
        on(&emulator, Route::Run)[0].path,
        "/fal-ai/flux-pro/kontext/text-to-image"
    );
}

#[tokio::test]
async fn a_base_url_with_a_path_prefix_is_kept() {
    // the emulator serves at its root, so a prefix shows up as a 404 at the
    // prefixed path: what matters is that the prefix was sent
    let emulator = emulator().await;
    let c = builder(&emulator)
        .queue_url(format!("{}/proxy/fal/", emulator.queue_url()))
        .build()
        .unwrap();
    let _ = c.text_to_image("p").submit().await;
    let paths: Vec<String> = emulator.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/proxy/fal/fal-ai/flux-pro/kontext/text-to-image"]);
}

#[tokio::test]
async fn a_watch_never_cancels_and_detach_lets_go() {
    let emulator = slow_emulator().await;
    let c = client(&emulator);
    let handle = c.text_to_image("watched").submit().await.unwrap();
    // a watch that times out, and one that is dropped, leave the request alone
    let error = handle
        .clone()
        .watch(Duration::from_millis(200))
        .output()
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Timeout {
                cancel: CancelAtDeadline::NotSent,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().ends_with(&format!(
            "waiting for request {} (not cancelled: fetch it later)",
            handle.request_id()
        )),
        "{error}"
    );
    drop(handle.clone().watch(Duration::from_secs(10)));
    // a subscription that detaches leaves it alone too
    let job = c.text_to_image("detached").subscribe().await.unwrap();
    let detached = job.detach();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(emulator.stats().cancel, 0);
    assert_eq!(
        detached.status(false).await.unwrap().status,
        fal_kontext::AnyStatus::Known(fal_kontext::Status::InProgress)
    );
}

#[tokio::test]
async fn cancel_reports_fals_answer_and_sends_one_cancel() {
    let emulator = slow_emulator().await;
    let job = client(&emulator)
        .text_to_image("cancelled")
        .subscribe()
        .await
        .unwrap();
    assert_eq!(job.cancel().await.unwrap(), CancelOutcome::Requested);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(emulator.stats().cancel, 1, "no second cancel on drop");
}

/// fal may send less than its documents require: statuses with only their
/// `status`, outputs with only their images' URLs. A job still ends with
/// its output, and its images download.
#[tokio::test]
async fn lean_answers_still_give_the_output_and_its_images() {
    let emulator = emulator_with(Config {
        timing: quick(),
        faults: vec![FaultRule::rate(Route::Any, Fault::Lean, 1.0)],
        ..Config::default()
    })
    .await;
    let c = client(&emulator);
    let done = c.edit("p", SAMPLE).run().await.unwrap();
    let image = &done.output.images[0];
    assert!(image.url.starts_with(emulator.cdn_url()), "{}", image.url);
    assert_eq!(
        (image.width, image.content_type.as_deref(), done.output.seed),
        (None, None, None),
        "the lean answer really was lean"
    );
    let dir = tempfile::tempdir().unwrap();
    let paths = c
        .download_as(&done.output, dir.path(), &done.request_id)
        .await
        .unwrap();
    assert!(std::fs::metadata(&paths[0]).unwrap().len() > 0);

    // A polled status with only its status decodes too.
    let handle = c.edit("p", SAMPLE).submit().await.unwrap();
    let status = handle.status(true).await.unwrap();
    assert_eq!((status.request_id, status.status_url), (None, None));
    let stats = emulator.stats();
    assert_eq!((stats.jobs_created, stats.cancel), (2, 0));
}
