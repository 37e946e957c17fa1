//! The report as Markdown: the overall verdict, a table of the changed
//! fields per endpoint, and the rules the verdicts follow. It is the body of
//! the regen pull request.

use std::fmt::Write as _;

use super::change::{Change, Side};
use super::{EndpointChange, RULES, Report, Row, Verdict, endpoint_verdict};

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
