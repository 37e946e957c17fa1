//! Uploads in parts, in both of fal's dialects:
//!
//! - fal's JS client's (@fal-ai/client 1.10.1, `storage.ts`): `POST
//!   {rest}/storage/upload/initiate-multipart` with the key answers
//!   `{"upload_url": "{cdn}/uploads/{id}", "file_url"}`; parts are `PUT
//!   {upload_url}/{n}` (no key: the URL stands for a signed one), answered
//!   `{"partNumber", "etag"}`; `POST {upload_url}/complete` with `{"parts":
//!   [{"partNumber", "etag"}, …]}` assembles the file;
//! - fal's Python client's (fal-client 1.0.3, `client.py`,
//!   `MultipartUpload`): `POST {cdn}/files/upload/multipart` with the CDN
//!   token answers `{"access_url", "uploadId"}`; parts are `PUT
//!   {access_url}/multipart/{uploadId}/{n}`, whose `ETag` header the client
//!   reads; `POST {access_url}/multipart/{uploadId}/complete` assembles it.
//!
//! Every part answer carries both the JSON and the `ETag` header. Parts are
//! written to disk as they come (a part cut mid-body is dropped, never
//! half-kept), and the assembled file is kept on disk, so a 300 MB upload
//! does not sit in the emulator's memory.

use std::path::Path;

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::replies::detail;
use crate::state::Shared;
use crate::state::storage::{DiskFile, part_path, safe_file_name};

/// The most parts one upload takes (S3's and, per a fal engineer's note,
/// fal's storage's cap).
const MAX_PART_NUMBER: u64 = 10_000;

/// Where an upload in parts is addressed, from a part's or `complete`'s path.
struct Target<'a> {
    id: &'a str,
    /// The part number, or `complete`.
    tail: &'a str,
    /// fal's Python client's dialect, which wants the CDN token.
    token_dialect: bool,
}

fn target(path: &str) -> Option<Target<'_>> {
    if let Some(rest) = path.strip_prefix("/uploads/") {
        let (id, tail) = rest.split_once('/')?;
        return Some(Target {
            id,
            tail,
            token_dialect: false,
        });
    }
    let (_, rest) = path.strip_prefix("/files/")?.rsplit_once("/multipart/")?;
    let (id, tail) = rest.split_once('/')?;
    Some(Target {
        id,
        tail,
        token_dialect: true,
    })
}

/// `POST {rest}/storage/upload/initiate-multipart` (fal-js's dialect).
pub(crate) fn initiate_signed(
    shared: &Shared,
    fields: &serde_json::Map<String, Value>,
) -> Response {
    let text = |name: &str, default: &str| {
        fields
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let key = format!("{id}/{}", safe_file_name(&text("file_name", "upload.bin")));
    let content_type = text("content_type", "application/octet-stream");
    let signature = uuid::Uuid::new_v4().simple().to_string();
    let started =
        shared
            .files
            .start_multipart(&id, key.clone(), content_type, Some(signature.clone()));
    if let Err(error) = started {
        return spool_failed(&error);
    }
    Json(json!({
        "upload_url": format!("{}/uploads/{id}?signature={signature}", shared.urls.cdn),
        "file_url": format!("{}/files/{key}", shared.urls.cdn),
    }))
    .into_response()
}

/// `POST {cdn}/files/upload/multipart` with the CDN token (fal_client's dialect).
pub(crate) fn initiate_token(shared: &Shared, request: &Request) -> Response {
    if !shared.has_cdn_token(request) {
        return detail(StatusCode::UNAUTHORIZED, "Invalid or missing CDN token");
    }
    let header_text = |name: header::HeaderName, default: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or(default)
            .to_owned()
    };
    let file_name = safe_file_name(&header_text(
        header::HeaderName::from_static("x-fal-file-name"),
        "upload.bin",
    ));
    let content_type = header_text(header::CONTENT_TYPE, "application/octet-stream");
    let id = uuid::Uuid::new_v4().simple().to_string();
    let key = format!("{id}/{file_name}");
    if let Err(error) = shared
        .files
        .start_multipart(&id, key.clone(), content_type, None)
    {
        return spool_failed(&error);
    }
    Json(json!({
        "access_url": format!("{}/files/{key}", shared.urls.cdn),
        "uploadId": id,
    }))
    .into_response()
}

