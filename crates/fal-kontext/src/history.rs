//! Your requests at fal, from its Platform APIs (the generated
//! `fal_kontext_api::platform` client): the request history
//! ([`Client::history`], `GET /models/requests/by-endpoint`), the deletion
//! of what fal stored of a request ([`Client::delete_payloads`], `DELETE
//! /models/requests/{id}/payloads`), and the search of the history for a
//! submit whose answer was lost ([`Client::find_submitted`]).
//!
//! The facts (<https://api.fal.ai/v1/openapi.json>,
//! <https://docs.fal.ai/platform-apis/v1/models/requests/by-endpoint>,
//! <https://fal.ai/docs/platform-apis/v1/models/requests/payloads>): the
//! history is paged by an opaque `next_cursor` (null on the last page), 1 to
//! 100 items a page; it holds a request's input and output JSON only with
//! `expand=payloads`, only for 30 days, never for a request sent with
//! `X-Fal-Store-IO: 0` or `sync_mode`, and not after a deletion. Deleting
//! needs a key with the ADMIN scope, and takes an `Idempotency-Key` (the same
//! key within 10 minutes gets the first answer again, not a second deletion).
//! A 429 carries no `Retry-After`: it is retried after the retry policy's own
//! delays, like any idempotent call.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fal_kontext_api::platform::types::{
    RequestItem, RequestsByEndpointExpandItem, RequestsByEndpointResponse,
    RequestsByEndpointSortBy, RequestsByEndpointStatus,
};
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use serde_json::Value;

use crate::error::{Error, ErrorContext, Result};
use crate::request::Kind;
use crate::retry::{Call, Failed};
use crate::submitted::SubmitRecord;
use crate::{Client, ImageInput, Request};

/// The most endpoints one history call may name (fal's limit).
const MAX_ENDPOINTS: usize = 50;
/// The most items fal answers in one page.
pub const MAX_PAGE_SIZE: u8 = 100;
/// How far before a lost submit [`Client::find_submitted`] looks: the
/// clocks of this machine and of fal may differ, and fal stamps a request
/// (`sent_at`) when it reaches its backend.
pub const SUBMIT_CLOCK_SLACK: Duration = Duration::from_secs(5 * 60);

/// How a request ended, as the history filters it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HistoryStatus {
    /// Answered 2xx.
    Success,
    /// Failed on fal's side (5xx).
    Error,
    /// Refused as the caller's fault (4xx: validation, …).
    UserError,
}

impl HistoryStatus {
    /// Every value, in the order fal lists them.
    pub const ALL: &'static [HistoryStatus] = &[Self::Success, Self::Error, Self::UserError];

    /// The value fal takes (`success`, `error`, `user_error`).
    ///
    /// ```
    /// assert_eq!(fal_kontext::HistoryStatus::UserError.as_str(), "user_error");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::UserError => "user_error",
        }
    }

    fn wire(self) -> RequestsByEndpointStatus {
        match self {
            Self::Success => RequestsByEndpointStatus::Success,
            Self::Error => RequestsByEndpointStatus::Error,
            Self::UserError => RequestsByEndpointStatus::UserError,
        }
    }
}

impl std::str::FromStr for HistoryStatus {
    type Err = Error;

    /// ```
    /// let status: fal_kontext::HistoryStatus = "success".parse()?;
    /// assert_eq!(status, fal_kontext::HistoryStatus::Success);
    /// assert!("ok".parse::<fal_kontext::HistoryStatus>().is_err());
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    fn from_str(text: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| Error::InvalidInput {
                field: "status",
                value: text.to_string(),
                rule: r#"must be one of "success", "error", "user_error""#.into(),
            })
    }
}

/// The order of the history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HistorySort {
    /// By the time each request ended (fal's default).
    #[default]
    EndedAt,
    /// By how long each request took.
    Duration,
}

impl HistorySort {
    fn wire(self) -> RequestsByEndpointSortBy {
        match self {
            Self::EndedAt => RequestsByEndpointSortBy::EndedAt,
            Self::Duration => RequestsByEndpointSortBy::Duration,
        }
    }
}

