//! The generated client used on its own, as this crate's docs tell users to
//! use it: a `reqwest::Client` that carries `Authorization: Key …` as a
//! default header, given to `Client::new_with_client` with the queue URL.
//! Every operation (each endpoint's submit; each app's status, status
//! stream, result and cancel) runs end to end against the emulator, and
//! so do the hooks' `CallSettings`: the answer-size bound and the answer's
//! head kept for a caller whose call failed later; and the Platform APIs
//! client (`platform`: prices and estimates).

use std::time::Duration;

use fal_emulator::{Config, Emulator, Fault, FaultRule, Route, Timing};
use fal_kontext_api::types::{self, AnyStatus, QueueStatus, Status};
use fal_kontext_api::{AnswerTooLarge, CallSettings, Client, ClientInfo, Error};
use futures::StreamExt;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

/// An input image the emulator stands in for with a pattern (it never
/// fetches off this machine).
const IMAGE: &str = "https://example.com/kitchen.png";

async fn emulator(queue_delay: Duration) -> Emulator {
    Emulator::start_with(Config {
        timing: Timing {
            queue_delay,
            processing_time: Duration::from_millis(20),
        },
        ..Config::default()
    })
    .await
    .unwrap()
}

/// The client, set up as the crate's docs say.
fn client(emulator: &Emulator) -> Client {
    client_with(emulator, CallSettings::default())
}

/// The client with `settings` for its hooks.
fn client_with(emulator: &Emulator, settings: CallSettings) -> Client {
    let mut headers = HeaderMap::new();
    let mut key = HeaderValue::from_str(&format!("Key {}", emulator.key())).unwrap();
    key.set_sensitive(true);
    headers.insert(AUTHORIZATION, key);
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    Client::new_with_client(emulator.queue_url(), http, settings)
}

/// The status of a completed request.
const COMPLETED: AnyStatus = AnyStatus::Known(Status::Completed);

/// The request id of a submit's answer (a status answer may leave it out;
/// a submit's never does).
fn id_of(submitted: &QueueStatus) -> &str {
    submitted
        .request_id
        .as_deref()
        .expect("a submit answer has its request id")
}

