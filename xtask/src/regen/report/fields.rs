//! What users see of an endpoint's input or output, from one document:
//! its schema flattened into fields by path (`images[].url`), each with its
//! type, required-ness and enum values as fal's documents say them; and the
//! changes from one such set of fields to another.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::change::{Change, Side};
use crate::regen::endpoints::Endpoint;

/// What users see of a field: its type, whether it is required, its enum values.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Field {
    ty: String,
    required: bool,
    values: BTreeSet<String>,
}

/// By path: `image_size.width`, `images[].url`.
pub(super) type Fields = BTreeMap<String, Field>;

/// Deeper than this, a (recursive) schema is not followed.
const MAX_DEPTH: usize = 12;

/// The input (the body of `POST /{id}`) or output (the answer of
/// `GET /{id}/requests/{request_id}`) of an endpoint, flattened.
pub(super) fn side_fields(endpoint: &Endpoint, side: Side, doc: &Value) -> Fields {
    let operation = match side {
        Side::Input => &doc["paths"][format!("/{}", endpoint.id)]["post"]["requestBody"],
        Side::Output => {
            &doc["paths"][format!("/{}/requests/{{request_id}}", endpoint.id)]["get"]["responses"]["200"]
        }
    };
    let mut fields = Fields::new();
    walk(
        doc,
        &operation["content"]["application/json"]["schema"],
        "",
        0,
        &mut fields,
    );
    fields
}

/// `#/components/schemas/X` in place of a `$ref` to it.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let mut schema = schema;
    for _ in 0..MAX_DEPTH {
        let Some(pointer) = schema["$ref"].as_str() else {
            break;
        };
        match pointer.strip_prefix('#').and_then(|p| doc.pointer(p)) {
            Some(target) => schema = target,
            None => break,
        }
    }
    schema
}

/// The members of `anyOf`, `oneOf` and `allOf`.
fn members(schema: &Value) -> impl Iterator<Item = &Value> {
    ["anyOf", "oneOf", "allOf"]
        .into_iter()
        .filter_map(|key| schema[key].as_array())
        .flatten()
}

fn walk(doc: &Value, schema: &Value, prefix: &str, depth: usize, out: &mut Fields) {
    if depth > MAX_DEPTH {
        return;
    }
    let schema = resolve(doc, schema);
    for member in members(schema) {
        walk(doc, member, prefix, depth + 1, out);
    }
    if let Some(items) = schema.get("items") {
        walk(doc, items, &format!("{prefix}[]"), depth + 1, out);
    }
    let Some(properties) = schema["properties"].as_object() else {
        return;
    };
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for (name, property) in properties {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let field = Field {
            ty: type_name(doc, property, depth),
            required: required.contains(name.as_str()),
            values: enum_values(doc, property, depth),
        };
        out.insert(path.clone(), field);
        walk(doc, property, &path, depth + 1, out);
    }
}

/// A type as fal's documents say it: `integer`, `string (uri)`, `array of
/// object`, `map of number`, `integer | null`.
fn type_name(doc: &Value, schema: &Value, depth: usize) -> String {
    let schema = resolve(doc, schema);
    if depth > MAX_DEPTH {
        return "…".into();
    }
    let union: BTreeSet<String> = members(schema)
        .map(|member| type_name(doc, member, depth + 1))
        .collect();
    if !union.is_empty() {
        return union.into_iter().collect::<Vec<_>>().join(" | ");
    }
    let ty = match &schema["type"] {
        Value::String(ty) => ty.clone(),
        Value::Array(types) => {
            let types: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
            types.join(" | ")
        }
        _ if schema.get("properties").is_some() => "object".into(),
        _ => "any".into(),
    };
    match ty.as_str() {
        "array" => format!("array of {}", type_name(doc, &schema["items"], depth + 1)),
        "object"
            if schema.get("properties").is_none() && schema["additionalProperties"].is_object() =>
        {
            format!(
                "map of {}",
                type_name(doc, &schema["additionalProperties"], depth + 1)
            )
        }
        _ => match schema["format"].as_str() {
            Some(format) => format!("{ty} ({format})"),
            None => ty,
        },
    }
}

