//! The normalization: fal's raw documents in, one OpenAPI 3.0 document that
//! progenitor generates a good client from out.
//!
//! The raw documents stay untouched in `openapi/`; every patch happens here,
//! in memory, as a named step with its own test. Each step says which fact
//! about fal's documents or the live service it answers (the facts are listed
//! in `openapi/README.md`).

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde_json::{Map, Value, json};

use super::endpoints::Endpoint;
use super::fetch::RawDocument;

/// A patch applied to one endpoint's document before the merge.
pub struct Step {
    pub name: &'static str,
    pub apply: fn(&mut Value, &Endpoint) -> Found,
}

/// What a step found in a document. A step that finds nothing to patch fails
/// the regen (fal changed the document where the step looks, and a silent
/// no-op would generate a client that no longer matches the service),
/// unless the step says that fal's document already has the change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// Its target, which it patched.
    Patched,
    /// fal's document already says what the step would make it say: a no-op
    /// by design.
    AlreadyThere,
    /// Not its target (what it looked for).
    Missing(&'static str),
}

impl Found {
    /// `Patched` when the step changed something, else `AlreadyThere`: for a
    /// step that found its target and wrote what it wants into it.
    pub fn by_change(changed: bool) -> Self {
        if changed {
            Found::Patched
        } else {
            Found::AlreadyThere
        }
    }
}

/// The per-document steps, in the order they run.
pub const DOCUMENT_STEPS: &[Step] = &[
    Step {
        name: "null_unions_to_nullable",
        apply: null_unions_to_nullable,
    },
    Step {
        name: "numeric_exclusive_bounds",
        apply: numeric_exclusive_bounds,
    },
    Step {
        name: "defaults_to_docs",
        apply: defaults_to_docs,
    },
    Step {
        name: "queue_status_as_served",
        apply: queue_status_as_served,
    },
    Step {
        name: "status_answer_needs_only_status",
        apply: status_answer_needs_only_status,
    },
    Step {
        name: "status_open_to_new_values",
        apply: status_open_to_new_values,
    },
    Step {
        name: "output_needs_only_image_urls",
        apply: output_needs_only_image_urls,
    },
    Step {
        name: "logs_parameter_integer",
        apply: logs_parameter_integer,
    },
    Step {
        name: "status_answers_202",
        apply: status_answers_202,
    },
    Step {
        name: "status_stream_operation",
        apply: status_stream_operation,
    },
    Step {
        name: "cancel_answers_as_served",
        apply: cancel_answers_as_served,
    },
    Step {
        name: "submit_queue_options",
        apply: submit_queue_options,
    },
    Step {
        name: "submit_request_options",
        apply: submit_request_options,
    },
    Step {
        name: "queue_paths_at_app_root",
        apply: queue_paths_at_app_root,
    },
    Step {
        name: "rename_schemas",
        apply: rename_schemas,
    },
    Step {
        name: "image_size_preset_or_size",
        apply: image_size_preset_or_size,
    },
];

/// Runs every step on every document, merges them, and names the shared enums.
pub fn normalize_and_merge(documents: &[RawDocument]) -> Result<Value> {
    let normalized = documents
        .iter()
        .map(|doc| {
            Ok((
                doc.endpoint.clone(),
                normalize_one(&doc.raw, &doc.endpoint)?,
            ))
        })
        .collect::<Result<Vec<(Endpoint, Value)>>>()?;
    let mut merged = merge(&normalized)?;
    hoist_shared_enums(&mut merged);
    Ok(merged)
}

/// One endpoint's document normalized on its own (used to say which endpoint
/// a generation failure comes from). Fails, naming the step and the
/// endpoint, when a step finds nothing to patch and does not say that the
/// change is already in fal's document; whether a step changed the document
/// is checked here, not taken on its word.
pub fn normalize_one(raw: &Value, endpoint: &Endpoint) -> Result<Value> {
    let mut doc = raw.clone();
    for step in DOCUMENT_STEPS {
        let before = doc.clone();
        let found = (step.apply)(&mut doc, endpoint);
        checked(step.name, found, doc != before, &endpoint.id)?;
    }
    Ok(doc)
}

/// Whether a step did what it said to the document of `subject`: it patched
/// (and changed) it, or said the change was already there (and changed
/// nothing); anything else fails the regen, naming the step.
pub fn checked(step: &str, found: Found, changed: bool, subject: &str) -> Result<()> {
    let missing = match (found, changed) {
        (Found::Patched, true) | (Found::AlreadyThere, false) => return Ok(()),
        (Found::Missing(what), _) => what,
        (Found::Patched, false) => "anything it could change",
        (Found::AlreadyThere, true) => bail!(
            "normalization step `{step}` said the document of {subject} already had its change, \
             and then changed it"
        ),
    };
    bail!(
        "normalization step `{step}` found nothing to patch in the document of {subject}: \
         {missing} is not there. fal changed the document; adapt the step in \
         xtask/src/regen/ (or have it say that the change is already there)"
    )
}

