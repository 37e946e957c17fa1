//! What the generated clients run around every request, as ordinary
//! source (progenitor is told to expect it, `HooksMode::Expected`; regen
//! emits only the generated code): the [`CallSettings`] every request of a
//! client carries (progenitor's "inner" value), and the hooks of both
//! generated clients, the queue's [`Client`](crate::Client) and the Platform
//! APIs' [`platform::Client`](crate::platform::Client).
//!
//! Progenitor's settings can give pre and post hooks as closures, but not
//! `exec`, the step that receives the answer; the answer-size bound and the
//! idle bound between body bytes must wrap the body there, before
//! progenitor reads it whole (the rules of a call are the SDK's, in its
//! `retry` module; these are the means).

use progenitor_client::{ClientHooks, ClientInfo, Error, OperationInfo};

/// What every request of a [`Client`](crate::Client) carries besides its operation's
/// arguments, where it goes and how much of an answer is read: the
/// value the generated hooks read (progenitor's "inner" value). The
/// default sends the requests as generated and reads answers whole.
///
/// ```
/// use fal_kontext_api::ClientInfo;
///
/// let settings = fal_kontext_api::CallSettings {
///     max_answer_bytes: Some(1 << 20),
///     ..Default::default()
/// };
/// let client = fal_kontext_api::Client::new_with_client(
///     "https://queue.fal.run",
///     reqwest::Client::new(),
///     settings,
/// );
/// assert_eq!(client.baseurl(), "https://queue.fal.run");
/// ```
#[derive(Clone, Debug, Default)]
pub struct CallSettings {
    /// Set on every request, replacing any of the same name: such as
    /// `Authorization: Key …`, on a client whose requests go to an
    /// origin that may have the key.
    pub headers: reqwest::header::HeaderMap,
    /// Where each request goes instead of the generated path (the
    /// generated query kept): a URL fal returned.
    pub url: std::option::Option<reqwest::Url>,
    /// The most bytes of an answer's body that are read. An answer
    /// that declares a longer `Content-Length` is refused before its
    /// body is read (`Error::Custom`); one that grows past it while
    /// being read (chunked, no length declared) fails with
    /// `Error::ResponseBodyError`, whose source chain holds an
    /// [`AnswerTooLarge`]. `None`: no bound (a status stream, read a
    /// piece at a time).
    pub max_answer_bytes: std::option::Option<u64>,
    /// The longest silence between two pieces of an answer's body:
    /// one that sends nothing for longer fails with
    /// `Error::ResponseBodyError` (or, for an error answer, a
    /// shorter body), whose source chain holds an [`AnswerStalled`].
    /// `None`: no bound.
    pub body_idle: std::option::Option<std::time::Duration>,
    /// The status and headers of the latest answer, recorded as soon
    /// as they arrive, before the body is read; emptied when a
    /// request is sent. A caller whose call failed after the answer
    /// began (its body cut, slow or undecodable) can still read what
    /// fal said, such as the `x-fal-request-id` of a submit.
    pub answered: AnswerHead,
}

/// The status and headers of an answer, shared by the clones of a
/// [`CallSettings`] (see [`CallSettings::answered`]).
#[derive(Clone, Debug, Default)]
pub struct AnswerHead(
    std::sync::Arc<
        std::sync::Mutex<std::option::Option<(reqwest::StatusCode, reqwest::header::HeaderMap)>>,
    >,
);

impl AnswerHead {
    /// The status and headers of the latest answer, if one began
    /// since the last request was sent.
    ///
    /// ```
    /// let head = fal_kontext_api::AnswerHead::default();
    /// assert!(head.get().is_none());
    /// ```
    pub fn get(&self) -> std::option::Option<(reqwest::StatusCode, reqwest::header::HeaderMap)> {
        self.0.lock().map_or(None, |head| head.clone())
    }

    fn set(&self, head: std::option::Option<(reqwest::StatusCode, reqwest::header::HeaderMap)>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = head;
        }
    }
}

/// Why an answer's body stopped being read: it grew past
/// [`CallSettings::max_answer_bytes`].
pub type AnswerTooLarge = http_body_util::LengthLimitError;

