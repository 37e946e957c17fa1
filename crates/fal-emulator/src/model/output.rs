//! What an endpoint answers, from its input: reads the input the way the
//! endpoint's schema describes it (defaults from the document), renders
//! `num_images` variants with `render.rs` (and the LoRAs of `lora.rs`),
//! stores them on the CDN (or inlines them as data URIs with `sync_mode`),
//! and builds an output with exactly the image fields the endpoint's output
//! schema lists. The trainer's output is `trainer.rs`'s.

use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::fetch::{self, DownloadError, Source, digest};
use super::render::{self, Format, Sizing};
use crate::catalog::endpoints::{self, Endpoint};
use crate::rng::fnv1a;
use crate::state::Shared;
use crate::state::storage::StoredFile;

/// Runs the model; `Err` is the app's 422 `detail` list.
pub(crate) async fn generate(
    shared: &Shared,
    endpoint: &'static Endpoint,
    input: &Value,
    seed: u64,
    seconds: f64,
) -> Result<Value, Vec<Value>> {
    if endpoint.id == endpoints::TRAINER {
        return super::trainer::train(shared, input).await;
    }
    let setting = |name: &str| {
        input
            .get(name)
            .filter(|value| !value.is_null())
            .or_else(|| endpoint.input_default(name))
    };
    let prompt = input["prompt"].as_str().unwrap_or_default().to_owned();
    let count = setting("num_images")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .clamp(1, 8);
    let format = setting("output_format")
        .and_then(Value::as_str)
        .and_then(Format::parse)
        .unwrap_or(Format::Jpeg);
    let sync_mode = setting("sync_mode")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let sizing = setting("resolution_mode")
        .or_else(|| setting("aspect_ratio"))
        .and_then(Value::as_str)
        .and_then(Sizing::parse)
        .or_else(|| setting("image_size").and_then(Sizing::of_image_size))
        .unwrap_or(Sizing::MatchInput);

    let sources = load_inputs(shared, input).await?;
    let loras = super::lora::load(shared, input).await?;
    let mut digests: Vec<u64> = sources.iter().map(|(_, source)| digest(source)).collect();
    digests.extend(loras.iter().map(|lora| lora.key()));
    let mut inputs = decode_inputs(sources).await?;
    let size = render::output_size(sizing, inputs.first().map(|image| image.dimensions()));
    // Inpainting: the reference is what the masked region is painted
    // from; the image and the mask say where.
    let inpaint = if input.get("mask_url").is_some() && inputs.len() == 3 {
        let reference = inputs.pop().expect("three inputs");
        let mask = inputs.pop().expect("three inputs");
        let original = std::mem::replace(&mut inputs, vec![reference]).remove(0);
        Some((original, mask))
    } else {
        None
    };
    let inputs = std::sync::Arc::new(inputs);
    let inpaint = std::sync::Arc::new(inpaint);
    let loras = std::sync::Arc::new(loras);

    let mut outputs = Vec::new();
    for variant in 0..count {
        let variant_seed = seed.wrapping_add(variant);
        let key = output_key(&digests, &prompt, variant_seed, size, format);
        let bytes = match shared.files.get(&key) {
            // Same inputs, same seed: same bytes, rendered once.
            Some(file) => file.bytes,
            None => {
                let (inputs, inpaint, loras) = (inputs.clone(), inpaint.clone(), loras.clone());
                let prompt = prompt.clone();
                let bytes = tokio::task::spawn_blocking(move || {
                    let mut image = render::render(&inputs, &prompt, variant_seed, size);
                    super::lora::apply(&mut image, &loras);
                    if let Some((original, mask)) = inpaint.as_ref() {
                        image = super::lora::inpaint(original, mask, &image);
                    }
                    render::encode(&image, format)
                })
                .await
                .expect("rendering does not panic");
                let bytes = Bytes::from(bytes);
                shared.files.put(
                    key.clone(),
                    StoredFile {
                        bytes: bytes.clone(),
                        content_type: format.content_type().to_owned(),
                    },
                );
                bytes
            }
        };
        let url = if sync_mode {
            format!(
                "data:{};base64,{}",
                format.content_type(),
                base64::engine::general_purpose::STANDARD.encode(&bytes)
            )
        } else {
            format!("{}/files/{key}", shared.urls.cdn)
        };
        let file_name = key.rsplit('/').next().unwrap_or(&key).to_owned();
        outputs.push(image_object(
            endpoint,
            url,
            format,
            &file_name,
            bytes.len(),
            size,
        ));
    }

    // The seed answered is the one asked for, as given: a negative seed
    // renders from its two's-complement bits but is never sent back as a
    // huge unsigned number that a client reading a signed seed cannot take.
    let answered_seed = input
        .get("seed")
        .filter(|given| given.is_i64() || given.is_u64())
        .cloned()
        .unwrap_or_else(|| json!(seed));
    Ok(json!({
        "images": outputs,
        "timings": {"inference": seconds},
        "seed": answered_seed,
        "has_nsfw_concepts": vec![false; outputs.len()],
        "prompt": prompt,
    }))
}

