//! The queue origin: submit, status (polled and streamed), result, cancel,
//! and the OpenAPI documents (each endpoint's, and the Platform APIs').

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::answers::{Logs, result_response, status_body, status_code};
use super::gateway;
use super::intake::{self, read_input, start_timeout, unknown_endpoint};
use crate::catalog::endpoints;
use crate::model::worker::{self, Submission};
use crate::replies::{detail, with_request_id};
use crate::route::{Origin, Route};
use crate::state::Shared;
use crate::state::jobs::{CancelAnswer, JobView, Phase};
use crate::state::stats::bump;

/// The queue's routes, served by the queue origin, and by the foreign
/// origin (whose edge lets only status, stream, result and cancel through).
pub(crate) fn router(shared: Arc<Shared>, origin: Origin) -> Router {
    gateway::router(shared, origin, handle)
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let route = request.extensions().get::<Route>().copied();
    let query: HashMap<String, String> = Query::try_from_uri(request.uri())
        .map(|Query(query)| query)
        .unwrap_or_default();
    match route {
        Some(Route::Submit) => submit(&shared, request, &query).await,
        Some(Route::OpenApi) => openapi(request.uri().path(), &query),
        Some(route @ (Route::Status | Route::Stream | Route::Result | Route::Cancel)) => {
            let Some(view) = lookup(&shared, request.uri().path()) else {
                return detail(StatusCode::NOT_FOUND, "Request not found");
            };
            let logs = query
                .get("logs")
                .is_some_and(|value| matches!(value.as_str(), "1" | "true" | "True"));
            match route {
                Route::Status => status(&shared, &view, logs),
                Route::Stream => stream(shared.clone(), &view, logs),
                Route::Result => result_response(&shared, &view),
                _ => cancel(&shared, &view),
            }
        }
        _ => detail(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn submit(
    shared: &Arc<Shared>,
    request: Request,
    query: &HashMap<String, String>,
) -> Response {
    let Some(endpoint) = endpoints::find(request.uri().path()) else {
        return unknown_endpoint(request.uri().path());
    };
    let timeout = start_timeout(&request);
    let store_io = intake::store_io(request.headers());
    let key = intake::key_of(request.headers());
    if let Some(refused) = queue_too_long(shared, &key, query) {
        return refused;
    }
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let input = read_input(endpoint, &body);
    if shared.eager_validation
        && let Err(details) = &input
    {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"detail": details})),
        )
            .into_response();
    }
    let (id, position) = worker::spawn(
        shared,
        Submission {
            endpoint,
            input,
            start_timeout: timeout,
            webhook: query.get("fal_webhook").cloned(),
            store_io,
            key,
        },
    );
    // The answer describes the job as it entered the queue, even if a free
    // slot has already started it.
    let view = JobView {
        id: id.clone(),
        endpoint,
        phase: Phase::Queued { position },
        logs: Vec::new(),
        inference_time: None,
    };
    with_request_id(
        Json(status_body(shared, &view, Logs::Omitted)).into_response(),
        &id,
    )
}

/// The 429 of a submit whose `fal_max_queue_length` the key's queue already
/// reaches: fal refuses a submit when the queue is longer than the caller
/// allows (<https://docs.fal.ai/documentation/model-apis/common-parameters>;
/// not verified against fal: whose queue counts, and the body, are this
/// emulator's choice: the key's queued jobs, and a `detail`). A value that is
/// not a whole number is ignored, as an unknown parameter is.
fn queue_too_long(shared: &Shared, key: &str, query: &HashMap<String, String>) -> Option<Response> {
    let allowed: usize = query.get("fal_max_queue_length")?.trim().parse().ok()?;
    let queued = shared.jobs.queued_of(key);
    (queued >= allowed).then(|| {
        detail(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Queue is full: {queued} request(s) queued, fal_max_queue_length is {allowed}"
            ),
        )
    })
}

/// The job a `…/requests/{id}/…` path names, under its app root or its full
/// endpoint id.
fn lookup(shared: &Shared, path: &str) -> Option<JobView> {
    let (prefix, rest) = path.split_once("/requests/")?;
    let id = rest.split('/').next().unwrap_or_default();
    let view = shared.jobs.view(id)?;
    let prefix = prefix.trim_matches('/');
    (prefix == view.endpoint.app_root || prefix == view.endpoint.id).then_some(view)
}

