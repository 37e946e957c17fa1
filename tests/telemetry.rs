//! The SDK's spans as an OpenTelemetry exporter receives them (through
//! `tracing-opentelemetry`, as a service would wire them): one job's span,
//! its HTTP attempts under it with OpenTelemetry's field names, a retry's
//! attempts numbered, the request id on the job, and never the key.

mod common;

use common::{SAMPLE, builder, emulator_with, quick};
use fal_emulator::{Config, Fault, FaultRule, Route};
use opentelemetry::trace::{SpanId, Status, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;

/// Recognizable in any attribute it would leak into.
const KEY: &str = "telemetry-test-key-0123456789-secret";

/// The spans of `work`, exported in memory.
async fn spans_of(work: impl Future<Output = ()>) -> Vec<SpanData> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    let subscriber = tracing_subscriber::registry().with(layer);
    let guard = tracing::subscriber::set_default(subscriber);
    work.await;
    drop(guard);
    provider.force_flush().unwrap();
    exporter.get_finished_spans().unwrap()
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn text(span: &SpanData, key: &str) -> Option<String> {
    attr(span, key).map(|value| value.as_str().into_owned())
}

fn number(span: &SpanData, key: &str) -> Option<i64> {
    match attr(span, key)? {
        Value::I64(n) => Some(*n),
        other => panic!("{key} is not an integer: {other:?}"),
    }
}

fn attempts<'a>(spans: &'a [SpanData], operation: &str) -> Vec<&'a SpanData> {
    let mut found: Vec<_> = spans
        .iter()
        .filter(|s| text(s, "fal.operation").as_deref() == Some(operation))
        .collect();
    found.sort_by_key(|s| number(s, "fal.attempt"));
    found
}

/// Every attribute of every span and event, as text.
fn all_attributes(spans: &[SpanData]) -> Vec<String> {
    let show = |kv: &KeyValue| format!("{}={}", kv.key, kv.value);
    spans
        .iter()
        .flat_map(|span| {
            let events = span.events.iter().flat_map(|e| {
                std::iter::once(e.name.to_string()).chain(e.attributes.iter().map(show))
            });
            std::iter::once(span.name.to_string())
                .chain(span.attributes.iter().map(show))
                .chain(events)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn a_job_is_a_span_with_its_attempts_under_it_and_no_key() {
    // the submit is refused once (429) and made again; the input image is
    // uploaded (inline limit 0), the output downloaded
    let emulator = emulator_with(Config {
        key: KEY.into(),
        timing: quick(),
        faults: vec![FaultRule::once(
            Route::Submit,
            Fault::TooManyRequests {
                retry_after_secs: 0,
            },
        )],
        ..Config::default()
    })
    .await;
    let client = builder(&emulator).inline_limit(0).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut request_id = String::new();
    let spans = spans_of(async {
        let done = client.edit("a prompt", SAMPLE).run().await.unwrap();
        client.download(&done.output, dir.path()).await.unwrap();
        request_id = done.request_id;
    })
    .await;

    // one job span, named and described by OpenTelemetry's GenAI conventions
    let jobs: Vec<_> = spans
        .iter()
        .filter(|s| text(s, "gen_ai.request.model").is_some())
        .collect();
    assert_eq!(jobs.len(), 1, "{:#?}", spans);
    let job = jobs[0];
    assert_eq!(job.name, "generate_content fal-ai/flux-pro/kontext");
    assert_eq!(
        text(job, "gen_ai.request.model").as_deref(),
        Some("fal-ai/flux-pro/kontext")
    );
    assert_eq!(
        text(job, "gen_ai.operation.name").as_deref(),
        Some("generate_content")
    );
    assert_eq!(text(job, "fal.model_kind").as_deref(), Some("Edit"));
    assert_eq!(text(job, "fal.request_id"), Some(request_id.clone()));
    assert_eq!(text(job, "fal.outcome").as_deref(), Some("completed"));
    assert!(attr(job, "fal.billable_units").is_some(), "{job:#?}");
    assert_eq!(job.status, Status::Ok);
    assert_eq!(job.span_kind, opentelemetry::trace::SpanKind::Client);

    // the submit's two attempts, children of the job: the 429, then the one
    // that went through
    let submits = attempts(&spans, "submit");
    assert_eq!(submits.len(), 2, "{submits:#?}");
    let queue = reqwest::Url::parse(emulator.queue_url()).unwrap();
    for (n, attempt) in submits.iter().enumerate() {
        assert_eq!(attempt.parent_span_id, job.span_context.span_id());
        assert_eq!(attempt.name, "submit");
        assert_eq!(number(attempt, "fal.attempt"), Some(n as i64 + 1));
        assert_eq!(
            text(attempt, "http.request.method").as_deref(),
            Some("POST")
        );
        assert_eq!(
            text(attempt, "url.full"),
            Some(format!("{}fal-ai/flux-pro/kontext", queue.as_str()))
        );
        assert_eq!(text(attempt, "server.address").as_deref(), queue.host_str());
    }
    let (refused, accepted) = (submits[0], submits[1]);
    assert_eq!(number(refused, "http.response.status_code"), Some(429));
    assert_eq!(text(refused, "error.type").as_deref(), Some("429"));
    assert!(matches!(refused.status, Status::Error { .. }));
    let retry = refused
        .events
        .iter()
        .find(|e| e.name == "retrying")
        .expect("the retry is an event of the refused attempt");
    let reason = retry
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "retry.reason")
        .map(|kv| kv.value.as_str().into_owned());
    assert_eq!(reason.as_deref(), Some("status 429"));
    assert!(
        retry
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "retry.delay_ms")
    );
    assert_eq!(attr(refused, "http.request.resend_count"), None);
    assert_eq!(number(accepted, "http.request.resend_count"), Some(1));
    assert_eq!(number(accepted, "http.response.status_code"), Some(200));
    assert_eq!(accepted.status, Status::Ok);

    // the result call, and the status changes as events of the job
    let results = attempts(&spans, "result");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].parent_span_id, job.span_context.span_id());
    assert_eq!(
        text(results[0], "http.request.method").as_deref(),
        Some("GET")
    );
    let statuses: Vec<_> = job.events.iter().filter(|e| e.name == "status").collect();
    assert!(!statuses.is_empty(), "{:#?}", job.events);

    // the upload, inside the job; the download, a span of its own
    let upload = spans
        .iter()
        .find(|s| s.name == "fal.upload")
        .expect("an upload span");
    assert_eq!(upload.parent_span_id, job.span_context.span_id());
    let puts = attempts(&spans, "upload_put");
    assert!(!puts.is_empty());
    for put in puts {
        assert_eq!(put.parent_span_id, upload.span_context.span_id());
        assert_eq!(text(put, "http.request.method").as_deref(), Some("PUT"));
    }
    let download = spans
        .iter()
        .find(|s| s.name == "fal.download")
        .expect("a download span");
    assert_eq!(download.parent_span_id, SpanId::INVALID);
    let fetches = attempts(&spans, "download");
    assert!(!fetches.is_empty());
    for fetch in fetches {
        assert_eq!(fetch.parent_span_id, download.span_context.span_id());
        assert_eq!(number(fetch, "http.response.status_code"), Some(200));
    }

    // the key is nowhere, nor a URL's query
    let attributes = all_attributes(&spans);
    assert!(attributes.len() > 50, "{attributes:?}");
    for attribute in &attributes {
        assert!(!attribute.contains(KEY), "{attribute}");
        assert!(!attribute.contains("a prompt"), "{attribute}");
        if attribute.starts_with("url.full=") {
            assert!(!attribute.contains('?'), "{attribute}");
        }
    }
}

