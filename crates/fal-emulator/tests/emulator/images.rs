//! The simulated images: real sizes, formats and bytes, deterministic.

use serde_json::{Value, json};

use crate::common::*;

async fn run(emulator: &fal_emulator::Emulator, endpoint: &str, input: &Value) -> Value {
    let response = client()
        .post(format!("{}/{endpoint}", emulator.run_url()))
        .header("authorization", auth(emulator))
        .json(input)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200, "{endpoint}");
    let output: Value = response.json().await.expect("JSON");
    assert_matches_output_schema(endpoint, &output);
    output
}

/// Downloads each output image and checks that its declared shape is true.
async fn fetch_and_check(output: &Value) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for image in output["images"].as_array().expect("images") {
        let (status, content_type, bytes) = download(image["url"].as_str().expect("url")).await;
        assert_eq!(status, 200);
        if let Some(declared) = image["content_type"].as_str() {
            assert_eq!(content_type, declared);
        }
        if let Some(size) = image["file_size"].as_u64() {
            assert_eq!(bytes.len() as u64, size);
        }
        let decoded = image::load_from_memory(&bytes).expect("a real image");
        assert_eq!(
            (u64::from(decoded.width()), u64::from(decoded.height())),
            (
                image["width"].as_u64().expect("width"),
                image["height"].as_u64().expect("height")
            )
        );
        all.push(bytes);
    }
    all
}

#[tokio::test]
async fn aspect_ratio_count_and_format_are_real() {
    let emulator = start(fast()).await;
    let mut input = edit_input();
    input["aspect_ratio"] = json!("16:9");
    input["num_images"] = json!(3);
    input["output_format"] = json!("png");
    let output = run(&emulator, KONTEXT, &input).await;
    let images = output["images"].as_array().expect("images");
    assert_eq!(images.len(), 3);
    assert_eq!(output["has_nsfw_concepts"], json!([false, false, false]));
    for image in images {
        assert_eq!(
            (image["width"].clone(), image["height"].clone()),
            (json!(256), json!(144))
        );
        assert_eq!(image["content_type"], "image/png");
    }
    let bytes = fetch_and_check(&output).await;
    assert!(bytes.iter().all(|b| b.starts_with(b"\x89PNG")));
    assert!(
        bytes[0] != bytes[1] && bytes[1] != bytes[2],
        "variants differ by seed"
    );
}

#[tokio::test]
async fn same_seed_and_input_give_the_same_bytes() {
    let emulator = start(fast()).await;
    let first = fetch_and_check(&run(&emulator, KONTEXT, &edit_input()).await).await;
    let second = fetch_and_check(&run(&emulator, KONTEXT, &edit_input()).await).await;
    assert_eq!(first, second);
    let mut other_seed = edit_input();
    other_seed["seed"] = json!(43);
    let third = fetch_and_check(&run(&emulator, KONTEXT, &other_seed).await).await;
    assert_ne!(first, third);
    let elsewhere = start(fast()).await;
    let fourth = fetch_and_check(&run(&elsewhere, KONTEXT, &edit_input()).await).await;
    assert_eq!(first, fourth, "another emulator gives the same bytes");
}

#[tokio::test]
async fn a_negative_seed_is_answered_as_given() {
    // found by the SDK's property tests: -1 came back as 18446744073709551615
    let emulator = start(fast()).await;
    for seed in [-1i64, i64::MIN] {
        let mut input = edit_input();
        input["seed"] = json!(seed);
        let output = run(&emulator, KONTEXT, &input).await;
        assert_eq!(output["seed"], json!(seed));
    }
}

#[tokio::test]
async fn without_an_aspect_ratio_the_edit_follows_the_input_shape_and_defaults_to_jpeg() {
    let emulator = start(fast()).await;
    let output = run(
        &emulator,
        KONTEXT,
        &json!({"prompt": "p", "image_url": png_data_uri(200, 100)}),
    )
    .await;
    let image = &output["images"][0];
    assert_eq!(
        (image["width"].clone(), image["height"].clone()),
        (json!(208), json!(96))
    );
    assert_eq!(image["content_type"], "image/jpeg");
    assert!(
        output["seed"].is_u64(),
        "a seed is chosen when none is given"
    );
    let bytes = fetch_and_check(&output).await;
    assert!(bytes[0].starts_with(&[0xFF, 0xD8]), "JPEG magic");
}

