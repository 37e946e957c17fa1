//! Steps that fix fal's Platform APIs document for the generated
//! `fal_kontext_api::platform`: it describes every platform resource, of
//! which the project uses four operations; it is OpenAPI 3.1, which
//! progenitor cannot read; and it declares answers stricter, and typed more
//! narrowly, than a lenient client may read them. Where the document comes
//! from is `regen/platform.rs`.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::document::walk_objects;
use super::openapi_3_0::nullable_unions;
use super::step::Found;

/// The operations the project uses, by path and method, and the
/// `operationId` each gets (the generated method's name).
const OPERATIONS: [(&str, &str, &str); 4] = [
    ("/models/pricing", "get", "pricing"),
    ("/models/pricing/estimate", "post", "estimate"),
    (
        "/models/requests/by-endpoint",
        "get",
        "requests_by_endpoint",
    ),
    (
        "/models/requests/{request_id}/payloads",
        "delete",
        "delete_payloads",
    ),
];

/// The document describes every platform resource (models, usage, requests,
/// files, metrics …); the project uses only [`OPERATIONS`]. The other paths,
/// methods and the schemas only they use are dropped, so that a change to
/// them is no change here.
pub(super) fn keep_used_operations(doc: &mut Value, _: &()) -> Found {
    let before = doc.clone();
    let Some(Value::Object(paths)) = doc.get("paths").cloned() else {
        return Found::Missing("`paths`");
    };
    let mut kept = Map::new();
    for (path, method, _) in OPERATIONS {
        let Some(operation) = paths.get(path).and_then(|item| item.get(method)) else {
            return Found::Missing("an operation the project uses (prices, requests)");
        };
        let item = kept
            .entry(path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("an object");
        item.insert(method.to_string(), operation.clone());
    }
    doc["paths"] = Value::Object(kept);
    let used = used_schemas(doc);
    if let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") {
        schemas.retain(|name, _| used.contains(name));
    }
    // (the vendored copy holds only these operations already)
    Found::by_change(*doc != before)
}

/// The schemas the paths refer to, directly or through other schemas.
fn used_schemas(doc: &Value) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut pending = vec![doc["paths"].clone()];
    while let Some(mut value) = pending.pop() {
        let mut found = Vec::new();
        walk_objects(&mut value, &mut |map| {
            if let Some(Value::String(target)) = map.get("$ref")
                && let Some(name) = target.strip_prefix("#/components/schemas/")
            {
                found.push(name.to_string());
            }
        });
        for name in found {
            if used.insert(name.clone())
                && let Some(schema) = doc.pointer(&format!("/components/schemas/{name}"))
            {
                pending.push(schema.clone());
            }
        }
    }
    used
}

/// progenitor names each operation after its `operationId`; the document's
/// own (`getPricing`, `listRequestsByEndpoint`, …) could change with any edit
/// of fal's, so the project's names are set here: `pricing`, `estimate`,
/// `requests_by_endpoint` and `delete_payloads`.
pub(super) fn operation_ids(doc: &mut Value, _: &()) -> Found {
    let mut changed = false;
    for (path, method, id) in OPERATIONS {
        let Some(Value::Object(operation)) =
            doc.pointer_mut(&format!("/paths/{}/{method}", escape(path)))
        else {
            return Found::Missing("an operation the project uses (prices, requests)");
        };
        changed |= operation.insert("operationId".into(), json!(id)) != Some(json!(id));
    }
    Found::by_change(changed)
}