// ---------------------------------------------------------------------------
// Helpers

/// Visits every JSON object in `value`, parents before children.
pub fn walk_objects(value: &mut Value, visit: &mut impl FnMut(&mut Map<String, Value>)) {
    match value {
        Value::Object(map) => {
            visit(map);
            for child in map.values_mut() {
                walk_objects(child, visit);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| walk_objects(item, visit)),
        _ => {}
    }
}

fn schemas(doc: &mut Value) -> Option<&mut Map<String, Value>> {
    doc.pointer_mut("/components/schemas")?.as_object_mut()
}

fn paths(doc: &mut Value) -> Option<&mut Map<String, Value>> {
    doc.get_mut("paths")?.as_object_mut()
}

/// The queue operation a path of a raw document is, relative to its endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum QueuePath {
    Submit,
    Status,
    StatusStream,
    Cancel,
    Result,
}

fn classify(path: &str, endpoint: &Endpoint) -> Option<QueuePath> {
    let rest = path.strip_prefix('/')?.strip_prefix(endpoint.id.as_str())?;
    match rest {
        "" => Some(QueuePath::Submit),
        "/requests/{request_id}/status" => Some(QueuePath::Status),
        "/requests/{request_id}/status/stream" => Some(QueuePath::StatusStream),
        "/requests/{request_id}/cancel" => Some(QueuePath::Cancel),
        "/requests/{request_id}" => Some(QueuePath::Result),
        _ => None,
    }
}

/// The path of kind `kind` in a raw document.
fn path_of(doc: &Value, endpoint: &Endpoint, kind: QueuePath) -> Option<String> {
    doc.get("paths")?
        .as_object()?
        .keys()
        .find(|p| classify(p, endpoint) == Some(kind))
        .cloned()
}

/// The operation object of `method` at the path of kind `kind`.
fn operation<'a>(
    doc: &'a mut Value,
    endpoint: &Endpoint,
    kind: QueuePath,
    method: &str,
) -> Option<&'a mut Map<String, Value>> {
    let key = path_of(doc, endpoint, kind)?;
    paths(doc)?.get_mut(&key)?.get_mut(method)?.as_object_mut()
}

// ---------------------------------------------------------------------------
// Per-document steps

/// fal writes an optional field as `anyOf: [{…}, {"type": "null"}]`, which is
/// OpenAPI 3.1; progenitor reads 3.0 and panics on `"type": "null"`. Rewrite
/// each such union to the 3.0 form: the other member, `nullable: true`. A
/// `$ref` member is kept as `allOf: [{$ref}]` so the sibling `nullable` counts.
/// A document without such unions is already 3.0 in this respect.
fn null_unions_to_nullable(doc: &mut Value, _: &Endpoint) -> Found {
    nullable_unions(doc)
}

/// [`null_unions_to_nullable`] on any document (fal's Platform APIs
/// document spells its optional values the same way).
pub fn nullable_unions(doc: &mut Value) -> Found {
    let mut rewritten = false;
    walk_objects(doc, &mut |map| {
        for key in ["anyOf", "oneOf"] {
            let Some(Value::Array(members)) = map.get(key) else {
                continue;
            };
            let is_null = |m: &Value| m.get("type") == Some(&json!("null"));
            if !members.iter().any(is_null) {
                continue;
            }
            rewritten = true;
            let mut rest: Vec<Value> = members.iter().filter(|m| !is_null(m)).cloned().collect();
            map.remove(key);
            map.insert("nullable".into(), Value::Bool(true));
            match rest.len() {
                0 => {}
                1 => match rest.remove(0) {
                    reference @ Value::Object(_) if reference.get("$ref").is_some() => {
                        map.insert("allOf".into(), json!([reference]));
                    }
                    Value::Object(member) => {
                        for (k, v) in member {
                            map.entry(k).or_insert(v);
                        }
                    }
                    other => {
                        map.insert("allOf".into(), json!([other]));
                    }
                },
                _ => {
                    map.insert(key.into(), Value::Array(rest));
                }
            }
        }
    });
    Found::by_change(rewritten)
}

/// Some fal documents give `exclusiveMinimum`/`exclusiveMaximum` as numbers
/// (JSON Schema 2020); OpenAPI 3.0, and so openapiv3, wants the bound in
/// `minimum`/`maximum` and a boolean flag. A document without numeric flags
/// is already 3.0 in this respect.
fn numeric_exclusive_bounds(doc: &mut Value, _: &Endpoint) -> Found {
    let mut rewritten = false;
    walk_objects(doc, &mut |map| {
        for (flag, bound) in [
            ("exclusiveMinimum", "minimum"),
            ("exclusiveMaximum", "maximum"),
        ] {
            if let Some(Value::Number(n)) = map.get(flag).cloned() {
                map.insert(bound.into(), Value::Number(n));
                map.insert(flag.into(), Value::Bool(true));
                rewritten = true;
            }
        }
    });
    Found::by_change(rewritten)
}

