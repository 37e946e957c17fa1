//! Prices, estimates and billed units through the emulator, which answers
//! fal's Platform APIs with fal's published prices (0.04 USD an image for
//! \[pro\], 0.08 for \[max\], 0.025 a megapixel for \[dev\]): the estimate is
//! checked against that arithmetic, and an estimate that cannot be had is an
//! error, never a zero.

mod common;

use common::{builder, client, emulator, emulator_with, quick};
use fal_emulator::{Config, Fault, FaultRule, Route};
use fal_kontext::{Error, Plan, endpoints};

const PRO: &str = endpoints::FLUX_PRO_KONTEXT;
const MAX: &str = endpoints::FLUX_PRO_KONTEXT_MAX;
const DEV: &str = endpoints::FLUX_KONTEXT_DEV;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn the_prices_of_the_family_are_fals_published_ones() {
    let emulator = emulator().await;
    let prices = client(&emulator).prices(endpoints::ALL).await.unwrap();
    assert_eq!(prices.len(), 11);
    for price in &prices {
        let (amount, unit) = match price.endpoint_id.as_str() {
            DEV => (0.025, "megapixels"),
            endpoints::FLUX_KONTEXT_TRAINER => (0.0025, "steps"),
            id if id.starts_with(endpoints::FLUX_KONTEXT_LORA) => (0.035, "megapixels"),
            id if id.contains("/max") => (0.08, "image"),
            _ => (0.04, "image"),
        };
        assert!(close(price.unit_price, amount), "{price:?}");
        assert_eq!(price.unit.as_deref(), Some(unit), "{price:?}");
        assert_eq!(price.currency.as_deref(), Some("USD"), "{price:?}");
    }
    assert_eq!(emulator.stats().pricing, 1, "one call for the eleven");
}

#[tokio::test]
async fn an_estimate_is_the_arithmetic_of_the_published_prices() {
    let emulator = emulator().await;
    let mut plan = Plan::default();
    plan.add_images(PRO, 10)
        .add_images(MAX, 5)
        .add_images(DEV, 3);
    let estimate = client(&emulator).estimate(&plan).await.unwrap();
    // 10 × 0.04 + 5 × 0.08 + 3 images × 1 megapixel × 0.025
    assert!(close(estimate.total_cost, 0.875), "{estimate:?}");
    assert_eq!(estimate.currency.as_deref(), Some("USD"));
    assert_eq!(estimate.units[DEV], 3.0 * fal_kontext::MEGAPIXELS_PER_IMAGE);
    let stats = emulator.stats();
    assert_eq!((stats.pricing, stats.estimates), (1, 1), "{stats:?}");
}

#[tokio::test]
async fn an_account_price_is_the_one_estimated() {
    let emulator = emulator().await;
    let mut prices = Config::default().prices;
    prices
        .iter_mut()
        .filter(|p| p.endpoint_id == PRO)
        .for_each(|p| p.unit_price = 0.03);
    emulator.set_prices(prices);
    let mut plan = Plan::default();
    plan.add_images(PRO, 100);
    let estimate = client(&emulator).estimate(&plan).await.unwrap();
    assert!(close(estimate.total_cost, 3.0), "{estimate:?}");
}

#[tokio::test]
async fn an_empty_plan_costs_nothing_and_asks_nothing() {
    let emulator = emulator().await;
    let estimate = client(&emulator).estimate(&Plan::default()).await.unwrap();
    assert_eq!(estimate.total_cost, 0.0);
    let stats = emulator.stats();
    assert_eq!((stats.pricing, stats.estimates), (0, 0));
}

#[tokio::test]
async fn no_endpoints_or_too_many_are_refused_before_anything_is_sent() {
    let emulator = emulator().await;
    let client = client(&emulator);
    for count in [0, 51] {
        let ids = vec![PRO; count];
        let error = client.prices(&ids).await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::InvalidInput {
                    field: "endpoint_id",
                    ..
                }
            ),
            "{error:?}"
        );
    }
    assert_eq!(emulator.requests().len(), 0);
}

#[tokio::test]
async fn an_estimate_that_cannot_be_had_is_an_error_never_a_zero() {
    let mut plan = Plan::default();
    plan.add_images(PRO, 1);

    // the Platform API refuses the key
    let emulator = emulator_with(Config {
        timing: quick(),
        faults: vec![FaultRule::once(Route::Pricing, Fault::Unauthorized)],
        ..Config::default()
    })
    .await;
    let error = client(&emulator).estimate(&plan).await.unwrap_err();
    assert!(
        matches!(error, Error::Authentication { status: 401, .. }),
        "{error:?}"
    );

    // it fails every time: retried, then reported
    let emulator = emulator_with(Config {
        timing: quick(),
        faults: vec![FaultRule::rate(Route::Estimate, Fault::AppError, 1.0)],
        ..Config::default()
    })
    .await;
    let error = client(&emulator).estimate(&plan).await.unwrap_err();
    assert!(
        matches!(error, Error::Server { status: 500, .. }),
        "{error:?}"
    );
    assert!(emulator.stats().estimates > 1, "a 500 is retried");

    // nothing answers at all
    let error = builder(&emulator)
        .platform_url("http://127.0.0.1:9/v1")
        .build()
        .unwrap()
        .estimate(&plan)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
}

#[tokio::test]
async fn a_finished_request_says_what_fal_billed() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let done = client
        .text_to_image("two kites")
        .num_images(2)
        .run()
        .await
        .unwrap();
    assert_eq!(done.billable_units, Some(2.0));
}

#[tokio::test]
async fn what_an_estimate_sends() {
    let emulator = emulator().await;
    let mut plan = Plan::default();
    plan.add_images(PRO, 2).add_images(DEV, 1);
    client(&emulator).estimate(&plan).await.unwrap();
    let sent: Vec<_> = emulator
        .requests()
        .into_iter()
        .map(|request| {
            let headers: Vec<_> = request
                .headers
                .iter()
                .filter(|(name, _)| name == "authorization" || name == "content-type")
                .cloned()
                .collect();
            serde_json::json!({
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "headers": headers,
                "body": request.body,
            })
        })
        .collect();
    insta::assert_json_snapshot!(sent);
}
