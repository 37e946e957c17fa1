//! Where an event's images go, and whether they are there already: files
//! `<request-id>-<n>.<ext>` in `--out`, written whole or not at all.

use std::path::{Path, PathBuf};

use fal_kontext::{Client, Images};

/// Whether `dir` holds an image of this request (`<id>-<n>.<ext>`): a
/// delivery seen before, perhaps by an earlier run of the server.
pub fn already_saved(dir: &Path, request_id: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let prefix = format!("{request_id}-");
    entries.flatten().any(|entry| {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|name| name.strip_prefix(&prefix)) else {
            return false;
        };
        // `<n>.<ext>` exactly, so that `abc-1-1.jpg` is not taken for `abc`'s
        let Some((number, ext)) = rest.split_once('.') else {
            return false;
        };
        !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_digit())
            && !ext.is_empty()
            && ext.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// Saves every image of `output` into `dir` as `<request-id>-<n>.<ext>`:
/// downloaded into a staging directory first, moved into `dir` only when
/// all are whole, so that a failed delivery leaves nothing and the next one
/// saves all. `request_id` must already be checked to be a safe file name.
pub async fn save(
    client: &Client,
    output: &impl Images,
    dir: &Path,
    request_id: &str,
) -> fal_kontext::Result<Vec<PathBuf>> {
    let staging = staging(dir, request_id);
    // left over from a run that was killed mid-download
    let _ = std::fs::remove_dir_all(&staging);
    let downloaded = client.download_as(output, &staging, request_id).await;
    let moved = downloaded.and_then(|paths| {
        paths
            .iter()
            .map(|path| {
                let target = dir.join(path.file_name().unwrap_or_default());
                std::fs::rename(path, &target)
                    .map(|()| target.clone())
                    .map_err(|source| fal_kontext::Error::Io {
                        path: target,
                        source,
                    })
            })
            .collect()
    });
    let _ = std::fs::remove_dir_all(&staging);
    moved
}

/// Removes what a [`save`] stopped midway left of this request.
pub fn discard(dir: &Path, request_id: &str) {
    let _ = std::fs::remove_dir_all(staging(dir, request_id));
}

/// Where a request's images are downloaded before they are moved into `dir`.
fn staging(dir: &Path, request_id: &str) -> PathBuf {
    dir.join(format!(".kontext-webhook-{request_id}.part"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_request_s_images_count() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!already_saved(dir.path(), "abc"));
        for name in [
            "abc-1-1.jpg",
            "abc-x.jpg",
            "abc-.jpg",
            "abc-1",
            "abcd-1.jpg",
            "abc-1.jpg.part",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        assert!(!already_saved(dir.path(), "abc"));
        std::fs::write(dir.path().join("abc-2.png"), b"").unwrap();
        assert!(already_saved(dir.path(), "abc"));
        assert!(!already_saved(&dir.path().join("missing"), "abc"));
    }
}
