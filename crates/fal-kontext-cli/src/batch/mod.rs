//! The pieces of `kontext batch`: reading the jobs file and keeping the
//! state that makes a batch resumable, how many jobs are at fal at once, what it costs, and the deletion of
//! what fal stored of its requests.

pub mod budget;
pub mod jobs;
pub mod pacing;
pub mod payloads;
pub mod state;
