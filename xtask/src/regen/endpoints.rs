//! The list of endpoints: one fal endpoint id a line in `openapi/endpoints.txt`.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// The file under `openapi/` that lists the endpoints.
pub const LIST_FILE: &str = "endpoints.txt";

/// One fal endpoint, such as `fal-ai/flux-pro/kontext/max`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub id: String,
}

impl Endpoint {
    pub fn new(id: &str) -> Result<Self> {
        let segments: Vec<&str> = id.split('/').collect();
        if segments.len() < 2 || segments.iter().any(|s| s.is_empty()) {
            bail!("`{id}` is not a fal endpoint id (expected `owner/alias[/path…]`)");
        }
        Ok(Self { id: id.to_string() })
    }

    /// `fal-ai/flux-pro/kontext` is vendored as `fal-ai__flux-pro__kontext.json`.
    pub fn file_name(&self) -> String {
        format!("{}.json", self.id.replace('/', "__"))
    }

    /// The app that serves the endpoint: its first two segments. fal's queue
    /// answers status, result and cancel at the app root
    /// (`/fal-ai/flux-pro/requests/…` for `fal-ai/flux-pro/kontext`).
    pub fn app(&self) -> &str {
        let mut cut = self.id.match_indices('/').map(|(i, _)| i);
        let _owner_end = cut.next();
        match cut.next() {
            Some(end) => &self.id[..end],
            None => &self.id,
        }
    }

    /// A snake-case name for operation ids: the id without its owner,
    /// `flux_pro_kontext_max` for `fal-ai/flux-pro/kontext/max`.
    pub fn slug(&self) -> String {
        snake(without_owner(&self.id))
    }

    /// The same for the app: `flux_pro` for `fal-ai/flux-pro/kontext/max`.
    pub fn app_slug(&self) -> String {
        snake(without_owner(self.app()))
    }
}

fn without_owner(id: &str) -> &str {
    id.split_once('/').map_or(id, |(_, rest)| rest)
}

fn snake(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Reads the list: blank lines and `#` comments are skipped.
pub fn read(path: &Path) -> Result<Vec<Endpoint>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the endpoint list {}", path.display()))?;
    parse(&text)
}

pub fn parse(text: &str) -> Result<Vec<Endpoint>> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(Endpoint::new)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_id() {
        let e = Endpoint::new("fal-ai/flux-pro/kontext/max/text-to-image").unwrap();
        assert_eq!(
            e.file_name(),
            "fal-ai__flux-pro__kontext__max__text-to-image.json"
        );
        assert_eq!(e.app(), "fal-ai/flux-pro");
        assert_eq!(e.slug(), "flux_pro_kontext_max_text_to_image");
        assert_eq!(e.app_slug(), "flux_pro");
        let dev = Endpoint::new("fal-ai/flux-kontext/dev").unwrap();
        assert_eq!(dev.app(), "fal-ai/flux-kontext");
        assert_eq!(dev.app_slug(), "flux_kontext");
    }

    #[test]
    fn list_skips_comments_and_refuses_bad_ids() {
        let list = parse("# comment\n\nfal-ai/flux-pro/kontext\n").unwrap();
        assert_eq!(
            list,
            vec![Endpoint::new("fal-ai/flux-pro/kontext").unwrap()]
        );
        let error = parse("kontext\n").unwrap_err().to_string();
        assert!(
            error.contains("`kontext` is not a fal endpoint id"),
            "{error}"
        );
    }
}
