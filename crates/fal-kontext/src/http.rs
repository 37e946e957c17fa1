//! Every HTTP call, generated or hand-written: when a failed attempt is
//! repeated, how long one may take, and the mapping of what went wrong
//! (progenitor's `Error`, reqwest's, an unsuccessful answer) to [`Error`].

use std::time::Duration;

use bytes::Bytes;
use fal_kontext_api::ResponseValue;
use futures::{Stream, StreamExt};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Client;
use crate::error::{Error, ErrorContext, Result, ValidationDetail, excerpt};
use crate::platform_error;
use crate::retry::retry_after;

/// The most the SDK reads of one answer (a status, an output, an error), 64
/// MiB: an output with `sync_mode` carries its images inline, four large
/// PNGs in base64. A larger answer is [`Error::TooLarge`], not read.
pub(crate) const MAX_ANSWER_BYTES: u64 = 64 * 1024 * 1024;

/// What a call is, which decides whether it carries the key and when it may
/// be repeated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    /// Creates a paid job: repeated only when fal provably never saw it.
    Submit,
    /// An idempotent call to fal's API (status, result, cancel, upload initiate).
    Api,
    /// A call to a host that is not fal's API (CDN download, storage PUT):
    /// idempotent, and never carries the key.
    Foreign,
}

/// A complete unsuccessful answer: status, headers and the (start of the) body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// Reads an unsuccessful answer.
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        // a body that broke or is too large leaves the excerpt empty
        let body = read_capped::<_, reqwest::Error>(response.bytes_stream())
            .await
            .unwrap_or_default();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// What fal said besides the status: the request id, `error_type` (the
    /// body's, else the header's) and `x-fal-retryable`, as fal's clients
    /// read them (fal-client 1.0.3, `_raise_for_status`: the body's
    /// `error_type`, else `x-fal-error-type`; @fal-ai/client 1.10.1,
    /// `response.js`: `x-fal-request-id`; /work/shared/api/webhooks-and-headers.md).
    pub fn context(&self) -> ErrorContext {
        let header = |name: &str| header_text(&self.headers, name);
        let body_type = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("error_type")?.as_str().map(str::to_string));
        // the Platform APIs' `{"error": {type, message, request_id}}`
        let platform = platform_error::read(&self.body);
        let (platform_type, platform_id) =
            platform.map_or((None, None), |e| (e.kind, e.request_id));
        ErrorContext {
            request_id: header("x-fal-request-id").or(platform_id),
            error_type: body_type
                .or(platform_type)
                .or_else(|| header("x-fal-error-type")),
            retryable: header("x-fal-retryable").and_then(|v| {
                match v.to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" => Some(true),
                    "false" | "0" | "no" => Some(false),
                    _ => None,
                }
            }),
        }
    }

    /// The error an unsuccessful answer stands for.
    pub fn into_error(self) -> Error {
        let status = self.status.as_u16();
        let context = self.context();
        let detail = || detail_text(&self.body);
        if self.is_user_timeout() {
            return Error::RequestTimeout {
                detail: detail(),
                context,
            };
        }
        match self.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::Authentication {
                status,
                detail: detail(),
                context,
            },
            StatusCode::NOT_FOUND => Error::NotFound {
                detail: detail(),
                context,
            },
            StatusCode::UNPROCESSABLE_ENTITY => Error::Validation {
                details: validation_details(&self.body),
                context,
            },
            StatusCode::TOO_MANY_REQUESTS => Error::RateLimited {
                retry_after: retry_after(&self.headers),
                context,
            },
            s if s.is_server_error() => Error::Server {
                status,
                body: excerpt(&self.body),
                context,
            },
            _ => Error::Http {
                status,
                body: excerpt(&self.body),
                context,
            },
        }
    }

    /// An error page of fal's ingress, which passed nothing on to fal: a
    /// 502, 503 or 504 without `x-fal-request-id` (every answer of fal's own
    /// carries it) from nginx, as fal's Python client tells them apart
    /// (fal-client 1.0.3, `_is_ingress_error`).
    fn is_ingress_page(&self) -> bool {
        matches!(self.status.as_u16(), 502..=504)
            && !self.headers.contains_key("x-fal-request-id")
            && self.body.windows(5).any(|w| w == b"nginx")
    }

    /// The 504 fal answers when the start deadline the caller set with
    /// `x-fal-request-timeout` ran out: fal's clients never retry it
    /// (@fal-ai/client 1.10.1, `ApiError.isUserTimeout`; fal-client 1.0.3,
    /// `_should_retry_response`).
    fn is_user_timeout(&self) -> bool {
        self.status == StatusCode::GATEWAY_TIMEOUT
            && self
                .headers
                .get("x-fal-request-timeout-type")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"user"))
    }
}

