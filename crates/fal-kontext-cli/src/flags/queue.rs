//! The flags of the Queue heading: where fal reports, the submit options
//! fal documents, and how long to wait.

use std::time::Duration;

use clap::Args;

use super::parse::{header, number, seconds};
use crate::job::QueueSettings;

/// Where fal reports, and the submit options fal documents.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Queue")]
pub struct QueueFlags {
    /// A URL fal calls with the result when the request completes.
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// How long the request's files live on fal's CDN (the output images and
    /// the local images uploaded for it), in seconds, 1 to 31536000000
    /// (default: fal's). Anyone with a URL can fetch the file until then;
    /// after, it is gone for good.
    #[arg(long, value_name = "SECS", value_parser = number::<u64>(LIFETIME_RULE))]
    pub cdn_lifetime: Option<u64>,
    /// fal keeps no copy of the request's input and output in its history
    /// (the files on the CDN are kept, see --cdn-lifetime).
    #[arg(long)]
    pub no_store_io: bool,
    /// fal does not retry the request internally (kontext's own retries of
    /// its calls are unchanged).
    #[arg(long)]
    pub no_retry: bool,
    /// fal refuses the request when the endpoint's queue is longer than N
    /// (N is 1 or more).
    #[arg(long, value_name = "N", value_parser = number::<u32>("must be a whole number, 1 or more"))]
    pub max_queue_length: Option<u32>,
    /// An extra header for an option fal adds later, NAME:VALUE; repeat for
    /// more. Not one kontext sets itself (authorization, content-type, the
    /// x-fal-… headers of the flags above, …).
    #[arg(long = "header", value_name = "NAME:VALUE", value_parser = header)]
    pub headers: Vec<(String, String)>,
}

impl From<QueueFlags> for QueueSettings {
    fn from(flags: QueueFlags) -> Self {
        let QueueFlags {
            webhook,
            cdn_lifetime,
            no_store_io,
            no_retry,
            max_queue_length,
            headers,
        } = flags;
        QueueSettings {
            webhook,
            cdn_lifetime,
            no_store_io,
            no_retry,
            max_queue_length,
            headers,
        }
    }
}

/// The rule of `--cdn-lifetime`, as its error says it.
const LIFETIME_RULE: &str = "must be whole seconds from 1 to 31536000000 (1000 years)";

/// How long to wait.
#[derive(Debug, Args)]
#[command(next_help_heading = "Queue")]
pub struct WaitFlags {
    /// Give up (and cancel the request) after this many seconds (default 900).
    #[arg(long, value_name = "SECS", value_parser = seconds())]
    pub timeout: Option<u64>,
}

impl WaitFlags {
    /// The timeout, if one was given.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout.map(Duration::from_secs)
    }
}
