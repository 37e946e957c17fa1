//! The run origin: `POST /<endpoint-id>` answers with the result itself. The
//! job still goes through the queue (delay, slots), unseen by status calls
//! only because nobody has its id; a bad input is refused at once with 422.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;

use super::answers::result_response;
use super::gateway;
use super::intake::{self, read_input, start_timeout, unknown_endpoint};
use crate::catalog::endpoints;
use crate::model::worker::{self, Submission};
use crate::replies::detail;
use crate::route::{Origin, Route};
use crate::state::Shared;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    gateway::router(shared, Origin::Run, handle)
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    if request.extensions().get::<Route>() != Some(&Route::Run) {
        return detail(StatusCode::NOT_FOUND, "Not Found");
    }
    let Some(endpoint) = endpoints::find(request.uri().path()) else {
        return unknown_endpoint(request.uri().path());
    };
    let timeout = start_timeout(&request);
    let store_io = intake::store_io(request.headers());
    let key = intake::key_of(request.headers());
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let input = match read_input(endpoint, &body) {
        Ok(input) => input,
        Err(details) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"detail": details})),
            )
                .into_response();
        }
    };
    let mut changes = shared.jobs.subscribe();
    let (id, _) = worker::spawn(
        &shared,
        Submission {
            endpoint,
            input: Ok(input),
            start_timeout: timeout,
            webhook: None,
            store_io,
            key,
        },
    );
    loop {
        let Some(view) = shared.jobs.view(&id) else {
            return detail(StatusCode::INTERNAL_SERVER_ERROR, "Request was lost");
        };
        if view.is_finished() {
            return result_response(&shared, &view);
        }
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return detail(StatusCode::SERVICE_UNAVAILABLE, "Emulator stopped");
                }
            }
            () = shared.shutdown.cancelled() => {
                return detail(StatusCode::SERVICE_UNAVAILABLE, "Emulator stopped");
            }
        }
    }
}
