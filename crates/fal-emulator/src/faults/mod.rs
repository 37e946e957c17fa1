//! Fault injection: which requests misbehave ([`FaultRule`]) and how
//! ([`Fault`]). The gateway asks [`FaultEngine::pick`] once per request; a
//! fault either answers in place of the app ([`short_circuit`]),
//! spoils the app's answer ([`spoil`]), or (a user timeout) changes the job
//! the request creates; the gateway itself never answers
//! ([`Fault::NoAnswer`]) or hangs up after the app ran
//! ([`Fault::CutBeforeHeaders`]).
//!
//! - `rules.rs`: what a user sets ([`Fault`], [`FaultRule`]);
//! - `engine.rs`: which rule fires for a request ([`FaultEngine`]);
//! - `replace.rs`: the answers given instead of the app's;
//! - `spoil.rs`: the app's answer spoiled; `rewrite.rs`: its JSON rewritten;
//! - `webhook.rs`: what goes wrong with a webhook delivery ([`WebhookFault`]).

mod engine;
mod replace;
pub(crate) mod rewrite;
mod rules;
mod spoil;
mod webhook;

pub(crate) use engine::FaultEngine;
pub(crate) use replace::short_circuit;
pub use rules::{Fault, FaultRule};
pub(crate) use spoil::spoil;
pub use webhook::WebhookFault;
