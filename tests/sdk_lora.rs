//! The Kontext LoRA endpoints and the trainer through the emulator: what
//! each request sends (snapshots), the typed outputs, a LoRA file uploaded
//! and visibly changing the output (its scale too), inpainting that leaves
//! the unmasked region alone, a training from a directory of pairs whose
//! weights the next edit uses, and bad input refused before anything is
//! sent.

mod common;

use std::path::Path;

use common::{builder, client, emulator, on, refused};
use fal_emulator::Route;
use fal_kontext::{Error, ImageSize, LoraFormat, OutputFormat};
use serde_json::Value;

const IMAGE: &str = "https://v3.fal.media/files/rabbit/rmgBxhwGYb2d3pl3x9sKf_output.png";
const LORA: &str = "https://v3.fal.media/files/koala/style/pytorch_lora_weights.safetensors";

/// The submit's path and body, each URL of an upload on the emulator's
/// CDN written as `<uploaded NAME>` (its token is random).
fn sent(emulator: &fal_emulator::Emulator) -> Value {
    let submits = on(emulator, Route::Submit);
    assert_eq!(submits.len(), 1, "exactly one submit");
    let mut body = submits[0].body.clone().expect("a JSON body");
    uploads_named(&mut body, emulator.cdn_url());
    serde_json::json!({"path": submits[0].path, "body": body})
}

fn uploads_named(value: &mut Value, cdn: &str) {
    match value {
        Value::String(text) if text.starts_with(cdn) => {
            let name = text.rsplit('/').next().unwrap_or_default();
            *text = format!("<uploaded {name}>");
        }
        Value::Array(items) => items.iter_mut().for_each(|v| uploads_named(v, cdn)),
        Value::Object(map) => map.values_mut().for_each(|v| uploads_named(v, cdn)),
        _ => {}
    }
}

/// A small, valid safetensors file.
fn safetensors(dir: &Path, name: &str, tag: &str) -> std::path::PathBuf {
    let header = format!(r#"{{"__metadata__":{{"tag":"{tag}"}}}}"#);
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A 64×48 PNG of a gradient (an output of the same size, so pixels compare one to one).
fn gradient(dir: &Path, name: &str, colour: impl Fn(u32, u32) -> [u8; 3]) -> std::path::PathBuf {
    let image = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb(colour(x, y)));
    let path = dir.join(name);
    image.save(&path).unwrap();
    path
}

/// The pixels of the first image of an output, fetched from the CDN.
async fn pixels(url: &str) -> image::RgbImage {
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    image::load_from_memory(&bytes).unwrap().to_rgb8()
}

#[tokio::test]
async fn a_lora_edit_with_every_field() {
    let emulator = emulator().await;
    client(&emulator)
        .lora_edit("Make it a watercolour", IMAGE)
        .lora(LORA, 0.8)
        .lora("https://example.com/second.safetensors", 1.5)
        .seed(7)
        .guidance_scale(0.0)
        .num_inference_steps(40)
        .num_images(2)
        .output_format(OutputFormat::Jpeg)
        .enable_safety_checker(false)
        .acceleration(fal_kontext::Acceleration::Regular)
        .resolution_mode(fal_kontext::ResolutionMode::Square1x1)
        .submit()
        .await
        .unwrap();
    insta::assert_json_snapshot!(sent(&emulator));
}

#[tokio::test]
async fn a_local_lora_file_is_uploaded_and_its_url_sent() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let file = safetensors(dir.path(), "mine.safetensors", "a");
    client(&emulator)
        .lora_edit("Make it a watercolour", IMAGE)
        .lora(file.as_path(), 1.0)
        .submit()
        .await
        .unwrap();
    let initiates = on(&emulator, Route::UploadInitiate);
    assert_eq!(initiates.len(), 1, "the LoRA file is uploaded");
    insta::assert_json_snapshot!(sent(&emulator));
}

#[tokio::test]
async fn text_to_image_and_inpaint_send_their_own_fields() {
    let emulator = emulator().await;
    client(&emulator)
        .lora_text_to_image("A lighthouse at dusk")
        .lora(LORA, 1.0)
        .image_size(ImageSize::Pixels {
            width: 1024,
            height: 512,
        })
        .submit()
        .await
        .unwrap();
    let text_to_image = sent(&emulator);
    let emulator = common::emulator().await;
    client(&emulator)
        .inpaint(
            "Put this sofa there",
            IMAGE,
            "https://example.com/mask.png",
            "https://example.com/sofa.png",
        )
        .strength(0.9)
        .submit()
        .await
        .unwrap();
    insta::assert_json_snapshot!(serde_json::json!({
        "text_to_image": text_to_image,
        "inpaint": sent(&emulator),
    }));
}

