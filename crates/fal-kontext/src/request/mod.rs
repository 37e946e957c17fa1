//! Typed requests: one builder per endpoint kind, validated before anything
//! is sent, turned into the generated input type of the endpoint.
//!
//! In layers, each file using only those above it: [`fields`] (the optional
//! input fields), [`kind`] (what a kind of endpoint is), [`builder`] (the
//! [`Request`] and its setters), [`validation`] (every rule, checked before
//! anything is sent), [`inputs`] (from a checked request to the generated
//! input) and [`kinds`] (the \[pro\], \[max\] and \[dev\] kinds; the LoRA
//! kinds are in `lora.rs`, the trainer in `trainer.rs`).

mod builder;
mod fields;
mod inputs;
mod kind;
mod kinds;
pub(crate) mod queue_options;
mod validation;
mod values;

pub use builder::Request;
pub use fields::Fields;
pub(crate) use inputs::{built, num_images};
pub(crate) use kind::sealed;
pub use kind::{FileSource, Input, Kind, MatchesInputKind, OpenWeightsKind, ProKind, ProModel};
pub use kinds::{
    Dev, DevOutput, Edit, EditOutput, Multi, MultiOutput, TextToImage, TextToImageOutput,
};
pub use queue_options::Priority;
pub(crate) use validation::check;
pub use values::{Acceleration, AspectRatio, OutputFormat, ResolutionMode, SafetyTolerance};
