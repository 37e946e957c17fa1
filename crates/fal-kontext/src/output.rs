//! Images out: the images of every endpoint's output, and downloads that
//! never leave a partial file and never carry the key.

use std::path::{Path, PathBuf};

use base64::Engine;
use fal_kontext_api::types;
use tokio::io::AsyncWriteExt;
use tracing::Instrument;

use crate::Client;
use crate::error::{Error, Result};
use crate::retry::limits::{Limits, next_piece};
use crate::retry::{Call, Failed};

/// The largest image the SDK downloads, 256 MiB: an image Kontext makes is a
/// few megapixels (tens of MB as PNG at most), so a body that grows past
/// this is a fault of the server's, stopped before it fills the disk
/// ([`Error::TooLarge`]; the partial file is removed).
pub(crate) const MAX_IMAGE_BYTES: u64 = 256 * 1024 * 1024;

/// The largest LoRA file the SDK downloads, 8 GiB: a Kontext LoRA is tens
/// to hundreds of MB (FLUX.1 \[dev\] LoRAs reach about 1.2 GB at rank 128);
/// a body past this is a fault of the server's.
pub(crate) const MAX_LORA_BYTES: u64 = 8 * 1024 * 1024 * 1024;

/// The most images an output of the family may list: `num_images` is at
/// most 4 on every endpoint (https://fal.ai/models/fal-ai/flux-pro/kontext/api,
/// `num_images`). An output listing more is refused, not downloaded.
pub(crate) const MAX_IMAGES: usize = 4;

/// `Ok` when an output listing `listed` images is within `allowed` (and
/// [`MAX_IMAGES`]).
pub(crate) fn check_image_count(listed: usize, allowed: usize) -> Result<()> {
    let allowed = allowed.min(MAX_IMAGES);
    if listed <= allowed {
        return Ok(());
    }
    Err(Error::TooManyImages {
        listed,
        allowed,
        context: Default::default(),
    })
}

/// One generated image, as any endpoint describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// Where it is: an `https://` URL, or a `data:` URI with `sync_mode`.
    pub url: &'a str,
    /// Its content type, when fal gave one.
    pub content_type: Option<&'a str>,
    /// Its width in pixels, when given.
    pub width: Option<i64>,
    /// Its height in pixels, when given.
    pub height: Option<i64>,
}

/// An output that holds images: every endpoint's output type.
pub trait Images {
    /// The images, in fal's order.
    fn images(&self) -> Vec<ImageRef<'_>>;
}

/// Implements [`Images`] for output types whose `images` list images with
/// `url`, `content_type`, `width` and `height`.
macro_rules! images {
    ($($ty:ident),+ $(,)?) => {$(
        impl Images for types::$ty {
            fn images(&self) -> Vec<ImageRef<'_>> {
                self.images
                    .iter()
                    .map(|i| ImageRef { url: &i.url, content_type: i.content_type.as_deref(), width: i.width, height: i.height })
                    .collect()
            }
        }
    )+};
}

// Every output the documents describe with `images` (generated with the
// table of endpoints).
fal_kontext_api::image_outputs!(images);

