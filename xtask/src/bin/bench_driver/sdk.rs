//! The Rust client under benchmark: fal-kontext as its README shows it,
//! configured from the environment like fal's own clients.

use std::path::Path;

use anyhow::Result;
use fal_kontext::{AspectRatio, Client};

use crate::protocol::{PROMPT, SEED};

pub struct Sdk {
    client: Client,
}

impl Sdk {
    /// `FAL_KEY`, `FAL_QUEUE_URL`, `FAL_RUN_URL`, `FAL_REST_URL`; the
    /// emulator's CA comes in through `SSL_CERT_FILE`.
    pub fn from_env() -> Result<Self> {
        Ok(Self {
            client: Client::from_env()?,
        })
    }

    /// A job in the default subscribe mode: the status stream, then the result.
    pub async fn text(&self) -> Result<()> {
        let job = self
            .client
            .text_to_image(PROMPT)
            .seed(SEED)
            .subscribe()
            .await?;
        job.output().await?;
        Ok(())
    }

    /// A file uploaded alone, as `Client::upload` does it: in parts above
    /// the default threshold, or, with `multipart` false, in one PUT (the
    /// threshold raised past any file).
    pub async fn big_upload(&self, path: &Path, multipart: bool) -> Result<()> {
        let client = if multipart {
            self.client.clone()
        } else {
            Client::builder_from_env()
                .multipart_threshold(u64::MAX)
                .build()?
        };
        client.upload(path, "application/octet-stream").await?;
        Ok(())
    }

    /// An edit of a local file: the SDK uploads it (it is over the inline limit).
    pub async fn upload(&self, path: &Path) -> Result<()> {
        let job = self
            .client
            .edit(PROMPT, path)
            .seed(SEED)
            .aspect_ratio(AspectRatio::Square1x1)
            .subscribe()
            .await?;
        job.output().await?;
        Ok(())
    }
}
