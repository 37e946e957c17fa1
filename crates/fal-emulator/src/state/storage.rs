//! Files the CDN origin serves: uploads and result images, kept in memory
//! with a cap on their total size (the oldest go first); large uploads
//! (assembled multipart uploads, large single PUTs) are kept on disk in a
//! temporary folder of the emulator's own, removed when it stops, with a
//! cap of their own. Uploads in parts under way are kept there too.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;

/// Total bytes kept before the oldest files are dropped.
const MAX_BYTES: usize = 256 * 1024 * 1024;
/// Total bytes of files kept on disk before the oldest are deleted.
const MAX_DISK_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Uploads in parts under way, kept at most (the oldest are dropped).
const MAX_MULTIPARTS: usize = 1_000;
/// Upload URLs handed out but not yet used, kept at most.
const MAX_PENDING: usize = 10_000;

/// A stored file.
#[derive(Clone, Debug)]
pub(crate) struct StoredFile {
    pub(crate) bytes: Bytes,
    pub(crate) content_type: String,
}

/// Where an initiated upload's body goes.
#[derive(Clone, Debug)]
pub(crate) struct PendingUpload {
    /// The key the file is served under (`{cdn}/files/{key}`).
    pub(crate) key: String,
    pub(crate) content_type: String,
}

/// A stored file kept on disk.
#[derive(Clone, Debug)]
pub(crate) struct DiskFile {
    pub(crate) path: PathBuf,
    pub(crate) len: u64,
    pub(crate) content_type: String,
}

/// An upload in parts under way: where its file will be served, and the
/// parts received so far (number → ETag and length), each a file in `dir`.
#[derive(Debug)]
pub(crate) struct Multipart {
    pub(crate) key: String,
    pub(crate) content_type: String,
    pub(crate) dir: PathBuf,
    pub(crate) parts: HashMap<u64, (String, u64)>,
    /// The `signature` query parameter its part and `complete` URLs must
    /// keep (fal-js's dialect, whose URLs stand for signed ones); `None` in
    /// the token dialect.
    pub(crate) signature: Option<String>,
    /// Set once `complete` assembled the file: a repeated `complete` (a
    /// client that retries one whose answer it lost) is answered again.
    pub(crate) completed: bool,
}

#[derive(Default)]
pub(crate) struct FileStore {
    inner: Mutex<Inner>,
    /// The temporary folder of files on disk, made when first needed.
    spool: Mutex<Option<tempfile::TempDir>>,
    multiparts: Mutex<Multiparts>,
}

#[derive(Default)]
struct Multiparts {
    by_id: HashMap<String, Multipart>,
    order: VecDeque<String>,
}

#[derive(Default)]
struct Inner {
    files: HashMap<String, StoredFile>,
    order: VecDeque<String>,
    bytes: usize,
    pending: HashMap<String, PendingUpload>,
    pending_order: VecDeque<String>,
    on_disk: HashMap<String, DiskFile>,
    disk_order: VecDeque<String>,
    disk_bytes: u64,
}

impl FileStore {
    pub(crate) fn put(&self, key: String, file: StoredFile) {
        let mut inner = self.inner.lock().expect("file store lock");
        inner.bytes += file.bytes.len();
        if let Some(old) = inner.files.insert(key.clone(), file) {
            inner.bytes -= old.bytes.len();
        } else {
            inner.order.push_back(key);
        }
        while inner.bytes > MAX_BYTES && inner.order.len() > 1 {
            if let Some(oldest) = inner.order.pop_front()
                && let Some(file) = inner.files.remove(&oldest)
            {
                inner.bytes -= file.bytes.len();
            }
        }
    }

    /// A stored file, read whole (from disk for one kept there).
    pub(crate) fn get(&self, key: &str) -> Option<StoredFile> {
        let inner = self.inner.lock().expect("file store lock");
        if let Some(file) = inner.files.get(key) {
            return Some(file.clone());
        }
        let disk = inner.on_disk.get(key)?.clone();
        drop(inner);
        let bytes = std::fs::read(&disk.path).ok()?;
        Some(StoredFile {
            bytes: bytes.into(),
            content_type: disk.content_type,
        })
    }

    /// A file kept on disk, to stream rather than read whole.
    pub(crate) fn on_disk(&self, key: &str) -> Option<DiskFile> {
        let inner = self.inner.lock().expect("file store lock");
        inner.on_disk.get(key).cloned()
    }

    /// Keeps a file already written at `file.path` (inside [`spool`](Self::spool)).
    pub(crate) fn put_on_disk(&self, key: String, file: DiskFile) {
        let mut inner = self.inner.lock().expect("file store lock");
        inner.disk_bytes += file.len;
        if let Some(old) = inner.on_disk.insert(key.clone(), file) {
            inner.disk_bytes -= old.len;
            let _ = std::fs::remove_file(old.path);
        } else {
            inner.disk_order.push_back(key);
        }
        while inner.disk_bytes > MAX_DISK_BYTES && inner.disk_order.len() > 1 {
            if let Some(oldest) = inner.disk_order.pop_front()
                && let Some(file) = inner.on_disk.remove(&oldest)
            {
                inner.disk_bytes -= file.len;
                let _ = std::fs::remove_file(file.path);
            }
        }
    }

