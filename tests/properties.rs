//! Property tests of the builders: every valid input they build is accepted
//! by the emulator's schema validation (the endpoints' own OpenAPI input
//! schemas) and decodes back through the SDK; every invalid one is refused
//! client-side, with the field named, before a byte is sent.

mod common;

use std::time::Duration;

use fal_emulator::{Config, Emulator};
use fal_kontext::{
    Acceleration, AspectRatio, Client, Error, Fields, ImageInput, OutputFormat, ResolutionMode,
    SafetyTolerance,
};
use proptest::prelude::*;
use proptest::sample::select;

/// Cases per property: enough to cover every enum value and the range ends
/// many times over, few enough to keep `cargo test` quick.
const CASES: u32 = 128;

/// A runtime that outlives the cases, and an emulator served on it.
fn runtime_and_emulator(eager_validation: bool) -> (tokio::runtime::Runtime, Emulator) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let emulator = runtime.block_on(common::emulator_with(Config {
        timing: common::quick(),
        eager_validation,
        ..Config::default()
    }));
    (runtime, emulator)
}

/// Which builder, with its images.
#[derive(Clone, Debug)]
enum Endpoint {
    Edit { max: bool, image: String },
    TextToImage { max: bool },
    Multi { max: bool, images: Vec<String> },
    Dev { image: String },
}

/// The fields of `f` that `endpoint`'s model has: [pro] and [max] have
/// theirs, [dev] its own; the fields every endpoint has are kept.
fn for_endpoint(f: &Fields, endpoint: &Endpoint) -> Fields {
    match endpoint {
        Endpoint::Dev { .. } => Fields {
            safety_tolerance: None,
            aspect_ratio: None,
            enhance_prompt: None,
            ..f.clone()
        },
        _ => Fields {
            num_inference_steps: None,
            enable_safety_checker: None,
            acceleration: None,
            resolution_mode: None,
            ..f.clone()
        },
    }
}

/// An image the emulator can use without the network: a URL off this
/// machine (a placeholder pattern there) or a small inline PNG.
fn image() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]{1,12}".prop_map(|name| format!("https://example.com/{name}.png")),
        Just(format!(
            "data:image/png;base64,{}",
            base64_of(&std::fs::read(common::SAMPLE).unwrap())
        )),
    ]
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    prop_oneof![
        (any::<bool>(), image()).prop_map(|(max, image)| Endpoint::Edit { max, image }),
        any::<bool>().prop_map(|max| Endpoint::TextToImage { max }),
        (any::<bool>(), prop::collection::vec(image(), 1..4))
            .prop_map(|(max, images)| Endpoint::Multi { max, images }),
        image().prop_map(|image| Endpoint::Dev { image }),
    ]
}

/// Values inside every documented range, the ends included.
fn valid_fields() -> impl Strategy<Value = Fields> {
    let common = (
        any::<Option<i64>>(),
        prop::option::of(prop_oneof![Just(1.0), Just(20.0), 1.0..=20.0f64]),
        prop::option::of(1u8..=4),
        prop::option::of(select(OutputFormat::ALL)),
        any::<Option<bool>>(),
    );
    let pro = (
        prop::option::of(select(SafetyTolerance::ALL)),
        prop::option::of(select(AspectRatio::ALL)),
        any::<Option<bool>>(),
    );
    let dev = (
        prop::option::of(10u8..=50),
        any::<Option<bool>>(),
        prop::option::of(select(Acceleration::ALL)),
        prop::option::of(select(ResolutionMode::ALL)),
    );
    (common, pro, dev).prop_map(|(c, p, d)| Fields {
        seed: c.0,
        guidance_scale: c.1,
        num_images: c.2,
        output_format: c.3,
        sync_mode: c.4,
        safety_tolerance: p.0,
        aspect_ratio: p.1,
        enhance_prompt: p.2,
        num_inference_steps: d.0,
        enable_safety_checker: d.1,
        acceleration: d.2,
        resolution_mode: d.3,
    })
}

/// What a run gave back that a user would check.
#[derive(Debug)]
struct Ran {
    images: usize,
    seed: Option<i64>,
}

