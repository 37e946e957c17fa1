//! Which request `status`, `result` and `cancel` mean: its id, and where it
//! was submitted.

use clap::Args;

use super::parse::request_id;
use crate::job::Model;

/// Which request: its id, and where it was submitted.
#[derive(Debug, Args)]
pub struct RequestRef {
    /// The request id that `kontext submit` printed.
    #[arg(value_parser = request_id)]
    pub id: String,
    /// The model it was submitted to.
    #[arg(long, value_enum, default_value_t, conflicts_with = "endpoint")]
    pub model: Model,
    /// The endpoint id it was submitted to, e.g. fal-ai/flux-pro/kontext (instead of --model).
    #[arg(long, value_name = "ENDPOINT", value_parser = clap::builder::PossibleValuesParser::new(fal_kontext::endpoints::ALL))]
    pub endpoint: Option<String>,
}

impl RequestRef {
    /// The endpoint: `--endpoint`, else the main endpoint of `--model` (fal
    /// answers by app, which every endpoint of a model shares).
    pub fn endpoint(&self) -> &str {
        match (&self.endpoint, self.model) {
            (Some(endpoint), _) => endpoint,
            (None, Model::Pro) => fal_kontext::endpoints::FLUX_PRO_KONTEXT,
            (None, Model::Max) => fal_kontext::endpoints::FLUX_PRO_KONTEXT_MAX,
            (None, Model::Dev) => fal_kontext::endpoints::FLUX_KONTEXT_DEV,
        }
    }
}
