//! What every origin of one emulator shares ([`Shared`]): its settings, the
//! job table, the stored files, the request history, the counters and the
//! recording of requests, the fault engine and the webhook keys. Every layer
//! above reads it; nothing here reads a layer above.

pub(crate) mod config;
pub(crate) mod history;
pub(crate) mod jobs;
pub(crate) mod recording;
pub(crate) mod stats;
pub(crate) mod storage;
pub(crate) mod urls;
pub(crate) mod webhooks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

use crate::catalog::endpoints::Endpoint;
use crate::catalog::prices::{self, Price};
use crate::faults::{FaultEngine, FaultRule};
use crate::rng::SplitMix64;
use crate::state::config::{Config, Timing};
use crate::state::history::RequestLog;
use crate::state::jobs::Jobs;
use crate::state::recording::Recorder;
use crate::state::stats::Counters;
use crate::state::storage::FileStore;
use crate::state::urls::Urls;
use crate::state::webhooks::Webhooks;

pub(crate) struct Shared {
    pub(crate) key: String,
    /// The key with the ADMIN scope (`Config::admin_key`).
    pub(crate) admin_key: String,
    pub(crate) urls: Urls,
    /// The foreign origin's base URL (see `Fault::ForeignUrls`).
    pub(crate) foreign_url: String,
    /// How often an idle status stream sends a keep-alive comment.
    pub(crate) keep_alive: Duration,
    /// Bumped when an outage begins, so that open status streams are cut.
    outages: watch::Sender<u64>,
    pub(crate) eager_validation: bool,
    pub(crate) log_lines: usize,
    /// A watch, so that jobs waiting out the queue delay see a change at once.
    timing: watch::Sender<Timing>,
    pub(crate) faults: Mutex<FaultEngine>,
    /// What each endpoint costs (`Config::prices`, `Emulator::set_prices`).
    prices: RwLock<Vec<Price>>,
    pub(crate) counters: Counters,
    pub(crate) recorder: Recorder,
    pub(crate) jobs: Jobs,
    /// The request history of the Platform APIs.
    pub(crate) history: RequestLog,
    pub(crate) files: FileStore,
    /// One permit per job allowed to run at once (tokio's semaphore is FIFO,
    /// so jobs start in queue order).
    pub(crate) slots: Arc<Semaphore>,
    /// `Config::max_running_per_key`, and each key's slots under it (FIFO
    /// too), made when the key first submits.
    max_running_per_key: Option<usize>,
    key_slots: Mutex<HashMap<String, Arc<Semaphore>>>,
    seeds: Mutex<SplitMix64>,
    /// For loopback image URLs only.
    pub(crate) http: reqwest::Client,
    /// Signing keys, delivery client and faults of webhook deliveries.
    pub(crate) webhooks: Webhooks,
    /// The bearer token `POST {rest}/storage/auth/token` hands out for
    /// direct CDN uploads.
    pub(crate) cdn_token: String,
    pub(crate) shutdown: CancellationToken,
}

impl Shared {
    /// Whether `request` carries the bearer token of `{rest}/storage/auth/token`.
    pub(crate) fn has_cdn_token(&self, request: &axum::extract::Request) -> bool {
        let expected = format!("Bearer {}", self.cdn_token);
        request
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .is_some_and(|value| value.as_bytes() == expected.as_bytes())
    }

    pub(crate) fn new(
        config: &Config,
        urls: Urls,
        foreign_url: String,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            key: config.key.clone(),
            admin_key: config.admin_key.clone(),
            urls,
            foreign_url,
            keep_alive: config.keep_alive,
            outages: watch::Sender::new(0),
            eager_validation: config.eager_validation,
            log_lines: config.log_lines,
            timing: watch::Sender::new(config.timing),
            faults: Mutex::new(FaultEngine::new(config.faults.clone())),
            prices: RwLock::new(config.prices.clone()),
            counters: Counters::default(),
            recorder: Recorder::default(),
            jobs: Jobs::new(),
            history: RequestLog::default(),
            files: FileStore::default(),
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            max_running_per_key: config.max_running_per_key.map(|n| n.max(1)),
            key_slots: Mutex::default(),
            seeds: Mutex::new(SplitMix64::new(0x5EED)),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(std::time::Duration::from_secs(20))
                .build()
                .expect("a plain reqwest client builds"),
            webhooks: Webhooks::new(config.webhook_retry, config.webhook_faults.clone()),
            cdn_token: format!("cdn-{}", uuid::Uuid::new_v4().simple()),
            shutdown,
        }
    }

    /// The slots of `key`'s running jobs, when keys have a cap.
    pub(crate) fn key_slots(&self, key: &str) -> Option<Arc<Semaphore>> {
        let cap = self.max_running_per_key?;
        let mut slots = self.key_slots.lock().expect("key slots lock");
        Some(
            slots
                .entry(key.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(cap)))
                .clone(),
        )
    }

    pub(crate) fn timing(&self) -> Timing {
        *self.timing.borrow()
    }

    pub(crate) fn watch_timing(&self) -> watch::Receiver<Timing> {
        self.timing.subscribe()
    }

    pub(crate) fn set_timing(&self, timing: Timing) {
        self.timing.send_replace(timing);
    }

    /// Replaces the fault rules; an outage among them cuts the open streams.
    pub(crate) fn set_faults(&self, faults: Vec<FaultRule>) {
        if self.faults.lock().expect("fault lock").replace(faults) {
            self.outages.send_modify(|outages| *outages += 1);
        }
    }

    /// The price list as it is now.
    pub(crate) fn prices(&self) -> Vec<Price> {
        self.prices.read().expect("price lock").clone()
    }

    pub(crate) fn set_prices(&self, prices: Vec<Price>) {
        *self.prices.write().expect("price lock") = prices;
    }

    /// The `x-fal-billable-units` of an endpoint's successful output, counted
    /// in the unit of its current price; `None` without a price or for a unit
    /// the emulator cannot count.
    pub(crate) fn billable_units(
        &self,
        endpoint: &Endpoint,
        output: &serde_json::Value,
    ) -> Option<String> {
        let prices = self.prices.read().expect("price lock");
        prices::billable_units(&prices::find(&prices, endpoint.id)?.unit, output)
    }

    /// Changes when an outage begins.
    pub(crate) fn watch_outages(&self) -> watch::Receiver<u64> {
        self.outages.subscribe()
    }

    /// A seed for a request that gave none: drawn from a deterministic
    /// sequence, so a test run is reproducible.
    pub(crate) fn next_seed(&self) -> u64 {
        // fal's seeds fit in 32 bits; so do these, to suit every client.
        self.seeds.lock().expect("seed lock").next_u64() >> 32
    }

    /// `{queue}/<app root>/requests/{id}`: where fal's answers point.
    pub(crate) fn request_url(&self, endpoint: &Endpoint, id: &str) -> String {
        format!("{}/{}/requests/{id}", self.urls.queue, endpoint.app_root)
    }
}
