//! Steps that fix the submit call's options: the query parameters and
//! headers fal's queue accepts on submit, which the documents leave out, so
//! that the generated client can send them.

use serde_json::{Value, json};

use super::document::{QueuePath, operation};
use super::step::Found;
use crate::regen::endpoints::Endpoint;

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
pub(super) fn submit_queue_options(doc: &mut Value, endpoint: &Endpoint) -> Found {
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
pub(super) fn submit_request_options(doc: &mut Value, endpoint: &Endpoint) -> Found {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regen::normalize::DOCUMENT_STEPS;
    use crate::regen::normalize::fixtures::{document, kontext};

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
}
