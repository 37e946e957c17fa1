//! What the command says about itself besides its output: logs on stderr,
//! filtered by `RUST_LOG` (none when it is unset) in the format
//! `--log-format` names, and, built with the `otel` feature, the SDK's spans
//! sent over OTLP when the standard variables say where
//! (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`;
//! see docs/telemetry.md). A collector that is down or slow never fails a
//! command, and delays its exit by at most 2 s (`otlp::FLUSH_TIMEOUT`).

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Installs the logs and, when asked for, the trace export, for the whole
/// process: the logs as text, or with `json` one JSON object per event
/// (`--log-format`). Call [`flush`] before the process exits.
pub fn init(json: bool) {
    // No RUST_LOG, no logs: the command's own messages are its output.
    let logs = std::env::var_os(EnvFilter::DEFAULT_ENV).map(|_| {
        let filter = EnvFilter::from_default_env();
        let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        if json {
            layer.json().with_filter(filter).boxed()
        } else {
            layer.with_filter(filter).boxed()
        }
    });
    let layers: Vec<_> = logs.into_iter().chain(otlp::layer()).collect();
    if layers.is_empty() {
        return;
    }
    // Another subscriber (none in this binary) would keep its place.
    let _ = tracing_subscriber::registry().with(layers).try_init();
}

/// Sends the spans not yet sent, within 2 s; a no-op without
/// the trace export. Every exit path calls it (a failed command and a
/// stopped batch included).
pub fn flush() {
    otlp::flush();
}

/// The span of the whole command (`kontext edit`, …), the root of its trace.
pub fn command_span(command: &str) -> tracing::Span {
    tracing::info_span!(
        "kontext",
        otel.name = %format_args!("kontext {command}"),
        otel.kind = "internal",
    )
}

#[cfg(feature = "otel")]
mod otlp {
    use std::sync::OnceLock;
    use std::time::Duration;

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::{Protocol, RetryPolicy, WithExportConfig, WithHttpConfig};
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::{Layer, Registry};

    /// The longest the exit waits for the last spans to be sent.
    const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

    /// The provider whose spans [`flush`] sends.
    static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

    /// The crates whose spans are exported: the SDK's, and the command's
    /// own (not the in-process emulator's, nor the HTTP stack's).
    fn exported() -> Targets {
        Targets::new()
            .with_target("fal_kontext", tracing::Level::INFO)
            .with_target("fal_kontext_api", tracing::Level::INFO)
            .with_target("kontext", tracing::Level::INFO)
    }

    /// The export layer, when the environment asks for one.
    pub fn layer() -> Option<Box<dyn Layer<Registry> + Send + Sync>> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"))
        {
            return None;
        }
        var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"))?;
        let protocol = var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"))
            .unwrap_or_else(|| "http/protobuf".into());
        let protocol = match protocol.trim() {
            "http/protobuf" => Protocol::HttpBinary,
            "http/json" => Protocol::HttpJson,
            other => {
                eprintln!(
                    "warning: OTEL_EXPORTER_OTLP_PROTOCOL={other} is not supported (kontext \
                     sends OTLP over HTTP: http/protobuf or http/json); no traces are sent"
                );
                return None;
            }
        };
        // The exporter reads the endpoints, headers and timeouts itself; a
        // short timeout unless one is set, and no retries (the exporter's
        // backoff would hold the exit of a command whose collector is down
        // for a second), so that a collector that does not answer holds
        // nothing up.
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_retry_policy(RetryPolicy::disabled());
        if var("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT").is_none()
            && var("OTEL_EXPORTER_OTLP_TIMEOUT").is_none()
        {
            exporter = exporter.with_timeout(FLUSH_TIMEOUT);
        }
        let exporter = match exporter.build() {
            Ok(exporter) => exporter,
            Err(error) => {
                eprintln!("warning: no traces are sent: {error}");
                return None;
            }
        };
        // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are read by the
        // resource's detectors; "kontext" when neither names the service.
        let mut resource = Resource::builder();
        if var("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name("kontext");
        }
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build();
        let tracer = provider.tracer("kontext");
        let _ = PROVIDER.set(provider);
        Some(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(exported())
                .boxed(),
        )
    }

    pub fn flush() {
        if let Some(provider) = PROVIDER.get() {
            // a collector that is down loses the spans, not the command
            let _ = provider.shutdown_with_timeout(FLUSH_TIMEOUT);
        }
    }
}

#[cfg(not(feature = "otel"))]
mod otlp {
    use tracing_subscriber::{Layer, Registry};

    /// Built without the `otel` feature: says so when the environment asks
    /// for traces.
    pub fn layer() -> Option<Box<dyn Layer<Registry> + Send + Sync>> {
        let asked = [
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
        if asked {
            eprintln!(
                "warning: this kontext was built without the `otel` feature: no traces are sent"
            );
        }
        None
    }

    pub fn flush() {}
}
