//! Prices and cost estimates, from fal's Platform APIs (the generated
//! `fal_kontext_api::platform` client, at [`DEFAULT_PLATFORM_URL`] unless
//! configured): what one billing unit of an endpoint costs, and what fal
//! estimates a planned set of requests costs, before anything is paid.
//!
//! [`DEFAULT_PLATFORM_URL`]: crate::DEFAULT_PLATFORM_URL

use std::collections::BTreeMap;

use fal_kontext_api::platform::types;

use crate::Client;
use crate::error::{Error, Result};
use crate::retry::{Call, Failed};

/// The most endpoints one price call may ask for (fal's limit).
const MAX_ENDPOINTS: usize = 50;

/// What an image billed by megapixels is counted as in an estimate: one
/// megapixel. Kontext makes images of about one megapixel (its preferred
/// sizes, such as 1024×1024 or 1184×880), so an estimate for such an
/// endpoint (\[dev\]) is close, not exact; what fal billed is reported after
/// ([`Completed::billable_units`](crate::Completed::billable_units)).
pub const MEGAPIXELS_PER_IMAGE: f64 = 1.0;

/// The price of one billing unit of an endpoint, as fal answers it (prices
/// can be specific to the account: discounts).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Price {
    /// The endpoint, such as `fal-ai/flux-pro/kontext`.
    pub endpoint_id: String,
    /// The price of one unit, in `currency`.
    pub unit_price: f64,
    /// The billing unit (`image`, `megapixels`, …), when fal says.
    pub unit: Option<String>,
    /// A three-letter ISO 4217 code (`USD`), when fal says.
    pub currency: Option<String>,
}

impl Price {
    /// How many billing units `images` images of this endpoint are: as many
    /// as the images for a price per image, [`MEGAPIXELS_PER_IMAGE`] each for
    /// a price per megapixel. Another unit cannot be counted from images.
    ///
    /// ```
    /// let price = fal_kontext::Price {
    ///     endpoint_id: "fal-ai/flux-pro/kontext".into(),
    ///     unit_price: 0.04,
    ///     unit: Some("image".into()),
    ///     currency: Some("USD".into()),
    /// };
    /// assert_eq!(price.units_of(3)?, 3.0);
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn units_of(&self, images: u64) -> Result<f64> {
        let unit = self
            .unit
            .as_deref()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match unit.as_str() {
            "image" | "images" => Ok(images as f64),
            "megapixel" | "megapixels" | "mp" => Ok(images as f64 * MEGAPIXELS_PER_IMAGE),
            _ => Err(Error::InvalidInput {
                field: "endpoint",
                value: self.endpoint_id.clone(),
                rule: format!(
                    "fal bills it per `{}`, which cannot be counted from images (only per image or per megapixel)",
                    self.unit.as_deref().unwrap_or("(no unit given)")
                ),
            }),
        }
    }

    /// What `images` images of this endpoint cost at this price.
    ///
    /// ```
    /// let price = fal_kontext::Price {
    ///     endpoint_id: "fal-ai/flux-pro/kontext/max".into(),
    ///     unit_price: 0.08,
    ///     unit: Some("image".into()),
    ///     currency: Some("USD".into()),
    /// };
    /// assert!((price.cost_of(2)? - 0.16).abs() < 1e-9);
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn cost_of(&self, images: u64) -> Result<f64> {
        Ok(self.units_of(images)? * self.unit_price)
    }
}

/// A planned set of requests: how many images of each endpoint.
///
/// ```
/// let mut plan = fal_kontext::Plan::default();
/// plan.add_images("fal-ai/flux-pro/kontext", 2).add_images("fal-ai/flux-pro/kontext", 1);
/// assert_eq!(plan.images()["fal-ai/flux-pro/kontext"], 3);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    images: BTreeMap<String, u64>,
}

impl Plan {
    /// Adds `count` images of `endpoint` to the plan.
    ///
    /// ```
    /// let mut plan = fal_kontext::Plan::default();
    /// plan.add_images("fal-ai/flux-kontext/dev", 4);
    /// assert!(!plan.is_empty());
    /// ```
    pub fn add_images(&mut self, endpoint: &str, count: u64) -> &mut Self {
        *self.images.entry(endpoint.to_string()).or_default() += count;
        self
    }

    /// The images per endpoint.
    ///
    /// ```
    /// assert!(fal_kontext::Plan::default().images().is_empty());
    /// ```
    pub fn images(&self) -> &BTreeMap<String, u64> {
        &self.images
    }

    /// Whether the plan holds no images.
    ///
    /// ```
    /// assert!(fal_kontext::Plan::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.images.values().all(|count| *count == 0)
    }
}

/// What fal estimates a plan costs.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Estimate {
    /// The estimated cost, in `currency`.
    pub total_cost: f64,
    /// A three-letter ISO 4217 code (`USD`), when fal says.
    pub currency: Option<String>,
    /// The billing units the estimate was asked for, per endpoint.
    pub units: BTreeMap<String, f64>,
    /// The prices the units were counted with (fal's, at the time).
    pub prices: Vec<Price>,
}