/// A field with a `default` becomes a non-optional field in the generated
/// type. In a request that would send every default: fal applies its own
/// defaults to fields left out, and a client should not pin them. In an
/// answer it would invent a value fal did not send (an image without
/// `content_type` would read as `image/jpeg`). So every default moves into
/// the field's documentation, and the field stays optional. A document
/// without defaults has nothing to move.
fn defaults_to_docs(doc: &mut Value, _: &Endpoint) -> Found {
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

/// `QueueStatus` as the live service sends it: `logs` is `null` or an array of
/// log lines (declared an object), `metrics` and `queue_position` may be
/// null, and a COMPLETED status may carry `error` and `error_type`.
fn queue_status_as_served(doc: &mut Value, _: &Endpoint) -> Found {
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
fn status_answer_needs_only_status(doc: &mut Value, _: &Endpoint) -> Found {
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
fn status_open_to_new_values(doc: &mut Value, _: &Endpoint) -> Found {
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

/// fal's documents require every field of an output (`seed`, `timings`,
/// `has_nsfw_concepts`, `prompt`) and, for some endpoints, an image's
/// `width` and `height`; yet fal's own published example response of
/// `fal-ai/flux-pro/kontext` has only `images` (each with `url`, `width`,
/// `height`) and `prompt` (<https://fal.ai/models/fal-ai/flux-pro/kontext/llms.txt>). A finished
/// job must never fail on a missing field: an output requires only `images`,
/// and an image only its `url`. The output is the result's answer; its
/// images, the items of `images`.
fn output_needs_only_image_urls(doc: &mut Value, endpoint: &Endpoint) -> Found {
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

/// The `logs` query parameter is declared `number`, so a generated client
/// would send `logs=1.0`; fal's clients send `logs=1`.
fn logs_parameter_integer(doc: &mut Value, endpoint: &Endpoint) -> Found {
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
fn status_answers_202(doc: &mut Value, endpoint: &Endpoint) -> Found {
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
fn status_stream_operation(doc: &mut Value, endpoint: &Endpoint) -> Found {
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

/// The live cancel call answers `202` with `{"status": "CANCELLATION_REQUESTED"}`
/// and `400` with `{"status": "ALREADY_COMPLETED"}`; the documents declare a
/// `200` with `{"success": …}`. Both shapes become one named schema.
fn cancel_answers_as_served(doc: &mut Value, endpoint: &Endpoint) -> Found {
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

/// What fal's queue accepts on submit beyond the body: the `fal_webhook` query
/// parameter and the `x-fal-request-timeout`, `x-fal-queue-priority` and
/// `x-fal-runner-hint` headers
/// (<https://docs.fal.ai/documentation/model-apis/common-parameters>).
/// The documents leave them out; each one the document declares itself is
/// left as fal declares it.
///
/// `x-fal-request-timeout` is a number of seconds, fractions allowed, more
/// than 1: fal's clients refuse 1 or less and send the number as they hold
/// it (fal-client 1.0.3, `_headers.py`: `MIN_REQUEST_TIMEOUT_SECONDS = 1`,
/// `timeout <= 1` refused, `str(float(timeout))` sent; @fal-ai/client
/// 1.10.1, `headers.js`: `validateTimeoutHeader`).
fn submit_queue_options(doc: &mut Value, endpoint: &Endpoint) -> Found {
    add_submit_parameters(
        doc,
        endpoint,
        [
            json!({"name": "fal_webhook", "in": "query", "required": false,
         "description": "A URL that fal calls with the result when the request completes.",
         "schema": {"type": "string"}}),
            json!({"name": "x-fal-request-timeout", "in": "header", "required": false,
         "description": "Seconds (more than 1) the request may wait to start, queueing \
             included; when they run out, fal ends it with a 504 marked \
             `x-fal-request-timeout-type: user`.",
         "schema": {"type": "number", "minimum": 1, "exclusiveMinimum": true}}),
            json!({"name": "x-fal-queue-priority", "in": "header", "required": false,
         "description": "`normal` (the default) or `low`.",
         "schema": {"type": "string"}}),
            json!({"name": "x-fal-runner-hint", "in": "header", "required": false,
         "description": "A routing hint that sends related requests to the same runner.",
         "schema": {"type": "string"}}),
        ],
    )
}

/// The other options fal's queue accepts on submit
/// (<https://docs.fal.ai/documentation/model-apis/common-parameters>), which the documents leave out too; each one the
/// document declares itself is left as fal declares it:
/// - `x-fal-object-lifecycle-preference`: JSON `{"expiration_duration_seconds": N}`,
///   how long the output files live on fal's CDN (fal's clients send it so:
///   @fal-ai/client 1.10.1 `storage.js`, `buildObjectLifecycleHeaders`;
///   fal-client 1.0.3 `client.py`, `_object_lifecycle_headers`);
/// - `x-fal-store-io`: `0`, fal keeps no copy of the input and output;
/// - `x-fal-no-retry`: `1`, fal does not retry the request internally;
/// - `fal_max_queue_length` (query): fal answers 429 when the endpoint's
///   queue is longer.
fn submit_request_options(doc: &mut Value, endpoint: &Endpoint) -> Found {
    add_submit_parameters(
        doc,
        endpoint,
        [
            json!({"name": "x-fal-object-lifecycle-preference", "in": "header", "required": false,
         "description": "How long the output files live on fal's CDN, as JSON: \
             `{\"expiration_duration_seconds\": N}`. Files on the CDN are public to anyone \
             with the URL and cannot be recovered once they expire.",
         "schema": {"type": "string"}}),
            json!({"name": "x-fal-store-io", "in": "header", "required": false,
         "description": "`0`: fal does not keep the request's input and output \
             (kept 30 days otherwise); files on the CDN are still stored.",
         "schema": {"type": "string"}}),
            json!({"name": "x-fal-no-retry", "in": "header", "required": false,
         "description": "`1` (or `true`, `yes`): fal does not retry the request internally.",
         "schema": {"type": "string"}}),
            json!({"name": "fal_max_queue_length", "in": "query", "required": false,
         "description": "fal answers 429 at submit when the endpoint's queue is longer than this.",
         "schema": {"type": "integer", "minimum": 1}}),
        ],
    )
}

/// Adds each of `ours` to the submit operation's parameters, unless the
/// document declares a parameter of that name (any case) and place.
fn add_submit_parameters<const N: usize>(
    doc: &mut Value,
    endpoint: &Endpoint,
    ours: [Value; N],
) -> Found {
    let Some(op) = operation(doc, endpoint, QueuePath::Submit, "post") else {
        return Found::Missing("the submit operation (`POST /<endpoint id>`)");
    };
    let parameters = op
        .entry("parameters")
        .or_insert_with(|| json!([]))
        .as_array_mut();
    let Some(parameters) = parameters else {
        return Found::Missing("a list of parameters on the submit operation");
    };
    let mut added = false;
    for parameter in ours {
        let declared = parameters.iter().any(|p| {
            p.get("name")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                == parameter["name"].as_str().map(str::to_ascii_lowercase)
                && p.get("in") == parameter.get("in")
        });
        if !declared {
            parameters.push(parameter);
            added = true;
        }
    }
    Found::by_change(added)
}

/// Gives every operation an id (progenitor refuses a document without them)
/// and moves status, its stream, cancel and result to the app root, where
/// the live service answers them (`/fal-ai/flux-pro/requests/{request_id}`
/// for `fal-ai/flux-pro/kontext`). At the app root one result path serves
/// every endpoint of the app, so its answer is any JSON: decode it into the
/// output type of the endpoint the request went to.
fn queue_paths_at_app_root(doc: &mut Value, endpoint: &Endpoint) -> Found {
    for (kind, what) in [
        (QueuePath::Submit, "the submit path (`/<endpoint id>`)"),
        (
            QueuePath::Status,
            "the status path (`…/requests/{request_id}/status`)",
        ),
        (
            QueuePath::Cancel,
            "the cancel path (`…/requests/{request_id}/cancel`)",
        ),
        (
            QueuePath::Result,
            "the result path (`…/requests/{request_id}`)",
        ),
    ] {
        if path_of(doc, endpoint, kind).is_none() {
            return Found::Missing(what);
        }
    }
    let old = paths(doc).map(std::mem::take).unwrap_or_default();
    let app = endpoint.app();
    let mut new = Map::new();
    for (path, mut item) in old {
        let (path, method, id) = match classify(&path, endpoint) {
            Some(QueuePath::Submit) => (path, "post", format!("submit_{}", endpoint.slug())),
            Some(QueuePath::Status) => (
                format!("/{app}/requests/{{request_id}}/status"),
                "get",
                format!("status_{}", endpoint.app_slug()),
            ),
            Some(QueuePath::StatusStream) => (
                format!("/{app}/requests/{{request_id}}/status/stream"),
                "get",
                format!("status_stream_{}", endpoint.app_slug()),
            ),
            Some(QueuePath::Cancel) => (
                format!("/{app}/requests/{{request_id}}/cancel"),
                "put",
                format!("cancel_{}", endpoint.app_slug()),
            ),
            Some(QueuePath::Result) => {
                if let Some(ok) = item.pointer_mut("/get/responses/200") {
                    *ok = json!({
                        "description": "The output of the request: decode it into the output type of the endpoint it was submitted to.",
                        "content": {"application/json": {"schema": {}}}
                    });
                }
                (
                    format!("/{app}/requests/{{request_id}}"),
                    "get",
                    format!("result_{}", endpoint.app_slug()),
                )
            }
            None => (path, "", String::new()),
        };
        if let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) {
            op.insert("operationId".into(), Value::String(id));
        }
        new.insert(path, item);
    }
    doc["paths"] = Value::Object(new);
    Found::Patched
}

/// fal names some schemas after Python modules. The same image schema appears
/// as `registry__image__fast_sdxl__models__Image` in the pro documents and as
/// `Image` in the dev one; the toolkit's richer image is an image *file*.
/// A document whose schemas have no Python module names has nothing to rename.
const SCHEMA_RENAMES: &[(&str, &str)] = &[
    ("registry__image__fast_sdxl__models__Image", "Image"),
    ("fal__toolkit__image__image__Image", "ImageFile"),
];

fn rename_schemas(doc: &mut Value, _: &Endpoint) -> Found {
    let Some(schemas) = schemas(doc) else {
        return Found::Missing("`components.schemas`");
    };
    let mut renamed = false;
    for (from, to) in SCHEMA_RENAMES {
        if let Some(schema) = schemas.remove(*from) {
            schemas.insert((*to).into(), schema);
            renamed = true;
        }
    }
    walk_objects(doc, &mut |map| {
        if let Some(Value::String(reference)) = map.get_mut("$ref") {
            for (from, to) in SCHEMA_RENAMES {
                if reference == &format!("#/components/schemas/{from}") {
                    *reference = format!("#/components/schemas/{to}");
                }
            }
        }
    });
    Found::by_change(renamed)
}

/// fal writes an output size as `image_size: anyOf [{$ref: ImageSize},
/// {enum: [square_hd, …]}]` titled "Image Size"
/// (<https://fal.ai/models/fal-ai/flux-kontext-lora/text-to-image/api>);
/// progenitor names the union after the title, `ImageSize`, the name of the
/// `{width, height}` schema it holds, and the generated code does not
/// compile. The union becomes the named schema `ImageSizeChoice` (`Size` or
/// `Preset`, an untagged enum), its presets the named enum `ImageSizePreset`.
/// A document without such a union has nothing to name.
fn image_size_preset_or_size(doc: &mut Value, _: &Endpoint) -> Found {
    let Some(schemas) = schemas(doc) else {
        return Found::Missing("`components.schemas`");
    };
    let mut presets = None;
    for schema in schemas.values_mut() {
        let Some(property) = schema.pointer_mut("/properties/image_size") else {
            continue;
        };
        let Some(Value::Array(members)) = property.get("anyOf") else {
            continue;
        };
        let Some(values) = members.iter().find_map(|m| m.get("enum")).cloned() else {
            continue;
        };
        let map = property.as_object_mut().expect("it has an `anyOf`");
        map.remove("anyOf");
        map.remove("title");
        map.insert(
            "allOf".into(),
            json!([{"$ref": "#/components/schemas/ImageSizeChoice"}]),
        );
        presets = Some(values);
    }
    let Some(values) = presets else {
        return Found::AlreadyThere;
    };
    schemas.insert(
        "ImageSizePreset".into(),
        json!({"type": "string", "enum": values, "description": "One of fal's named output sizes."}),
    );
    schemas.insert(
        "ImageSizeChoice".into(),
        json!({
            "description": "An output size: `{width, height}` or one of fal's named sizes.",
            "oneOf": [
                {"title": "Size", "allOf": [{"$ref": "#/components/schemas/ImageSize"}]},
                {"title": "Preset", "allOf": [{"$ref": "#/components/schemas/ImageSizePreset"}]}
            ]
        }),
    );
    Found::Patched
}

// ---------------------------------------------------------------------------
// The merge

/// One client for all endpoints: the union of the paths and schemas. A path or
/// schema that two documents both define must be the same in both (the shared
/// `QueueStatus`, the app-root queue paths); otherwise the merge names both.
pub fn merge(documents: &[(Endpoint, Value)]) -> Result<Value> {
    let mut paths: BTreeMap<String, (String, Value)> = BTreeMap::new();
    let mut schemas: BTreeMap<String, (String, Value)> = BTreeMap::new();
    for (endpoint, doc) in documents {
        let sections = [
            ("path", "/paths", &mut paths),
            ("schema", "/components/schemas", &mut schemas),
        ];
        for (what, pointer, into) in sections {
            let Some(Value::Object(items)) = doc.pointer(pointer) else {
                continue;
            };
            for (name, item) in items {
                match into.get(name) {
                    Some((first, existing)) if existing != item => bail!(
                        "endpoints {first} and {} both define the {what} `{name}`, differently; \
                         give one of them another name in xtask/src/regen/normalize.rs",
                        endpoint.id
                    ),
                    Some(_) => {}
                    None => {
                        into.insert(name.clone(), (endpoint.id.clone(), item.clone()));
                    }
                }
            }
        }
    }
    let take = |items: BTreeMap<String, (String, Value)>| {
        Value::Object(items.into_iter().map(|(k, (_, v))| (k, v)).collect())
    };
    Ok(json!({
        "openapi": "3.0.3",
        "info": {
            "title": "fal FLUX.1 Kontext queue",
            "version": "1.0.0",
            "description": "fal's queue API for the FLUX.1 Kontext family, merged from one document per endpoint."
        },
        "servers": [{"url": "https://queue.fal.run"}],
        "paths": take(paths),
        "components": {"schemas": take(schemas)}
    }))
}

// ---------------------------------------------------------------------------
// After the merge

/// Each document spells its enums inline (`output_format: {enum: [jpeg, png]}`),
/// so each input type would get its own copy. An inline string enum becomes a
/// named schema called after its property (`OutputFormat`), one for every
/// schema that uses the same values. Where schemas disagree, the values most
/// of them use keep that name and each other schema gets `<Schema><Property>`,
/// so that a change to one endpoint renames only that endpoint's type.
pub fn hoist_shared_enums(doc: &mut Value) {
    let Some(schemas) = schemas(doc) else { return };
    // property name → every (schema, values) that spells it inline
    let mut found: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    for (schema_name, schema) in schemas.iter() {
        let Some(Value::Object(properties)) = schema.get("properties") else {
            continue;
        };
        for (property, definition) in properties {
            if definition.get("type") == Some(&json!("string"))
                && let Some(values) = definition.get("enum")
            {
                found
                    .entry(property.clone())
                    .or_default()
                    .push((schema_name.clone(), values.clone()));
            }
        }
    }
    let mut hoisted = Vec::new();
    for (property, uses) in &found {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for (_, values) in uses {
            *counts.entry(values.to_string()).or_default() += 1;
        }
        // the most used values; on a tie, the first in sorted order
        let majority = counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(values, _)| values.clone());
        for (schema_name, values) in uses {
            let type_name = if Some(values.to_string()) == majority {
                pascal(property)
            } else {
                format!("{schema_name}{}", pascal(property))
            };
            let definition = &mut schemas[schema_name]["properties"][property];
            let map = definition.as_object_mut().expect("a property found above");
            map.remove("enum");
            map.remove("type");
            let title = map.remove("title");
            map.insert(
                "allOf".into(),
                json!([{"$ref": format!("#/components/schemas/{type_name}")}]),
            );
            let mut named = json!({"type": "string", "enum": values});
            if let Some(title) = title {
                named["title"] = title;
            }
            hoisted.push((type_name, named));
        }
    }
    for (name, schema) in hoisted {
        schemas.insert(name, schema);
    }
}

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kontext() -> Endpoint {
        Endpoint::new("fal-ai/flux-pro/kontext").unwrap()
    }

    /// A document shaped like fal's: the four queue paths of `fal-ai/flux-pro/kontext`.
    fn document() -> Value {
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

    #[test]
    fn null_unions_become_nullable() {
        let mut doc = json!({
            "a": {"anyOf": [{"type": "integer"}, {"type": "null"}], "title": "A"},
            "b": {"anyOf": [{"$ref": "#/x"}, {"type": "null"}]},
            "c": {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
            "d": {"anyOf": [{"type": "string"}, {"type": "integer"}]}
        });
        null_unions_to_nullable(&mut doc, &kontext());
        assert_eq!(
            doc["a"],
            json!({"type": "integer", "nullable": true, "title": "A"})
        );
        assert_eq!(
            doc["b"],
            json!({"allOf": [{"$ref": "#/x"}], "nullable": true})
        );
        assert_eq!(
            doc["c"],
            json!({"oneOf": [{"type": "string"}, {"type": "integer"}], "nullable": true})
        );
        assert_eq!(
            doc["d"],
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
            "no null, no change"
        );
    }

    #[test]
    fn numeric_exclusive_bounds_become_flags() {
        let mut doc = json!({"x": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": true, "maximum": 5}});
        numeric_exclusive_bounds(&mut doc, &kontext());
        assert_eq!(
            doc["x"],
            json!({"type": "number", "minimum": 0, "exclusiveMinimum": true, "exclusiveMaximum": true, "maximum": 5})
        );
    }

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
    fn logs_parameter_becomes_an_integer() {
        let mut doc = document();
        logs_parameter_integer(&mut doc, &kontext());
        let op = &doc["paths"]["/fal-ai/flux-pro/kontext/requests/{request_id}/status"]["get"];
        assert_eq!(op["parameters"][0]["schema"]["type"], json!("integer"));
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
    fn an_image_size_union_gets_names_of_its_own() {
        let mut doc = json!({"components": {"schemas": {
            "In": {"properties": {"image_size": {"title": "Image Size", "anyOf": [
                {"$ref": "#/components/schemas/ImageSize"},
                {"type": "string", "enum": ["square", "landscape_4_3"]}
            ]}}},
            "ImageSize": {"properties": {"width": {"type": "integer"}}}
        }}});
        let found = image_size_preset_or_size(&mut doc, &kontext());
        assert_eq!(found, Found::Patched);
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["In"]["properties"]["image_size"],
            json!({"allOf": [{"$ref": "#/components/schemas/ImageSizeChoice"}]})
        );
        assert_eq!(
            schemas["ImageSizePreset"]["enum"],
            json!(["square", "landscape_4_3"])
        );
        assert!(schemas["ImageSizeChoice"]["oneOf"].is_array());
        let mut plain = document();
        assert_eq!(
            image_size_preset_or_size(&mut plain, &kontext()),
            Found::AlreadyThere
        );
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

    #[test]
    fn submit_takes_the_webhook_and_queue_headers() {
        let mut doc = document();
        assert_eq!(submit_queue_options(&mut doc, &kontext()), Found::Patched);
        let parameters = &doc["paths"]["/fal-ai/flux-pro/kontext"]["post"]["parameters"];
        let names: Vec<&str> = parameters
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "fal_webhook",
                "x-fal-request-timeout",
                "x-fal-queue-priority",
                "x-fal-runner-hint"
            ]
        );
        // seconds, fractions allowed, more than 1: as fal's clients send it
        assert_eq!(
            parameters[1]["schema"],
            json!({"type": "number", "minimum": 1, "exclusiveMinimum": true})
        );
    }

    #[test]
    fn submit_takes_the_storage_retry_and_queue_length_options() {
        let mut doc = document();
        assert_eq!(submit_request_options(&mut doc, &kontext()), Found::Patched);
        let parameters = &doc["paths"]["/fal-ai/flux-pro/kontext"]["post"]["parameters"];
        let placed: Vec<(&str, &str)> = parameters
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["name"].as_str().unwrap(), p["in"].as_str().unwrap()))
            .collect();
        assert_eq!(
            placed,
            [
                ("x-fal-object-lifecycle-preference", "header"),
                ("x-fal-store-io", "header"),
                ("x-fal-no-retry", "header"),
                ("fal_max_queue_length", "query"),
            ]
        );
        // a queue length of at least 1: 0 would refuse every submit
        assert_eq!(
            parameters[3]["schema"],
            json!({"type": "integer", "minimum": 1})
        );
    }

    #[test]
    fn a_submit_option_fal_declares_is_left_as_fal_declares_it() {
        let steps = [
            (
                "submit_queue_options",
                json!({"name": "X-Fal-Runner-Hint", "in": "header", "schema": {"type": "string", "maxLength": 64}}),
            ),
            (
                "submit_request_options",
                json!({"name": "X-Fal-Store-IO", "in": "header", "schema": {"type": "string", "enum": ["0", "1"]}}),
            ),
        ];
        for (name, own) in steps {
            let step = DOCUMENT_STEPS
                .iter()
                .find(|s| s.name == name)
                .unwrap()
                .apply;
            let mut doc = document();
            doc["paths"]["/fal-ai/flux-pro/kontext"]["post"]["parameters"] = json!([own]);
            assert_eq!(step(&mut doc, &kontext()), Found::Patched);
            let parameters = doc["paths"]["/fal-ai/flux-pro/kontext"]["post"]["parameters"]
                .as_array()
                .unwrap()
                .clone();
            assert_eq!(parameters.len(), 4, "{parameters:#?}");
            assert_eq!(parameters[0], own);
            // with all four declared by fal, the step is a no-op by design
            assert_eq!(step(&mut doc, &kontext()), Found::AlreadyThere);
            // and without a submit operation it names what it did not find
            assert_eq!(
                step(&mut json!({"paths": {}}), &kontext()),
                Found::Missing("the submit operation (`POST /<endpoint id>`)")
            );
        }
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

    /// A vendored document, as fal serves it.
    fn vendored(endpoint: &Endpoint) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../openapi")
            .join(endpoint.file_name());
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn a_step_that_finds_nothing_to_patch_fails_the_regen_naming_it_and_the_document() {
        let mut doc = vendored(&kontext());
        doc["components"]["schemas"]
            .as_object_mut()
            .unwrap()
            .remove("QueueStatus");
        let error = normalize_one(&doc, &kontext()).unwrap_err().to_string();
        assert!(
            error.starts_with(
                "normalization step `queue_status_as_served` found nothing to patch in the \
                 document of fal-ai/flux-pro/kontext: the `QueueStatus` schema"
            ),
            "{error}"
        );

        let mut doc = vendored(&kontext());
        doc["paths"]["/fal-ai/flux-pro/kontext/requests/{request_id}/status"]["get"]["parameters"]
            .as_array_mut()
            .unwrap()
            .retain(|p| p["name"] != json!("logs"));
        let error = normalize_one(&doc, &kontext()).unwrap_err().to_string();
        assert!(
            error.starts_with(
                "normalization step `logs_parameter_integer` found nothing to patch in the \
                 document of fal-ai/flux-pro/kontext: the `logs` parameter"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_step_whose_change_fal_already_made_is_a_no_op_by_design() {
        let endpoint = kontext();
        let served = normalize_one(&vendored(&endpoint), &endpoint).unwrap();
        // fal fixes its document: `logs` becomes an integer, the status call
        // declares its 202
        let mut fixed = vendored(&endpoint);
        let status =
            &mut fixed["paths"]["/fal-ai/flux-pro/kontext/requests/{request_id}/status"]["get"];
        status["parameters"][1]["schema"]["type"] = json!("integer");
        status["responses"]["202"] = json!({
            "description": "The request is queued or running.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/QueueStatus"}}}
        });
        assert_eq!(
            logs_parameter_integer(&mut fixed.clone(), &endpoint),
            Found::AlreadyThere
        );
        assert_eq!(
            status_answers_202(&mut fixed.clone(), &endpoint),
            Found::AlreadyThere
        );
        assert_eq!(normalize_one(&fixed, &endpoint).unwrap(), served);
    }

    #[test]
    fn every_vendored_document_has_what_every_step_patches() {
        let list =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/endpoints.txt");
        for endpoint in crate::regen::endpoints::read(&list).unwrap() {
            normalize_one(&vendored(&endpoint), &endpoint).unwrap();
        }
    }

    #[test]
    fn queue_paths_move_to_the_app_root_with_ids() {
        let mut doc = document();
        queue_paths_at_app_root(&mut doc, &kontext());
        let paths = doc["paths"].as_object().unwrap();
        let ids: Vec<(&str, &str)> = paths
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .values()
                    .map(move |op| (path.as_str(), op["operationId"].as_str().unwrap()))
            })
            .collect();
        assert_eq!(
            ids,
            [
                ("/fal-ai/flux-pro/kontext", "submit_flux_pro_kontext"),
                ("/fal-ai/flux-pro/requests/{request_id}", "result_flux_pro"),
                (
                    "/fal-ai/flux-pro/requests/{request_id}/cancel",
                    "cancel_flux_pro"
                ),
                (
                    "/fal-ai/flux-pro/requests/{request_id}/status",
                    "status_flux_pro"
                ),
            ]
        );
        let result = &paths["/fal-ai/flux-pro/requests/{request_id}"]["get"]["responses"]["200"];
        assert_eq!(result["content"]["application/json"]["schema"], json!({}));
    }

    #[test]
    fn python_module_names_are_renamed_everywhere() {
        let mut doc = json!({
            "components": {"schemas": {
                "registry__image__fast_sdxl__models__Image": {"type": "object"},
                "Out": {"properties": {"images": {"items": {"$ref": "#/components/schemas/registry__image__fast_sdxl__models__Image"}}}}
            }}
        });
        rename_schemas(&mut doc, &kontext());
        let schemas = &doc["components"]["schemas"];
        assert!(
            schemas
                .get("registry__image__fast_sdxl__models__Image")
                .is_none()
        );
        assert_eq!(schemas["Image"], json!({"type": "object"}));
        assert_eq!(
            schemas["Out"]["properties"]["images"]["items"]["$ref"],
            json!("#/components/schemas/Image")
        );
    }

    #[test]
    fn merge_keeps_one_copy_of_what_is_shared_and_names_conflicts() {
        let a = (
            kontext(),
            json!({"paths": {"/p": {"get": {}}}, "components": {"schemas": {"S": {"type": "object"}}}}),
        );
        let b = (
            Endpoint::new("fal-ai/flux-pro/kontext/max").unwrap(),
            json!({"paths": {"/p": {"get": {}}, "/q": {}}, "components": {"schemas": {"S": {"type": "object"}}}}),
        );
        let merged = merge(&[a.clone(), b]).unwrap();
        assert_eq!(merged["paths"].as_object().unwrap().len(), 2);
        assert_eq!(
            merged["components"]["schemas"].as_object().unwrap().len(),
            1
        );

        let c = (
            Endpoint::new("fal-ai/flux-kontext/dev").unwrap(),
            json!({"components": {"schemas": {"S": {"type": "string"}}}}),
        );
        let error = merge(&[a, c]).unwrap_err().to_string();
        assert!(
            error.contains(
                "fal-ai/flux-pro/kontext and fal-ai/flux-kontext/dev both define the schema `S`"
            ),
            "{error}"
        );
    }

    #[test]
    fn shared_enums_get_one_name_and_differing_ones_their_own() {
        let mut doc = json!({"components": {"schemas": {
            "A": {"properties": {
                "output_format": {"type": "string", "enum": ["jpeg", "png"], "description": "d"},
                "mode": {"type": "string", "enum": ["x"]}
            }},
            "B": {"properties": {
                "output_format": {"type": "string", "enum": ["jpeg", "png"]},
                "mode": {"type": "string", "enum": ["y"]}
            }},
            "C": {"properties": {"mode": {"type": "string", "enum": ["y"]}}}
        }}});
        hoist_shared_enums(&mut doc);
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["OutputFormat"],
            json!({"type": "string", "enum": ["jpeg", "png"]})
        );
        assert_eq!(
            schemas["A"]["properties"]["output_format"],
            json!({"allOf": [{"$ref": "#/components/schemas/OutputFormat"}], "description": "d"})
        );
        // the values two schemas share keep the name; the odd one gets its own
        assert_eq!(schemas["Mode"]["enum"], json!(["y"]));
        assert_eq!(schemas["AMode"]["enum"], json!(["x"]));
        assert!(schemas.get("BMode").is_none() && schemas.get("CMode").is_none());
    }
}
