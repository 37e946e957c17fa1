//! The queue: submit, status, result, cancel (each a generated operation,
//! see [`crate::api`]), and the synchronous run.

use std::marker::PhantomData;
use std::time::SystemTime;

use fal_kontext_api::types::QueueStatus;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::Client;
use crate::api_clients::{Accept, App};
use crate::error::{Error, ErrorContext, Result};
use crate::http::decode;
use crate::request::{Input, Kind, Request};
use crate::retry::limits::Limits;
use crate::retry::{Call, Failed};
use crate::submitted::SubmitRecord;

/// A submitted request: its id and the URLs fal returned for it. `O` is the
/// endpoint's output type.
pub struct RequestHandle<O> {
    pub(crate) client: Client,
    endpoint: String,
    app: std::result::Result<App, String>,
    request_id: String,
    status_url: Option<String>,
    response_url: Option<String>,
    cancel_url: Option<String>,
    /// The most images its output may list: the `num_images` asked for
    /// when this client submitted it, else the family's most.
    max_images: usize,
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
        let span = self.job_span();
        let submitted = self.submit_in(&span).await;
        if let Err(error) = &submitted {
            crate::telemetry::finished(&span, Err(error));
        }
        submitted
    }

    /// The span of this request's job ([`crate::telemetry::job`]).
    pub(crate) fn job_span(&self) -> tracing::Span {
        let kind = std::any::type_name::<K>().rsplit("::").next();
        crate::telemetry::job(self.endpoint(), kind)
    }

    /// [`submit`](Self::submit), as a part of the job of `span`: records
    /// the request id there once fal gave it.
    pub(crate) async fn submit_in(self, span: &tracing::Span) -> Result<RequestHandle<K::Output>> {
        let submitted = self.submit_unspanned().instrument(span.clone()).await;
        if let Ok(handle) = &submitted {
            crate::telemetry::request_id(span, handle.request_id());
        }
        submitted
    }

    async fn submit_unspanned(self) -> Result<RequestHandle<K::Output>> {
        let input = self.body().await?;
        let extra = crate::request::queue_options::extra_headers(&self.queue)?;
        let api = self.client.queue_api_with(None, Accept::Json, extra)?;
        let (api, input, queue) = (&api, &input, &self.queue);
        let endpoint = self.endpoint();
        let settings = self.client.settings();
        let idle = settings.body_idle_timeout;
        let requested = self.fields.num_images.map_or(1, usize::from);
        let started = SystemTime::now();
        let sent = self
            .client
            .retrying(
                Call::Submit { endpoint },
                "submit",
                settings.call_timeout,
                move || async move {
                    let sent = crate::api_clients::submit(api, input, queue).await;
                    Failed::answer(sent, "the submit answer", idle).await
                },
            )
            .await
            .map_err(|error| error.with_submitted(|| submit_record(endpoint, input, started)));
        // A 2xx whose head named the job (`x-fal-request-id`) means fal took
        // it, whatever became of the body: the job is followed by that id
        // rather than lost to an error (and never submitted again).
        let named = |why: &dyn std::fmt::Display| {
            let id = accepted_request_id(api)?;
            tracing::warn!(%why, request_id = id, "the submit's answer was lost after it named the job: following it");
            Some(self.client.request_handle(endpoint, &id).asking(requested))
        };
        let status = match sent {
            Ok(status) => status,
            Err(error) => return named(&error).ok_or(error),
        };
        // A status answer may leave its request id out; a submit answer
        // cannot: without it the job could never be found again.
        let Some(request_id) = status.request_id.clone() else {
            return named(&"no request_id in the body").ok_or_else(|| Error::Decode {
                what: "the submit answer",
                body: serde_json::to_string(&status).unwrap_or_default(),
                source: serde::de::Error::missing_field("request_id"),
                context: ErrorContext::default(),
            });
        };
        tracing::debug!(%request_id, endpoint = self.endpoint(), "submitted");
        Ok(
            RequestHandle::from_status(&self.client, self.endpoint(), &request_id, status)
                .asking(requested),
        )
    }

    /// Runs the request on fal's synchronous host (`FAL_RUN_URL`) and returns
    /// its output: one call, no queue, no progress. (The run host is not part
    /// of fal's queue documents: this call is the SDK's own, with the same
    /// typed input as a submit.)
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let output = client.edit("Make it night", "https://example.com/day.png").run_sync().await?;
    /// # Ok(()) }
    /// ```
    pub async fn run_sync(self) -> Result<K::Output> {
        let span = self.job_span();
        let output = self.run_sync_unspanned().instrument(span.clone()).await;
        crate::telemetry::finished(&span, output.as_ref().map(|_| None));
        output
    }

    async fn run_sync_unspanned(self) -> Result<K::Output> {
        let input = self.body().await?;
        let url = format!("{}/{}", self.client.settings().run_url, self.endpoint());
        let deadline = self
            .queue
            .wait_timeout
            .unwrap_or(self.client.settings().wait_timeout);
        let q = &self.queue;
        // The run host takes a submit's headers (@fal-ai/client 1.10.1,
        // `client.js`, `run`: the lifecycle and timeout headers), and the
        // caller's extra headers (none of them one the SDK sets).
        let extra = crate::request::queue_options::extra_headers(q)?;
        let options = crate::request::queue_options::Wire::of(q).headers();
        // The run host answers when the job is done: the head may take the
        // whole deadline, and a gateway's 504 after a long run is ambiguous,
        // never repeated (the retry rules of a submit).
        let started = SystemTime::now();
        let limits = Limits {
            first_byte: deadline,
            idle: self.client.settings().body_idle_timeout,
            total: deadline,
        };
        let body = self
            .client
            .send(
                Call::Submit {
                    endpoint: self.endpoint(),
                },
                "run",
                limits,
                |http| {
                    let mut request = http.post(&url).headers(extra.clone()).json(&input);
                    if let Some(timeout) = q.request_timeout {
                        request = request
                            .header("x-fal-request-timeout", timeout.as_secs_f64().to_string());
                    }
                    if let Some(priority) = q.priority {
                        request = request.header("x-fal-queue-priority", priority.as_str());
                    }
                    if let Some(hint) = &q.runner_hint {
                        request = request.header("x-fal-runner-hint", hint);
                    }
                    for (name, value) in &options {
                        request = request.header(*name, value);
                    }
                    request
                },
            )
            .await
            .map_err(|error| {
                error.with_submitted(|| submit_record(self.endpoint(), &input, started))
            })?;
        decode(&body, "the output")
    }
}

