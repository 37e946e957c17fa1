//! `--report FILE`: what a regen changes for users, in Markdown, from the
//! documents (the vendored ones before, the fetched ones after), per endpoint:
//! fields and enum values added, removed or retyped, required-ness changed,
//! each with a verdict for the SDK's semver, and one verdict overall. The
//! regen pull request's body is this report.
//!
//! It reads fal's documents as fal serves them, before normalization, so that
//! it names fields and types as fal's documentation does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use super::endpoints::Endpoint;
use super::fetch::RawDocument;

/// Whether a change lets users update without changing their code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// A minor release: what compiled and worked before still does.
    Additive,
    /// A major release (for 0.x, the next minor): some code or request that
    /// worked before may not.
    Breaking,
}

impl Verdict {
    fn name(self) -> &'static str {
        match self {
            Verdict::Additive => "additive",
            Verdict::Breaking => "breaking",
        }
    }

    /// As a table cell or heading shows it: breaking in bold.
    fn shown(self) -> String {
        match self {
            Verdict::Additive => self.name().into(),
            Verdict::Breaking => format!("**{}**", self.name()),
        }
    }
}

/// What users send (the input) or get back (the output).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Input,
    Output,
}

/// One change to one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Added { required: bool, ty: String },
    Removed { ty: String },
    Retyped { from: String, to: String },
    NowRequired,
    NowOptional,
    ValueAdded(String),
    ValueRemoved(String),
}

/// The rules, one line each, with their reason; the report prints them.
const RULES: &[(&str, &str, &str)] = &[
    (
        "optional input field added; input field now optional; input enum value added",
        "additive",
        "every request that was valid stays valid",
    ),
    (
        "output field added; output enum value added",
        "additive",
        "the SDK accepts fields and values it does not know; the generated types gain a field or variant (build them with `builder()`, match their enums with a `_` arm)",
    ),
    (
        "required input field added; input field now required",
        "breaking",
        "requests that were valid now lack it",
    ),
    (
        "any field removed or retyped; any enum value removed",
        "breaking",
        "code that set or read it stops compiling, or sends what fal now refuses",
    ),
    (
        "output field now required or now optional",
        "breaking",
        "the generated field's type changes between `T` and `Option<T>`",
    ),
];

fn verdict(side: Side, change: &Change) -> Verdict {
    use Change::*;
    match (side, change) {
        (
            Side::Input,
            Added {
                required: false, ..
            }
            | NowOptional
            | ValueAdded(_),
        ) => Verdict::Additive,
        (Side::Output, Added { .. } | ValueAdded(_)) => Verdict::Additive,
        _ => Verdict::Breaking,
    }
}

/// One row of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub side: Side,
    pub field: String,
    pub change: Change,
}

impl Row {
    pub fn verdict(&self) -> Verdict {
        verdict(self.side, &self.change)
    }
}

/// What changed in one endpoint.
pub enum EndpointChange {
    /// No document before: the endpoint is new.
    New,
    /// The changed fields; empty when nothing a user sees changed.
    Fields(Vec<Row>),
}

/// The whole report.
pub struct Report {
    pub endpoints: Vec<(Endpoint, EndpointChange)>,
}

impl Report {
    /// The verdict of the whole regen: the worst of its changes.
    pub fn verdict(&self) -> Option<Verdict> {
        self.endpoints
            .iter()
            .filter_map(|(_, change)| endpoint_verdict(change))
            .max()
    }
}

fn endpoint_verdict(change: &EndpointChange) -> Option<Verdict> {
    match change {
        EndpointChange::New => Some(Verdict::Additive),
        EndpointChange::Fields(rows) => rows.iter().map(Row::verdict).max(),
    }
}

/// The vendored document of each endpoint, when there is one.
pub fn read_previous(dir: &Path, endpoints: &[Endpoint]) -> Result<Vec<Option<Value>>> {
    endpoints
        .iter()
        .map(|endpoint| {
            let path = dir.join(endpoint.file_name());
            let Ok(text) = std::fs::read_to_string(&path) else {
                return Ok(None);
            };
            serde_json::from_str(&text).map(Some).with_context(|| {
                format!("endpoint {}: {} is not JSON", endpoint.id, path.display())
            })
        })
        .collect()
}

/// Compares each endpoint's previous document with its new one.
pub fn compare(previous: &[Option<Value>], new: &[RawDocument]) -> Report {
    let endpoints = previous
        .iter()
        .zip(new)
        .map(|(before, after)| {
            let change = match before {
                None => EndpointChange::New,
                Some(before) => {
                    EndpointChange::Fields(field_changes(&after.endpoint, before, &after.raw))
                }
            };
            (after.endpoint.clone(), change)
        })
        .collect();
    Report { endpoints }
}

fn field_changes(endpoint: &Endpoint, before: &Value, after: &Value) -> Vec<Row> {
    let mut rows = Vec::new();
    for side in [Side::Input, Side::Output] {
        let old = side_fields(endpoint, side, before);
        let new = side_fields(endpoint, side, after);
        rows.extend(diff(&old, &new).into_iter().map(|(field, change)| Row {
            side,
            field,
            change,
        }));
    }
    rows
}

// ---------------------------------------------------------------------------
// The fields of a schema, flattened

/// What users see of a field: its type, whether it is required, its enum values.
#[derive(Clone, Debug, PartialEq)]
struct Field {
    ty: String,
    required: bool,
    values: BTreeSet<String>,
}

