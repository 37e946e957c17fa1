//! The rest origin: the webhook signing keys (`/.well-known/jwks.json`),
//! upload initiation (`upload_url` + `file_url`, as fal's
//! JS client and the Python client's `fal` repository use it), CDN tokens
//! (as the Python client's default `fal_v3` repository uses them), and the
//! Platform APIs' prices and estimates (see `platform/pricing.rs`), request history
//! and payload deletion (see `platform/requests.rs`) under `/v1`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::gateway;
use super::platform::pricing;
use super::platform::requests;
use crate::replies::detail;
use crate::route::{Origin, Route};
use crate::state::Shared;
use crate::state::storage::{PendingUpload, safe_file_name};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    gateway::router(shared, Origin::Rest, handle)
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    match request.extensions().get::<Route>().copied() {
        Some(Route::Jwks) => Json(shared.webhooks.jwks()).into_response(),
        Some(Route::Pricing) => pricing::pricing(&shared.prices(), request.uri()),
        Some(Route::Estimate) => pricing::estimate(&shared.prices(), &body(request).await),
        Some(Route::History) => requests::by_endpoint(&shared, request.uri()),
        Some(Route::DeletePayloads) => {
            requests::delete_payloads(&shared, request.uri().path(), request.headers())
        }
        Some(Route::UploadInitiate) if request.uri().path() == "/storage/auth/token" => {
            cdn_token(&shared)
        }
        Some(Route::UploadInitiate) => {
            let multipart = request.uri().path() == "/storage/upload/initiate-multipart";
            initiate_upload(&shared, &body(request).await, multipart)
        }
        _ => detail(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// The request's body (the edge has already read it whole, within its bound).
async fn body(request: Request) -> Bytes {
    axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default()
}

/// `POST /storage/upload/initiate`: where to `PUT` the file (on the CDN) and
/// where it will be served.
/// With `multipart`, `POST /storage/upload/initiate-multipart`: an upload in
/// parts (see `multipart.rs`).
fn initiate_upload(shared: &Shared, body: &Bytes, multipart: bool) -> Response {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"detail": [{
                "loc": ["body"],
                "msg": "Input should be a valid dictionary",
                "type": "dict_type",
            }]})),
        )
            .into_response();
    };
    if multipart {
        return super::multipart::initiate_signed(shared, &fields);
    }
    let content_type = fields
        .get("content_type")
        .and_then(Value::as_str)
        .unwrap_or("application/octet-stream")
        .to_owned();
    let file_name = safe_file_name(
        fields
            .get("file_name")
            .and_then(Value::as_str)
            .unwrap_or("upload.bin"),
    );
    let token = uuid::Uuid::new_v4().simple().to_string();
    let key = format!("{token}/{file_name}");
    shared.files.expect_upload(
        token.clone(),
        PendingUpload {
            key: key.clone(),
            content_type,
        },
    );
    Json(json!({
        "upload_url": format!("{}/uploads/{token}", shared.urls.cdn),
        "file_url": format!("{}/files/{key}", shared.urls.cdn),
    }))
    .into_response()
}

fn cdn_token(shared: &Shared) -> Response {
    let expires = OffsetDateTime::now_utc() + time::Duration::hours(1);
    Json(json!({
        "token": shared.cdn_token,
        "token_type": "Bearer",
        "base_url": shared.urls.cdn,
        "expires_at": expires.format(&Rfc3339).unwrap_or_default(),
    }))
    .into_response()
}