/// A header's value as text, trimmed; `None` when absent, empty or not text.
pub(crate) fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// Why a body was not read whole.
pub(crate) enum Cut<E> {
    /// It broke (a reset, fewer bytes than promised).
    Broken(E),
    /// It grew past [`MAX_ANSWER_BYTES`].
    TooLarge,
}

/// A body read whole, if it is at most [`MAX_ANSWER_BYTES`] long.
pub(crate) async fn read_capped<S, E>(body: S) -> std::result::Result<Bytes, Cut<E>>
where
    S: Stream<Item = std::result::Result<Bytes, E>>,
{
    let mut body = std::pin::pin!(body);
    let mut read = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(Cut::Broken)?;
        if (read.len() + chunk.len()) as u64 > MAX_ANSWER_BYTES {
            return Err(Cut::TooLarge);
        }
        read.extend_from_slice(&chunk);
    }
    Ok(read.into())
}

impl From<Cut<reqwest::Error>> for Failed {
    fn from(cut: Cut<reqwest::Error>) -> Self {
        match cut {
            Cut::Broken(error) => Failed::Transport(error),
            Cut::TooLarge => Failed::Final(too_large("the answer")),
        }
    }
}

/// fal's `detail` as text: a string, or the joined messages of a list.
fn detail_text(body: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("detail").cloned())
    {
        Some(serde_json::Value::String(text)) => text,
        Some(list @ serde_json::Value::Array(_)) => {
            serde_json::from_value::<Vec<ValidationDetail>>(list)
                .map(|items| {
                    items
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_else(|_| excerpt(body))
        }
        _ => platform_error::read(body).map_or_else(|| excerpt(body), |error| error.message),
    }
}

/// The `detail` list of a 422 (a lone string becomes one item).
pub(crate) fn validation_details(body: &[u8]) -> Vec<ValidationDetail> {
    let detail = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("detail").cloned());
    match detail {
        Some(list @ serde_json::Value::Array(_)) => {
            serde_json::from_value(list).unwrap_or_default()
        }
        Some(serde_json::Value::String(msg)) => vec![ValidationDetail {
            loc: vec![],
            msg,
            kind: String::new(),
        }],
        _ => vec![ValidationDetail {
            loc: vec![],
            msg: excerpt(body),
            kind: String::new(),
        }],
    }
}

/// A failed attempt, as the retry rules see it.
#[derive(Debug)]
pub(crate) enum Failed {
    /// An unsuccessful answer.
    Answer(Answer),
    /// No whole answer: the connection failed or broke.
    Transport(reqwest::Error),
    /// No whole answer within the call's own time limit.
    TimedOut(Duration),
    /// Decided already, never repeated: a decode error, an answer too large.
    Final(Error),
}

