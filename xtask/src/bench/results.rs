//! What a run measured: each client's figures, or why there are none, per
//! scenario; the figures, targets and report read them.

use std::collections::BTreeMap;

use super::clients::Client;
use super::scenarios::{Concurrency, Cost, Latency, Upload};

/// What one client measured: per scenario, its figures or why there are
/// none; `None` for a scenario that did not run.
#[derive(Default)]
pub struct Measured {
    pub latency: Option<Result<Latency, String>>,
    pub cost: Option<Result<Cost, String>>,
    pub concurrency: Option<Result<Concurrency, String>>,
    pub upload: Option<Result<Upload, String>>,
}

/// Each client's figures, in the table's column order.
pub type Results = BTreeMap<Client, Measured>;
