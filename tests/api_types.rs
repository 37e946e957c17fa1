//! Snapshots of the public surface that `cargo xtask regen` generates in
//! `fal_kontext_api`: what each endpoint's input sends, what each output and
//! queue answer decodes to, and the list of operations and types. When a
//! schema change or a normalization step changes any of it, the PR shows the
//! change in `tests/snapshots/`.
//!
//! Example values come from the vendored documents in `openapi/` (their
//! `examples`) and from fal's published API page of `fal-ai/flux-pro/kontext`.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU64;
use std::path::PathBuf;

use fal_kontext_api::types::{
    Acceleration, AnyStatus, AspectRatio, CancelStatus, FluxKontextDevInput, FluxKontextDevOutput,
    FluxProKontextInput, FluxProKontextMaxInput, FluxProKontextMaxMultiInput,
    FluxProKontextMaxMultiOutput, FluxProKontextMaxOutput, FluxProKontextMaxTextToImageInput,
    FluxProKontextMaxTextToImageOutput, FluxProKontextMultiInput, FluxProKontextMultiOutput,
    FluxProKontextOutput, FluxProKontextTextToImageInput, FluxProKontextTextToImageOutput,
    OutputFormat, QueueStatus, ResolutionMode, SafetyTolerance, Status,
};
use fal_kontext_api::types::{
    FluxKontextLoraInpaintInput, FluxKontextTrainerInput, LoraWeight, OutputLoraFormat,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

// ---------------------------------------------------------------------------
// The vendored documents and the generated source

/// One vendored document, such as `fal-ai__flux-pro__kontext.json`.
fn document(file: &str) -> Value {
    let path = repo().join("openapi").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// The first `examples` entry of a property of a schema in a document.
fn documented_example(file: &str, schema: &str, property: &str) -> Option<Value> {
    document(file)
        .pointer(&format!(
            "/components/schemas/{schema}/properties/{property}/examples/0"
        ))
        .cloned()
}

fn example_str(file: &str, schema: &str, property: &str) -> String {
    match documented_example(file, schema, property) {
        Some(Value::String(text)) => text,
        other => panic!("{file}: {schema}.{property} has no string example: {other:?}"),
    }
}

fn generated() -> syn::File {
    let path = repo().join("crates/fal-kontext-api/src/generated.rs");
    syn::parse_file(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The items of `pub mod types` in the generated source.
fn type_items() -> Vec<syn::Item> {
    generated()
        .items
        .into_iter()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == "types" => m.content.map(|(_, items)| items),
            _ => None,
        })
        .expect("the generated source has `pub mod types { … }`")
}

/// The fields of the generated struct `name` and whether each is optional.
fn struct_fields(name: &str) -> BTreeMap<String, bool> {
    let item = type_items()
        .into_iter()
        .find_map(|item| match item {
            syn::Item::Struct(s) if s.ident == name => Some(s),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no struct {name} in mod types"));
    item.fields
        .iter()
        .map(|field| {
            // an `Option`, or a field that takes a default when left out
            // (`#[serde(default, …)]`, such as an optional list)
            let defaulted = field.attrs.iter().any(|attr| {
                let attr = quote::quote!(#attr).to_string();
                attr.contains("serde") && attr.contains("default")
            });
            let optional = defaulted
                || matches!(&field.ty, syn::Type::Path(p)
                if p.path.segments.last().is_some_and(|s| s.ident == "Option"));
            (field.ident.as_ref().unwrap().to_string(), optional)
        })
        .collect()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

/// Snapshots an input with every field set and with only the required ones,
/// after checking against the generated struct that "every" and "only the
/// required" are true: a field added by a schema change fails here until the
/// test sets it too.
fn check_input<T: Serialize>(name: &str, every_field: T, required_only: T) {
    let every_field = serde_json::to_value(every_field).unwrap();
    let required_only = serde_json::to_value(required_only).unwrap();
    let fields = struct_fields(name);
    let all: BTreeSet<String> = fields.keys().cloned().collect();
    let required: BTreeSet<String> = fields
        .iter()
        .filter(|(_, optional)| !**optional)
        .map(|(name, _)| name.clone())
        .collect();
    assert_eq!(keys(&every_field), all, "{name}: every field set");
    assert_eq!(
        keys(&required_only),
        required,
        "{name}: required fields only"
    );
    insta::assert_json_snapshot!(
        format!("input_{name}"),
        json!({"every_field": every_field, "required_only": required_only})
    );
}

/// Decodes `response` as `T` and snapshots both the answer and what the type
/// keeps of it (re-serialized), or the decoding error as text.
fn decoded<T: DeserializeOwned + Serialize>(response: Value) -> Value {
    match serde_json::from_value::<T>(response.clone()) {
        Ok(value) => json!({"response": response, "decoded": value}),
        Err(error) => json!({"response": response, "error": error.to_string()}),
    }
}

// ---------------------------------------------------------------------------
// Inputs

#[test]
fn flux_pro_kontext_input() {
    let doc = "fal-ai__flux-pro__kontext.json";
    let prompt = example_str(doc, "FluxProKontextInput", "prompt");
    let image_url = example_str(doc, "FluxProKontextInput", "image_url");
    let every_field = FluxProKontextInput::builder()
        .prompt(prompt.clone())
        .image_url(image_url.as_str())
        .seed(Some(42))
        .guidance_scale(Some(4.5))
        .sync_mode(Some(true))
        .num_images(NonZeroU64::new(2))
        .output_format(Some(OutputFormat::Png))
        .safety_tolerance(Some(SafetyTolerance::X5))
        .enhance_prompt(Some(true))
        .aspect_ratio(Some(AspectRatio::X169));
    let required_only = FluxProKontextInput::builder()
        .prompt(prompt)
        .image_url(image_url.as_str());
    check_input(
        "FluxProKontextInput",
        FluxProKontextInput::try_from(every_field).unwrap(),
        FluxProKontextInput::try_from(required_only).unwrap(),
    );
}

#[test]
fn flux_pro_kontext_max_input() {
    let doc = "fal-ai__flux-pro__kontext__max.json";
    let prompt = example_str(doc, "FluxProKontextMaxInput", "prompt");
    let image_url = example_str(doc, "FluxProKontextMaxInput", "image_url");
    let every_field = FluxProKontextMaxInput::builder()
        .prompt(prompt.clone())
        .image_url(image_url.as_str())
        .seed(Some(42))
        .guidance_scale(Some(4.5))
        .sync_mode(Some(true))
        .num_images(NonZeroU64::new(2))
        .output_format(Some(OutputFormat::Png))
        .safety_tolerance(Some(SafetyTolerance::X5))
        .enhance_prompt(Some(true))
        .aspect_ratio(Some(AspectRatio::X169));
    let required_only = FluxProKontextMaxInput::builder()
        .prompt(prompt)
        .image_url(image_url.as_str());
    check_input(
        "FluxProKontextMaxInput",
        FluxProKontextMaxInput::try_from(every_field).unwrap(),
        FluxProKontextMaxInput::try_from(required_only).unwrap(),
    );
}

#[test]
fn flux_pro_kontext_text_to_image_input() {
    let doc = "fal-ai__flux-pro__kontext__text-to-image.json";
    let prompt = example_str(doc, "FluxProKontextTextToImageInput", "prompt");
    let every_field = FluxProKontextTextToImageInput::builder()
        .prompt(prompt.clone())
        .seed(Some(42))
        .guidance_scale(Some(4.5))
        .sync_mode(Some(true))
        .num_images(NonZeroU64::new(2))
        .output_format(Some(OutputFormat::Png))
        .safety_tolerance(Some(SafetyTolerance::X5))
        .enhance_prompt(Some(true))
        .aspect_ratio(Some(AspectRatio::X916));
    let required_only = FluxProKontextTextToImageInput::builder().prompt(prompt);
    check_input(
        "FluxProKontextTextToImageInput",
        FluxProKontextTextToImageInput::try_from(every_field).unwrap(),
        FluxProKontextTextToImageInput::try_from(required_only).unwrap(),
    );
}

#[test]
fn flux_pro_kontext_max_text_to_image_input() {
    let doc = "fal-ai__flux-pro__kontext__max__text-to-image.json";
    let prompt = example_str(doc, "FluxProKontextMaxTextToImageInput", "prompt");
    let every_field = FluxProKontextMaxTextToImageInput::builder()
        .prompt(prompt.clone())
        .seed(Some(42))
        .guidance_scale(Some(4.5))
        .sync_mode(Some(true))
        .num_images(NonZeroU64::new(2))
        .output_format(Some(OutputFormat::Png))
        .safety_tolerance(Some(SafetyTolerance::X5))
        .enhance_prompt(Some(true))
        .aspect_ratio(Some(AspectRatio::X916));
    let required_only = FluxProKontextMaxTextToImageInput::builder().prompt(prompt);
    check_input(
        "FluxProKontextMaxTextToImageInput",
        FluxProKontextMaxTextToImageInput::try_from(every_field).unwrap(),
        FluxProKontextMaxTextToImageInput::try_from(required_only).unwrap(),
    );
}

/// The multi documents' `image_urls` example: a JSON array of strings.
fn example_image_urls(doc: &str, schema: &str) -> Vec<String> {
    serde_json::from_value(documented_example(doc, schema, "image_urls").unwrap()).unwrap()
}

#[test]
fn flux_pro_kontext_multi_input() {
    let doc = "fal-ai__flux-pro__kontext__multi.json";
    let prompt = example_str(doc, "FluxProKontextMultiInput", "prompt");
    let image_urls = example_image_urls(doc, "FluxProKontextMultiInput");
    let every_field = FluxProKontextMultiInput::builder()
        .prompt(prompt.clone())
        .image_urls(image_urls.clone())
        .seed(Some(42))
        .guidance_scale(Some(4.5))
        .sync_mode(Some(true))
        .num_images(NonZeroU64::new(2))
        .output_format(Some(OutputFormat::Png))
        .safety_tolerance(Some(SafetyTolerance::X5))
        .enhance_prompt(Some(true))
        .aspect_ratio(Some(AspectRatio::X43));
    let required_only = FluxProKontextMultiInput::builder()
        .prompt(prompt)
        .image_urls(image_urls);
    check_input(
        "FluxProKontextMultiInput",
        FluxProKontextMultiInput::try_from(every_field).unwrap(),
        FluxProKontextMultiInput::try_from(required_only).unwrap(),
    );
}

#[test]
fn flux_pro_kontext_max_multi_input() {
    let doc = "fal-ai__flux-pro__kontext__max__multi.json";
    let prompt = example_str(doc, "FluxProKontextMaxMultiInput", "prompt");
    let image_urls = example_image_urls(doc, "FluxProKontextMaxMultiInput");
    let every_field = FluxProKontextMaxMultiInput::builder()
        .prompt(prompt.clone())
        .image_urls(image_urls.clone())
        .seed(Some(42))
        .guidance_scale(Some(4.5))
        .sync_mode(Some(true))
        .num_images(NonZeroU64::new(2))
        .output_format(Some(OutputFormat::Png))
        .safety_tolerance(Some(SafetyTolerance::X5))
        .enhance_prompt(Some(true))
        .aspect_ratio(Some(AspectRatio::X43));
    let required_only = FluxProKontextMaxMultiInput::builder()
        .prompt(prompt)
        .image_urls(image_urls);
    check_input(
        "FluxProKontextMaxMultiInput",
        FluxProKontextMaxMultiInput::try_from(every_field).unwrap(),
        FluxProKontextMaxMultiInput::try_from(required_only).unwrap(),
    );
}

#[test]
fn flux_kontext_lora_inpaint_input() {
    let lora = LoraWeight {
        path: "https://v3.fal.media/files/x/pytorch_lora_weights.safetensors".into(),
        scale: Some(0.8),
    };
    let every_field = FluxKontextLoraInpaintInput::builder()
        .prompt("Put this sofa there")
        .image_url("https://example.com/room.png")
        .mask_url("https://example.com/mask.png")
        .reference_image_url("https://example.com/sofa.png")
        .strength(Some(0.9))
        .loras(vec![lora])
        .seed(Some(42))
        .guidance_scale(Some(0.0))
        .num_inference_steps(Some(30))
        .sync_mode(Some(true))
        .num_images(NonZeroU64::new(2))
        .output_format(Some(OutputFormat::Jpeg))
        .enable_safety_checker(Some(false))
        .acceleration(Some(Acceleration::High));
    let required_only = FluxKontextLoraInpaintInput::builder()
        .prompt("Put this sofa there")
        .image_url("https://example.com/room.png")
        .mask_url("https://example.com/mask.png")
        .reference_image_url("https://example.com/sofa.png");
    check_input(
        "FluxKontextLoraInpaintInput",
        FluxKontextLoraInpaintInput::try_from(every_field).unwrap(),
        FluxKontextLoraInpaintInput::try_from(required_only).unwrap(),
    );
}

#[test]
fn flux_kontext_trainer_input() {
    let every_field = FluxKontextTrainerInput::builder()
        .image_data_url("https://v3.fal.media/files/x/pairs.zip")
        .steps(Some(1500))
        .learning_rate(Some(0.0002))
        .default_caption(Some("Make it a watercolour".to_string()))
        .output_lora_format(Some(OutputLoraFormat::Comfy));
    let required_only =
        FluxKontextTrainerInput::builder().image_data_url("https://v3.fal.media/files/x/pairs.zip");
    check_input(
        "FluxKontextTrainerInput",
        FluxKontextTrainerInput::try_from(every_field).unwrap(),
        FluxKontextTrainerInput::try_from(required_only).unwrap(),
    );
}

#[test]
fn flux_kontext_dev_input() {
    let doc = "fal-ai__flux-kontext__dev.json";
    let prompt = example_str(doc, "FluxKontextDevInput", "prompt");
    let image_url = example_str(doc, "FluxKontextDevInput", "image_url");
    let every_field = FluxKontextDevInput::builder()
        .prompt(prompt.clone())
        .image_url(image_url.clone())
        .seed(Some(42))
        .guidance_scale(Some(4.5))
        .num_inference_steps(Some(30))
        .sync_mode(Some(true))
        .num_images(NonZeroU64::new(2))
        .output_format(Some(OutputFormat::Png))
        .enable_safety_checker(Some(false))
        .acceleration(Some(Acceleration::High))
        .resolution_mode(Some(ResolutionMode::X169));
    let required_only = FluxKontextDevInput::builder()
        .prompt(prompt)
        .image_url(image_url);
    check_input(
        "FluxKontextDevInput",
        FluxKontextDevInput::try_from(every_field).unwrap(),
        FluxKontextDevInput::try_from(required_only).unwrap(),
    );
}

#[test]
fn an_empty_image_url_is_refused_before_sending() {
    // The edit documents give `image_url` a `minLength` of 1; the generated
    // `ImageUrl` enforces it, so an empty URL never reaches fal.
    let input = FluxProKontextInput::builder()
        .prompt("Put a donut next to the flour.")
        .image_url("");
    let error = FluxProKontextInput::try_from(input).unwrap_err();
    insta::assert_json_snapshot!(error.to_string());
}

// ---------------------------------------------------------------------------
// Outputs

/// A whole response of an endpoint, built from its document: the `images`
/// example of its output schema (or, for the four endpoints whose documents
/// give none, the main endpoint's), the `prompt` example of its input schema,
/// and values for the fields without examples (`timings`, `seed`,
/// `has_nsfw_concepts`).
fn documented_response(doc: &str, input: &str, output: &str) -> Value {
    let images = documented_example(doc, output, "images").unwrap_or_else(|| {
        documented_example(
            "fal-ai__flux-pro__kontext.json",
            "FluxProKontextOutput",
            "images",
        )
        .unwrap()
    });
    json!({
        "images": images,
        "timings": {"inference": 3.27},
        "seed": 1_837_154_372,
        "has_nsfw_concepts": [false],
        "prompt": example_str(doc, input, "prompt"),
    })
}

#[test]
fn flux_pro_kontext_output() {
    let response = documented_response(
        "fal-ai__flux-pro__kontext.json",
        "FluxProKontextInput",
        "FluxProKontextOutput",
    );
    insta::assert_json_snapshot!(decoded::<FluxProKontextOutput>(response));
}

#[test]
fn flux_pro_kontext_max_output() {
    let response = documented_response(
        "fal-ai__flux-pro__kontext__max.json",
        "FluxProKontextMaxInput",
        "FluxProKontextMaxOutput",
    );
    insta::assert_json_snapshot!(decoded::<FluxProKontextMaxOutput>(response));
}

#[test]
fn flux_pro_kontext_text_to_image_output() {
    let response = documented_response(
        "fal-ai__flux-pro__kontext__text-to-image.json",
        "FluxProKontextTextToImageInput",
        "FluxProKontextTextToImageOutput",
    );
    insta::assert_json_snapshot!(decoded::<FluxProKontextTextToImageOutput>(response));
}

#[test]
fn flux_pro_kontext_max_text_to_image_output() {
    let response = documented_response(
        "fal-ai__flux-pro__kontext__max__text-to-image.json",
        "FluxProKontextMaxTextToImageInput",
        "FluxProKontextMaxTextToImageOutput",
    );
    insta::assert_json_snapshot!(decoded::<FluxProKontextMaxTextToImageOutput>(response));
}

#[test]
fn flux_pro_kontext_multi_output() {
    let response = documented_response(
        "fal-ai__flux-pro__kontext__multi.json",
        "FluxProKontextMultiInput",
        "FluxProKontextMultiOutput",
    );
    insta::assert_json_snapshot!(decoded::<FluxProKontextMultiOutput>(response));
}

#[test]
fn flux_pro_kontext_max_multi_output() {
    let response = documented_response(
        "fal-ai__flux-pro__kontext__max__multi.json",
        "FluxProKontextMaxMultiInput",
        "FluxProKontextMaxMultiOutput",
    );
    insta::assert_json_snapshot!(decoded::<FluxProKontextMaxMultiOutput>(response));
}

#[test]
fn flux_kontext_dev_output() {
    let response = documented_response(
        "fal-ai__flux-kontext__dev.json",
        "FluxKontextDevInput",
        "FluxKontextDevOutput",
    );
    insta::assert_json_snapshot!(decoded::<FluxKontextDevOutput>(response));
}

#[test]
fn published_example_response_decodes() {
    // The "Example Response" on fal's API page of fal-ai/flux-pro/kontext, as
    // published (https://fal.ai/models/fal-ai/flux-pro/kontext/llms.txt): it leaves out
    // `timings`, `seed` and `has_nsfw_concepts`, which the document marks
    // required. fal sends it, so it decodes (`output_needs_only_image_urls`).
    let published = json!({
        "images": [{
            "height": 1024,
            "url": "https://fal.media/files/tiger/7dSJbIU_Ni-0Zp9eaLsvR_fe56916811d84ac69c6ffc0d32dca151.jpg",
            "width": 1024
        }],
        "prompt": ""
    });
    let output: FluxProKontextOutput = serde_json::from_value(published.clone()).unwrap();
    assert_eq!(
        (output.images[0].width, output.images[0].height, output.seed),
        (Some(1024), Some(1024), None)
    );
    assert_eq!(output.prompt.as_deref(), Some(""));
    insta::assert_json_snapshot!(decoded::<FluxProKontextOutput>(published));
}

/// Every endpoint's output decodes from its images' URLs alone, and keeps
/// them in order.
#[test]
fn outputs_need_only_their_image_urls() {
    let lean = json!({"images": [{"url": "https://v3.fal.media/files/a.jpg"}, {"url": "https://v3.fal.media/files/b.png"}]});
    fn urls<T: DeserializeOwned>(lean: &Value, of: fn(&T) -> Vec<String>) -> Vec<String> {
        of(&serde_json::from_value(lean.clone()).unwrap())
    }
    macro_rules! each {
        ($($ty:ident),+ $(,)?) => {[$(
            (stringify!($ty), urls::<fal_kontext_api::types::$ty>(&lean, |o| o.images.iter().map(|i| i.url.clone()).collect())),
        )+]};
    }
    // every output the documents describe with images
    for (name, decoded) in fal_kontext_api::image_outputs!(each) {
        assert_eq!(
            decoded,
            [
                "https://v3.fal.media/files/a.jpg",
                "https://v3.fal.media/files/b.png"
            ],
            "{name}"
        );
    }
    let no_images = serde_json::from_value::<FluxKontextDevOutput>(json!({"seed": 1}));
    assert!(
        no_images
            .unwrap_err()
            .to_string()
            .contains("missing field `images`"),
        "an output without images is not an output"
    );
}

#[test]
fn unknown_response_fields_are_ignored() {
    // Real answers carry fields no schema lists (older dev documents had
    // `file_data` on images); they must decode, not fail.
    let plain = documented_response(
        "fal-ai__flux-pro__kontext.json",
        "FluxProKontextInput",
        "FluxProKontextOutput",
    );
    let mut extended = plain.clone();
    extended["nsfw_scores"] = json!([0.02]);
    extended["request_metadata"] = json!({"region": "us-east"});
    extended["images"][0]["file_data"] = Value::Null;
    extended["images"][0]["seed"] = json!(7);

    let expected: FluxProKontextOutput = serde_json::from_value(plain).unwrap();
    let actual: FluxProKontextOutput = serde_json::from_value(extended.clone()).unwrap();
    assert_eq!(actual, expected, "the extra fields change nothing");
    insta::assert_json_snapshot!(decoded::<FluxProKontextOutput>(extended));
}

// ---------------------------------------------------------------------------
// Queue answers

const REQUEST_ID: &str = "764cabcf-b745-4b3e-ae38-1200304cf45b";

/// The URLs fal puts in every status answer: at the app root, not under the
/// whole endpoint id.
fn queue_urls(status: &str, extra: Value) -> Value {
    let base = format!("https://queue.fal.run/fal-ai/flux-pro/requests/{REQUEST_ID}");
    let mut answer = json!({
        "status": status,
        "request_id": REQUEST_ID,
        "response_url": base,
        "status_url": format!("{base}/status"),
        "cancel_url": format!("{base}/cancel"),
    });
    for (key, value) in extra.as_object().unwrap() {
        answer[key] = value.clone();
    }
    answer
}

#[test]
fn queue_status_in_queue() {
    let answer = queue_urls(
        "IN_QUEUE",
        json!({"logs": null, "metrics": {}, "queue_position": 2}),
    );
    insta::assert_json_snapshot!(decoded::<QueueStatus>(answer));
}

#[test]
fn queue_status_in_progress_with_logs() {
    let answer = queue_urls(
        "IN_PROGRESS",
        json!({
            "logs": [
                {"message": "Loading the model", "level": "INFO", "source": "USER",
                 "timestamp": "2026-05-12T09:30:01.218493"},
                {"message": "Generating 1 image", "level": "INFO", "source": "USER",
                 "timestamp": "2026-05-12T09:30:02.004117"}
            ],
            "metrics": {}
        }),
    );
    insta::assert_json_snapshot!(decoded::<QueueStatus>(answer));
}

#[test]
fn queue_status_completed_with_metrics() {
    let answer = queue_urls(
        "COMPLETED",
        json!({"logs": null, "metrics": {"inference_time": 3.2745}}),
    );
    insta::assert_json_snapshot!(decoded::<QueueStatus>(answer));
}

#[test]
fn queue_status_completed_with_an_error() {
    // A request that failed on fal's side still ends COMPLETED, with the
    // failure in `error` and its category in `error_type`.
    let answer = queue_urls(
        "COMPLETED",
        json!({
            "logs": null,
            "metrics": {},
            "error": "Request timed out",
            "error_type": "request_timeout"
        }),
    );
    insta::assert_json_snapshot!(decoded::<QueueStatus>(answer));
}

#[test]
fn queue_status_with_only_its_status() {
    // All fal's clients read as required (fal-client 1.0.3 `_parse_status`).
    let answer = json!({"status": "IN_PROGRESS"});
    let status: QueueStatus = serde_json::from_value(answer.clone()).unwrap();
    assert_eq!(status.status, AnyStatus::Known(Status::InProgress));
    assert_eq!((status.request_id, status.status_url), (None, None));
    insta::assert_json_snapshot!(decoded::<QueueStatus>(answer));
}

#[test]
fn queue_status_of_a_value_fal_added_later() {
    let answer = queue_urls("PAUSED_FOR_MAINTENANCE", json!({"logs": null}));
    let status: QueueStatus = serde_json::from_value(answer.clone()).unwrap();
    assert_eq!(
        status.status,
        AnyStatus::Other("PAUSED_FOR_MAINTENANCE".into())
    );
    insta::assert_json_snapshot!(decoded::<QueueStatus>(answer));
    let not_a_string = serde_json::from_value::<QueueStatus>(json!({"status": 3}));
    assert!(not_a_string.is_err(), "a status is still a string");
}

#[test]
fn cancel_answers() {
    // 202 and 400 as the live service answers them, 200 as the documents
    // declare it.
    let answers: Vec<Value> = [
        json!({"status": "CANCELLATION_REQUESTED"}),
        json!({"status": "ALREADY_COMPLETED"}),
        json!({"success": true}),
    ]
    .into_iter()
    .map(decoded::<CancelStatus>)
    .collect();
    insta::assert_json_snapshot!(answers);
}

// ---------------------------------------------------------------------------
// The public surface

/// The first paragraph of an item's doc comment, on one line.
fn summary(attrs: &[syn::Attribute]) -> String {
    let docs: Vec<String> = attrs
        .iter()
        .filter_map(|attr| match &attr.meta {
            syn::Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    docs.join("\n")
        .lines()
        .map(str::trim)
        .skip_while(|line| line.is_empty())
        .take_while(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn generated_operations() {
    // Every `pub fn` of `impl Client` (not of its trait impls), with the first
    // paragraph of its docs, which names the method and path it calls.
    let operations: Vec<String> = generated()
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Impl(imp) if imp.trait_.is_none() => match &*imp.self_ty {
                syn::Type::Path(p) if p.path.is_ident("Client") => Some(&imp.items),
                _ => None,
            },
            _ => None,
        })
        .flatten()
        .filter_map(|item| match item {
            syn::ImplItem::Fn(f) if matches!(f.vis, syn::Visibility::Public(_)) => {
                Some(format!("{}: {}", f.sig.ident, summary(&f.attrs)))
            }
            _ => None,
        })
        .collect();
    insta::assert_json_snapshot!(operations);
}

/// A type as text: tokens print with spaces between them (field types have
/// none that matter), and a type that prettyplease wrapped over several lines
/// keeps a trailing comma in its generic arguments.
fn rendered(ty: &syn::Type) -> String {
    quote::quote!(#ty)
        .to_string()
        .replace(' ', "")
        .replace(",>", ">")
}

/// The value a variant has on the wire: its `#[serde(rename = "…")]`.
fn wire_name(variant: &syn::Variant) -> String {
    let mut name = variant.ident.to_string();
    for attr in variant.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                name = meta.value()?.parse::<syn::LitStr>()?.value();
            }
            Ok(())
        });
    }
    name
}

#[test]
fn generated_types() {
    // The items of `mod types`, and the shape of each struct (fields and
    // their types) and enum (values on the wire): a new field or enum value
    // shows here even where no other snapshot sets it.
    let mut names = Vec::new();
    let mut shapes = BTreeMap::new();
    for item in type_items() {
        match item {
            syn::Item::Struct(s) => {
                names.push(format!("struct {}", s.ident));
                let shape: BTreeMap<String, String> = s
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        let name = f.ident.as_ref().map_or(i.to_string(), |id| id.to_string());
                        (name, rendered(&f.ty))
                    })
                    .collect();
                shapes.insert(s.ident.to_string(), json!(shape));
            }
            syn::Item::Enum(e) => {
                names.push(format!("enum {}", e.ident));
                let values: Vec<String> = e.variants.iter().map(wire_name).collect();
                shapes.insert(e.ident.to_string(), json!(values));
            }
            syn::Item::Mod(m) => names.push(format!("mod {}", m.ident)),
            _ => {}
        }
    }
    insta::assert_json_snapshot!("generated_type_names", names);
    insta::assert_json_snapshot!("generated_type_shapes", shapes);
}
