//! fal's Platform APIs (`https://api.fal.ai/v1`), the part about prices,
//! served on the rest origin under `/v1` ([`Emulator::platform_url`](crate::Emulator::platform_url)):
//! `GET /v1/models/pricing` and `POST /v1/models/pricing/estimate`, answered
//! from the emulator's [`Price`] list and validated, the way fal's apps report
//! it, against the vendored document (`openapi/fal-platform-apis__v1.json`).

use std::collections::BTreeSet;
use std::sync::LazyLock;

use axum::Json;
use axum::body::Bytes;
use axum::extract::Query;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::catalog::endpoints::PLATFORM_DOCUMENT;
use crate::catalog::prices::{self, Price};
use crate::catalog::validation::{self, InputValidator};

/// The most endpoint ids one pricing call may ask for.
const MOST_IDS: usize = 50;

/// The estimate body's schema, from the vendored document.
static ESTIMATE_REQUEST: LazyLock<InputValidator> = LazyLock::new(|| {
    let document: Value =
        serde_json::from_str(PLATFORM_DOCUMENT).expect("the platform document is JSON");
    InputValidator::new(&document, "#/components/schemas/EstimateRequest")
});

/// 422 with fal's `detail` list.
fn unprocessable(details: Vec<Value>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"detail": details})),
    )
        .into_response()
}

/// `GET /v1/models/pricing?endpoint_id=…`: the prices of the ids asked
/// (repeated or comma-separated, 1 to 50), in the order asked, each once;
/// ids without a price are left out. One page holds them all.
pub(crate) fn pricing(prices: &[Price], uri: &Uri) -> Response {
    let pairs: Vec<(String, String)> = Query::try_from_uri(uri)
        .map(|Query(pairs)| pairs)
        .unwrap_or_default();
    let values: Vec<&str> = pairs
        .iter()
        .filter(|(name, _)| name == "endpoint_id")
        .map(|(_, value)| value.as_str())
        .collect();
    let asked: Vec<&str> = values
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .collect();
    let loc = json!(["query", "endpoint_id"]);
    if values.is_empty() {
        return unprocessable(vec![
            json!({"loc": loc, "msg": "Field required", "type": "missing"}),
        ]);
    }
    if asked.is_empty() || asked.len() > MOST_IDS {
        let (msg, kind, ctx) = if asked.is_empty() {
            (
                "List should have at least 1 item after validation, not 0".to_owned(),
                "too_short",
                json!({"field_type": "List", "min_length": 1, "actual_length": 0}),
            )
        } else {
            (
                format!(
                    "List should have at most {MOST_IDS} items after validation, not {}",
                    asked.len()
                ),
                "too_long",
                json!({"field_type": "List", "max_length": MOST_IDS, "actual_length": asked.len()}),
            )
        };
        return unprocessable(vec![
            json!({"loc": loc, "msg": msg, "type": kind, "input": values, "ctx": ctx}),
        ]);
    }
    let mut seen = BTreeSet::new();
    let listed: Vec<&Price> = asked
        .into_iter()
        .filter(|id| seen.insert(*id))
        .filter_map(|id| prices::find(prices, id))
        .collect();
    Json(json!({"prices": listed, "next_cursor": null, "has_more": false})).into_response()
}

