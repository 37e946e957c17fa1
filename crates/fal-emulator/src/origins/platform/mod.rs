//! fal's Platform APIs (`https://api.fal.ai/v1`), served on the rest origin
//! under `/v1`: prices and estimates (`pricing.rs`), the request history and
//! payload deletion (`requests.rs`).

pub(crate) mod pricing;
pub(crate) mod requests;
