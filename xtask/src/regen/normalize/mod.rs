//! The normalization: fal's raw documents in, one OpenAPI 3.0 document that
//! progenitor generates a good client from out.
//!
//! The raw documents stay untouched in `openapi/`; every patch happens here,
//! in memory, as a named [`Step`] with its own test. Each step says which
//! fact about fal's documents or the live service it answers (the facts are
//! listed in `openapi/README.md`). This file holds the order the steps run
//! in and the runner; the step type is in [`step`], and the steps live in a
//! file per thing they fix:
//!
//! - [`openapi_3_0`]: OpenAPI 3.1 constructs progenitor cannot read;
//! - [`answers`]: result and cancel answers as fal sends them, and defaults
//!   left to fal;
//! - [`status`]: the status call and its event stream as the queue answers;
//! - [`submit`]: the options fal's queue accepts on submit;
//! - [`queue_paths`]: the queue calls at the app root, and operation ids;
//! - [`names`]: the names of the generated types, shared enums included
//!   (after the [`merge`]);
//! - [`platform_apis`]: fal's Platform APIs document (prices, requests).
//!
//! [`document`] finds things in a raw document for all of them.

use anyhow::{Result, bail};
use serde_json::Value;

use super::endpoints::Endpoint;
use super::fetch::RawDocument;

mod answers;
mod document;
#[cfg(test)]
mod fixtures;
mod merge;
mod names;
mod openapi_3_0;
mod platform_apis;
mod queue_paths;
mod status;
mod step;
mod submit;

pub use names::hoist_shared_enums;
use step::{Found, Step};

/// The steps of each endpoint's document, in the order they run, before the
/// merge.
pub const DOCUMENT_STEPS: &[Step<Endpoint>] = &[
    Step {
        name: "null_unions_to_nullable",
        apply: openapi_3_0::null_unions_to_nullable,
    },
    Step {
        name: "numeric_exclusive_bounds",
        apply: openapi_3_0::numeric_exclusive_bounds,
    },
    Step {
        name: "defaults_to_docs",
        apply: answers::defaults_to_docs,
    },
    Step {
        name: "queue_status_as_served",
        apply: status::queue_status_as_served,
    },
    Step {
        name: "status_answer_needs_only_status",
        apply: status::status_answer_needs_only_status,
    },
    Step {
        name: "status_open_to_new_values",
        apply: status::status_open_to_new_values,
    },
    Step {
        name: "output_needs_only_image_urls",
        apply: answers::output_needs_only_image_urls,
    },
    Step {
        name: "logs_parameter_integer",
        apply: status::logs_parameter_integer,
    },
    Step {
        name: "status_answers_202",
        apply: status::status_answers_202,
    },
    Step {
        name: "status_stream_operation",
        apply: status::status_stream_operation,
    },
    Step {
        name: "cancel_answers_as_served",
        apply: answers::cancel_answers_as_served,
    },
    Step {
        name: "submit_queue_options",
        apply: submit::submit_queue_options,
    },
    Step {
        name: "submit_request_options",
        apply: submit::submit_request_options,
    },
    Step {
        name: "queue_paths_at_app_root",
        apply: queue_paths::queue_paths_at_app_root,
    },
    Step {
        name: "rename_schemas",
        apply: names::rename_schemas,
    },
    Step {
        name: "image_size_preset_or_size",
        apply: names::image_size_preset_or_size,
    },
];

/// The steps of fal's Platform APIs document, in the order they run.
pub const PLATFORM_STEPS: &[Step<()>] = &[
    Step {
        name: "platform_keep_used_operations",
        apply: platform_apis::keep_used_operations,
    },
    Step {
        name: "platform_operation_ids",
        apply: platform_apis::operation_ids,
    },
    Step {
        name: "platform_openapi_3_0",
        apply: platform_apis::openapi_3_0,
    },
    Step {
        name: "platform_answers_need_only_what_is_used",
        apply: platform_apis::answers_need_only_what_is_used,
    },
    Step {
        name: "platform_ids_and_times_as_text",
        apply: platform_apis::ids_and_times_as_text,
    },
    Step {
        name: "platform_errors_read_by_the_sdk",
        apply: platform_apis::errors_read_by_the_sdk,
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
    let mut merged = merge::merge(&normalized)?;
    hoist_shared_enums(&mut merged);
    Ok(merged)
}

/// One endpoint's document normalized on its own (used to say which endpoint
/// a generation failure comes from); fails as [`run`] does.
pub fn normalize_one(raw: &Value, endpoint: &Endpoint) -> Result<Value> {
    run(DOCUMENT_STEPS, raw, endpoint, &endpoint.id)
}

/// fal's Platform APIs document after every one of [`PLATFORM_STEPS`]; fails
/// as [`run`] does.
pub fn normalize_platform(raw: &Value) -> Result<Value> {
    run(PLATFORM_STEPS, raw, &(), "fal's Platform APIs")
}

/// `steps` run in order on a copy of `raw`, the document of `subject`, which
/// describes `about`. Fails, naming the step and the subject, when a step
/// finds nothing to patch and does not say that the change is already in
/// fal's document; whether a step changed the document is checked here, not
/// taken on its word.
fn run<D>(steps: &[Step<D>], raw: &Value, about: &D, subject: &str) -> Result<Value> {
    let mut doc = raw.clone();
    for step in steps {
        let before = doc.clone();
        let found = (step.apply)(&mut doc, about);
        checked(step.name, found, doc != before, subject)?;
    }
    Ok(doc)
}

/// Whether a step did what it said to the document of `subject`: it patched
/// (and changed) it, or said the change was already there (and changed
/// nothing); anything else fails the regen, naming the step.
fn checked(step: &str, found: Found, changed: bool, subject: &str) -> Result<()> {
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
         xtask/src/regen/normalize/ (or have it say that the change is already there)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use fixtures::{kontext, vendored};
    use serde_json::json;
    use status::{logs_parameter_integer, status_answers_202};

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
}