/// One request of the history, as fal answers it; what fal leaves out is
/// `None`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct HistoryItem {
    /// The queue request id.
    pub request_id: String,
    /// The endpoint that ran it.
    pub endpoint_id: String,
    /// When it reached fal's backend (ISO 8601, as fal wrote it).
    pub sent_at: Option<String>,
    /// When it started.
    pub started_at: Option<String>,
    /// When it ended; `None` while it runs.
    pub ended_at: Option<String>,
    /// The HTTP status it ended with.
    pub status_code: Option<i64>,
    /// How long it took, in seconds.
    pub duration: Option<f64>,
    /// Its input JSON, when payloads were asked for and fal still keeps it.
    pub input: Option<Value>,
    /// Its output JSON, likewise.
    pub output: Option<Value>,
}

impl From<RequestItem> for HistoryItem {
    fn from(item: RequestItem) -> Self {
        Self {
            request_id: item.request_id,
            endpoint_id: item.endpoint_id,
            sent_at: item.sent_at,
            started_at: item.started_at,
            ended_at: item.ended_at,
            status_code: item.status_code,
            duration: item.duration,
            // an explicit `null` is no payload either
            input: item.json_input.filter(|value| !value.is_null()),
            output: item.json_output.filter(|value| !value.is_null()),
        }
    }
}

/// A query of the request history: built with [`Client::history`], run with
/// [`History::stream`] (lazily, page by page) or [`History::all`].
///
/// ```no_run
/// # async fn demo() -> fal_kontext::Result<()> {
/// use futures::TryStreamExt;
/// use std::time::{Duration, SystemTime};
///
/// let client = fal_kontext::Client::from_env()?;
/// let mut requests = client
///     .history()
///     .endpoint("fal-ai/flux-pro/kontext")
///     .since(SystemTime::now() - Duration::from_secs(3600))
///     .status(fal_kontext::HistoryStatus::Success)
///     .stream()?;
/// while let Some(request) = requests.try_next().await? {
///     println!("{} {:?}", request.request_id, request.ended_at);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct History {
    client: Client,
    endpoints: Vec<String>,
    since: Option<SystemTime>,
    until: Option<SystemTime>,
    status: Option<HistoryStatus>,
    request_id: Option<String>,
    payloads: bool,
    sort: Option<HistorySort>,
    page_size: Option<u8>,
    limit: Option<usize>,
}

impl Client {
    /// A query of this account's request history at fal (API scope). Name at
    /// least one endpoint (at most 50); the window is fal's default, the last
    /// 24 hours (90 days with [`History::request_id`]), unless given.
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let today = client.history().endpoint("fal-ai/flux-pro/kontext").all().await?;
    /// println!("{} requests", today.len());
    /// # Ok(()) }
    /// ```
    pub fn history(&self) -> History {
        History {
            client: self.clone(),
            endpoints: Vec::new(),
            since: None,
            until: None,
            status: None,
            request_id: None,
            payloads: false,
            sort: None,
            page_size: None,
            limit: None,
        }
    }
}

