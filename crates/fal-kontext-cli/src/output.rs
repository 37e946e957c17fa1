//! What goes to stdout: the saved paths, one per line, or with `--json` one
//! document (fal's output with each image's local `path` added). Progress
//! and logs never go here.

use std::io::Write;
use std::path::{Path, PathBuf};

use fal_kontext::{ImageRef, Images};
use serde_json::{Value, json};

/// Any endpoint's output, kept exactly as fal sent it: `result` and batch
/// jobs read requests by id, without a typed request to name the output type.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct AnyOutput(pub Value);

impl Images for AnyOutput {
    fn images(&self) -> Vec<ImageRef<'_>> {
        let images = self.0.get("images").and_then(Value::as_array);
        images
            .into_iter()
            .flatten()
            .filter_map(|image| {
                Some(ImageRef {
                    url: image.get("url")?.as_str()?,
                    content_type: image.get("content_type").and_then(Value::as_str),
                    width: image.get("width").and_then(Value::as_i64),
                    height: image.get("height").and_then(Value::as_i64),
                })
            })
            .collect()
    }
}

/// The `--json` document of one finished request: fal's output, each image
/// with the `path` it was saved to, and the request's id and endpoint.
pub fn document(request_id: &str, endpoint: &str, output: Value, paths: &[PathBuf]) -> Value {
    let mut document = match with_paths(output, paths) {
        Value::Object(map) => map,
        other => [("output".to_string(), other)].into_iter().collect(),
    };
    document.insert("request_id".into(), json!(request_id));
    document.insert("endpoint".into(), json!(endpoint));
    Value::Object(document)
}

/// fal's output with each image's local `path` added.
pub fn with_paths(mut output: Value, paths: &[PathBuf]) -> Value {
    if let Some(Value::Array(images)) = output.get_mut("images") {
        for (image, path) in images.iter_mut().zip(paths) {
            if let Value::Object(image) = image {
                image.insert("path".into(), json!(path));
            }
        }
    }
    output
}

/// Checks a file-name stem (`--name`, a batch id) by the SDK's rule
/// ([`fal_kontext::check_file_stem`]), so that it names a file inside `--out`.
pub fn check_stem(stem: &str) -> Result<(), String> {
    fal_kontext::check_file_stem(stem).map_err(|error| match error {
        fal_kontext::Error::InvalidInput { value, rule, .. } => format!("`{value}` {rule}"),
        other => other.to_string(),
    })
}

/// Prints one JSON document on stdout.
pub fn print_json(document: &Value) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe is the reader's choice, not an error worth a panic.
    let _ = serde_json::to_writer_pretty(&mut stdout, document);
    let _ = writeln!(stdout);
}

/// Prints paths on stdout, one per line.
pub fn print_paths<P: AsRef<Path>>(paths: impl IntoIterator<Item = P>) {
    let mut stdout = std::io::stdout().lock();
    for path in paths {
        let _ = writeln!(stdout, "{}", path.as_ref().display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_output_lists_the_images_of_every_shape() {
        let output = AnyOutput(json!({
            "images": [
                {"url": "https://cdn/a.png", "width": 4, "height": 3, "content_type": "image/png"},
                {"url": "https://cdn/b.jpg"},
                {"no_url": true}
            ],
            "seed": 1
        }));
        let images = output.images();
        assert_eq!(images.len(), 2);
        assert_eq!(images[0].url, "https://cdn/a.png");
        assert_eq!(images[0].width, Some(4));
        assert_eq!(images[1].content_type, None);
    }

    #[test]
    fn stems_stay_inside_the_output_directory() {
        assert!(check_stem("a1").is_ok());
        assert!(check_stem("shot_2.v3-final").is_ok());
        for bad in ["", "../up", "a/b", ".hidden", "sp ace"] {
            assert!(check_stem(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_document_adds_paths_and_the_request() {
        let output = json!({"images": [{"url": "u1"}, {"url": "u2"}], "seed": 7});
        let paths = [PathBuf::from("out/r-1.png"), PathBuf::from("out/r-2.png")];
        let document = document("r", "fal-ai/flux-pro/kontext", output, &paths);
        assert_eq!(document["images"][1]["path"], "out/r-2.png");
        assert_eq!(document["seed"], 7);
        assert_eq!(document["request_id"], "r");
        assert_eq!(document["endpoint"], "fal-ai/flux-pro/kontext");
    }
}