#[tokio::test]
async fn a_named_size_goes_as_fal_spells_it() {
    let emulator = emulator().await;
    client(&emulator)
        .lora_text_to_image("A red kite")
        .image_size(ImageSize::Landscape16x9)
        .submit()
        .await
        .unwrap();
    assert_eq!(sent(&emulator)["body"]["image_size"], "landscape_16_9");
}

#[tokio::test]
async fn a_lora_changes_the_image_and_so_does_its_scale() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let dir = tempfile::tempdir().unwrap();
    let image = gradient(dir.path(), "in.png", |x, y| {
        [(x * 4) as u8, (y * 5) as u8, 90]
    });
    let file = safetensors(dir.path(), "style.safetensors", "style");
    let mut urls = Vec::new();
    for scale in [None, Some(0.8), Some(2.0)] {
        let mut request = client
            .lora_edit("Make it a watercolour", image.as_path())
            .seed(3);
        if let Some(scale) = scale {
            request = request.lora(file.as_path(), scale);
        }
        let done = request.run().await.unwrap();
        assert_eq!(done.output.images.len(), 1);
        let first = &done.output.images[0];
        assert_eq!(
            first.content_type.as_deref(),
            Some("image/png"),
            "fal's LoRA default is PNG"
        );
        urls.push(first.url.clone());
    }
    let [plain, light, strong] = [&urls[0], &urls[1], &urls[2]];
    let (plain, light, strong) = (
        pixels(plain).await,
        pixels(light).await,
        pixels(strong).await,
    );
    assert_ne!(plain, light, "a LoRA changes the image");
    assert_ne!(light, strong, "its scale matters");
}

#[tokio::test]
async fn inpainting_leaves_the_unmasked_region_alone() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let image = gradient(dir.path(), "room.png", |x, y| {
        [(x * 4) as u8, (y * 5) as u8, 40]
    });
    // white = repaint: the left half
    let mask = gradient(dir.path(), "mask.png", |x, _| {
        if x < 32 { [255; 3] } else { [0; 3] }
    });
    let reference = gradient(dir.path(), "sofa.png", |_, _| [200, 30, 30]);
    let done = client(&emulator)
        .inpaint(
            "Put this sofa there",
            image.as_path(),
            mask.as_path(),
            reference.as_path(),
        )
        .seed(5)
        .run()
        .await
        .unwrap();
    let out = pixels(&done.output.images[0].url).await;
    let original = image::open(&image).unwrap().to_rgb8();
    assert_eq!(out.dimensions(), original.dimensions());
    for (x, y, pixel) in out.enumerate_pixels() {
        if x >= 32 {
            assert_eq!(pixel, original.get_pixel(x, y), "kept at ({x}, {y})");
        }
    }
    let repainted = (0..32).any(|x| out.get_pixel(x, 10) != original.get_pixel(x, 10));
    assert!(repainted, "the masked region is repainted");
}

/// Three pairs, one without a caption file.
fn pairs(dir: &Path) {
    for (root, colour) in [
        ("red", [200, 20, 20]),
        ("green", [20, 200, 20]),
        ("blue", [20, 20, 200]),
    ] {
        gradient(dir, &format!("{root}_start.png"), |x, _| [x as u8, 0, 0]);
        gradient(dir, &format!("{root}_end.png"), |_, _| colour);
    }
    std::fs::write(dir.join("red.txt"), "Paint it red").unwrap();
    std::fs::write(dir.join("green.txt"), "Paint it green").unwrap();
}

#[tokio::test]
async fn a_directory_of_pairs_trains_and_its_lora_edits() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("pairs");
    std::fs::create_dir(&data).unwrap();
    pairs(&data);
    let done = client
        .train(data.as_path())
        .steps(500)
        .default_caption("Paint it")
        .lora_format(LoraFormat::Fal)
        .run()
        .await
        .unwrap();
    let mut request = sent(&emulator);
    request["body"]["image_data_url"] = "<uploaded zip>".into();
    insta::assert_json_snapshot!("train_request", request);
    let uploaded = on(&emulator, Route::UploadPut);
    assert_eq!(uploaded.len(), 1, "the zip, uploaded once");

    let out = dir.path().join("lora");
    let saved = client
        .download_lora(&done.output, &out, &done.request_id)
        .await
        .unwrap();
    let weights = std::fs::read(&saved.weights).unwrap();
    let header = u64::from_le_bytes(weights[..8].try_into().unwrap()) as usize;
    let meta: Value = serde_json::from_slice(&weights[8..8 + header]).unwrap();
    assert_eq!(
        meta["__metadata__"]["pairs"], "3",
        "the three pairs were read"
    );
    assert_eq!(meta["__metadata__"]["steps"], "500");
    let config: Value =
        serde_json::from_slice(&std::fs::read(saved.config.unwrap()).unwrap()).unwrap();
    assert_eq!(config["default_caption"], "Paint it");

    let edited = client
        .lora_edit("Paint it", Path::new(common::SAMPLE))
        .lora(saved.weights.as_path(), 0.8)
        .run()
        .await
        .unwrap();
    assert_eq!(edited.output.images.len(), 1);
}

