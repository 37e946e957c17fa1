//! The code the generated clients run around every request, emitted with
//! progenitor's output: the `CallSettings` they carry (progenitor's "inner
//! type"; defined once, with the queue client, at the crate root) and each
//! `Client`'s `ClientHooks` implementation (pre, exec and post).
//!
//! Progenitor's own settings can give pre and post hooks as closures, but
//! not `exec`, the step that receives the answer; the answer-size bound and
//! the idle bound between body bytes must wrap the body there, before
//! progenitor reads it whole (the SDK's rules of a call: its `retry`
//! module). So the whole
//! implementation is written here, once, and progenitor is told to expect it
//! (`HooksMode::Expected`).

use proc_macro2::TokenStream;
use quote::quote;

/// The type of the generated clients' `inner` value.
pub fn inner_type() -> TokenStream {
    quote! { crate::CallSettings }
}

/// `CallSettings`, `AnswerHead`, `AnswerTooLarge` and `AnswerStalled`, for
/// the crate root.
pub fn settings_items() -> TokenStream {
    quote! {
        /// What every request of a [`Client`] carries besides its operation's
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
            pub headers: ::reqwest::header::HeaderMap,
            /// Where each request goes instead of the generated path (the
            /// generated query kept): a URL fal returned.
            pub url: ::std::option::Option<::reqwest::Url>,
            /// The most bytes of an answer's body that are read. An answer
            /// that declares a longer `Content-Length` is refused before its
            /// body is read (`Error::Custom`); one that grows past it while
            /// being read (chunked, no length declared) fails with
            /// `Error::ResponseBodyError`, whose source chain holds an
            /// [`AnswerTooLarge`]. `None`: no bound (a status stream, read a
            /// piece at a time).
            pub max_answer_bytes: ::std::option::Option<u64>,
            /// The longest silence between two pieces of an answer's body:
            /// one that sends nothing for longer fails with
            /// `Error::ResponseBodyError` (or, for an error answer, a
            /// shorter body), whose source chain holds an [`AnswerStalled`].
            /// `None`: no bound.
            pub body_idle: ::std::option::Option<::std::time::Duration>,
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
            ::std::sync::Arc<
                ::std::sync::Mutex<
                    ::std::option::Option<(::reqwest::StatusCode, ::reqwest::header::HeaderMap)>,
                >,
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
            pub fn get(
                &self,
            ) -> ::std::option::Option<(::reqwest::StatusCode, ::reqwest::header::HeaderMap)> {
                self.0.lock().map_or(None, |head| head.clone())
            }

            fn set(
                &self,
                head: ::std::option::Option<(::reqwest::StatusCode, ::reqwest::header::HeaderMap)>,
            ) {
                if let Ok(mut slot) = self.0.lock() {
                    *slot = head;
                }
            }
        }

        /// Why an answer's body stopped being read: it grew past
        /// [`CallSettings::max_answer_bytes`].
        pub type AnswerTooLarge = ::http_body_util::LengthLimitError;

        /// Why an answer's body stopped being read: nothing of it came for
        /// [`CallSettings::body_idle`].
        ///
        /// ```
        /// let stalled = fal_kontext_api::AnswerStalled(std::time::Duration::from_secs(30));
        /// assert_eq!(stalled.to_string(), "no byte of the answer came for 30s");
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct AnswerStalled(pub ::std::time::Duration);

        impl ::std::fmt::Display for AnswerStalled {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "no byte of the answer came for {:?}", self.0)
            }
        }

        impl ::std::error::Error for AnswerStalled {}

        /// `body`, failing with [`AnswerStalled`] when nothing of it comes
        /// for `idle`.
        fn until_stalled(body: ::reqwest::Body, idle: ::std::time::Duration) -> ::reqwest::Body {
            use ::futures::StreamExt as _;
            let pieces = ::http_body_util::BodyExt::into_data_stream(body);
            let bounded = ::futures::stream::unfold(Some(pieces), move |pieces| async move {
                let mut pieces = pieces?;
                match ::tokio::time::timeout(idle, pieces.next()).await {
                    Ok(Some(Ok(piece))) => Some((Ok(piece), Some(pieces))),
                    Ok(Some(Err(error))) => Some((
                        Err(::std::boxed::Box::new(error)
                            as ::std::boxed::Box<dyn ::std::error::Error + Send + Sync>),
                        None,
                    )),
                    Ok(None) => None,
                    Err(_) => Some((Err(::std::boxed::Box::new(AnswerStalled(idle)) as _), None)),
                }
            });
            ::reqwest::Body::wrap_stream(bounded)
        }
    }
}

