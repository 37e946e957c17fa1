//! Getting an input image: a data URI, a file on the emulator's CDN, or a
//! loopback URL. Anything else is never fetched (the emulator does not
//! reach off this machine): it stands for a placeholder pattern drawn from
//! the URL, so documentation examples work offline.

use base64::Engine;
use bytes::Bytes;
use std::net::IpAddr;

use crate::rng::fnv1a;
use crate::state::Shared;

/// Where an input image's bytes came from.
pub(crate) enum Source {
    Bytes(Bytes),
    /// A remote URL, stood in for by a pattern.
    Placeholder(String),
}

/// Why an input could not be had (the app answers 422 `file_download_error`).
pub(crate) struct DownloadError;

pub(crate) async fn load(shared: &Shared, url: &str) -> Result<Source, DownloadError> {
    if let Some(data) = url.strip_prefix("data:") {
        return decode_data_uri(data)
            .map(Source::Bytes)
            .ok_or(DownloadError);
    }
    if let Some(key) = url
        .strip_prefix(shared.urls.cdn.as_str())
        .and_then(|path| path.strip_prefix("/files/"))
    {
        let key = key.split(['?', '#']).next().unwrap_or_default();
        return shared
            .files
            .get(key)
            .map(|file| Source::Bytes(file.bytes))
            .ok_or(DownloadError);
    }
    if is_loopback(url) {
        let response = shared
            .http
            .get(url)
            .send()
            .await
            .map_err(|_| DownloadError)?;
        if !response.status().is_success() {
            return Err(DownloadError);
        }
        return response
            .bytes()
            .await
            .map(Source::Bytes)
            .map_err(|_| DownloadError);
    }
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
            Ok(Source::Placeholder(url.to_owned()))
        }
        _ => Err(DownloadError),
    }
}

/// `data:[<type>][;base64],<payload>`.
fn decode_data_uri(data: &str) -> Option<Bytes> {
    let (meta, payload) = data.split_once(',')?;
    if meta.ends_with(";base64") {
        let payload: String = payload.chars().filter(|c| !c.is_whitespace()).collect();
        base64::engine::general_purpose::STANDARD
            .decode(payload.as_bytes())
            .ok()
            .map(Bytes::from)
    } else {
        Some(Bytes::copy_from_slice(payload.as_bytes()))
    }
}

/// An http(s) URL whose host is this machine.
pub(crate) fn is_loopback(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return false;
    }
    let Some(host) = parsed.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A stable digest of an input: its bytes, or a placeholder's URL (what the
/// simulated outputs and a LoRA's effect are keyed by).
pub(crate) fn digest(source: &Source) -> u64 {
    match source {
        Source::Bytes(bytes) => fnv1a(&[bytes]),
        Source::Placeholder(url) => fnv1a(&[b"placeholder", url.as_bytes()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_means_this_machine_only() {
        assert!(is_loopback("http://127.0.0.1:8080/x.png"));
        assert!(is_loopback("https://localhost/x.png"));
        assert!(is_loopback("http://[::1]:1/x"));
        assert!(!is_loopback("https://v3.fal.media/files/x.png"));
        assert!(!is_loopback("http://10.0.0.1/x.png"));
        assert!(!is_loopback("file:///etc/passwd"));
    }

    #[test]
    fn data_uris_decode() {
        assert_eq!(
            decode_data_uri("image/png;base64,aGk=").as_deref(),
            Some(&b"hi"[..])
        );
        assert_eq!(
            decode_data_uri("text/plain,hi").as_deref(),
            Some(&b"hi"[..])
        );
        assert!(decode_data_uri("image/png;base64,@@@").is_none());
    }
}