/// Builds the request with the builders and runs it on the synchronous
/// origin, which validates it at once and answers the output.
async fn run(
    client: &Client,
    endpoint: &Endpoint,
    prompt: &str,
    f: &Fields,
) -> fal_kontext::Result<Ran> {
    macro_rules! send {
        ($request:expr) => {{
            let output = $request.run_sync().await?;
            Ok(Ran {
                images: output.images.len(),
                seed: output.seed,
            })
        }};
    }
    let model = |max: bool| {
        if max {
            fal_kontext::ProModel::Max
        } else {
            fal_kontext::ProModel::Pro
        }
    };
    let f = for_endpoint(f, endpoint);
    match endpoint {
        Endpoint::Edit { max, image } => {
            send!(
                client
                    .edit(prompt, image.as_str())
                    .fields(f)
                    .model(model(*max))
            )
        }
        Endpoint::TextToImage { max } => {
            send!(client.text_to_image(prompt).fields(f).model(model(*max)))
        }
        Endpoint::Multi { max, images } => send!(
            client
                .multi(prompt, images.iter().map(String::as_str))
                .fields(f)
                .model(model(*max))
        ),
        Endpoint::Dev { image } => send!(client.dev(prompt, image.as_str()).fields(f)),
    }
}

#[test]
fn every_valid_input_is_accepted_by_the_schema_and_decodes_back() {
    let (runtime, emulator) = runtime_and_emulator(true);
    let client = common::client(&emulator);
    let config = ProptestConfig {
        cases: CASES,
        ..ProptestConfig::default()
    };
    proptest!(config, |(endpoint in endpoint(), prompt in ".{0,40}", f in valid_fields())| {
        let ran = runtime.block_on(run(&client, &endpoint, &prompt, &f));
        let ran = match ran {
            Ok(ran) => ran,
            Err(error) => return Err(TestCaseError::fail(format!("{error}"))),
        };
        prop_assert_eq!(ran.images, usize::from(f.num_images.unwrap_or(1)));
        if let Some(seed) = f.seed {
            prop_assert_eq!(ran.seed, Some(seed), "the output names the seed asked for");
        }
    });
    let stats = emulator.stats();
    assert_eq!(
        stats.run, stats.jobs_completed,
        "every run was accepted: {stats:?}"
    );
}

/// One rule broken on top of an otherwise valid request, and the field the
/// refusal must name.
#[derive(Clone, Debug)]
enum Broken {
    GuidanceScale(f64),
    NumImages(u8),
    NumInferenceSteps(u8),
    Webhook(String),
    RequestTimeout(Duration),
    NoImages,
    EmptyImage,
    NotAnImage(Vec<u8>),
}

impl Broken {
    fn field(&self, endpoint: &Endpoint) -> &'static str {
        match self {
            Broken::GuidanceScale(_) => "guidance_scale",
            Broken::NumImages(_) => "num_images",
            Broken::NumInferenceSteps(_) => "num_inference_steps",
            Broken::Webhook(_) => "fal_webhook",
            Broken::RequestTimeout(_) => "x-fal-request-timeout",
            Broken::NoImages => "image_urls",
            Broken::EmptyImage | Broken::NotAnImage(_) => match endpoint {
                Endpoint::Multi { .. } => "image_urls",
                _ => "image_url",
            },
        }
    }
}

