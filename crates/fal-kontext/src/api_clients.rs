//! The generated clients (`fal_kontext_api::Client`, and
//! `fal_kontext_api::platform::Client` for prices and the request history)
//! as the SDK drives them:
//! every queue and Platform API call is one of their operations. This module
//! adds only what an operation cannot know: which client gets the key, which
//! URL a call goes to, and which app's or endpoint's operation serves a
//! request.

use fal_kontext_api as api;
use fal_kontext_api::types::QueueStatus;
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use url::Origin;

use crate::Client;
use crate::endpoints;
use crate::error::{Error, Result};
use crate::request::Input;
use crate::request::queue_options::QueueOptions;
use crate::request::queue_options::Wire;
use crate::retry::limits::MAX_ANSWER_BYTES;

/// The app whose queue answers a request's status, stream, result and
/// cancel (fal answers them at the app root, whatever the endpoint); its
/// operations are run with `fal_kontext_api::per_app!`.
pub(crate) use fal_kontext_api::endpoints::App;

/// The app of one of the family's endpoints; any other endpoint is refused,
/// naming the family's.
pub(crate) fn app_of(endpoint: &str) -> Result<App> {
    App::of(endpoint).ok_or_else(|| Error::InvalidInput {
        field: "endpoint",
        value: endpoint.to_string(),
        rule: format!(
            "must be an endpoint of the FLUX.1 Kontext family: {}",
            endpoints::ALL.join(", ")
        ),
    })
}

/// What a queue call sends besides what its operation sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Accept {
    /// JSON, as the operation asks.
    Json,
    /// The status stream's server-sent events (fal's JS client asks with
    /// `accept: text/event-stream`, `streaming.js`).
    EventStream,
}

impl Client {
    /// The generated client for one queue call: on the configured queue
    /// origin, with the key. `returned` is the URL fal returned for the call
    /// (`status_url`, …): fal's returned URLs are the authority on the path
    /// (some apps answer only at their full endpoint id:
    /// <https://docs.fal.ai/model-endpoints/queue>), so one on the configured origin is
    /// followed, with the key. One on any other origin is never sent the key
    /// nor followed: the generated path on the configured origin serves the
    /// call instead (the app root, where fal answers the Kontext family).
    pub(crate) fn queue_api(&self, returned: Option<&str>, accept: Accept) -> Result<api::Client> {
        self.queue_api_with(returned, accept, HeaderMap::new())
    }

    /// [`queue_api`](Self::queue_api) that also sends `extra`, the caller's
    /// extra headers of a submit (checked: none is one the SDK sets).
    pub(crate) fn queue_api_with(
        &self,
        returned: Option<&str>,
        accept: Accept,
        mut headers: HeaderMap,
    ) -> Result<api::Client> {
        let settings = self.settings();
        if accept == Accept::EventStream {
            headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        }
        let follow = returned.and_then(|url| on_origin(url, &settings.queue_origin));
        if let (Some(url), None) = (returned, &follow) {
            tracing::debug!(
                url,
                "a returned URL off the queue origin: the generated path is used, without following it"
            );
        }
        // A status stream is read an event at a time, each event bounded
        // (`sse::MAX_EVENT_BYTES`), its silences by the stream idle
        // timeout; it may run for minutes.
        let json = accept == Accept::Json;
        let max_answer_bytes = json.then_some(MAX_ANSWER_BYTES);
        let body_idle = json.then_some(settings.body_idle_timeout);
        Ok(api::Client::new_with_client(
            &settings.queue_url,
            settings.http.clone(),
            api::CallSettings {
                url: follow,
                ..self.keyed(headers, max_answer_bytes, body_idle)?
            },
        ))
    }

    /// The generated Platform APIs client, on the configured platform
    /// origin, with the key.
    pub(crate) fn platform_api(&self) -> Result<api::platform::Client> {
        self.platform_api_with(self.auth_header()?)
    }

    /// The generated Platform APIs client for an operation that needs fal's
    /// ADMIN scope: with the admin key when one is configured, else the key.
    pub(crate) fn platform_admin_api(&self) -> Result<api::platform::Client> {
        let auth = match &self.settings().admin_key {
            Some(key) => key.header_value().ok_or(Error::Config {
                setting: "FAL_ADMIN_KEY",
                message: "the key holds characters an HTTP header cannot carry".into(),
            })?,
            None => self.auth_header()?,
        };
        self.platform_api_with(auth)
    }

