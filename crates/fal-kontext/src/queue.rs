//! The queue: submit, status, result, cancel, and the synchronous run.

use std::marker::PhantomData;

use fal_kontext_api::types::{CancelStatus, QueueStatus};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::Client;
use crate::endpoints;
use crate::error::{Error, Result};
use crate::http::Call;
use crate::requests::{Kind, Request};

/// A submitted request: its id and the URLs fal returned for it. `O` is the
/// endpoint's output type.
pub struct RequestHandle<O> {
    pub(crate) client: Client,
    endpoint: String,
    request_id: String,
    status_url: String,
    response_url: String,
    cancel_url: String,
    output: PhantomData<fn() -> O>,
}

impl<O> Clone for RequestHandle<O> {
    fn clone(&self) -> Self {
        self.retyped()
    }
}

impl<O> std::fmt::Debug for RequestHandle<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestHandle")
            .field("endpoint", &self.endpoint)
            .field("request_id", &self.request_id)
            .field("status_url", &self.status_url)
            .finish_non_exhaustive()
    }
}

/// What a cancel call achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// fal will stop the request (or never start it).
    Requested,
    /// Too late: the request had completed.
    AlreadyCompleted,
}

impl<K: Kind> Request<K> {
    fn queue_headers(&self) -> Vec<(&'static str, String)> {
        let q = &self.queue;
        let mut headers = Vec::new();
        if let Some(timeout) = q.request_timeout {
            headers.push(("x-fal-request-timeout", timeout.as_secs_f64().to_string()));
        }
        if let Some(priority) = q.priority {
            headers.push(("x-fal-queue-priority", priority.as_str().to_string()));
        }
        if let Some(hint) = &q.runner_hint {
            headers.push(("x-fal-runner-hint", hint.clone()));
        }
        headers
    }

    /// Submits the request to fal's queue and returns at once with its handle.
    /// Local images are checked, then inlined or uploaded, first.
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let handle = client.edit("Make it night", "https://example.com/day.png").submit().await?;
    /// println!("submitted {}", handle.request_id());
    /// # Ok(()) }
    /// ```
    pub async fn submit(self) -> Result<RequestHandle<K::Output>> {
        let body = self.body().await?;
        let settings = self.client.settings();
        let url = format!("{}/{}", settings.queue_url, self.endpoint());
        let webhook: Vec<(&str, &str)> = self
            .queue
            .webhook
            .iter()
            .map(|w| ("fal_webhook", w.as_str()))
            .collect();
        let headers = self.queue_headers();
        let timeout = settings.call_timeout;
        let answer = self
            .client
            .send(Call::Submit, |http| {
                let mut request = http.post(&url).query(&webhook).json(&body).timeout(timeout);
                for (name, value) in &headers {
                    request = request.header(*name, value);
                }
                request
            })
            .await?;
        let status: QueueStatus = answer.json("the submit answer")?;
        // A status answer may leave its request id out; a submit answer
        // cannot: without it the job could never be found again.
        let Some(request_id) = status.request_id.clone() else {
            return Err(Error::Decode {
                what: "the submit answer",
                body: serde_json::to_string(&status).unwrap_or_default(),
                source: serde::de::Error::missing_field("request_id"),
            });
        };
        tracing::debug!(%request_id, endpoint = self.endpoint(), "submitted");
        Ok(RequestHandle::from_status(
            &self.client,
            self.endpoint(),
            &request_id,
            status,
        ))
    }

    /// Runs the request on fal's synchronous host (`FAL_RUN_URL`) and returns
    /// its output: one call, no queue, no progress.
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let output = client.edit("Make it night", "https://example.com/day.png").run_sync().await?;
    /// # Ok(()) }
    /// ```
    pub async fn run_sync(self) -> Result<K::Output> {
        let body = self.body().await?;
        let url = format!("{}/{}", self.client.settings().run_url, self.endpoint());
        let deadline = self
            .queue
            .wait_timeout
            .unwrap_or(self.client.settings().wait_timeout);
        let headers = self.queue_headers();
        self.client
            .send(Call::Submit, |http| {
                let mut request = http.post(&url).json(&body).timeout(deadline);
                for (name, value) in &headers {
                    request = request.header(*name, value);
                }
                request
            })
            .await?
            .json("the output")
    }
}

impl Client {
    /// A handle to a request submitted earlier (by id), for `status`,
    /// `result` and `cancel`; the URLs are fal's app-root queue URLs.
    ///
    /// ```
    /// use fal_kontext::{Client, EditOutput, endpoints};
    /// let client = Client::builder().key("id:secret").queue_url("http://127.0.0.1:9").build()?;
    /// let handle = client.request_handle::<EditOutput>(endpoints::FLUX_PRO_KONTEXT, "1234");
    /// assert_eq!(handle.status_url(), "http://127.0.0.1:9/fal-ai/flux-pro/requests/1234/status");
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn request_handle<O>(&self, endpoint: &str, request_id: &str) -> RequestHandle<O> {
        let base = format!(
            "{}/{}/requests/{request_id}",
            self.settings().queue_url,
            endpoints::app(endpoint)
        );
        RequestHandle {
            client: self.clone(),
            endpoint: endpoint.to_string(),
            request_id: request_id.to_string(),
            status_url: format!("{base}/status"),
            cancel_url: format!("{base}/cancel"),
            response_url: base,
            output: PhantomData,
        }
    }
}

