//! The edge every request passes before its origin's handler: classify it
//! into a [`Route`], record and count it, catch a key sent where it must not
//! go, inject a fault, check the key, and give the app's answers their
//! `x-fal-request-id`.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::answers::{detail, with_request_id};
use crate::endpoints;
use crate::faults::{Fault, Route, spoil};
use crate::rewrite::{self, Rewrite};
use crate::server::Hangup;
use crate::state::Shared;
use crate::stats::bump;

/// The largest request body taken (inputs with data URIs, uploads).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Which of the origins a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Queue,
    Run,
    Rest,
    Cdn,
    /// Another host, named by [`Fault::ForeignUrls`] answers: it serves the
    /// queue's status, stream, result and cancel calls without asking for a
    /// key, and counts every key it is sent. No fault applies to it.
    Foreign,
}

#[derive(Clone)]
pub(crate) struct Edge {
    pub(crate) shared: Arc<Shared>,
    pub(crate) origin: Origin,
}

/// fal's 401.
pub(crate) fn unauthorized(message: &str) -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"detail": message}))).into_response()
}

pub(crate) async fn gateway(State(edge): State<Edge>, request: Request, next: Next) -> Response {
    let shared = &edge.shared;
    if edge.origin == Origin::Queue && request.uri().path() == "/__emulator/stats" {
        return Json(shared.counters.snapshot()).into_response();
    }
    let route = classify(edge.origin, request.method(), request.uri().path());
    let (parts, body) = request.into_parts();
    // An upload's body (hundreds of MB) goes on to its handler as it comes,
    // not read here: it is recorded without a body (only JSON ones are).
    let (body, upload_body) = if matches!(route, Route::UploadPut | Route::UploadPart) {
        (axum::body::Bytes::new(), Some(body))
    } else {
        let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
            return detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
        };
        (body, None)
    };
    let keys = [
        (shared.key.as_str(), "Key <redacted>"),
        (shared.admin_key.as_str(), "Key <redacted admin key>"),
    ];
    shared.recorder.record(route, &parts, &body, &keys);
    if edge.origin == Origin::Foreign {
        return foreign(
            shared,
            route,
            Request::from_parts(parts, Body::from(body)),
            next,
        )
        .await;
    }
    shared.counters.count_route(route);
    // a part is in flight from its arrival to its answer (or its hang-up)
    let _in_flight = (route == Route::UploadPart).then(|| shared.counters.part_started());
    if edge.origin == Origin::Cdn && shared.carries_a_key(&parts.headers) {
        bump(&shared.counters.key_leaks);
        tracing::warn!(
            path = parts.uri.path(),
            "a request to the CDN carried the API key"
        );
    }

    let fault = shared.faults.lock().expect("fault lock").pick(route);
    if fault.is_some() {
        bump(&shared.counters.faults_injected);
    }
    if let Some(Fault::NoAnswer) = fault {
        return std::future::pending().await;
    }
    let upload_body = match upload_body {
        Some(upload) if matches!(fault, Some(Fault::ResetMidBody)) => {
            return cut_upload(upload, parts.extensions.get::<Hangup>()).await;
        }
        other => other,
    };
    let response = match fault.as_ref().and_then(Fault::short_circuit) {
        Some(response) => {
            // read the refused body, as a server does before it answers, so
            // the client reads the answer rather than a broken pipe
            if let Some(upload) = upload_body {
                let mut body = upload.into_data_stream();
                while let Some(Ok(_)) = futures::StreamExt::next(&mut body).await {}
            }
            response
        }
        None => {
            let body = upload_body.unwrap_or_else(|| Body::from(body));
            app(
                shared,
                edge.origin,
                route,
                fault.as_ref(),
                parts,
                body,
                next,
            )
            .await
        }
    };
    // fal's gateway gives every answer that got past its ingress a request
    // id; an ingress page has none, which is how fal's clients tell the two
    // apart (fal-client 1.0.3, `_is_ingress_error`).
    let from_ingress = fault.as_ref().is_some_and(Fault::is_ingress);
    if matches!(edge.origin, Origin::Queue | Origin::Run)
        && !from_ingress
        && !response.headers().contains_key("x-fal-request-id")
    {
        return with_request_id(response, &uuid::Uuid::new_v4().to_string());
    }
    response
}

