//! The CDN origin: downloads of result images and uploaded files, and the
//! upload targets. It is a different origin from the API on purpose: a
//! client that sends its key here is caught (`Stats::key_leaks`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;

use super::gateway;
use super::multipart;
use crate::replies::detail;
use crate::route::{Origin, Route};
use crate::state::Shared;
use crate::state::storage::{DiskFile, StoredFile, safe_file_name};

/// Upload bodies longer than this (8 MiB) are written to disk as they come
/// rather than kept in memory.
const SPOOL_ABOVE: u64 = 8 * 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    gateway::router(shared, Origin::Cdn, handle)
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let route = request.extensions().get::<Route>().copied();
    let path = request.uri().path().to_owned();
    match route {
        Some(Route::Cdn) => download(&shared, &path, request.method() == Method::HEAD).await,
        Some(Route::UploadPut) if path == "/files/upload" => direct_upload(&shared, request).await,
        Some(Route::UploadPut) => signed_upload(&shared, &path, request).await,
        Some(Route::UploadInitiate) => multipart::initiate_token(&shared, &request),
        Some(Route::UploadPart) => multipart::part(&shared, request).await,
        Some(Route::UploadComplete) => multipart::complete(&shared, request).await,
        _ => detail(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn download(shared: &Shared, path: &str, head: bool) -> Response {
    let key = path.strip_prefix("/files/").unwrap_or_default();
    let (length, content_type, body) = if let Some(disk) = shared.files.on_disk(key) {
        let body = match tokio::fs::File::open(&disk.path).await {
            Ok(_) if head => Body::empty(),
            Ok(file) => Body::from_stream(tokio_util::io::ReaderStream::new(file)),
            Err(_) => return detail(StatusCode::NOT_FOUND, "File not found"),
        };
        (disk.len, disk.content_type, body)
    } else if let Some(file) = shared.files.get(key) {
        let length = file.bytes.len() as u64;
        let body = if head {
            Body::empty()
        } else {
            Body::from(file.bytes)
        };
        (length, file.content_type, body)
    } else {
        return detail(StatusCode::NOT_FOUND, "File not found");
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
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
    match store_body(shared, pending.key, content_type, request).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(response) => response,
    }
}

/// Keeps an upload's body under `key`: in memory, or on disk when its
/// declared length is over [`SPOOL_ABOVE`] (a body that breaks is not kept).
async fn store_body(
    shared: &Shared,
    key: String,
    content_type: String,
    request: Request,
) -> Result<(), Response> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > SPOOL_ABOVE) {
        let cut = |error: std::io::Error| {
            detail(
                StatusCode::BAD_REQUEST,
                &format!("The body did not come whole: {error}"),
            )
        };
        let path = shared
            .files
            .spool()
            .map_err(cut)?
            .join(format!("single-{}", uuid::Uuid::new_v4().simple()));
        match multipart::spool(request.into_body(), &path).await {
            Ok(len) => {
                let file = DiskFile {
                    path,
                    len,
                    content_type,
                };
                shared.files.put_on_disk(key, file);
                return Ok(());
            }
            Err(error) => {
                let _ = tokio::fs::remove_file(&path).await;
                return Err(cut(error));
            }
        }
    }
    let bytes = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .map_err(|_| detail(StatusCode::BAD_REQUEST, "The body did not come whole"))?;
    shared.files.put(
        key,
        StoredFile {
            bytes,
            content_type,
        },
    );
    Ok(())
}

/// `POST {cdn}/files/upload` with the bearer token from
/// `{rest}/storage/auth/token`: fal's v3 CDN upload.
async fn direct_upload(shared: &Shared, request: Request) -> Response {
    if !shared.has_cdn_token(&request) {
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
    let key = format!("{}/{file_name}", uuid::Uuid::new_v4().simple());
    if let Err(response) = store_body(shared, key.clone(), content_type.clone(), request).await {
        return response;
    }
    Json(json!({
        "access_url": format!("{}/files/{key}", shared.urls.cdn),
        "content_type": content_type,
        "file_name": file_name,
    }))
    .into_response()
}
