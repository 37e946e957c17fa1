//! The step that fixes where the queue calls are and what the generated
//! methods are called: status, its stream, cancel and result move to the
//! app root, where the live service answers them, and every operation gets
//! the id progenitor needs.

use serde_json::{Map, Value, json};

use super::document::{QueuePath, classify, path_of, paths};
use super::step::Found;
use crate::regen::endpoints::Endpoint;

/// Gives every operation an id (progenitor refuses a document without them)
/// and moves status, its stream, cancel and result to the app root, where
/// the live service answers them (`/fal-ai/flux-pro/requests/{request_id}`
/// for `fal-ai/flux-pro/kontext`). At the app root one result path serves
/// every endpoint of the app, so its answer is any JSON: decode it into the
/// output type of the endpoint the request went to.
pub(super) fn queue_paths_at_app_root(doc: &mut Value, endpoint: &Endpoint) -> Found {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regen::normalize::fixtures::{document, kontext};

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
}
