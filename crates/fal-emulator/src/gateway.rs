//! The edge every request passes before its origin's handler: classify it
//! into a [`Route`], record and count it, catch a key sent where it must not
//! go, inject a fault, and check the key.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::answers::detail;
use crate::faults::{Route, spoil};
use crate::state::Shared;
use crate::stats::bump;

/// The largest request body taken (inputs with data URIs, uploads).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Which of the four origins a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Queue,
    Run,
    Rest,
    Cdn,
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
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
    };
    shared.recorder.record(route, &parts, &body, &shared.key);
    shared.counters.count_route(route);
    if edge.origin == Origin::Cdn && carries_key(&parts.headers, &shared.key) {
        bump(&shared.counters.key_leaks);
        tracing::warn!(
            path = parts.uri.path(),
            "a request to the CDN carried the API key"
        );
    }

    let fault = shared.faults.lock().expect("fault lock").pick(route);
    if let Some(fault) = &fault {
        bump(&shared.counters.faults_injected);
        if let Some(response) = fault.short_circuit() {
            return response;
        }
    }
    if needs_key(edge.origin, route)
        && let Err(message) = check_key(&parts.headers, &shared.key)
    {
        bump(&shared.counters.unauthorized);
        return unauthorized(message);
    }

    let mut request = Request::from_parts(parts, Body::from(body));
    request.extensions_mut().insert(route);
    let response = next.run(request).await;
    match fault {
        Some(fault) => spoil(&fault, response).await,
        None => response,
    }
}

/// The route of a request, from its origin, method and path.
pub(crate) fn classify(origin: Origin, method: &Method, path: &str) -> Route {
    match origin {
        Origin::Queue => {
            if path == "/api/openapi/queue/openapi.json" && method == Method::GET {
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
        Origin::Rest
            if method == Method::POST
                && matches!(path, "/storage/upload/initiate" | "/storage/auth/token") =>
        {
            Route::UploadInitiate
        }
        Origin::Cdn => match (method, path) {
            (&Method::PUT, path) if path.starts_with("/uploads/") => Route::UploadPut,
            (&Method::POST, "/files/upload") => Route::UploadPut,
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
