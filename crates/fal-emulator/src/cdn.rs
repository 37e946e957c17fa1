//! The CDN origin: downloads of result images and uploaded files, and the
//! upload targets. It is a different origin from the API on purpose: a
//! client that sends its key here is caught (`Stats::key_leaks`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, middleware};
use serde_json::json;

use crate::answers::detail;
use crate::faults::Route;
use crate::gateway::{Edge, Origin, gateway};
use crate::state::Shared;
use crate::storage::{StoredFile, safe_file_name};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let edge = Edge {
        shared: shared.clone(),
        origin: Origin::Cdn,
    };
    Router::new()
        .fallback(handle)
        .layer(middleware::from_fn_with_state(edge, gateway))
        .with_state(shared)
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let route = request.extensions().get::<Route>().copied();
    let path = request.uri().path().to_owned();
    match route {
        Some(Route::Cdn) => download(&shared, &path, request.method() == Method::HEAD),
        Some(Route::UploadPut) if path == "/files/upload" => direct_upload(&shared, request).await,
        Some(Route::UploadPut) => signed_upload(&shared, &path, request).await,
        _ => detail(StatusCode::NOT_FOUND, "Not Found"),
    }
}

fn download(shared: &Shared, path: &str, head: bool) -> Response {
    let key = path.strip_prefix("/files/").unwrap_or_default();
    let Some(file) = shared.files.get(key) else {
        return detail(StatusCode::NOT_FOUND, "File not found");
    };
    let length = file.bytes.len();
    let body = if head {
        Body::empty()
    } else {
        Body::from(file.bytes)
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&file.content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}

fn content_type_of(request: &Request) -> Option<String> {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// `PUT {cdn}/uploads/{token}`: the body of an initiated upload, like a
/// signed storage URL (no key wanted; 200 with an empty body).
async fn signed_upload(shared: &Shared, path: &str, request: Request) -> Response {
    let token = path.strip_prefix("/uploads/").unwrap_or_default();
    let Some(pending) = shared.files.pending(token) else {
        return detail(StatusCode::NOT_FOUND, "Upload URL not found or expired");
    };
    let content_type = content_type_of(&request).unwrap_or(pending.content_type);
    let bytes = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    shared.files.put(
        pending.key,
        StoredFile {
            bytes,
            content_type,
        },
    );
    StatusCode::OK.into_response()
}

/// `POST {cdn}/files/upload` with the bearer token from
/// `{rest}/storage/auth/token`: fal's v3 CDN upload.
async fn direct_upload(shared: &Shared, request: Request) -> Response {
    let expected = format!("Bearer {}", shared.cdn_token);
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|value| value.as_bytes() == expected.as_bytes());
    if !authorized {
        return detail(StatusCode::UNAUTHORIZED, "Invalid or missing CDN token");
    }
    let file_name = safe_file_name(
        request
            .headers()
            .get("x-fal-file-name")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("upload.bin"),
    );
    let content_type =
        content_type_of(&request).unwrap_or_else(|| "application/octet-stream".into());
    let bytes = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let key = format!("{}/{file_name}", uuid::Uuid::new_v4().simple());
    shared.files.put(
        key.clone(),
        StoredFile {
            bytes,
            content_type: content_type.clone(),
        },
    );
    Json(json!({
        "access_url": format!("{}/files/{key}", shared.urls.cdn),
        "content_type": content_type,
        "file_name": file_name,
    }))
    .into_response()
}
