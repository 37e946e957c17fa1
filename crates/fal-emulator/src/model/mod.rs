//! The simulated fal app: what happens to a job once it is submitted. Its
//! life (`worker.rs`: queue delay, a slot, logs, the outcome, the webhook),
//! the work it does (`output.rs`: an endpoint's output from its input, with
//! `fetch.rs` for the input images, `render.rs` for the pixels, `lora.rs`
//! for the LoRAs, `trainer.rs` for the trainer), and the delivery of its
//! outcome (`webhook.rs`). No network beyond this machine.

mod fetch;
mod lora;
mod output;
mod render;
mod trainer;
mod webhook;
pub(crate) mod worker;
