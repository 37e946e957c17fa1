//! `edit`, `generate` and `multi`: what reaches fal, and what lands on disk.

use std::path::Path;

use fal_emulator::{Fault, FaultRule, Route};
use serde_json::{Value, json};

use crate::harness::*;

const PROMPT: &str = "Put a donut next to the flour.";

#[test]
fn an_edit_of_a_local_file_sends_it_and_saves_the_result() {
    let emu = Emu::start();
    let out = tempfile::tempdir().unwrap();
    let output = run(emu.kontext([
        "edit",
        "--image",
        SAMPLE,
        "--prompt",
        PROMPT,
        "--out",
        out.path().to_str().unwrap(),
    ]));
    let stdout = success(&output);
    // Nothing on stderr: progress is off when stderr is not a terminal.
    assert_eq!(stderr(&output), "");

    let paths = printed_paths(&stdout);
    assert_eq!(paths.len(), 1, "{stdout}");
    assert!(paths[0].starts_with(out.path()));
    assert!(is_whole_jpeg(&paths[0]));

    let submit = emu.only_submit();
    assert_eq!(submit.path, "/fal-ai/flux-pro/kontext");
    let body = submit.body.unwrap();
    assert_eq!(body["prompt"], PROMPT);
    // A small local image goes inline.
    let image_url = body["image_url"].as_str().unwrap();
    assert!(
        image_url.starts_with("data:image/png;base64,"),
        "{image_url}"
    );
}

#[test]
fn an_edit_of_a_url_sends_the_url() {
    let emu = Emu::start();
    let out = tempfile::tempdir().unwrap();
    let url = "https://example.com/kitchen.png";
    let output = run(emu.kontext([
        "edit",
        "--image",
        url,
        "--prompt",
        PROMPT,
        "--out",
        out.path().to_str().unwrap(),
    ]));
    let paths = printed_paths(&success(&output));
    assert_eq!(paths.len(), 1);
    assert!(paths[0].exists());
    assert_eq!(emu.only_submit().body.unwrap()["image_url"], url);
    assert_eq!(emu.stats().upload_put, 0, "a URL is not uploaded");
}

#[test]
fn every_flag_reaches_the_request() {
    let emu = Emu::start();
    let out = tempfile::tempdir().unwrap();
    let output = run(emu.kontext([
        "edit",
        "--image",
        SAMPLE,
        "--prompt",
        PROMPT,
        "--model",
        "max",
        "--seed",
        "7",
        "--guidance-scale",
        "4.5",
        "--num-images",
        "2",
        "--output-format",
        "png",
        "--safety-tolerance",
        "5",
        "--aspect-ratio",
        "16:9",
        "--enhance-prompt",
        "--sync",
        "--webhook",
        "http://127.0.0.1:9/hook",
        "--timeout",
        "60",
        "--out",
        out.path().to_str().unwrap(),
    ]));
    let paths = printed_paths(&success(&output));

    let submit = emu.only_submit();
    assert_eq!(submit.path, "/fal-ai/flux-pro/kontext/max");
    assert_eq!(
        submit.query.as_deref(),
        Some("fal_webhook=http%3A%2F%2F127.0.0.1%3A9%2Fhook")
    );
    let mut body = submit.body.unwrap();
    let image_url = body.as_object_mut().unwrap().remove("image_url").unwrap();
    assert!(image_url.as_str().unwrap().starts_with("data:image/png"));
    assert_eq!(
        body,
        json!({
            "prompt": PROMPT,
            "seed": 7,
            "guidance_scale": 4.5,
            "num_images": 2,
            "output_format": "png",
            "safety_tolerance": "5",
            "aspect_ratio": "16:9",
            "enhance_prompt": true,
            "sync_mode": true,
        })
    );
    // Two images, inline (sync mode), decoded into two PNG files.
    assert_eq!(paths.len(), 2);
    assert!(paths.iter().all(|p| is_png(p)), "{paths:?}");
    assert_eq!(emu.stats().cdn, 0, "sync mode returns the images inline");
}

