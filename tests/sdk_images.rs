//! Images in and out through the emulator: inline or uploaded inputs, and
//! downloads that never carry the key and never leave a partial file.

mod common;

use common::{SAMPLE, builder, client, emulator, emulator_with, on, quick};
use fal_emulator::{Config, Fault, FaultRule, Route};
use fal_kontext::{Images, OutputFormat, RetryPolicy};

#[tokio::test]
async fn a_small_local_image_goes_inline() {
    let emulator = emulator().await;
    client(&emulator).edit("p", SAMPLE).submit().await.unwrap();
    let body = on(&emulator, Route::Submit)[0].body.clone().unwrap();
    let url = body["image_url"].as_str().unwrap();
    assert!(url.starts_with("data:image/png;base64,"), "{}", &url[..40]);
    assert_eq!(emulator.stats().upload_initiate, 0);
}

#[tokio::test]
async fn a_large_local_image_is_uploaded_without_the_key() {
    let emulator = emulator().await;
    // an inline limit below the sample's size makes the sample "large"
    let c = builder(&emulator).inline_limit(1024).build().unwrap();
    let done = c.edit("p", SAMPLE).run().await.unwrap();
    assert_eq!(done.output.images.len(), 1);
    let stats = emulator.stats();
    assert_eq!(
        (stats.upload_initiate, stats.upload_put),
        (1, 1),
        "{stats:?}"
    );
    assert_eq!(stats.key_leaks, 0, "the storage PUT carries no key");
    let initiate = &on(&emulator, Route::UploadInitiate)[0];
    assert_eq!(initiate.body.as_ref().unwrap()["content_type"], "image/png");
    assert_eq!(initiate.body.as_ref().unwrap()["file_name"], "sample.png");
    let put = &on(&emulator, Route::UploadPut)[0];
    assert!(put.headers.iter().all(|(name, _)| name != "authorization"));
    let body = on(&emulator, Route::Submit)[0].body.clone().unwrap();
    assert!(
        body["image_url"]
            .as_str()
            .unwrap()
            .starts_with(emulator.cdn_url()),
        "the submit names the uploaded file"
    );
}

#[tokio::test]
async fn bytes_in_memory_are_uploaded_too() {
    let emulator = emulator().await;
    let c = builder(&emulator).inline_limit(16).build().unwrap();
    let image = fal_kontext::ImageInput::bytes(std::fs::read(SAMPLE).unwrap(), "from-memory.png");
    c.edit("p", image).run().await.unwrap();
    assert_eq!(emulator.stats().upload_put, 1);
}

#[tokio::test]
async fn downloads_are_whole_files_named_by_the_caller_and_carry_no_key() {
    let emulator = emulator().await;
    let c = client(&emulator);
    let done = c
        .edit("p", SAMPLE)
        .num_images(2)
        .output_format(OutputFormat::Png)
        .run()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let paths = c
        .download_as(&done.output, dir.path(), "kitchen")
        .await
        .unwrap();
    assert_eq!(
        paths,
        [
            dir.path().join("kitchen-1.png"),
            dir.path().join("kitchen-2.png")
        ]
    );
    for (path, image) in paths.iter().zip(done.output.images()) {
        let bytes = std::fs::read(path).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "a real PNG");
        assert_eq!(
            Some(bytes.len() as i64),
            done.output
                .images
                .iter()
                .find(|i| i.url == image.url)
                .and_then(|i| i.file_size)
        );
    }
    let stats = emulator.stats();
    assert_eq!((stats.cdn, stats.key_leaks), (2, 0), "{stats:?}");
    // a second download beside the first never overwrites it
    let again = c
        .download_as(&done.output, dir.path(), "kitchen")
        .await
        .unwrap();
    assert_eq!(
        again,
        [
            dir.path().join("kitchen-3.png"),
            dir.path().join("kitchen-4.png")
        ]
    );
}

#[tokio::test]
async fn sync_mode_images_are_decoded_from_data_uris() {
    let emulator = emulator().await;
    let c = client(&emulator);
    let done = c.text_to_image("p").sync_mode(true).run().await.unwrap();
    assert!(
        done.output.images[0]
            .url
            .starts_with("data:image/jpeg;base64,")
    );
    let dir = tempfile::tempdir().unwrap();
    let paths = c.download(&done.output, dir.path()).await.unwrap();
    assert_eq!(paths, [dir.path().join("image-1.jpg")]);
    assert!(
        std::fs::read(&paths[0]).unwrap().starts_with(&[0xFF, 0xD8]),
        "a real JPEG"
    );
    assert_eq!(emulator.stats().cdn, 0);
}

#[tokio::test]
async fn a_cut_download_leaves_no_file_and_a_retry_completes_it() {
    let emulator = emulator_with(Config {
        timing: quick(),
        ..Config::default()
    })
    .await;
    let done = client(&emulator).text_to_image("p").run().await.unwrap();
    let dir = tempfile::tempdir().unwrap();

    emulator.set_faults(vec![FaultRule::once(Route::Cdn, Fault::Truncate)]);
    let no_retry = builder(&emulator)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    assert!(no_retry.download(&done.output, dir.path()).await.is_err());
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(
        left.is_empty(),
        "no partial or temporary file is left: {left:?}"
    );

    emulator.set_faults(vec![FaultRule::once(Route::Cdn, Fault::ResetMidBody)]);
    let paths = client(&emulator)
        .download(&done.output, dir.path())
        .await
        .unwrap();
    let bytes = std::fs::read(&paths[0]).unwrap();
    assert!(
        bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9]),
        "a whole JPEG"
    );
}

/// The files in `dir`, temporary ones included.
fn files_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect()
}

#[tokio::test]
async fn a_download_of_several_images_is_all_or_nothing() {
    let emulator = emulator().await;
    let c = client(&emulator);
    let done = c.text_to_image("p").num_images(2).run().await.unwrap();
    let good = done.output.images[0].url.clone();
    // The first image downloads; the second fails, for good (404) or
    // because it is not an image at all.
    for second in [
        format!("{}/files/out/gone.jpg", emulator.cdn_url()),
        "data:image/png;base64,***".to_owned(),
    ] {
        let output: fal_kontext::api::types::FluxKontextDevOutput =
            serde_json::from_value(serde_json::json!({"images": [{"url": good}, {"url": second}]}))
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let error = c
            .download_as(&output, dir.path(), "half")
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                fal_kontext::Error::NotFound { .. } | fal_kontext::Error::InvalidInput { .. }
            ),
            "{error:?}"
        );
        assert_eq!(
            files_in(dir.path()),
            Vec::<std::path::PathBuf>::new(),
            "{second}"
        );
    }
}

#[tokio::test]
async fn a_stem_that_could_leave_the_directory_is_refused_before_anything_is_made() {
    let emulator = emulator().await;
    let c = client(&emulator);
    let done = c.text_to_image("p").run().await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    let absolute = root.path().join("elsewhere").display().to_string();
    for stem in ["../escaped", "a/b", "..", "", ".hidden", absolute.as_str()] {
        let error = c.download_as(&done.output, &out, stem).await.unwrap_err();
        assert!(
            matches!(
                error,
                fal_kontext::Error::InvalidInput { field: "stem", .. }
            ),
            "{stem:?}: {error:?}"
        );
    }
    assert_eq!(
        files_in(root.path()),
        Vec::<std::path::PathBuf>::new(),
        "not even `out/`"
    );
    assert_eq!(emulator.stats().cdn, 0, "nothing was fetched");
}
