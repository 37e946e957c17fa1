//! End-to-end tests: the built `kontext` binary against an emulator run in
//! the test process, as a user would run it (stderr is not a terminal here,
//! so no progress is drawn).

mod bad_input;
mod batch;
mod batch_pacing;
mod batch_rerun;
mod by_id;
mod edit;
mod exit_codes;
mod gallery;
mod harness;
mod help;
mod history;
mod lora;
mod pricing;
mod server_text;
mod telemetry;
mod webhook;
mod webhook_limits;
