//! What the emulator charges: the [`Price`] of each endpoint (fal's published
//! prices by default), the `--price` option that changes one
//! ([`PriceOverride`]), and the billed units of an output, which fal reports
//! in `x-fal-billable-units`.

use std::str::FromStr;

use serde_json::Value;

/// The unit of endpoints billed per output image.
pub(crate) const IMAGE: &str = "image";
/// The unit of endpoints billed by output resolution (per million pixels).
pub(crate) const MEGAPIXELS: &str = "megapixels";
/// The unit of the trainer, billed by training steps.
pub(crate) const STEPS: &str = "steps";

/// The price of one billing unit of one endpoint, as fal's
/// `GET https://api.fal.ai/v1/models/pricing` lists it (and as the emulator's
/// `GET {rest}/v1/models/pricing` answers it).
///
/// ```
/// use fal_emulator::Price;
///
/// let price = Price::usd("fal-ai/flux-pro/kontext", 0.05, "image");
/// assert_eq!(price.currency, "USD");
/// assert_eq!(
///     serde_json::to_value(&price).unwrap(),
///     serde_json::json!({"endpoint_id": "fal-ai/flux-pro/kontext", "unit_price": 0.05,
///                        "unit": "image", "currency": "USD"})
/// );
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Price {
    /// The endpoint id, such as `fal-ai/flux-pro/kontext`.
    pub endpoint_id: String,
    /// The price of one unit, in `currency`.
    pub unit_price: f64,
    /// The billing unit. The emulator knows how to count two of them in an
    /// output, for `x-fal-billable-units`: `image` (one per output image) and
    /// `megapixels` (width × height / 1,000,000, summed over the output
    /// images); any other unit is listed and estimated, but its results carry
    /// no `x-fal-billable-units`.
    pub unit: String,
    /// A three-letter ISO 4217 code.
    pub currency: String,
}

impl Price {
    /// A price in US dollars, the currency of all of fal's published prices.
    ///
    /// ```
    /// let price = fal_emulator::Price::usd("fal-ai/flux-kontext/dev", 0.025, "megapixels");
    /// assert_eq!((price.unit.as_str(), price.currency.as_str()), ("megapixels", "USD"));
    /// ```
    pub fn usd(endpoint_id: impl Into<String>, unit_price: f64, unit: impl Into<String>) -> Self {
        Self {
            endpoint_id: endpoint_id.into(),
            unit_price,
            unit: unit.into(),
            currency: "USD".to_owned(),
        }
    }
}

/// fal's published prices of the Kontext family
/// (<https://fal.ai/models/fal-ai/flux-pro/kontext/llms.txt> and each model's page):
/// what [`Config::prices`](crate::Config::prices) holds by default.
pub(crate) fn published() -> Vec<Price> {
    let pro = [
        "fal-ai/flux-pro/kontext",
        "fal-ai/flux-pro/kontext/text-to-image",
        "fal-ai/flux-pro/kontext/multi",
    ];
    let max = [
        "fal-ai/flux-pro/kontext/max",
        "fal-ai/flux-pro/kontext/max/text-to-image",
        "fal-ai/flux-pro/kontext/max/multi",
    ];
    pro.into_iter()
        .map(|id| Price::usd(id, 0.04, IMAGE))
        .chain(max.into_iter().map(|id| Price::usd(id, 0.08, IMAGE)))
        .chain([Price::usd("fal-ai/flux-kontext/dev", 0.025, MEGAPIXELS)])
        .chain(kontext_lora())
        .collect()
}

/// The Kontext LoRA endpoints and the trainer. The edit's 0.035 per
/// megapixel is fal's (<https://fal.ai/models/fal-ai/flux-kontext-lora/llms.txt>);
/// text to image and inpaint are assumed the same (third-party catalogues
/// only, unverified); the trainer's 2.50 per 1000 steps (500-step minimum)
/// is from third-party copies of <https://fal.ai/models/fal-ai/flux-kontext-trainer>,
/// unverified, listed per step. Change any with `--price`.
fn kontext_lora() -> [Price; 4] {
    [
        Price::usd("fal-ai/flux-kontext-lora", 0.035, MEGAPIXELS),
        Price::usd("fal-ai/flux-kontext-lora/text-to-image", 0.035, MEGAPIXELS),
        Price::usd("fal-ai/flux-kontext-lora/inpaint", 0.035, MEGAPIXELS),
        Price::usd("fal-ai/flux-kontext-trainer", 0.0025, STEPS),
    ]
}

