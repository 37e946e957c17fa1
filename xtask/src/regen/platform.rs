//! fal's Platform APIs document (prices and estimates, request history and
//! payload deletion): where it comes from, fetched from fal's documentation
//! site (or read from `openapi/` with `--offline`). Its steps, which reduce it
//! to the operations this project uses and make it OpenAPI 3.0 for
//! `fal_kontext_api::platform`, are in `normalize/platform_apis.rs`.
//!
//! The facts (<https://api.fal.ai/v1/openapi.json>): fal publishes an OpenAPI
//! 3.1 document for its Platform APIs, served by its docs site at
//! `/api-reference/platform-apis/openapi/v1.json`; the API is at
//! `https://api.fal.ai/v1`, with the same `Authorization: Key …`.

use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use super::fetch::{client, get_json, read_json};

/// The vendored copy, in `openapi/`.
pub const FILE_NAME: &str = "fal-platform-apis__v1.json";
/// Where fal's docs site serves the document (`--base-url` replaces the origin).
pub const DOCS_ORIGIN: &str = "https://docs.fal.ai";
pub const DOCUMENT_PATH: &str = "/api-reference/platform-apis/openapi/v1.json";

/// What errors call the document.
const WHAT: &str = "the Platform APIs document";

pub fn read_vendored(openapi_dir: &Path) -> Result<Value> {
    read_json(&openapi_dir.join(FILE_NAME), WHAT)
}

pub fn fetch(base: &str) -> Result<Value> {
    let url = format!("{}{DOCUMENT_PATH}", base.trim_end_matches('/'));
    get_json(&client()?, &url, WHAT)
}
