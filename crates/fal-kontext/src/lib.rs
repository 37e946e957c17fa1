//! The Rust SDK for fal.ai's FLUX.1 Kontext image-editing models.
//!
//! Edit an image with a prompt, make one from text, or combine several, with
//! typed requests checked before anything is sent; local images are inlined
//! or uploaded for you; waiting follows fal's status stream with progress and
//! never outlasts your deadline; outputs download without partial files.
//!
//! # Quick start
//!
//! ```no_run
//! use fal_kontext::{Client, OutputFormat, Update};
//!
//! # async fn demo() -> fal_kontext::Result<()> {
//! // FAL_KEY from the environment (FAL_QUEUE_URL etc. point it elsewhere).
//! let client = Client::from_env()?;
//! let job = client
//!     .edit("Put a donut next to the flour.", "kitchen.png")
//!     .output_format(OutputFormat::Png)
//!     .num_images(2)
//!     .subscribe()
//!     .await?;
//! let done = job
//!     .output_with(|update| {
//!         if let Update::InProgress { logs } = update {
//!             logs.iter().for_each(|line| eprintln!("{}", line.message));
//!         }
//!     })
//!     .await?;
//! for path in client.download_as(&done.output, "out", &done.request_id).await? {
//!     println!("{}", path.display());
//! }
//! # Ok(()) }
//! ```
//!
//! # The pieces
//! - [`Client`]: configuration ([`Client::from_env`], [`Client::builder`]).
//! - [`Client::edit`], [`Client::text_to_image`], [`Client::multi`],
//!   [`Client::dev`]: a [`Request`] per endpoint kind, with `.max()` for
//!   FLUX.1 Kontext \[max\].
//! - [`Request::run`], [`Request::subscribe`] (updates then output),
//!   [`Request::submit`] (a [`RequestHandle`] for `status`, `result`, `cancel`),
//!   [`Request::run_sync`].
//! - The submit options fal documents, on every [`Request`]:
//!   [`Request::cdn_lifetime`] (the output files', and the uploaded
//!   inputs', lifetime on fal's CDN), [`Request::store_io`],
//!   [`Request::no_retry`], [`Request::max_queue_length`],
//!   [`Request::header`] (an option fal adds later), besides
//!   [`Request::webhook`], [`Request::request_timeout`],
//!   [`Request::priority`] and [`Request::runner_hint`].
//! - [`Client::download`]: images out; [`Client::upload`]: any local file
//!   to fal's storage (in parts above the multipart threshold).
//! - [`Client::history`], [`Client::delete_payloads`],
//!   [`Client::find_submitted`]: your requests at fal, deleting what fal
//!   stored of them, and finding a job whose submit answer was lost.
//! - [`Error`]: everything that can go wrong, to match on.
//! - [`webhook`]: receive fal's webhooks, verified ([`webhook::Verifier`])
//!   and typed ([`webhook::Event`]).
//!
//! The low-level, generated client and types are re-exported as [`api`].

#![warn(missing_docs)]

mod api_clients;
mod client;
mod config;
mod durations;
pub mod endpoints;
mod error;
mod file_stem;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod history;
mod http;
mod image_input;
mod local_file;
mod lora;
mod output;
mod pairs;
mod platform_error;
mod pricing;
mod queue;
mod request;
mod retry;
mod secret;
mod submitted;
mod telemetry;
mod trainer;
mod upload;
mod wait;
pub mod webhook;

pub use client::Client;
pub use config::{
    ClientBuilder, DEFAULT_BODY_IDLE_TIMEOUT, DEFAULT_CALL_TIMEOUT, DEFAULT_INLINE_LIMIT,
    DEFAULT_PLATFORM_URL, DEFAULT_QUEUE_URL, DEFAULT_REST_URL, DEFAULT_RUN_URL,
    DEFAULT_STATUS_POLL_INTERVAL, DEFAULT_STREAM_IDLE_TIMEOUT, DEFAULT_TRANSFER_TIMEOUT,
    DEFAULT_WAIT_TIMEOUT,
};
pub use error::{CancelAtDeadline, Error, ErrorContext, Result, ValidationDetail};
pub use fal_kontext_api as api;
pub use fal_kontext_api::types::{AnyStatus, LogEntry, QueueStatus, Status};
pub use file_stem::check_file_stem;
pub use history::{
    Deletion, FileDeletion, History, HistoryItem, HistorySort, HistoryStatus, MAX_PAGE_SIZE,
    SUBMIT_CLOCK_SLACK, SubmitLookup,
};
pub use image_input::ImageInput;
pub use lora::{
    ImageSize, Inpaint, InpaintOutput, Lora, LoraEdit, LoraEditOutput, LoraKind, LoraPath,
    LoraTextToImage, LoraTextToImageOutput, MAX_LORA_SCALE,
};
pub use output::{ImageRef, Images};
pub use pricing::{Estimate, MEGAPIXELS_PER_IMAGE, Plan, Price};
pub use queue::{CancelOutcome, RequestHandle};
pub use request::{
    Acceleration, AspectRatio, Dev, DevOutput, Edit, EditOutput, Fields, Kind, MatchesInputKind,
    Multi, MultiOutput, OpenWeightsKind, OutputFormat, Priority, ProKind, ProModel, Request,
    ResolutionMode, SafetyTolerance, TextToImage, TextToImageOutput,
};
pub use retry::RetryPolicy;
pub use secret::ApiKey;
pub use submitted::SubmitRecord;
pub use trainer::{LoraFormat, SavedLora, Train, TrainOutput, TrainingData};
pub use upload::{
    DEFAULT_MULTIPART_CONCURRENCY, DEFAULT_MULTIPART_PART_SIZE, DEFAULT_MULTIPART_THRESHOLD,
};
pub use wait::{Completed, Subscription, Update};