/// Polls `fal-ai/flux-pro`'s status operation until the request completes.
async fn completed(client: &Client, request_id: &str) -> QueueStatus {
    for _ in 0..500 {
        let status = client
            .status_flux_pro()
            .request_id(request_id)
            .logs(1)
            .send()
            .await
            .unwrap()
            .into_inner();
        if status.status == COMPLETED {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{request_id} never completed");
}

/// Submits a \[dev\] edit.
async fn submit_dev(client: &Client) -> QueueStatus {
    client
        .submit_flux_kontext_dev()
        .body(
            types::FluxKontextDevInput::builder()
                .prompt("Make it snow")
                .image_url(IMAGE),
        )
        .send()
        .await
        .unwrap()
        .into_inner()
}

/// Submits with the endpoint's own operation and typed input, waits with
/// `fal-ai/flux-pro`'s status operation, and reads the output with its
/// result operation as the endpoint's output type.
macro_rules! pro_round_trip {
    ($client:expr, $submit:ident, $input:expr, $output:ty) => {{
        let client = $client;
        let submitted = client
            .$submit()
            .body($input)
            .send()
            .await
            .unwrap()
            .into_inner();
        let done = completed(client, id_of(&submitted)).await;
        assert_eq!(done.request_id, submitted.request_id);
        let output = client
            .result_flux_pro()
            .request_id(id_of(&submitted))
            .send()
            .await
            .unwrap()
            .into_inner();
        let output: $output = serde_json::from_value(output).unwrap();
        assert_eq!(output.images.len(), 1, "{}", stringify!($submit));
    }};
}

#[tokio::test]
async fn each_pro_and_max_endpoint_submits_and_its_app_answers_status_and_result() {
    let emulator = emulator(Duration::ZERO).await;
    let client = &client(&emulator);
    pro_round_trip!(
        client,
        submit_flux_pro_kontext,
        types::FluxProKontextInput::builder()
            .prompt("Put a donut next to the flour.")
            .image_url(IMAGE),
        types::FluxProKontextOutput
    );
    pro_round_trip!(
        client,
        submit_flux_pro_kontext_max,
        types::FluxProKontextMaxInput::builder()
            .prompt("Put a donut next to the flour.")
            .image_url(IMAGE),
        types::FluxProKontextMaxOutput
    );
    pro_round_trip!(
        client,
        submit_flux_pro_kontext_text_to_image,
        types::FluxProKontextTextToImageInput::builder().prompt("A red kite"),
        types::FluxProKontextTextToImageOutput
    );
    pro_round_trip!(
        client,
        submit_flux_pro_kontext_max_text_to_image,
        types::FluxProKontextMaxTextToImageInput::builder().prompt("A red kite"),
        types::FluxProKontextMaxTextToImageOutput
    );
    pro_round_trip!(
        client,
        submit_flux_pro_kontext_multi,
        types::FluxProKontextMultiInput::builder()
            .prompt("Put the cat on the sofa")
            .image_urls(vec![IMAGE.to_string(), IMAGE.to_string()]),
        types::FluxProKontextMultiOutput
    );
    pro_round_trip!(
        client,
        submit_flux_pro_kontext_max_multi,
        types::FluxProKontextMaxMultiInput::builder()
            .prompt("Put the cat on the sofa")
            .image_urls(vec![IMAGE.to_string()]),
        types::FluxProKontextMaxMultiOutput
    );
    let stats = emulator.stats();
    assert_eq!(
        (stats.submit, stats.jobs_completed, stats.result),
        (6, 6, 6)
    );
    assert_eq!(stats.unauthorized, 0, "the default header carried the key");
}

#[tokio::test]
async fn dev_submits_and_its_app_answers_status_and_result() {
    let emulator = emulator(Duration::ZERO).await;
    let client = client(&emulator);
    let submitted = client
        .submit_flux_kontext_dev()
        .body(
            types::FluxKontextDevInput::builder()
                .prompt("Make it snow")
                .image_url(IMAGE)
                .num_inference_steps(Some(20)),
        )
        .send()
        .await
        .unwrap()
        .into_inner();
    let id = id_of(&submitted);
    let mut status = None;
    for _ in 0..500 {
        let now = client
            .status_flux_kontext()
            .request_id(id)
            .send()
            .await
            .unwrap();
        if now.status == COMPLETED {
            assert_eq!(now.status(), 200, "a completed request answers 200");
            status = Some(now.into_inner());
            break;
        }
        assert_eq!(now.status(), 202, "a waiting request answers 202");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status.expect("completed").request_id.as_deref(), Some(id));
    let output = client
        .result_flux_kontext()
        .request_id(id)
        .send()
        .await
        .unwrap()
        .into_inner();
    let output: types::FluxKontextDevOutput = serde_json::from_value(output).unwrap();
    assert_eq!(output.images.len(), 1);
}

#[tokio::test]
async fn each_lora_endpoint_submits_and_the_lora_app_answers_status_and_result() {
    let emulator = emulator(Duration::ZERO).await;
    let client = client(&emulator);
    let lora = || types::LoraWeight {
        path: "https://example.com/style.safetensors".into(),
        scale: Some(1.5),
    };
    let edit = client
        .submit_flux_kontext_lora()
        .body(
            types::FluxKontextLoraInput::builder()
                .prompt("Make it a watercolour")
                .image_url(IMAGE)
                .loras(vec![lora()]),
        )
        .send()
        .await
        .unwrap()
        .into_inner();
    let text_to_image = client
        .submit_flux_kontext_lora_text_to_image()
        .body(
            types::FluxKontextLoraTextToImageInput::builder()
                .prompt("A lighthouse")
                .loras(vec![lora()])
                .image_size(Some(types::ImageSizeChoice::Preset(
                    types::ImageSizePreset::Landscape169,
                ))),
        )
        .send()
        .await
        .unwrap()
        .into_inner();
    let inpaint = client
        .submit_flux_kontext_lora_inpaint()
        .body(
            types::FluxKontextLoraInpaintInput::builder()
                .prompt("A sofa")
                .image_url(IMAGE)
                .mask_url("https://example.com/mask.png")
                .reference_image_url("https://example.com/sofa.png"),
        )
        .send()
        .await
        .unwrap()
        .into_inner();
    for submitted in [edit, text_to_image, inpaint] {
        let id = id_of(&submitted);
        let mut done = false;
        for _ in 0..500 {
            let now = client
                .status_flux_kontext_lora()
                .request_id(id)
                .send()
                .await
                .unwrap();
            if now.status == COMPLETED {
                done = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(done, "{id} completed");
        let output = client
            .result_flux_kontext_lora()
            .request_id(id)
            .send()
            .await
            .unwrap()
            .into_inner();
        let output: types::FluxKontextLoraOutput = serde_json::from_value(output).unwrap();
        assert_eq!(output.images.len(), 1);
        assert_eq!(output.images[0].content_type.as_deref(), Some("image/png"));
    }
}

#[tokio::test]
async fn the_trainer_submits_and_answers_its_files() {
    let emulator = emulator(Duration::ZERO).await;
    let client = client(&emulator);
    let submitted = client
        .submit_flux_kontext_trainer()
        .body(
            types::FluxKontextTrainerInput::builder()
                .image_data_url("https://example.com/pairs.zip")
                .steps(Some(500)),
        )
        .send()
        .await
        .unwrap()
        .into_inner();
    let id = id_of(&submitted);
    for _ in 0..500 {
        let now = client
            .status_flux_kontext_trainer()
            .request_id(id)
            .send()
            .await
            .unwrap();
        if now.status == COMPLETED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let output = client
        .result_flux_kontext_trainer()
        .request_id(id)
        .send()
        .await
        .unwrap()
        .into_inner();
    let output: types::FluxKontextTrainerOutput = serde_json::from_value(output).unwrap();
    assert!(output.diffusers_lora_file.url.ends_with(".safetensors"));
    assert!(output.config_file.expect("a config").url.ends_with(".json"));
    let cancel = client
        .cancel_flux_kontext_trainer()
        .request_id(id)
        .send()
        .await;
    assert!(
        matches!(&cancel, Err(fal_kontext_api::Error::ErrorResponse(answer)) if answer.status() == 400),
        "a finished training cannot be cancelled: {cancel:?}"
    );
}

/// The events of a status stream: each `data:` line a status.
async fn streamed(
    answer: fal_kontext_api::ResponseValue<fal_kontext_api::ByteStream>,
) -> Vec<AnyStatus> {
    let mut body = Vec::new();
    let mut stream = answer.into_inner_stream();
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.unwrap());
    }
    String::from_utf8(body)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| {
            serde_json::from_str::<QueueStatus>(data.trim())
                .unwrap()
                .status
        })
        .collect()
}

#[tokio::test]
async fn each_app_streams_a_requests_status_until_it_completes() {
    let emulator = emulator(Duration::ZERO).await;
    let client = client(&emulator);
    let pro = client
        .submit_flux_pro_kontext_text_to_image()
        .body(types::FluxProKontextTextToImageInput::builder().prompt("A red kite"))
        .send()
        .await
        .unwrap();
    let answer = client
        .status_stream_flux_pro()
        .request_id(id_of(&pro))
        .logs(1)
        .send()
        .await
        .unwrap();
    assert_eq!(streamed(answer).await.last(), Some(&COMPLETED));

    let dev = submit_dev(&client).await;
    let answer = client
        .status_stream_flux_kontext()
        .request_id(id_of(&dev))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed(answer).await.last(), Some(&COMPLETED));
    assert_eq!(emulator.stats().stream, 2);
}

#[tokio::test]
async fn each_app_cancels_a_queued_request_and_reports_a_finished_one() {
    // queued for a minute: long enough to be cancelled
    let emulator = emulator(Duration::from_secs(60)).await;
    let client = client(&emulator);
    let pro = client
        .submit_flux_pro_kontext()
        .body(
            types::FluxProKontextInput::builder()
                .prompt("p")
                .image_url(IMAGE),
        )
        .send()
        .await
        .unwrap();
    let cancelled = client
        .cancel_flux_pro()
        .request_id(id_of(&pro))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 202);
    assert_eq!(cancelled.status.as_deref(), Some("CANCELLATION_REQUESTED"));
    // cancelled, the request has ended: a second cancel is told so, as a
    // declared 400 answer with fal's body
    match client
        .cancel_flux_pro()
        .request_id(id_of(&pro))
        .send()
        .await
    {
        Err(Error::ErrorResponse(answer)) => {
            assert_eq!(answer.status(), 400);
            assert_eq!(answer.status.as_deref(), Some("ALREADY_COMPLETED"));
        }
        other => panic!("expected the 400 ALREADY_COMPLETED answer, got {other:?}"),
    }

    let dev = submit_dev(&client).await;
    let cancelled = client
        .cancel_flux_kontext()
        .request_id(id_of(&dev))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status.as_deref(), Some("CANCELLATION_REQUESTED"));
    assert_eq!(emulator.stats().jobs_cancelled, 2);
}