    /// The generated Platform APIs client, sending `auth`.
    fn platform_api_with(&self, auth: HeaderValue) -> Result<api::platform::Client> {
        let settings = self.settings();
        Ok(api::platform::Client::new_with_client(
            &settings.platform_url,
            settings.http.clone(),
            keyed_with(
                auth,
                HeaderMap::new(),
                Some(MAX_ANSWER_BYTES),
                Some(settings.body_idle_timeout),
            ),
        ))
    }

    /// The settings of a generated client on one of the configured API
    /// origins: `headers` and the key on every request, answers bounded by
    /// `max_answer_bytes` and their silences by `body_idle` (the limits of
    /// [`crate::retry`]).
    fn keyed(
        &self,
        headers: HeaderMap,
        max_answer_bytes: Option<u64>,
        body_idle: Option<std::time::Duration>,
    ) -> Result<api::CallSettings> {
        Ok(keyed_with(
            self.auth_header()?,
            headers,
            max_answer_bytes,
            body_idle,
        ))
    }
}

/// [`Client::keyed`] with the `Authorization` value `auth`.
fn keyed_with(
    auth: HeaderValue,
    mut headers: HeaderMap,
    max_answer_bytes: Option<u64>,
    body_idle: Option<std::time::Duration>,
) -> api::CallSettings {
    headers.insert(AUTHORIZATION, auth);
    api::CallSettings {
        headers,
        max_answer_bytes,
        body_idle,
        ..Default::default()
    }
}

/// `url` when it is on `origin` (scheme, host, port).
fn on_origin(url: &str, origin: &Origin) -> Option<Url> {
    let url = Url::parse(url).ok()?;
    (url.origin() == *origin).then_some(url)
}

/// Sets each option whose value is `Some` on a generated operation's builder.
macro_rules! options {
    ($op:expr, $($setter:ident = $value:expr),* $(,)?) => {{
        let mut op = $op;
        $(if let Some(value) = $value {
            op = op.$setter(value);
        })*
        op
    }};
}

/// Submits `input` through its endpoint's generated operation.
pub(crate) async fn submit(
    api: &api::Client,
    input: &Input,
    queue: &QueueOptions,
) -> std::result::Result<api::ResponseValue<QueueStatus>, api::Error> {
    let wire = Wire::of(queue);
    macro_rules! submit {
        ($op:expr, $input:expr) => {
            // Every queue option the document declares, passed on when set;
            // a header fal adds to its document is one more line here.
            options!(
                $op.body($input.clone()),
                fal_webhook = queue.webhook.clone(),
                x_fal_request_timeout = queue.request_timeout.map(|t| t.as_secs_f64()),
                x_fal_queue_priority = queue.priority.map(|p| p.as_str()),
                x_fal_runner_hint = queue.runner_hint.clone(),
                x_fal_object_lifecycle_preference = wire.lifecycle.clone(),
                x_fal_store_io = wire.store_io,
                x_fal_no_retry = wire.no_retry,
                fal_max_queue_length = wire.max_queue_length,
            )
            .send()
            .await
        };
    }
    fal_kontext_api::per_endpoint!(input, api, |op, input| submit!(op, input))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_urls_on_the_queue_origin_are_followed() {
        let base = Url::parse("https://queue.example.com/proxy/fal")
            .unwrap()
            .origin();
        for same in [
            "https://queue.example.com/fal-ai/flux-pro/kontext/requests/1/status",
            "https://queue.example.com:443/anywhere",
        ] {
            assert!(on_origin(same, &base).is_some(), "{same}");
        }
        for other in [
            "https://elsewhere.example.com/fal-ai/flux-pro/requests/1/status",
            "http://queue.example.com/fal-ai/flux-pro/requests/1/status",
            "https://queue.example.com:8443/fal-ai/flux-pro/requests/1/status",
            "not a url",
        ] {
            assert!(on_origin(other, &base).is_none(), "{other}");
        }
    }

    #[test]
    fn every_endpoint_has_its_app_and_others_are_refused() {
        for endpoint in endpoints::ALL {
            let app = app_of(endpoint).unwrap();
            assert_eq!(app.root(), endpoints::app(endpoint), "{endpoint}");
        }
        let error = app_of("fal-ai/flux/dev").unwrap_err().to_string();
        assert!(
            error.contains("fal-ai/flux-pro/kontext/max/multi"),
            "{error}"
        );
    }
}
