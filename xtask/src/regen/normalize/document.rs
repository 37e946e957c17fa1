//! Where things are in one of fal's raw documents: its schemas, its paths,
//! and which queue call a path is. The steps find what they patch through
//! these.

use serde_json::{Map, Value};

use crate::regen::endpoints::Endpoint;

/// Visits every JSON object in `value`, parents before children.
pub(super) fn walk_objects(value: &mut Value, visit: &mut impl FnMut(&mut Map<String, Value>)) {
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

pub(super) fn schemas(doc: &mut Value) -> Option<&mut Map<String, Value>> {
    doc.pointer_mut("/components/schemas")?.as_object_mut()
}

pub(super) fn paths(doc: &mut Value) -> Option<&mut Map<String, Value>> {
    doc.get_mut("paths")?.as_object_mut()
}

/// The queue operation a path of a raw document is, relative to its endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum QueuePath {
    Submit,
    Status,
    StatusStream,
    Cancel,
    Result,
}

pub(super) fn classify(path: &str, endpoint: &Endpoint) -> Option<QueuePath> {
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
pub(super) fn path_of(doc: &Value, endpoint: &Endpoint, kind: QueuePath) -> Option<String> {
    doc.get("paths")?
        .as_object()?
        .keys()
        .find(|p| classify(p, endpoint) == Some(kind))
        .cloned()
}

/// The operation object of `method` at the path of kind `kind`.
pub(super) fn operation<'a>(
    doc: &'a mut Value,
    endpoint: &Endpoint,
    kind: QueuePath,
    method: &str,
) -> Option<&'a mut Map<String, Value>> {
    let key = path_of(doc, endpoint, kind)?;
    paths(doc)?.get_mut(&key)?.get_mut(method)?.as_object_mut()
}