impl History {
    /// Adds an endpoint to list (repeat for more, up to 50).
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().build()?;
    /// let query = client.history().endpoint("fal-ai/flux-pro/kontext").endpoint("fal-ai/flux-kontext/dev");
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoints.push(endpoint.into());
        self
    }

    /// Adds several endpoints.
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().build()?;
    /// let query = client.history().endpoints(fal_kontext::endpoints::ALL.iter().copied());
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn endpoints<I, S>(mut self, endpoints: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.endpoints.extend(endpoints.into_iter().map(Into::into));
        self
    }

    /// Only requests sent at or after `time`.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// let client = fal_kontext::Client::builder().build()?;
    /// let query = client.history().since(SystemTime::now() - Duration::from_secs(7 * 86400));
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn since(mut self, time: SystemTime) -> Self {
        self.since = Some(time);
        self
    }

    /// Only requests sent before `time` (exclusive).
    ///
    /// ```
    /// use std::time::SystemTime;
    /// let client = fal_kontext::Client::builder().build()?;
    /// let query = client.history().until(SystemTime::now());
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn until(mut self, time: SystemTime) -> Self {
        self.until = Some(time);
        self
    }

    /// Only requests that ended this way.
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().build()?;
    /// let failures = client.history().status(fal_kontext::HistoryStatus::Error);
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn status(mut self, status: HistoryStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only the request with this id (fal then looks 90 days back unless
    /// [`since`](Self::since) says otherwise).
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().build()?;
    /// let one = client.history().request_id("a1b2c3d4-e5f6-7890-abcd-ef1234567890");
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// With each request's input and output JSON, where fal still keeps them
    /// (`expand=payloads`).
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().build()?;
    /// let with_inputs = client.history().payloads(true);
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn payloads(mut self, on: bool) -> Self {
        self.payloads = on;
        self
    }

    /// The order (default: fal's, by end time).
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().build()?;
    /// let slowest = client.history().sort(fal_kontext::HistorySort::Duration);
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn sort(mut self, sort: HistorySort) -> Self {
        self.sort = Some(sort);
        self
    }

    /// How many requests to ask for per call, 1 to 100 (fal's `limit`;
    /// default: the [`limit`](Self::limit) if smaller than 100, else fal's
    /// default, 50).
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().build()?;
    /// let query = client.history().page_size(100);
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn page_size(mut self, size: u8) -> Self {
        self.page_size = Some(size);
        self
    }

    /// At most this many requests in all (default: every one in the window).
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().build()?;
    /// let last_ten = client.history().limit(10);
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn limit(mut self, count: usize) -> Self {
        self.limit = Some(count);
        self
    }

    /// The requests, fetched a page at a time as the stream is read (the
    /// next page only when this one is used up), following fal's
    /// `next_cursor` until it is null. A bad query is refused here, before
    /// anything is sent; a page that cannot be had ends the stream with its
    /// error.
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// use futures::TryStreamExt;
    /// let client = fal_kontext::Client::from_env()?;
    /// let ids: Vec<String> = client
    ///     .history()
    ///     .endpoint("fal-ai/flux-pro/kontext")
    ///     .stream()?
    ///     .map_ok(|request| request.request_id)
    ///     .try_collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn stream(self) -> Result<BoxStream<'static, Result<HistoryItem>>> {
        let pager = Pager::new(self)?;
        Ok(futures::stream::try_unfold(pager, Pager::next).boxed())
    }

    /// Every request of the query, read to the end.
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let failed = client
    ///     .history()
    ///     .endpoint("fal-ai/flux-pro/kontext")
    ///     .status(fal_kontext::HistoryStatus::Error)
    ///     .all()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn all(self) -> Result<Vec<HistoryItem>> {
        self.stream()?.try_collect().await
    }

    /// The query's fixed parameters, checked.
    fn check(&self) -> Result<()> {
        if self.endpoints.is_empty() || self.endpoints.len() > MAX_ENDPOINTS {
            return Err(Error::InvalidInput {
                field: "endpoint_id",
                value: self.endpoints.len().to_string(),
                rule: format!("give 1 to {MAX_ENDPOINTS} endpoints"),
            });
        }
        if let Some(size) = self.page_size
            && !(1..=MAX_PAGE_SIZE).contains(&size)
        {
            return Err(Error::InvalidInput {
                field: "limit",
                value: size.to_string(),
                rule: format!("a page holds 1 to {MAX_PAGE_SIZE} requests"),
            });
        }
        for (field, time) in [("start", self.since), ("end", self.until)] {
            if let Some(time) = time
                && rfc3339(time).is_none()
            {
                return Err(Error::InvalidInput {
                    field,
                    value: format!("{time:?}"),
                    rule: "must be a time of the years 0 to 9999 (fal reads RFC 3339)".into(),
                });
            }
        }
        if let (Some(since), Some(until)) = (self.since, self.until)
            && since >= until
        {
            // both written, as checked above
            return Err(Error::InvalidInput {
                field: "start",
                value: rfc3339(since).unwrap_or_default(),
                rule: format!(
                    "must be before the end of the window, {}",
                    rfc3339(until).unwrap_or_default()
                ),
            });
        }
        Ok(())
    }
}

/// The state of a history stream between pages.
struct Pager {
    query: History,
    /// The cursor of the next page; `None` before the first.
    cursor: Option<String>,
    buffer: VecDeque<HistoryItem>,
    last_page: bool,
    /// Requests still to give, with a limit.
    left: Option<usize>,
}