/// Past the edge: the key check, the origin's handler, and the fault that
/// spoils its answer.
async fn app(
    shared: &Shared,
    origin: Origin,
    route: Route,
    fault: Option<&Fault>,
    parts: axum::http::request::Parts,
    body: Body,
    next: Next,
) -> Response {
    // the admin key has every scope the key has (fal's ADMIN includes API)
    if needs_key(origin, route)
        && let Err(message) = check_key(&parts.headers, &shared.key)
            .or_else(|_| check_key(&parts.headers, &shared.admin_key))
    {
        bump(&shared.counters.unauthorized);
        return unauthorized(message);
    }
    let hangup = parts.extensions.get::<Hangup>().cloned();
    let mut request = Request::from_parts(parts, body);
    request.extensions_mut().insert(route);
    if let Some(fault) = fault {
        request.extensions_mut().insert(fault.clone());
    }
    let response = next.run(request).await;
    if let (Some(Fault::CutBeforeHeaders), Some(hangup)) = (fault, hangup) {
        return hangup.now().await;
    }
    match fault {
        Some(fault) => {
            let origins = (shared.urls.queue.as_str(), shared.foreign_url.as_str());
            spoil(fault, route, origins, response).await
        }
        None => response,
    }
}

/// [`Fault::ResetMidBody`] on an upload's body: the first piece of it is
/// read, then the connection is dropped, before any answer.
async fn cut_upload(body: Body, hangup: Option<&Hangup>) -> Response {
    let mut body = body.into_data_stream();
    let _first = futures::StreamExt::next(&mut body).await;
    match hangup {
        Some(hangup) => hangup.now().await,
        // every connection carries one (see `server.rs`)
        None => detail(StatusCode::BAD_REQUEST, "The body did not come whole"),
    }
}

/// The foreign origin: it counts what it is sent, wants no key, and serves
/// only the calls a returned URL leads to, with URLs to itself.
async fn foreign(shared: &Shared, route: Route, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    bump(&shared.counters.foreign_requests);
    if headers.contains_key(header::AUTHORIZATION) || shared.carries_a_key(headers) {
        bump(&shared.counters.foreign_authorizations);
        tracing::warn!(
            path = request.uri().path(),
            "a request to the foreign origin carried credentials"
        );
    }
    if shared.carries_a_key(headers) {
        bump(&shared.counters.key_leaks);
    }
    if !matches!(
        route,
        Route::Status | Route::Stream | Route::Result | Route::Cancel
    ) {
        return detail(StatusCode::NOT_FOUND, "Not Found");
    }
    request.extensions_mut().insert(route);
    let response = next.run(request).await;
    // Its answers keep pointing at itself, as a host of its own would.
    let origins = Rewrite::Origin {
        queue: shared.urls.queue.clone(),
        foreign: shared.foreign_url.clone(),
    };
    rewrite::answer(response, origins).await
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
fn needs_key(origin: Origin, route: Route) -> bool {
    origin != Origin::Cdn && !matches!(route, Route::OpenApi | Route::Jwks | Route::Any)
}

/// `Err` holds the 401's detail.
fn check_key(headers: &HeaderMap, key: &str) -> Result<(), &'static str> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err("Missing authorization header");
    };
    match value
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Key "))
    {
        Some(sent) if sent.trim() == key => Ok(()),
        Some(_) => Err("No user found for Key ID and Secret"),
        None => Err("Invalid authorization header: expected `Key <key>`"),
    }
}

impl Shared {
    /// Whether `headers` carry the key or the admin key.
    fn carries_a_key(&self, headers: &HeaderMap) -> bool {
        carries_key(headers, &self.key) || carries_key(headers, &self.admin_key)
    }
}

/// A `Key …` authorization, or the key itself in any header.
fn carries_key(headers: &HeaderMap, key: &str) -> bool {
    headers.iter().any(|(name, value)| {
        let value = String::from_utf8_lossy(value.as_bytes());
        (name == header::AUTHORIZATION && value.starts_with("Key "))
            || (!key.is_empty() && value.contains(key))
    })
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

    #[test]
    fn keys_are_caught_in_any_header() {
        let mut headers = HeaderMap::new();
        headers.insert("x-api", "secret".parse().expect("header"));
        assert!(carries_key(&headers, "secret"));
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Key other".parse().expect("header"));
        assert!(carries_key(&headers, "secret"));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            "Bearer cdn-token".parse().expect("header"),
        );
        assert!(!carries_key(&headers, "secret"));
    }
}