#[tokio::test]
async fn every_endpoint_answers_in_its_own_output_shape() {
    let emulator = start(fast()).await;
    let cases = [
        (
            "fal-ai/flux-pro/kontext/max",
            json!({"prompt": "p", "image_url": png_data_uri(32, 32)}),
        ),
        (
            "fal-ai/flux-pro/kontext/text-to-image",
            json!({"prompt": "a cat"}),
        ),
        (
            "fal-ai/flux-pro/kontext/max/text-to-image",
            json!({"prompt": "a cat", "aspect_ratio": "9:21"}),
        ),
        (
            "fal-ai/flux-pro/kontext/multi",
            json!({"prompt": "p", "image_urls": [png_data_uri(32, 32), png_data_uri(16, 40)]}),
        ),
        (
            "fal-ai/flux-pro/kontext/max/multi",
            json!({"prompt": "p", "image_urls": [png_data_uri(32, 32)], "aspect_ratio": "4:3"}),
        ),
        (
            "fal-ai/flux-kontext/dev",
            json!({"prompt": "p", "image_url": png_data_uri(100, 60)}),
        ),
        (
            "fal-ai/flux-kontext/dev",
            json!({"prompt": "p", "image_url": png_data_uri(100, 60), "resolution_mode": "4:5"}),
        ),
    ];
    let mut sizes = Vec::new();
    for (endpoint, input) in cases {
        let output = run(&emulator, endpoint, &input).await;
        fetch_and_check(&output).await;
        let image = &output["images"][0];
        sizes.push((
            image["width"].as_u64().expect("w"),
            image["height"].as_u64().expect("h"),
        ));
        if endpoint.ends_with("multi") || endpoint.ends_with("text-to-image") {
            let fields: Vec<&String> = image.as_object().expect("object").keys().collect();
            assert!(
                !fields.contains(&&"file_size".to_owned()),
                "{endpoint}: only its schema's fields"
            );
        }
    }
    assert_eq!(sizes[1], (256, 256), "text-to-image defaults to 1:1");
    assert_eq!(sizes[2], (110, 256), "9:21");
    assert_eq!(sizes[4], (256, 192), "4:3");
    assert_eq!(
        sizes[5],
        (96, 64),
        "dev matches the input in multiples of 16"
    );
    assert_eq!(sizes[6], (205, 256), "dev resolution_mode 4:5");
}

#[tokio::test]
async fn sync_mode_inlines_the_images_as_data_uris() {
    let emulator = start(fast()).await;
    let mut input = edit_input();
    input["sync_mode"] = json!(true);
    input["output_format"] = json!("png");
    let output = run(&emulator, KONTEXT, &input).await;
    let url = output["images"][0]["url"].as_str().expect("url");
    let data = url
        .strip_prefix("data:image/png;base64,")
        .expect("a PNG data URI");
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("base64");
    let decoded = image::load_from_memory(&bytes).expect("image");
    assert_eq!(json!(decoded.width()), output["images"][0]["width"]);
    assert_eq!(json!(bytes.len()), output["images"][0]["file_size"]);
}

#[tokio::test]
async fn inputs_come_from_uploads_loopback_urls_or_stand_ins_for_remote_ones() {
    let emulator = start(fast()).await;
    // A result image of one call as the input of the next.
    let first = run(&emulator, KONTEXT, &edit_input()).await;
    let chained = json!({"prompt": "again", "image_url": first["images"][0]["url"]});
    run(&emulator, KONTEXT, &chained).await;
    // A remote URL is never fetched; a stand-in pattern is used instead.
    let remote = json!({"prompt": "p", "image_url": "https://v3.fal.media/files/rabbit/rmgBxhwGYb2d3pl3x9sKf_output.png"});
    let output = run(&emulator, KONTEXT, &remote).await;
    fetch_and_check(&output).await;
}

#[tokio::test]
async fn unreachable_or_undecodable_inputs_are_reported_as_fal_does() {
    let emulator = start(fast()).await;
    let missing = format!("{}/files/nothing/here.png", emulator.cdn_url());
    let cases = [
        (
            json!({"prompt": "p", "image_url": missing}),
            "file_download_error",
        ),
        (
            json!({"prompt": "p", "image_url": "data:image/png;base64,aGVsbG8="}),
            "image_load_error",
        ),
    ];
    for (input, kind) in cases {
        let (_, result) = complete(&emulator, KONTEXT, &input).await;
        assert_eq!(result.status(), 422);
        let body: Value = result.json().await.expect("JSON");
        assert_eq!(body["detail"][0]["type"], kind);
        assert_eq!(body["detail"][0]["loc"], json!(["body", "image_url"]));
    }
}
