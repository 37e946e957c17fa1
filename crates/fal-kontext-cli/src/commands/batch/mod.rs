//! `kontext batch`, all of it: its flags ([`args`]), its run ([`mod@run`]) and
//! what becomes of each job ([`outcome`]), and
//! the pieces it runs on: reading the jobs file ([`jobs`]), the state file
//! that makes a batch resumable ([`state`]), how many jobs are at fal at
//! once ([`pacing`]), what it costs ([`budget`]), and the deletion of what
//! fal stored of its requests ([`payloads`]); and its page, the [`gallery`]
//! (which `kontext gallery` writes again, and `kontext edit --gallery` for
//! one edit).

mod args;
mod budget;
pub mod gallery;
mod jobs;
mod outcome;
mod pacing;
mod payloads;
mod run;
mod state;

pub use args::BatchArgs;
pub use run::run;
