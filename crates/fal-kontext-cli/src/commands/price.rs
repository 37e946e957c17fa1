//! `kontext price [ENDPOINT …]`: fal's current prices, from its Platform API.

use clap::Args;
use serde_json::json;

use crate::exit::Failure;
use crate::flags::Global;
use crate::local::connect;
use crate::output;
use crate::server_text::printable;

/// `kontext price`.
#[derive(Debug, Args)]
pub struct PriceArgs {
    /// The endpoints (default: the seven of the Kontext family).
    #[arg(value_name = "ENDPOINT", num_args = 0..=50)]
    pub endpoints: Vec<String>,
}

/// Prints the price of each endpoint asked for (the whole Kontext family by
/// default), one line each, or one JSON document; an endpoint fal gives no
/// price for says so.
pub async fn run(args: PriceArgs, global: &Global) -> Result<(), Failure> {
    let endpoints: Vec<&str> = if args.endpoints.is_empty() {
        fal_kontext::endpoints::ALL.to_vec()
    } else {
        args.endpoints.iter().map(String::as_str).collect()
    };
    let connection = connect(global.local).await?;
    let prices = connection.client.prices(&endpoints).await?;
    let price_of = |endpoint: &str| prices.iter().find(|p| p.endpoint_id == endpoint);
    if global.json {
        let listed: Vec<_> = endpoints
            .iter()
            .map(|endpoint| match price_of(endpoint) {
                Some(price) => json!(price),
                None => json!({"endpoint_id": endpoint, "unit_price": null}),
            })
            .collect();
        output::print_json(&json!({"prices": listed}));
        return Ok(());
    }
    let width = endpoints.iter().map(|e| e.len()).max().unwrap_or(0);
    for endpoint in &endpoints {
        let said = match price_of(endpoint) {
            Some(price) => format!(
                "{} {} per {}",
                price.unit_price,
                price.currency.as_deref().unwrap_or("(no currency given)"),
                price.unit.as_deref().unwrap_or("unit")
            ),
            None => "no price given by fal".into(),
        };
        // The currency and unit are fal's text.
        println!("{endpoint:width$}  {}", printable(&said));
    }
    Ok(())
}