/// Why an answer's body stopped being read: nothing of it came for
/// [`CallSettings::body_idle`].
///
/// ```
/// let stalled = fal_kontext_api::AnswerStalled(std::time::Duration::from_secs(30));
/// assert_eq!(stalled.to_string(), "no byte of the answer came for 30s");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnswerStalled(pub std::time::Duration);

impl std::fmt::Display for AnswerStalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no byte of the answer came for {:?}", self.0)
    }
}

impl std::error::Error for AnswerStalled {}

/// `body`, failing with [`AnswerStalled`] when nothing of it comes for
/// `idle`.
fn until_stalled(body: reqwest::Body, idle: std::time::Duration) -> reqwest::Body {
    use futures::StreamExt as _;
    let pieces = http_body_util::BodyExt::into_data_stream(body);
    let bounded = futures::stream::unfold(Some(pieces), move |pieces| async move {
        let mut pieces = pieces?;
        match tokio::time::timeout(idle, pieces.next()).await {
            Ok(Some(Ok(piece))) => Some((Ok(piece), Some(pieces))),
            Ok(Some(Err(error))) => Some((
                Err(std::boxed::Box::new(error)
                    as std::boxed::Box<dyn std::error::Error + Send + Sync>),
                None,
            )),
            Ok(None) => None,
            Err(_) => Some((Err(std::boxed::Box::new(AnswerStalled(idle)) as _), None)),
        }
    });
    reqwest::Body::wrap_stream(bounded)
}

/// Before a request is sent: drops progenitor's `api-version` header (fal's
/// API has none), applies the settings' headers and URL (the generated
/// query kept), and forgets the last answer.
fn before_sending(settings: &CallSettings, request: &mut reqwest::Request) {
    settings.answered.set(None);
    request.headers_mut().remove("api-version");
    for (name, value) in &settings.headers {
        request.headers_mut().insert(name.clone(), value.clone());
    }
    if let Some(url) = &settings.url {
        let query = [url.query(), request.url().query()]
            .into_iter()
            .flatten()
            .filter(|part| !part.is_empty())
            .collect::<std::vec::Vec<_>>()
            .join("&");
        let mut target = url.clone();
        target.set_query((!query.is_empty()).then_some(query.as_str()));
        *request.url_mut() = target;
    }
}

