//! Uploads through the rest origin, and the CDN that serves them.

use serde_json::{Value, json};

use crate::common::*;

pub async fn initiate(
    emulator: &fal_emulator::Emulator,
    file_name: &str,
    content_type: &str,
) -> Value {
    let response = client()
        .post(format!(
            "{}/storage/upload/initiate?storage_type=fal-cdn-v3",
            emulator.rest_url()
        ))
        .header("authorization", auth(emulator))
        .json(&json!({"content_type": content_type, "file_name": file_name}))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

#[tokio::test]
async fn an_initiated_upload_is_put_on_the_cdn_and_served_back() {
    let emulator = start(fast()).await;
    let answer = initiate(&emulator, "cat photo.png", "image/png").await;
    let upload_url = answer["upload_url"].as_str().expect("upload_url");
    let file_url = answer["file_url"].as_str().expect("file_url");
    assert!(
        upload_url.starts_with(emulator.cdn_url()),
        "the PUT goes to the CDN origin"
    );
    assert!(file_url.starts_with(&format!("{}/files/", emulator.cdn_url())));
    assert!(file_url.ends_with("/cat_photo.png"));

    let (before, _, _) = download(file_url).await;
    assert_eq!(before, 404, "nothing to serve before the PUT");
    let put = client()
        .put(upload_url)
        .header("content-type", "image/png")
        .body(b"\x89PNG fake".to_vec())
        .send()
        .await
        .expect("answered");
    assert_eq!(put.status(), 200);
    let (status, content_type, bytes) = download(file_url).await;
    assert_eq!(
        (status, content_type.as_str(), bytes.as_slice()),
        (200, "image/png", &b"\x89PNG fake"[..])
    );

    let stats = emulator.stats();
    assert_eq!(
        (stats.upload_initiate, stats.upload_put, stats.key_leaks),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn an_uploaded_image_is_a_valid_input() {
    let emulator = start(fast()).await;
    let answer = initiate(&emulator, "in.png", "image/png").await;
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD
        .decode(png_data_uri(40, 20).split_once(',').expect("data uri").1)
        .expect("base64");
    client()
        .put(answer["upload_url"].as_str().expect("url"))
        .body(png)
        .send()
        .await
        .expect("answered");
    let input = json!({"prompt": "p", "image_url": answer["file_url"]});
    let (_, result) = complete(&emulator, KONTEXT, &input).await;
    assert_eq!(result.status(), 200);
    let output: Value = result.json().await.expect("JSON");
    assert_eq!(
        (
            output["images"][0]["width"].clone(),
            output["images"][0]["height"].clone()
        ),
        (json!(48), json!(16))
    );
}

#[tokio::test]
async fn a_key_sent_to_the_cdn_is_caught() {
    let emulator = start(fast()).await;
    let answer = initiate(&emulator, "a.txt", "text/plain").await;
    client()
        .put(answer["upload_url"].as_str().expect("url"))
        .header("authorization", auth(&emulator))
        .body("hello")
        .send()
        .await
        .expect("answered");
    assert_eq!(
        emulator.stats().key_leaks,
        1,
        "the upload PUT carried the key"
    );
    client()
        .get(answer["file_url"].as_str().expect("url"))
        .header("x-custom", emulator.key())
        .send()
        .await
        .expect("answered");
    assert_eq!(
        emulator.stats().key_leaks,
        2,
        "the key in any header counts"
    );
    let recorded = emulator.requests();
    let put = recorded
        .iter()
        .find(|r| r.route == fal_emulator::Route::UploadPut)
        .expect("recorded");
    assert!(
        put.headers
            .contains(&("authorization".to_owned(), "Key <redacted>".to_owned()))
    );
}

#[tokio::test]
async fn the_cdn_token_flow_of_fals_python_client_works() {
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
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["base_url"], emulator.cdn_url());
    assert!(
        token["expires_at"]
            .as_str()
            .expect("expires_at")
            .contains('T')
    );

    let upload = |authorization: Option<String>| {
        let url = format!("{}/files/upload", emulator.cdn_url());
        async move {
            let mut request = client()
                .post(url)
                .header("content-type", "text/plain")
                .header("x-fal-file-name", "note.txt")
                .body("bytes");
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            request.send().await.expect("answered")
        }
    };
    assert_eq!(upload(None).await.status(), 401);
    let bearer = format!("Bearer {}", token["token"].as_str().expect("token"));
    let answer: Value = upload(Some(bearer)).await.json().await.expect("JSON");
    let (status, content_type, bytes) =
        download(answer["access_url"].as_str().expect("access_url")).await;
    assert_eq!(
        (status, content_type.as_str(), bytes.as_slice()),
        (200, "text/plain", &b"bytes"[..])
    );
    assert_eq!(emulator.stats().key_leaks, 0, "a CDN token is not the key");
}

#[tokio::test]
async fn unknown_upload_urls_and_files_are_404() {
    let emulator = start(fast()).await;
    let put = client()
        .put(format!("{}/uploads/nope", emulator.cdn_url()))
        .body("x")
        .send()
        .await
        .expect("answered");
    assert_eq!(put.status(), 404);
    let (status, _, _) = download(&format!("{}/files/nope/x.png", emulator.cdn_url())).await;
    assert_eq!(status, 404);
}
