//! The builders' checks: any value for any field is accepted or refused
//! without a panic; what is accepted lies within the endpoint's documented
//! ranges and becomes a JSON body carrying the values given; every enum
//! spelling either round-trips or is refused naming its field.

#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::Arbitrary;
use fal_kontext::fuzzing::{input, validate};
use fal_kontext::{Client, Error, Fields, Kind, Request};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Endpoint {
    Edit,
    TextToImage,
    Multi,
    Dev,
}

#[derive(Arbitrary, Debug)]
struct Case {
    endpoint: Endpoint,
    max: bool,
    prompt: String,
    images: Vec<String>,
    seed: Option<i64>,
    guidance_scale: Option<f64>,
    num_images: Option<u8>,
    num_inference_steps: Option<u8>,
    webhook: Option<String>,
    request_timeout_ms: Option<u64>,
    spelling: String,
}

fn client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| Client::builder().key("fuzz").build().unwrap())
}

fn common<K: Kind>(request: Request<K>, f: &Case) -> Request<K> {
    let mut request = request.fields(Fields {
        seed: f.seed,
        guidance_scale: f.guidance_scale,
        num_images: f.num_images,
        ..Fields::default()
    });
    if let Some(url) = &f.webhook {
        request = request.webhook(url);
    }
    if let Some(ms) = f.request_timeout_ms {
        request = request.request_timeout(Duration::from_millis(ms));
    }
    request
}

/// Validates, and for an accepted request checks the ranges and the body.
fn check<K: Kind>(request: Request<K>, f: &Case) {
    if let Err(error) = validate(&request) {
        assert!(matches!(error, Error::InvalidInput { .. }), "{error:?}");
        return;
    }
    if let Some(scale) = f.guidance_scale {
        assert!(
            (1.0..=20.0).contains(&scale),
            "guidance_scale {scale} accepted"
        );
    }
    if let Some(n) = f.num_images {
        assert!((1..=4).contains(&n), "num_images {n} accepted");
    }
    if let Some(ms) = f.request_timeout_ms {
        assert!(ms > 1000, "a request timeout of {ms} ms accepted");
    }
    match input(&request, f.images.clone()) {
        Ok(body) => {
            assert_eq!(body["prompt"], f.prompt.as_str());
            if let Some(seed) = f.seed {
                assert_eq!(body["seed"], seed);
            }
            if let Some(n) = f.num_images {
                assert_eq!(body["num_images"], n);
            }
        }
        Err(error) => assert!(matches!(error, Error::InvalidInput { .. }), "{error:?}"),
    }
}

/// A spelling parses only as itself, or is refused naming the field.
fn spelling<T>(text: &str, field: &str)
where
    T: std::str::FromStr<Err = Error> + std::fmt::Display,
{
    match text.parse::<T>() {
        Ok(value) => assert_eq!(value.to_string(), text),
        Err(Error::InvalidInput { field: named, .. }) => assert_eq!(named, field),
        Err(other) => panic!("{other:?}"),
    }
}

fuzz_target!(|f: Case| {
    let c = client();
    let first = f.images.first().cloned().unwrap_or_default();
    let model = if f.max {
        fal_kontext::ProModel::Max
    } else {
        fal_kontext::ProModel::Pro
    };
    match f.endpoint {
        Endpoint::Edit => check(common(c.edit(&f.prompt, first), &f).model(model), &f),
        Endpoint::TextToImage => check(common(c.text_to_image(&f.prompt), &f).model(model), &f),
        Endpoint::Multi => {
            let images = f.images.iter().map(String::as_str);
            check(common(c.multi(&f.prompt, images), &f).model(model), &f)
        }
        Endpoint::Dev => {
            let mut request = common(c.dev(&f.prompt, first), &f);
            if let Some(steps) = f.num_inference_steps {
                request = request.fields(Fields {
                    num_inference_steps: Some(steps),
                    ..Fields::default()
                });
                if validate(&request).is_ok() {
                    assert!(
                        (10..=50).contains(&steps),
                        "num_inference_steps {steps} accepted"
                    );
                }
            }
            check(request, &f)
        }
    }
    spelling::<fal_kontext::OutputFormat>(&f.spelling, "output_format");
    spelling::<fal_kontext::SafetyTolerance>(&f.spelling, "safety_tolerance");
    spelling::<fal_kontext::AspectRatio>(&f.spelling, "aspect_ratio");
    spelling::<fal_kontext::Acceleration>(&f.spelling, "acceleration");
    spelling::<fal_kontext::ResolutionMode>(&f.spelling, "resolution_mode");
});