#[test]
fn dev_flags_reach_the_dev_endpoint() {
    let emu = Emu::start();
    let out = tempfile::tempdir().unwrap();
    let output = run(emu.kontext([
        "edit",
        "--image",
        "https://example.com/street.jpg",
        "--prompt",
        "Make it snow",
        "--model",
        "dev",
        "--num-inference-steps",
        "20",
        "--acceleration",
        "high",
        "--resolution-mode",
        "1:1",
        "--no-safety-checker",
        "--out",
        out.path().to_str().unwrap(),
    ]));
    success(&output);
    let submit = emu.only_submit();
    assert_eq!(submit.path, "/fal-ai/flux-kontext/dev");
    assert_eq!(
        submit.body.unwrap(),
        json!({
            "prompt": "Make it snow",
            "image_url": "https://example.com/street.jpg",
            "num_inference_steps": 20,
            "acceleration": "high",
            "resolution_mode": "1:1",
            "enable_safety_checker": false,
        })
    );
}

#[test]
fn generate_and_multi_reach_their_endpoints() {
    let emu = Emu::start();
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_str().unwrap();
    success(&run(emu.kontext([
        "generate",
        "--prompt",
        "A lighthouse at dusk",
        "--model",
        "max",
        "--aspect-ratio",
        "21:9",
        "--out",
        out_arg,
    ])));
    success(&run(emu.kontext([
        "multi",
        "--image",
        SAMPLE,
        "--image",
        "https://example.com/sofa.jpg",
        "--prompt",
        "Put the flour on the sofa",
        "--out",
        out_arg,
    ])));
    let submits = emu.on(Route::Submit);
    assert_eq!(submits.len(), 2);
    assert_eq!(
        submits[0].path,
        "/fal-ai/flux-pro/kontext/max/text-to-image"
    );
    assert_eq!(
        submits[0].body,
        Some(json!({"prompt": "A lighthouse at dusk", "aspect_ratio": "21:9"}))
    );
    assert_eq!(submits[1].path, "/fal-ai/flux-pro/kontext/multi");
    let urls = submits[1].body.as_ref().unwrap()["image_urls"].clone();
    assert!(urls[0].as_str().unwrap().starts_with("data:image/png"));
    assert_eq!(urls[1], "https://example.com/sofa.jpg");
    assert_eq!(files(out.path()).len(), 2);
}

#[test]
fn json_prints_the_output_with_local_paths() {
    let emu = Emu::start();
    let out = tempfile::tempdir().unwrap();
    let output = run(emu.kontext([
        "edit",
        "--json",
        "--image",
        SAMPLE,
        "--prompt",
        PROMPT,
        "--seed",
        "42",
        "--num-images",
        "2",
        "--out",
        out.path().to_str().unwrap(),
    ]));
    let document: Value = serde_json::from_str(&success(&output)).unwrap();
    for image in document["images"].as_array().unwrap() {
        let path = Path::new(image["path"].as_str().unwrap());
        assert!(is_whole_jpeg(path), "{path:?}");
        assert!(path.starts_with(out.path()));
    }
    assert_eq!(document["request_id"], emu.only_submit_id());
    insta::assert_json_snapshot!(document, {
        ".request_id" => "[request id]",
        ".images[].url" => "[emulator CDN url]",
        ".images[].path" => "[path in --out]",
        ".images[].file_name" => "[file name]",
        ".images[].file_size" => "[bytes]",
        ".timings" => "[timings]",
    });
}

#[test]
fn existing_files_are_never_overwritten() {
    let emu = Emu::start();
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("kitchen-1.jpg"), b"mine").unwrap();
    let edit = || {
        emu.kontext([
            "edit",
            "--image",
            SAMPLE,
            "--prompt",
            PROMPT,
            "--name",
            "kitchen",
            "--out",
            out.path().to_str().unwrap(),
        ])
    };
    let first = printed_paths(&success(&run(edit())));
    let second = printed_paths(&success(&run(edit())));
    assert_eq!(first, [out.path().join("kitchen-2.jpg")]);
    assert_eq!(second, [out.path().join("kitchen-3.jpg")]);
    assert_eq!(
        std::fs::read(out.path().join("kitchen-1.jpg")).unwrap(),
        b"mine"
    );
    assert!(is_whole_jpeg(&first[0]) && is_whole_jpeg(&second[0]));
}