    /// Removes a file: the CDN answers 404 for it from now on.
    pub(crate) fn remove(&self, key: &str) {
        let mut inner = self.inner.lock().expect("file store lock");
        if let Some(file) = inner.files.remove(key) {
            inner.bytes -= file.bytes.len();
            inner.order.retain(|kept| kept != key);
        }
        if let Some(file) = inner.on_disk.remove(key) {
            inner.disk_bytes -= file.len;
            inner.disk_order.retain(|kept| kept != key);
            let _ = std::fs::remove_file(file.path);
        }
    }

    /// The emulator's temporary folder for files on disk (removed when the
    /// emulator stops).
    pub(crate) fn spool(&self) -> std::io::Result<PathBuf> {
        let mut spool = self.spool.lock().expect("spool lock");
        if spool.is_none() {
            *spool = Some(tempfile::Builder::new().prefix("fal-emulator-").tempdir()?);
        }
        Ok(spool.as_ref().expect("made above").path().to_path_buf())
    }

    /// Starts an upload in parts under `id`, its parts in a folder of their own.
    pub(crate) fn start_multipart(
        &self,
        id: &str,
        key: String,
        content_type: String,
        signature: Option<String>,
    ) -> std::io::Result<()> {
        let dir = self.spool()?.join(format!("parts-{id}"));
        std::fs::create_dir_all(&dir)?;
        let mut multiparts = self.multiparts.lock().expect("multipart lock");
        if multiparts.order.len() == MAX_MULTIPARTS
            && let Some(oldest) = multiparts.order.pop_front()
            && let Some(dropped) = multiparts.by_id.remove(&oldest)
        {
            let _ = std::fs::remove_dir_all(dropped.dir);
        }
        multiparts.by_id.insert(
            id.to_owned(),
            Multipart {
                key,
                content_type,
                dir,
                parts: HashMap::new(),
                signature,
                completed: false,
            },
        );
        multiparts.order.push_back(id.to_owned());
        Ok(())
    }

    /// Runs `f` on the upload in parts `id`, if there is one.
    pub(crate) fn with_multipart<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Multipart) -> T,
    ) -> Option<T> {
        let mut multiparts = self.multiparts.lock().expect("multipart lock");
        multiparts.by_id.get_mut(id).map(f)
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.inner
            .lock()
            .expect("file store lock")
            .files
            .contains_key(key)
    }

    /// Remembers where the body PUT to `/uploads/{token}` goes.
    pub(crate) fn expect_upload(&self, token: String, upload: PendingUpload) {
        let mut inner = self.inner.lock().expect("file store lock");
        if inner.pending_order.len() == MAX_PENDING
            && let Some(oldest) = inner.pending_order.pop_front()
        {
            inner.pending.remove(&oldest);
        }
        inner.pending.insert(token.clone(), upload);
        inner.pending_order.push_back(token);
    }

    /// The pending upload of this token. It stays valid: a client that
    /// retries its PUT overwrites the same file.
    pub(crate) fn pending(&self, token: &str) -> Option<PendingUpload> {
        self.inner
            .lock()
            .expect("file store lock")
            .pending
            .get(token)
            .cloned()
    }
}

/// Where a part's body is written while it comes: a cut body never
/// replaces a part that came whole.
pub(crate) fn part_path(dir: &Path, number: u64) -> (PathBuf, PathBuf) {
    (
        dir.join(format!(
            "{number}.partial-{}",
            uuid::Uuid::new_v4().simple()
        )),
        dir.join(number.to_string()),
    )
}

/// A file name made safe for a URL path segment.
pub(crate) fn safe_file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() {
        "upload.bin".to_owned()
    } else {
        cleaned.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(len: usize) -> StoredFile {
        StoredFile {
            bytes: Bytes::from(vec![0; len]),
            content_type: "application/octet-stream".into(),
        }
    }

    #[test]
    fn oldest_files_go_first_past_the_cap() {
        let store = FileStore::default();
        let third = MAX_BYTES / 3 + 1;
        store.put("a".into(), file(third));
        store.put("b".into(), file(third));
        store.put("c".into(), file(third));
        assert!(!store.contains("a"));
        assert!(store.contains("b") && store.contains("c"));
    }

    #[test]
    fn file_names_are_made_safe() {
        assert_eq!(safe_file_name("my photo (1).png"), "my_photo__1_.png");
        assert_eq!(safe_file_name("../../etc"), "_.._etc");
        assert_eq!(safe_file_name(""), "upload.bin");
    }
}
