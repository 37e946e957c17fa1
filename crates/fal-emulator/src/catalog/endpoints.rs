//! The endpoints the emulator serves, read from the vendored OpenAPI
//! documents (the workspace's `openapi/`, linked into this package and
//! embedded by `build.rs`), so that validation and output shapes follow the
//! very documents the client is generated from.

use std::sync::LazyLock;

use serde_json::Value;

use crate::catalog::validation::InputValidator;

/// `(endpoint id, raw document)` for each line of `openapi/endpoints.txt`.
static DOCUMENTS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/documents.rs"));

static ENDPOINTS: LazyLock<Vec<Endpoint>> = LazyLock::new(|| {
    DOCUMENTS
        .iter()
        .map(|(id, text)| Endpoint::from_document(id, text))
        .collect()
});

/// fal's Platform APIs document (the prices and estimate operations), byte
/// for byte: `cargo xtask regen` reads it from where fal's docs site serves it.
pub(crate) static PLATFORM_DOCUMENT: &str =
    include_str!("../../openapi/fal-platform-apis__v1.json");

/// Where fal's docs site, and the emulator's queue origin, serve [`PLATFORM_DOCUMENT`].
pub(crate) const PLATFORM_DOCUMENT_PATH: &str = "/api-reference/platform-apis/openapi/v1.json";

/// The trainer's endpoint id: its output is a LoRA file, not images.
pub(crate) const TRAINER: &str = "fal-ai/flux-kontext-trainer";

/// fal's app namespaces: an id in one of them has three app segments, not two.
const NAMESPACES: [&str; 2] = ["workflows", "comfy"];

/// One fal endpoint, as its document describes it.
pub(crate) struct Endpoint {
    /// `fal-ai/flux-pro/kontext`.
    pub(crate) id: &'static str,
    /// The vendored document, byte for byte.
    pub(crate) document: &'static str,
    /// The app's root (`fal-ai/flux-pro`): where the queue's request URLs live.
    pub(crate) app_root: String,
    /// The input schema (an object schema with `properties`).
    input: Value,
    /// The fields of one output image, in the document's order.
    image_fields: Vec<String>,
    pub(crate) validator: InputValidator,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Endpoint").field(&self.id).finish()
    }
}

/// All endpoints, in `endpoints.txt` order.
pub(crate) fn all() -> &'static [Endpoint] {
    &ENDPOINTS
}

/// The endpoint with this id (leading and trailing slashes ignored).
pub(crate) fn find(id: &str) -> Option<&'static Endpoint> {
    let id = id.trim_matches('/');
    all().iter().find(|endpoint| endpoint.id == id)
}

/// The app root of an endpoint id: its first two segments, three inside a
/// namespace.
pub(crate) fn app_root(id: &str) -> String {
    let segments: Vec<&str> = id.trim_matches('/').split('/').collect();
    let take = if NAMESPACES.contains(&segments[0]) {
        3
    } else {
        2
    };
    segments[..take.min(segments.len())].join("/")
}

impl Endpoint {
    fn from_document(id: &'static str, text: &'static str) -> Self {
        let document: Value = serde_json::from_str(text)
            .unwrap_or_else(|error| panic!("openapi document of {id} is not JSON: {error}"));
        let post = &document["paths"][format!("/{id}")]["post"];
        let input_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("openapi document of {id}: no input schema at POST /{id}"));
        let result = &document["paths"][format!("/{id}/requests/{{request_id}}")]["get"];
        let output = resolve(
            &document,
            &result["responses"]["200"]["content"]["application/json"]["schema"],
        );
        let image = resolve(&document, &output["properties"]["images"]["items"]);
        let image_fields = match image["x-fal-order-properties"].as_array() {
            Some(order) => order
                .iter()
                .filter_map(|field| field.as_str().map(str::to_owned))
                .collect(),
            None => image["properties"]
                .as_object()
                .map(|fields| fields.keys().cloned().collect())
                .unwrap_or_default(),
        };
        let input = resolve(&document, &serde_json::json!({"$ref": input_ref})).clone();
        Self {
            id,
            document: text,
            app_root: app_root(id),
            validator: InputValidator::new(&document, input_ref),
            input,
            image_fields,
        }
    }

    /// The schema of one input field.
    pub(crate) fn input_field(&self, name: &str) -> Option<&Value> {
        self.input["properties"].get(name)
    }

    /// The document's default for an input field.
    pub(crate) fn input_default(&self, name: &str) -> Option<&Value> {
        self.input_field(name)?.get("default")
    }

    /// The fields an output image carries, per the output schema.
    pub(crate) fn image_fields(&self) -> &[String] {
        &self.image_fields
    }
}

/// Follows a local `#/components/schemas/…` reference (one level).
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => reference
            .strip_prefix("#/")
            .map(|pointer| format!("/{pointer}"))
            .and_then(|pointer| document.pointer(&pointer))
            .unwrap_or(&Value::Null),
        None => schema,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vendored_endpoint_loads() {
        assert!(all().len() >= 7, "{} endpoints", all().len());
        // the trainer takes pairs, not a prompt, and answers files, not images
        for endpoint in all().iter().filter(|e| e.id != TRAINER) {
            assert!(endpoint.input_field("prompt").is_some(), "{}", endpoint.id);
            assert!(
                endpoint.image_fields().iter().any(|field| field == "url"),
                "{}",
                endpoint.id
            );
        }
    }

    #[test]
    fn every_output_image_has_the_size_megapixel_billing_reads() {
        for endpoint in all().iter().filter(|e| e.id != TRAINER) {
            for field in ["width", "height"] {
                assert!(
                    endpoint.image_fields().iter().any(|name| name == field),
                    "{}: no {field}",
                    endpoint.id
                );
            }
        }
    }

    #[test]
    fn the_platform_document_describes_both_pricing_operations() {
        let document: Value = serde_json::from_str(PLATFORM_DOCUMENT).expect("JSON");
        assert!(document["paths"]["/models/pricing"]["get"].is_object());
        assert!(document["paths"]["/models/pricing/estimate"]["post"].is_object());
    }

    #[test]
    fn app_roots_follow_fal_clients() {
        assert_eq!(
            app_root("fal-ai/flux-pro/kontext/max/multi"),
            "fal-ai/flux-pro"
        );
        assert_eq!(app_root("fal-ai/flux-kontext/dev"), "fal-ai/flux-kontext");
        assert_eq!(app_root("workflows/me/flow/run"), "workflows/me/flow");
    }

    #[test]
    fn find_ignores_slashes() {
        assert_eq!(
            find("/fal-ai/flux-pro/kontext/").map(|e| e.id),
            Some("fal-ai/flux-pro/kontext")
        );
        assert!(find("fal-ai/flux-pro").is_none());
    }
}