#[test]
fn a_download_that_keeps_failing_leaves_no_file() {
    let emu = Emu::start();
    emu.emulator
        .set_faults(vec![FaultRule::rate(Route::Cdn, Fault::ResetMidBody, 1.0)]);
    let out = tempfile::tempdir().unwrap();
    let output = run(emu.kontext([
        "edit",
        "--image",
        SAMPLE,
        "--prompt",
        PROMPT,
        "--out",
        out.path().to_str().unwrap(),
    ]));
    assert_eq!(code(&output), 4, "{}", describe(&output));
    assert!(
        stderr(&output).starts_with("error: could not save the images"),
        "{}",
        describe(&output)
    );
    // The job is named, with the command that fetches it.
    let id = emu.only_submit_id();
    assert!(
        stderr(&output).contains(&format!(
            "fal still has request {id}: `kontext result {id}` fetches it"
        )),
        "{}",
        describe(&output)
    );
    assert!(emu.stats().cdn > 1, "the download was retried");
    assert_eq!(
        files(out.path()),
        Vec::<String>::new(),
        "no partial or temporary file"
    );
}

#[test]
fn a_download_fal_s_cdn_refuses_names_the_job_on_stderr_and_in_json() {
    let emu = Emu::start();
    // The CDN answers every download with nginx's 503 page.
    emu.emulator
        .set_faults(vec![FaultRule::rate(Route::Cdn, Fault::Ingress(503), 1.0)]);
    let out = tempfile::tempdir().unwrap();
    let output = run(emu.kontext([
        "edit",
        "--image",
        SAMPLE,
        "--prompt",
        PROMPT,
        "--out",
        out.path().to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(code(&output), 4, "{}", describe(&output));
    let id = emu.only_submit_id();
    let errors = stderr(&output);
    assert!(
        errors.starts_with("error: could not save the images: fal answered 503")
            && errors.contains(&format!("`kontext result {id}` fetches it")),
        "{}",
        describe(&output)
    );
    assert!(
        !errors.contains("<html>"),
        "the page's title, not its HTML: {errors}"
    );
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["request_id"], id.as_str(), "{document:#}");
    assert_eq!(document["endpoint"], "fal-ai/flux-pro/kontext");
    assert_eq!(document["exit_code"], 4);

    // The job is there to fetch, once the CDN is back.
    emu.emulator.set_faults(vec![]);
    let fetch = emu.kontext(["result", &id, "--out", out.path().to_str().unwrap()]);
    let paths = printed_paths(&success(&run(fetch)));
    assert!(is_whole_jpeg(&paths[0]), "{paths:?}");
    assert_eq!(emu.stats().submit, 1);
}

#[test]
fn the_readme_command_works_with_no_key_and_no_network() {
    // A fresh checkout: the sample image at assets/sample.png, nothing of fal's in the environment.
    let checkout = tempfile::tempdir().unwrap();
    std::fs::create_dir(checkout.path().join("assets")).unwrap();
    std::fs::copy(SAMPLE, checkout.path().join("assets/sample.png")).unwrap();
    let mut command = kontext([
        "edit",
        "--local",
        "--image",
        "assets/sample.png",
        "--prompt",
        PROMPT,
        "--out",
        "out/",
    ]);
    command.current_dir(checkout.path());
    let paths = printed_paths(&success(&run(command)));
    assert_eq!(paths.len(), 1);
    assert!(paths[0].starts_with("out/"), "{paths:?}");
    assert!(is_whole_jpeg(&checkout.path().join(&paths[0])));
}

#[test]
fn a_job_lives_through_an_8_s_outage_of_fals_ingress() {
    let emu = Emu::with(fal_emulator::Config {
        timing: slow(std::time::Duration::from_secs(2)),
        ..fal_emulator::Config::default()
    });
    let out = tempfile::tempdir().unwrap();
    let child = spawn(emu.kontext([
        "generate",
        "--prompt",
        PROMPT,
        "--out",
        out.path().to_str().unwrap(),
    ]));
    emu.wait_for("the submit", |s| s.jobs_created == 1 && s.stream == 1);
    // for 8 s every queue call answers nginx's 502 page and the open status
    // stream is cut; the job itself goes on and finishes meanwhile
    emu.emulator
        .set_faults(vec![FaultRule::outage(std::time::Duration::from_secs(8))]);
    let output = finish(child);
    let paths = printed_paths(&success(&output));
    assert_eq!(paths.len(), 1, "{}", describe(&output));
    assert!(is_whole_jpeg(&paths[0]), "the image is on disk");
    let stats = emu.stats();
    assert_eq!(
        (stats.submit, stats.jobs_created, stats.cancel),
        (1, 1, 0),
        "one submit, no cancel: {stats:?}"
    );
    assert!(stats.faults_injected > 0, "the outage was met: {stats:?}");
}