/// `impl ClientHooks<crate::CallSettings> for Client`, for each client.
pub fn client_hooks() -> TokenStream {
    quote! {
        impl ClientHooks<crate::CallSettings> for Client {
            /// Drops progenitor's `api-version` header (fal's API has none),
            /// applies the settings' headers and URL, and forgets the last
            /// answer.
            async fn pre<E>(
                &self,
                request: &mut ::reqwest::Request,
                _: &OperationInfo,
            ) -> ::std::result::Result<(), Error<E>> {
                let settings = &self.inner;
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
                        .collect::<::std::vec::Vec<_>>()
                        .join("&");
                    let mut target = url.clone();
                    target.set_query((!query.is_empty()).then_some(query.as_str()));
                    *request.url_mut() = target;
                }
                Ok(())
            }

            /// Sends the request; records the answer's status and headers
            /// (and both ends on the current span, see `crate::telemetry`),
            /// and bounds its body by `max_answer_bytes` and `body_idle`.
            async fn exec(
                &self,
                request: ::reqwest::Request,
                _: &OperationInfo,
            ) -> ::reqwest::Result<::reqwest::Response> {
                crate::telemetry::record_request(&request);
                let response = self.client.execute(request).await?;
                crate::telemetry::record_status(response.status());
                self.inner
                    .answered
                    .set(Some((response.status(), response.headers().clone())));
                let (max, idle) = (self.inner.max_answer_bytes, self.inner.body_idle);
                // A declared length over the bound is left for `post` to
                // refuse: the wrapped body would declare the bound instead.
                let declared_over = response
                    .content_length()
                    .zip(max)
                    .is_some_and(|(declared, max)| declared > max);
                if declared_over || (max.is_none() && idle.is_none()) {
                    return Ok(response);
                }
                // Through `http::Response` and back, the body wrapped; the
                // URL is carried over by hand (reqwest keeps it outside the
                // parts).
                let url = response.url().clone();
                let (parts, body) = ::http::Response::<::reqwest::Body>::from(response).into_parts();
                let body = match max {
                    Some(max) => ::reqwest::Body::wrap(::http_body_util::Limited::new(
                        body,
                        usize::try_from(max).unwrap_or(usize::MAX),
                    )),
                    None => body,
                };
                let body = match idle {
                    Some(idle) => crate::until_stalled(body, idle),
                    None => body,
                };
                let mut bounded = ::reqwest::ResponseBuilderExt::url(::http::Response::builder(), url)
                    .body(())
                    .unwrap_or_default();
                *bounded.status_mut() = parts.status;
                *bounded.version_mut() = parts.version;
                *bounded.headers_mut() = parts.headers;
                bounded.extensions_mut().extend(parts.extensions);
                Ok(::reqwest::Response::from(bounded.map(|()| body)))
            }

            /// Refuses an answer whose declared length is over
            /// `max_answer_bytes`, before its body is read.
            async fn post<E>(
                &self,
                result: &::reqwest::Result<::reqwest::Response>,
                _: &OperationInfo,
            ) -> ::std::result::Result<(), Error<E>> {
                let declared = result.as_ref().ok().and_then(::reqwest::Response::content_length);
                match (declared, self.inner.max_answer_bytes) {
                    (Some(declared), Some(max)) if declared > max => Err(Error::Custom(format!(
                        "the answer is {declared} bytes long, more than the {max} accepted"
                    ))),
                    _ => Ok(()),
                }
            }
        }
    }
}
