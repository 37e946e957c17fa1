//! From a checked request to the generated input of its endpoint: images
//! resolved (inline or uploaded), then the kind's input built.

use fal_kontext_api::types;

use crate::error::{Error, Result};

use super::builder::Request;
use super::fields::Fields;
use super::kind::{Input, Kind};

impl<K: Kind> Request<K> {
    /// Validates, resolves the images (inline or uploaded) and builds the
    /// typed input. Every local image is checked before the first upload starts.
    /// Each upload is boxed: a large future, which the submit's futures would
    /// otherwise hold (and move) for every request, most of which upload
    /// nothing.
    pub(crate) async fn body(&self) -> Result<Input> {
        self.validate()?;
        let mut prepared = Vec::new();
        for (field, image) in self.kind.images() {
            prepared.push(image.prepare(field).await?);
        }
        let mut files = Vec::new();
        for (field, file) in self.kind.files() {
            files.push(file.prepare(field).await?);
        }
        let lifetime = self.queue.cdn_lifetime;
        let mut urls = Vec::with_capacity(prepared.len() + files.len());
        for image in prepared {
            urls.push(Box::pin(image.into_url(&self.client, lifetime)).await?);
        }
        for file in files {
            urls.push(Box::pin(file.upload(&self.client, lifetime)).await?);
        }
        self.kind.input(&self.prompt, &self.fields, urls)
    }
}

pub(crate) fn num_images(fields: &Fields) -> Option<std::num::NonZeroU64> {
    fields
        .num_images
        .and_then(|n| std::num::NonZeroU64::new(n.into()))
}

pub(super) fn image_url(urls: &[String]) -> Result<types::ImageUrl> {
    let url = urls.first().cloned().unwrap_or_default();
    url.clone().try_into().map_err(|_| Error::InvalidInput {
        field: "image_url",
        value: url,
        rule: "must not be empty".into(),
    })
}

/// A generated input type from its builder. Every value was checked before,
/// so a refusal here is a rule the SDK does not know yet: it names it.
pub(crate) fn built<B, T>(builder: B) -> Result<T>
where
    B: TryInto<T, Error = types::error::ConversionError>,
{
    builder.try_into().map_err(|error| Error::InvalidInput {
        field: "input",
        value: String::new(),
        rule: error.to_string(),
    })
}