impl Pager {
    fn new(query: History) -> Result<Self> {
        query.check()?;
        let left = query.limit;
        Ok(Self {
            query,
            cursor: None,
            buffer: VecDeque::new(),
            last_page: false,
            left,
        })
    }

    async fn next(mut self) -> Result<Option<(HistoryItem, Self)>> {
        loop {
            if self.left == Some(0) {
                return Ok(None);
            }
            if let Some(item) = self.buffer.pop_front() {
                self.left = self.left.map(|left| left - 1);
                return Ok(Some((item, self)));
            }
            if self.last_page {
                return Ok(None);
            }
            let page = self.page().await?;
            let next = page.next_cursor.filter(|cursor| !cursor.is_empty());
            // A cursor that leads back to the page just read would page for
            // ever: fal's answers must not keep a caller waiting.
            if next.is_some() && next == self.cursor {
                return Err(Error::Server {
                    status: 200,
                    body: "fal's request history answered the same next_cursor again; \
                           stopped paging"
                        .into(),
                    context: ErrorContext::default(),
                });
            }
            self.last_page = next.is_none();
            self.cursor = next;
            self.buffer
                .extend(page.items.into_iter().map(HistoryItem::from));
        }
    }

    /// One page, at the current cursor.
    async fn page(&self) -> Result<RequestsByEndpointResponse> {
        let query = &self.query;
        let client = &query.client;
        let api = client.platform_api()?;
        let page_size = query.page_size.map(u64::from).or_else(|| {
            query
                .limit
                .filter(|limit| *limit < usize::from(MAX_PAGE_SIZE))
                .map(|limit| limit.max(1) as u64)
        });
        // each written: `check` refused a time RFC 3339 cannot write
        let since = query.since.and_then(rfc3339);
        let until = query.until.and_then(rfc3339);
        client
            .retrying(
                Call::Api,
                "history",
                client.settings().call_timeout,
                || async {
                    let mut op = api
                        .requests_by_endpoint()
                        .endpoint_id(query.endpoints.clone());
                    if let Some(size) = page_size {
                        op = op.limit(size);
                    }
                    if let Some(cursor) = &self.cursor {
                        op = op.cursor(cursor.clone());
                    }
                    if let Some(since) = &since {
                        op = op.start(since.clone());
                    }
                    if let Some(until) = &until {
                        op = op.end(until.clone());
                    }
                    if let Some(status) = query.status {
                        op = op.status(status.wire());
                    }
                    if let Some(id) = &query.request_id {
                        op = op.request_id(id.clone());
                    }
                    if query.payloads {
                        op = op.expand(vec![RequestsByEndpointExpandItem::Payloads]);
                    }
                    if let Some(sort) = query.sort {
                        op = op.sort_by(sort.wire());
                    }
                    Failed::answer(
                        op.send().await,
                        "a page of the request history",
                        client.settings().body_idle_timeout,
                    )
                    .await
                },
            )
            .await
    }
}

/// `time` in RFC 3339, UTC, to the second (what fal's `start` and `end`
/// take); `None` for a time whose year RFC 3339's four digits cannot write.
/// Checked arithmetic: `OffsetDateTime::from(SystemTime)` panics there.
fn rfc3339(time: SystemTime) -> Option<String> {
    let epoch = time::OffsetDateTime::UNIX_EPOCH;
    let at = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => epoch.checked_add(time::Duration::try_from(after).ok()?)?,
        Err(before) => epoch.checked_sub(time::Duration::try_from(before.duration()).ok()?)?,
    };
    at.replace_nanosecond(0)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// What a payload deletion did to each output file of the request.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Deletion {
    /// The request whose payloads were deleted.
    pub request_id: String,
    /// One entry per output file fal stored on its CDN.
    pub files: Vec<FileDeletion>,
}

/// The outcome of deleting one file.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FileDeletion {
    /// The file's URL.
    pub url: String,
    /// Why it was not deleted; `None` when it was.
    pub error: Option<String>,
}

