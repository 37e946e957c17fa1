//! The simulated `fal-ai/flux-kontext-trainer`: fetches the zip of pairs,
//! checks fal's layout (<https://fal.ai/models/fal-ai/flux-kontext-trainer/api>,
//! `image_data_url`: `ROOT_start.EXT` with `ROOT_end.EXT`, an optional
//! `ROOT.txt` caption, `default_caption` for pairs without one, the
//! training failing without either), and answers a small, valid
//! `.safetensors` file and a config JSON on its CDN, both drawn from the
//! zip and the settings, so the same training gives the same files.

use std::collections::BTreeSet;
use std::io::Cursor;

use bytes::Bytes;
use serde_json::{Value, json};

use super::fetch::{self, DownloadError, Source};
use crate::rng::fnv1a;
use crate::state::Shared;
use crate::state::storage::StoredFile;

/// Trains; `Err` is the app's 422 `detail` list.
pub(crate) async fn train(shared: &Shared, input: &Value) -> Result<Value, Vec<Value>> {
    let url = input["image_data_url"].as_str().unwrap_or_default();
    let source = fetch::load(shared, url).await.map_err(|DownloadError| {
        detail(
            "Failed to download the file. Please check if the URL is accessible.",
            "file_download_error",
        )
    })?;
    let has_default = input["default_caption"]
        .as_str()
        .is_some_and(|caption| !caption.trim().is_empty());
    let (pairs, zip_digest) = match &source {
        Source::Bytes(bytes) => (check_zip(bytes, has_default)?, fnv1a(&[bytes])),
        // A zip off this machine is not fetched: trained as one pair.
        Source::Placeholder(url) => (1, fnv1a(&[url.as_bytes()])),
    };
    let steps = input["steps"].as_u64().unwrap_or(1000);
    let format = input["output_lora_format"].as_str().unwrap_or("fal");
    let config = json!({
        "steps": steps,
        "learning_rate": input["learning_rate"].as_f64().unwrap_or(0.0001),
        "default_caption": input["default_caption"],
        "output_lora_format": format,
        "pairs": pairs,
    });
    let key = fnv1a(&[&zip_digest.to_le_bytes(), config.to_string().as_bytes()]);
    let weights = safetensors(key, steps, pairs, format);
    let config = Bytes::from(serde_json::to_vec_pretty(&config).expect("JSON"));
    Ok(json!({
        "diffusers_lora_file": store(shared, key, "pytorch_lora_weights.safetensors", "application/octet-stream", weights),
        "config_file": store(shared, key, "config.json", "application/json", config),
    }))
}

fn detail(msg: &str, kind: &str) -> Vec<Value> {
    vec![json!({"loc": ["body", "image_data_url"], "msg": msg, "type": kind})]
}

/// The number of pairs of a zip laid out as fal reads it.
fn check_zip(bytes: &[u8], has_default: bool) -> Result<usize, Vec<Value>> {
    let invalid = |msg: String| detail(&msg, "value_error");
    let archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|_| invalid("The training data is not a zip archive.".into()))?;
    let (mut starts, mut ends, mut captions) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for name in archive.file_names() {
        let Some((stem, ext)) = name.rsplit_once('.') else {
            continue;
        };
        if ext == "txt" {
            captions.insert(stem.to_owned());
        } else if let Some(root) = stem.strip_suffix("_start") {
            starts.insert(root.to_owned());
        } else if let Some(root) = stem.strip_suffix("_end") {
            ends.insert(root.to_owned());
        }
    }
    if let Some(root) = starts.symmetric_difference(&ends).next() {
        return Err(invalid(format!(
            "The pair `{root}` needs both {root}_start and {root}_end images."
        )));
    }
    if starts.is_empty() {
        return Err(invalid("No image pairs found in the training data.".into()));
    }
    if !has_default && let Some(root) = starts.iter().find(|root| !captions.contains(*root)) {
        return Err(invalid(format!(
            "No caption for `{root}`: add {root}.txt or set default_caption."
        )));
    }
    Ok(starts.len())
}

/// A small, valid safetensors file: the header's length (8 bytes, little
/// endian), the JSON header, one tensor of four `F32`s drawn from `key`.
fn safetensors(key: u64, steps: u64, pairs: usize, format: &str) -> Bytes {
    let header = json!({
        "__metadata__": {"format": "pt", "trainer": "fal-emulator", "steps": steps.to_string(),
                         "pairs": pairs.to_string(), "output_lora_format": format},
        "lora_A": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
    })
    .to_string();
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    for i in 0..4u64 {
        let value = (fnv1a(&[&key.to_le_bytes(), &i.to_le_bytes()]) % 1000) as f32 / 1000.0;
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    Bytes::from(bytes)
}

/// Stores a file on the CDN; the output's `File` object.
fn store(shared: &Shared, key: u64, name: &str, content_type: &str, bytes: Bytes) -> Value {
    let path = format!("trained/{key:016x}/{name}");
    let size = bytes.len();
    shared.files.put(
        path.clone(),
        StoredFile {
            bytes,
            content_type: content_type.to_owned(),
        },
    );
    json!({
        "url": format!("{}/files/{path}", shared.urls.cdn),
        "content_type": content_type,
        "file_name": name,
        "file_size": size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(names: &[&str]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for name in names {
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            writer.start_file(*name, options).unwrap();
            writer.write_all(b"x").unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn the_layout_is_checked_as_fal_reads_it() {
        let good = zip_of(&[
            "a_start.png",
            "a_end.png",
            "a.txt",
            "b_start.png",
            "b_end.png",
        ]);
        assert_eq!(check_zip(&good, true), Ok(2));
        let error = check_zip(&good, false).unwrap_err();
        assert!(
            error[0]["msg"].as_str().unwrap().contains("`b`"),
            "{error:?}"
        );
        let lone = zip_of(&["a_start.png", "a.txt"]);
        assert!(
            check_zip(&lone, true).unwrap_err()[0]["msg"]
                .as_str()
                .unwrap()
                .contains("a_end")
        );
        assert!(check_zip(b"not a zip", true).is_err());
    }

    #[test]
    fn the_weights_are_a_valid_safetensors_file() {
        let bytes = safetensors(1, 1000, 3, "fal");
        let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let parsed: Value = serde_json::from_slice(&bytes[8..8 + header]).unwrap();
        assert_eq!(parsed["lora_A"]["data_offsets"], json!([0, 16]));
        assert_eq!(bytes.len(), 8 + header + 16);
        assert_ne!(safetensors(2, 1000, 3, "fal"), bytes, "drawn from the key");
    }
}