/// By path: `image_size.width`, `images[].url`.
type Fields = BTreeMap<String, Field>;

/// Deeper than this, a (recursive) schema is not followed.
const MAX_DEPTH: usize = 12;

/// The input (the body of `POST /{id}`) or output (the answer of
/// `GET /{id}/requests/{request_id}`) of an endpoint, flattened.
fn side_fields(endpoint: &Endpoint, side: Side, doc: &Value) -> Fields {
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

// ---------------------------------------------------------------------------
// The differences

/// The changes from `old` to `new`, by field path. A field added or removed
/// with its parent is not listed apart from it.
fn diff(old: &Fields, new: &Fields) -> Vec<(String, Change)> {
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

// ---------------------------------------------------------------------------
// Markdown

/// Inline code, safe inside a table cell.
fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'").replace('|', "\\|"))
}

fn describe(change: &Change) -> String {
    match change {
        Change::Added { required, ty } => format!(
            "added, {}, {}",
            if *required { "required" } else { "optional" },
            code(ty)
        ),
        Change::Removed { ty } => format!("removed (was {})", code(ty)),
        Change::Retyped { from, to } => format!("retyped: {} → {}", code(from), code(to)),
        Change::NowRequired => "now required".into(),
        Change::NowOptional => "now optional".into(),
        Change::ValueAdded(value) => format!("enum value {} added", code(value)),
        Change::ValueRemoved(value) => format!("enum value {} removed", code(value)),
    }
}

impl Report {
    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::from("# API change report\n\n");
        out.push_str(
            "What this regen changes for users of `fal-kontext` (and of the generated \
             `fal-kontext-api` it re-exports as `fal_kontext::api`), per endpoint, from fal's \
             documents: before (`openapi/` as committed) and after.\n\n",
        );
        let changed: Vec<_> = self
            .endpoints
            .iter()
            .filter_map(|(endpoint, change)| Some((endpoint, change, endpoint_verdict(change)?)))
            .collect();
        let overall = match self.verdict() {
            None => "**Overall: no change** that users see.".to_string(),
            Some(verdict) => format!(
                "**Overall: {}** ({} of {} endpoints changed). {}",
                verdict.name(),
                changed.len(),
                self.endpoints.len(),
                match verdict {
                    Verdict::Additive => "A minor release.",
                    Verdict::Breaking =>
                        "A major release (while the version is 0.x, the next minor: 0.1 → 0.2).",
                }
            ),
        };
        writeln!(out, "{overall}\n").expect("writing to a String cannot fail");

        for (endpoint, change, verdict) in &changed {
            let heading = format!("## {}: {}\n\n", code(&endpoint.id), verdict.shown());
            out.push_str(&heading);
            match change {
                EndpointChange::New => out.push_str("A new endpoint: additive.\n\n"),
                EndpointChange::Fields(rows) => out.push_str(&table(rows)),
            }
        }
        let unchanged: Vec<String> = self
            .endpoints
            .iter()
            .filter(|(_, change)| endpoint_verdict(change).is_none())
            .map(|(endpoint, _)| code(&endpoint.id))
            .collect();
        if !unchanged.is_empty() {
            writeln!(out, "Unchanged: {}.\n", unchanged.join(", "))
                .expect("writing to a String cannot fail");
        }
        out.push_str(
            "<details><summary>How the verdicts are given</summary>\n\n\
             | change | verdict | why |\n|---|---|---|\n",
        );
        for (change, verdict, why) in RULES {
            writeln!(out, "| {change} | {verdict} | {why} |")
                .expect("writing to a String cannot fail");
        }
        out.push_str(
            "\nNot compared: descriptions, defaults, examples and numeric ranges.\n\n</details>\n",
        );
        out
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from("| | field | change | verdict |\n|---|---|---|---|\n");
    for row in rows {
        let side = match row.side {
            Side::Input => "input",
            Side::Output => "output",
        };
        writeln!(
            out,
            "| {side} | {} | {} | {} |",
            code(&row.field),
            describe(&row.change),
            row.verdict().shown()
        )
        .expect("writing to a String cannot fail");
    }
    out.push('\n');
    out
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

    #[test]
    fn verdicts_follow_the_rules() {
        let optional = Change::Added {
            required: false,
            ty: "integer".into(),
        };
        let required = Change::Added {
            required: true,
            ty: "integer".into(),
        };
        assert_eq!(verdict(Side::Input, &optional), Verdict::Additive);
        assert_eq!(verdict(Side::Input, &required), Verdict::Breaking);
        assert_eq!(verdict(Side::Output, &required), Verdict::Additive);
        assert_eq!(
            verdict(Side::Input, &Change::NowOptional),
            Verdict::Additive
        );
        assert_eq!(
            verdict(Side::Output, &Change::NowOptional),
            Verdict::Breaking
        );
        assert_eq!(
            verdict(Side::Output, &Change::NowRequired),
            Verdict::Breaking
        );
        let added = Change::ValueAdded("webp".into());
        assert_eq!(verdict(Side::Input, &added), Verdict::Additive);
        assert_eq!(verdict(Side::Output, &added), Verdict::Additive);
        let removed = Change::ValueRemoved("png".into());
        assert_eq!(verdict(Side::Input, &removed), Verdict::Breaking);
    }
}
