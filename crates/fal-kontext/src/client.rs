//! [`Client`], the handle every call starts from, and the settings it
//! holds. Its calls are written where their rules are (`queue.rs`,
//! `upload/`, `history.rs`, …), each an `impl Client` block; it is built by
//! [`ClientBuilder`](crate::ClientBuilder) (`config.rs`).

use std::sync::Arc;
use std::time::Duration;

use crate::retry::RetryPolicy;
use crate::secret::ApiKey;
use crate::upload::MultipartSettings;

/// The client: cheap to clone, safe to share between tasks.
///
/// ```
/// let client = fal_kontext::Client::builder().key("id:secret").build()?;
/// let also = client.clone(); // shares the connection pool
/// # Ok::<(), fal_kontext::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    settings: Arc<Settings>,
}

impl Client {
    pub(crate) fn from_settings(settings: Arc<Settings>) -> Self {
        Self { settings }
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The queue base URL in use.
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().build()?;
    /// assert_eq!(client.queue_url(), "https://queue.fal.run");
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn queue_url(&self) -> &str {
        &self.settings.queue_url
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.settings;
        f.debug_struct("Client")
            .field("key", &s.key)
            .field("admin_key", &s.admin_key)
            .field("queue_url", &s.queue_url)
            .field("run_url", &s.run_url)
            .field("rest_url", &s.rest_url)
            .field("retry", &s.retry)
            .finish_non_exhaustive()
    }
}

/// What a [`Client`] was configured with, resolved: its key, URLs, time
/// limits and retry policy.
pub(crate) struct Settings {
    pub key: Option<ApiKey>,
    /// A key with fal's ADMIN scope for the operations that need it
    /// (deleting stored payloads); `key` serves them when unset.
    pub admin_key: Option<ApiKey>,
    pub queue_url: String,
    /// `queue_url`'s origin, parsed once: a URL fal returns is followed
    /// only on it.
    pub queue_origin: url::Origin,
    pub run_url: String,
    pub rest_url: String,
    pub platform_url: String,
    pub http: reqwest::Client,
    pub retry: RetryPolicy,
    pub wait_timeout: Duration,
    pub call_timeout: Duration,
    pub stream_idle_timeout: Duration,
    pub body_idle_timeout: Duration,
    pub transfer_timeout: Duration,
    pub status_poll_interval: Duration,
    pub inline_limit: u64,
    pub multipart: MultipartSettings,
}