impl Deletion {
    /// The URLs of the files deleted.
    ///
    /// ```
    /// use fal_kontext::{Deletion, FileDeletion};
    /// let done = Deletion {
    ///     request_id: "r".into(),
    ///     files: vec![FileDeletion { url: "https://v3.fal.media/files/a.png".into(), error: None }],
    /// };
    /// assert_eq!(done.deleted().collect::<Vec<_>>(), ["https://v3.fal.media/files/a.png"]);
    /// ```
    pub fn deleted(&self) -> impl Iterator<Item = &str> {
        self.files
            .iter()
            .filter(|file| file.error.is_none())
            .map(|file| file.url.as_str())
    }

    /// The files that were not deleted, with why.
    ///
    /// ```
    /// use fal_kontext::{Deletion, FileDeletion};
    /// let done = Deletion {
    ///     request_id: "r".into(),
    ///     files: vec![FileDeletion { url: "u".into(), error: Some("timeout".into()) }],
    /// };
    /// assert_eq!(done.failed().collect::<Vec<_>>(), [("u", "timeout")]);
    /// ```
    pub fn failed(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().filter_map(|file| {
            file.error
                .as_deref()
                .map(|error| (file.url.as_str(), error))
        })
    }

    /// Whether every file was deleted (also when there was none).
    ///
    /// ```
    /// let done = fal_kontext::Deletion { request_id: "r".into(), files: vec![] };
    /// assert!(done.is_complete());
    /// ```
    pub fn is_complete(&self) -> bool {
        self.failed().next().is_none()
    }
}

impl Client {
    /// Deletes what fal stored of a request: its input and output JSON, and
    /// the output files on fal's CDN (not the input files, which other
    /// requests may share). Irreversible. Needs a key with fal's ADMIN scope
    /// ([`ClientBuilder::admin_key`](crate::ClientBuilder::admin_key), else
    /// the key); a key without it is refused with a 403 that says so.
    ///
    /// Every attempt of this call carries one new idempotency key, so a retry
    /// after a lost answer gets fal's first answer, not a second deletion.
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let deletion = client.delete_payloads("a1b2c3d4-e5f6-7890-abcd-ef1234567890").await?;
    /// for (url, why) in deletion.failed() {
    ///     eprintln!("not deleted: {url}: {why}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn delete_payloads(&self, request_id: &str) -> Result<Deletion> {
        self.delete_payloads_with_key(request_id, &new_idempotency_key())
            .await
    }

    /// [`delete_payloads`](Self::delete_payloads) with the caller's
    /// idempotency key: within 10 minutes, fal answers a second call with
    /// the same key with its first answer instead of deleting again.
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let id = "a1b2c3d4-e5f6-7890-abcd-ef1234567890";
    /// let first = client.delete_payloads_with_key(id, "batch-7-job-a1").await?;
    /// let again = client.delete_payloads_with_key(id, "batch-7-job-a1").await?;
    /// assert_eq!(first, again);
    /// # Ok(()) }
    /// ```
    pub async fn delete_payloads_with_key(
        &self,
        request_id: &str,
        idempotency_key: &str,
    ) -> Result<Deletion> {
        if request_id.is_empty() || idempotency_key.is_empty() {
            return Err(Error::InvalidInput {
                field: if request_id.is_empty() {
                    "request_id"
                } else {
                    "idempotency_key"
                },
                value: String::new(),
                rule: "must not be empty".into(),
            });
        }
        let api = self.platform_admin_api()?;
        let answer = self
            .retrying(
                Call::Api,
                "delete_payloads",
                self.settings().call_timeout,
                || async {
                    let sent = api
                        .delete_payloads()
                        .request_id(request_id)
                        .idempotency_key(idempotency_key)
                        .send()
                        .await;
                    Failed::answer(
                        sent,
                        "the payload deletion",
                        self.settings().body_idle_timeout,
                    )
                    .await
                },
            )
            .await
            .map_err(|error| self.needs_admin(error).for_request(request_id))?;
        Ok(Deletion {
            request_id: request_id.to_string(),
            files: answer
                .cdn_delete_results
                .into_iter()
                .map(|result| FileDeletion {
                    url: result.link,
                    error: result.exception,
                })
                .collect(),
        })
    }

    /// A 403 of an ADMIN operation, saying which scope it needs and which
    /// key was sent.
    fn needs_admin(&self, error: Error) -> Error {
        match error {
            Error::Authentication {
                status: 403,
                detail,
                context,
            } => {
                let which = if self.settings().admin_key.is_some() {
                    "the admin key given (FAL_ADMIN_KEY) has not got it"
                } else {
                    "the key given (FAL_KEY) has not got it, and no admin key (FAL_ADMIN_KEY) is set"
                };
                Error::Authentication {
                    status: 403,
                    detail: format!(
                        "deleting a request's stored payloads needs a key with the ADMIN scope; \
                         {which}. fal said: {detail}"
                    ),
                    context,
                }
            }
            other => other,
        }
    }
}

