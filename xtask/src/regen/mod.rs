//! `cargo xtask regen`: fal's OpenAPI documents in, `crates/fal-kontext-api` out.
//!
//! 1. [`endpoints`] lists the endpoints (`openapi/endpoints.txt`).
//! 2. [`fetch`] gets each endpoint's document from fal (or reads the vendored
//!    copy with `--offline`) and renders it canonically; that raw document is
//!    what goes into `openapi/`.
//! 3. [`normalize`] patches the documents in memory, step by named step, into
//!    one OpenAPI 3.0 document that progenitor accepts.
//! 4. [`generate`] runs progenitor and prettyplease on it; [`table`] writes
//!    the table of endpoints from the documents and the generated client.
//! 5. [`check`] writes the results, or with `--check` compares them with the
//!    committed tree and prints a diff.
//!
//! [`layout`] names the files it reads and writes.
//!
//! fal's Platform APIs document (prices and estimates) goes the same way
//! through [`platform`], into `crates/fal-kontext-api/src/generated_platform.rs`
//! (the module `fal_kontext_api::platform`).
//!
//! With `--report FILE`, [`report`] writes what the fetched documents change
//! for users compared with the vendored ones, in Markdown.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use layout::Layout;

pub mod check;
pub mod endpoints;
pub mod fetch;
pub mod generate;
pub mod layout;
pub mod normalize;
pub mod platform;
pub mod report;
pub mod table;

/// Where fal serves its queue OpenAPI documents.
pub const FAL_OPENAPI_BASE: &str = "https://fal.ai";

/// The arguments of `cargo xtask regen`.
#[derive(clap::Args, Debug)]
pub struct RegenArgs {
    /// Use the documents vendored in `openapi/` as they are, without fetching.
    #[arg(long, conflicts_with = "base_url")]
    pub offline: bool,
    /// Write nothing: fail with a diff when the committed documents or the
    /// generated code differ from what regeneration produces.
    #[arg(long)]
    pub check: bool,
    /// Fetch the documents from this origin instead of fal's
    /// (`{base}/api/openapi/queue/openapi.json?endpoint_id=<id>`, and the
    /// Platform APIs document at `{base}/api-reference/platform-apis/openapi/v1.json`).
    #[arg(long)]
    pub base_url: Option<String>,
    /// The repository to read and write (default: the one this xtask was built from).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Write what the new documents change for users, compared with the
    /// vendored ones, to this file in Markdown: per endpoint, fields and enum
    /// values added, removed or retyped, required-ness changed, each with a
    /// verdict (additive or breaking), and one verdict overall.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// The workspace root: the xtask crate lives one level below it.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

pub fn run(args: &RegenArgs) -> Result<()> {
    let layout = Layout::new(args.root.clone().unwrap_or_else(workspace_root));
    let endpoints = endpoints::read(&layout.openapi_dir().join(endpoints::LIST_FILE))?;

    let (documents, platform_raw) = if args.offline {
        (
            fetch::read_vendored(&layout.openapi_dir(), &endpoints)?,
            platform::read_vendored(&layout.openapi_dir())?,
        )
    } else {
        let base = args.base_url.as_deref().unwrap_or(FAL_OPENAPI_BASE);
        let docs = args.base_url.as_deref().unwrap_or(platform::DOCS_ORIGIN);
        (fetch::fetch_all(base, &endpoints)?, platform::fetch(docs)?)
    };

    if let Some(file) = &args.report {
        let previous = report::read_previous(&layout.openapi_dir(), &endpoints)?;
        let markdown = report::compare(&previous, &documents).markdown();
        std::fs::write(file, markdown)
            .with_context(|| format!("writing the report {}", file.display()))?;
    }

    let merged = normalize::normalize_and_merge(&documents)?;
    let code = generate::client(&merged)
        .map_err(|error| generate::attribute_failure(&documents).unwrap_or(error))?;
    let table = table::generate(&documents, &merged, &code)?;
    let platform_code = generate::client(&normalize::normalize_platform(&platform_raw)?)
        .map_err(|error| error.context("the Platform APIs document"))?;

    let mut outputs: Vec<(PathBuf, String)> = documents
        .iter()
        .map(|doc| {
            let path = layout.openapi_dir().join(doc.endpoint.file_name());
            (path, fetch::canonical_json(&doc.raw))
        })
        .collect();
    outputs.push((layout.generated_file(), code));
    outputs.push((layout.endpoints_generated_file(), table));
    outputs.push((
        layout.openapi_dir().join(platform::FILE_NAME),
        fetch::canonical_json(&platform_raw),
    ));
    outputs.push((layout.platform_generated_file(), platform_code));

    if args.check {
        check::compare(&layout, &outputs)
    } else {
        for (path, contents) in &outputs {
            std::fs::write(path, contents)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let steps: Vec<&str> = normalize::DOCUMENT_STEPS.iter().map(|s| s.name).collect();
        let platform_steps: Vec<&str> = normalize::PLATFORM_STEPS.iter().map(|s| s.name).collect();
        eprintln!(
            "regenerated {} documents and {} (normalized by: {}, hoist_shared_enums), \
             and the Platform APIs document and {} (normalized by: {})",
            documents.len(),
            layout.relative(&layout.generated_file()).display(),
            steps.join(", "),
            layout.relative(&layout.platform_generated_file()).display(),
            platform_steps.join(", ")
        );
        Ok(())
    }
}
