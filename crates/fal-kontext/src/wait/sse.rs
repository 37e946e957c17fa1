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

/// What a buffer keeps of its capacity between events: a large event's
/// memory is given back, a usual one's is reused.
const KEPT_CAPACITY: usize = 16 * 1024;

impl Reader {
    /// Reads `bytes`; false once a line or an event is over the bound.
    /// Whole runs of bytes between line ends are copied at once (a byte at a
    /// time, this was the SDK's largest cost per job after the HTTP stack).
    fn feed(&mut self, mut bytes: &[u8]) -> bool {
        if std::mem::take(&mut self.after_cr) {
            match bytes {
                [] => self.after_cr = true,
                [b'\n', rest @ ..] => bytes = rest,
                _ => {}
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', bytes) {
            if !self.extend_line(&bytes[..end]) || !self.end_line() {
                return false;
            }
            // a CR and the LF after it end one line, even split between reads
            bytes = match (bytes[end], &bytes[end + 1..]) {
                (b'\r', []) => {
                    self.after_cr = true;
                    &[]
                }
                (b'\r', [b'\n', rest @ ..]) => rest,
                (_, rest) => rest,
            };
        }
        self.extend_line(bytes)
    }

    /// Adds to the line being read; false when it would grow over the bound.
    fn extend_line(&mut self, part: &[u8]) -> bool {
        if self.line.len() + part.len() > MAX_EVENT_BYTES {
            return false;
        }
        self.line.extend_from_slice(part);
        true
    }

    /// Acts on a whole line; false when the event grew over the bound.
    fn end_line(&mut self) -> bool {
        let Self {
            line, data, ready, ..
        } = self;
        if line.is_empty() {
            // invalid UTF-8 or JSON is no status: skipped
            if let Ok(status) = serde_json::from_slice::<QueueStatus>(data) {
                ready.push_back(status);
            }
            data.clear();
            data.shrink_to(KEPT_CAPACITY);
        } else if let Some(value) = line.strip_prefix(b"data:") {
            let value = value.strip_prefix(b" ").unwrap_or(value);
            if !data.is_empty() {
                data.push(b'\n');
            }
            data.extend_from_slice(value);
        }
        line.clear();
        line.shrink_to(KEPT_CAPACITY);
        data.len() <= MAX_EVENT_BYTES
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
    fn cr_lf_and_crlf_each_end_a_line_wherever_the_body_is_split() {
        // three statuses in two data lines each, lines ended by CRLF, by CR
        // and by LF; a comment alone is no event
        let body = b"data: {\"status\":\"IN_QUEUE\",\r\ndata: \"queue_position\":2}\r\n\r\n\
            : c\r\rdata: {\"status\":\rdata: \"IN_PROGRESS\"}\r\r\
            data: {\"status\":\ndata: \"COMPLETED\"}\n\n";
        let whole = read(&[body]);
        let seen: Vec<_> = whole
            .iter()
            .map(|s| (serde_json::to_string(&s.status).unwrap(), s.queue_position))
            .collect();
        let expected = [
            ("\"IN_QUEUE\"", Some(2)),
            ("\"IN_PROGRESS\"", None),
            ("\"COMPLETED\"", None),
        ];
        assert_eq!(seen, expected.map(|(s, p)| (s.to_string(), p)));
        for at in 0..=body.len() {
            assert_eq!(read(&[&body[..at], &body[at..]]), whole, "split at {at}");
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(read(&bytes), whole, "a byte at a time");
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