/// The price listed for an endpoint: the last one given for it.
pub(crate) fn find<'a>(prices: &'a [Price], endpoint_id: &str) -> Option<&'a Price> {
    prices
        .iter()
        .rev()
        .find(|price| price.endpoint_id == endpoint_id)
}

/// One `--price ENDPOINT=AMOUNT[:UNIT]` of the command line: a new unit
/// price, in US dollars, for one endpoint. Without a unit the endpoint keeps
/// its current one, so only the endpoints fal publishes a price for (the
/// Kontext family) may leave it out.
///
/// ```
/// use fal_emulator::PriceOverride;
///
/// let price: PriceOverride = "fal-ai/flux-kontext/dev=0.03".parse().unwrap();
/// assert_eq!((price.endpoint_id.as_str(), price.unit_price, price.unit), ("fal-ai/flux-kontext/dev", 0.03, None));
/// let price: PriceOverride = "fal-ai/flux/dev=0.025:image".parse().unwrap();
/// assert_eq!(price.unit.as_deref(), Some("image"));
/// assert!("fal-ai/flux-pro/kontext=-1".parse::<PriceOverride>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PriceOverride {
    /// The endpoint id.
    pub endpoint_id: String,
    /// The new price of one unit, in US dollars.
    pub unit_price: f64,
    /// The new billing unit; `None` keeps the endpoint's current one.
    pub unit: Option<String>,
}

impl FromStr for PriceOverride {
    type Err = String;

    /// Parses `ENDPOINT=AMOUNT[:UNIT]`; the error names what is wrong.
    fn from_str(text: &str) -> Result<Self, String> {
        const FORM: &str = "must be ENDPOINT=AMOUNT[:UNIT], e.g. fal-ai/flux-pro/kontext=0.05 or fal-ai/flux-kontext/dev=0.03:megapixels";
        let (endpoint_id, rest) = text.split_once('=').ok_or(FORM)?;
        let endpoint_id = endpoint_id.trim().trim_matches('/');
        if endpoint_id.is_empty() {
            return Err(FORM.to_owned());
        }
        let (amount, unit) = match rest.split_once(':') {
            Some((amount, unit)) if !unit.trim().is_empty() => {
                (amount, Some(unit.trim().to_owned()))
            }
            Some(_) => return Err(FORM.to_owned()),
            None => (rest, None),
        };
        let unit_price: f64 = amount.trim().parse().map_err(|_| FORM)?;
        if !unit_price.is_finite() || unit_price < 0.0 {
            return Err("the AMOUNT must be a number of US dollars, 0 or more".to_owned());
        }
        if unit.is_none() && find(&published(), endpoint_id).is_none() {
            return Err(format!(
                "{endpoint_id} has no price to take its unit from: name it, e.g. {endpoint_id}={amount}:image"
            ));
        }
        Ok(Self {
            endpoint_id: endpoint_id.to_owned(),
            unit_price,
            unit,
        })
    }
}

impl PriceOverride {
    /// Sets this price in `prices`: in place of the endpoint's current price
    /// (keeping its unit when none is given, and its currency), or added
    /// (per `image` when no unit is given).
    pub(crate) fn apply(self, prices: &mut Vec<Price>) {
        let current = prices
            .iter()
            .rposition(|price| price.endpoint_id == self.endpoint_id);
        match current {
            Some(index) => {
                let price = &mut prices[index];
                price.unit_price = self.unit_price;
                if let Some(unit) = self.unit {
                    price.unit = unit;
                }
            }
            None => prices.push(Price::usd(
                self.endpoint_id,
                self.unit_price,
                self.unit.unwrap_or_else(|| IMAGE.to_owned()),
            )),
        }
    }
}

/// The billed units of a successful output, as fal writes them in
/// `x-fal-billable-units`: the number of images for `image`, the output's
/// megapixels (width × height / 1,000,000, summed over its images, written
/// exactly: `1.048576`) for `megapixels`; `None` for a unit the emulator
/// cannot count, or megapixels of images without their size.
pub(crate) fn billable_units(unit: &str, output: &Value) -> Option<String> {
    let images = output["images"].as_array()?;
    match unit {
        IMAGE => Some(images.len().to_string()),
        MEGAPIXELS => {
            let pixels: Option<u64> = images
                .iter()
                .map(|image| Some(image["width"].as_u64()? * image["height"].as_u64()?))
                .sum();
            Some(decimal_millionths(pixels?))
        }
        _ => None,
    }
}

