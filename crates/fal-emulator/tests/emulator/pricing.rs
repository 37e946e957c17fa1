//! The Platform APIs' prices and estimates, and the billed units of results.

use fal_emulator::{Config, Emulator, Fault, FaultRule, Price, Route};
use serde_json::{Value, json};

use crate::common::*;

const MAX: &str = "fal-ai/flux-pro/kontext/max";
const DEV: &str = "fal-ai/flux-kontext/dev";

/// `GET {platform}/models/pricing?{query}` with the key; status and body.
async fn pricing(emulator: &Emulator, query: &str) -> (u16, Value) {
    let response = get(
        emulator,
        &format!("{}/models/pricing?{query}", emulator.platform_url()),
    )
    .await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// `POST {platform}/models/pricing/estimate` with the key; status and body.
async fn estimate(emulator: &Emulator, body: &Value) -> (u16, Value) {
    let response = client()
        .post(format!(
            "{}/models/pricing/estimate",
            emulator.platform_url()
        ))
        .header("authorization", auth(emulator))
        .json(body)
        .send()
        .await
        .expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

fn listed_ids(body: &Value) -> Vec<&str> {
    body["prices"]
        .as_array()
        .expect("a price list")
        .iter()
        .map(|price| price["endpoint_id"].as_str().expect("endpoint_id"))
        .collect()
}

fn locs(body: &Value) -> Vec<Value> {
    body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("a detail list: {body}"))
        .iter()
        .map(|detail| detail["loc"].clone())
        .collect()
}

#[tokio::test]
async fn prices_are_listed_for_repeated_or_comma_separated_ids_in_the_order_asked() {
    let emulator = start(fast()).await;
    assert_eq!(
        emulator.platform_url(),
        format!("{}/v1", emulator.rest_url())
    );
    let (status, repeated) = pricing(
        &emulator,
        &format!("endpoint_id={KONTEXT}&endpoint_id={DEV}"),
    )
    .await;
    assert_eq!(status, 200, "{repeated}");
    assert_eq!(
        repeated,
        json!({
            "prices": [
                {"endpoint_id": KONTEXT, "unit_price": 0.04, "unit": "image", "currency": "USD"},
                {"endpoint_id": DEV, "unit_price": 0.025, "unit": "megapixels", "currency": "USD"},
            ],
            "next_cursor": null,
            "has_more": false,
        })
    );
    let (status, commas) = pricing(
        &emulator,
        &format!("endpoint_id={DEV},%20{KONTEXT}&endpoint_id={MAX}"),
    )
    .await;
    assert_eq!(status, 200, "{commas}");
    assert_eq!(listed_ids(&commas), [DEV, KONTEXT, MAX]);
    assert_eq!(commas["prices"][2]["unit_price"], 0.08);
    assert_eq!(emulator.stats().pricing, 2);
}

#[tokio::test]
async fn unknown_ids_are_left_out() {
    let emulator = start(fast()).await;
    let (status, body) = pricing(
        &emulator,
        &format!("endpoint_id=fal-ai/nope,{MAX},fal-ai/flux/dev"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(listed_ids(&body), [MAX]);
    let (status, body) = pricing(&emulator, "endpoint_id=fal-ai/nope").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["prices"], json!([]));
}

#[tokio::test]
async fn none_or_more_than_fifty_ids_are_refused_naming_endpoint_id() {
    let emulator = start(fast()).await;
    let fifty: Vec<String> = (0..50).map(|i| format!("fal-ai/model-{i}")).collect();
    let (status, body) = pricing(&emulator, &format!("endpoint_id={}", fifty.join(","))).await;
    assert_eq!(status, 200, "fifty is the limit, not over it: {body}");

    let fifty_one = format!("endpoint_id={}&endpoint_id={KONTEXT}", fifty.join(","));
    let empty = "endpoint_id=%20,".to_owned();
    for query in ["", "other=1", empty.as_str(), fifty_one.as_str()] {
        let (status, body) = pricing(&emulator, query).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(
            locs(&body),
            [json!(["query", "endpoint_id"])],
            "{query}: {body}"
        );
    }
    let (_, body) = pricing(&emulator, &fifty_one).await;
    assert_eq!(body["detail"][0]["type"], "too_long", "{body}");
}

#[tokio::test]
async fn pricing_and_estimates_want_the_key() {
    let emulator = start(fast()).await;
    let prices = client()
        .get(format!(
            "{}/models/pricing?endpoint_id={KONTEXT}",
            emulator.platform_url()
        ))
        .send()
        .await
        .expect("answered");
    assert_eq!(prices.status(), 401);
    let body: Value = prices.json().await.expect("JSON");
    assert_eq!(body, json!({"detail": "Missing authorization header"}));

    let estimate = client()
        .post(format!(
            "{}/models/pricing/estimate",
            emulator.platform_url()
        ))
        .header("authorization", "Key wrong-key")
        .json(&json!({"estimate_type": "unit_price", "endpoints": {KONTEXT: {"unit_quantity": 1}}}))
        .send()
        .await
        .expect("answered");
    assert_eq!(estimate.status(), 401);
    let body: Value = estimate.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({"detail": "No user found for Key ID and Secret"})
    );
    assert_eq!(emulator.stats().unauthorized, 2);
}

#[tokio::test]
async fn a_unit_price_estimate_sums_price_times_units() {
    let emulator = start(fast()).await;
    let (status, body) = estimate(
        &emulator,
        &json!({"estimate_type": "unit_price", "endpoints": {
            KONTEXT: {"unit_quantity": 10},
            MAX: {"unit_quantity": 5},
        }}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"estimate_type": "unit_price", "total_cost": 0.8, "currency": "USD"})
    );
    let (status, body) = estimate(
        &emulator,
        &json!({"estimate_type": "unit_price", "endpoints": {DEV: {"unit_quantity": 2.5}}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total_cost"], 0.0625, "2.5 megapixels at 0.025");
    assert_eq!(emulator.stats().estimates, 2);
}

#[tokio::test]
async fn a_historical_estimate_prices_each_call_at_one_unit() {
    let emulator = start(fast()).await;
    let (status, body) = estimate(
        &emulator,
        &json!({"estimate_type": "historical_api_price", "endpoints": {
            KONTEXT: {"call_quantity": 100},
            DEV: {"call_quantity": 4},
        }}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"estimate_type": "historical_api_price", "total_cost": 4.1, "currency": "USD"})
    );
}

#[tokio::test]
async fn bad_estimates_are_refused_naming_the_field() {
    let emulator = start(fast()).await;
    let cases = [
        (
            json!({"estimate_type": "cheapest", "endpoints": {KONTEXT: {"unit_quantity": 1}}}),
            json!(["body", "estimate_type"]),
        ),
        (
            json!({"estimate_type": "unit_price"}),
            json!(["body", "endpoints"]),
        ),
        (
            json!({"estimate_type": "unit_price", "endpoints": {}}),
            json!(["body", "endpoints"]),
        ),
        (
            json!({"estimate_type": "unit_price", "endpoints": {KONTEXT: {"unit_quantity": -3}}}),
            json!(["body", "endpoints", KONTEXT, "unit_quantity"]),
        ),
        (
            json!({"estimate_type": "unit_price", "endpoints": {KONTEXT: {"unit_quantity": "ten"}}}),
            json!(["body", "endpoints", KONTEXT, "unit_quantity"]),
        ),
        (
            json!({"estimate_type": "historical_api_price", "endpoints": {KONTEXT: {"call_quantity": -1}}}),
            json!(["body", "endpoints", KONTEXT, "call_quantity"]),
        ),
        (
            // the quantity of the other kind of estimate
            json!({"estimate_type": "historical_api_price", "endpoints": {KONTEXT: {"unit_quantity": 5}}}),
            json!(["body", "endpoints", KONTEXT, "call_quantity"]),
        ),
        (
            json!({"estimate_type": "unit_price", "endpoints": {"fal-ai/nope": {"unit_quantity": 1}}}),
            json!(["body", "endpoints", "fal-ai/nope"]),
        ),
    ];
    for (request, loc) in cases {
        let (status, body) = estimate(&emulator, &request).await;
        assert_eq!(status, 422, "{request}: {body}");
        assert_eq!(locs(&body), [loc], "{request}: {body}");
    }
}

#[tokio::test]
async fn prices_set_on_a_running_emulator_or_in_its_config_are_used_by_both_calls() {
    let mut prices = Config::default().prices;
    prices.push(Price::usd("fal-ai/flux/dev", 0.025, "image"));
    let emulator = start(Config { prices, ..fast() }).await;
    let (_, body) = pricing(&emulator, "endpoint_id=fal-ai/flux/dev").await;
    assert_eq!(listed_ids(&body), ["fal-ai/flux/dev"]);

    emulator.set_prices(vec![
        Price::usd(KONTEXT, 0.05, "image"),
        Price {
            currency: "EUR".into(),
            ..Price::usd(MAX, 0.07, "image")
        },
    ]);
    let (status, body) = pricing(&emulator, &format!("endpoint_id={KONTEXT},{MAX},{DEV}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(listed_ids(&body), [KONTEXT, MAX], "dev has no price now");
    assert_eq!(body["prices"][0]["unit_price"], 0.05);
    assert_eq!(body["prices"][1]["currency"], "EUR");

    let (status, body) = estimate(
        &emulator,
        &json!({"estimate_type": "unit_price", "endpoints": {KONTEXT: {"unit_quantity": 10}}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total_cost"], 0.5);
    let (status, body) = estimate(
        &emulator,
        &json!({"estimate_type": "unit_price", "endpoints": {MAX: {"unit_quantity": 2}}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["total_cost"], &body["currency"]),
        (&json!(0.14), &json!("EUR"))
    );
    let (status, body) = estimate(
        &emulator,
        &json!({"estimate_type": "unit_price", "endpoints": {
            KONTEXT: {"unit_quantity": 1},
            MAX: {"unit_quantity": 1},
        }}),
    )
    .await;
    assert_eq!(status, 422, "USD and EUR do not add up: {body}");
    assert_eq!(locs(&body), [json!(["body", "endpoints"])]);
}

#[tokio::test]
async fn a_completed_result_carries_its_billable_images_and_a_status_does_not() {
    let emulator = start(fast()).await;
    let mut input = edit_input();
    input["num_images"] = json!(2);
    let (submitted, result) = complete(&emulator, KONTEXT, &input).await;
    assert_eq!(result.status(), 200);
    assert_eq!(result.headers()["x-fal-billable-units"], "2");
    let output: Value = result.json().await.expect("JSON");
    assert_eq!(output["images"].as_array().map(Vec::len), Some(2));

    let status = get(
        &emulator,
        submitted["status_url"].as_str().expect("status_url"),
    )
    .await;
    assert_eq!(status.status(), 200);
    assert!(!status.headers().contains_key("x-fal-billable-units"));
}

#[tokio::test]
async fn a_dev_result_is_billed_by_the_megapixels_of_its_output() {
    let emulator = start(fast()).await;
    let input = json!({"prompt": "p", "image_url": png_data_uri(100, 60),
                       "resolution_mode": "4:5", "num_images": 2, "seed": 1});
    let (_, result) = complete(&emulator, DEV, &input).await;
    assert_eq!(result.status(), 200);
    let units = result.headers()["x-fal-billable-units"]
        .to_str()
        .expect("text")
        .to_owned();
    let output: Value = result.json().await.expect("JSON");
    let pixels: u64 = output["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|image| image["width"].as_u64().expect("w") * image["height"].as_u64().expect("h"))
        .sum();
    assert_eq!(pixels, 2 * 205 * 256, "two 4:5 images, 205 × 256");
    assert_eq!(units, "0.10496");

    // The synchronous run is billed the same way.
    let run = client()
        .post(format!("{}/{DEV}", emulator.run_url()))
        .header("authorization", auth(&emulator))
        .json(&input)
        .send()
        .await
        .expect("answered");
    assert_eq!(run.status(), 200);
    assert_eq!(run.headers()["x-fal-billable-units"], "0.10496");
}

#[tokio::test]
async fn a_failed_result_carries_no_billable_units_and_a_run_one_per_image() {
    let emulator = start(fast()).await;
    let (_, result) = complete(&emulator, KONTEXT, &json!({"prompt": "no image"})).await;
    assert_eq!(result.status(), 422);
    assert!(!result.headers().contains_key("x-fal-billable-units"));

    let run = client()
        .post(format!("{}/{KONTEXT}", emulator.run_url()))
        .header("authorization", auth(&emulator))
        .json(&edit_input())
        .send()
        .await
        .expect("answered");
    assert_eq!(run.headers()["x-fal-billable-units"], "1");
}

#[tokio::test]
async fn faults_apply_to_the_pricing_route() {
    let emulator = start(Config {
        faults: vec![
            FaultRule::once(Route::Pricing, Fault::AppError),
            FaultRule::once(Route::Estimate, Fault::Unauthorized),
        ],
        ..fast()
    })
    .await;
    let query = format!("endpoint_id={KONTEXT}");
    let (status, body) = pricing(&emulator, &query).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body, json!({"detail": "Internal Server Error"}));
    let (status, _) = pricing(&emulator, &query).await;
    assert_eq!(status, 200, "the rule is spent");

    let request =
        json!({"estimate_type": "unit_price", "endpoints": {KONTEXT: {"unit_quantity": 1}}});
    let (status, _) = estimate(&emulator, &request).await;
    assert_eq!(status, 401);
    let (status, _) = estimate(&emulator, &request).await;
    assert_eq!(status, 200);

    let stats = emulator.stats();
    assert_eq!(
        (stats.pricing, stats.estimates, stats.faults_injected),
        (2, 2, 2)
    );
    let routes: Vec<Route> = emulator.requests().iter().map(|r| r.route).collect();
    assert_eq!(
        routes,
        [
            Route::Pricing,
            Route::Pricing,
            Route::Estimate,
            Route::Estimate
        ]
    );
}

#[tokio::test]
async fn the_platform_document_is_served_byte_for_byte_without_a_key() {
    let emulator = start(fast()).await;
    let response = client()
        .get(format!(
            "{}/api-reference/platform-apis/openapi/v1.json",
            emulator.queue_url()
        ))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served = response.text().await.expect("text");
    let vendored = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../openapi/fal-platform-apis__v1.json"
    ))
    .expect("vendored");
    assert_eq!(served, vendored);
    assert_eq!(emulator.stats().openapi, 1);
    assert_eq!(emulator.requests()[0].route, Route::OpenApi);
}
