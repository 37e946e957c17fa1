//! Documents shaped like fal's, for the steps' tests.

use serde_json::{Value, json};

use crate::regen::endpoints::Endpoint;

pub(super) fn kontext() -> Endpoint {
    Endpoint::new("fal-ai/flux-pro/kontext").unwrap()
}

/// A document shaped like fal's: the four queue paths of `fal-ai/flux-pro/kontext`.
pub(super) fn document() -> Value {
    json!({
        "paths": {
            "/fal-ai/flux-pro/kontext": {"post": {
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/In"}}}},
                "responses": {"200": {"description": "ok"}}
            }},
            "/fal-ai/flux-pro/kontext/requests/{request_id}/status": {"get": {
                "parameters": [{"name": "logs", "in": "query", "schema": {"type": "number"}}],
                "responses": {"200": {"description": "The request status."}}
            }},
            "/fal-ai/flux-pro/kontext/requests/{request_id}/cancel": {"put": {"responses": {"200": {}}}},
            "/fal-ai/flux-pro/kontext/requests/{request_id}": {"get": {"responses": {"200": {
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Out"}}}
            }}}}
        },
        "components": {"schemas": {
            "In": {"properties": {
                "num_images": {"type": "integer", "default": 1, "description": "How many."},
                "prompt": {"type": "string"}
            }},
            "QueueStatus": {"properties": {"logs": {"type": "object"}}}
        }}
    })
}

/// A vendored document, as fal serves it.
pub(super) fn vendored(endpoint: &Endpoint) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../openapi")
        .join(endpoint.file_name());
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
