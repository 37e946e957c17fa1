//! Uploads in parts through the SDK against the emulator: a file above the
//! multipart threshold goes up in numbered parts, several at once, each
//! retried on its own, and comes back whole from the CDN; a failure names
//! the upload, the step and fal's answer; the key never goes to a part URL.
//! The threshold and part size are set small here so the files stay small.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{SAMPLE, builder, emulator, on};
use fal_emulator::{Emulator, Fault, FaultRule, Route};
use fal_kontext::{Client, Error};

/// The part size of these tests: 64 KiB.
const PART: u64 = 64 * 1024;

/// A client that uploads anything over 100 KiB in 64 KiB parts.
fn multipart_client(emulator: &Emulator) -> Client {
    builder(emulator)
        .multipart_threshold(100 * 1024)
        .multipart_part_size(PART)
        .build()
        .unwrap()
}

/// A file of `len` bytes that differ from part to part (so a part put in the
/// wrong place shows), in `dir`.
fn file_of(dir: &Path, name: &str, len: usize) -> PathBuf {
    let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

async fn served(url: &str) -> Vec<u8> {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn a_file_above_the_threshold_goes_up_in_parts_and_comes_back_whole() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let len = 10 * PART as usize + 123;
    let path = file_of(dir.path(), "pairs.zip", len);
    let url = multipart_client(&emulator)
        .upload(&path, "application/zip")
        .await
        .unwrap();
    assert!(
        url.starts_with(emulator.cdn_url()) && url.ends_with("/pairs.zip"),
        "{url}"
    );
    assert!(
        served(&url).await == std::fs::read(&path).unwrap(),
        "the bytes differ"
    );
    let stats = emulator.stats();
    assert_eq!(
        (
            stats.upload_initiate,
            stats.upload_put,
            stats.upload_part,
            stats.upload_complete
        ),
        (1, 0, 11, 1),
        "one initiate, 11 parts, one complete, no single PUT"
    );
    assert_eq!(stats.key_leaks, 0);
    let initiate = &on(&emulator, Route::UploadInitiate)[0];
    assert_eq!(initiate.path, "/storage/upload/initiate-multipart");
    for part in on(&emulator, Route::UploadPart) {
        assert!(
            part.headers.iter().all(|(name, _)| name != "authorization"),
            "no credentials on a signed part URL: {:?}",
            part.headers
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no file of ours left beside it"
    );
}

#[tokio::test]
async fn a_file_at_the_threshold_goes_in_one_put() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let path = file_of(dir.path(), "small.bin", 100 * 1024);
    let url = multipart_client(&emulator)
        .upload(&path, "application/octet-stream")
        .await
        .unwrap();
    assert!(served(&url).await == std::fs::read(&path).unwrap());
    let stats = emulator.stats();
    assert_eq!((stats.upload_put, stats.upload_part), (1, 0));
}

#[tokio::test]
async fn several_parts_are_in_flight_and_a_part_that_hangs_is_retried_alone() {
    let emulator = emulator().await;
    let client = builder(&emulator)
        .multipart_threshold(0)
        .multipart_part_size(PART)
        .multipart_concurrency(4)
        .call_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = file_of(dir.path(), "lora.safetensors", 8 * PART as usize);
    // the first part is never answered: the others go on meanwhile
    emulator.set_faults(vec![FaultRule::once(Route::UploadPart, Fault::NoAnswer)]);
    let url = client
        .upload(&path, "application/octet-stream")
        .await
        .unwrap();
    assert!(served(&url).await == std::fs::read(&path).unwrap());
    let stats = emulator.stats();
    assert!(stats.upload_parts_in_flight_max >= 2, "{stats:?}");
    assert!(
        stats.upload_parts_in_flight_max <= 4,
        "never more than the concurrency: {stats:?}"
    );
    assert_eq!(stats.upload_part, 9, "8 parts, one of them twice");
}

#[tokio::test]
async fn a_failing_part_is_retried_on_its_own() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let path = file_of(dir.path(), "a.zip", 4 * PART as usize);
    emulator.set_faults(vec![
        FaultRule::once(Route::UploadPart, Fault::Ingress(503)),
        FaultRule::once(Route::UploadPart, Fault::ResetMidBody),
    ]);
    let url = multipart_client(&emulator)
        .upload(&path, "application/zip")
        .await
        .unwrap();
    assert!(served(&url).await == std::fs::read(&path).unwrap());
    let stats = emulator.stats();
    assert_eq!(
        (
            stats.faults_injected,
            stats.upload_part,
            stats.upload_initiate
        ),
        (2, 6, 1)
    );
}

#[tokio::test]
async fn a_failing_complete_is_a_clear_error_naming_the_upload_and_fals_answer() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let path = file_of(dir.path(), "pairs.zip", 3 * PART as usize);
    emulator.set_faults(vec![FaultRule::once(
        Route::UploadComplete,
        Fault::AppError,
    )]);
    let error = multipart_client(&emulator)
        .upload(&path, "application/zip")
        .await
        .unwrap_err();
    let Error::Upload { file, step, source } = &error else {
        panic!("{error:?}");
    };
    assert_eq!((file.as_str(), step.as_str()), ("pairs.zip", "complete"));
    assert!(
        matches!(**source, Error::Server { status: 500, .. }),
        "{source:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("upload of pairs.zip failed at complete: fal answered 500"),
        "{error}"
    );
    assert_eq!(
        emulator.stats().upload_complete,
        1,
        "a 500 is fal's decision: not repeated"
    );
}

