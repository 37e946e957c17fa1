//! `kontext webhook serve`, all of it: its flags and run ([`serve`]), the
//! HTTP server ([`server`]), the [`receiver`] that verifies and handles each
//! delivery, and the check of images already [`saved`].

use clap::Subcommand;

mod receiver;
mod saved;
pub mod serve;
mod server;

/// `kontext webhook …`.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Accept fal's webhook deliveries until Ctrl-C: verify each, save the images, print one line per event.
    Serve(serve::ServeArgs),
}
