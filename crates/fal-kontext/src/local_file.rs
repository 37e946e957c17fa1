//! Local files other than images that a request uploads: LoRA weights
//! (`loras[].path`) and training pairs (`image_data_url`). Each is checked
//! (and, for a directory of pairs, zipped) before anything is sent, then
//! uploaded through the SDK's one upload path ([`Client::upload_file`]).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Client;
use crate::error::{Error, Result};

/// A local file a request uploads. (Public only because
/// [`Kind`](crate::Kind) names it; it cannot be reached from outside.)
#[derive(Clone, Copy, Debug)]
pub enum FileSource<'a> {
    /// A LoRA's weights, a `.safetensors` file.
    Safetensors(&'a Path),
    /// Training pairs: a zip, or a directory the SDK zips.
    Pairs {
        /// The zip or the directory.
        path: &'a Path,
        /// The caption of pairs without a `ROOT.txt`.
        default_caption: Option<&'a str>,
    },
}

/// A file checked and ready to upload.
pub(crate) struct Prepared {
    path: PathBuf,
    content_type: &'static str,
    len: u64,
    /// The zip the SDK made, removed when the upload is done (or dropped).
    _made: Option<tempfile::NamedTempFile>,
}

impl FileSource<'_> {
    /// Checks the file (and zips a directory of pairs), sending nothing.
    pub(crate) async fn prepare(self, field: &'static str) -> Result<Prepared> {
        match self {
            FileSource::Safetensors(path) => {
                let path = path.to_path_buf();
                let len = tokio::task::spawn_blocking({
                    let path = path.clone();
                    move || check_safetensors(field, &path)
                })
                .await
                .expect("checking a file does not panic")?;
                Ok(Prepared {
                    path,
                    content_type: "application/octet-stream",
                    len,
                    _made: None,
                })
            }
            FileSource::Pairs {
                path,
                default_caption,
            } => {
                let path = path.to_path_buf();
                let has_default = default_caption.is_some_and(|c| !c.trim().is_empty());
                let made = tokio::task::spawn_blocking(move || {
                    crate::pairs::stage(field, &path, has_default)
                })
                .await
                .expect("zipping does not panic")?;
                let (path, len, made) = match made {
                    crate::pairs::Staged::Ready { path, len } => (path, len, None),
                    crate::pairs::Staged::Made(zip) => {
                        let path = zip.path().to_path_buf();
                        let len = std::fs::metadata(&path)
                            .map_err(|source| Error::Io {
                                path: path.clone(),
                                source,
                            })?
                            .len();
                        (path, len, Some(zip))
                    }
                };
                Ok(Prepared {
                    path,
                    content_type: "application/zip",
                    len,
                    _made: made,
                })
            }
        }
    }
}

impl Prepared {
    /// Uploads the file (never inlined: fal takes these fields as URLs) and
    /// returns its URL, which lives `lifetime` on fal's CDN when given.
    pub(crate) async fn upload(
        self,
        client: &Client,
        lifetime: Option<Duration>,
    ) -> Result<String> {
        client
            .upload_file(&self.path, self.content_type, self.len, lifetime)
            .await
    }
}

/// `Ok(len)` when `path` is a safetensors file: an 8-byte little-endian
/// header length, then that many bytes of a JSON header starting with `{`
/// (<https://huggingface.co/docs/safetensors/index>), within the file.
fn check_safetensors(field: &'static str, path: &Path) -> Result<u64> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut head = [0u8; 9];
    let complete = file.read_exact(&mut head).is_ok();
    let header = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    let ok = complete && head[8] == b'{' && header.checked_add(8).is_some_and(|end| end <= len);
    if ok {
        Ok(len)
    } else {
        Err(Error::InvalidInput {
            field,
            value: path.display().to_string(),
            rule:
                "must be a URL or a .safetensors file (an 8-byte header length, then a JSON header)"
                    .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safetensors_files_pass() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("style.safetensors");
        let header = br#"{"__metadata__":{}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&[0; 16]);
        std::fs::write(&good, &bytes).unwrap();
        assert_eq!(
            check_safetensors("loras", &good).unwrap(),
            bytes.len() as u64
        );

        let png = dir.path().join("style.png");
        std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
        let error = check_safetensors("loras", &png).unwrap_err().to_string();
        assert!(error.contains("invalid loras"), "{error}");
        assert!(error.contains(".safetensors file"), "{error}");

        let cut = dir.path().join("cut.safetensors");
        std::fs::write(&cut, &bytes[..12]).unwrap();
        assert!(
            check_safetensors("loras", &cut).is_err(),
            "a header longer than the file"
        );
    }
}
