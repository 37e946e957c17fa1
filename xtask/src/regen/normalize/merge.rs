//! The merge: the normalized documents of all the endpoints become one
//! document, so that one client serves them all.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::regen::endpoints::Endpoint;

/// One client for all endpoints: the union of the paths and schemas. A path or
/// schema that two documents both define must be the same in both (the shared
/// `QueueStatus`, the app-root queue paths); otherwise the merge names both.
pub(super) fn merge(documents: &[(Endpoint, Value)]) -> Result<Value> {
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
                         give one of them another name in xtask/src/regen/normalize/names.rs",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regen::normalize::fixtures::kontext;

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
}
