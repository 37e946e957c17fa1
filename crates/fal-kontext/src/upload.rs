//! Uploads to fal's storage: initiate on the REST host (with the key), then
//! PUT the bytes to the signed URL it returns (without the key).

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde::Deserialize;
use tokio_util::io::ReaderStream;

use crate::Client;
use crate::error::Result;
use crate::http::decode;
use crate::retry::Call;

#[derive(Deserialize)]
struct Initiated {
    upload_url: String,
    file_url: String,
}

impl Client {
    /// `lifetime`: how long the uploaded file lives on fal's CDN (a checked
    /// value, see [`crate::submit_options`]).
    async fn initiate_upload(
        &self,
        content_type: &str,
        file_name: &str,
        lifetime: Option<Duration>,
    ) -> Result<Initiated> {
        let url = format!(
            "{}/storage/upload/initiate?storage_type=fal-cdn-v3",
            self.settings().rest_url
        );
        let body = serde_json::json!({"content_type": content_type, "file_name": file_name});
        let lifecycle = crate::submit_options::upload_headers(lifetime);
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

    /// Uploads a file, streamed from disk (never read whole into memory), and
    /// returns the URL fal serves it from.
    pub(crate) async fn upload_file(
        &self,
        path: &Path,
        content_type: &str,
        len: u64,
        lifetime: Option<Duration>,
    ) -> Result<String> {
        let file_name = path
            .file_name()
            .map_or("image".into(), |n| n.to_string_lossy().into_owned());
        let initiated = self
            .initiate_upload(content_type, &file_name, lifetime)
            .await?;
        self.send(Call::Foreign, "upload_put", self.limits(true), |http| {
            // Each attempt opens the file again, so a retry sends it whole.
            let path = path.to_path_buf();
            let stream = futures::stream::once(async move { tokio::fs::File::open(path).await })
                .map_ok(ReaderStream::new)
                .try_flatten();
            http.put(&initiated.upload_url)
                .header(CONTENT_TYPE, content_type)
                .header(CONTENT_LENGTH, len)
                .body(reqwest::Body::wrap_stream(stream))
        })
        .await?;
        Ok(initiated.file_url)
    }

    /// Uploads bytes held in memory.
    pub(crate) async fn upload_bytes(
        &self,
        data: Bytes,
        file_name: &str,
        content_type: &str,
        lifetime: Option<Duration>,
    ) -> Result<String> {
        let initiated = self
            .initiate_upload(content_type, file_name, lifetime)
            .await?;
        self.send(Call::Foreign, "upload_put", self.limits(true), |http| {
            http.put(&initiated.upload_url)
                .header(CONTENT_TYPE, content_type)
                .body(data.clone())
        })
        .await?;
        Ok(initiated.file_url)
    }
}