/// What a submit sent to `endpoint`, for a search of fal's request history
/// should its answer be lost.
fn submit_record(endpoint: &str, input: &Input, started: SystemTime) -> Option<SubmitRecord> {
    let input = serde_json::to_value(input).ok()?;
    Some(SubmitRecord::new(endpoint, input, started))
}

impl Client {
    /// A handle to a request submitted earlier (by id), for `status`,
    /// `result` and `cancel`, which go to the app root on the configured
    /// queue URL (where fal answers the Kontext family). An endpoint that is
    /// not one of the family fails each of them with [`Error::InvalidInput`].
    ///
    /// ```
    /// use fal_kontext::{Client, EditOutput, endpoints};
    /// let client = Client::builder().key("id:secret").queue_url("http://127.0.0.1:9").build()?;
    /// let handle = client.request_handle::<EditOutput>(endpoints::FLUX_PRO_KONTEXT, "1234");
    /// assert_eq!(handle.request_id(), "1234");
    /// assert_eq!(handle.status_url(), None, "fal returned no URL for it");
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn request_handle<O>(&self, endpoint: &str, request_id: &str) -> RequestHandle<O> {
        RequestHandle {
            client: self.clone(),
            endpoint: endpoint.to_string(),
            app: crate::api_clients::app_of(endpoint).map_err(|error| error.to_string()),
            request_id: request_id.to_string(),
            status_url: None,
            response_url: None,
            cancel_url: None,
            max_images: crate::output::MAX_IMAGES,
            output: PhantomData,
        }
    }
}

impl<O> RequestHandle<O> {
    /// Keeps the URLs fal returned, to follow them (see [`Client::queue_api`]).
    fn from_status(client: &Client, endpoint: &str, request_id: &str, status: QueueStatus) -> Self {
        let mut handle = client.request_handle(endpoint, request_id);
        handle.status_url = status.status_url;
        handle.response_url = status.response_url;
        handle.cancel_url = status.cancel_url;
        handle
    }

