//! A local, faithful stand-in for fal.ai's HTTP surface, for the FLUX.1
//! Kontext endpoints: the queue (submit, status, status stream, result,
//! cancel), the synchronous run origin, storage uploads, a CDN, the Platform
//! APIs' prices and cost estimates, and the OpenAPI documents — so that SDKs,
//! CLIs and their tests run end to end without the network or a key.
//!
//! Images are **simulated**: a deterministic transformation of the input
//! (see the crate README), with real sizes, formats and byte counts.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let emulator = fal_emulator::Emulator::start().await?;
//! // Point the client under test at it, e.g. FAL_QUEUE_URL / FAL_RUN_URL / FAL_REST_URL:
//! println!("{} {} {}", emulator.queue_url(), emulator.run_url(), emulator.rest_url());
//! // ... run the client ...
//! assert_eq!(emulator.stats().key_leaks, 0);
//! # Ok(()) }
//! ```
//!
//! # Where things live
//!
//! Each layer reads only the layers below it (no module imports one that
//! imports it back):
//!
//! ```text
//! lib.rs        declares the modules and re-exports the public API
//! cli.rs        the binary's behaviour (`fal-emulator`, `kontext emulator`)
//! emulator.rs   Emulator: starts everything, the handle a test holds
//! origins/      the HTTP surfaces fal has: gateway (the edge every request
//!               passes), intake, answers, queue, run, rest, cdn, multipart,
//!               platform/ (pricing, requests)
//! model/        the simulated app: a job's life (worker), its output,
//!               render, lora, trainer, fetch (input images), webhook delivery
//! net/          network plumbing: server (accept loop), tls, proxy
//! state/        what every layer reads: Shared, config, urls, jobs, history,
//!               storage, stats, recording, webhook keys
//! faults/       what a user sets (rules), which rule fires (engine), and
//!               what it does to an answer (replace, spoil, rewrite)
//! route.rs      which kind of request a request is (Route, Origin, classify)
//! catalog/      the endpoints, their input rules and prices, from openapi/
//! replies.rs    fal's small answers (detail, 401, Platform error, request id)
//! rng.rs        deterministic randomness
//! ```
//!
//! Where a change goes: a new failure fal can produce is a [`Fault`] in
//! `faults/rules.rs` and its effect in `faults/replace.rs` or
//! `faults/spoil.rs`; a new route is `route.rs` and its origin's module; a
//! new endpoint's simulated work is `model/`; a new setting is
//! `state/config.rs`.
#![warn(missing_docs)]

mod catalog;
mod cli;
mod emulator;
mod faults;
mod model;
mod net;
mod origins;
mod replies;
mod rng;
mod route;
mod state;

pub use catalog::prices::{Price, PriceOverride};
pub use cli::{ReadyLine, serve_until_ctrl_c};
pub use emulator::Emulator;
pub use faults::{Fault, FaultRule, WebhookFault};
pub use route::Route;
pub use state::config::{Config, EmulatorArgs, Timing, WebhookRetry};
pub use state::recording::RecordedRequest;
pub use state::stats::Stats;
pub use state::urls::Urls;
