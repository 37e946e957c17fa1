//! The statuses in a status stream's body (server-sent events, each event's
//! data a status), read with a bounded buffer whatever bytes arrive: a line
//! or an event's data longer than [`MAX_EVENT_BYTES`] ends the stream, and
//! what is not a status (a comment, a keep-alive, invalid UTF-8, broken
//! JSON) is skipped without being kept.

use std::collections::VecDeque;

use bytes::Bytes;
use fal_kontext_api::types::QueueStatus;
use futures::{Stream, StreamExt};

use crate::error::Error;

/// The longest event of a status stream the SDK reads, 1 MiB (fal's events
/// are a status of a few KiB, with its log lines); a longer one ends the
/// stream, and polling takes over.
pub(crate) const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// The statuses of a status stream's body, until it breaks, ends, or sends
/// an event longer than [`MAX_EVENT_BYTES`].
pub(crate) fn statuses<B, E>(body: B) -> impl Stream<Item = QueueStatus> + Send
where
    B: Stream<Item = std::result::Result<Bytes, E>> + Send,
    E: Send,
{
    let body = Box::pin(body);
    futures::stream::unfold(
        (body, Reader::default()),
        |(mut body, mut reader)| async move {
            loop {
                if let Some(status) = reader.ready.pop_front() {
                    return Some((status, (body, reader)));
                }
                let Some(Ok(piece)) = body.next().await else {
                    return None;
                };
                if !reader.feed(&piece) {
                    tracing::warn!(
                        "{}",
                        Error::TooLarge {
                            what: "an event of the status stream",
                            limit: MAX_EVENT_BYTES as u64,
                            context: Default::default(),
                        }
                    );
                    return None;
                }
            }
        },
    )
}

/// An SSE reader (the WHATWG "event stream" format: lines end with CR, LF
/// or CRLF; `data:` lines add to the event, a blank line ends it; comments
/// and other fields are skipped).
#[derive(Default)]
struct Reader {
    /// The line being read (at most [`MAX_EVENT_BYTES`]).
    line: Vec<u8>,
    /// The data of the event being read (at most [`MAX_EVENT_BYTES`]).
    data: Vec<u8>,
    /// Whether the last byte was a CR (a LF right after it ends no line).
    after_cr: bool,
    /// Statuses read, not yet taken.
    ready: VecDeque<QueueStatus>,
}

impl Reader {
    /// Reads `bytes`; false once a line or an event is over the bound.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        for &byte in bytes {
            let after_cr = std::mem::replace(&mut self.after_cr, byte == b'\r');
            match byte {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => {
                    if !self.end_line() {
                        return false;
                    }
                }
                _ if self.line.len() >= MAX_EVENT_BYTES => return false,
                _ => self.line.push(byte),
            }
        }
        true
    }

    /// Acts on a whole line; false when the event grew over the bound.
    fn end_line(&mut self) -> bool {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            let data = std::mem::take(&mut self.data);
            // invalid UTF-8 or JSON is no status: skipped
            if let Ok(status) = serde_json::from_slice::<QueueStatus>(&data) {
                self.ready.push_back(status);
            }
        } else if let Some(value) = line.strip_prefix(b"data:") {
            let value = value.strip_prefix(b" ").unwrap_or(value);
            if !self.data.is_empty() {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
        }
        self.data.len() <= MAX_EVENT_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pieces: &[&[u8]]) -> Vec<QueueStatus> {
        let body = futures::stream::iter(
            pieces
                .iter()
                .map(|p| Ok::<_, std::convert::Infallible>(Bytes::copy_from_slice(p))),
        );
        futures::executor::block_on(statuses(body).collect())
    }

    #[test]
    fn statuses_do_not_depend_on_where_the_network_split_the_body() {
        let body = "data: {\"status\":\"IN_PROGRESS\",\"request_id\":\"r\",\"logs\":[{\"message\":\"étape 1\",\"level\":\"INFO\",\"source\":\"user\",\"timestamp\":\"t\"}]}\r\n\r\n: keep-alive\n\ndata: {\"status\":\"COMPLETED\",\"request_id\":\"r\"}\n\n";
        let whole = read(&[body.as_bytes()]);
        assert_eq!(whole.len(), 2, "{whole:?}");
        // split inside the two bytes of "é", and between "\r" and "\n"
        let at_e = body.find('é').unwrap() + 1;
        let at_crlf = body.find("\r\n").unwrap() + 1;
        let bytes = body.as_bytes();
        let split = read(&[&bytes[..at_e], &bytes[at_e..at_crlf], &bytes[at_crlf..]]);
        assert_eq!(split, whole);
    }

    #[test]
    fn an_event_longer_than_the_limit_ends_the_stream() {
        let first = b"data: {\"status\":\"IN_QUEUE\"}\n\n".to_vec();
        let huge = [b"data: ".as_slice(), &vec![b'x'; MAX_EVENT_BYTES]].concat();
        let after = b"\n\ndata: {\"status\":\"COMPLETED\"}\n\n".to_vec();
        let statuses = read(&[&first, &huge, &after]);
        assert_eq!(statuses.len(), 1, "{statuses:?}");
        // as long as the limit, split anywhere, is read
        let fits = [b"data: ".as_slice(), &vec![b' '; MAX_EVENT_BYTES - 40]].concat();
        let statuses = read(&[&first, &fits, b"\n\n", &after[2..]]);
        assert_eq!(statuses.len(), 2, "{statuses:?}");
        // many data lines, each short, add up to the same bound
        let line =
            b"data: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n";
        let many = line.repeat(MAX_EVENT_BYTES / 70 + 1);
        assert_eq!(read(&[&first, &many, &after]).len(), 1);
    }

    #[test]
    fn invalid_utf8_then_a_flood_of_newlines_keeps_the_buffer_small() {
        let mut reader = Reader::default();
        assert!(reader.feed(b"data: {\"status\":\"IN_PROGRESS\"}\xff\xfe\n"));
        for _ in 0..64 {
            assert!(reader.feed(&[b'\n'; 64 * 1024]));
            assert!(reader.line.capacity() <= MAX_EVENT_BYTES);
            assert!(reader.data.is_empty() && reader.ready.is_empty());
        }
        // and a status after the junk is read
        assert!(reader.feed(b"data: {\"status\":\"COMPLETED\"}\n\n"));
        assert_eq!(reader.ready.len(), 1);
    }
}