    /// The same handle, for a request that asked for `images` images.
    fn asking(mut self, images: usize) -> Self {
        self.max_images = images;
        self
    }

    /// The same handle with another output type (`()` for a cancel sent from
    /// a task, which must not depend on `O`).
    pub(crate) fn retyped<P>(&self) -> RequestHandle<P> {
        RequestHandle {
            client: self.client.clone(),
            endpoint: self.endpoint.clone(),
            app: self.app.clone(),
            request_id: self.request_id.clone(),
            status_url: self.status_url.clone(),
            response_url: self.response_url.clone(),
            cancel_url: self.cancel_url.clone(),
            max_images: self.max_images,
            output: PhantomData,
        }
    }

    /// The app whose operations serve the request.
    pub(crate) fn app(&self) -> Result<App> {
        self.app.clone().map_err(|rule| Error::InvalidInput {
            field: "endpoint",
            value: self.endpoint.clone(),
            rule,
        })
    }

    /// The generated client for a call about this request: `returned` is the
    /// URL fal returned for it, if any.
    pub(crate) fn api(
        &self,
        returned: Option<&String>,
        accept: Accept,
    ) -> Result<(fal_kontext_api::Client, App)> {
        Ok((
            self.client
                .queue_api(returned.map(String::as_str), accept)?,
            self.app()?,
        ))
    }