impl Failed {
    /// What progenitor's error of a generated operation stands for; `what`
    /// names the answer for a decode error.
    pub async fn from_api<E: Serialize>(
        error: fal_kontext_api::Error<E>,
        what: &'static str,
    ) -> Self {
        use fal_kontext_api::Error as Api;
        match error {
            // a body that grew past the bound while being read
            Api::ResponseBodyError(error) if grew_too_large(&error) => {
                Failed::Final(too_large(what))
            }
            Api::CommunicationError(error)
            | Api::ResponseBodyError(error)
            | Api::InvalidUpgrade(error) => Failed::Transport(error),
            Api::UnexpectedResponse(response) => Failed::Answer(Answer::read(response).await),
            // a declared error answer (cancel's 400) whose caller did not take it
            Api::ErrorResponse(answer) => Failed::Answer(Answer {
                status: answer.status(),
                headers: answer.headers().clone(),
                body: serde_json::to_vec(answer.as_ref())
                    .unwrap_or_default()
                    .into(),
            }),
            Api::InvalidResponsePayload(body, source) => Failed::Final(Error::Decode {
                what,
                body: excerpt(&body),
                source,
                context: ErrorContext::default(),
            }),
            // the post-hook's refusal of a declared length: the only custom
            // error there is
            Api::Custom(_) => Failed::Final(too_large(what)),
            // the SDK checks every value before it builds an operation
            Api::InvalidRequest(message) => Failed::Final(Error::InvalidInput {
                field: "request",
                value: String::new(),
                rule: message,
            }),
        }
    }

    /// The value of a generated operation's answer; a success the document
    /// does not list (`UnexpectedResponse` with a 2xx) is decoded too, so
    /// that a submit fal accepted is never lost to a status code.
    pub async fn answer<T: DeserializeOwned, E: Serialize>(
        sent: std::result::Result<ResponseValue<T>, fal_kontext_api::Error<E>>,
        what: &'static str,
    ) -> std::result::Result<T, Failed> {
        match sent {
            Ok(answer) => Ok(answer.into_inner()),
            Err(fal_kontext_api::Error::UnexpectedResponse(response))
                if response.status().is_success() =>
            {
                let body = read_capped(response.bytes_stream()).await?;
                serde_json::from_slice(&body).map_err(|source| {
                    Failed::Final(Error::Decode {
                        what,
                        body: excerpt(&body),
                        source,
                        context: ErrorContext::default(),
                    })
                })
            }
            Err(error) => Err(Failed::from_api(error, what).await),
        }
    }

    /// Whether the attempt may be made again.
    fn may_retry(&self, call: Call) -> bool {
        match self {
            Failed::Answer(answer) => may_retry_answer(call, answer),
            Failed::Transport(error) => may_retry_error(call, error),
            // a submit that timed out may have created the job
            Failed::TimedOut(_) => call != Call::Submit,
            Failed::Final(_) => false,
        }
    }

    pub fn into_error(self) -> Error {
        match self {
            Failed::Answer(answer) => answer.into_error(),
            Failed::Transport(error) => Error::transport(error),
            Failed::TimedOut(after) => Error::Timeout {
                request_id: None,
                after,
                cancelled: false,
            },
            Failed::Final(error) => error,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Failed::Answer(answer) => Some(answer.status.as_u16()),
            _ => None,
        }
    }
}

/// Whether a body stopped being read because it grew past the bound of the
/// generated client's hooks (`CallSettings::max_answer_bytes`).
fn grew_too_large(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if error.is::<fal_kontext_api::AnswerTooLarge>() {
            return true;
        }
        source = error.source();
    }
    false
}

fn too_large(what: &'static str) -> Error {
    Error::TooLarge {
        what,
        limit: MAX_ANSWER_BYTES,
        context: ErrorContext::default(),
    }
}

/// Whether a failed attempt may be made again.
fn may_retry_answer(call: Call, answer: &Answer) -> bool {
    if answer.is_user_timeout() {
        return false;
    }
    let status = answer.status.as_u16();
    match call {
        // A submit is repeated only where fal provably did not receive it: a
        // 429 is refused before the app, and an ingress page passed nothing
        // on. A 500 or any other 5xx that fal sent may have created the job.
        Call::Submit => status == 429 || answer.is_ingress_page(),
        // Idempotent calls to fal's API: a 500 from fal's queue passes too.
        Call::Api => matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
        Call::Foreign => matches!(status, 408 | 429 | 502 | 503 | 504),
    }
}

