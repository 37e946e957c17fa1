//! Input validation from the vendored OpenAPI documents, reported the way
//! fal's apps (FastAPI + pydantic) report it: a `detail` list of
//! `{loc, msg, type}`.
//!
//! The raw documents are used as they are: their `anyOf [.., {type: null}]`
//! is valid JSON Schema, and their `#/components/schemas` references resolve
//! against a root that carries the document's `components`. Validation is
//! JSON-Schema strict: pydantic's lax mode would also take `"2"` for an
//! integer; the emulator does not.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{JsonType, ValidationError};
use serde_json::{Value, json};

/// Strings longer than this are left out of a detail's `input`.
const LONGEST_ECHOED_INPUT: usize = 200;

/// The compiled input schema of one endpoint.
pub(crate) struct InputValidator {
    validator: jsonschema::Validator,
}

impl InputValidator {
    /// `input_ref` is the request body's `$ref` (`#/components/schemas/…`).
    pub(crate) fn new(document: &Value, input_ref: &str) -> Self {
        let root = json!({"$ref": input_ref, "components": document["components"]});
        let validator = jsonschema::validator_for(&root)
            .unwrap_or_else(|error| panic!("input schema {input_ref} does not compile: {error}"));
        Self { validator }
    }

    /// `Err` holds fal's `detail` list.
    pub(crate) fn check(&self, input: &Value) -> Result<(), Vec<Value>> {
        let mut details = Vec::new();
        for error in self.validator.iter_errors(input) {
            describe(&error, &mut details);
        }
        if details.is_empty() {
            Ok(())
        } else {
            Err(details)
        }
    }
}

/// The detail list for a body that is not JSON at all.
pub(crate) fn invalid_json(error: &serde_json::Error) -> Vec<Value> {
    vec![json!({
        "loc": ["body", error.column()],
        "msg": format!("JSON decode error: {error}"),
        "type": "json_invalid",
    })]
}

fn describe(error: &ValidationError<'_>, details: &mut Vec<Value>) {
    let mut loc = vec![json!("body")];
    for segment in error.instance_path().iter() {
        loc.push(match segment {
            LocationSegment::Property(name) => json!(name),
            LocationSegment::Index(index) => json!(index),
        });
    }
    let input = error.instance();
    let (msg, kind, ctx) = match error.kind() {
        ValidationErrorKind::Required { property } => {
            loc.push(property.clone());
            details.push(json!({"loc": loc, "msg": "Field required", "type": "missing"}));
            return;
        }
        ValidationErrorKind::AnyOf { context } => {
            // A nullable field failed both branches: report why the value
            // does not fit the non-null one, as pydantic does.
            let branch = context
                .iter()
                .find(|errors| !errors.iter().all(is_null_type_error));
            if let Some(errors) = branch {
                errors.iter().for_each(|error| describe(error, details));
                return;
            }
            ("Input is not valid".to_owned(), "value_error", None)
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(single) => *single,
                TypeKind::Multiple(set) => set.iter().next().unwrap_or(JsonType::Null),
            };
            if loc.len() == 1 && expected == JsonType::Object {
                (
                    "Input should be a valid dictionary or object to extract fields from"
                        .to_owned(),
                    "model_attributes_type",
                    None,
                )
            } else {
                let (msg, kind) = type_error(expected);
                (msg.to_owned(), kind, None)
            }
        }
        ValidationErrorKind::Maximum { limit } => (
            format!("Input should be less than or equal to {limit}"),
            "less_than_equal",
            Some(json!({"le": limit})),
        ),
        ValidationErrorKind::Minimum { limit } => (
            format!("Input should be greater than or equal to {limit}"),
            "greater_than_equal",
            Some(json!({"ge": limit})),
        ),
        ValidationErrorKind::ExclusiveMaximum { limit } => (
            format!("Input should be less than {limit}"),
            "less_than",
            Some(json!({"lt": limit})),
        ),
        ValidationErrorKind::ExclusiveMinimum { limit } => (
            format!("Input should be greater than {limit}"),
            "greater_than",
            Some(json!({"gt": limit})),
        ),
        ValidationErrorKind::Enum { options } => {
            let expected = literal_list(options);
            (
                format!("Input should be {expected}"),
                "literal_error",
                Some(json!({"expected": expected})),
            )
        }
        ValidationErrorKind::MinLength { limit } => (
            format!(
                "String should have at least {limit} character{}",
                plural(*limit)
            ),
            "string_too_short",
            Some(json!({"min_length": limit})),
        ),
        ValidationErrorKind::MaxLength { limit } => (
            format!(
                "String should have at most {limit} character{}",
                plural(*limit)
            ),
            "string_too_long",
            Some(json!({"max_length": limit})),
        ),
        ValidationErrorKind::MinItems { limit } => (
            format!("List should have at least {limit} item{}", plural(*limit)),
            "too_short",
            Some(json!({"min_length": limit})),
        ),
        ValidationErrorKind::MaxItems { limit } => (
            format!("List should have at most {limit} item{}", plural(*limit)),
            "too_long",
            Some(json!({"max_length": limit})),
        ),
        _ => (error.to_string(), "value_error", None),
    };
    let mut detail = json!({"loc": loc, "msg": msg, "type": kind});
    if !matches!(input.as_ref(), Value::String(text) if text.len() > LONGEST_ECHOED_INPUT) {
        detail["input"] = input.as_ref().clone();
    }
    if let Some(ctx) = ctx {
        detail["ctx"] = ctx;
    }
    details.push(detail);
}