/// Sends the request; records the answer's status and headers (and both
/// ends on the caller's span, `crate::telemetry`), and bounds its body by
/// `max_answer_bytes` and `body_idle`.
async fn send(
    client: &reqwest::Client,
    settings: &CallSettings,
    request: reqwest::Request,
) -> reqwest::Result<reqwest::Response> {
    crate::telemetry::record_request(&request);
    let response = client.execute(request).await?;
    crate::telemetry::record_status(response.status());
    settings
        .answered
        .set(Some((response.status(), response.headers().clone())));
    let (max, idle) = (settings.max_answer_bytes, settings.body_idle);
    // A declared length over the bound is left for `refusal` to refuse:
    // the wrapped body would declare the bound instead.
    let declared_over = response
        .content_length()
        .zip(max)
        .is_some_and(|(declared, max)| declared > max);
    if declared_over || (max.is_none() && idle.is_none()) {
        return Ok(response);
    }
    // Through `http::Response` and back, the body wrapped; the URL is carried
    // over by hand (reqwest keeps it outside the parts).
    let url = response.url().clone();
    let (parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
    let body = match max {
        Some(max) => reqwest::Body::wrap(http_body_util::Limited::new(
            body,
            usize::try_from(max).unwrap_or(usize::MAX),
        )),
        None => body,
    };
    let body = match idle {
        Some(idle) => until_stalled(body, idle),
        None => body,
    };
    let mut bounded = reqwest::ResponseBuilderExt::url(http::Response::builder(), url)
        .body(())
        .unwrap_or_default();
    *bounded.status_mut() = parts.status;
    *bounded.version_mut() = parts.version;
    *bounded.headers_mut() = parts.headers;
    bounded.extensions_mut().extend(parts.extensions);
    Ok(reqwest::Response::from(bounded.map(|()| body)))
}

/// Why an answer is refused before its body is read: its declared length is
/// over `max_answer_bytes`.
fn refusal(settings: &CallSettings, result: &reqwest::Result<reqwest::Response>) -> Option<String> {
    let declared = result.as_ref().ok()?.content_length()?;
    let max = settings.max_answer_bytes?;
    (declared > max)
        .then(|| format!("the answer is {declared} bytes long, more than the {max} accepted"))
}

/// The same hooks for each generated client. (The trait's signature is
/// progenitor's, its error type theirs: clippy's size lint does not apply.)
macro_rules! hooks_of {
    ($($client:ty),+) => {$(
        #[allow(clippy::result_large_err)]
        impl ClientHooks<CallSettings> for $client {
            async fn pre<E>(
                &self,
                request: &mut reqwest::Request,
                _: &OperationInfo,
            ) -> Result<(), Error<E>> {
                before_sending(self.inner(), request);
                Ok(())
            }

            async fn exec(
                &self,
                request: reqwest::Request,
                _: &OperationInfo,
            ) -> reqwest::Result<reqwest::Response> {
                send(self.client(), self.inner(), request).await
            }

            async fn post<E>(
                &self,
                result: &reqwest::Result<reqwest::Response>,
                _: &OperationInfo,
            ) -> Result<(), Error<E>> {
                match refusal(self.inner(), result) {
                    Some(why) => Err(Error::Custom(why)),
                    None => Ok(()),
                }
            }
        }
    )+};
}

hooks_of!(crate::Client, crate::platform::Client);

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt as _;
    use http_body_util::BodyExt as _;

    use super::*;

    #[test]
    fn a_request_takes_the_settings_headers_and_url_with_its_own_query() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("authorization", "Key id:secret".parse().unwrap());
        let settings = CallSettings {
            headers,
            url: Some(
                "https://queue.fal.run/fal-ai/flux-pro/requests/r1/status?a=1"
                    .parse()
                    .unwrap(),
            ),
            ..CallSettings::default()
        };
        settings
            .answered
            .set(Some((reqwest::StatusCode::OK, Default::default())));
        let generated = "https://queue.fal.run/fal-ai/flux-pro/kontext/requests/r1/status?logs=1";
        let mut request = reqwest::Request::new(reqwest::Method::GET, generated.parse().unwrap());
        request
            .headers_mut()
            .insert("api-version", "1".parse().unwrap());
        request
            .headers_mut()
            .insert("authorization", "Key other".parse().unwrap());

        before_sending(&settings, &mut request);

        assert_eq!(
            request.url().as_str(),
            "https://queue.fal.run/fal-ai/flux-pro/requests/r1/status?a=1&logs=1"
        );
        assert_eq!(request.headers()["authorization"], "Key id:secret");
        assert!(request.headers().get("api-version").is_none());
        assert!(
            settings.answered.get().is_none(),
            "the last answer forgotten"
        );
    }

    #[test]
    fn an_answer_declaring_more_than_the_bound_is_refused() {
        let answer = |bytes: usize| {
            Ok(reqwest::Response::from(
                http::Response::builder()
                    .body(reqwest::Body::from(vec![b' '; bytes]))
                    .unwrap(),
            ))
        };
        let bounded = CallSettings {
            max_answer_bytes: Some(10),
            ..CallSettings::default()
        };
        assert_eq!(
            refusal(&bounded, &answer(11)).as_deref(),
            Some("the answer is 11 bytes long, more than the 10 accepted")
        );
        assert_eq!(refusal(&bounded, &answer(10)), None);
        assert_eq!(refusal(&CallSettings::default(), &answer(11)), None);
    }

    #[tokio::test]
    async fn a_body_that_stops_coming_ends_with_answer_stalled() {
        let first = futures::stream::iter([Ok::<_, std::io::Error>(b"head".to_vec())]);
        let silent = first.chain(futures::stream::pending());
        let body = until_stalled(
            reqwest::Body::wrap_stream(silent),
            Duration::from_millis(50),
        );
        let error = body.collect().await.unwrap_err();
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        let mut stalled = None;
        while let Some(error) = source {
            stalled = stalled.or(error.downcast_ref::<AnswerStalled>().copied());
            source = error.source();
        }
        assert_eq!(stalled, Some(AnswerStalled(Duration::from_millis(50))));
    }
}
