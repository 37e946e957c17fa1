//! The API key, kept out of every `Debug`, `Display` and log line.

use std::fmt;

/// A fal API key (`FAL_KEY`, or `FAL_KEY_ID:FAL_KEY_SECRET`).
///
/// It prints as `ApiKey(<redacted>)` whichever way it is formatted; the only
/// way to the text is the `Authorization` header the client builds from it,
/// marked sensitive so that reqwest and hyper never log it either.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    ///
    /// ```
    /// let key = fal_kontext::ApiKey::new("id:secret");
    /// assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
    /// ```
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The `Authorization` header value, `Key <key>`, marked sensitive.
    pub(crate) fn header_value(&self) -> Option<reqwest::header::HeaderValue> {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Key {}", self.0)).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_prints() {
        let key = ApiKey::new("sk-very-secret");
        for text in [format!("{key}"), format!("{key:?}"), format!("{key:#?}")] {
            assert!(!text.contains("sk-very-secret"), "{text}");
        }
        let header = key.header_value().unwrap();
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("sk-very-secret"));
    }
}