/// A path as a JSON pointer token.
fn escape(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

/// The document is OpenAPI 3.1; progenitor reads 3.0. The version is set to
/// 3.0.3, and 3.1's optional values (`anyOf` with `{"type": "null"}`) become
/// `nullable`, as for the queue documents.
pub(super) fn openapi_3_0(doc: &mut Value, _: &()) -> Found {
    let Some(version) = doc.get("openapi").and_then(Value::as_str) else {
        return Found::Missing("the `openapi` version");
    };
    if version.starts_with("3.0") {
        return Found::AlreadyThere;
    }
    doc["openapi"] = json!("3.0.3");
    nullable_unions(doc);
    Found::Patched
}

/// Strict in what is sent, lenient in what is accepted: of a price list the
/// SDK needs only `prices` (pagination is not used: one call asks for at most
/// the seven Kontext endpoints, below the limit of 50), of a price only
/// `endpoint_id` and `unit_price`, of an estimate only `total_cost`; of a
/// page of the request history only `items` (a page without `next_cursor` is
/// the last), of a request only its `request_id` and `endpoint_id` (its
/// times are shown when fal gives them); of a deletion its
/// `cdn_delete_results`, each with its `link` and `exception` (a file whose
/// outcome fal does not state is never reported deleted); of an error only
/// its `message`. An estimate's `estimate_type`, or an error's `type`, that
/// fal adds one day is no decode error.
pub(super) fn answers_need_only_what_is_used(doc: &mut Value, _: &()) -> Found {
    let wanted: [(&str, &[&str]); 8] = [
        ("PricingResponse", &["prices"]),
        ("ModelPrice", &["endpoint_id", "unit_price"]),
        ("EstimateResponse", &["total_cost"]),
        ("RequestsByEndpointResponse", &["items"]),
        ("RequestItem", &["request_id", "endpoint_id"]),
        ("DeletePayloadsResponse", &["cdn_delete_results"]),
        ("CdnDeleteResult", &["link", "exception"]),
        ("ErrorDetail", &["message"]),
    ];
    let mut changed = false;
    for (schema, required) in wanted {
        let Some(Value::Object(schema)) = doc.pointer_mut(&format!("/components/schemas/{schema}"))
        else {
            return Found::Missing(
                "the schemas of the prices, the estimate, the requests and errors",
            );
        };
        let required = json!(required);
        changed |= schema.insert("required".into(), required.clone()) != Some(required);
        for open in ["estimate_type", "type"] {
            if let Some(Value::Object(kind)) =
                schema.get_mut("properties").and_then(|p| p.get_mut(open))
            {
                changed |= kind.remove("enum").is_some();
            }
        }
    }
    Found::by_change(changed)
}

/// Request ids are `format: uuid` and times `format: date-time`; progenitor
/// would make them `uuid::Uuid` and `chrono::DateTime`, two more
/// dependencies, and a request id or a time fal writes otherwise (a time
/// without its offset) a decode error of a whole page. They are read as the
/// text fal sends, and sent as the text the caller gives.
pub(super) fn ids_and_times_as_text(doc: &mut Value, _: &()) -> Found {
    let mut changed = false;
    walk_objects(doc, &mut |map| {
        if matches!(
            map.get("format").and_then(Value::as_str),
            Some("uuid" | "date-time")
        ) {
            map.remove("format");
            changed = true;
        }
    });
    Found::by_change(changed)
}

/// Every operation declares its error answers (400, 401, 403, 404, 429,
/// 500) with one body, `{"error": {"type", "message", "request_id", …}}`.
/// progenitor would decode it, and fail on any other body: the `{"detail":
/// …}` of fal's gateway, the HTML page of an ingress in front of it, which
/// would turn a 500 or a 429 that must be retried into a decode error. The
/// declared errors are dropped, so that every unsuccessful answer reaches the
/// SDK unread; the SDK reads the shape itself (`types::ErrorResponse`, which
/// stays), leniently.
pub(super) fn errors_read_by_the_sdk(doc: &mut Value, _: &()) -> Found {
    let mut changed = false;
    let Some(Value::Object(paths)) = doc.get_mut("paths") else {
        return Found::Missing("`paths`");
    };
    for item in paths.values_mut() {
        let Value::Object(methods) = item else {
            continue;
        };
        for operation in methods.values_mut() {
            if let Some(Value::Object(responses)) = operation.get_mut("responses") {
                let before = responses.len();
                responses.retain(|code, _| {
                    !(code.starts_with('4') || code.starts_with('5') || code == "default")
                });
                changed |= responses.len() != before;
            }
        }
    }
    if doc.pointer("/components/schemas/ErrorResponse").is_none() {
        return Found::Missing("the shared error schema `ErrorResponse`");
    }
    Found::by_change(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regen::normalize::normalize_platform;
    use crate::regen::platform::read_vendored;

    fn vendored() -> Value {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi");
        read_vendored(&dir).unwrap()
    }

    #[test]
    fn only_the_used_operations_and_their_schemas_are_kept() {
        let mut doc = vendored();
        doc["paths"]["/models/usage"] = json!({"get": {"responses": {"200": {
            "description": "usage",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Usage"}}}
        }}}});
        doc["components"]["schemas"]["Usage"] = json!({"type": "object"});
        doc["paths"]["/models/pricing"]["delete"] = json!({"responses": {}});
        let normalized = normalize_platform(&doc).unwrap();
        let paths: Vec<_> = normalized["paths"].as_object().unwrap().keys().collect();
        assert_eq!(
            paths,
            [
                "/models/pricing",
                "/models/pricing/estimate",
                "/models/requests/by-endpoint",
                "/models/requests/{request_id}/payloads"
            ]
        );
        assert!(
            normalized["paths"]["/models/pricing"]
                .get("delete")
                .is_none()
        );
        assert!(normalized["components"]["schemas"].get("Usage").is_none());
        assert!(
            normalized["components"]["schemas"]
                .get("ModelPrice")
                .is_some()
        );
    }

    #[test]
    fn a_document_without_the_prices_fails_naming_the_step() {
        let mut doc = vendored();
        doc["paths"]
            .as_object_mut()
            .unwrap()
            .remove("/models/pricing/estimate");
        let error = normalize_platform(&doc).unwrap_err().to_string();
        assert!(error.contains("platform_keep_used_operations"), "{error}");
    }

    #[test]
    fn the_result_is_openapi_3_0_with_named_operations_and_lenient_answers() {
        let normalized = normalize_platform(&vendored()).unwrap();
        assert_eq!(normalized["openapi"], "3.0.3");
        assert_eq!(
            normalized["paths"]["/models/pricing"]["get"]["operationId"],
            "pricing"
        );
        let cursor =
            &normalized["components"]["schemas"]["PricingResponse"]["properties"]["next_cursor"];
        assert_eq!(cursor["nullable"], true, "{cursor}");
        assert_eq!(
            normalized["components"]["schemas"]["EstimateResponse"]["required"],
            json!(["total_cost"])
        );
        assert!(
            normalized["components"]["schemas"]["EstimateResponse"]["properties"]["estimate_type"]
                .get("enum")
                .is_none()
        );
        let _: openapiv3::OpenAPI = serde_json::from_value(normalized).unwrap();
    }

    #[test]
    fn errors_reach_the_sdk_unread_and_their_shape_stays_a_type() {
        let normalized = normalize_platform(&vendored()).unwrap();
        for (path, method, _) in OPERATIONS {
            let pointer = format!("/paths/{}/{method}/responses", escape(path));
            let codes: Vec<_> = normalized
                .pointer(&pointer)
                .unwrap()
                .as_object()
                .unwrap()
                .keys()
                .collect();
            assert_eq!(codes, ["200"], "{path}");
        }
        let detail = &normalized["components"]["schemas"]["ErrorDetail"];
        assert_eq!(detail["required"], json!(["message"]));
        assert!(
            detail["properties"]["type"].get("enum").is_none(),
            "{detail}"
        );
    }

    #[test]
    fn ids_and_times_are_text() {
        let normalized = normalize_platform(&vendored()).unwrap();
        let item = &normalized["components"]["schemas"]["RequestItem"]["properties"];
        for field in ["request_id", "sent_at", "ended_at"] {
            assert!(
                item[field].get("format").is_none(),
                "{field}: {}",
                item[field]
            );
        }
        assert_eq!(item["ended_at"]["nullable"], true);
    }

    #[test]
    fn a_document_already_3_0_is_left_as_it_is() {
        let mut doc = json!({"openapi": "3.0.3"});
        assert_eq!(openapi_3_0(&mut doc, &()), Found::AlreadyThere);
        assert_eq!(doc, json!({"openapi": "3.0.3"}));
    }
}