#[tokio::test]
async fn without_the_key_fal_refuses_and_no_job_is_created() {
    let emulator = emulator(Duration::ZERO).await;
    let keyless = Client::new(emulator.queue_url(), Default::default());
    let refused = keyless
        .submit_flux_pro_kontext_text_to_image()
        .body(types::FluxProKontextTextToImageInput::builder().prompt("p"))
        .send()
        .await
        .unwrap_err();
    match refused {
        Error::UnexpectedResponse(answer) => assert_eq!(answer.status(), 401),
        other => panic!("expected the 401 answer, got {other:?}"),
    }
    let submits = emulator
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::Submit)
        .count();
    assert_eq!((submits, emulator.stats().jobs_created), (1, 0));
}

#[tokio::test]
async fn an_answer_that_never_ends_is_read_up_to_the_bound() {
    let emulator = emulator(Duration::ZERO).await;
    let bound = 1 << 20;
    let client = client_with(
        &emulator,
        CallSettings {
            max_answer_bytes: Some(bound),
            ..Default::default()
        },
    );
    let submitted = submit_dev(&client).await;
    let id = id_of(&submitted).to_string();
    while client
        .status_flux_kontext()
        .request_id(&id)
        .send()
        .await
        .unwrap()
        .status
        != COMPLETED
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // the result: its JSON, then spaces without end and no Content-Length
    emulator.set_faults(vec![FaultRule::once(Route::Result, Fault::EndlessBody)]);
    let error = client
        .result_flux_kontext()
        .request_id(&id)
        .send()
        .await
        .unwrap_err();
    let Error::ResponseBodyError(error) = &error else {
        panic!("expected a body error, got {error:?}");
    };
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut too_large = false;
    while let Some(error) = source {
        too_large |= error.is::<AnswerTooLarge>();
        source = error.source();
    }
    assert!(too_large, "the source chain names the bound: {error:?}");
    // what fal said before the body went wrong is kept
    let (status, headers) = client.inner().answered.get().unwrap();
    assert_eq!(status, 200);
    assert!(headers.contains_key("x-fal-request-id"));
    assert!(!headers.contains_key("content-length"));
    // the same answer, whole, when it ends
    let output = client
        .result_flux_kontext()
        .request_id(&id)
        .send()
        .await
        .unwrap();
    assert!(output.get("images").is_some(), "{output:?}");
}

