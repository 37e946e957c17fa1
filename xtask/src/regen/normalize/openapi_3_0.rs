//! Steps that fix the OpenAPI dialect: fal writes some OpenAPI 3.1 (JSON
//! Schema 2020) constructs, and progenitor (through openapiv3) reads only
//! OpenAPI 3.0, panicking or refusing the document on them.

use serde_json::{Value, json};

use super::document::walk_objects;
use super::step::Found;
use crate::regen::endpoints::Endpoint;

/// fal writes an optional field as `anyOf: [{…}, {"type": "null"}]`, which is
/// OpenAPI 3.1; progenitor reads 3.0 and panics on `"type": "null"`. Rewrite
/// each such union to the 3.0 form: the other member, `nullable: true`. A
/// `$ref` member is kept as `allOf: [{$ref}]` so the sibling `nullable` counts.
/// A document without such unions is already 3.0 in this respect.
pub(super) fn null_unions_to_nullable(doc: &mut Value, _: &Endpoint) -> Found {
    nullable_unions(doc)
}

/// [`null_unions_to_nullable`] on any document (fal's Platform APIs
/// document spells its optional values the same way).
pub(super) fn nullable_unions(doc: &mut Value) -> Found {
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
pub(super) fn numeric_exclusive_bounds(doc: &mut Value, _: &Endpoint) -> Found {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regen::normalize::fixtures::kontext;

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
}