    /// `error`, concerning this request.
    pub(crate) fn concerning(&self, error: Error) -> Error {
        error.for_request(&self.request_id)
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
    /// The URL fal returned for its status, when it returned one (status
    /// calls follow it when it is on the configured queue origin).
    ///
    /// ```no_run
    /// # async fn demo(handle: fal_kontext::RequestHandle<fal_kontext::EditOutput>) {
    /// if let Some(url) = handle.status_url() {
    ///     println!("status at {url}");
    /// }
    /// # }
    /// ```
    pub fn status_url(&self) -> Option<&str> {
        self.status_url.as_deref()
    }
    /// The URL fal returned for its result, when it returned one.
    ///
    /// ```no_run
    /// # async fn demo(handle: fal_kontext::RequestHandle<fal_kontext::EditOutput>) {
    /// if let Some(url) = handle.response_url() {
    ///     println!("result at {url}");
    /// }
    /// # }
    /// ```
    pub fn response_url(&self) -> Option<&str> {
        self.response_url.as_deref()
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
        let idle = self.client.settings().body_idle_timeout;
        self.call(
            "status",
            self.status_url.as_ref(),
            |api, app, id| async move {
                let sent = fal_kontext_api::per_app!(app, api, status, |op| op
                    .request_id(&id)
                    .logs(i64::from(logs))
                    .send()
                    .await);
                Failed::answer(sent, "the status", idle).await
            },
        )
        .await
    }

    /// Cancels the request; a request already completed is not an error.
    ///
    /// ```no_run
    /// # async fn demo(handle: fal_kontext::RequestHandle<fal_kontext::EditOutput>) -> fal_kontext::Result<()> {
    /// handle.cancel().await?;
    /// # Ok(()) }
    /// ```
    pub async fn cancel(&self) -> Result<CancelOutcome> {
        let idle = self.client.settings().body_idle_timeout;
        self.call(
            "cancel",
            self.cancel_url.as_ref(),
            |api, app, id| async move {
                let sent = fal_kontext_api::per_app!(app, api, cancel, |op| op
                    .request_id(&id)
                    .send()
                    .await);
                match sent {
                    // fal answers 400 ALREADY_COMPLETED for a request that ended
                    Err(fal_kontext_api::Error::ErrorResponse(answer))
                        if answer.status.as_deref() == Some("ALREADY_COMPLETED") =>
                    {
                        Ok(CancelOutcome::AlreadyCompleted)
                    }
                    Ok(_) => Ok(CancelOutcome::Requested),
                    Err(error) => Err(Failed::from_api(error, "the cancel answer", idle).await),
                }
            },
        )
        .await
    }

    /// One idempotent call about this request through a generated
    /// operation, retried by the rules of [`Call::Api`], each try within
    /// the call timeout and in a span named `operation`: `attempt` makes one try, given the generated client
    /// (following `returned`, the URL fal returned for the call), the app
    /// and the request id.
    async fn call<T, F, A>(
        &self,
        operation: &'static str,
        returned: Option<&String>,
        attempt: F,
    ) -> Result<T>
    where
        F: Fn(fal_kontext_api::Client, App, String) -> A,
        A: Future<Output = std::result::Result<T, Failed>>,
    {
        let (api, app) = self.api(returned, Accept::Json)?;
        self.client
            .retrying(
                Call::Api,
                operation,
                self.client.settings().call_timeout,
                || attempt(api.clone(), app, self.request_id.clone()),
            )
            .await
            .map_err(|error| self.concerning(error))
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
        Ok(self.billed_result().await?.0)
    }

    /// The output, and the billing units fal reported for the request
    /// (`x-fal-billable-units`,
    /// <https://fal.ai/docs/documentation/development/request-headers>),
    /// when it did.
    pub(crate) async fn billed_result(&self) -> Result<(O, Option<f64>)> {
        let idle = self.client.settings().body_idle_timeout;
        let (output, units) = self
            .call(
                "result",
                self.response_url.as_ref(),
                |api, app, id| async move {
                    let sent = fal_kontext_api::per_app!(app, api, result, |op| op
                        .request_id(&id)
                        .send()
                        .await);
                    let units = sent
                        .as_ref()
                        .ok()
                        .and_then(|answer| billable_units(answer.headers()));
                    Ok((Failed::answer(sent, "the output", idle).await?, units))
                },
            )
            .await?;
        // More images than asked for is no answer to this request: refused
        // before anything of it is used or downloaded.
        let listed = output
            .get("images")
            .and_then(serde_json::Value::as_array)
            .map_or(0, Vec::len);
        crate::output::check_image_count(listed, self.max_images)
            .map_err(|error| self.concerning(error))?;
        // At the app root the result operation answers any JSON; the
        // endpoint's own output type reads it.
        // Read in place: the value stays whole for the error's excerpt.
        let output = serde::Deserialize::deserialize(&output).map_err(|source| {
            self.concerning(Error::Decode {
                what: "the output",
                body: crate::error::excerpt(output.to_string().as_bytes()),
                source,
                context: ErrorContext::default(),
            })
        })?;
        Ok((output, units))
    }

    /// Turns a COMPLETED status that carries `error` into the error, reading
    /// the result call for fal's details (a 422 gives the `detail` list).
    pub(crate) async fn failure(&self, status: &QueueStatus) -> Option<Error> {
        let message = status.error.clone()?;
        Some(match self.result().await {
            // fal's own account of the failure, unless the call itself failed
            Err(
                error @ (Error::Validation { .. }
                | Error::RequestTimeout { .. }
                | Error::Http { .. }
                | Error::Server { .. }),
            ) if !crate::retry::survivable(&error) => error,
            _ => self.concerning(Error::RequestFailed {
                message,
                context: ErrorContext {
                    error_type: status.error_type.clone(),
                    ..ErrorContext::default()
                },
            }),
        })
    }
}

/// The request a submit's answer named in its headers (`x-fal-request-id`,
/// on a success) when its body did not arrive whole: cut, too slow for the
/// call's limits, too large or not JSON. fal had taken the job then (fal's
/// clients tell fal's own answers by that header: fal-client 1.0.3,
/// `_is_ingress_error`; @fal-ai/client 1.10.1 `response.js` reads the
/// request id from it), so the job is followed by that id.
fn accepted_request_id(api: &fal_kontext_api::Client) -> Option<String> {
    use fal_kontext_api::ClientInfo;
    let (status, headers) = api.inner().answered.get()?;
    let id = crate::retry::header_text(&headers, "x-fal-request-id")?;
    status.is_success().then_some(id)
}

/// fal's `x-fal-billable-units`: a number of billing units, zero or more
/// (anything else is no report; lenient in what is accepted).
fn billable_units(headers: &reqwest::header::HeaderMap) -> Option<f64> {
    crate::retry::header_text(headers, "x-fal-billable-units")?
        .parse::<f64>()
        .ok()
        .filter(|units| units.is_finite() && *units >= 0.0)
}
