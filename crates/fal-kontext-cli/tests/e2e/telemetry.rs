//! Traces over OTLP: `kontext edit --local` sends its spans to the collector
//! the standard variables name, in either HTTP encoding; a collector that is
//! down fails nothing.

use crate::harness::*;
#[cfg(feature = "otel")]
use collector::Receiver;

/// A stand-in OTLP collector.
#[cfg(feature = "otel")]
mod collector {
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper::{Request, Response};

    /// One POST the receiver got: its path, content type and body.
    pub type Received = (String, String, Bytes);

    /// A stand-in OTLP collector on loopback that records every POST.
    pub struct Receiver {
        pub url: String,
        received: Arc<Mutex<Vec<Received>>>,
        _runtime: tokio::runtime::Runtime,
    }

    impl Receiver {
        pub fn start() -> Self {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let listener = runtime
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let received = Arc::new(Mutex::new(Vec::new()));
            let kept = received.clone();
            runtime.spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let kept = kept.clone();
                    tokio::spawn(async move {
                        let service =
                            hyper::service::service_fn(move |request: Request<Incoming>| {
                                let kept = kept.clone();
                                async move {
                                    let path = request.uri().path().to_string();
                                    let content_type = request
                                        .headers()
                                        .get(hyper::header::CONTENT_TYPE)
                                        .and_then(|v| v.to_str().ok())
                                        .unwrap_or_default()
                                        .to_string();
                                    let body =
                                        request.into_body().collect().await.unwrap().to_bytes();
                                    kept.lock().unwrap().push((path, content_type, body));
                                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                                }
                            });
                        let io = hyper_util::rt::TokioIo::new(stream);
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, service)
                            .await;
                    });
                }
            });
            Self {
                url,
                received,
                _runtime: runtime,
            }
        }

        pub fn received(&self) -> Vec<Received> {
            self.received.lock().unwrap().clone()
        }
    }
}

/// `kontext --local edit` of the sample into a temporary directory, with
/// `env` set.
fn local_edit(env: &[(&str, &str)]) -> std::process::Output {
    let out = tempfile::tempdir().unwrap();
    let mut command = kontext([
        "--local",
        "edit",
        "--image",
        SAMPLE,
        "--prompt",
        "a prompt that stays out of traces",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    command.envs(env.iter().copied());
    run(command)
}

#[cfg(feature = "otel")]
#[test]
fn the_spans_reach_the_collector_in_protobuf() {
    let receiver = Receiver::start();
    let output = local_edit(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.url)]);
    success(&output);
    let received = receiver.received();
    assert!(!received.is_empty(), "nothing was sent");
    let body: Vec<u8> = received
        .iter()
        .flat_map(|(path, content_type, body)| {
            assert_eq!(path, "/v1/traces");
            assert_eq!(content_type, "application/x-protobuf");
            body.to_vec()
        })
        .collect();
    // protobuf keeps strings as they are: the service (the default name),
    // the command's span and the job's
    let holds = |text: &str| body.windows(text.len()).any(|w| w == text.as_bytes());
    assert!(holds("kontext edit"));
    assert!(holds("generate_content fal-ai/flux-pro/kontext"));
    assert!(holds("service.name") && holds("kontext"));
    assert!(!holds("a prompt that stays out of traces"));
}

#[cfg(feature = "otel")]
#[test]
fn the_spans_reach_the_collector_in_json() {
    let receiver = Receiver::start();
    let output = local_edit(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.url),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_SERVICE_NAME", "image-service"),
    ]);
    success(&output);
    let received = receiver.received();
    assert!(!received.is_empty(), "nothing was sent");
    let mut services = Vec::new();
    let mut names = Vec::new();
    for (path, content_type, body) in &received {
        assert_eq!(path, "/v1/traces");
        assert_eq!(content_type, "application/json");
        let export: serde_json::Value = serde_json::from_slice(body).unwrap();
        for resource in export["resourceSpans"].as_array().unwrap() {
            for attribute in resource["resource"]["attributes"].as_array().unwrap() {
                if attribute["key"] == "service.name" {
                    services.push(attribute["value"]["stringValue"].clone());
                }
            }
            for scope in resource["scopeSpans"].as_array().unwrap() {
                for span in scope["spans"].as_array().unwrap() {
                    names.push(span["name"].as_str().unwrap().to_string());
                }
            }
        }
    }
    assert!(
        services.iter().all(|s| s == "image-service"),
        "{services:?}"
    );
    for name in [
        "kontext edit",
        "generate_content fal-ai/flux-pro/kontext",
        "submit",
        "result",
    ] {
        assert!(names.iter().any(|n| n == name), "no {name} in {names:?}");
    }
}

#[test]
fn a_collector_that_is_down_fails_nothing() {
    // a port that was just free: nothing listens there
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let output = local_edit(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &url)]);
    let stdout = success(&output);
    assert_eq!(printed_paths(&stdout).len(), 1, "{stdout}");
    // built without the feature, the variable is said to be ignored
    if cfg!(not(feature = "otel")) {
        assert!(stderr(&output).contains("without the `otel` feature"));
    } else {
        assert_eq!(stderr(&output), "");
    }
}

#[test]
fn rust_log_turns_on_json_logs_on_stderr() {
    let output = local_edit(&[("RUST_LOG", "fal_kontext=debug")]);
    success(&output);
    let logs = stderr(&output);
    assert!(logs.contains("submitted"), "{logs}");
    let out = tempfile::tempdir().unwrap();
    let mut command = kontext([
        "--local",
        "--log-format",
        "json",
        "edit",
        "--image",
        SAMPLE,
        "--prompt",
        "p",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    command.env("RUST_LOG", "fal_kontext=debug");
    let output = run(command);
    success(&output);
    let lines: Vec<serde_json::Value> = stderr(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(
        lines.iter().any(|l| l["fields"]["message"] == "submitted"),
        "{lines:?}"
    );
}
