//! Uploads to fal's storage, the way fal's JS client makes them
//! (@fal-ai/client 1.10.1, `storage.ts`,
//! <https://github.com/fal-ai/fal-js/blob/client-v1.10.1/libs/client/src/storage.ts>):
//! initiate on the REST host (with the key), then send the bytes to the
//! signed URL it returns (without the key): in one PUT, or, for a file
//! larger than [`ClientBuilder::multipart_threshold`](crate::ClientBuilder::multipart_threshold),
//! in numbered parts ([`multipart`]).
//!
//! Every upload, whatever it holds (an image, a mask, a LoRA file, a
//! training zip), goes through [`Client::upload_file`] or
//! [`Client::upload_bytes`]: the choice between one PUT and parts is made
//! there and nowhere else.

mod multipart;
mod read;
mod settings;

use read::Source;
pub(crate) use settings::MultipartSettings;
pub use settings::{
    DEFAULT_MULTIPART_CONCURRENCY, DEFAULT_MULTIPART_PART_SIZE, DEFAULT_MULTIPART_THRESHOLD,
};

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use serde::Deserialize;

use crate::Client;
use crate::error::{Error, Result};
use crate::http::decode;
use crate::retry::Call;
use crate::retry::limits::BodySent;

/// fal's answer to an initiate call (single or multipart).
#[derive(Deserialize)]
struct Initiated {
    upload_url: String,
    file_url: String,
}

impl Client {
    /// `POST {rest}/storage/upload/{kind}?storage_type=fal-cdn-v3`, `kind`
    /// being `initiate` or `initiate-multipart`. `lifetime`: how long the
    /// uploaded file lives on fal's CDN (a checked value, see
    /// [`crate::request::queue_options`]).
    async fn initiate_upload(
        &self,
        kind: &str,
        content_type: &str,
        file_name: &str,
        lifetime: Option<Duration>,
    ) -> Result<Initiated> {
        let url = format!(
            "{}/storage/upload/{kind}?storage_type=fal-cdn-v3",
            self.settings().rest_url
        );
        let body = serde_json::json!({"content_type": content_type, "file_name": file_name});
        let lifecycle = crate::request::queue_options::upload_headers(lifetime);
        let answer = self
            .send(Call::Api, "upload_initiate", self.limits(false), |http| {
                let mut request = http.post(&url).json(&body);
                for (name, value) in &lifecycle {
                    request = request.header(*name, value);
                }
                request
            })
            .await?;
        decode(&answer, "the upload answer")
    }

    /// Uploads a local file of any type (an image, a `.zip`, a
    /// `.safetensors`) to fal's storage and returns the URL fal serves it
    /// from. The file is streamed from disk, never read whole into memory;
    /// one larger than [`ClientBuilder::multipart_threshold`](crate::ClientBuilder::multipart_threshold)
    /// (90 MiB by default) goes up in parts, several at once, each retried
    /// on its own. `content_type` is sent as the file's type (such as
    /// `application/zip`).
    ///
    /// ```no_run
    /// # async fn demo(client: fal_kontext::Client) -> fal_kontext::Result<()> {
    /// let url = client.upload("pairs.zip", "application/zip").await?;
    /// println!("{url}");
    /// # Ok(()) }
    /// ```
    pub async fn upload(&self, path: impl AsRef<Path>, content_type: &str) -> Result<String> {
        let path = path.as_ref();
        check_content_type(content_type)?;
        let len = tokio::fs::metadata(path)
            .await
            .map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?
            .len();
        self.upload_file(path, content_type, len, None).await
    }

    /// The one entry point of file uploads: streams `path` (`len` bytes, as
    /// read before) to fal's storage in one PUT, or in parts above the
    /// multipart threshold, and returns the URL fal serves it from.
    pub(crate) async fn upload_file(
        &self,
        path: &Path,
        content_type: &str,
        len: u64,
        lifetime: Option<Duration>,
    ) -> Result<String> {
        let file_name = path
            .file_name()
            .map_or("upload.bin".into(), |n| n.to_string_lossy().into_owned());
        self.upload_source(Source::File(path), &file_name, content_type, len, lifetime)
            .await
    }

    /// Uploads bytes held in memory, in one PUT or in parts above the
    /// multipart threshold.
    pub(crate) async fn upload_bytes(
        &self,
        data: Bytes,
        file_name: &str,
        content_type: &str,
        lifetime: Option<Duration>,
    ) -> Result<String> {
        let len = data.len() as u64;
        self.upload_source(Source::Memory(data), file_name, content_type, len, lifetime)
            .await
    }

    /// The choice between one PUT and parts, for either source: `len` bytes
    /// to fal's storage, and the URL fal serves them from.
    async fn upload_source(
        &self,
        source: Source<'_>,
        file_name: &str,
        content_type: &str,
        len: u64,
        lifetime: Option<Duration>,
    ) -> Result<String> {
        if len > self.settings().multipart.threshold {
            return self
                .upload_multipart(source, file_name, content_type, len, lifetime)
                .await;
        }
        let initiated = self
            .initiate_upload("initiate", content_type, file_name, lifetime)
            .await?;
        self.send_watched(Call::Foreign, "upload_put", self.limits(true), |http| {
            let sent = BodySent::default();
            let request = http
                .put(&initiated.upload_url)
                .header(CONTENT_TYPE, content_type)
                .header(CONTENT_LENGTH, len)
                .body(source.body(0, len, &sent));
            (request, Some(sent))
        })
        .await?;
        Ok(initiated.file_url)
    }
}

/// A content type is sent as a header: it must be `type/subtype` that a
/// header can carry.
fn check_content_type(content_type: &str) -> Result<()> {
    let shaped = content_type
        .split_once('/')
        .is_some_and(|(kind, sub)| !kind.trim().is_empty() && !sub.trim().is_empty());
    if shaped && HeaderValue::from_str(content_type).is_ok() {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            field: "content_type",
            value: content_type.to_string(),
            rule: "must be a MIME type such as `application/zip` or `image/png`".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_mime_types() {
        for good in ["application/zip", "image/png", "application/octet-stream"] {
            assert!(check_content_type(good).is_ok(), "{good}");
        }
        for bad in ["", "zip", "application/", "a/b\nc"] {
            let error = check_content_type(bad).unwrap_err().to_string();
            assert!(error.starts_with("invalid content_type"), "{error}");
        }
    }
}