#[tokio::test]
async fn the_platform_client_answers_prices_and_estimates_with_the_key() {
    use fal_kontext_api::platform::{self, types as p};

    let emulator = emulator(Duration::ZERO).await;
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Key {}", emulator.key())).unwrap(),
    );
    let client = platform::Client::new_with_client(
        &emulator.platform_url(),
        reqwest::Client::new(),
        CallSettings {
            headers,
            ..Default::default()
        },
    );
    let ids = vec![
        "fal-ai/flux-pro/kontext".to_string(),
        "fal-ai/flux-pro/kontext/max".to_string(),
    ];
    let prices = client.pricing().endpoint_id(ids).send().await.unwrap();
    let listed: Vec<(&str, f64)> = prices
        .prices
        .iter()
        .map(|p| (p.endpoint_id.as_str(), p.unit_price))
        .collect();
    assert_eq!(
        listed,
        [
            ("fal-ai/flux-pro/kontext", 0.04),
            ("fal-ai/flux-pro/kontext/max", 0.08)
        ]
    );

    let body: p::EstimateRequest = serde_json::from_value(serde_json::json!({
        "estimate_type": "unit_price",
        "endpoints": {"fal-ai/flux-pro/kontext/max": {"unit_quantity": 25}},
    }))
    .unwrap();
    let estimate = client.estimate().body(body).send().await.unwrap();
    assert!((estimate.total_cost - 2.0).abs() < 1e-9, "{estimate:?}");
    assert_eq!(estimate.currency.as_deref(), Some("USD"));

    // without the key, fal's Platform API refuses, as its queue does
    let keyless = platform::Client::new(&emulator.platform_url(), CallSettings::default());
    let refused = keyless
        .pricing()
        .endpoint_id(vec!["fal-ai/flux-pro/kontext".to_string()])
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        refused.status().map(|s| s.as_u16()),
        Some(401),
        "{refused:?}"
    );
}
