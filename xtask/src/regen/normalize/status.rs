//! Steps that fix the status call (`…/requests/{request_id}/status`) and
//! its event stream to what the live queue answers: the documents describe
//! the status answer only in part, declare the wrong types, and leave the
//! stream out.

use serde_json::{Value, json};

use super::document::{QueuePath, operation, path_of, paths, schemas};
use super::step::Found;
use crate::regen::endpoints::Endpoint;

/// `QueueStatus` as the live service sends it: `logs` is `null` or an array of
/// log lines (declared an object), `metrics` and `queue_position` may be
/// null, and a COMPLETED status may carry `error` and `error_type`.
pub(super) fn queue_status_as_served(doc: &mut Value, _: &Endpoint) -> Found {
    let Some(schemas) = schemas(doc) else {
        return Found::Missing("`components.schemas`");
    };
    let before = (
        schemas.get("QueueStatus").cloned(),
        schemas.get("LogEntry").cloned(),
    );
    let Some(properties) = schemas
        .get_mut("QueueStatus")
        .and_then(|s| s.get_mut("properties"))
        .and_then(Value::as_object_mut)
    else {
        return Found::Missing("the `QueueStatus` schema with its properties");
    };
    properties.insert(
        "logs".into(),
        json!({
            "type": "array",
            "nullable": true,
            "description": "The log lines, when they were asked for (`logs=1`); otherwise null.",
            "items": {"$ref": "#/components/schemas/LogEntry"}
        }),
    );
    for (name, kind, description) in [
        (
            "metrics",
            "object",
            "Metrics of the run, such as `inference_time`, once completed.",
        ),
        (
            "queue_position",
            "integer",
            "The position in the queue while IN_QUEUE.",
        ),
        (
            "error",
            "string",
            "Why a COMPLETED request failed, when it did.",
        ),
        (
            "error_type",
            "string",
            "The kind of failure of a COMPLETED request, when it failed.",
        ),
    ] {
        let mut schema = json!({"type": kind, "nullable": true, "description": description});
        if kind == "object" {
            schema["additionalProperties"] = json!(true);
        }
        properties.insert(name.into(), schema);
    }
    schemas.insert(
        "LogEntry".into(),
        json!({
            "type": "object",
            "description": "One log line of a request.",
            "required": ["message"],
            "properties": {
                "message": {"type": "string", "description": "The text of the line."},
                "level": {"type": "string", "nullable": true, "description": "Its level, such as `INFO`."},
                "source": {"type": "string", "nullable": true, "description": "Who wrote it, such as `USER`."},
                "timestamp": {"type": "string", "nullable": true, "description": "When, as an ISO 8601 time."}
            }
        }),
    );
    let after = (
        schemas.get("QueueStatus").cloned(),
        schemas.get("LogEntry").cloned(),
    );
    Found::by_change(before != after)
}

/// fal's documents require `request_id` in a status answer, but all a
/// client needs from one is `status`, and fal's own clients read nothing
/// else as required: fal-client 1.0.3 `_parse_status` reads `data["status"]`
/// and `.get()`s the rest (`metrics`, `error`, `error_type`), and
/// @fal-ai/client 1.10.1 only compares `status`. So only `status` is
/// required; a status answer without its request id or URLs still decodes.
pub(super) fn status_answer_needs_only_status(doc: &mut Value, _: &Endpoint) -> Found {
    let Some(status) = schemas(doc).and_then(|s| s.get_mut("QueueStatus")) else {
        return Found::Missing("the `QueueStatus` schema");
    };
    let required = json!(["status"]);
    let changed = status.get("required") != Some(&required);
    status["required"] = required;
    Found::by_change(changed)
}