/// `POST /v1/models/pricing/estimate`: `unit_price` is the sum of unit price
/// × `unit_quantity`; `historical_api_price` the sum of the past price per
/// call × `call_quantity`, where the emulator, which keeps no billing history,
/// takes a call to cost one unit (its unit price). Every endpoint must have a
/// price, all in one currency; the total is rounded to 1e-9 only, to drop
/// floating-point noise.
pub(crate) fn estimate(prices: &[Price], body: &Bytes) -> Response {
    let request: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(request) => request,
            Err(error) => return unprocessable(validation::invalid_json(&error)),
        }
    };
    if let Err(details) = ESTIMATE_REQUEST.check(&request) {
        return unprocessable(details);
    }
    let estimate_type = request["estimate_type"].as_str().unwrap_or_default();
    let quantity_field = match estimate_type {
        "unit_price" => "unit_quantity",
        _ => "call_quantity",
    };
    let endpoints = request["endpoints"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if endpoints.is_empty() {
        return unprocessable(vec![json!({
            "loc": ["body", "endpoints"],
            "msg": "Dictionary should have at least 1 item after validation, not 0",
            "type": "too_short",
            "input": {},
            "ctx": {"field_type": "Dictionary", "min_length": 1, "actual_length": 0},
        })]);
    }

    let mut details = Vec::new();
    let mut priced = Vec::new();
    for (id, quantities) in &endpoints {
        let Some(price) = prices::find(prices, id) else {
            details.push(json!({
                "loc": ["body", "endpoints", id],
                "msg": format!("No price is known for endpoint '{id}'"),
                "type": "value_error",
                "input": quantities,
            }));
            continue;
        };
        // The schema has checked the type and sign of whatever is given.
        match quantities[quantity_field].as_f64() {
            Some(quantity) => priced.push((price, quantity)),
            None => details.push(json!({
                "loc": ["body", "endpoints", id, quantity_field],
                "msg": "Field required",
                "type": "missing",
            })),
        }
    }
    if !details.is_empty() {
        return unprocessable(details);
    }
    let currencies: BTreeSet<&str> = priced
        .iter()
        .map(|(price, _)| price.currency.as_str())
        .collect();
    if currencies.len() > 1 {
        let names: Vec<&str> = currencies.into_iter().collect();
        return unprocessable(vec![json!({
            "loc": ["body", "endpoints"],
            "msg": format!(
                "The endpoints are priced in different currencies ({}); estimate them separately",
                names.join(", ")
            ),
            "type": "value_error",
        })]);
    }
    let total: f64 = priced
        .iter()
        .map(|(price, quantity)| price.unit_price * quantity)
        .sum();
    let currency = priced.first().map_or("USD", |(price, _)| &price.currency);
    Json(json!({
        "estimate_type": estimate_type,
        "total_cost": (total * 1e9).round() / 1e9,
        "currency": currency,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(response: Response) -> (StatusCode, Value) {
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, serde_json::from_slice(&body).expect("JSON"))
    }

    async fn estimate_of(body: Value) -> (StatusCode, Value) {
        answer(estimate(
            &prices::published(),
            &Bytes::from(body.to_string()),
        ))
        .await
    }

    #[tokio::test]
    async fn the_schema_refuses_a_bad_type_and_a_negative_or_textual_quantity() {
        let (status, body) = estimate_of(json!({
            "estimate_type": "per_call",
            "endpoints": {"fal-ai/flux-pro/kontext": {"unit_quantity": -1}},
        }))
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let locs: Vec<&Value> = body["detail"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|detail| &detail["loc"])
            .collect();
        assert!(locs.contains(&&json!(["body", "estimate_type"])), "{body}");
        assert!(
            locs.contains(&&json!([
                "body",
                "endpoints",
                "fal-ai/flux-pro/kontext",
                "unit_quantity"
            ])),
            "{body}"
        );
        let (status, body) = estimate_of(json!({
            "estimate_type": "historical_api_price",
            "endpoints": {"fal-ai/flux-pro/kontext": {"call_quantity": "ten"}},
        }))
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["detail"][0]["type"], "int_type", "{body}");
    }

    #[tokio::test]
    async fn mixed_currencies_cannot_be_summed() {
        let mut prices = prices::published();
        prices.push(Price {
            currency: "EUR".into(),
            ..Price::usd("fal-ai/flux/dev", 0.02, "image")
        });
        let body = json!({"estimate_type": "unit_price", "endpoints": {
            "fal-ai/flux/dev": {"unit_quantity": 1},
            "fal-ai/flux-pro/kontext": {"unit_quantity": 1},
        }});
        let (status, body) = answer(estimate(&prices, &Bytes::from(body.to_string()))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["detail"][0]["loc"], json!(["body", "endpoints"]));
        assert!(
            body["detail"][0]["msg"]
                .as_str()
                .is_some_and(|msg| msg.contains("EUR, USD")),
            "{body}"
        );
    }
}
