//! The HTTP surfaces fal has, one module per origin, over one shared edge:
//! `gateway.rs` (every request classified, recorded, counted, faulted and
//! key-checked before its handler), `intake.rs` (reading a submission, for
//! the queue and the run origins), `answers.rs` (fal's status and result
//! answers). The origins: `queue.rs` (and the foreign host), `run.rs`,
//! `rest.rs` (uploads, CDN tokens, webhook keys, and the Platform APIs of
//! `platform/`), `cdn.rs` (downloads and upload targets, with `multipart.rs`
//! for uploads in parts).

mod answers;
pub(crate) mod cdn;
mod gateway;
mod intake;
mod multipart;
mod platform;
pub(crate) mod queue;
pub(crate) mod rest;
pub(crate) mod run;