/// The documents list three statuses, but a service adds values over time,
/// and a client that fails to decode one while waiting gives up on a paid
/// job (fal-client 1.0.3 `_parse_status` raises `ValueError("Unknown
/// status")`, which we do not copy). The documented values become the named
/// enum `Status`, and a status answer holds an `AnyStatus`: `Known(Status)`,
/// or `Other(String)` for a value fal added after this client was generated.
/// progenitor turns the `oneOf` into an untagged enum that tries `Status`
/// first; the titles name the variants.
pub(super) fn status_open_to_new_values(doc: &mut Value, _: &Endpoint) -> Found {
    let Some(schemas) = schemas(doc) else {
        return Found::Missing("the schemas");
    };
    let Some(property) = schemas
        .get_mut("QueueStatus")
        .and_then(|s| s.pointer_mut("/properties/status"))
    else {
        return Found::Missing("the `status` property of the `QueueStatus` schema");
    };
    if property == &json!({"$ref": "#/components/schemas/AnyStatus"}) {
        return Found::AlreadyThere;
    }
    let Some(values) = property.get("enum").cloned() else {
        return Found::Missing("the list of values of `QueueStatus.status`");
    };
    *property = json!({"$ref": "#/components/schemas/AnyStatus"});
    schemas.insert(
        "Status".into(),
        json!({"type": "string", "enum": values, "description": "A status fal's documents list."}),
    );
    schemas.insert(
        "AnyStatus".into(),
        json!({
            "description": "The status of a request: one fal's documents list, or another that fal sent (a request in an unknown status is not finished).",
            "oneOf": [
                {"title": "Known", "allOf": [{"$ref": "#/components/schemas/Status"}]},
                {"title": "Other", "type": "string"}
            ]
        }),
    );
    Found::Patched
}

/// The `logs` query parameter is declared `number`, so a generated client
/// would send `logs=1.0`; fal's clients send `logs=1`.
pub(super) fn logs_parameter_integer(doc: &mut Value, endpoint: &Endpoint) -> Found {
    let Some(op) = operation(doc, endpoint, QueuePath::Status, "get") else {
        return Found::Missing("the status operation (`GET …/requests/{request_id}/status`)");
    };
    let logs = op
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
        .and_then(|parameters| {
            parameters
                .iter_mut()
                .find(|p| p.get("name") == Some(&json!("logs")))
        });
    let Some(logs) = logs else {
        return Found::Missing("the `logs` parameter of the status operation");
    };
    if logs["schema"]["type"] == json!("integer") {
        return Found::AlreadyThere;
    }
    logs["schema"]["type"] = json!("integer");
    Found::Patched
}

/// The status call answers `202` while a request is queued or running, and
/// `200` once it completed; the documents declare only `200`.
pub(super) fn status_answers_202(doc: &mut Value, endpoint: &Endpoint) -> Found {
    let Some(op) = operation(doc, endpoint, QueuePath::Status, "get") else {
        return Found::Missing("the status operation (`GET …/requests/{request_id}/status`)");
    };
    let Some(Value::Object(responses)) = op.get_mut("responses") else {
        return Found::Missing("the answers of the status operation");
    };
    if responses.contains_key("202") {
        return Found::AlreadyThere;
    }
    let Some(ok) = responses.get("200").cloned() else {
        return Found::Missing("the `200` answer of the status operation");
    };
    let mut accepted = ok;
    accepted["description"] = json!("The request is queued or running.");
    responses.insert("202".into(), accepted);
    Found::Patched
}

