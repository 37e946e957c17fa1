//! Multipart uploads, as fal's JS client makes them (@fal-ai/client 1.10.1,
//! `storage.ts`, `multipartUpload`,
//! <https://github.com/fal-ai/fal-js/blob/client-v1.10.1/libs/client/src/storage.ts>):
//!
//! 1. `POST {rest}/storage/upload/initiate-multipart?storage_type=fal-cdn-v3`
//!    with the key and `{"content_type", "file_name"}` (and the lifecycle
//!    header), answered `{"upload_url", "file_url"}`;
//! 2. part n = 1…N: `PUT {upload_url's origin and path}/{n}{its query}`,
//!    the part's bytes as the body, no key (the URL is signed), answered
//!    `{"partNumber": n, "etag": "…"}`;
//! 3. `POST {upload_url's path}/complete{its query}` with
//!    `{"parts": [{"partNumber": 1, "etag": "…"}, …]}`, no key;
//! 4. the file is served at `file_url`.
//!
//! Where we differ from fal-js, and why:
//! - parts go up [`DEFAULT_MULTIPART_CONCURRENCY`](crate::DEFAULT_MULTIPART_CONCURRENCY) at once (fal-js sends
//!   them one after another; fal's Python client 10 at once);
//! - each part is streamed from disk (opened and read from its offset for
//!   each try), never held in memory: what the upload holds is a read
//!   buffer per part in flight, whatever the part size;
//! - each part is retried on its own by the SDK's rulebook for calls to
//!   other hosts ([`Call::Foreign`]: transport errors, time limits, 408,
//!   429, 502, 503, 504), each try within the transfer timeout (fal-js
//!   tries a part 3 times, with no pause); `complete` is retried by the same
//!   rules (fal's Python client retries its `complete`; an answer that is
//!   a decision, such as a 500 or a 4xx, is final);
//! - fal's protocol has no abort call: when a part or `complete` fails for
//!   good, the parts already sent stay at fal, never assembled into a file
//!   (the URL is never handed out). The SDK writes nothing locally, so
//!   nothing is left half-done on this side.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use reqwest::Url;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde::{Deserialize, Serialize};

use crate::Client;
use crate::error::{Error, ErrorContext, Result};
use crate::http::decode;
use crate::retry::Call;
use crate::retry::limits::BodySent;

use super::read::Source;

/// The most parts one upload is cut into: a fal engineer's note puts the
/// server's cap at 10,000 parts (<https://github.com/fal-ai/fal/pull/1118>,
/// for fal's `/data` storage; the CDN's cap is not published). A file that
/// would need more gets larger parts.
const MAX_PARTS: u64 = 10_000;

/// One part as fal's storage acknowledged it, and as `complete` lists it.
#[derive(Debug, Deserialize, Serialize)]
struct Part {
    #[serde(rename = "partNumber", default)]
    part_number: u64,
    etag: String,
}

#[derive(Serialize)]
struct Complete<'a> {
    parts: &'a [Part],
}

/// The part numbers (from 1) and byte ranges of a file of `len` bytes.
fn cut(len: u64, part_size: u64) -> Vec<(u64, u64, u64)> {
    let size = part_size.max(len.div_ceil(MAX_PARTS)).max(1);
    (0..len.div_ceil(size))
        .map(|i| (i + 1, i * size, size.min(len - i * size)))
        .collect()
}

/// `{upload_url's origin and path}/{tail}{its query}`, as fal-js builds a
/// part's and `complete`'s URLs.
fn beside(upload_url: &Url, tail: &str) -> Url {
    let mut url = upload_url.clone();
    url.set_path(&format!("{}/{tail}", upload_url.path()));
    url
}

impl Client {
    /// Uploads `len` bytes of `source` in parts; see the module's notes.
    pub(super) async fn upload_multipart(
        &self,
        source: Source<'_>,
        file_name: &str,
        content_type: &str,
        len: u64,
        lifetime: Option<Duration>,
    ) -> Result<String> {
        let failed = |step: String| {
            let file = file_name.to_string();
            move |source: Error| Error::Upload {
                file,
                step,
                source: Box::new(source),
            }
        };
        // fal's API refusing the initiate (the key, the input) is the same
        // error as for a single upload: not wrapped
        let initiated = self
            .initiate_upload("initiate-multipart", content_type, file_name, lifetime)
            .await?;
        let upload_url = Url::parse(&initiated.upload_url).map_err(|error| {
            failed("initiate-multipart".into())(Error::Decode {
                what: "the upload answer's upload_url",
                body: initiated.upload_url.clone(),
                source: serde::de::Error::custom(error),
                context: ErrorContext::default(),
            })
        })?;
        let parts = cut(len, self.settings().multipart.part_size);
        let count = parts.len();
        let source = &source;
        let upload_url = &upload_url;
        let mut sent: Vec<Part> = futures::stream::iter(parts)
            .map(|(number, offset, size)| async move {
                self.upload_part(source, upload_url, number, offset, size)
                    .await
                    .map_err(failed(format!("part {number} of {count}")))
            })
            .buffer_unordered(self.settings().multipart.concurrency)
            .try_collect()
            .await?;
        sent.sort_by_key(|part| part.part_number);
        let complete = beside(upload_url, "complete");
        let body = serde_json::to_vec(&Complete { parts: &sent }).expect("parts serialize");
        self.send(
            Call::Foreign,
            "upload_complete",
            self.limits(true),
            |http| {
                http.post(complete.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone())
            },
        )
        .await
        .map_err(failed("complete".into()))?;
        Ok(initiated.file_url)
    }

    /// PUTs one part (`size` bytes from `offset`), retried on its own, and
    /// returns fal's acknowledgement. Like fal-js, the part carries no
    /// `Content-Type` (a slice of a file has none): only its length.
    async fn upload_part(
        &self,
        source: &Source<'_>,
        upload_url: &Url,
        number: u64,
        offset: u64,
        size: u64,
    ) -> Result<Part> {
        let url = beside(upload_url, &number.to_string());
        let answer = self
            .send_watched(Call::Foreign, "upload_part", self.limits(true), |http| {
                let sent = BodySent::default();
                let request = http
                    .put(url.clone())
                    .header(CONTENT_LENGTH, size)
                    .body(source.body(offset, size, &sent));
                (request, Some(sent))
            })
            .await?;
        let part: Part = decode(&answer, "the part's answer")?;
        Ok(Part {
            part_number: number,
            ..part
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_cut_into_numbered_parts_that_cover_them() {
        assert_eq!(
            cut(25, 10),
            vec![(1, 0, 10), (2, 10, 10), (3, 20, 5)],
            "the last part holds the rest"
        );
        assert_eq!(cut(20, 10), vec![(1, 0, 10), (2, 10, 10)]);
        assert_eq!(cut(0, 10), vec![]);
    }

    #[test]
    fn a_file_never_needs_more_parts_than_the_cap() {
        let len = 300 * MAX_PARTS + 1;
        let parts = cut(len, 100);
        assert!(parts.len() as u64 <= MAX_PARTS, "{}", parts.len());
        let covered: u64 = parts.iter().map(|(_, _, size)| size).sum();
        assert_eq!(covered, len);
    }

    #[test]
    fn part_urls_keep_the_signed_query() {
        let url = Url::parse("https://storage.example/up/abc?sig=1&exp=2").unwrap();
        assert_eq!(
            beside(&url, "3").as_str(),
            "https://storage.example/up/abc/3?sig=1&exp=2"
        );
        assert_eq!(
            beside(&url, "complete").as_str(),
            "https://storage.example/up/abc/complete?sig=1&exp=2"
        );
    }
}
