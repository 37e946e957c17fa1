//! What a batch costs: fal's estimate of the jobs it would submit
//! (`--estimate`, `--max-cost`) and the budget it keeps while running
//! (`--max-cost`).

use std::cell::Cell;

use fal_kontext::{Client, Estimate, Plan, Price};
use serde_json::json;

use crate::exit::Failure;
use crate::job::Job;
use crate::output;

/// The plan of the jobs to submit: each one's endpoint and images. A job
/// that fails before anything is sent (no endpoint) costs nothing.
pub fn plan<'a>(jobs: impl IntoIterator<Item = &'a Job>) -> Plan {
    let mut plan = Plan::default();
    for job in jobs {
        if let Some(endpoint) = job.endpoint() {
            plan.add_images(endpoint, job.images());
        }
    }
    plan
}

/// fal's estimate of `plan`; one that cannot be had is an error saying that
/// nothing was submitted, never a zero.
pub async fn estimate(client: &Client, plan: &Plan) -> Result<Estimate, Failure> {
    client.estimate(plan).await.map_err(Failure::Estimate)
}

/// An amount of money as people read it: at most six decimals, no trailing
/// zeros (`0.16`, not `0.16000000000000003`), with its currency.
pub fn amount(value: f64, currency: Option<&str>) -> String {
    let digits = format!("{value:.6}");
    let digits = digits.trim_end_matches('0').trim_end_matches('.');
    match currency {
        Some(currency) => format!("{digits} {currency}"),
        None => digits.to_string(),
    }
}

/// Prints the estimate of `jobs` jobs (one line, or one JSON document).
pub fn print(estimate: &Estimate, jobs: usize, plan: &Plan, json: bool) {
    if json {
        let endpoints: serde_json::Map<_, _> = plan
            .images()
            .iter()
            .map(|(endpoint, images)| {
                let units = estimate.units.get(endpoint).copied();
                (endpoint.clone(), json!({"images": images, "units": units}))
            })
            .collect();
        output::print_json(&json!({
            "jobs": jobs,
            "endpoints": endpoints,
            "total_cost": estimate.total_cost,
            "currency": estimate.currency,
        }));
        return;
    }
    let images: Vec<String> = plan
        .images()
        .iter()
        .map(|(endpoint, images)| format!("{images} image(s) of {endpoint}"))
        .collect();
    println!(
        "{jobs} job(s) to submit: {}; fal's estimate: {}",
        if images.is_empty() {
            "nothing".into()
        } else {
            images.join(", ")
        },
        amount(estimate.total_cost, estimate.currency.as_deref())
    );
}

/// Whether fal may bill a job whose submit failed with `error`, so that
/// `--max-cost` counts it. fal bills successful outputs, and may bill a
/// validation error (422) (<https://docs.fal.ai/documentation/model-apis/pricing>,
/// <https://docs.fal.ai/faq>); a job whose answer named a request, or whose
/// answer was lost, may have run. Anything else never reached fal's app: a
/// job refused before it was sent (an input the SDK refused, an image it
/// could not read or upload) or refused by fal's edge (429, an ingress
/// error page) costs nothing.
pub fn may_bill(error: &fal_kontext::Error) -> bool {
    use fal_kontext::Error;
    error.request_id().is_some()
        || matches!(
            error,
            Error::Validation { .. } | Error::AmbiguousSubmit { .. }
        )
}

/// What this run may still spend (`--max-cost`), kept as the jobs are
/// submitted and finish; all on the batch's one task.
pub struct Budget {
    max: f64,
    currency: Option<String>,
    prices: Vec<Price>,
    spent: Cell<f64>,
}

/// Amounts within this of each other are equal (float sums of prices).
const EPSILON: f64 = 1e-9;

impl Budget {
    /// A budget of `max`, at the prices of `estimate`.
    pub fn new(max: f64, estimate: &Estimate) -> Self {
        Self {
            max,
            currency: estimate.currency.clone(),
            prices: estimate.prices.clone(),
            spent: Cell::new(0.0),
        }
    }

    fn price(&self, endpoint: &str) -> Option<&Price> {
        self.prices.iter().find(|p| p.endpoint_id == endpoint)
    }

