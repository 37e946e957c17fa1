//! Every HTTP call: the key on API hosts only, retries by call kind, and the
//! mapping of fal's answers to [`Error`].

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use serde::de::DeserializeOwned;

use crate::Client;
use crate::error::{Error, Result, ValidationDetail, excerpt};
use crate::retry::retry_after;

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

/// A complete answer: status, headers and the whole body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// Decodes a successful answer, or turns an unsuccessful one into its error.
    pub fn json<T: DeserializeOwned>(self, what: &'static str) -> Result<T> {
        let answer = self.ok()?;
        serde_json::from_slice(&answer.body).map_err(|source| Error::Decode {
            what,
            body: excerpt(&answer.body),
            source,
        })
    }

    /// The answer itself when it is a 2xx, else the matching error.
    pub fn ok(self) -> Result<Self> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(self.into_error())
        }
    }

    /// The error an unsuccessful answer stands for.
    pub fn into_error(self) -> Error {
        let status = self.status.as_u16();
        let detail = || detail_text(&self.body);
        match self.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::Authentication {
                status,
                detail: detail(),
            },
            StatusCode::NOT_FOUND => Error::NotFound { detail: detail() },
            StatusCode::UNPROCESSABLE_ENTITY => Error::Validation {
                details: validation_details(&self.body),
            },
            StatusCode::TOO_MANY_REQUESTS => Error::RateLimited {
                retry_after: retry_after(&self.headers),
            },
            s if s.is_server_error() => Error::Server {
                status,
                body: excerpt(&self.body),
            },
            _ => Error::Http {
                status,
                body: excerpt(&self.body),
            },
        }
    }

    fn is_json(&self) -> bool {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
    }
}

/// A streamed response when it is a 2xx (its body still unread); otherwise
/// the error its (whole) body stands for.
pub(crate) async fn successful(response: reqwest::Response) -> Result<reqwest::Response> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap_or_default();
    Err(Answer {
        status,
        headers,
        body,
    }
    .into_error())
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
        _ => excerpt(body),
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

/// Whether a failed attempt may be made again.
fn may_retry_answer(call: Call, answer: &Answer) -> bool {
    let status = answer.status.as_u16();
    match call {
        // 429 is refused before the app sees the request; a 503 that is not
        // fal's JSON comes from the ingress, which did not pass it on. A 500,
        // 502 or 504 may have created the job, so a submit stops there.
        Call::Submit => status == 429 || (status == 503 && !answer.is_json()),
        Call::Api | Call::Foreign => matches!(status, 408 | 429 | 502 | 503 | 504),
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

    /// Sends a request built by `build` (called again for each attempt) and
    /// reads the whole answer, retrying as the call kind allows. Returns the
    /// last answer whatever its status; transport failures are errors.
    pub(crate) async fn send(
        &self,
        call: Call,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer> {
        let settings = self.settings();
        let auth = match call {
            Call::Submit | Call::Api => Some(self.auth_header()?),
            Call::Foreign => None,
        };
        let mut delays = settings.retry.delays();
        loop {
            let mut request = build(&settings.http);
            if let Some(auth) = &auth {
                request = request.header(AUTHORIZATION, auth.clone());
            }
            let outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    response.bytes().await.map(|body| Answer {
                        status,
                        headers,
                        body,
                    })
                }
                Err(error) => Err(error),
            };
            let pause = match &outcome {
                Ok(answer) if may_retry_answer(call, answer) => {
                    let Some(delay) = delays.next() else {
                        return outcome.map_err(Error::Transport);
                    };
                    retry_after(&answer.headers)
                        .map_or(delay, |asked| asked.min(settings.retry.max_delay))
                }
                Err(error) if may_retry_error(call, error) => {
                    let Some(delay) = delays.next() else {
                        return outcome.map_err(Error::Transport);
                    };
                    delay
                }
                _ => return outcome.map_err(Error::Transport),
            };
            tracing::debug!(
                ?call,
                ?pause,
                status = outcome.as_ref().ok().map(|a| a.status.as_u16()),
                "retrying"
            );
            tokio::time::sleep(pause).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, content_type: &str, body: &str) -> Answer {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, content_type.parse().unwrap());
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn submit_is_retried_only_when_fal_never_saw_it() {
        let html = "text/html";
        let json = "application/json";
        assert!(may_retry_answer(Call::Submit, &answer(429, json, "{}")));
        assert!(may_retry_answer(
            Call::Submit,
            &answer(503, html, "<html>503</html>")
        ));
        assert!(!may_retry_answer(
            Call::Submit,
            &answer(503, json, r#"{"detail":"x"}"#)
        ));
        for status in [500, 502, 504] {
            assert!(
                !may_retry_answer(Call::Submit, &answer(status, html, "")),
                "{status}"
            );
            assert!(
                may_retry_answer(Call::Api, &answer(status, html, "")) == (status != 500),
                "{status}"
            );
        }
    }

    #[test]
    fn answers_map_to_errors() {
        let error = answer(
            422,
            "application/json",
            r#"{"detail":[{"loc":["body","seed"],"msg":"bad","type":"int_parsing"}]}"#,
        )
        .into_error();
        assert!(
            matches!(&error, Error::Validation { details } if details[0].kind == "int_parsing"),
            "{error:?}"
        );
        let error = answer(401, "application/json", r#"{"detail":"No key"}"#).into_error();
        assert!(
            matches!(&error, Error::Authentication { status: 401, detail } if detail == "No key"),
            "{error:?}"
        );
        assert!(matches!(
            answer(404, "text/plain", "gone").into_error(),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            answer(503, "text/html", "x").into_error(),
            Error::Server { status: 503, .. }
        ));
        assert!(matches!(
            answer(400, "text/plain", "x").into_error(),
            Error::Http { status: 400, .. }
        ));
    }
}
