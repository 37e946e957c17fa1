//! Steps that fix the answers a client decodes (a result, a cancel): fal
//! sends less than its documents require and other shapes than they
//! declare, and a finished, paid job must never fail to decode; nor may a
//! client invent a value fal did not send, or pin a default fal applies.

use serde_json::{Map, Value, json};

use super::document::{QueuePath, operation, schemas};
use super::step::Found;
use crate::regen::endpoints::Endpoint;

/// A field with a `default` becomes a non-optional field in the generated
/// type. In a request that would send every default: fal applies its own
/// defaults to fields left out, and a client should not pin them. In an
/// answer it would invent a value fal did not send (an image without
/// `content_type` would read as `image/jpeg`). So every default moves into
/// the field's documentation, and the field stays optional. A document
/// without defaults has nothing to move.
pub(super) fn defaults_to_docs(doc: &mut Value, _: &Endpoint) -> Found {
    let Some(schemas) = schemas(doc) else {
        return Found::Missing("`components.schemas`");
    };
    let mut moved = false;
    for schema in schemas.values_mut() {
        let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for property in properties.values_mut().filter_map(Value::as_object_mut) {
            if let Some(default) = property.remove("default") {
                moved = true;
                let description = property
                    .get("description")
                    .and_then(Value::as_str)
                    .map(|d| format!("{}\n\n", d.trim()))
                    .unwrap_or_default();
                property.insert(
                    "description".into(),
                    Value::String(format!("{description}Default on fal's side: `{default}`.")),
                );
            }
        }
    }
    Found::by_change(moved)
}

/// fal's documents require every field of an output (`seed`, `timings`,
/// `has_nsfw_concepts`, `prompt`) and, for some endpoints, an image's
/// `width` and `height`; yet fal's own published example response of
/// `fal-ai/flux-pro/kontext` has only `images` (each with `url`, `width`,
/// `height`) and `prompt` (<https://fal.ai/models/fal-ai/flux-pro/kontext/llms.txt>). A finished
/// job must never fail on a missing field: an output requires only `images`,
/// and an image only its `url`. The output is the result's answer; its
/// images, the items of `images`.
pub(super) fn output_needs_only_image_urls(doc: &mut Value, endpoint: &Endpoint) -> Found {
    let reference = |value: Option<&Value>| {
        value
            .and_then(|v| v.get("$ref"))
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .map(str::to_owned)
    };
    let output = operation(doc, endpoint, QueuePath::Result, "get").and_then(|op| {
        reference(
            op.get("responses")
                .and_then(|r| r.pointer("/200/content/application~1json/schema")),
        )
    });
    let Some(output) = output else {
        return Found::Missing("the output schema of the result operation");
    };
    let Some(schemas) = schemas(doc) else {
        return Found::Missing("the schemas");
    };
    if let Some(weights) = schemas
        .get(&output)
        .and_then(|o| o.pointer("/properties/diffusers_lora_file"))
    {
        return trained_output_needs_only_weights(schemas, &output, weights.clone(), &reference);
    }
    let image = reference(
        schemas
            .get(&output)
            .and_then(|o| o.pointer("/properties/images/items")),
    );
    let Some(image) = image.filter(|image| schemas.contains_key(image)) else {
        return Found::Missing("the image schema of the output's `images`");
    };
    let mut changed = false;
    for (schema, required) in [(output, json!(["images"])), (image, json!(["url"]))] {
        if let Some(schema) = schemas.get_mut(&schema) {
            changed |= schema.get("required") != Some(&required);
            schema["required"] = required;
        }
    }
    Found::by_change(changed)
}

/// The same rule for a trainer's output, which holds files, not images
/// (`fal-ai/flux-kontext-trainer`: `diffusers_lora_file` and `config_file`,
/// <https://fal.ai/models/fal-ai/flux-kontext-trainer/api>): what a client
/// needs of a finished, paid training is the weights, so the output requires
/// only `diffusers_lora_file` (a missing `config_file` must not lose them),
/// and a file only its `url`.
fn trained_output_needs_only_weights(
    schemas: &mut Map<String, Value>,
    output: &str,
    weights: Value,
    reference: &dyn Fn(Option<&Value>) -> Option<String>,
) -> Found {
    let file = reference(Some(&weights)).or_else(|| reference(weights.pointer("/allOf/0")));
    let Some(file) = file.filter(|file| schemas.contains_key(file)) else {
        return Found::Missing("the file schema of the output's `diffusers_lora_file`");
    };
    let mut changed = false;
    for (schema, required) in [
        (output.to_owned(), json!(["diffusers_lora_file"])),
        (file, json!(["url"])),
    ] {
        if let Some(schema) = schemas.get_mut(&schema) {
            changed |= schema.get("required") != Some(&required);
            schema["required"] = required;
        }
    }
    Found::by_change(changed)
}

