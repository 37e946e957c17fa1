//! Images in: a URL, a `data:` URI, a local file or bytes, turned into the URL
//! string fal takes — inline when small, uploaded to fal's storage when not.

use std::path::{Path, PathBuf};

use base64::Engine;
use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tracing::Instrument;

use crate::Client;
use crate::error::{Error, Result};

/// The image types fal's Kontext models accept.
const ACCEPTED: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "image/avif",
];

/// An input image.
///
/// `From<&str>` and `From<String>` read `http(s)://…` as a URL, `data:…` as a
/// data URI and anything else as a local path.
///
/// ```
/// use fal_kontext::ImageInput;
/// assert!(matches!(ImageInput::from("https://example.com/a.png"), ImageInput::Url(_)));
/// assert!(matches!(ImageInput::from("photos/a.png"), ImageInput::Path(_)));
/// let png = b"\x89PNG\r\n\x1a\n".to_vec(); // the bytes of an image, read or made in memory
/// assert!(matches!(ImageInput::bytes(png, "sample.png"), ImageInput::Bytes { .. }));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum ImageInput {
    /// A URL fal can fetch; sent as it is.
    Url(String),
    /// A `data:` URI; sent as it is.
    DataUri(String),
    /// A local file: sniffed, then inlined or uploaded (streamed from disk).
    Path(PathBuf),
    /// Bytes in memory: sniffed, then inlined or uploaded.
    Bytes {
        /// The image.
        data: Bytes,
        /// The file name to give fal's storage.
        file_name: String,
    },
}

impl ImageInput {
    /// Bytes in memory, with the file name to upload them under.
    pub fn bytes(data: impl Into<Bytes>, file_name: impl Into<String>) -> Self {
        Self::Bytes {
            data: data.into(),
            file_name: file_name.into(),
        }
    }
}

impl From<&str> for ImageInput {
    fn from(text: &str) -> Self {
        if text.starts_with("http://") || text.starts_with("https://") {
            Self::Url(text.to_string())
        } else if text.starts_with("data:") {
            Self::DataUri(text.to_string())
        } else {
            Self::Path(PathBuf::from(text))
        }
    }
}

impl From<String> for ImageInput {
    fn from(text: String) -> Self {
        Self::from(text.as_str())
    }
}

impl From<PathBuf> for ImageInput {
    fn from(path: PathBuf) -> Self {
        Self::Path(path)
    }
}

impl From<&Path> for ImageInput {
    fn from(path: &Path) -> Self {
        Self::Path(path.to_path_buf())
    }
}

/// Sniffs the content type from the first bytes, refusing what fal does not take.
pub(crate) fn sniff(field: &'static str, what: &str, head: &[u8]) -> Result<&'static str> {
    let found = infer::get(head).map(|kind| kind.mime_type());
    match found {
        Some(mime) if ACCEPTED.contains(&mime) => Ok(mime),
        _ => Err(Error::InvalidInput {
            field,
            value: what.to_string(),
            rule: format!(
                "must be a JPEG, PNG, WebP, GIF or AVIF image (found {})",
                found.unwrap_or("no known image type")
            ),
        }),
    }
}

/// A local image checked and ready to send: small ones inline, large ones uploaded.
pub(crate) enum Prepared {
    Ready(String),
    File {
        path: PathBuf,
        content_type: &'static str,
        len: u64,
    },
    Memory {
        data: Bytes,
        file_name: String,
        content_type: &'static str,
    },
}

impl ImageInput {
    /// Checks the image and reads what must be read, sending nothing: bad
    /// input is refused before any request.
    pub(crate) async fn prepare(&self, field: &'static str) -> Result<Prepared> {
        match self {
            Self::Url(url) if !url.trim().is_empty() => Ok(Prepared::Ready(url.clone())),
            Self::DataUri(uri) if uri.contains(',') => Ok(Prepared::Ready(uri.clone())),
            Self::Url(_) | Self::DataUri(_) => Err(Error::InvalidInput {
                field,
                value: format!("{self:?}"),
                rule: "must be a URL or a data: URI with data".into(),
            }),
            Self::Path(path) if path.as_os_str().is_empty() => Err(Error::InvalidInput {
                field,
                value: String::new(),
                rule: "must not be empty: give a URL, a data: URI or a file".into(),
            }),
            Self::Path(path) => {
                let io = |source| Error::Io {
                    path: path.clone(),
                    source,
                };
                let mut file = tokio::fs::File::open(path).await.map_err(io)?;
                let len = file.metadata().await.map_err(io)?.len();
                let mut head = vec![0; 64];
                let read = read_up_to(&mut file, &mut head).await.map_err(io)?;
                let content_type = sniff(field, &path.display().to_string(), &head[..read])?;
                Ok(Prepared::File {
                    path: path.clone(),
                    content_type,
                    len,
                })
            }
            Self::Bytes { data, file_name } => {
                let content_type = sniff(field, file_name, &data[..data.len().min(64)])?;
                Ok(Prepared::Memory {
                    data: data.clone(),
                    file_name: file_name.clone(),
                    content_type,
                })
            }
        }
    }
}

impl Prepared {
    /// The string to put in the request: the URL, an inline data URI, or the
    /// URL of the upload, which lives `lifetime` on fal's CDN when given.
    pub(crate) async fn into_url(
        self,
        client: &Client,
        lifetime: Option<std::time::Duration>,
    ) -> Result<String> {
        let limit = client.settings().inline_limit;
        match self {
            Prepared::Ready(url) => Ok(url),
            Prepared::File {
                path,
                content_type,
                len,
            } if len <= limit => {
                let data = tokio::fs::read(&path)
                    .await
                    .map_err(|source| Error::Io { path, source })?;
                Ok(data_uri(content_type, &data))
            }
            Prepared::File {
                path,
                content_type,
                len,
            } => {
                client
                    .upload_file(&path, content_type, len, lifetime)
                    .instrument(crate::telemetry::upload(len))
                    .await
            }
            Prepared::Memory {
                data, content_type, ..
            } if data.len() as u64 <= limit => Ok(data_uri(content_type, &data)),
            Prepared::Memory {
                data,
                file_name,
                content_type,
            } => {
                let span = crate::telemetry::upload(data.len() as u64);
                client
                    .upload_bytes(data, &file_name, content_type, lifetime)
                    .instrument(span)
                    .await
            }
        }
    }
}

fn data_uri(content_type: &str, data: &[u8]) -> String {
    format!(
        "data:{content_type};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(data)
    )
}

async fn read_up_to(file: &mut tokio::fs::File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        let n = file.read(&mut buffer[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_HEAD: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn sniffing_accepts_images_and_names_what_it_found_otherwise() {
        assert_eq!(sniff("image_url", "a.png", PNG_HEAD).unwrap(), "image/png");
        let error = sniff("image_url", "notes.pdf", b"%PDF-1.7\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "invalid image_url `notes.pdf`: must be a JPEG, PNG, WebP, GIF or AVIF image (found application/pdf)"
        );
    }

    #[test]
    fn data_uris_are_base64() {
        assert_eq!(data_uri("image/png", b"abc"), "data:image/png;base64,YWJj");
    }
}
