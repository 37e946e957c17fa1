//! Counters of what clients did, readable as a [`Stats`] snapshot or at
//! `GET {queue}/__emulator/stats`.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::route::Route;

/// A snapshot of an emulator's counters.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// let emulator = fal_emulator::Emulator::start().await?;
/// // ... let the client under test work ...
/// let stats = emulator.stats();
/// assert_eq!(stats.key_leaks, 0, "the client sent its key to the CDN");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Stats {
    /// Submit calls (`POST {queue}/<endpoint-id>`).
    pub submit: u64,
    /// Status polls.
    pub status: u64,
    /// Status streams opened.
    pub stream: u64,
    /// Result calls.
    pub result: u64,
    /// Cancel calls.
    pub cancel: u64,
    /// Synchronous runs (`POST {run}/<endpoint-id>`).
    pub run: u64,
    /// Upload initiations (and CDN token requests).
    pub upload_initiate: u64,
    /// Upload bodies (`PUT` to an upload URL, or `POST {cdn}/files/upload`).
    pub upload_put: u64,
    /// Parts of uploads in parts (`PUT` of a part).
    pub upload_part: u64,
    /// `complete` calls of uploads in parts.
    pub upload_complete: u64,
    /// The most part `PUT`s in flight at the same time (each from its
    /// arrival to its answer, or to its connection's end).
    pub upload_parts_in_flight_max: u64,
    /// Downloads from the CDN origin.
    pub cdn: u64,
    /// OpenAPI documents served.
    pub openapi: u64,
    /// Webhook key sets served (`GET {rest}/.well-known/jwks.json`).
    pub jwks: u64,
    /// Price look-ups (`GET {rest}/v1/models/pricing`).
    pub pricing: u64,
    /// Cost estimates (`POST {rest}/v1/models/pricing/estimate`).
    pub estimates: u64,
    /// Pages of the request history (`GET {rest}/v1/models/requests/by-endpoint`).
    pub history: u64,
    /// Payload deletions (`DELETE {rest}/v1/models/requests/{id}/payloads`).
    pub payload_deletions: u64,
    /// Jobs created (by submit or run).
    pub jobs_created: u64,
    /// Jobs that reached COMPLETED other than by cancellation.
    pub jobs_completed: u64,
    /// Jobs cancelled.
    pub jobs_cancelled: u64,
    /// Jobs that found no free slot (their key's cap, see
    /// [`Config::max_running_per_key`](crate::Config::max_running_per_key),
    /// or the emulator's concurrency) and waited `IN_QUEUE` for one.
    #[serde(default)]
    pub jobs_waited_for_slot: u64,
    /// The most jobs one key had `IN_QUEUE` at once.
    #[serde(default)]
    pub peak_queued_per_key: u64,
    /// Requests a fault rule hit.
    pub faults_injected: u64,
    /// Requests answered 401 because of their key (not injected ones).
    pub unauthorized: u64,
    /// Requests to an origin that must never see the key, the CDN
    /// (downloads and upload bodies) or the foreign origin, that carried an
    /// `Authorization: Key …` header or the key anywhere in a header.
    pub key_leaks: u64,
    /// Requests to the foreign origin (see [`Fault::ForeignUrls`](crate::Fault::ForeignUrls)).
    pub foreign_requests: u64,
    /// Requests to the foreign origin that carried an `Authorization` header
    /// of any kind, or the key in any header.
    pub foreign_authorizations: u64,
    /// Webhook attempts answered with a 2xx.
    pub webhook_deliveries: u64,
    /// Webhook attempts that failed (no answer, a redirect or any other
    /// status); each is retried until the attempts run out.
    pub webhook_failures: u64,
}