#[tokio::test]
async fn a_status_call_refused_with_503_is_attempted_again() {
    let emulator = emulator_with(Config {
        key: KEY.into(),
        timing: quick(),
        faults: vec![FaultRule::once(Route::Status, Fault::Ingress(503))],
        ..Config::default()
    })
    .await;
    let client = builder(&emulator).build().unwrap();
    let spans = spans_of(async {
        let handle = client.edit("p", SAMPLE).submit().await.unwrap();
        handle.status(false).await.unwrap();
    })
    .await;
    let statuses = attempts(&spans, "status");
    assert_eq!(statuses.len(), 2, "{statuses:#?}");
    assert_eq!(number(statuses[0], "fal.attempt"), Some(1));
    assert_eq!(number(statuses[0], "http.response.status_code"), Some(503));
    assert_eq!(number(statuses[1], "fal.attempt"), Some(2));
    let status = number(statuses[1], "http.response.status_code");
    assert!(
        status.is_some_and(|s| (200..300).contains(&s)),
        "{status:?}"
    );
    // a status call outside a wait is a span of its own, not in a job
    assert_eq!(statuses[0].parent_span_id, SpanId::INVALID);
}

#[tokio::test]
async fn a_synchronous_run_is_a_job_with_one_run_attempt() {
    let emulator = emulator_with(Config {
        key: KEY.into(),
        timing: quick(),
        ..Config::default()
    })
    .await;
    let client = builder(&emulator).build().unwrap();
    let spans = spans_of(async {
        client.text_to_image("p").run_sync().await.unwrap();
    })
    .await;
    let job = spans
        .iter()
        .find(|s| text(s, "gen_ai.request.model").is_some())
        .expect("a job span");
    assert_eq!(text(job, "fal.model_kind").as_deref(), Some("TextToImage"));
    assert_eq!(text(job, "fal.outcome").as_deref(), Some("completed"));
    let runs = attempts(&spans, "run");
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].parent_span_id, job.span_context.span_id());
    assert_eq!(
        text(runs[0], "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(number(runs[0], "http.response.status_code"), Some(200));
}
