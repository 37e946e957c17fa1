//! The floor: fal's queue protocol and nothing else. Submit, read the status
//! stream to its end (the queue closes it after COMPLETED), fetch the result;
//! no validation, retries, typed decoding or event parsing. What it costs is
//! what the emulator and the transport cost.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use serde_json::{Value, json};
use tokio_util::io::ReaderStream;

use crate::protocol::{PROMPT, SEED};

pub struct Bare {
    http: reqwest::Client,
    queue: String,
    rest: String,
    auth: String,
}

/// The same environment the SDK reads (`FAL_KEY`, `FAL_QUEUE_URL`, `FAL_REST_URL`).
fn env(name: &str) -> Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set"))
}

impl Bare {
    pub fn from_env() -> Result<Self> {
        Ok(Self {
            http: reqwest::Client::new(),
            queue: env("FAL_QUEUE_URL")?,
            rest: env("FAL_REST_URL")?,
            auth: format!("Key {}", env("FAL_KEY")?),
        })
    }

    pub async fn text(&self) -> Result<()> {
        let input = json!({"prompt": PROMPT, "seed": SEED});
        self.job(
            fal_kontext::endpoints::FLUX_PRO_KONTEXT_TEXT_TO_IMAGE,
            &input,
        )
        .await
    }

    /// Initiates an upload, PUTs the file streamed from disk, then edits it.
    pub async fn upload(&self, path: &Path) -> Result<()> {
        let initiated: Value = self
            .http
            .post(format!(
                "{}/storage/upload/initiate?storage_type=fal-cdn-v3",
                self.rest
            ))
            .header(AUTHORIZATION, &self.auth)
            .json(&json!({"content_type": "image/png", "file_name": "large.png"}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let field = |name: &str| {
            initiated[name]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("no {name} in {initiated}"))
        };
        let len = tokio::fs::metadata(path).await?.len();
        let file = ReaderStream::new(tokio::fs::File::open(path).await?);
        self.http
            .put(field("upload_url")?)
            .header(CONTENT_TYPE, "image/png")
            .header(CONTENT_LENGTH, len)
            .body(reqwest::Body::wrap_stream(file))
            .send()
            .await?
            .error_for_status()?;
        let input = json!({
            "prompt": PROMPT,
            "seed": SEED,
            "aspect_ratio": "1:1",
            "image_url": field("file_url")?,
        });
        self.job(fal_kontext::endpoints::FLUX_PRO_KONTEXT, &input)
            .await
    }

    async fn job(&self, endpoint: &str, input: &Value) -> Result<()> {
        let submitted: Value = self
            .http
            .post(format!("{}/{endpoint}", self.queue))
            .header(AUTHORIZATION, &self.auth)
            .json(input)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let url = |name: &str| {
            submitted[name]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("no {name} in {submitted}"))
        };
        let events = self
            .http
            .get(format!("{}/stream", url("status_url")?))
            .header(AUTHORIZATION, &self.auth)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        ensure!(
            events.windows(9).any(|w| w == b"COMPLETED"),
            "the status stream ended before COMPLETED"
        );
        self.http
            .get(url("response_url")?)
            .header(AUTHORIZATION, &self.auth)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        Ok(())
    }
}