/// fal's queue streams a request's status as server-sent events at
/// `{status_url}/stream` (each event's `data` is a status, with a keep-alive
/// comment about every 15 s, not re-verified:
/// <https://docs.fal.ai/documentation/model-apis/inference/queue>; fal's JS
/// client, `streamStatus` in `queue.js`); the documents do not describe it.
/// It becomes an operation beside the status call, with the same parameters
/// and a byte stream for an answer, which the SDK parses into statuses.
pub(super) fn status_stream_operation(doc: &mut Value, endpoint: &Endpoint) -> Found {
    if path_of(doc, endpoint, QueuePath::StatusStream).is_some() {
        return Found::AlreadyThere;
    }
    let Some(status_path) = path_of(doc, endpoint, QueuePath::Status) else {
        return Found::Missing("the status path (`…/requests/{request_id}/status`)");
    };
    let Some(parameters) = doc["paths"][&status_path]["get"].get("parameters").cloned() else {
        return Found::Missing("the parameters of the status operation");
    };
    let stream = json!({"get": {
        "parameters": parameters,
        "responses": {"200": {
            "description": "The request's status as server-sent events (`text/event-stream`): \
                each event's `data` is the request's status (a `QueueStatus`), sent on each \
                change; a comment line keeps the connection alive about every 15 s. The \
                stream ends after the COMPLETED status.",
            "content": {"text/event-stream": {"schema": {"type": "string", "format": "binary"}}}
        }}
    }});
    paths(doc)
        .expect("the status path was found in it")
        .insert(format!("{status_path}/stream"), stream);
    Found::Patched
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regen::normalize::fixtures::{document, kontext};
    use crate::regen::normalize::queue_paths::queue_paths_at_app_root;

    #[test]
    fn queue_status_gets_the_served_fields() {
        let mut doc = document();
        queue_status_as_served(&mut doc, &kontext());
        let properties = &doc["components"]["schemas"]["QueueStatus"]["properties"];
        assert_eq!(properties["logs"]["type"], json!("array"));
        assert_eq!(properties["logs"]["nullable"], json!(true));
        for field in ["metrics", "queue_position", "error", "error_type"] {
            assert_eq!(properties[field]["nullable"], json!(true), "{field}");
        }
        assert_eq!(
            doc["components"]["schemas"]["LogEntry"]["required"],
            json!(["message"])
        );
    }

    #[test]
    fn a_status_answer_needs_only_its_status() {
        let mut doc = document();
        doc["components"]["schemas"]["QueueStatus"]["required"] = json!(["status", "request_id"]);
        status_answer_needs_only_status(&mut doc, &kontext());
        assert_eq!(
            doc["components"]["schemas"]["QueueStatus"]["required"],
            json!(["status"])
        );
    }

    #[test]
    fn the_status_is_open_to_values_fal_adds() {
        let mut doc = document();
        let values = json!(["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]);
        doc["components"]["schemas"]["QueueStatus"]["properties"]["status"] =
            json!({"type": "string", "enum": values});
        status_open_to_new_values(&mut doc, &kontext());
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["QueueStatus"]["properties"]["status"],
            json!({"$ref": "#/components/schemas/AnyStatus"})
        );
        assert_eq!(schemas["Status"]["enum"], values);
        let variants = schemas["AnyStatus"]["oneOf"].as_array().unwrap();
        assert_eq!(
            variants.iter().map(|v| &v["title"]).collect::<Vec<_>>(),
            [&json!("Known"), &json!("Other")],
            "the known values first: an untagged enum takes the first that fits"
        );
        assert_eq!(
            variants[0]["allOf"][0]["$ref"],
            json!("#/components/schemas/Status")
        );
        assert_eq!(variants[1]["type"], json!("string"));

        let mut again = doc.clone();
        status_open_to_new_values(&mut again, &kontext());
        assert_eq!(again, doc, "an open status is left as it is");
    }

    #[test]
    fn logs_parameter_becomes_an_integer() {
        let mut doc = document();
        logs_parameter_integer(&mut doc, &kontext());
        let op = &doc["paths"]["/fal-ai/flux-pro/kontext/requests/{request_id}/status"]["get"];
        assert_eq!(op["parameters"][0]["schema"]["type"], json!("integer"));
    }

    #[test]
    fn status_also_answers_202() {
        let mut doc = document();
        status_answers_202(&mut doc, &kontext());
        let responses = &doc["paths"]["/fal-ai/flux-pro/kontext/requests/{request_id}/status"]["get"]
            ["responses"];
        assert!(responses.get("200").is_some() && responses.get("202").is_some());
    }

    #[test]
    fn the_status_stream_becomes_an_operation_beside_the_status() {
        let mut doc = document();
        logs_parameter_integer(&mut doc, &kontext());
        assert_eq!(
            status_stream_operation(&mut doc, &kontext()),
            Found::Patched
        );
        let stream =
            &doc["paths"]["/fal-ai/flux-pro/kontext/requests/{request_id}/status/stream"]["get"];
        assert_eq!(
            stream["parameters"],
            doc["paths"]["/fal-ai/flux-pro/kontext/requests/{request_id}/status"]["get"]["parameters"]
        );
        assert!(
            stream["responses"]["200"]["content"]["text/event-stream"].is_object(),
            "{stream:#}"
        );
        assert_eq!(
            status_stream_operation(&mut doc, &kontext()),
            Found::AlreadyThere,
            "a stream fal documents itself is kept"
        );
        queue_paths_at_app_root(&mut doc, &kontext());
        assert_eq!(
            doc["paths"]["/fal-ai/flux-pro/requests/{request_id}/status/stream"]["get"]["operationId"],
            json!("status_stream_flux_pro")
        );
    }
}