/// The live counters behind [`Stats`].
#[derive(Default)]
pub(crate) struct Counters {
    submit: AtomicU64,
    status: AtomicU64,
    stream: AtomicU64,
    result: AtomicU64,
    cancel: AtomicU64,
    run: AtomicU64,
    upload_initiate: AtomicU64,
    upload_put: AtomicU64,
    upload_part: AtomicU64,
    upload_complete: AtomicU64,
    parts_in_flight: AtomicU64,
    upload_parts_in_flight_max: AtomicU64,
    cdn: AtomicU64,
    openapi: AtomicU64,
    jwks: AtomicU64,
    pricing: AtomicU64,
    estimates: AtomicU64,
    history: AtomicU64,
    payload_deletions: AtomicU64,
    pub(crate) jobs_created: AtomicU64,
    pub(crate) jobs_completed: AtomicU64,
    pub(crate) jobs_cancelled: AtomicU64,
    pub(crate) jobs_waited_for_slot: AtomicU64,
    pub(crate) peak_queued_per_key: AtomicU64,
    pub(crate) faults_injected: AtomicU64,
    pub(crate) unauthorized: AtomicU64,
    pub(crate) key_leaks: AtomicU64,
    pub(crate) foreign_requests: AtomicU64,
    pub(crate) foreign_authorizations: AtomicU64,
    pub(crate) webhook_deliveries: AtomicU64,
    pub(crate) webhook_failures: AtomicU64,
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A part being received: counted in flight until dropped.
pub(crate) struct PartInFlight<'a>(&'a AtomicU64);

impl Drop for PartInFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Counters {
    /// Counts a part in flight (until the guard is dropped) and keeps the most.
    pub(crate) fn part_started(&self) -> PartInFlight<'_> {
        let now = self.parts_in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.upload_parts_in_flight_max
            .fetch_max(now, Ordering::Relaxed);
        PartInFlight(&self.parts_in_flight)
    }

    pub(crate) fn count_route(&self, route: Route) {
        let counter = match route {
            Route::Submit => &self.submit,
            Route::Status => &self.status,
            Route::Stream => &self.stream,
            Route::Result => &self.result,
            Route::Cancel => &self.cancel,
            Route::Run => &self.run,
            Route::UploadInitiate => &self.upload_initiate,
            Route::UploadPut => &self.upload_put,
            Route::UploadPart => &self.upload_part,
            Route::UploadComplete => &self.upload_complete,
            Route::Cdn => &self.cdn,
            Route::OpenApi => &self.openapi,
            Route::Jwks => &self.jwks,
            Route::Pricing => &self.pricing,
            Route::Estimate => &self.estimates,
            Route::History => &self.history,
            Route::DeletePayloads => &self.payload_deletions,
            Route::Any | Route::Queue => return,
        };
        bump(counter);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            submit: get(&self.submit),
            status: get(&self.status),
            stream: get(&self.stream),
            result: get(&self.result),
            cancel: get(&self.cancel),
            run: get(&self.run),
            upload_initiate: get(&self.upload_initiate),
            upload_put: get(&self.upload_put),
            upload_part: get(&self.upload_part),
            upload_complete: get(&self.upload_complete),
            upload_parts_in_flight_max: get(&self.upload_parts_in_flight_max),
            cdn: get(&self.cdn),
            openapi: get(&self.openapi),
            jwks: get(&self.jwks),
            pricing: get(&self.pricing),
            estimates: get(&self.estimates),
            history: get(&self.history),
            payload_deletions: get(&self.payload_deletions),
            jobs_created: get(&self.jobs_created),
            jobs_completed: get(&self.jobs_completed),
            jobs_cancelled: get(&self.jobs_cancelled),
            jobs_waited_for_slot: get(&self.jobs_waited_for_slot),
            peak_queued_per_key: get(&self.peak_queued_per_key),
            faults_injected: get(&self.faults_injected),
            unauthorized: get(&self.unauthorized),
            key_leaks: get(&self.key_leaks),
            foreign_requests: get(&self.foreign_requests),
            foreign_authorizations: get(&self.foreign_authorizations),
            webhook_deliveries: get(&self.webhook_deliveries),
            webhook_failures: get(&self.webhook_failures),
        }
    }
}
