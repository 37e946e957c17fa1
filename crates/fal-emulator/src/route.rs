//! Which kind of request a request is ([`Route`]), from the origin that
//! received it ([`Origin`]), its method and its path; and whether that kind
//! wants the key. Counting, recording, faults and the origins' handlers all
//! go by it.

use axum::http::Method;

use crate::catalog::endpoints;

/// A kind of request, as the emulator counts, records and faults them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Route {
    /// `POST {queue}/<endpoint-id>`.
    Submit,
    /// `GET {queue}/…/requests/{id}/status`.
    Status,
    /// `GET {queue}/…/requests/{id}/status/stream`.
    Stream,
    /// `GET {queue}/…/requests/{id}`.
    Result,
    /// `PUT {queue}/…/requests/{id}/cancel`.
    Cancel,
    /// `POST {run}/<endpoint-id>`.
    Run,
    /// `POST {rest}/storage/upload/initiate` (and `/storage/auth/token`,
    /// `/storage/upload/initiate-multipart`, `POST {cdn}/files/upload/multipart`).
    UploadInitiate,
    /// `PUT {cdn}/uploads/{token}` (and `POST {cdn}/files/upload`).
    UploadPut,
    /// A part of an upload in parts: `PUT {cdn}/uploads/{id}/{n}` (fal-js's
    /// dialect) or `PUT {cdn}/files/{key}/multipart/{id}/{n}` (fal_client's).
    /// [`Fault::ResetMidBody`](crate::Fault::ResetMidBody) here cuts the connection while the part's
    /// body is being sent.
    UploadPart,
    /// The end of an upload in parts: `POST {cdn}/uploads/{id}/complete` or
    /// `POST {cdn}/files/{key}/multipart/{id}/complete`.
    UploadComplete,
    /// `GET {cdn}/files/…`: result images and uploaded files.
    Cdn,
    /// In a [`FaultRule`](crate::FaultRule): every route. In a [`RecordedRequest`](crate::RecordedRequest):
    /// a request that matched no route (answered 404).
    Any,
    /// `GET {queue}/api/openapi/queue/openapi.json?endpoint_id=…` (an
    /// endpoint's document) and `GET {queue}/api-reference/platform-apis/openapi/v1.json`
    /// (the Platform APIs' document).
    OpenApi,
    /// `GET {rest}/.well-known/jwks.json`: the webhook signing keys.
    Jwks,
    /// `GET {rest}/v1/models/pricing?endpoint_id=…`: endpoint prices (fal's
    /// `https://api.fal.ai/v1/models/pricing`).
    Pricing,
    /// `POST {rest}/v1/models/pricing/estimate`: a cost estimate (fal's
    /// `https://api.fal.ai/v1/models/pricing/estimate`).
    Estimate,
    /// `GET {rest}/v1/models/requests/by-endpoint`: the request history (fal's
    /// `https://api.fal.ai/v1/models/requests/by-endpoint`).
    History,
    /// `DELETE {rest}/v1/models/requests/{id}/payloads`: a payload deletion.
    DeletePayloads,
    /// Only in a [`FaultRule`](crate::FaultRule): every queue call ([`Submit`](Route::Submit),
    /// [`Status`](Route::Status), [`Stream`](Route::Stream),
    /// [`Result`](Route::Result), [`Cancel`](Route::Cancel)); never recorded.
    Queue,
}

impl Route {
    /// Whether a rule for `self` applies to a request of `route`.
    pub(crate) fn covers(self, route: Route) -> bool {
        match self {
            Route::Any => true,
            Route::Queue => matches!(
                route,
                Route::Submit | Route::Status | Route::Stream | Route::Result | Route::Cancel
            ),
            _ => self == route,
        }
    }
}

/// Which of the origins a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Queue,
    Run,
    Rest,
    Cdn,
    /// Another host, named by [`Fault::ForeignUrls`](crate::Fault::ForeignUrls) answers: it serves the
    /// queue's status, stream, result and cancel calls without asking for a
    /// key, and counts every key it is sent. No fault applies to it.
    Foreign,
}

