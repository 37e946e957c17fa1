//! A service's traces of its edits: the SDK's spans (one per job, one per
//! HTTP attempt under it) sent to an OpenTelemetry collector over OTLP/HTTP,
//! through `tracing-opentelemetry`. The SDK itself depends only on
//! `tracing`; the OpenTelemetry crates are the service's (here, this
//! example's dev-dependencies).
//!
//! Start a collector (e.g. Jaeger: `docker run -p 16686:16686 -p 4318:4318
//! jaegertracing/all-in-one`), point the SDK at fal or at the emulator as
//! `edit.rs` says, then
//! `OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 cargo run -p fal-kontext --example opentelemetry`.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sample.png");

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and the other OTEL_*
    // variables) itself; a batch processor sends the spans off the request
    // path.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name("image-service")
                .build(),
        )
        .build();
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("image-service")))
        .init();

    // The service's own span: the SDK's job span becomes its child.
    let handled = async {
        let client = fal_kontext::Client::from_env()?;
        let done = client.edit("Make it night", SAMPLE).run().await?;
        println!("{}: {}", done.request_id, done.output.images[0].url);
        Ok::<_, fal_kontext::Error>(())
    };
    let result = tracing::Instrument::instrument(
        handled,
        tracing::info_span!("handle_upload", user.id = "u-42"),
    )
    .await;

    // Sends what is left before the process ends.
    provider.shutdown()?;
    Ok(result?)
}
