//! Files the CDN origin serves: uploads and result images, kept in memory
//! with a cap on their total size (the oldest go first).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;

/// Total bytes kept before the oldest files are dropped.
const MAX_BYTES: usize = 256 * 1024 * 1024;
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

#[derive(Default)]
pub(crate) struct FileStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    files: HashMap<String, StoredFile>,
    order: VecDeque<String>,
    bytes: usize,
    pending: HashMap<String, PendingUpload>,
    pending_order: VecDeque<String>,
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

    pub(crate) fn get(&self, key: &str) -> Option<StoredFile> {
        self.inner
            .lock()
            .expect("file store lock")
            .files
            .get(key)
            .cloned()
    }

    /// Removes a file: the CDN answers 404 for it from now on.
    pub(crate) fn remove(&self, key: &str) {
        let mut inner = self.inner.lock().expect("file store lock");
        if let Some(file) = inner.files.remove(key) {
            inner.bytes -= file.bytes.len();
            inner.order.retain(|kept| kept != key);
        }
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
