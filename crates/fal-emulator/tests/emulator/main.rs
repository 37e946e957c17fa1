//! The emulator as a client sees it, over real HTTP. One test binary (one
//! link) with a module per area.

mod auth;
mod binary;
mod common;
mod failures;
mod faults;
mod images;
mod multipart;
mod pricing;
mod queue;
mod requests;
mod run;
mod running_cap;
mod stalls;
mod storage;
mod tls;
mod webhooks;
