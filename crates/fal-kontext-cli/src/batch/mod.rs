//! The pieces of `kontext batch`: reading the jobs file and keeping the
//! state that makes a batch resumable, and what it costs.

pub mod budget;
pub mod jobs;
pub mod state;