/// A new idempotency key: unique to this process, this moment and this call.
fn new_idempotency_key() -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    format!(
        "fal-kontext-{:x}-{nanos:x}-{}",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    )
}

impl<K: Kind> Request<K> {
    /// The record [`Client::find_submitted`] looks for, of this request
    /// submitted at `submitted_at`: its endpoint and the input JSON it sends.
    /// An image given as a URL or a `data:` URI is sent as it is and
    /// compared; a local file or bytes become a URL only at the submit (an
    /// upload), so their field (`image_url`, `image_urls`) is left out of the
    /// comparison ([`SubmitRecord::ignoring`]). Take it before the submit,
    /// which consumes the request; nothing is sent or read here.
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().key("id:secret").build()?;
    /// let request = client.edit("Make it night", "day.png").seed(7);
    /// let record = request.submit_record(std::time::SystemTime::now())?;
    /// assert_eq!(record.endpoint, "fal-ai/flux-pro/kontext");
    /// assert_eq!(record.input["prompt"], "Make it night");
    /// assert_eq!(record.ignored, ["image_url"]);
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn submit_record(&self, submitted_at: SystemTime) -> Result<SubmitRecord> {
        self.validate()?;
        let images = self.kind.images();
        let urls = images
            .iter()
            .map(|(_, image)| match image {
                ImageInput::Url(url) | ImageInput::DataUri(url) => url.clone(),
                // not known before the submit: an upload's URL
                _ => UNKNOWN_UPLOAD.to_string(),
            })
            .chain(self.kind.files().iter().map(|_| UNKNOWN_UPLOAD.to_string()))
            .collect();
        let input = self.kind.input(&self.prompt, &self.fields, urls)?;
        let input = serde_json::to_value(&input).map_err(|source| Error::Decode {
            what: "the request's input",
            body: String::new(),
            source,
            context: ErrorContext::default(),
        })?;
        let mut record = SubmitRecord::new(self.kind.endpoint(), input, submitted_at);
        for (field, image) in images {
            let known = matches!(image, ImageInput::Url(_) | ImageInput::DataUri(_));
            if !known && !record.ignored.iter().any(|f| f == field) {
                record = record.ignoring(field);
            }
        }
        for (field, _) in self.kind.files() {
            if !record.ignored.iter().any(|f| f == field) {
                record = record.ignoring(field);
            }
        }
        Ok(record)
    }
}

/// The URL a record gives an upload, not known before the submit.
const UNKNOWN_UPLOAD: &str = "https://upload.invalid/unknown";

/// What the history says of a submit whose answer was lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitLookup {
    /// fal took it: exactly one request of the endpoint in the window has
    /// this input. Fetch its result with this id.
    Found {
        /// The request fal made of the submit.
        request_id: String,
    },
    /// More than one request in the window has this input (the same job was
    /// submitted more than once): each may be the one.
    Several {
        /// Their ids, in the history's order.
        request_ids: Vec<String>,
    },
    /// No request in the window has this input, and fal stored the input of
    /// every request there: fal did not (yet) record the submit. fal does
    /// not document how soon a request enters the history.
    NotFound,
    /// The history cannot tell: some requests in the window have no stored
    /// input (sent with `store_io(false)` or `sync_mode`, or deleted), so
    /// any of them may be the submit.
    CannotKnow {
        /// Why, in words.
        reason: String,
    },
}

