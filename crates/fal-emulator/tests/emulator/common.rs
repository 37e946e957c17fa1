//! Helpers shared by the tests: a fast emulator, a client, and the few
//! calls every test makes.

use std::io::Cursor;
use std::time::Duration;

use fal_emulator::{Config, Emulator, Timing};
use serde_json::Value;

pub const KONTEXT: &str = "fal-ai/flux-pro/kontext";

/// An emulator whose jobs take 10 ms, with `config` otherwise.
pub async fn start(config: Config) -> Emulator {
    Emulator::start_with(config).await.expect("emulator starts")
}

pub fn fast() -> Config {
    Config {
        timing: Timing {
            queue_delay: Duration::ZERO,
            processing_time: Duration::from_millis(10),
        },
        ..Config::default()
    }
}

thread_local! {
    /// Building a client is costly in debug builds (it loads the system's
    /// roots); each test runs on its own threads, so one per thread is safe.
    static CLIENT: reqwest::Client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client builds");
}

pub fn client() -> reqwest::Client {
    CLIENT.with(Clone::clone)
}

pub fn auth(emulator: &Emulator) -> String {
    format!("Key {}", emulator.key())
}

/// A small PNG as a data URI.
pub fn png_data_uri(width: u32, height: u32) -> String {
    use base64::Engine;
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 5) as u8, 128])
    });
    let mut bytes = Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, image::ImageFormat::Png)
        .expect("png encodes");
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes.into_inner())
    )
}

pub fn edit_input() -> Value {
    serde_json::json!({"prompt": "put a donut next to the flour", "image_url": png_data_uri(64, 48), "seed": 42})
}

/// Submits and returns the submit answer (asserting 200).
pub async fn submit(emulator: &Emulator, endpoint: &str, input: &Value) -> Value {
    let response = client()
        .post(format!("{}/{endpoint}", emulator.queue_url()))
        .header("authorization", auth(emulator))
        .json(input)
        .send()
        .await
        .expect("submit is answered");
    assert_eq!(response.status(), 200, "submit answer");
    response.json().await.expect("submit answers JSON")
}

pub async fn get(emulator: &Emulator, url: &str) -> reqwest::Response {
    client()
        .get(url)
        .header("authorization", auth(emulator))
        .send()
        .await
        .expect("request is answered")
}

/// Polls a status URL until COMPLETED; returns the last status object.
pub async fn wait_completed(emulator: &Emulator, status_url: &str) -> Value {
    for _ in 0..3000 {
        let response = get(emulator, status_url).await;
        let code = response.status();
        let status: Value = response.json().await.expect("status is JSON");
        if status["status"] == "COMPLETED" {
            assert_eq!(code, 200, "COMPLETED answers 200");
            return status;
        }
        assert_eq!(code, 202, "{status}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{status_url} never completed");
}

/// Polls until the status is `wanted`.
pub async fn wait_status(emulator: &Emulator, status_url: &str, wanted: &str) -> Value {
    for _ in 0..3000 {
        let status: Value = get(emulator, status_url).await.json().await.expect("JSON");
        if status["status"] == wanted {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{status_url} never reached {wanted}");
}

/// Submits, waits, fetches the result; returns (submit answer, result).
pub async fn complete(
    emulator: &Emulator,
    endpoint: &str,
    input: &Value,
) -> (Value, reqwest::Response) {
    let submitted = submit(emulator, endpoint, input).await;
    wait_completed(
        emulator,
        submitted["status_url"].as_str().expect("status_url"),
    )
    .await;
    let result = get(
        emulator,
        submitted["response_url"].as_str().expect("response_url"),
    )
    .await;
    (submitted, result)
}

/// Downloads a URL (no key: it is the CDN) and returns status, content type and bytes.
pub async fn download(url: &str) -> (u16, String, Vec<u8>) {
    let response = client().get(url).send().await.expect("download answered");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        content_type,
        response.bytes().await.expect("body").to_vec(),
    )
}

/// The endpoint's vendored OpenAPI document.
pub fn document(endpoint: &str) -> Value {
    let path = format!(
        "{}/../../openapi/{}.json",
        env!("CARGO_MANIFEST_DIR"),
        endpoint.replace('/', "__")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("vendored document")).expect("JSON")
}

/// Asserts that `output` validates against the endpoint's output schema.
pub fn assert_matches_output_schema(endpoint: &str, output: &Value) {
    let doc = document(endpoint);
    let reference = doc["paths"][format!("/{endpoint}/requests/{{request_id}}")]["get"]["responses"]["200"]
        ["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .expect("output ref")
        .to_owned();
    let schema = serde_json::json!({"$ref": reference, "components": doc["components"]});
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(output)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{endpoint} output does not match its schema: {errors:?}\n{output}"
    );
}

/// Reads the SSE `data:` events of a response until it ends.
pub async fn sse_events(response: reqwest::Response) -> Vec<Value> {
    let text = response.text().await.unwrap_or_default();
    text.split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).expect("event data is JSON"))
        .collect()
}
