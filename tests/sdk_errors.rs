//! The errors users match on, as decoded from each kind of failed answer:
//! which variant, and what it says (snapshotted, so a change is reviewed).

mod common;

use common::{builder, emulator};
use fal_emulator::{Fault, FaultRule, Route};
use fal_kontext::{Error, RetryPolicy};

/// The variant's name, from its `Debug` form.
fn variant(error: &Error) -> String {
    let debug = format!("{error:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn each_failed_answer_decodes_to_its_error() {
    let emulator = emulator().await;
    // no retries: each fault is seen as the caller would see it at the end
    let c = builder(&emulator)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let done = c.text_to_image("p").run().await.unwrap();
    let handle = c.request_handle::<fal_kontext::TextToImageOutput>(
        fal_kontext::endpoints::FLUX_PRO_KONTEXT_TEXT_TO_IMAGE,
        &done.request_id,
    );

    let faults = [
        ("401", Fault::Unauthorized),
        ("404", Fault::NotFound),
        ("422", Fault::Unprocessable),
        (
            "429",
            Fault::TooManyRequests {
                retry_after_secs: 7,
            },
        ),
        ("500 from the app", Fault::AppError),
        ("503 from the ingress", Fault::Ingress(503)),
        ("malformed JSON", Fault::MalformedJson),
    ];
    let mut seen = Vec::new();
    for (name, fault) in faults {
        emulator.set_faults(vec![FaultRule::once(Route::Result, fault)]);
        let error = handle.result().await.unwrap_err();
        assert_eq!(
            error.request_id(),
            Some(done.request_id.as_str()),
            "{name}: the job can be fetched later"
        );
        // the emulator's port and the request id change from run to run
        let message = error
            .to_string()
            .replace(emulator.cdn_url(), "http://127.0.0.1:[cdn port]")
            .replace(&done.request_id, "[request id]");
        seen.push(
            serde_json::json!({"fault": name, "variant": variant(&error), "message": message}),
        );
    }
    // and the answer after the faults is the output again, unknown fields and all
    assert_eq!(handle.result().await.unwrap(), done.output);
    insta::assert_json_snapshot!(seen);
}