fn broken() -> impl Strategy<Value = Broken> {
    prop_oneof![
        prop_oneof![
            -1e12..1.0f64,
            (20.0f64..1e12).prop_filter("above 20", |x| *x > 20.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
        ]
        .prop_map(Broken::GuidanceScale),
        prop_oneof![Just(0u8), 5u8..=255].prop_map(Broken::NumImages),
        prop_oneof![0u8..10, 51u8..=255].prop_map(Broken::NumInferenceSteps),
        prop_oneof![
            "[a-z]{0,8}",
            "(ftp|file|ws|mailto):[a-z/]{0,12}",
            "//[a-z]{1,8}\\.com/hook",
        ]
        .prop_map(Broken::Webhook),
        (0u64..=1000).prop_map(|ms| Broken::RequestTimeout(Duration::from_millis(ms))),
        Just(Broken::NoImages),
        Just(Broken::EmptyImage),
        // no known image starts with a NUL and then text
        "[a-z ]{0,64}".prop_map(|text| Broken::NotAnImage(format!("\0{text}").into_bytes())),
    ]
}

/// Builds a request from a valid one with `broken` applied, and submits it.
async fn submit_broken(
    client: &Client,
    endpoint: &Endpoint,
    f: &Fields,
    broken: &Broken,
) -> fal_kontext::Result<()> {
    let mut f = f.clone();
    let mut endpoint = endpoint.clone();
    let mut webhook = None;
    let mut timeout = None;
    match broken {
        Broken::GuidanceScale(x) => f.guidance_scale = Some(*x),
        Broken::NumImages(n) => f.num_images = Some(*n),
        Broken::NumInferenceSteps(n) => {
            f.num_inference_steps = Some(*n);
            endpoint = match endpoint {
                Endpoint::Dev { image } => Endpoint::Dev { image },
                _ => Endpoint::Dev {
                    image: "https://example.com/a.png".into(),
                },
            };
        }
        Broken::Webhook(url) => webhook = Some(url.clone()),
        Broken::RequestTimeout(t) => timeout = Some(*t),
        Broken::NoImages => {
            endpoint = Endpoint::Multi {
                max: false,
                images: vec![],
            }
        }
        Broken::EmptyImage | Broken::NotAnImage(_) => {}
    }
    let bad_image = match broken {
        Broken::EmptyImage => Some(ImageInput::from("")),
        Broken::NotAnImage(bytes) => Some(ImageInput::bytes(bytes.clone(), "notes.txt")),
        _ => None,
    };
    macro_rules! send {
        ($request:expr) => {{
            let mut request = $request;
            if let Some(url) = &webhook {
                request = request.webhook(url);
            }
            if let Some(t) = timeout {
                request = request.request_timeout(t);
            }
            request.submit().await.map(drop)
        }};
    }
    let image = |given: &str| bad_image.clone().unwrap_or_else(|| given.into());
    let f = for_endpoint(&f, &endpoint);
    match &endpoint {
        Endpoint::Edit { image: i, .. } => send!(client.edit("p", image(i)).fields(f)),
        Endpoint::TextToImage { .. } => send!(client.text_to_image("p").fields(f)),
        Endpoint::Multi { images, .. } => {
            let inputs: Vec<ImageInput> = images.iter().map(|i| image(i)).collect();
            send!(client.multi("p", inputs).fields(f))
        }
        Endpoint::Dev { image: i } => send!(client.dev("p", image(i)).fields(f)),
    }
}

#[test]
fn every_invalid_input_is_refused_client_side_with_the_field_named() {
    let (runtime, emulator) = runtime_and_emulator(false);
    let client = common::client(&emulator);
    let config = ProptestConfig {
        cases: CASES,
        ..ProptestConfig::default()
    };
    proptest!(config, |(endpoint in endpoint(), f in valid_fields(), broken in broken())| {
        // text to image has no image to spoil
        let endpoint = match (&endpoint, &broken) {
            (Endpoint::TextToImage { .. }, Broken::EmptyImage | Broken::NotAnImage(_)) => {
                Endpoint::Edit { max: false, image: "https://example.com/a.png".into() }
            }
            _ => endpoint,
        };
        let outcome = runtime.block_on(submit_broken(&client, &endpoint, &f, &broken));
        match outcome {
            Err(Error::InvalidInput { field, .. }) => {
                prop_assert_eq!(field, broken.field(&endpoint));
            }
            other => return Err(TestCaseError::fail(format!("{broken:?}: {other:?}"))),
        }
        prop_assert!(emulator.requests().is_empty(), "nothing is sent for {:?}", broken);
    });
}

/// The enums' `FromStr` (what the CLI and batch files go through) refuses
/// every other spelling, naming the field and listing the allowed values.
#[test]
fn unknown_enum_spellings_name_the_field_and_the_allowed_values() {
    fn check<T: std::str::FromStr<Err = Error> + std::fmt::Display>(
        all: &[T],
        field: &str,
        text: &str,
    ) -> Result<(), TestCaseError> {
        let allowed: Vec<String> = all.iter().map(ToString::to_string).collect();
        if allowed.iter().any(|a| a == text) {
            return Ok(());
        }
        match text.parse::<T>() {
            Err(Error::InvalidInput {
                field: named, rule, ..
            }) => {
                prop_assert_eq!(named, field);
                for value in &allowed {
                    prop_assert!(rule.contains(&format!("\"{value}\"")), "{}", rule);
                }
            }
            Err(other) => return Err(TestCaseError::fail(format!("{other:?}"))),
            Ok(_) => return Err(TestCaseError::fail(format!("{text:?} was accepted"))),
        }
        Ok(())
    }
    proptest!(|(text in ".{0,12}")| {
        check(OutputFormat::ALL, "output_format", &text)?;
        check(SafetyTolerance::ALL, "safety_tolerance", &text)?;
        check(AspectRatio::ALL, "aspect_ratio", &text)?;
        check(Acceleration::ALL, "acceleration", &text)?;
        check(ResolutionMode::ALL, "resolution_mode", &text)?;
    });
}