impl Client {
    /// Saves every image of `output` into `dir` (created if missing) as
    /// `image-1.jpg`, `image-2.jpg`, … and returns the paths.
    ///
    /// See [`download_as`](Self::download_as).
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let done = client.edit("Make it night", "day.png").run().await?;
    /// for path in client.download(&done.output, "out").await? {
    ///     println!("{}", path.display());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn download(
        &self,
        output: &impl Images,
        dir: impl AsRef<Path>,
    ) -> Result<Vec<PathBuf>> {
        self.download_as(output, dir, "image").await
    }

    /// Saves every image of `output` into `dir` as `<stem>-<n>.<ext>`, the
    /// extension from the image's bytes. `stem` must pass
    /// [`check_file_stem`](crate::check_file_stem) (fal's request ids do),
    /// else `Error::InvalidInput` before anything is created. A file that
    /// exists is never overwritten (the next free `-<n>` is taken). All or
    /// nothing: every image is streamed to a temporary file in `dir`, and
    /// only when all are whole are they renamed into place; a failure leaves
    /// no file of this call behind, temporary or not (a download cut short
    /// by dropping its future, such as on Ctrl-C, included). An output
    /// listing more than 4 images is refused ([`Error::TooManyImages`])
    /// before anything is fetched. `data:` URIs
    /// (`sync_mode`) are decoded; URLs are fetched without the API key.
    ///
    /// ```no_run
    /// # async fn demo(client: fal_kontext::Client, done: fal_kontext::Completed<fal_kontext::EditOutput>) -> fal_kontext::Result<()> {
    /// let paths = client.download_as(&done.output, "out", &done.request_id).await?;
    /// # Ok(()) }
    /// ```
    pub async fn download_as(
        &self,
        output: &impl Images,
        dir: impl AsRef<Path>,
        stem: &str,
    ) -> Result<Vec<PathBuf>> {
        crate::check_file_stem(stem)?;
        check_image_count(output.images().len(), MAX_IMAGES)?;
        let dir = dir.as_ref();
        create_dir(dir).await?;
        // A temporary file deletes itself when dropped, so an error here
        // leaves none behind.
        let images = output.images();
        let fetched = async {
            let mut downloads = Vec::new();
            for image in images.iter() {
                downloads.push(self.fetch_to_temp(image.url, dir, MAX_IMAGE_BYTES).await?);
            }
            Ok::<_, Error>(downloads)
        };
        let downloads = fetched
            .instrument(crate::telemetry::download(images.len()))
            .await?;
        persist_all(downloads, dir, stem)
    }

    /// Writes one file (at most `max` bytes) to a temporary file in `dir`;
    /// returns it with the extension of an image's bytes (`bin` otherwise).
    pub(crate) async fn fetch_to_temp(
        &self,
        url: &str,
        dir: &Path,
        max: u64,
    ) -> Result<(tempfile::NamedTempFile, &'static str)> {
        let io = |source| Error::Io {
            path: dir.to_path_buf(),
            source,
        };
        let temp = tempfile::Builder::new()
            .prefix(".kontext-")
            .suffix(".part")
            .tempfile_in(dir)
            .map_err(io)?;
        if let Some(data) = url.strip_prefix("data:") {
            let bytes = decode_data_uri(data)?;
            std::fs::write(temp.path(), &bytes).map_err(io)?;
            return Ok((temp, extension(&bytes)));
        }
        let limits = self.limits(true);
        let ext = self
            .retrying(Call::Foreign, "download", limits.total, || {
                self.stream_into(url, temp.path(), limits, max)
            })
            .await?;
        Ok((temp, ext))
    }

    /// One download attempt: the body streamed into `path` (truncated first),
    /// at most `max` bytes of it, within `limits`.
    async fn stream_into(
        &self,
        url: &str,
        path: &Path,
        limits: Limits,
        max: u64,
    ) -> std::result::Result<&'static str, Failed> {
        let io = |source| {
            Failed::Final(Error::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        // No Authorization here: images live on fal's CDN, not its API hosts.
        let response = self.head(self.settings().http.get(url), limits).await?;
        let mut file = tokio::fs::File::create(path).await.map_err(io)?;
        let mut head = Vec::new();
        let mut written = 0u64;
        let mut body = response.bytes_stream();
        while let Some(chunk) = next_piece(&mut body, limits.idle).await? {
            written += chunk.len() as u64;
            if written > max {
                return Err(Failed::Final(Error::TooLarge {
                    what: "a downloaded file",
                    limit: max,
                    context: Default::default(),
                }));
            }
            if head.len() < 64 {
                head.extend_from_slice(&chunk[..chunk.len().min(64 - head.len())]);
            }
            file.write_all(&chunk).await.map_err(io)?;
        }
        file.flush().await.map_err(io)?;
        file.sync_all().await.map_err(io)?;
        Ok(extension(&head))
    }
}