fn may_retry_error(call: Call, error: &reqwest::Error) -> bool {
    match call {
        // Only a connection that never opened proves the submit was not sent.
        Call::Submit => error.is_connect(),
        // reqwest reports a body that broke while being read (a reset, fewer
        // bytes than promised) as a decode error; the SDK decodes JSON
        // itself, so here that kind only ever means a broken body.
        Call::Api | Call::Foreign => {
            error.is_connect()
                || error.is_timeout()
                || error.is_request()
                || error.is_body()
                || error.is_decode()
        }
    }
}

impl Client {
    /// `Authorization: Key …` for fal's API hosts, or why there is none.
    pub(crate) fn auth_header(&self) -> Result<reqwest::header::HeaderValue> {
        let key = self.settings().key.as_ref().ok_or(Error::MissingKey)?;
        key.header_value().ok_or(Error::Config {
            setting: "FAL_KEY",
            message: "the key holds characters an HTTP header cannot carry".into(),
        })
    }

    /// Makes attempts of one call until one succeeds or the retry rules of
    /// its kind say stop; each attempt within `limit` when given.
    pub(crate) async fn retrying<T, F, A>(
        &self,
        call: Call,
        limit: Option<Duration>,
        mut attempt: F,
    ) -> Result<T>
    where
        F: FnMut() -> A,
        A: Future<Output = std::result::Result<T, Failed>>,
    {
        let settings = self.settings();
        let mut delays = settings.retry.delays();
        loop {
            let outcome = match limit {
                Some(limit) => tokio::time::timeout(limit, attempt())
                    .await
                    .unwrap_or(Err(Failed::TimedOut(limit))),
                None => attempt().await,
            };
            let failed = match outcome {
                Ok(value) => return Ok(value),
                Err(failed) => failed,
            };
            if !failed.may_retry(call) {
                return Err(failed.into_error());
            }
            let Some(delay) = delays.next() else {
                return Err(failed.into_error());
            };
            let pause = match &failed {
                Failed::Answer(answer) => retry_after(&answer.headers)
                    .map_or(delay, |asked| asked.min(settings.retry.max_delay)),
                _ => delay,
            };
            tracing::debug!(?call, ?pause, status = failed.status(), "retrying");
            tokio::time::sleep(pause).await;
        }
    }

    /// A hand-written call (storage, the run host): sends the request built
    /// by `build` (called again for each attempt), with the key when `call`
    /// is not [`Call::Foreign`], and returns the body of a successful answer.
    pub(crate) async fn send(
        &self,
        call: Call,
        limit: Option<Duration>,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Bytes> {
        let auth = match call {
            Call::Submit | Call::Api => Some(self.auth_header()?),
            Call::Foreign => None,
        };
        let http = &self.settings().http;
        self.retrying(call, limit, || {
            let mut request = build(http);
            if let Some(auth) = &auth {
                request = request.header(reqwest::header::AUTHORIZATION, auth.clone());
            }
            async move {
                let response = request.send().await.map_err(Failed::Transport)?;
                if !response.status().is_success() {
                    return Err(Failed::Answer(Answer::read(response).await));
                }
                Ok(read_capped(response.bytes_stream()).await?)
            }
        })
        .await
    }
}

/// Decodes a successful body.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8], what: &'static str) -> Result<T> {
    serde_json::from_slice(body).map_err(|source| Error::Decode {
        what,
        body: excerpt(body),
        source,
        context: ErrorContext::default(),
    })
}