    /// What `job` costs at fal's prices (0 for one that sends nothing).
    pub fn cost_of(&self, job: &Job) -> f64 {
        job.endpoint()
            .and_then(|endpoint| self.price(endpoint))
            .and_then(|price| price.cost_of(job.images()).ok())
            .unwrap_or(0.0)
    }

    /// Takes `cost` from the budget if it fits: `false` leaves the job
    /// unsubmitted.
    pub fn reserve(&self, cost: f64) -> bool {
        let after = self.spent.get() + cost;
        if after > self.max + EPSILON {
            return false;
        }
        self.spent.set(after);
        true
    }

    /// Gives back what was reserved for a job fal cannot bill: its submit
    /// failed before it was sent, or fal's edge refused it (see
    /// [`may_bill`]).
    pub fn release(&self, reserved: f64) {
        self.spent.set(self.spent.get() - reserved);
    }

    /// What `units` billing units of `endpoint` cost at fal's price.
    pub fn billed(&self, endpoint: &str, units: f64) -> Option<f64> {
        Some(self.price(endpoint)?.unit_price * units)
    }

    /// A submitted job finished: what fal billed replaces what was reserved.
    pub fn settle(&self, reserved: f64, billed: f64) {
        self.spent.set(self.spent.get() - reserved + billed);
    }

    /// What was spent so far, with the currency.
    pub fn spent(&self) -> String {
        amount(self.spent.get(), self.currency.as_deref())
    }

    /// The summary's JSON of the budget.
    pub fn json(&self, left: usize) -> serde_json::Value {
        json!({
            "max_cost": self.max,
            "spent": self.spent.get(),
            "currency": self.currency,
            "left_for_a_rerun": left,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(max: f64) -> Budget {
        Budget::new(
            max,
            &Estimate {
                total_cost: 0.0,
                currency: Some("USD".into()),
                units: Default::default(),
                prices: vec![Price {
                    endpoint_id: "fal-ai/flux-pro/kontext".into(),
                    unit_price: 0.04,
                    unit: Some("image".into()),
                    currency: Some("USD".into()),
                }],
            },
        )
    }

    #[test]
    fn a_job_is_reserved_only_while_the_budget_holds_it() {
        let budget = budget(0.1);
        assert!(budget.reserve(0.04));
        assert!(budget.reserve(0.04));
        assert!(!budget.reserve(0.04), "0.12 would pass 0.10");
        assert!(budget.reserve(0.02), "0.10 is within");
        assert_eq!(budget.spent(), "0.1 USD");
    }

    #[test]
    fn what_fal_billed_replaces_what_was_reserved() {
        let budget = budget(1.0);
        assert!(budget.reserve(0.08));
        let billed = budget.billed("fal-ai/flux-pro/kontext", 1.0).unwrap();
        budget.settle(0.08, billed);
        assert_eq!(budget.spent(), "0.04 USD");
        assert_eq!(budget.billed("unknown", 1.0), None);
    }

    #[test]
    fn a_job_fal_cannot_bill_gives_its_reservation_back() {
        let budget = budget(0.08);
        assert!(budget.reserve(0.08));
        let refused = fal_kontext::Error::RateLimited {
            retry_after: None,
            context: Default::default(),
        };
        assert!(!may_bill(&refused), "a 429 never reached the app");
        budget.release(0.08);
        assert!(budget.reserve(0.08), "the next job fits again");

        let rejected = fal_kontext::Error::Validation {
            details: vec![],
            context: Default::default(),
        };
        assert!(may_bill(&rejected), "fal may bill a 422");
        let lost = fal_kontext::Error::AmbiguousSubmit {
            endpoint: "fal-ai/flux-pro/kontext".into(),
            reason: "502".into(),
            submitted: None,
            context: Default::default(),
        };
        assert!(may_bill(&lost), "the job may be running");
    }

    #[test]
    fn amounts_read_as_people_write_them() {
        assert_eq!(amount(0.1 + 0.2, Some("USD")), "0.3 USD");
        assert_eq!(amount(5.0, None), "5");
        assert_eq!(amount(0.025, Some("EUR")), "0.025 EUR");
    }
}