fn status(shared: &Shared, view: &JobView, logs: bool) -> Response {
    let logs = if logs { Logs::All } else { Logs::Omitted };
    let response = (status_code(view), Json(status_body(shared, view, logs))).into_response();
    with_request_id(response, &view.id)
}

fn cancel(shared: &Shared, view: &JobView) -> Response {
    let (code, status) = match shared.jobs.cancel(&view.id) {
        CancelAnswer::Requested { dequeued } => {
            if dequeued {
                bump(&shared.counters.jobs_cancelled);
            }
            (StatusCode::ACCEPTED, "CANCELLATION_REQUESTED")
        }
        CancelAnswer::AlreadyCompleted => (StatusCode::BAD_REQUEST, "ALREADY_COMPLETED"),
        CancelAnswer::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
    };
    with_request_id(
        (code, Json(json!({"status": status}))).into_response(),
        &view.id,
    )
}

/// Server-sent events: the status object once now, then once per change
/// (status, position, or new log lines when asked), closed after COMPLETED;
/// a keep-alive comment when nothing was sent for `keep_alive`, as fal does;
/// cut (the connection drops) when an outage begins. Each event or comment
/// is one body frame, which `CutStreamAfter` and the rewriting faults rely on.
fn stream(shared: Arc<Shared>, view: &JobView, logs: bool) -> Response {
    struct Cursor {
        changes: tokio::sync::watch::Receiver<u64>,
        outages: tokio::sync::watch::Receiver<u64>,
        shared: Arc<Shared>,
        id: String,
        last: Option<Value>,
        logs_sent: usize,
        sent_at: Instant,
        done: bool,
    }
    let cursor = Cursor {
        changes: shared.jobs.subscribe(),
        outages: shared.watch_outages(),
        shared,
        id: view.id.clone(),
        last: None,
        logs_sent: 0,
        sent_at: Instant::now(),
        done: false,
    };
    let events = futures::stream::unfold(cursor, move |mut cursor| async move {
        if cursor.done {
            return None;
        }
        loop {
            let view = cursor.shared.jobs.view(&cursor.id)?;
            let mut body = status_body(&cursor.shared, &view, Logs::Omitted);
            let fresh_logs = logs && view.logs.len() > cursor.logs_sent;
            if cursor.last.as_ref() != Some(&body) || fresh_logs {
                cursor.last = Some(body.clone());
                if logs {
                    body["logs"] = json!(view.logs.get(cursor.logs_sent..).unwrap_or_default());
                    cursor.logs_sent = view.logs.len();
                }
                cursor.done = view.is_finished();
                cursor.sent_at = Instant::now();
                let event = Bytes::from(format!("data: {body}\n\n"));
                return Some((Ok(event), cursor));
            }
            let keep_alive = cursor.sent_at + cursor.shared.keep_alive;
            tokio::select! {
                changed = cursor.changes.changed() => changed.ok()?,
                () = tokio::time::sleep_until(keep_alive) => {
                    cursor.sent_at = Instant::now();
                    return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), cursor));
                }
                _ = cursor.outages.changed() => {
                    cursor.done = true;
                    let cut = io::Error::new(io::ErrorKind::ConnectionReset, "fault injected: outage");
                    return Some((Err(cut), cursor));
                }
                () = cursor.shared.shutdown.cancelled() => return None,
            }
        }
    });
    let mut response = Response::new(Body::from_stream(events));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    with_request_id(response, &view.id)
}

/// An endpoint's document, or the Platform APIs' one, as they are vendored.
fn openapi(path: &str, query: &HashMap<String, String>) -> Response {
    if path == endpoints::PLATFORM_DOCUMENT_PATH {
        return (
            [(header::CONTENT_TYPE, "application/json")],
            endpoints::PLATFORM_DOCUMENT,
        )
            .into_response();
    }
    let Some(endpoint) = query.get("endpoint_id").and_then(|id| endpoints::find(id)) else {
        return detail(StatusCode::NOT_FOUND, "Endpoint not found");
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        endpoint.document,
    )
        .into_response()
}