#[tokio::test]
async fn an_upload_cut_mid_way_every_time_is_a_clear_error_naming_the_part() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let path = file_of(dir.path(), "pairs.zip", 3 * PART as usize);
    emulator.set_faults(vec![FaultRule::rate(
        Route::UploadPart,
        Fault::ResetMidBody,
        1.0,
    )]);
    let client = builder(&emulator)
        .multipart_threshold(0)
        .multipart_part_size(PART)
        .multipart_concurrency(1)
        .build()
        .unwrap();
    let error = client.upload(&path, "application/zip").await.unwrap_err();
    let Error::Upload { step, source, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(step, "part 1 of 3");
    assert!(matches!(**source, Error::Transport { .. }), "{source:?}");
    let stats = emulator.stats();
    assert_eq!(
        stats.upload_part, 5,
        "the part tried once and retried 4 times, the next never sent"
    );
    assert_eq!(stats.upload_complete, 0, "nothing assembled");
}

#[tokio::test]
async fn every_upload_goes_in_parts_above_the_threshold_images_too() {
    let emulator = emulator().await;
    let client = builder(&emulator)
        .inline_limit(0)
        .multipart_threshold(1000)
        .multipart_part_size(1024)
        .build()
        .unwrap();
    let done = client.edit("p", SAMPLE).run().await.unwrap();
    assert_eq!(done.output.images.len(), 1);
    let image = fal_kontext::ImageInput::bytes(std::fs::read(SAMPLE).unwrap(), "from-memory.png");
    client.edit("p", image).run().await.unwrap();
    let stats = emulator.stats();
    let parts = std::fs::metadata(SAMPLE).unwrap().len().div_ceil(1024);
    assert_eq!((stats.upload_part, stats.upload_complete), (2 * parts, 2));
    assert_eq!(stats.key_leaks, 0);
    let submit = on(&emulator, Route::Submit)[0].body.clone().unwrap();
    let sent = submit["image_url"].as_str().unwrap();
    assert!(
        served(sent).await == std::fs::read(SAMPLE).unwrap(),
        "the job got the whole image"
    );
}

#[tokio::test]
async fn bad_settings_and_content_types_are_refused_before_anything_is_sent() {
    let emulator = emulator().await;
    for (error, setting) in [
        (
            builder(&emulator)
                .multipart_part_size(0)
                .build()
                .unwrap_err(),
            "multipart_part_size",
        ),
        (
            builder(&emulator)
                .multipart_concurrency(0)
                .build()
                .unwrap_err(),
            "multipart_concurrency",
        ),
    ] {
        assert!(
            matches!(error, Error::Config { setting: s, .. } if s == setting),
            "{error:?}"
        );
    }
    let error = multipart_client(&emulator)
        .upload(SAMPLE, "png")
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidInput {
                field: "content_type",
                ..
            }
        ),
        "{error:?}"
    );
    let missing = multipart_client(&emulator)
        .upload("no/such/file.zip", "application/zip")
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::Io { .. }), "{missing:?}");
    assert!(emulator.requests().is_empty());
}

/// The requests of an upload in parts, as the emulator recorded them: the
/// initiate (path, query, body, lifecycle-free headers), each part's
/// method, path shape and headers, and the complete's body.
#[tokio::test]
async fn the_multipart_requests_we_send() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let path = file_of(dir.path(), "pairs.zip", 2 * PART as usize + 10);
    multipart_client(&emulator)
        .upload(&path, "application/zip")
        .await
        .unwrap();
    let id_free = |path: &str| {
        path.split('/')
            .map(|segment| if segment.len() == 32 { "{id}" } else { segment })
            .collect::<Vec<_>>()
            .join("/")
    };
    let kept = ["authorization", "content-type", "content-length"];
    let sent: Vec<_> = emulator
        .requests()
        .into_iter()
        .map(|request| {
            let headers: Vec<_> = request
                .headers
                .iter()
                .filter(|(name, _)| kept.contains(&name.as_str()))
                .collect();
            let mut body = request.body.clone();
            // the ETags are the emulator's, random: only their presence counts
            if let Some(parts) = body
                .as_mut()
                .and_then(|b| b.get_mut("parts"))
                .and_then(|parts| parts.as_array_mut())
            {
                for part in parts {
                    part["etag"] = serde_json::json!(part["etag"].is_string());
                }
            }
            serde_json::json!({
                "route": request.route,
                "method": request.method,
                "path": id_free(&request.path),
                // the signature is the emulator's, random: kept is what counts
                "query": request.query.map(|query| {
                    query
                        .split('&')
                        .map(|pair| if pair.starts_with("signature=") { "signature={kept}" } else { pair })
                        .collect::<Vec<_>>()
                        .join("&")
                }),
                "headers": headers,
                "body": body,
            })
        })
        .collect();
    // parts go several at once: snapshot them in part order
    let mut sent = sent;
    sent.sort_by_key(|request| {
        let path = request["path"].as_str().unwrap().to_owned();
        (request["route"] == "UploadComplete", path)
    });
    insta::assert_json_snapshot!(sent);
}