#[tokio::test]
async fn trained_and_lora_outputs_decode_typed() {
    let trained: fal_kontext::TrainOutput = serde_json::from_value(serde_json::json!({
        "diffusers_lora_file": {"url": "https://v3.fal.media/files/x/pytorch_lora_weights.safetensors",
                                "content_type": "application/octet-stream", "file_name": "pytorch_lora_weights.safetensors",
                                "file_size": 89745224, "something_new": 1},
        "config_file": {"url": "https://v3.fal.media/files/x/config.json"}
    }))
    .unwrap();
    // the weights alone: a missing config does not lose a paid training
    let lean: fal_kontext::TrainOutput = serde_json::from_value(serde_json::json!({
        "diffusers_lora_file": {"url": "https://v3.fal.media/files/x/w.safetensors"}
    }))
    .unwrap();
    let edited: fal_kontext::LoraEditOutput = serde_json::from_value(serde_json::json!({
        "images": [{"url": "https://v3.fal.media/files/x/out.png", "width": 1024, "height": 768,
                    "content_type": "image/png"}],
        "seed": 42, "has_nsfw_concepts": [false], "prompt": "p", "timings": {"inference": 2.1}
    }))
    .unwrap();
    insta::assert_json_snapshot!(serde_json::json!({
        "trained": trained, "lean": lean, "edited": edited,
    }));
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_sent() {
    let emulator = emulator().await;
    let client = builder(&emulator).inline_limit(0).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lora = safetensors(dir.path(), "ok.safetensors", "ok");

    let error = client
        .lora_edit("p", common::SAMPLE)
        .lora(lora.as_path(), 5.0)
        .submit()
        .await
        .unwrap_err();
    refused(&emulator, error, "loras.scale", "must be from 0 to 4");
    let error = client
        .lora_edit("p", IMAGE)
        .guidance_scale(21.0)
        .submit()
        .await
        .unwrap_err();
    refused(&emulator, error, "guidance_scale", "must be from 0 to 20");
    let error = client
        .lora_text_to_image("p")
        .num_inference_steps(60)
        .submit()
        .await
        .unwrap_err();
    refused(
        &emulator,
        error,
        "num_inference_steps",
        "must be from 10 to 50",
    );
    let error = client
        .inpaint("p", IMAGE, IMAGE, IMAGE)
        .strength(0.0)
        .submit()
        .await
        .unwrap_err();
    refused(&emulator, error, "strength", "must be from 0.01 to 1");
    let error = client
        .lora_text_to_image("p")
        .image_size(ImageSize::Pixels {
            width: 20000,
            height: 16,
        })
        .submit()
        .await
        .unwrap_err();
    refused(
        &emulator,
        error,
        "image_size.width",
        "must be from 1 to 14142",
    );
    let not_weights = dir.path().join("notes.safetensors");
    std::fs::write(&not_weights, "hello").unwrap();
    let error = client
        .lora_edit("p", common::SAMPLE)
        .lora(not_weights.as_path(), 1.0)
        .submit()
        .await
        .unwrap_err();
    refused(&emulator, error, "loras", ".safetensors file");
    let error = client.train(IMAGE).steps(1).submit().await.unwrap_err();
    refused(&emulator, error, "steps", "must be from 2 to 10000");
    let error = client.train(IMAGE).seed(1).submit().await.unwrap_err();
    refused(
        &emulator,
        error,
        "seed",
        "is not a field of fal-ai/flux-kontext-trainer",
    );

    // the pairs' layout, named by file
    let data = dir.path().join("pairs");
    std::fs::create_dir(&data).unwrap();
    pairs(&data);
    let error = client.train(data.as_path()).submit().await.unwrap_err();
    refused(
        &emulator,
        error,
        "default_caption",
        "the pair `blue` has no caption",
    );
    std::fs::remove_file(data.join("red_end.png")).unwrap();
    let error = client
        .train(data.as_path())
        .default_caption("x")
        .submit()
        .await
        .unwrap_err();
    refused(&emulator, error, "image_data_url", "has no `red_end.EXT`");

    // a missing mask is an I/O error naming it, still with nothing sent
    let missing = dir.path().join("mask.png");
    let error = client
        .inpaint("p", common::SAMPLE, missing.as_path(), common::SAMPLE)
        .submit()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Io { path, .. } if *path == missing),
        "{error:?}"
    );
    assert!(emulator.requests().is_empty());
}