/// A streamed response when it is a 2xx (its body still unread); otherwise
/// the error its body stands for.
pub(crate) async fn successful(response: reqwest::Response) -> Result<reqwest::Response> {
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(Answer::read(response).await.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, content_type: &str, body: &str) -> Answer {
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::CONTENT_TYPE, content_type.parse().unwrap());
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: Bytes::from(body.to_string()),
        }
    }

    fn with(mut answer: Answer, header: &'static str, value: &str) -> Answer {
        answer.headers.insert(header, value.parse().unwrap());
        answer
    }

    const NGINX: &str = "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>";

    #[test]
    fn submit_is_retried_only_when_fal_never_saw_it() {
        let html = "text/html";
        let json = "application/json";
        assert!(may_retry_answer(Call::Submit, &answer(429, json, "{}")));
        for status in [502, 503, 504] {
            let page = answer(status, html, NGINX);
            assert!(may_retry_answer(Call::Submit, &page), "{status}");
            // the same page with fal's request id came through fal
            let from_fal = with(answer(status, html, NGINX), "x-fal-request-id", "r");
            assert!(!may_retry_answer(Call::Submit, &from_fal), "{status}");
            // fal's JSON without the header is no ingress page either
            assert!(!may_retry_answer(Call::Submit, &answer(status, json, "{}")));
        }
        assert!(!may_retry_answer(Call::Submit, &answer(500, json, "{}")));
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(
                may_retry_answer(Call::Api, &answer(status, json, "{}")),
                "{status}"
            );
        }
        assert!(!may_retry_answer(Call::Foreign, &answer(500, json, "{}")));
    }

    #[test]
    fn the_user_timeout_is_final_and_its_own_error() {
        let timed_out = || {
            with(
                answer(504, "application/json", r#"{"detail":"Request timed out"}"#),
                "x-fal-request-timeout-type",
                "user",
            )
        };
        for call in [Call::Submit, Call::Api, Call::Foreign] {
            assert!(!may_retry_answer(call, &timed_out()), "{call:?}");
        }
        let error = with(timed_out(), "x-fal-error-type", "request_timeout").into_error();
        assert!(
            matches!(&error, Error::RequestTimeout { detail, .. } if detail == "Request timed out"),
            "{error:?}"
        );
        assert_eq!(
            error.context().unwrap().error_type.as_deref(),
            Some("request_timeout")
        );
        // a 504 without the mark is the gateway's, and passes
        assert!(may_retry_answer(
            Call::Api,
            &answer(504, "text/html", NGINX)
        ));
    }

    #[test]
    fn answers_map_to_errors_with_what_fal_said() {
        let error = answer(
            422,
            "application/json",
            r#"{"detail":[{"loc":["body","seed"],"msg":"bad","type":"int_parsing"}]}"#,
        )
        .into_error();
        assert!(
            matches!(&error, Error::Validation { details, .. } if details[0].kind == "int_parsing"),
            "{error:?}"
        );
        let error = answer(401, "application/json", r#"{"detail":"No key"}"#).into_error();
        assert!(
            matches!(&error, Error::Authentication { status: 401, detail, .. } if detail == "No key"),
            "{error:?}"
        );
        assert!(matches!(
            answer(404, "text/plain", "gone").into_error(),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            answer(400, "text/plain", "x").into_error(),
            Error::Http { status: 400, .. }
        ));

        let mut failed = answer(
            503,
            "application/json",
            r#"{"detail":"no runner","error_type":"runner_scheduling_failure"}"#,
        );
        failed
            .headers
            .insert("x-fal-request-id", "req-1".parse().unwrap());
        failed
            .headers
            .insert("x-fal-error-type", "ignored".parse().unwrap());
        failed
            .headers
            .insert("x-fal-retryable", "true".parse().unwrap());
        let error = failed.into_error();
        let context = error.context().unwrap();
        assert_eq!(context.request_id.as_deref(), Some("req-1"));
        assert_eq!(
            context.error_type.as_deref(),
            Some("runner_scheduling_failure"),
            "the body's error_type comes first"
        );
        assert_eq!(context.retryable, Some(true));
        assert!(matches!(error, Error::Server { status: 503, .. }));
        assert!(
            error
                .to_string()
                .ends_with(" (request req-1, error_type runner_scheduling_failure, retryable)"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn bodies_are_read_up_to_the_limit() {
        let mib = |n: u64| {
            futures::stream::iter(
                (0..n).map(|_| Ok::<_, std::convert::Infallible>(Bytes::from(vec![b'x'; 1 << 20]))),
            )
        };
        let limit = MAX_ANSWER_BYTES >> 20;
        let whole = read_capped(mib(limit)).await;
        assert_eq!(whole.ok().map(|b| b.len() as u64), Some(MAX_ANSWER_BYTES));
        assert!(matches!(
            read_capped(mib(limit + 1)).await,
            Err(Cut::TooLarge)
        ));
    }
}