fn is_null_type_error(error: &ValidationError<'_>) -> bool {
    matches!(
        error.kind(),
        ValidationErrorKind::Type {
            kind: TypeKind::Single(JsonType::Null)
        }
    )
}

fn type_error(expected: JsonType) -> (&'static str, &'static str) {
    match expected {
        JsonType::Integer => ("Input should be a valid integer", "int_type"),
        JsonType::Number => ("Input should be a valid number", "float_type"),
        JsonType::String => ("Input should be a valid string", "string_type"),
        JsonType::Boolean => ("Input should be a valid boolean", "bool_type"),
        JsonType::Array => ("Input should be a valid list", "list_type"),
        JsonType::Object => ("Input should be a valid dictionary", "dict_type"),
        JsonType::Null => ("Input should be None", "none_required"),
    }
}

/// `'a'`, `'a' or 'b'`, `'a', 'b' or 'c'`: pydantic's wording.
fn literal_list(options: &Value) -> String {
    let quoted: Vec<String> = options
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| match item {
                    Value::String(text) => format!("'{text}'"),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => "one of the allowed values".to_owned(),
    }
}

fn plural(count: u64) -> &'static str {
    if count == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::endpoints;

    fn check(id: &str, input: Value) -> Result<(), Vec<Value>> {
        endpoints::find(id)
            .expect("vendored endpoint")
            .validator
            .check(&input)
    }

    #[test]
    fn a_valid_input_passes() {
        let input = json!({"prompt": "p", "image_url": "data:image/png;base64,AA==", "seed": null,
                           "aspect_ratio": "16:9", "num_images": 4, "safety_tolerance": "6"});
        assert_eq!(check("fal-ai/flux-pro/kontext", input), Ok(()));
    }

    #[test]
    fn missing_fields_are_reported_like_pydantic() {
        let details = check("fal-ai/flux-pro/kontext", json!({"prompt": "p"})).unwrap_err();
        assert_eq!(
            details,
            vec![json!({"loc": ["body", "image_url"], "msg": "Field required", "type": "missing"})]
        );
    }

    #[test]
    fn ranges_enums_and_nullable_types_are_reported() {
        let details = check(
            "fal-ai/flux-pro/kontext/text-to-image",
            json!({"prompt": "p", "num_images": 5, "output_format": "gif", "seed": "x"}),
        )
        .unwrap_err();
        let by_field = |field: &str| {
            details
                .iter()
                .find(|d| d["loc"] == json!(["body", field]))
                .unwrap_or_else(|| panic!("no detail for {field}: {details:?}"))
        };
        assert_eq!(by_field("num_images")["type"], "less_than_equal");
        assert_eq!(
            by_field("num_images")["msg"],
            "Input should be less than or equal to 4"
        );
        assert_eq!(
            by_field("output_format")["msg"],
            "Input should be 'jpeg' or 'png'"
        );
        assert_eq!(by_field("seed")["type"], "int_type");
        assert_eq!(details.len(), 3, "{details:?}");
    }

    #[test]
    fn a_body_that_is_not_an_object_is_reported_at_the_root() {
        let details = check("fal-ai/flux-kontext/dev", json!([1])).unwrap_err();
        assert_eq!(details[0]["loc"], json!(["body"]));
        assert_eq!(details[0]["type"], "model_attributes_type");
    }

    #[test]
    fn array_items_carry_their_index() {
        let details = check(
            "fal-ai/flux-pro/kontext/multi",
            json!({"prompt": "p", "image_urls": ["a", 3]}),
        )
        .unwrap_err();
        assert_eq!(details[0]["loc"], json!(["body", "image_urls", 1]));
    }
}