/// The live cancel call answers `202` with `{"status": "CANCELLATION_REQUESTED"}`
/// and `400` with `{"status": "ALREADY_COMPLETED"}`; the documents declare a
/// `200` with `{"success": …}`. Both shapes become one named schema.
pub(super) fn cancel_answers_as_served(doc: &mut Value, endpoint: &Endpoint) -> Found {
    let before = doc.clone();
    let Some(op) = operation(doc, endpoint, QueuePath::Cancel, "put") else {
        return Found::Missing("the cancel operation (`PUT …/requests/{request_id}/cancel`)");
    };
    let answer = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CancelStatus"}}}
        })
    };
    op.insert(
        "responses".into(),
        json!({
            "200": answer("The request was cancelled."),
            "202": answer("Cancellation was requested."),
            "400": answer("The request had already completed."),
        }),
    );
    let Some(schemas) = schemas(doc) else {
        return Found::Missing("`components.schemas`");
    };
    schemas.insert(
        "CancelStatus".into(),
        json!({
            "type": "object",
            "description": "The answer to a cancel call.",
            "properties": {
                "status": {
                    "type": "string",
                    "nullable": true,
                    "description": "`CANCELLATION_REQUESTED`, `ALREADY_COMPLETED` or `NOT_FOUND`."
                },
                "success": {"type": "boolean", "nullable": true, "description": "Whether the request was cancelled."}
            }
        }),
    );
    Found::by_change(*doc != before)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regen::normalize::fixtures::{document, kontext};

    #[test]
    fn defaults_move_into_the_docs() {
        let mut doc = document();
        doc["components"]["schemas"]["Out"] =
            json!({"properties": {"content_type": {"type": "string", "default": "image/jpeg"}}});
        defaults_to_docs(&mut doc, &kontext());
        let answer = &doc["components"]["schemas"]["Out"]["properties"]["content_type"];
        assert_eq!(
            answer.get("default"),
            None,
            "answers get no invented values"
        );
        assert_eq!(
            answer["description"],
            json!("Default on fal's side: `\"image/jpeg\"`.")
        );
        let field = &doc["components"]["schemas"]["In"]["properties"]["num_images"];
        assert_eq!(field.get("default"), None);
        assert_eq!(
            field["description"],
            json!("How many.\n\nDefault on fal's side: `1`.")
        );
    }

    #[test]
    fn an_output_needs_only_its_image_urls() {
        let mut doc = document();
        let schemas = &mut doc["components"]["schemas"];
        schemas["Out"] = json!({
            "required": ["images", "seed", "prompt"],
            "properties": {"images": {"type": "array", "items": {"$ref": "#/components/schemas/Img"}}}
        });
        schemas["Img"] = json!({"required": ["url", "width", "height"]});
        schemas["Other"] = json!({"required": ["url", "width"]});
        output_needs_only_image_urls(&mut doc, &kontext());
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["Out"]["required"], json!(["images"]));
        assert_eq!(schemas["Img"]["required"], json!(["url"]));
        assert_eq!(
            schemas["Other"]["required"],
            json!(["url", "width"]),
            "only the output's own images are touched"
        );
    }

    #[test]
    fn a_trained_output_needs_only_its_weights() {
        let endpoint = Endpoint::new("fal-ai/flux-kontext-trainer").unwrap();
        let file = json!({"allOf": [{"$ref": "#/components/schemas/File"}]});
        let mut doc = json!({
            "paths": {"/fal-ai/flux-kontext-trainer/requests/{request_id}": {"get": {"responses": {"200": {
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Out"}}}
            }}}}},
            "components": {"schemas": {
                "Out": {"required": ["diffusers_lora_file", "config_file"],
                        "properties": {"diffusers_lora_file": file, "config_file": file}},
                "File": {"required": ["url", "file_name"], "properties": {"url": {"type": "string"}}}
            }}
        });
        let found = output_needs_only_image_urls(&mut doc, &endpoint);
        assert_eq!(found, Found::Patched);
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["Out"]["required"], json!(["diffusers_lora_file"]));
        assert_eq!(schemas["File"]["required"], json!(["url"]));
        assert_eq!(
            output_needs_only_image_urls(&mut doc, &endpoint),
            Found::AlreadyThere
        );
    }

    #[test]
    fn cancel_answers_share_one_schema() {
        let mut doc = document();
        cancel_answers_as_served(&mut doc, &kontext());
        let responses = &doc["paths"]["/fal-ai/flux-pro/kontext/requests/{request_id}/cancel"]["put"]
            ["responses"];
        for code in ["200", "202", "400"] {
            assert_eq!(
                responses[code]["content"]["application/json"]["schema"]["$ref"],
                json!("#/components/schemas/CancelStatus")
            );
        }
        assert!(doc["components"]["schemas"]["CancelStatus"]["properties"]["status"].is_object());
    }
}
