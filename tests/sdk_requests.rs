//! What each builder sends: the exact body, query and headers of the submit,
//! as the emulator recorded them; and that every rule refuses bad input
//! before any request leaves.

mod common;

use std::time::Duration;

use common::{builder, client, emulator, on, refused};
use fal_emulator::Route;
use fal_kontext::{
    Acceleration, AspectRatio, Error, Kind, OutputFormat, Priority, Request, ResolutionMode,
    SafetyTolerance,
};

const IMAGE: &str = "https://v3.fal.media/files/rabbit/rmgBxhwGYb2d3pl3x9sKf_output.png";

/// The submit as a user would check it: where it went, with what query,
/// which of fal's headers, and the JSON body.
fn sent(emulator: &fal_emulator::Emulator) -> serde_json::Value {
    let submits = on(emulator, Route::Submit);
    assert_eq!(submits.len(), 1, "exactly one submit");
    let submit = &submits[0];
    let headers: Vec<_> = submit
        .headers
        .iter()
        .filter(|(name, _)| {
            name.starts_with("x-fal-") || name == "content-type" || name == "authorization"
        })
        .collect();
    serde_json::json!({
        "method": submit.method,
        "path": submit.path,
        "query": submit.query,
        "headers": headers,
        "body": submit.body,
    })
}

#[tokio::test]
async fn edit_with_only_the_required_fields() {
    let emulator = emulator().await;
    client(&emulator)
        .edit("Put a donut next to the flour.", IMAGE)
        .submit()
        .await
        .unwrap();
    insta::assert_json_snapshot!(sent(&emulator));
}

#[tokio::test]
async fn edit_with_every_field() {
    let emulator = emulator().await;
    client(&emulator)
        .edit("Put a donut next to the flour.", IMAGE)
        .seed(7)
        .guidance_scale(4.5)
        .num_images(2)
        .output_format(OutputFormat::Png)
        .safety_tolerance(SafetyTolerance::Level5)
        .aspect_ratio(AspectRatio::Portrait9x16)
        .enhance_prompt(true)
        .sync_mode(true)
        .webhook("https://example.com/hooks/kontext")
        .request_timeout(Duration::from_secs(90))
        .priority(Priority::Low)
        .runner_hint("session-42")
        .submit()
        .await
        .unwrap();
    insta::assert_json_snapshot!(sent(&emulator));
}

#[tokio::test]
async fn edit_max_goes_to_the_max_endpoint() {
    let emulator = emulator().await;
    client(&emulator)
        .edit("Make it night", IMAGE)
        .max()
        .seed(1)
        .submit()
        .await
        .unwrap();
    insta::assert_json_snapshot!(sent(&emulator));
}

#[tokio::test]
async fn text_to_image_sends_no_image() {
    let emulator = emulator().await;
    client(&emulator)
        .text_to_image("A lighthouse at dusk")
        .aspect_ratio(AspectRatio::Landscape21x9)
        .safety_tolerance(SafetyTolerance::Level1)
        .submit()
        .await
        .unwrap();
    insta::assert_json_snapshot!(sent(&emulator));
}

#[tokio::test]
async fn multi_sends_image_urls_in_order() {
    let emulator = emulator().await;
    client(&emulator)
        .multi(
            "Put the two side by side",
            [IMAGE, "https://example.com/second.jpg"],
        )
        .max()
        .num_images(3)
        .submit()
        .await
        .unwrap();
    insta::assert_json_snapshot!(sent(&emulator));
}

#[tokio::test]
async fn dev_sends_its_own_fields() {
    let emulator = emulator().await;
    client(&emulator)
        .dev("Make it snow", IMAGE)
        .num_inference_steps(30)
        .guidance_scale(2.5)
        .enable_safety_checker(false)
        .acceleration(Acceleration::High)
        .resolution_mode(ResolutionMode::Portrait4x5)
        .output_format(OutputFormat::Jpeg)
        .submit()
        .await
        .unwrap();
    insta::assert_json_snapshot!(sent(&emulator));
}