impl<O> RequestHandle<O> {
    /// Prefers the URLs fal returned; builds the app-root ones where it gave none.
    fn from_status(client: &Client, endpoint: &str, request_id: &str, status: QueueStatus) -> Self {
        let mut handle = client.request_handle(endpoint, request_id);
        if let Some(url) = status.status_url {
            handle.status_url = url;
        }
        if let Some(url) = status.response_url {
            handle.response_url = url;
        }
        if let Some(url) = status.cancel_url {
            handle.cancel_url = url;
        }
        handle
    }

    /// The same handle with another output type (`()` for a cancel sent from
    /// a task, which must not depend on `O`).
    pub(crate) fn retyped<P>(&self) -> RequestHandle<P> {
        RequestHandle {
            client: self.client.clone(),
            endpoint: self.endpoint.clone(),
            request_id: self.request_id.clone(),
            status_url: self.status_url.clone(),
            response_url: self.response_url.clone(),
            cancel_url: self.cancel_url.clone(),
            output: PhantomData,
        }
    }

    /// The request id fal gave.
    ///
    /// ```no_run
    /// # async fn demo(handle: fal_kontext::RequestHandle<fal_kontext::EditOutput>) {
    /// println!("fal knows this request as {}", handle.request_id());
    /// # }
    /// ```
    pub fn request_id(&self) -> &str {
        &self.request_id
    }
    /// The endpoint the request went to.
    ///
    /// ```no_run
    /// # async fn demo(handle: fal_kontext::RequestHandle<fal_kontext::EditOutput>) {
    /// assert_eq!(handle.endpoint(), "fal-ai/flux-pro/kontext");
    /// # }
    /// ```
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
    /// Where its status is read.
    ///
    /// ```no_run
    /// # async fn demo(handle: fal_kontext::RequestHandle<fal_kontext::EditOutput>) {
    /// println!("status at {}", handle.status_url());
    /// # }
    /// ```
    pub fn status_url(&self) -> &str {
        &self.status_url
    }
    /// Where its result is read.
    ///
    /// ```no_run
    /// # async fn demo(handle: fal_kontext::RequestHandle<fal_kontext::EditOutput>) {
    /// println!("result at {}", handle.response_url());
    /// # }
    /// ```
    pub fn response_url(&self) -> &str {
        &self.response_url
    }

    /// The request's status now, with its log lines when `logs` is true.
    ///
    /// ```no_run
    /// # async fn demo(handle: fal_kontext::RequestHandle<fal_kontext::EditOutput>) -> fal_kontext::Result<()> {
    /// let status = handle.status(true).await?;
    /// println!("{:?} at position {:?}", status.status, status.queue_position);
    /// # Ok(()) }
    /// ```
    pub async fn status(&self, logs: bool) -> Result<QueueStatus> {
        let query: &[(&str, &str)] = if logs { &[("logs", "1")] } else { &[] };
        let timeout = self.client.settings().call_timeout;
        self.client
            .send(Call::Api, |http| {
                http.get(&self.status_url).query(query).timeout(timeout)
            })
            .await?
            .json("the status")
    }

    /// Cancels the request; a request already completed is not an error.
    ///
    /// ```no_run
    /// # async fn demo(handle: fal_kontext::RequestHandle<fal_kontext::EditOutput>) -> fal_kontext::Result<()> {
    /// handle.cancel().await?;
    /// # Ok(()) }
    /// ```
    pub async fn cancel(&self) -> Result<CancelOutcome> {
        let timeout = self.client.settings().call_timeout;
        let answer = self
            .client
            .send(Call::Api, |http| {
                http.put(&self.cancel_url).timeout(timeout)
            })
            .await?;
        let said = serde_json::from_slice::<CancelStatus>(&answer.body)
            .ok()
            .and_then(|c| c.status);
        match (answer.status, said.as_deref()) {
            (StatusCode::BAD_REQUEST, Some("ALREADY_COMPLETED")) => {
                Ok(CancelOutcome::AlreadyCompleted)
            }
            (status, _) if status.is_success() => Ok(CancelOutcome::Requested),
            _ => Err(answer.into_error()),
        }
    }
}

impl<O: DeserializeOwned> RequestHandle<O> {
    /// The request's output, once it has completed. fal answers a request that
    /// failed validation with 422, which is [`Error::Validation`] with fal's details.
    ///
    /// ```no_run
    /// # async fn demo(handle: fal_kontext::RequestHandle<fal_kontext::EditOutput>) -> fal_kontext::Result<()> {
    /// let output = handle.result().await?;
    /// println!("{} images", output.images.len());
    /// # Ok(()) }
    /// ```
    pub async fn result(&self) -> Result<O> {
        let timeout = self.client.settings().call_timeout;
        self.client
            .send(Call::Api, |http| {
                http.get(&self.response_url).timeout(timeout)
            })
            .await?
            .json("the output")
    }

    /// Turns a COMPLETED status that carries `error` into the error, reading
    /// the result call for fal's details (a 422 gives the `detail` list).
    pub(crate) async fn failure(&self, status: &QueueStatus) -> Option<Error> {
        let message = status.error.clone()?;
        Some(match self.result().await {
            Err(error @ (Error::Validation { .. } | Error::Http { .. } | Error::Server { .. })) => {
                error
            }
            _ => Error::RequestFailed {
                message,
                error_type: status.error_type.clone(),
            },
        })
    }
}
