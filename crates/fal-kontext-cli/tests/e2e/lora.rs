//! The Kontext LoRA commands: the README's train → edit on a fresh clone
//! (`--local`, the repo's `examples/pairs`), `edit --lora` and `generate
//! --lora` reaching the LoRA endpoints, `inpaint`, and `train` leaving a
//! training running when its wait ends.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::harness::*;

/// The repository's root, where the README's commands run.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_readme_trains_on_the_example_pairs_then_edits_with_the_lora() {
    let scratch = tempfile::tempdir().unwrap();
    let (lora, out) = (scratch.path().join("lora"), scratch.path().join("out"));
    let mut train = kontext([
        "train",
        "--pairs",
        "examples/pairs",
        "--local",
        "--out",
        lora.to_str().unwrap(),
    ]);
    train.current_dir(repo());
    let saved = printed_paths(&success(&run(train)));
    let weights = saved
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .expect("the LoRA's weights are saved")
        .clone();
    assert!(weights.starts_with(&lora), "{weights:?}");
    assert!(
        saved
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "json")),
        "and its config: {saved:?}"
    );
    let bytes = std::fs::read(&weights).unwrap();
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let meta: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header]).unwrap();
    assert_eq!(
        meta["__metadata__"]["pairs"], "3",
        "the three example pairs"
    );

    let mut edit = kontext([
        "edit",
        "--local",
        "--lora",
        &format!("{}:0.8", weights.display()),
        "--image",
        "assets/sample.png",
        "--prompt",
        "Make the cup blue",
        "--out",
        out.to_str().unwrap(),
    ]);
    edit.current_dir(repo());
    let images = printed_paths(&success(&run(edit)));
    assert_eq!(images.len(), 1);
    assert!(is_png(&images[0]), "the LoRA endpoint's default is PNG");
}

#[test]
fn edit_and_generate_with_a_lora_go_to_the_lora_endpoints() {
    let emu = Emu::start();
    let out = tempfile::tempdir().unwrap();
    let url = "https://v3.fal.media/files/koala/style.safetensors";
    let output = run(emu.kontext([
        "edit",
        "--image",
        "https://example.com/kitchen.png",
        "--prompt",
        "p",
        "--lora",
        &format!("{url}:1.5"),
        "--lora",
        url,
        "--num-inference-steps",
        "20",
        "--guidance-scale",
        "0",
        "--out",
        out.path().to_str().unwrap(),
    ]));
    success(&output);
    let submit = emu.only_submit();
    assert_eq!(submit.path, "/fal-ai/flux-kontext-lora");
    let body = submit.body.unwrap();
    assert_eq!(
        body["loras"],
        json!([{"path": url, "scale": 1.5}, {"path": url, "scale": 1.0}])
    );
    assert_eq!(body["num_inference_steps"], 20);

    let emu = Emu::start();
    success(&run(emu.kontext([
        "generate",
        "--prompt",
        "p",
        "--lora",
        url,
        "--out",
        out.path().to_str().unwrap(),
    ])));
    assert_eq!(
        emu.only_submit().path,
        "/fal-ai/flux-kontext-lora/text-to-image"
    );
}

#[test]
fn inpaint_sends_its_three_images() {
    let emu = Emu::start();
    let out = tempfile::tempdir().unwrap();
    let output = run(emu.kontext([
        "inpaint",
        "--image",
        SAMPLE,
        "--mask",
        "https://example.com/mask.png",
        "--reference",
        "https://example.com/sofa.png",
        "--prompt",
        "Put the sofa there",
        "--strength",
        "0.9",
        "--out",
        out.path().to_str().unwrap(),
    ]));
    let images = printed_paths(&success(&output));
    assert_eq!(images.len(), 1);
    let submit = emu.only_submit();
    assert_eq!(submit.path, "/fal-ai/flux-kontext-lora/inpaint");
    let body = submit.body.unwrap();
    assert_eq!(body["mask_url"], "https://example.com/mask.png");
    assert_eq!(body["reference_image_url"], "https://example.com/sofa.png");
    assert_eq!(body["strength"], 0.9);
}

#[test]
fn a_training_whose_wait_ends_keeps_running_and_is_collected_later() {
    let emu = Emu::with(fal_emulator::Config {
        timing: slow(Duration::from_secs(4)),
        ..Default::default()
    });
    let out = tempfile::tempdir().unwrap();
    let output = run(emu.kontext([
        "train",
        "--pairs",
        "https://example.com/pairs.zip",
        "--timeout",
        "1",
        "--out",
        out.path().to_str().unwrap(),
    ]));
    let said = stderr(&output);
    assert_eq!(code(&output), 4, "{}", describe(&output));
    assert!(said.contains("kontext train --resume"), "{said}");
    assert_eq!(emu.stats().cancel, 0, "the training was not cancelled");
    let id = emu.only_submit_id();
    let collected = run(emu.kontext([
        "train",
        "--resume",
        &id,
        "--out",
        out.path().to_str().unwrap(),
    ]));
    let saved = printed_paths(&success(&collected));
    assert_eq!(saved.len(), 2, "the weights and the config");
}

#[test]
fn ctrl_c_leaves_a_training_running_and_says_how_to_collect_it() {
    let emu = Emu::with(fal_emulator::Config {
        timing: slow(Duration::from_secs(60)),
        ..Default::default()
    });
    let out = tempfile::tempdir().unwrap();
    let mut train = emu.kontext([
        "train",
        "--pairs",
        "examples/pairs",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    train.current_dir(repo());
    let child = spawn(train);
    emu.wait_for("the training to run", |s| {
        s.jobs_created == 1 && s.stream >= 1
    });
    signal(child.id(), "INT");
    let output = finish(child);
    assert_eq!(code(&output), 130, "{}", describe(&output));
    let said = stderr(&output);
    assert!(
        said.contains("keeps running at fal (not cancelled)"),
        "{said}"
    );
    assert!(said.contains("kontext train --resume "), "{said}");
    let stats = emu.stats();
    assert_eq!((stats.cancel, stats.jobs_cancelled), (0, 0), "{stats:?}");
    assert_eq!(files(out.path()), Vec::<String>::new());
}

#[test]
fn a_batch_line_with_loras_goes_to_the_lora_endpoint() {
    let emu = Emu::start();
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    let url = "https://v3.fal.media/files/koala/style.safetensors";
    std::fs::write(
        &jobs,
        format!(
            r#"{{"id": "styled", "prompt": "p", "image_url": "https://example.com/a.png", "loras": ["{url}:0.5", {{"path": "{url}", "scale": 2}}]}}"#
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    success(&run(batch(&emu, &jobs, &out, &[])));
    let submit = emu.only_submit();
    assert_eq!(submit.path, "/fal-ai/flux-kontext-lora");
    assert_eq!(
        submit.body.unwrap()["loras"],
        json!([{"path": url, "scale": 0.5}, {"path": url, "scale": 2.0}])
    );
}