/// The route of a request, from its origin, method and path.
pub(crate) fn classify(origin: Origin, method: &Method, path: &str) -> Route {
    match origin {
        Origin::Queue | Origin::Foreign => {
            if matches!(
                path,
                "/api/openapi/queue/openapi.json" | endpoints::PLATFORM_DOCUMENT_PATH
            ) && method == Method::GET
            {
                return Route::OpenApi;
            }
            if let Some((_, rest)) = path.split_once("/requests/") {
                let mut segments = rest.split('/');
                let _id = segments.next();
                return match (method, segments.next(), segments.next(), segments.next()) {
                    (&Method::GET, None, _, _) => Route::Result,
                    (&Method::GET, Some("status"), None, _) => Route::Status,
                    (&Method::GET, Some("status"), Some("stream"), None) => Route::Stream,
                    (&Method::PUT, Some("cancel"), None, _) => Route::Cancel,
                    _ => Route::Any,
                };
            }
            if method == Method::POST {
                Route::Submit
            } else {
                Route::Any
            }
        }
        Origin::Run if method == Method::POST => Route::Run,
        Origin::Rest if method == Method::GET && path == "/.well-known/jwks.json" => Route::Jwks,
        Origin::Rest if method == Method::GET && path == "/v1/models/pricing" => Route::Pricing,
        Origin::Rest if method == Method::POST && path == "/v1/models/pricing/estimate" => {
            Route::Estimate
        }
        Origin::Rest if method == Method::GET && path == "/v1/models/requests/by-endpoint" => {
            Route::History
        }
        Origin::Rest
            if method == Method::DELETE
                && path
                    .strip_prefix("/v1/models/requests/")
                    .and_then(|rest| rest.strip_suffix("/payloads"))
                    .is_some_and(|id| !id.is_empty() && !id.contains('/')) =>
        {
            Route::DeletePayloads
        }
        Origin::Rest
            if method == Method::POST
                && matches!(
                    path,
                    "/storage/upload/initiate"
                        | "/storage/upload/initiate-multipart"
                        | "/storage/auth/token"
                ) =>
        {
            Route::UploadInitiate
        }
        Origin::Cdn => match (method, path) {
            (&Method::PUT, path) if path.starts_with("/uploads/") => {
                if path["/uploads/".len()..].contains('/') {
                    Route::UploadPart
                } else {
                    Route::UploadPut
                }
            }
            (&Method::POST, path)
                if path.ends_with("/complete")
                    && (path.starts_with("/uploads/") || path.contains("/multipart/")) =>
            {
                Route::UploadComplete
            }
            (&Method::PUT, path) if path.starts_with("/files/") && path.contains("/multipart/") => {
                Route::UploadPart
            }
            (&Method::POST, "/files/upload") => Route::UploadPut,
            (&Method::POST, "/files/upload/multipart") => Route::UploadInitiate,
            (&Method::GET | &Method::HEAD, path) if path.starts_with("/files/") => Route::Cdn,
            _ => Route::Any,
        },
        _ => Route::Any,
    }
}

/// The API origins want the key; the CDN, the public documents (OpenAPI,
/// webhook keys) and unmatched paths (404) do not.
pub(crate) fn needs_key(origin: Origin, route: Route) -> bool {
    origin != Origin::Cdn && !matches!(route, Route::OpenApi | Route::Jwks | Route::Any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_paths_classify_with_app_root_or_full_endpoint() {
        let get = Method::GET;
        for prefix in ["/fal-ai/flux-pro", "/fal-ai/flux-pro/kontext"] {
            assert_eq!(
                classify(Origin::Queue, &get, &format!("{prefix}/requests/x")),
                Route::Result
            );
            assert_eq!(
                classify(Origin::Queue, &get, &format!("{prefix}/requests/x/status")),
                Route::Status
            );
            assert_eq!(
                classify(
                    Origin::Queue,
                    &get,
                    &format!("{prefix}/requests/x/status/stream")
                ),
                Route::Stream
            );
            assert_eq!(
                classify(
                    Origin::Queue,
                    &Method::PUT,
                    &format!("{prefix}/requests/x/cancel")
                ),
                Route::Cancel
            );
        }
        assert_eq!(
            classify(Origin::Queue, &Method::POST, "/fal-ai/flux-pro/kontext"),
            Route::Submit
        );
        assert_eq!(
            classify(Origin::Cdn, &Method::PUT, "/uploads/abc"),
            Route::UploadPut
        );
        assert_eq!(classify(Origin::Cdn, &get, "/files/out/a.jpg"), Route::Cdn);
        assert_eq!(classify(Origin::Run, &get, "/x"), Route::Any);
    }

    #[test]
    fn platform_paths_classify_on_their_origins_only() {
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(
            classify(Origin::Rest, &get, "/v1/models/pricing"),
            Route::Pricing
        );
        assert_eq!(
            classify(Origin::Rest, &post, "/v1/models/pricing/estimate"),
            Route::Estimate
        );
        assert_eq!(
            classify(Origin::Rest, &post, "/v1/models/pricing"),
            Route::Any
        );
        assert_eq!(
            classify(Origin::Queue, &get, "/v1/models/pricing"),
            Route::Any
        );
        assert_eq!(
            classify(Origin::Queue, &get, endpoints::PLATFORM_DOCUMENT_PATH),
            Route::OpenApi
        );
        assert_eq!(
            classify(Origin::Rest, &get, "/v1/models/requests/by-endpoint"),
            Route::History
        );
        assert_eq!(
            classify(
                Origin::Rest,
                &Method::DELETE,
                "/v1/models/requests/abc/payloads"
            ),
            Route::DeletePayloads
        );
        for odd in [
            "/v1/models/requests//payloads",
            "/v1/models/requests/a/b/payloads",
        ] {
            assert_eq!(
                classify(Origin::Rest, &Method::DELETE, odd),
                Route::Any,
                "{odd}"
            );
        }
        assert!(needs_key(Origin::Rest, Route::DeletePayloads));
        assert!(needs_key(Origin::Rest, Route::Pricing));
        assert!(needs_key(Origin::Rest, Route::Estimate));
    }
}