/// The submit options fal documents (the files' lifetime on the CDN, no
/// history, no retries inside fal, the longest queue to join) and an extra
/// header, as fal receives them: headers and a query parameter, the same on
/// every endpoint.
#[tokio::test]
async fn every_submit_option_on_the_wire() {
    let emulator = emulator().await;
    client(&emulator)
        .text_to_image("A lighthouse at dusk")
        .max()
        .cdn_lifetime(Duration::from_secs(3600))
        .store_io(false)
        .no_retry(true)
        .max_queue_length(20)
        .webhook("https://example.com/hooks/kontext")
        .header("X-Fal-Future-Option", "on")
        .submit()
        .await
        .unwrap();
    insta::assert_json_snapshot!(sent(&emulator));
}

/// The same options on the other kinds of request reach fal the same way.
#[tokio::test]
async fn the_submit_options_on_every_kind_of_request() {
    let emulator = emulator().await;
    let c = client(&emulator);
    fn options<K: Kind>(request: Request<K>) -> Request<K> {
        request
            .cdn_lifetime(Duration::from_secs(86_400))
            .store_io(false)
            .no_retry(true)
            .max_queue_length(3)
            .header("x-fal-future-option", "on")
    }
    let handles = [
        options(c.edit("p", IMAGE))
            .submit()
            .await
            .map(|h| h.endpoint().to_string()),
        options(c.multi("p", [IMAGE]))
            .submit()
            .await
            .map(|h| h.endpoint().to_string()),
        options(c.dev("p", IMAGE))
            .submit()
            .await
            .map(|h| h.endpoint().to_string()),
    ];
    let submits = on(&emulator, Route::Submit);
    assert_eq!(submits.len(), handles.len());
    for (submit, endpoint) in submits.iter().zip(handles) {
        let header = |name: &str| {
            submit
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let endpoint = endpoint.unwrap();
        assert_eq!(submit.path, format!("/{endpoint}"));
        assert_eq!(submit.query.as_deref(), Some("fal_max_queue_length=3"));
        assert_eq!(
            header("x-fal-object-lifecycle-preference"),
            Some(r#"{"expiration_duration_seconds":86400}"#),
            "{endpoint}"
        );
        assert_eq!(header("x-fal-store-io"), Some("0"), "{endpoint}");
        assert_eq!(header("x-fal-no-retry"), Some("1"), "{endpoint}");
        assert_eq!(header("x-fal-future-option"), Some("on"), "{endpoint}");
    }
}

/// A local image uploaded for a request lives on the CDN as long as the
/// request's files: its upload's initiate carries the lifetime under both
/// names fal's clients send.
#[tokio::test]
async fn an_upload_takes_the_requests_cdn_lifetime() {
    let emulator = emulator().await;
    let c = builder(&emulator).inline_limit(0).build().unwrap();
    c.edit("p", std::path::Path::new(common::SAMPLE))
        .cdn_lifetime(Duration::from_secs(600))
        .submit()
        .await
        .unwrap();
    let initiates = on(&emulator, Route::UploadInitiate);
    assert_eq!(initiates.len(), 1, "one upload");
    let lifecycle: Vec<_> = initiates[0]
        .headers
        .iter()
        .filter(|(name, _)| name.starts_with("x-fal-object-lifecycle"))
        .collect();
    insta::assert_json_snapshot!(lifecycle);
}

/// Every value of every enum, as it goes on the wire.
#[test]
fn every_enum_value_on_the_wire() {
    fn spelled<T: std::fmt::Display>(all: &[T]) -> Vec<String> {
        all.iter().map(ToString::to_string).collect()
    }
    insta::assert_json_snapshot!(serde_json::json!({
        "output_format": spelled(OutputFormat::ALL),
        "safety_tolerance": spelled(SafetyTolerance::ALL),
        "aspect_ratio": spelled(AspectRatio::ALL),
        "acceleration": spelled(Acceleration::ALL),
        "resolution_mode": spelled(ResolutionMode::ALL),
    }));
}

#[tokio::test]
async fn every_rule_refuses_before_sending() {
    let emulator = emulator().await;
    let c = client(&emulator);
    let edit = || c.edit("p", IMAGE);
    for bad in [0.5, 20.5, f64::NAN] {
        let error = edit().guidance_scale(bad).submit().await.unwrap_err();
        refused(&emulator, error, "guidance_scale", "from 1 to 20");
    }
    for bad in [0, 5] {
        let error = edit().num_images(bad).submit().await.unwrap_err();
        refused(&emulator, error, "num_images", "from 1 to 4");
    }
    for bad in [9, 51] {
        let error = c
            .dev("p", IMAGE)
            .num_inference_steps(bad)
            .submit()
            .await
            .unwrap_err();
        refused(&emulator, error, "num_inference_steps", "from 10 to 50");
    }
    let error = c.multi("p", Vec::<&str>::new()).submit().await.unwrap_err();
    refused(&emulator, error, "image_urls", "at least one image");
    let error = edit().webhook("not a url").submit().await.unwrap_err();
    refused(&emulator, error, "fal_webhook", "http(s) URL");
    let error = edit()
        .request_timeout(Duration::from_secs(1))
        .submit()
        .await
        .unwrap_err();
    refused(
        &emulator,
        error,
        "x-fal-request-timeout",
        "more than 1 second",
    );
    let error = c.edit("p", "").submit().await.unwrap_err();
    refused(&emulator, error, "image_url", "must not be empty");
    for bad in [
        Duration::ZERO,
        Duration::from_millis(2500),
        Duration::from_secs(31_536_000_001),
    ] {
        let error = edit().cdn_lifetime(bad).submit().await.unwrap_err();
        refused(
            &emulator,
            error,
            "x-fal-object-lifecycle-preference",
            "whole seconds from 1 to 31536000000",
        );
    }
    let error = edit().max_queue_length(0).submit().await.unwrap_err();
    refused(&emulator, error, "fal_max_queue_length", "1 or more");
    for (name, value, rule) in [
        ("Authorization", "Key stolen", "is set by the SDK"),
        ("x-fal-store-io", "1", "is set by the SDK"),
        ("not a name", "v", "must be a header name"),
        ("x-fal-new", "two\nlines", "visible ASCII"),
    ] {
        let error = edit().header(name, value).submit().await.unwrap_err();
        refused(&emulator, error, "header", rule);
    }
    // the same rules hold on the synchronous path
    let error = edit().num_images(9).run_sync().await.unwrap_err();
    refused(&emulator, error, "num_images", "from 1 to 4");
    let error = edit()
        .header("authorization", "Key stolen")
        .run_sync()
        .await
        .unwrap_err();
    refused(&emulator, error, "header", "is set by the SDK");
}

#[tokio::test]
async fn a_file_that_is_not_an_image_is_refused_before_upload() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.pdf");
    std::fs::write(&notes, b"%PDF-1.7\n% not an image\n").unwrap();
    let error = client(&emulator)
        .edit("p", notes.as_path())
        .submit()
        .await
        .unwrap_err();
    refused(
        &emulator,
        error,
        "image_url",
        "must be a JPEG, PNG, WebP, GIF or AVIF image (found application/pdf)",
    );
    // a missing file is an I/O error naming the path, still with nothing sent
    let missing = dir.path().join("missing.png");
    let error = client(&emulator)
        .edit("p", missing.as_path())
        .submit()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Io { path, .. } if *path == missing),
        "{error:?}"
    );
    assert!(emulator.requests().is_empty());
}

#[tokio::test]
async fn a_missing_key_is_named_at_the_first_call() {
    let emulator = emulator().await;
    let keyless = fal_kontext::Client::builder()
        .queue_url(emulator.queue_url())
        .build()
        .unwrap();
    let error = keyless.edit("p", IMAGE).submit().await.unwrap_err();
    assert!(matches!(error, Error::MissingKey));
    assert!(
        error.to_string().contains("FAL_KEY") && error.to_string().contains("FAL_KEY_SECRET"),
        "{error}"
    );
    assert!(emulator.requests().is_empty());
}