/// Whether `request` may address `target`: the token dialect wants the CDN
/// token, the signed one its URL's `signature` kept.
fn authorized(shared: &Shared, target: &Target<'_>, request: &Request) -> Option<Response> {
    if target.token_dialect {
        return (!shared.has_cdn_token(request))
            .then(|| detail(StatusCode::UNAUTHORIZED, "Invalid or missing CDN token"));
    }
    let sent = request.uri().query().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("signature="))
    });
    let wanted = shared
        .files
        .with_multipart(target.id, |upload| upload.signature.clone())?;
    (sent != wanted.as_deref()).then(|| {
        detail(
            StatusCode::FORBIDDEN,
            "The request signature does not match the upload URL's",
        )
    })
}

/// `PUT …/{n}`: one part, written to disk as it comes.
pub(crate) async fn part(shared: &Shared, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let Some(target) = target(&path) else {
        return detail(StatusCode::NOT_FOUND, "Not Found");
    };
    if let Some(refused) = authorized(shared, &target, &request) {
        return refused;
    }
    let number = match target.tail.parse::<u64>() {
        Ok(n @ 1..=MAX_PART_NUMBER) => n,
        _ => {
            return detail(
                StatusCode::BAD_REQUEST,
                &format!("Part numbers run from 1 to {MAX_PART_NUMBER}"),
            );
        }
    };
    let Some(dir) = shared
        .files
        .with_multipart(target.id, |upload| upload.dir.clone())
    else {
        return detail(StatusCode::NOT_FOUND, "Upload not found or expired");
    };
    let (partial, whole) = part_path(&dir, number);
    let written = match spool(request.into_body(), &partial).await {
        Ok(len) => tokio::fs::rename(&partial, &whole).await.map(|()| len),
        Err(error) => Err(error),
    };
    let len = match written {
        Ok(len) => len,
        Err(error) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return detail(
                StatusCode::BAD_REQUEST,
                &format!("The part's body did not come whole: {error}"),
            );
        }
    };
    let etag = format!("\"{}\"", uuid::Uuid::new_v4().simple());
    let known = shared.files.with_multipart(target.id, |upload| {
        upload.parts.insert(number, (etag.clone(), len));
    });
    if known.is_none() {
        return detail(StatusCode::NOT_FOUND, "Upload not found or expired");
    }
    let mut response = Json(json!({"partNumber": number, "etag": etag})).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

#[derive(Deserialize)]
struct Listed {
    #[serde(rename = "partNumber")]
    part_number: u64,
    etag: String,
}

#[derive(Deserialize)]
struct CompleteBody {
    parts: Vec<Listed>,
}

