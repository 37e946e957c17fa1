//! What a submit sent, kept for the search of fal's request history when
//! its answer was lost ([`Error::AmbiguousSubmit`](crate::Error) carries
//! it; [`Client::find_submitted`](crate::Client::find_submitted) looks for
//! it). A leaf: it depends on no other module of the crate.

use std::time::SystemTime;

use serde_json::Value;

/// A submit whose answer was lost, as [`Client::find_submitted`](crate::Client::find_submitted) looks for
/// it: the endpoint it went to, the input JSON it sent, and when. It
/// serializes, so that a batch can keep it until a rerun asks.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SubmitRecord {
    /// The endpoint (`fal-ai/flux-pro/kontext`).
    pub endpoint: String,
    /// The input JSON exactly as sent (with the URLs of uploaded images).
    pub input: Value,
    /// When it was sent (this machine's clock).
    pub submitted_at: SystemTime,
    /// Top-level input fields not compared, because the caller does not know
    /// what was sent in them (see [`ignoring`](Self::ignoring)).
    #[serde(default)]
    pub ignored: Vec<String>,
}

impl SubmitRecord {
    /// A record of a submit.
    ///
    /// ```
    /// let sent = fal_kontext::SubmitRecord::new(
    ///     "fal-ai/flux-pro/kontext",
    ///     serde_json::json!({"prompt": "Make it night", "image_url": "https://example.com/a.png"}),
    ///     std::time::SystemTime::now(),
    /// );
    /// assert_eq!(sent.endpoint, "fal-ai/flux-pro/kontext");
    /// ```
    pub fn new(endpoint: impl Into<String>, input: Value, submitted_at: SystemTime) -> Self {
        Self {
            endpoint: endpoint.into(),
            input,
            submitted_at,
            ignored: Vec::new(),
        }
    }

    /// Does not compare the input field `field`: for a value the caller does
    /// not know, such as the URL a local image was uploaded to
    /// (`image_url`, `image_urls`). The other fields must then tell the job
    /// apart: two requests that differ only there are
    /// [`SubmitLookup::Several`](crate::SubmitLookup::Several), never one taken for the other.
    ///
    /// ```
    /// let sent = fal_kontext::SubmitRecord::new(
    ///     "fal-ai/flux-pro/kontext",
    ///     serde_json::json!({"prompt": "Make it night", "seed": 7}),
    ///     std::time::SystemTime::now(),
    /// )
    /// .ignoring("image_url");
    /// assert_eq!(sent.ignored, ["image_url"]);
    /// ```
    pub fn ignoring(mut self, field: impl Into<String>) -> Self {
        self.ignored.push(field.into());
        self
    }

    /// Whether `stored`, an input fal kept, is this submit's.
    pub(crate) fn matches(&self, stored: &Value) -> bool {
        if self.ignored.is_empty() {
            return same_json(stored, &self.input);
        }
        let without = |value: &Value| match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(key, _)| !self.ignored.contains(key))
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect(),
            ),
            other => other.clone(),
        };
        same_json(&without(stored), &without(&self.input))
    }
}

/// JSON equality with numbers compared by value (`3` and `3.0` are one
/// number): what was sent and what fal stored may spell a number apart.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, x)| y.get(key).is_some_and(|y| same_json(x, y)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::json;

    use super::*;

    #[test]
    fn inputs_compare_by_value() {
        let sent = json!({"prompt": "p", "guidance_scale": 3.0, "num_images": 2, "image_urls": ["a", "b"]});
        let stored = json!({"image_urls": ["a", "b"], "num_images": 2.0, "guidance_scale": 3, "prompt": "p"});
        assert!(same_json(&sent, &stored));
        for other in [
            json!({"prompt": "p", "guidance_scale": 3.5, "num_images": 2, "image_urls": ["a", "b"]}),
            json!({"prompt": "p", "guidance_scale": 3.0, "num_images": 2, "image_urls": ["b", "a"]}),
            json!({"prompt": "p", "guidance_scale": 3.0, "num_images": 2, "image_urls": ["a", "b"], "seed": 1}),
        ] {
            assert!(!same_json(&sent, &other), "{other}");
        }
    }

    #[test]
    fn a_record_reads_back_as_itself() {
        let sent = SubmitRecord::new(
            "e",
            json!({"prompt": "p"}),
            UNIX_EPOCH + Duration::from_millis(1500),
        )
        .ignoring("image_url");
        let text = serde_json::to_string(&sent).unwrap();
        assert_eq!(
            serde_json::from_str::<SubmitRecord>(&text).unwrap(),
            sent,
            "{text}"
        );
    }

    #[test]
    fn ignored_fields_are_left_out_of_the_comparison() {
        let sent = SubmitRecord::new(
            "e",
            json!({"prompt": "p", "image_url": "local.png"}),
            UNIX_EPOCH,
        );
        let stored = json!({"prompt": "p", "image_url": "https://v3.fal.media/files/x.png"});
        assert!(!sent.matches(&stored));
        let sent = sent.ignoring("image_url");
        assert!(sent.matches(&stored));
        assert!(sent.matches(&json!({"prompt": "p"})));
        assert!(!sent.matches(&json!({"prompt": "q", "image_url": "x"})));
    }
}
