//! The normalization: fal's raw documents in, one OpenAPI 3.0 document that
//! progenitor generates a good client from out.
//!
//! The raw documents stay untouched in `openapi/`; every patch happens here,
//! in memory, as a named step with its own test. Each step says which fact
//! about fal's documents or the live service it answers (the facts are listed
//! in `openapi/README.md`).

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
pub mod platform_apis;
mod queue_paths;
mod status;
mod submit;

pub use document::walk_objects;
pub use names::hoist_shared_enums;
pub use openapi_3_0::nullable_unions;

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