/// `n / 1,000,000` written plainly and exactly: `1`, `0.5`, `1.048576`.
fn decimal_millionths(n: u64) -> String {
    let (whole, fraction) = (n / 1_000_000, n % 1_000_000);
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_published_prices_cover_the_eleven_endpoints() {
        let prices = published();
        assert_eq!(prices.len(), 11);
        for endpoint in crate::catalog::endpoints::all() {
            assert!(find(&prices, endpoint.id).is_some(), "{}", endpoint.id);
        }
        let dev = find(&prices, "fal-ai/flux-kontext/dev").expect("dev");
        assert_eq!((dev.unit_price, dev.unit.as_str()), (0.025, "megapixels"));
        let max = find(&prices, "fal-ai/flux-pro/kontext/max/multi").expect("max multi");
        assert_eq!((max.unit_price, max.unit.as_str()), (0.08, "image"));
        let lora = find(&prices, "fal-ai/flux-kontext-lora").expect("lora");
        assert_eq!((lora.unit_price, lora.unit.as_str()), (0.035, "megapixels"));
        let trainer = find(&prices, "fal-ai/flux-kontext-trainer").expect("trainer");
        assert_eq!(
            (trainer.unit_price, trainer.unit.as_str()),
            (0.0025, "steps")
        );
    }

    #[test]
    fn price_options_parse_and_refuse_what_they_cannot_read() {
        let parsed: PriceOverride = " fal-ai/flux-pro/kontext/max = 0.1 ".parse().expect("ok");
        assert_eq!(
            parsed,
            PriceOverride {
                endpoint_id: "fal-ai/flux-pro/kontext/max".into(),
                unit_price: 0.1,
                unit: None,
            }
        );
        let parsed: PriceOverride = "fal-ai/flux/dev=0:megapixels".parse().expect("ok");
        assert_eq!(
            (parsed.unit_price, parsed.unit.as_deref()),
            (0.0, Some("megapixels"))
        );
        for bad in [
            "fal-ai/flux-pro/kontext",
            "=0.1",
            "fal-ai/flux-pro/kontext=",
            "fal-ai/flux-pro/kontext=cheap",
            "fal-ai/flux-pro/kontext=-0.1",
            "fal-ai/flux-pro/kontext=inf",
            "fal-ai/flux-pro/kontext=0.1:",
        ] {
            assert!(bad.parse::<PriceOverride>().is_err(), "{bad}");
        }
        let error = "fal-ai/flux/dev=0.02"
            .parse::<PriceOverride>()
            .expect_err("no unit to keep");
        assert!(error.contains("fal-ai/flux/dev=0.02:image"), "{error}");
    }

    #[test]
    fn overrides_replace_in_place_keeping_the_unit_or_add() {
        let mut prices = published();
        PriceOverride {
            endpoint_id: "fal-ai/flux-kontext/dev".into(),
            unit_price: 0.03,
            unit: None,
        }
        .apply(&mut prices);
        PriceOverride {
            endpoint_id: "fal-ai/flux/dev".into(),
            unit_price: 0.025,
            unit: Some("image".into()),
        }
        .apply(&mut prices);
        assert_eq!(prices.len(), 12, "the eleven published and one added");
        assert_eq!(
            find(&prices, "fal-ai/flux-kontext/dev"),
            Some(&Price::usd("fal-ai/flux-kontext/dev", 0.03, "megapixels"))
        );
        assert_eq!(
            find(&prices, "fal-ai/flux/dev"),
            Some(&Price::usd("fal-ai/flux/dev", 0.025, "image"))
        );
    }

    #[test]
    fn billable_units_count_images_or_exact_megapixels() {
        let output = json!({"images": [
            {"url": "a", "width": 1024, "height": 1024},
            {"url": "b", "width": 1000, "height": 500},
        ]});
        assert_eq!(billable_units("image", &output).as_deref(), Some("2"));
        assert_eq!(
            billable_units("megapixels", &output).as_deref(),
            Some("1.548576")
        );
        let square = json!({"images": [{"width": 1000, "height": 1000}]});
        assert_eq!(billable_units("megapixels", &square).as_deref(), Some("1"));
        assert_eq!(billable_units("second", &output), None);
        let sizeless = json!({"images": [{"url": "a"}]});
        assert_eq!(billable_units("megapixels", &sizeless), None);
        assert_eq!(decimal_millionths(65_536), "0.065536");
        assert_eq!(decimal_millionths(2_500_000), "2.5");
    }
}