impl Client {
    /// The current prices of `endpoints` (1 to 50), as fal answers them for
    /// this account. An endpoint fal has no price for is left out.
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// for price in client.prices(&["fal-ai/flux-pro/kontext"]).await? {
    ///     println!("{}: {} {:?} per {:?}", price.endpoint_id, price.unit_price, price.currency, price.unit);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn prices(&self, endpoints: &[&str]) -> Result<Vec<Price>> {
        if endpoints.is_empty() || endpoints.len() > MAX_ENDPOINTS {
            return Err(Error::InvalidInput {
                field: "endpoint_id",
                value: endpoints.len().to_string(),
                rule: format!("give 1 to {MAX_ENDPOINTS} endpoints"),
            });
        }
        let ids: Vec<String> = endpoints.iter().map(|id| id.to_string()).collect();
        let api = self.platform_api()?;
        let answer = self
            .retrying(
                Call::Api,
                "pricing",
                self.settings().call_timeout,
                || async {
                    let sent = api.pricing().endpoint_id(ids.clone()).send().await;
                    Failed::answer(sent, "the price list", self.settings().body_idle_timeout).await
                },
            )
            .await?;
        Ok(answer
            .prices
            .into_iter()
            .map(|price| Price {
                endpoint_id: price.endpoint_id,
                unit_price: price.unit_price,
                unit: price.unit,
                currency: price.currency,
            })
            .collect())
    }

    /// fal's estimate of what `plan` costs: the unit price of each endpoint
    /// times its billing units (its images, counted in the endpoint's unit:
    /// see [`Price::units_of`]). Two calls: the prices, for the units, then
    /// the estimate. Fails, never answers zero, when either cannot be had.
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let mut plan = fal_kontext::Plan::default();
    /// plan.add_images("fal-ai/flux-pro/kontext", 100);
    /// let estimate = client.estimate(&plan).await?;
    /// println!("{} {}", estimate.total_cost, estimate.currency.unwrap_or_default());
    /// # Ok(()) }
    /// ```
    pub async fn estimate(&self, plan: &Plan) -> Result<Estimate> {
        let planned: Vec<(&str, u64)> = plan
            .images()
            .iter()
            .filter(|(_, count)| **count > 0)
            .map(|(endpoint, count)| (endpoint.as_str(), *count))
            .collect();
        if planned.is_empty() {
            return Ok(Estimate {
                total_cost: 0.0,
                currency: None,
                units: BTreeMap::new(),
                prices: Vec::new(),
            });
        }
        let endpoints: Vec<&str> = planned.iter().map(|(endpoint, _)| *endpoint).collect();
        let prices = self.prices(&endpoints).await?;
        let mut units = BTreeMap::new();
        for (endpoint, count) in &planned {
            let price = prices
                .iter()
                .find(|price| price.endpoint_id == *endpoint)
                .ok_or_else(|| Error::NotFound {
                    detail: format!("fal gave no price for {endpoint}"),
                    context: Default::default(),
                })?;
            units.insert(endpoint.to_string(), price.units_of(*count)?);
        }
        let body = types::EstimateRequest {
            estimate_type: types::EstimateRequestEstimateType::UnitPrice,
            endpoints: units
                .iter()
                .map(|(endpoint, units)| {
                    (
                        endpoint.clone(),
                        types::EndpointQuantity {
                            unit_quantity: Some(*units),
                            call_quantity: None,
                        },
                    )
                })
                .collect(),
        };
        let api = self.platform_api()?;
        let answer = self
            .retrying(
                Call::Api,
                "estimate",
                self.settings().call_timeout,
                || async {
                    let sent = api.estimate().body(body.clone()).send().await;
                    Failed::answer(sent, "the estimate", self.settings().body_idle_timeout).await
                },
            )
            .await?;
        Ok(Estimate {
            total_cost: answer.total_cost,
            currency: answer.currency,
            units,
            prices,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(unit: Option<&str>) -> Price {
        Price {
            endpoint_id: "e".into(),
            unit_price: 0.025,
            unit: unit.map(str::to_string),
            currency: Some("USD".into()),
        }
    }

    #[test]
    fn images_are_counted_in_the_unit_fal_bills() {
        assert_eq!(price(Some("image")).units_of(4).unwrap(), 4.0);
        assert_eq!(price(Some("Images")).units_of(4).unwrap(), 4.0);
        assert_eq!(
            price(Some("megapixels")).units_of(4).unwrap(),
            4.0 * MEGAPIXELS_PER_IMAGE
        );
        for unit in [Some("second"), None] {
            let error = price(unit).units_of(1).unwrap_err();
            assert!(
                matches!(&error, Error::InvalidInput { field: "endpoint", value, .. } if value == "e"),
                "{error:?}"
            );
        }
    }

    #[test]
    fn a_plan_adds_up_per_endpoint() {
        let mut plan = Plan::default();
        plan.add_images("a", 1)
            .add_images("b", 0)
            .add_images("a", 2);
        assert_eq!(plan.images().get("a"), Some(&3));
        assert!(!plan.is_empty());
        let mut none = Plan::default();
        none.add_images("b", 0);
        assert!(none.is_empty());
    }
}
