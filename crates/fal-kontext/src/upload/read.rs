//! Where an upload's bytes come from, and the body of each PUT: a file's
//! bytes are read as they are sent, so what an upload holds is one read
//! buffer per request in flight, whatever the file's or the part's size.

use std::path::Path;

use bytes::Bytes;
use futures::TryStreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::retry::limits::BodySent;

/// Bytes read from the file at each part's (or a PUT's) pace: the most an
/// upload holds per request in flight (256 KiB).
const READ_BUFFER: usize = 256 * 1024;

/// `len` bytes of the file at `path` from `offset`, read as they are sent.
/// Each try of a request opens the file again, so a retry sends its range
/// whole.
fn read_range(
    path: &Path,
    offset: u64,
    len: u64,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let path = path.to_path_buf();
    let opened = async move {
        let mut file = tokio::fs::File::open(path).await?;
        file.seek(std::io::SeekFrom::Start(offset)).await?;
        Ok::<_, std::io::Error>(ReaderStream::with_capacity(file.take(len), READ_BUFFER))
    };
    futures::stream::once(opened).try_flatten()
}

/// Where the upload's bytes come from.
pub(super) enum Source<'a> {
    /// A file, read range by range from its offset.
    File(&'a Path),
    /// Bytes in memory, sliced (not copied) into parts.
    Memory(Bytes),
}

impl Source<'_> {
    /// The body of one PUT: `size` bytes from `offset`, counted by `sent`.
    /// Made anew for each try, so a retry sends its range whole.
    pub(super) fn body(&self, offset: u64, size: u64, sent: &BodySent) -> reqwest::Body {
        match self {
            Source::Memory(data) => {
                let range = data.slice(offset as usize..(offset + size) as usize);
                let body = futures::stream::iter([Ok::<_, std::io::Error>(range)]);
                reqwest::Body::wrap_stream(sent.watch(body, size))
            }
            Source::File(path) => {
                reqwest::Body::wrap_stream(sent.watch(read_range(path, offset, size), size))
            }
        }
    }
}