/// The image URLs of the input with their `loc`, fetched.
async fn load_inputs(shared: &Shared, input: &Value) -> Result<Vec<(Value, Source)>, Vec<Value>> {
    let mut urls = Vec::new();
    if let Some(url) = input["image_url"].as_str() {
        urls.push((json!(["body", "image_url"]), url));
    }
    if let Some(list) = input["image_urls"].as_array() {
        for (index, url) in list.iter().enumerate() {
            if let Some(url) = url.as_str() {
                urls.push((json!(["body", "image_urls", index]), url));
            }
        }
    }
    for field in ["mask_url", "reference_image_url"] {
        if let Some(url) = input[field].as_str() {
            urls.push((json!(["body", field]), url));
        }
    }
    let mut sources = Vec::new();
    for (loc, url) in urls {
        match fetch::load(shared, url).await {
            Ok(source) => sources.push((loc, source)),
            Err(DownloadError) => {
                return Err(vec![json!({
                    "loc": loc,
                    "msg": "Failed to download the file. Please check if the URL is accessible.",
                    "type": "file_download_error",
                    "input": if url.len() > 200 { Value::Null } else { json!(url) },
                })]);
            }
        }
    }
    Ok(sources)
}

async fn decode_inputs(sources: Vec<(Value, Source)>) -> Result<Vec<image::RgbImage>, Vec<Value>> {
    tokio::task::spawn_blocking(move || {
        sources
            .into_iter()
            .map(|(loc, source)| match source {
                Source::Bytes(bytes) => render::decode(&bytes).map_err(|_| {
                    vec![json!({
                        "loc": loc,
                        "msg": "Failed to load the image. Please ensure the image file is valid.",
                        "type": "image_load_error",
                    })]
                }),
                Source::Placeholder(url) => Ok(render::placeholder(&url)),
            })
            .collect()
    })
    .await
    .expect("decoding does not panic")
}

/// The CDN key of one output: content-addressed by everything that shapes it.
fn output_key(
    digests: &[u64],
    prompt: &str,
    seed: u64,
    size: (u32, u32),
    format: Format,
) -> String {
    let inputs: Vec<u8> = digests.iter().flat_map(|d| d.to_le_bytes()).collect();
    let hash = fnv1a(&[
        &inputs,
        prompt.as_bytes(),
        &seed.to_le_bytes(),
        &size.0.to_le_bytes(),
        &size.1.to_le_bytes(),
        format.extension().as_bytes(),
    ]);
    format!("out/{hash:016x}.{}", format.extension())
}

/// One output image with the fields the endpoint's output schema lists.
fn image_object(
    endpoint: &Endpoint,
    url: String,
    format: Format,
    file_name: &str,
    file_size: usize,
    (width, height): (u32, u32),
) -> Value {
    let mut image = Map::new();
    for field in endpoint.image_fields() {
        let value = match field.as_str() {
            "url" => json!(url),
            "content_type" => json!(format.content_type()),
            "file_name" => json!(file_name),
            "file_size" => json!(file_size),
            "width" => json!(width),
            "height" => json!(height),
            _ => continue,
        };
        image.insert(field.clone(), value);
    }
    Value::Object(image)
}
