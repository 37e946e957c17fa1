//! How large files are uploaded: above which size in parts, how large each
//! part is, and how many go up at once.

/// Files larger than this (90 MiB) are uploaded in parts: fal's JS client's
/// threshold (@fal-ai/client 1.10.1 `storage.ts`: `file.size > 90 * 1024 *
/// 1024`), whose protocol the SDK follows; fal's Python client switches at
/// 100 MiB (fal-client 1.0.1 `client.py`, `MULTIPART_THRESHOLD`).
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 90 * 1024 * 1024;
/// The size of each part but the last (10 MiB), as both of fal's clients
/// cut them (`storage.ts` `chunkSize`; `client.py` `MULTIPART_CHUNK_SIZE`).
pub const DEFAULT_MULTIPART_PART_SIZE: u64 = 10 * 1024 * 1024;
/// Parts uploaded at once (4). fal's Python client sends up to 10, fal-js
/// one. Four keep one connection busy while others wait for their answers
/// (on one link, more parts at once share the same bandwidth and only add
/// connections), and, as parts are streamed from disk, the memory an upload
/// holds does not grow with the part size.
pub const DEFAULT_MULTIPART_CONCURRENCY: usize = 4;
/// How files are cut into parts (see [`ClientBuilder::multipart_threshold`](crate::ClientBuilder::multipart_threshold)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MultipartSettings {
    /// Files larger than this many bytes go up in parts.
    pub threshold: u64,
    /// The size of each part but the last.
    pub part_size: u64,
    /// Parts in flight at once.
    pub concurrency: usize,
}

impl Default for MultipartSettings {
    fn default() -> Self {
        Self {
            threshold: DEFAULT_MULTIPART_THRESHOLD,
            part_size: DEFAULT_MULTIPART_PART_SIZE,
            concurrency: DEFAULT_MULTIPART_CONCURRENCY,
        }
    }
}