/// The enum values a field takes, in it, its union's members or its items.
fn enum_values(doc: &Value, schema: &Value, depth: usize) -> BTreeSet<String> {
    let schema = resolve(doc, schema);
    let mut values: BTreeSet<String> = schema["enum"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|value| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect();
    if depth < MAX_DEPTH {
        for inner in members(schema).chain(schema.get("items")) {
            values.extend(enum_values(doc, inner, depth + 1));
        }
    }
    values
}

/// The changes from `old` to `new`, by field path. A field added or removed
/// with its parent is not listed apart from it.
pub(super) fn diff(old: &Fields, new: &Fields) -> Vec<(String, Change)> {
    let mut changes = Vec::new();
    for (path, field) in new {
        match old.get(path) {
            None if !new_parent(path, old, new) => changes.push((
                path.clone(),
                Change::Added {
                    required: field.required,
                    ty: field.ty.clone(),
                },
            )),
            None => {}
            Some(before) => changes.extend(
                field_diff(before, field)
                    .into_iter()
                    .map(|change| (path.clone(), change)),
            ),
        }
    }
    for (path, field) in old {
        if !new.contains_key(path) && !new_parent(path, new, old) {
            changes.push((
                path.clone(),
                Change::Removed {
                    ty: field.ty.clone(),
                },
            ));
        }
    }
    changes
}

/// Whether the field holding `path` is in `here` but not in `there`.
fn new_parent(path: &str, there: &Fields, here: &Fields) -> bool {
    let Some((parent, _)) = path.trim_end_matches("[]").rsplit_once('.') else {
        return false;
    };
    let parent = parent.trim_end_matches("[]");
    here.contains_key(parent) && !there.contains_key(parent)
}

fn field_diff(before: &Field, after: &Field) -> Vec<Change> {
    let mut changes = Vec::new();
    if before.ty != after.ty {
        changes.push(Change::Retyped {
            from: before.ty.clone(),
            to: after.ty.clone(),
        });
    }
    match (before.required, after.required) {
        (false, true) => changes.push(Change::NowRequired),
        (true, false) => changes.push(Change::NowOptional),
        _ => {}
    }
    changes.extend(
        after
            .values
            .difference(&before.values)
            .map(|value| Change::ValueAdded(value.clone())),
    );
    changes.extend(
        before
            .values
            .difference(&after.values)
            .map(|value| Change::ValueRemoved(value.clone())),
    );
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(schema: Value) -> Fields {
        let doc = json!({ "components": { "schemas": {
            "Image": { "type": "object", "required": ["url"], "properties": {
                "url": { "type": "string" },
                "width": { "anyOf": [{ "type": "integer" }, { "type": "null" }] }
            }}
        }}});
        let mut out = Fields::new();
        walk(&doc, &schema, "", 0, &mut out);
        out
    }

    #[test]
    fn fields_are_flattened_with_types_required_ness_and_values() {
        let fields = fields(json!({
            "type": "object",
            "required": ["images"],
            "properties": {
                "images": { "type": "array", "items": { "$ref": "#/components/schemas/Image" } },
                "format": { "anyOf": [{ "enum": ["jpeg", "png"], "type": "string" }, { "type": "null" }] },
                "timings": { "type": "object", "additionalProperties": { "type": "number" } }
            }
        }));
        let summary: Vec<String> = fields
            .iter()
            .map(|(path, f)| format!("{path}: {} {} {:?}", f.ty, f.required, f.values))
            .collect();
        assert_eq!(
            summary,
            [
                "format: null | string false {\"jpeg\", \"png\"}",
                "images: array of object true {}",
                "images[].url: string true {}",
                "images[].width: integer | null false {}",
                "timings: map of number false {}",
            ]
        );
    }

    #[test]
    fn a_field_added_with_its_parent_is_one_change() {
        let old = fields(json!({ "type": "object", "properties": {} }));
        let new = fields(json!({ "type": "object", "properties": {
            "images": { "type": "array", "items": { "$ref": "#/components/schemas/Image" } }
        }}));
        assert_eq!(
            diff(&old, &new),
            [(
                "images".to_string(),
                Change::Added {
                    required: false,
                    ty: "array of object".into()
                }
            )]
        );
        assert_eq!(
            diff(&new, &old),
            [(
                "images".to_string(),
                Change::Removed {
                    ty: "array of object".into()
                }
            )]
        );
    }
}