impl Client {
    /// Looks for a submit whose answer was lost
    /// ([`Error::AmbiguousSubmit`]) in the request history: the requests of
    /// its endpoint sent since [`SUBMIT_CLOCK_SLACK`] before it, with their
    /// payloads, whose stored input is the JSON it sent (numbers compared by
    /// value; fields [`SubmitRecord::ignoring`] names left out). A submit
    /// sent with `store_io(false)` or `sync_mode` left no
    /// input to compare with: the answer is then
    /// [`SubmitLookup::CannotKnow`], unless no request at all is in the window.
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// use fal_kontext::{SubmitLookup, SubmitRecord};
    /// let client = fal_kontext::Client::from_env()?;
    /// let input = serde_json::json!({"prompt": "Make it night", "image_url": "https://example.com/a.png"});
    /// let sent = SubmitRecord::new("fal-ai/flux-pro/kontext", input, std::time::SystemTime::now());
    /// match client.find_submitted(&sent).await? {
    ///     SubmitLookup::Found { request_id } => println!("fal took it: {request_id}"),
    ///     SubmitLookup::NotFound => println!("not in fal's history"),
    ///     other => println!("unclear: {other:?}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn find_submitted(&self, submit: &SubmitRecord) -> Result<SubmitLookup> {
        let since = submit
            .submitted_at
            .checked_sub(SUBMIT_CLOCK_SLACK)
            .unwrap_or(UNIX_EPOCH);
        let mut requests = self
            .history()
            .endpoint(submit.endpoint.clone())
            .since(since)
            .payloads(true)
            .page_size(MAX_PAGE_SIZE)
            .stream()?;
        let mut matching = Vec::new();
        let mut without_input = 0usize;
        while let Some(request) = requests.try_next().await? {
            match &request.input {
                Some(input) if submit.matches(input) => {
                    matching.push(request.request_id);
                }
                Some(_) => {}
                None => without_input += 1,
            }
        }
        Ok(match matching.len() {
            1 => SubmitLookup::Found {
                request_id: matching.remove(0),
            },
            0 if without_input > 0 => SubmitLookup::CannotKnow {
                reason: format!(
                    "{without_input} request(s) of {} since the submit have no stored input \
                     (sent with store_io(false) or sync_mode, or deleted), and any may be it",
                    submit.endpoint
                ),
            },
            0 => SubmitLookup::NotFound,
            _ => SubmitLookup::Several {
                request_ids: matching,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_in_rfc3339_utc() {
        let written = |time| rfc3339(time).unwrap();
        assert_eq!(written(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_723);
        assert_eq!(written(leap_day), "2000-02-29T01:02:03Z");
        let later = UNIX_EPOCH + Duration::from_secs(1_767_225_599);
        assert_eq!(written(later), "2025-12-31T23:59:59Z");
        let before = UNIX_EPOCH - Duration::from_millis(500);
        assert_eq!(written(before), "1969-12-31T23:59:59Z");
        // the year 10000 has no RFC 3339 spelling: None, not a panic
        let far = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        assert_eq!(rfc3339(far), None);
    }

    #[test]
    fn a_bad_query_is_refused_before_anything_is_sent() {
        let client = Client::builder().build().unwrap();
        let field = |query: History| match query.check() {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(client.history()), "endpoint_id");
        let many = client.history().endpoints((0..51).map(|i| i.to_string()));
        assert_eq!(field(many), "endpoint_id");
        let one = || client.history().endpoint("fal-ai/flux-pro/kontext");
        assert_eq!(field(one().page_size(0)), "limit");
        assert_eq!(field(one().page_size(101)), "limit");
        let now = SystemTime::now();
        assert_eq!(field(one().since(now).until(now)), "start");
        let far = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        assert_eq!(field(one().since(now).until(far)), "end");
        assert!(
            one()
                .page_size(100)
                .since(UNIX_EPOCH)
                .until(now)
                .check()
                .is_ok()
        );
    }

    #[test]
    fn a_deletion_reports_each_file() {
        let deletion = Deletion {
            request_id: "r".into(),
            files: vec![
                FileDeletion {
                    url: "a".into(),
                    error: None,
                },
                FileDeletion {
                    url: "b".into(),
                    error: Some("gone".into()),
                },
            ],
        };
        assert_eq!(deletion.deleted().collect::<Vec<_>>(), ["a"]);
        assert_eq!(deletion.failed().collect::<Vec<_>>(), [("b", "gone")]);
        assert!(!deletion.is_complete());
    }

    #[test]
    fn idempotency_keys_differ_per_call() {
        assert_ne!(new_idempotency_key(), new_idempotency_key());
    }
}
