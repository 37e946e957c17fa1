//! Getting the raw documents: from fal (or `--base-url`), or from `openapi/`.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::endpoints::Endpoint;

/// One endpoint's document as fal serves it, before any normalization.
pub struct RawDocument {
    pub endpoint: Endpoint,
    pub raw: Value,
}

/// The vendored form: pretty-printed with sorted keys and a final newline, so
/// that the first online regen shows only real differences. serde_json's map
/// is ordered by key (the `preserve_order` feature is off), which sorts them.
pub fn canonical_json(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("a JSON value always serializes");
    text.push('\n');
    text
}

pub fn read_vendored(dir: &Path, endpoints: &[Endpoint]) -> Result<Vec<RawDocument>> {
    endpoints
        .iter()
        .map(|endpoint| {
            let raw = read_json(
                &dir.join(endpoint.file_name()),
                &format!("endpoint {}", endpoint.id),
            )?;
            Ok(RawDocument {
                endpoint: endpoint.clone(),
                raw,
            })
        })
        .collect()
}

/// A vendored document; an error begins with `what` (the document it is).
pub fn read_json(path: &Path, what: &str) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{what}: reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{what}: {} is not JSON", path.display()))
}

/// The URL of one endpoint's queue document under `base`.
pub fn document_url(base: &str, endpoint: &Endpoint) -> Result<reqwest::Url> {
    let mut url = reqwest::Url::parse(&format!(
        "{}/api/openapi/queue/openapi.json",
        base.trim_end_matches('/')
    ))
    .with_context(|| format!("`{base}` is not a base URL"))?;
    url.query_pairs_mut()
        .append_pair("endpoint_id", &endpoint.id);
    Ok(url)
}

pub fn fetch_all(base: &str, endpoints: &[Endpoint]) -> Result<Vec<RawDocument>> {
    let http = client()?;
    endpoints
        .iter()
        .map(|endpoint| {
            let url = document_url(base, endpoint)?;
            let raw = get_json(&http, url.as_str(), &format!("endpoint {}", endpoint.id))?;
            Ok(RawDocument {
                endpoint: endpoint.clone(),
                raw,
            })
        })
        .collect()
}

/// The HTTP client of an online regen.
pub fn client() -> Result<reqwest::blocking::Client> {
    Ok(reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("fal-kontext-xtask/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// The document at `url`; an error begins with `what` (the document it is)
/// and, for an unsuccessful answer, quotes the start of its body.
pub fn get_json(http: &reqwest::blocking::Client, url: &str, what: &str) -> Result<Value> {
    let context = || format!("{what}: fetching {url}");
    let response = http.get(url).send().with_context(context)?;
    let status = response.status();
    let body = response.text().with_context(context)?;
    if !status.is_success() {
        let excerpt: String = body.chars().take(300).collect();
        bail!("{what}: {url} answered {status}: {excerpt}");
    }
    serde_json::from_str(&body).with_context(|| format!("{what}: {url} did not answer JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_sorts_keys_and_ends_with_a_newline() {
        let value: Value = serde_json::from_str(r#"{"b": 1, "a": {"d": [1], "c": null}}"#).unwrap();
        assert_eq!(
            canonical_json(&value),
            "{\n  \"a\": {\n    \"c\": null,\n    \"d\": [\n      1\n    ]\n  },\n  \"b\": 1\n}\n"
        );
    }

    #[test]
    fn document_url_encodes_the_endpoint_id() {
        let endpoint = Endpoint::new("fal-ai/flux-pro/kontext").unwrap();
        let url = document_url("http://127.0.0.1:9/prefix/", &endpoint).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/prefix/api/openapi/queue/openapi.json?endpoint_id=fal-ai%2Fflux-pro%2Fkontext"
        );
    }
}