/// `POST …/complete`: checks the listed parts against those received and
/// assembles them, in order, into the file the CDN serves.
pub(crate) async fn complete(shared: &Shared, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let Some(target) = target(&path).filter(|target| target.tail == "complete") else {
        return detail(StatusCode::NOT_FOUND, "Not Found");
    };
    if let Some(refused) = authorized(shared, &target, &request) {
        return refused;
    }
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let Ok(mut listed) = serde_json::from_slice::<CompleteBody>(&body) else {
        return detail(
            StatusCode::BAD_REQUEST,
            "Expected {\"parts\": [{\"partNumber\": n, \"etag\": \"…\"}, …]}",
        );
    };
    // fal_client lists its parts in the order they finished (fal-client
    // 1.0.3 `MultipartUpload.upload_part` appends as each one ends), and
    // fal takes that: the file is assembled in part order whatever the list's
    listed.parts.sort_by_key(|part| part.part_number);
    let checked = shared.files.with_multipart(target.id, |upload| {
        if upload.completed {
            return Ok(None);
        }
        check_listed(&listed.parts, upload).map(|()| {
            let files: Vec<_> = listed
                .parts
                .iter()
                .map(|part| upload.dir.join(part.part_number.to_string()))
                .collect();
            Some((files, upload.key.clone(), upload.content_type.clone()))
        })
    });
    let (files, key, content_type) = match checked {
        None => return detail(StatusCode::NOT_FOUND, "Upload not found or expired"),
        Some(Err(problem)) => return detail(StatusCode::BAD_REQUEST, &problem),
        Some(Ok(None)) => return completed(shared, target.id),
        Some(Ok(Some(plan))) => plan,
    };
    let assembled = match shared.files.spool() {
        Ok(spool) => spool.join(format!("{}.file", target.id)),
        Err(error) => return spool_failed(&error),
    };
    let len = match assemble(&files, &assembled).await {
        Ok(len) => len,
        Err(error) => {
            let _ = tokio::fs::remove_file(&assembled).await;
            return spool_failed(&error);
        }
    };
    shared.files.put_on_disk(
        key,
        DiskFile {
            path: assembled,
            len,
            content_type,
        },
    );
    shared.files.with_multipart(target.id, |upload| {
        upload.completed = true;
        let _ = std::fs::remove_dir_all(&upload.dir);
    });
    completed(shared, target.id)
}

/// The answer to a `complete`: the file's URL, under both dialects' names.
fn completed(shared: &Shared, id: &str) -> Response {
    let key = shared
        .files
        .with_multipart(id, |upload| upload.key.clone())
        .unwrap_or_default();
    let url = format!("{}/files/{key}", shared.urls.cdn);
    Json(json!({"file_url": url, "access_url": url})).into_response()
}

/// `Err` names what is wrong with the list `complete` was sent.
fn check_listed(
    listed: &[Listed],
    upload: &crate::state::storage::Multipart,
) -> std::result::Result<(), String> {
    if listed.is_empty() {
        return Err("No parts listed".into());
    }
    if listed
        .windows(2)
        .any(|pair| pair[0].part_number >= pair[1].part_number)
    {
        return Err("Each part must be listed once".into());
    }
    for part in listed {
        match upload.parts.get(&part.part_number) {
            None => return Err(format!("Part {} was never uploaded", part.part_number)),
            Some((etag, _)) if *etag != part.etag => {
                return Err(format!(
                    "Part {}'s etag {} is not the one it was given",
                    part.part_number, part.etag
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Writes `body` to `path` as it comes; its length.
pub(crate) async fn spool(body: Body, path: &Path) -> std::io::Result<u64> {
    let mut file = tokio::fs::File::create(path).await?;
    let mut stream = body.into_data_stream();
    let mut len = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(std::io::Error::other)?;
        file.write_all(&chunk).await?;
        len += chunk.len() as u64;
    }
    file.flush().await?;
    Ok(len)
}

/// Concatenates `parts` into `out`; the total length.
async fn assemble(parts: &[std::path::PathBuf], out: &Path) -> std::io::Result<u64> {
    let mut file = tokio::fs::File::create(out).await?;
    let mut len = 0;
    for part in parts {
        let mut source = tokio::fs::File::open(part).await?;
        len += tokio::io::copy(&mut source, &mut file).await?;
    }
    file.flush().await?;
    Ok(len)
}

fn spool_failed(error: &std::io::Error) -> Response {
    detail(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("The emulator could not keep the upload on disk: {error}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_dialects_address_their_upload() {
        let signed = target("/uploads/abc/3").unwrap();
        assert_eq!(
            (signed.id, signed.tail, signed.token_dialect),
            ("abc", "3", false)
        );
        let token = target("/files/abc/cat.zip/multipart/up1/complete").unwrap();
        assert_eq!(
            (token.id, token.tail, token.token_dialect),
            ("up1", "complete", true)
        );
        assert!(target("/uploads/abc").is_none());
        assert!(target("/files/abc/cat.zip").is_none());
    }
}
