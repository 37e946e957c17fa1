//! The edge every request passes before its origin's handler: classify it
//! into a [`Route`], record and count it, catch a key sent where it must not
//! go, inject a fault, check the key, and give the app's answers their
//! `x-fal-request-id`. Every origin's router is built here ([`router`]), so
//! none can skip it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, middleware};

use crate::faults::rewrite::{self, Rewrite};
use crate::faults::{Fault, short_circuit, spoil};
use crate::net::server::Hangup;
use crate::replies::{detail, unauthorized, with_request_id};
use crate::route::{Origin, Route, classify, needs_key};
use crate::state::Shared;
use crate::state::stats::bump;

/// The largest request body taken (inputs with data URIs, uploads).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// What the edge of one listener knows: the emulator, and which origin it is.
#[derive(Clone)]
struct Edge {
    shared: Arc<Shared>,
    origin: Origin,
}

/// An origin's router: every request passes the edge ([`gateway`]), then
/// goes to `handle`, with the [`Route`] (and the [`Fault`], if one let the
/// request through) in its extensions.
pub(crate) fn router<H, T>(shared: Arc<Shared>, origin: Origin, handle: H) -> Router
where
    H: Handler<T, Arc<Shared>>,
    T: 'static,
{
    let edge = Edge {
        shared: shared.clone(),
        origin,
    };
    Router::new()
        .fallback(handle)
        .layer(middleware::from_fn_with_state(edge, gateway))
        .with_state(shared)
}

async fn gateway(State(edge): State<Edge>, request: Request, next: Next) -> Response {
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
    let response = match fault.as_ref().and_then(short_circuit) {
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
        // every connection carries one (see `net/server.rs`)
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
