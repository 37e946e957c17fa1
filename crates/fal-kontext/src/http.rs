//! Every HTTP call, generated or hand-written, as the SDK sends and reads
//! it: the mapping of what went wrong (progenitor's `Error`, reqwest's, an
//! unsuccessful answer) to [`Error`]. When a call is repeated and how long
//! it may take are [`crate::retry`]'s rules.

use bytes::Bytes;
use fal_kontext_api::ResponseValue;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Client;
use crate::error::{Error, ErrorContext, Result, ValidationDetail, excerpt};
use crate::platform_error;
use crate::retry::limits::{BodySent, Cut, Limits, MAX_ANSWER_BYTES, read_capped};
use crate::retry::{Call, Failed, is_user_timeout, retry_after};

/// A complete unsuccessful answer: status, headers and the (start of the) body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// Reads an unsuccessful answer; a body that does not come within
    /// `idle` (an error page that declares a length and sends nothing)
    /// counts as empty, as does one that broke or is too large.
    pub async fn read(response: reqwest::Response, idle: std::time::Duration) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let body =
            read_capped::<_, reqwest::Error>(response.bytes_stream(), MAX_ANSWER_BYTES, idle)
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
    /// `response.js`: `x-fal-request-id`;
    /// <https://docs.fal.ai/documentation/model-apis/request-errors>).
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
        if is_user_timeout(&self) {
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

impl From<Cut<reqwest::Error>> for Failed {
    fn from(cut: Cut<reqwest::Error>) -> Self {
        match cut {
            Cut::Broken(error) => Failed::Transport(error),
            Cut::TooLarge => Failed::Final(too_large("the answer")),
            Cut::Stalled(after) => Failed::TimedOut(after),
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

impl Failed {
    /// What progenitor's error of a generated operation stands for; `what`
    /// names the answer for a decode error.
    pub async fn from_api<E: Serialize>(
        error: fal_kontext_api::Error<E>,
        what: &'static str,
        idle: std::time::Duration,
    ) -> Self {
        use fal_kontext_api::Error as Api;
        match error {
            // a body that grew past the bound while being read
            Api::ResponseBodyError(error)
                if in_chain::<fal_kontext_api::AnswerTooLarge>(&error) =>
            {
                Failed::Final(too_large(what))
            }
            // a body that stopped coming (the hooks' idle bound)
            Api::ResponseBodyError(error) if in_chain::<fal_kontext_api::AnswerStalled>(&error) => {
                Failed::TimedOut(idle)
            }
            Api::CommunicationError(error)
            | Api::ResponseBodyError(error)
            | Api::InvalidUpgrade(error) => Failed::Transport(error),
            Api::UnexpectedResponse(response) => Failed::Answer(Answer::read(response, idle).await),
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
        idle: std::time::Duration,
    ) -> std::result::Result<T, Failed> {
        match sent {
            Ok(answer) => Ok(answer.into_inner()),
            Err(fal_kontext_api::Error::UnexpectedResponse(response))
                if response.status().is_success() =>
            {
                let body = read_capped(response.bytes_stream(), MAX_ANSWER_BYTES, idle).await?;
                serde_json::from_slice(&body).map_err(|source| {
                    Failed::Final(Error::Decode {
                        what,
                        body: excerpt(&body),
                        source,
                        context: ErrorContext::default(),
                    })
                })
            }
            Err(error) => Err(Failed::from_api(error, what, idle).await),
        }
    }
}

/// Whether a body stopped being read for a reason `R` of the generated
/// client's hooks: it grew past `CallSettings::max_answer_bytes`
/// (`AnswerTooLarge`), or went silent for `CallSettings::body_idle`
/// (`AnswerStalled`).
fn in_chain<R: std::error::Error + 'static>(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if error.is::<R>() {
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

impl Client {
    /// `Authorization: Key …` for fal's API hosts, or why there is none.
    pub(crate) fn auth_header(&self) -> Result<reqwest::header::HeaderValue> {
        let key = self.settings().key.as_ref().ok_or(Error::MissingKey)?;
        key.header_value().ok_or(Error::Config {
            setting: "FAL_KEY",
            message: "the key holds characters an HTTP header cannot carry".into(),
        })
    }

    /// A hand-written call (storage, the run host): sends the request built
    /// by `build` (called again for each attempt), with the key when `call`
    /// is not [`Call::Foreign`], and returns the body of a successful answer,
    /// each attempt within `limits`.
    pub(crate) async fn send(
        &self,
        call: Call,
        limits: Limits,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Bytes> {
        self.send_watched(call, limits, |http| (build(http), None))
            .await
    }

    /// [`send`](Self::send) for a request whose body takes long to go (an
    /// upload): `build` also gives the [`BodySent`] its body marks, and the
    /// answer's head is awaited within `limits.first_byte` of the body's end.
    pub(crate) async fn send_watched(
        &self,
        call: Call,
        limits: Limits,
        build: impl Fn(&reqwest::Client) -> (reqwest::RequestBuilder, Option<BodySent>),
    ) -> Result<Bytes> {
        let auth = match call {
            Call::Submit { .. } | Call::Api => Some(self.auth_header()?),
            Call::Foreign => None,
        };
        let http = &self.settings().http;
        self.retrying(call, limits.total, || {
            let (mut request, sent) = build(http);
            if let Some(auth) = &auth {
                request = request.header(reqwest::header::AUTHORIZATION, auth.clone());
            }
            async move {
                let response = self.head_after(request, limits, sent.as_ref()).await?;
                // a run whose answer's head named it was taken by fal: its
                // error names it, and it is never sent again
                let named = match call {
                    Call::Submit { .. } => header_text(response.headers(), "x-fal-request-id"),
                    Call::Api | Call::Foreign => None,
                };
                read_capped(response.bytes_stream(), MAX_ANSWER_BYTES, limits.idle)
                    .await
                    .map_err(|cut| match &named {
                        Some(id) => Failed::Final(Failed::from(cut).into_error().for_request(id)),
                        None => Failed::from(cut),
                    })
            }
        })
        .await
    }

    /// Sends `request` and waits for a successful answer's head (its body
    /// unread) within `limits.first_byte`; an unsuccessful answer is read
    /// (its body within `limits.idle`) as the failure.
    pub(crate) async fn head(
        &self,
        request: reqwest::RequestBuilder,
        limits: Limits,
    ) -> std::result::Result<reqwest::Response, Failed> {
        self.head_after(request, limits, None).await
    }

    /// [`head`](Self::head), the head's limit counting from the end of the
    /// body when `sent` watches it (see [`BodySent`]).
    async fn head_after(
        &self,
        request: reqwest::RequestBuilder,
        limits: Limits,
        sent: Option<&BodySent>,
    ) -> std::result::Result<reqwest::Response, Failed> {
        let timed_out = Failed::TimedOut(limits.first_byte);
        let response = match sent {
            None => tokio::time::timeout(limits.first_byte, request.send())
                .await
                .map_err(|_| timed_out)?,
            Some(sent) => tokio::select! {
                response = request.send() => response,
                () = sent.then(limits.first_byte) => return Err(timed_out),
            },
        }
        .map_err(Failed::Transport)?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(Failed::Answer(Answer::read(response, limits.idle).await))
        }
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

    #[test]
    fn the_user_timeout_is_final_and_its_own_error() {
        let timed_out = || {
            with(
                answer(504, "application/json", r#"{"detail":"Request timed out"}"#),
                "x-fal-request-timeout-type",
                "user",
            )
        };
        let error = with(timed_out(), "x-fal-error-type", "request_timeout").into_error();
        assert!(
            matches!(&error, Error::RequestTimeout { detail, .. } if detail == "Request timed out"),
            "{error:?}"
        );
        assert_eq!(
            error.context().unwrap().error_type.as_deref(),
            Some("request_timeout")
        );
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
}
