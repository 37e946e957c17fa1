//! `--report FILE`: what a regen changes for users, in Markdown, from the
//! documents (the vendored ones before, the fetched ones after), per endpoint:
//! fields and enum values added, removed or retyped, required-ness changed,
//! each with a verdict for the SDK's semver, and one verdict overall. The
//! regen pull request's body is this report.
//!
//! It reads fal's documents as fal serves them, before normalization, so that
//! it names fields and types as fal's documentation does.
//!
//! Here: the rules of a change's verdict and the report's comparison;
//! [`change`] says what a change to a field is; [`fields`] reads the fields
//! out of a document and lists the changes between two; [`markdown`] writes
//! the report.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use super::endpoints::Endpoint;
use super::fetch::RawDocument;
use change::{Change, Side};
use fields::{diff, side_fields};

mod change;
mod fields;
mod markdown;

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

#[cfg(test)]
mod tests {
    use super::*;

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
