//! Every HTTP call, generated or hand-written, as the SDK sends and reads
//! it: the mapping of what went wrong (progenitor's `Error`, reqwest's, an
//! unsuccessful answer) to [`Error`]. When a call is repeated and how long
//! it may take are [`crate::retry`]'s rules.

use bytes::Bytes;
use fal_kontext_api::ResponseValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Client;
use crate::error::{Error, ErrorContext, Result, excerpt};
use crate::retry::limits::{BodySent, Cut, Limits, MAX_ANSWER_BYTES, read_capped};
use crate::retry::{Call, ErrorAnswer, Failed, header_text};

impl From<Cut<reqwest::Error>> for Failed {
    fn from(cut: Cut<reqwest::Error>) -> Self {
        match cut {
            Cut::Broken(error) => Failed::Transport(error),
            Cut::TooLarge => Failed::Final(too_large("the answer")),
            Cut::Stalled(after) => Failed::TimedOut(after),
        }
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
            Api::UnexpectedResponse(response) => {
                Failed::Answer(ErrorAnswer::read(response, idle).await)
            }
            // a declared error answer (cancel's 400) whose caller did not take it
            Api::ErrorResponse(answer) => Failed::Answer(ErrorAnswer {
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
    /// each attempt within `limits` (and in a span named `operation`).
    pub(crate) async fn send(
        &self,
        call: Call,
        operation: &'static str,
        limits: Limits,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Bytes> {
        self.send_watched(call, operation, limits, |http| (build(http), None))
            .await
    }

    /// [`send`](Self::send) for a request whose body takes long to go (an
    /// upload): `build` also gives the [`BodySent`] its body marks, and the
    /// answer's head is awaited within `limits.first_byte` of the body's end.
    pub(crate) async fn send_watched(
        &self,
        call: Call,
        operation: &'static str,
        limits: Limits,
        build: impl Fn(&reqwest::Client) -> (reqwest::RequestBuilder, Option<BodySent>),
    ) -> Result<Bytes> {
        let auth = match call {
            Call::Submit { .. } | Call::Api => Some(self.auth_header()?),
            Call::Foreign => None,
        };
        let http = &self.settings().http;
        self.retrying(call, operation, limits.total, || {
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
        let (http, request) = request.build_split();
        let request = request.map_err(Failed::Transport)?;
        fal_kontext_api::telemetry::record_request(&request);
        let timed_out = Failed::TimedOut(limits.first_byte);
        let response = match sent {
            None => tokio::time::timeout(limits.first_byte, http.execute(request))
                .await
                .map_err(|_| timed_out)?,
            Some(sent) => tokio::select! {
                response = http.execute(request) => response,
                () = sent.then(limits.first_byte) => return Err(timed_out),
            },
        }
        .map_err(Failed::Transport)?;
        fal_kontext_api::telemetry::record_status(response.status());
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(Failed::Answer(
                ErrorAnswer::read(response, limits.idle).await,
            ))
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
