//! Uploads in parts, in fal-js's dialect (initiated on the rest origin,
//! parts to the signed URL) and fal_client's (the CDN token).

use fal_emulator::{Fault, FaultRule, Route};
use serde_json::{Value, json};

use crate::common::*;
use crate::storage::initiate;

async fn initiate_multipart(emulator: &fal_emulator::Emulator, file_name: &str) -> Value {
    let response = client()
        .post(format!(
            "{}/storage/upload/initiate-multipart?storage_type=fal-cdn-v3",
            emulator.rest_url()
        ))
        .header("authorization", auth(emulator))
        .json(&json!({"content_type": "application/zip", "file_name": file_name}))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

/// `{upload_url's path}/{tail}{its query}`, as fal-js builds part URLs.
fn beside(url: &str, tail: &str) -> String {
    match url.split_once('?') {
        Some((path, query)) => format!("{path}/{tail}?{query}"),
        None => format!("{url}/{tail}"),
    }
}

async fn put_part(url: &str, number: u64, body: Vec<u8>) -> reqwest::Response {
    client()
        .put(beside(url, &number.to_string()))
        .body(body)
        .send()
        .await
        .expect("answered")
}

async fn complete_with(url: &str, parts: &Value) -> reqwest::Response {
    client()
        .post(beside(url, "complete"))
        .json(&json!({"parts": parts}))
        .send()
        .await
        .expect("answered")
}

#[tokio::test]
async fn parts_put_in_any_order_are_assembled_in_part_order_and_served_whole() {
    let emulator = start(fast()).await;
    let answer = initiate_multipart(&emulator, "pairs.zip").await;
    let upload_url = answer["upload_url"].as_str().expect("upload_url");
    let file_url = answer["file_url"].as_str().expect("file_url");
    assert!(upload_url.starts_with(emulator.cdn_url()));
    assert!(file_url.ends_with("/pairs.zip"));

    let pieces: Vec<Vec<u8>> = (0..3u8)
        .map(|i| vec![b'a' + i; 1000 + i as usize])
        .collect();
    let mut listed = Vec::new();
    for number in [3u64, 1, 2] {
        let part = put_part(upload_url, number, pieces[number as usize - 1].clone()).await;
        assert_eq!(part.status(), 200);
        let header = part.headers()["etag"].to_str().unwrap().to_owned();
        let acked: Value = part.json().await.expect("JSON");
        assert_eq!(acked["partNumber"], number);
        assert_eq!(acked["etag"], header, "the JSON and the header agree");
        listed.push(json!({"partNumber": number, "etag": header}));
    }
    let (status, _, _) = download(file_url).await;
    assert_eq!(status, 404, "nothing is served before complete");

    // listed in the order they were put, as fal_client lists them
    let done = complete_with(upload_url, &Value::from(listed.clone())).await;
    assert_eq!(done.status(), 200);
    let (status, content_type, bytes) = download(file_url).await;
    assert_eq!((status, content_type.as_str()), (200, "application/zip"));
    assert_eq!(bytes, pieces.concat());

    let again = complete_with(upload_url, &Value::from(listed)).await;
    assert_eq!(again.status(), 200, "a repeated complete is answered again");
    let stats = emulator.stats();
    assert_eq!(
        (
            stats.upload_initiate,
            stats.upload_part,
            stats.upload_complete,
            stats.key_leaks
        ),
        (1, 3, 2, 0)
    );
}

#[tokio::test]
async fn complete_refuses_a_missing_part_or_a_wrong_etag_and_serves_nothing() {
    let emulator = start(fast()).await;
    let answer = initiate_multipart(&emulator, "a.bin").await;
    let upload_url = answer["upload_url"].as_str().expect("upload_url");
    let part = put_part(upload_url, 1, b"one".to_vec()).await;
    let etag = part.headers()["etag"].to_str().unwrap().to_owned();

    let missing = complete_with(
        upload_url,
        &json!([{"partNumber": 1, "etag": etag}, {"partNumber": 2, "etag": "\"x\""}]),
    )
    .await;
    assert_eq!(missing.status(), 400);
    let body: Value = missing.json().await.expect("JSON");
    assert_eq!(body["detail"], "Part 2 was never uploaded");

    let wrong = complete_with(upload_url, &json!([{"partNumber": 1, "etag": "\"other\""}])).await;
    assert_eq!(wrong.status(), 400);
    let (status, _, _) = download(answer["file_url"].as_str().unwrap()).await;
    assert_eq!(status, 404);

    let unknown = put_part(&format!("{}/uploads/nope", emulator.cdn_url()), 1, vec![1]).await;
    assert_eq!(unknown.status(), 404);
    let zero = put_part(upload_url, 0, vec![1]).await;
    assert_eq!(zero.status(), 400, "parts are numbered from 1");
    let unsigned = upload_url.split_once('?').expect("a signed URL").0;
    let refused = put_part(unsigned, 1, vec![1]).await;
    assert_eq!(
        refused.status(),
        403,
        "the signature is kept or the part refused"
    );
}

#[tokio::test]
async fn a_part_cut_mid_body_drops_the_connection_and_keeps_nothing() {
    let emulator = start(fast()).await;
    let answer = initiate_multipart(&emulator, "a.bin").await;
    let upload_url = answer["upload_url"].as_str().expect("upload_url");
    emulator.set_faults(vec![FaultRule::once(
        Route::UploadPart,
        Fault::ResetMidBody,
    )]);
    let body =
        futures::stream::iter((0..64).map(|_| Ok::<_, std::io::Error>(vec![7u8; 64 * 1024])));
    let cut = client()
        .put(beside(upload_url, "1"))
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await;
    assert!(cut.is_err(), "no answer: {cut:?}");
    let done = complete_with(upload_url, &json!([{"partNumber": 1, "etag": "\"x\""}])).await;
    assert_eq!(done.status(), 400, "the cut part was not kept");
}

#[tokio::test]
async fn fal_clients_token_dialect_uploads_in_parts() {
    let emulator = start(fast()).await;
    let token: Value = client()
        .post(format!(
            "{}/storage/auth/token?storage_type=fal-cdn-v3",
            emulator.rest_url()
        ))
        .header("authorization", auth(&emulator))
        .json(&json!({}))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON");
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    let base = token["base_url"].as_str().unwrap();
    let created: Value = client()
        .post(format!("{base}/files/upload/multipart"))
        .header("authorization", &bearer)
        .header("content-type", "application/zip")
        .header("x-fal-file-name", "big.zip")
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON");
    let access_url = created["access_url"].as_str().unwrap();
    let id = created["uploadId"].as_str().unwrap();
    let mut parts = Vec::new();
    for (number, body) in [(1, b"hello ".to_vec()), (2, b"world".to_vec())] {
        let part = client()
            .put(format!("{access_url}/multipart/{id}/{number}"))
            .header("authorization", &bearer)
            .body(body)
            .send()
            .await
            .expect("answered");
        assert_eq!(part.status(), 200);
        parts.push(json!({"partNumber": number, "etag": part.headers()["etag"].to_str().unwrap()}));
    }
    let refused = client()
        .post(format!("{access_url}/multipart/{id}/complete"))
        .json(&json!({"parts": parts}))
        .send()
        .await
        .expect("answered");
    assert_eq!(refused.status(), 401, "the token is wanted");
    let done = client()
        .post(format!("{access_url}/multipart/{id}/complete"))
        .header("authorization", &bearer)
        .json(&json!({"parts": parts}))
        .send()
        .await
        .expect("answered");
    assert_eq!(done.status(), 200);
    let (status, _, bytes) = download(access_url).await;
    assert_eq!((status, bytes.as_slice()), (200, &b"hello world"[..]));
    assert_eq!(emulator.stats().key_leaks, 0);
}

#[tokio::test]
async fn a_large_single_put_is_taken_past_the_old_body_bound() {
    let emulator = start(fast()).await;
    let answer = initiate(&emulator, "big.bin", "application/octet-stream").await;
    let big = vec![3u8; 70 * 1024 * 1024];
    let put = client()
        .put(answer["upload_url"].as_str().unwrap())
        .body(big.clone())
        .send()
        .await
        .expect("answered");
    assert_eq!(put.status(), 200);
    let (status, _, bytes) = download(answer["file_url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(bytes == big, "served whole");
}