/// Creates `dir` (and its parents) when missing.
pub(crate) async fn create_dir(dir: &Path) -> Result<()> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })
}

/// Renames each whole download into place; if one cannot be, removes those
/// already renamed, so that the call leaves all its files or none.
fn persist_all(
    downloads: Vec<(tempfile::NamedTempFile, &'static str)>,
    dir: &Path,
    stem: &str,
) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for download in downloads {
        match persist(download, dir, stem, paths.len() + 1) {
            Ok(path) => paths.push(path),
            Err(error) => {
                for path in &paths {
                    let _ = std::fs::remove_file(path);
                }
                return Err(error);
            }
        }
    }
    Ok(paths)
}

/// Renames a whole download to the first free `<stem>-<n>.<ext>`, `n` from `first`.
pub(crate) fn persist(
    temp: (tempfile::NamedTempFile, &'static str),
    dir: &Path,
    stem: &str,
    first: usize,
) -> Result<PathBuf> {
    let (mut file, ext) = temp;
    // A temporary file is private (0600); a saved image is an ordinary file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = file.path().to_path_buf();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .map_err(|source| Error::Io { path, source })?;
    }
    for n in first.. {
        let path = dir.join(format!("{stem}-{n}.{ext}"));
        match file.persist_noclobber(&path) {
            Ok(_) => return Ok(path),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => file = e.file,
            Err(e) => {
                return Err(Error::Io {
                    path,
                    source: e.error,
                });
            }
        }
    }
    unreachable!("some index is always free")
}

pub(crate) fn decode_data_uri(data: &str) -> Result<Vec<u8>> {
    let invalid = |rule: &str| Error::InvalidInput {
        field: "images.url",
        value: excerpt(data),
        rule: rule.into(),
    };
    let (meta, payload) = data
        .split_once(',')
        .ok_or_else(|| invalid("a data: URI needs a comma before its data"))?;
    if !meta.ends_with(";base64") {
        return Err(invalid("only base64 data: URIs hold images"));
    }
    base64::engine::general_purpose::STANDARD
        .decode(payload.trim())
        .map_err(|_| invalid("the data is not valid base64"))
}

fn excerpt(text: &str) -> String {
    format!("data:{}…", text.chars().take(40).collect::<String>())
}

/// The file extension for an image's first bytes.
fn extension(head: &[u8]) -> &'static str {
    infer::get(head)
        .filter(|k| k.matcher_type() == infer::MatcherType::Image)
        .map_or("bin", |k| k.extension())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_uris_decode_and_bad_ones_name_the_problem() {
        assert_eq!(decode_data_uri("image/png;base64,YWJj").unwrap(), b"abc");
        let error = decode_data_uri("image/png,abc").unwrap_err().to_string();
        assert!(
            error.contains("only base64 data: URIs hold images"),
            "{error}"
        );
    }

    #[test]
    fn a_rename_that_fails_half_way_takes_back_the_files_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = tempfile::NamedTempFile::new_in(dir.path()).unwrap();
        std::fs::write(first.path(), b"one").unwrap();
        let second = tempfile::NamedTempFile::new_in(dir.path()).unwrap();
        // The second download's file is gone: its rename fails.
        std::fs::remove_file(second.path()).unwrap();
        let error =
            persist_all(vec![(first, "png"), (second, "png")], dir.path(), "shot").unwrap_err();
        assert!(matches!(error, Error::Io { .. }), "{error:?}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn existing_files_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("shot-1.png"), b"old").unwrap();
        let temp = tempfile::NamedTempFile::new_in(dir.path()).unwrap();
        std::fs::write(temp.path(), b"new").unwrap();
        let path = persist((temp, "png"), dir.path(), "shot", 1).unwrap();
        assert_eq!(path, dir.path().join("shot-2.png"));
        assert_eq!(
            std::fs::read(dir.path().join("shot-1.png")).unwrap(),
            b"old"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "saved images are readable like any file");
        }
    }
}
