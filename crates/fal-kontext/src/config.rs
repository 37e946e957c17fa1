//! The client's configuration: key, base URLs, timeouts, retries.

use std::sync::Arc;
use std::time::Duration;

use crate::client::{Client, Settings};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::secret::ApiKey;

/// fal's queue, where requests are submitted and waited for.
pub const DEFAULT_QUEUE_URL: &str = "https://queue.fal.run";
/// fal's synchronous run host.
pub const DEFAULT_RUN_URL: &str = "https://fal.run";
/// fal's REST API, which hosts storage uploads.
pub const DEFAULT_REST_URL: &str = "https://rest.fal.ai";
/// fal's Platform APIs, which answer prices and cost estimates
/// (<https://api.fal.ai/v1/openapi.json>: server `https://api.fal.ai/v1`).
pub const DEFAULT_PLATFORM_URL: &str = "https://api.fal.ai/v1";
/// Local images up to this size (256 KiB) go inline as `data:` URIs; larger
/// ones are uploaded to fal's storage and sent as a URL. Inline data makes the
/// submit body a third larger than the image, so only small images go inline.
pub const DEFAULT_INLINE_LIMIT: u64 = 256 * 1024;
/// How long `run` and `subscribe` wait for a result unless told otherwise.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How long one API call (submit, status, result, cancel, upload initiate,
/// the Platform API) may take, and how long any call may wait for the head of
/// its answer.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest silence between two pieces of an answer's body (an error
/// page's included) before the call gives it up.
pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one download or upload PUT may take in all (each try).
pub const DEFAULT_TRANSFER_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// How often the status is polled while a status stream is open: the stream
/// is a hint, the polled status the truth.
pub const DEFAULT_STATUS_POLL_INTERVAL: Duration = Duration::from_secs(30);
/// How long a status stream may send nothing (not even a keep-alive comment)
/// before it is given up for polling: 45 s, three of the keep-alive comments
/// fal sends about every 15 s.
pub const DEFAULT_STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(45);

/// Builds a [`Client`](crate::Client). Every setting has a default; see
/// [`Client::from_env`](crate::Client::from_env) for the environment.
///
/// ```
/// use std::time::Duration;
/// let client = fal_kontext::Client::builder()
///     .key("id:secret")
///     .queue_url("http://127.0.0.1:8080")
///     .wait_timeout(Duration::from_secs(120))
///     .build()?;
/// # Ok::<(), fal_kontext::Error>(())
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct ClientBuilder {
    key: Option<ApiKey>,
    admin_key: Option<ApiKey>,
    queue_url: Option<String>,
    run_url: Option<String>,
    rest_url: Option<String>,
    platform_url: Option<String>,
    http: Option<reqwest::Client>,
    retry: Option<RetryPolicy>,
    wait_timeout: Option<Duration>,
    call_timeout: Option<Duration>,
    stream_idle_timeout: Option<Duration>,
    body_idle_timeout: Option<Duration>,
    transfer_timeout: Option<Duration>,
    status_poll_interval: Option<Duration>,
    connect_timeout: Option<Duration>,
    user_agent: Option<String>,
    inline_limit: Option<u64>,
    multipart: crate::upload::MultipartSettings,
}

impl Client {
    /// A client configured from the environment: `FAL_KEY` (or `FAL_KEY_ID` and
    /// `FAL_KEY_SECRET`, joined as `id:secret`), `FAL_ADMIN_KEY` (see
    /// [`ClientBuilder::admin_key`]), and the base URLs
    /// `FAL_QUEUE_URL`, `FAL_RUN_URL`, `FAL_REST_URL` and `FAL_PLATFORM_URL`. A missing key is no
    /// error here, only at the first call that needs one.
    ///
    /// ```no_run
    /// let client = fal_kontext::Client::from_env()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn from_env() -> Result<Self> {
        ClientBuilder::from_env(|name| std::env::var(name).ok()).build()
    }

    /// A builder that starts from the defaults, ignoring the environment.
    ///
    /// ```
    /// let client = fal_kontext::Client::builder()
    ///     .key("id:secret")
    ///     .queue_url("http://127.0.0.1:8080")
    ///     .build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A builder that starts from the environment, to override some settings.
    ///
    /// ```no_run
    /// let client = fal_kontext::Client::builder_from_env()
    ///     .wait_timeout(std::time::Duration::from_secs(60))
    ///     .build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn builder_from_env() -> ClientBuilder {
        ClientBuilder::from_env(|name| std::env::var(name).ok())
    }
}

impl ClientBuilder {
    /// The API key (`FAL_KEY`). Without one, the first call that needs it fails
    /// with [`Error::MissingKey`].
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().key("id:secret").build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(ApiKey::new(key));
        self
    }
    /// A separate key with fal's ADMIN scope (`FAL_ADMIN_KEY`), used only for
    /// the operations that need it: deleting a request's stored payloads
    /// ([`Client::delete_payloads`](crate::Client::delete_payloads)). Without
    /// it they use [`key`](Self::key). Kept as secret as the key.
    ///
    /// ```
    /// let client = fal_kontext::Client::builder()
    ///     .key("id:secret")
    ///     .admin_key("admin-id:admin-secret")
    ///     .build()?;
    /// assert!(!format!("{client:?}").contains("admin-secret"));
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn admin_key(mut self, key: impl Into<String>) -> Self {
        self.admin_key = Some(ApiKey::new(key));
        self
    }
    /// The queue's base URL (default [`DEFAULT_QUEUE_URL`]); a path prefix is kept.
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().queue_url("https://proxy.example.com/fal/queue").build()?;
    /// assert_eq!(client.queue_url(), "https://proxy.example.com/fal/queue");
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn queue_url(mut self, url: impl Into<String>) -> Self {
        self.queue_url = Some(url.into());
        self
    }
    /// The synchronous run base URL (default [`DEFAULT_RUN_URL`]).
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().run_url("http://127.0.0.1:8081").build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn run_url(mut self, url: impl Into<String>) -> Self {
        self.run_url = Some(url.into());
        self
    }
    /// The REST base URL used for uploads (default [`DEFAULT_REST_URL`]).
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().rest_url("http://127.0.0.1:8082").build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn rest_url(mut self, url: impl Into<String>) -> Self {
        self.rest_url = Some(url.into());
        self
    }
    /// The Platform APIs base URL, for prices and estimates (default
    /// [`DEFAULT_PLATFORM_URL`], `FAL_PLATFORM_URL`); a path prefix is kept.
    /// It gets the key, like the queue, run and REST URLs.
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().platform_url("http://127.0.0.1:8082/v1").build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn platform_url(mut self, url: impl Into<String>) -> Self {
        self.platform_url = Some(url.into());
        self
    }
    /// Use this `reqwest::Client` (its pool, proxy and TLS settings). The
    /// `Authorization` header is added per request, to fal's API hosts only,
    /// so the client given must not carry it as a default header.
    ///
    /// ```
    /// let http = reqwest::Client::builder().pool_max_idle_per_host(4).build().unwrap();
    /// let client = fal_kontext::Client::builder().http_client(http).build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }
    /// How calls are retried (default [`RetryPolicy::default`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// let retry = fal_kontext::RetryPolicy { max_retries: 8, min_delay: Duration::from_millis(200), max_delay: Duration::from_secs(30) };
    /// let client = fal_kontext::Client::builder().retry(retry).build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }
    /// The default deadline of `run` and `subscribe` (default 15 minutes).
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().wait_timeout(std::time::Duration::from_secs(120)).build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = Some(timeout);
        self
    }
    /// The limit on one API call, each try (default
    /// [`DEFAULT_CALL_TIMEOUT`], 60 s), and on the wait for the head of any
    /// answer (a download's, an upload's, a status stream's).
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().call_timeout(std::time::Duration::from_secs(20)).build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
    }
    /// How long a status stream may send nothing, not even a keep-alive
    /// comment, before the wait gives it up and polls instead (default
    /// [`DEFAULT_STREAM_IDLE_TIMEOUT`], 45 s).
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().stream_idle_timeout(std::time::Duration::from_secs(20)).build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn stream_idle_timeout(mut self, timeout: Duration) -> Self {
        self.stream_idle_timeout = Some(timeout);
        self
    }
    /// The longest silence between two pieces of an answer's body, an error
    /// page's included (default [`DEFAULT_BODY_IDLE_TIMEOUT`], 30 s): a body
    /// that never comes or trickles ends the try.
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().body_idle_timeout(std::time::Duration::from_secs(10)).build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn body_idle_timeout(mut self, timeout: Duration) -> Self {
        self.body_idle_timeout = Some(timeout);
        self
    }
    /// The limit on one try of a download or an upload PUT, which move
    /// megabytes (default [`DEFAULT_TRANSFER_TIMEOUT`], 10 min).
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().transfer_timeout(std::time::Duration::from_secs(120)).build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn transfer_timeout(mut self, timeout: Duration) -> Self {
        self.transfer_timeout = Some(timeout);
        self
    }
    /// How often a wait polls the status while its status stream is open
    /// (default [`DEFAULT_STATUS_POLL_INTERVAL`], 30 s): a stream that never
    /// starts, stays silent or only sends keep-alive comments cannot hold a
    /// finished job longer than this.
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().status_poll_interval(std::time::Duration::from_secs(10)).build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn status_poll_interval(mut self, interval: Duration) -> Self {
        self.status_poll_interval = Some(interval);
        self
    }
    /// The limit on opening a connection (default 10 s; ignored with [`http_client`](Self::http_client)).
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().connect_timeout(std::time::Duration::from_secs(3)).build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }
    /// The `User-Agent` (default `fal-kontext-rs/<version>`; ignored with [`http_client`](Self::http_client)).
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().user_agent("my-app/1.0").build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }
    /// Local images up to this many bytes go inline (default [`DEFAULT_INLINE_LIMIT`]).
    ///
    /// ```
    /// // upload every local image, however small
    /// let client = fal_kontext::Client::builder().inline_limit(0).build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn inline_limit(mut self, bytes: u64) -> Self {
        self.inline_limit = Some(bytes);
        self
    }

    /// Files larger than this many bytes are uploaded in parts (default
    /// [`DEFAULT_MULTIPART_THRESHOLD`](crate::DEFAULT_MULTIPART_THRESHOLD),
    /// 90 MiB, fal's JS client's threshold); smaller ones in one PUT.
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().multipart_threshold(200 << 20).build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn multipart_threshold(mut self, bytes: u64) -> Self {
        self.multipart.threshold = bytes;
        self
    }
    /// The size of each part of an upload in parts but the last (default
    /// [`DEFAULT_MULTIPART_PART_SIZE`](crate::DEFAULT_MULTIPART_PART_SIZE),
    /// 10 MiB, as fal's clients cut them); at least 1 byte.
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().multipart_part_size(16 << 20).build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn multipart_part_size(mut self, bytes: u64) -> Self {
        self.multipart.part_size = bytes;
        self
    }
    /// How many parts of one upload are sent at once (default
    /// [`DEFAULT_MULTIPART_CONCURRENCY`](crate::DEFAULT_MULTIPART_CONCURRENCY),
    /// 4); at least 1. Parts are streamed from disk, so this does not
    /// multiply the memory an upload holds by the part size.
    ///
    /// ```
    /// let client = fal_kontext::Client::builder().multipart_concurrency(8).build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn multipart_concurrency(mut self, parts: usize) -> Self {
        self.multipart.concurrency = parts;
        self
    }

    /// Builds the client; fails only on an unusable base URL.
    ///
    /// ```
    /// let error = fal_kontext::Client::builder().queue_url("ftp://example.com").build().unwrap_err();
    /// assert!(error.to_string().contains("FAL_QUEUE_URL"));
    /// ```
    pub fn build(self) -> Result<crate::Client> {
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .user_agent(self.user_agent.unwrap_or_else(|| {
                    concat!("fal-kontext-rs/", env!("CARGO_PKG_VERSION")).into()
                }))
                .connect_timeout(self.connect_timeout.unwrap_or(Duration::from_secs(10)))
                .build()
                .map_err(Error::transport)?,
        };
        for (setting, value) in [
            ("multipart_part_size", self.multipart.part_size),
            ("multipart_concurrency", self.multipart.concurrency as u64),
        ] {
            if value == 0 {
                return Err(Error::Config {
                    setting,
                    message: "must be at least 1".into(),
                });
            }
        }
        let queue_url = base_url(
            "FAL_QUEUE_URL",
            self.queue_url.as_deref().unwrap_or(DEFAULT_QUEUE_URL),
        )?;
        let settings = Settings {
            key: self.key,
            admin_key: self.admin_key,
            queue_origin: checked_url("FAL_QUEUE_URL", &queue_url)?.origin(),
            queue_url,
            run_url: base_url(
                "FAL_RUN_URL",
                self.run_url.as_deref().unwrap_or(DEFAULT_RUN_URL),
            )?,
            rest_url: base_url(
                "FAL_REST_URL",
                self.rest_url.as_deref().unwrap_or(DEFAULT_REST_URL),
            )?,
            platform_url: base_url(
                "FAL_PLATFORM_URL",
                self.platform_url.as_deref().unwrap_or(DEFAULT_PLATFORM_URL),
            )?,
            http,
            retry: self.retry.unwrap_or_default(),
            wait_timeout: self.wait_timeout.unwrap_or(DEFAULT_WAIT_TIMEOUT),
            call_timeout: self.call_timeout.unwrap_or(DEFAULT_CALL_TIMEOUT),
            stream_idle_timeout: self
                .stream_idle_timeout
                .unwrap_or(DEFAULT_STREAM_IDLE_TIMEOUT),
            body_idle_timeout: self.body_idle_timeout.unwrap_or(DEFAULT_BODY_IDLE_TIMEOUT),
            transfer_timeout: self.transfer_timeout.unwrap_or(DEFAULT_TRANSFER_TIMEOUT),
            status_poll_interval: self
                .status_poll_interval
                .unwrap_or(DEFAULT_STATUS_POLL_INTERVAL),
            inline_limit: self.inline_limit.unwrap_or(DEFAULT_INLINE_LIMIT),
            multipart: self.multipart,
        };
        Ok(crate::Client::from_settings(Arc::new(settings)))
    }

    /// Reads the environment into a builder (see [`Client::from_env`](crate::Client::from_env)).
    pub(crate) fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let nonempty = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let key = nonempty("FAL_KEY").or_else(|| {
            match (nonempty("FAL_KEY_ID"), nonempty("FAL_KEY_SECRET")) {
                (Some(id), Some(secret)) => Some(format!("{id}:{secret}")),
                _ => None,
            }
        });
        Self {
            key: key.map(ApiKey::new),
            admin_key: nonempty("FAL_ADMIN_KEY").map(ApiKey::new),
            queue_url: nonempty("FAL_QUEUE_URL"),
            run_url: nonempty("FAL_RUN_URL"),
            rest_url: nonempty("FAL_REST_URL"),
            platform_url: nonempty("FAL_PLATFORM_URL"),
            ..Self::default()
        }
    }
}

/// Checks a base URL and drops any trailing `/`, keeping a path prefix.
pub(crate) fn base_url(setting: &'static str, url: &str) -> Result<String> {
    checked_url(setting, url)?;
    Ok(url.trim_end_matches('/').to_string())
}

/// `url` parsed, when it can be a base URL: http(s), with a host, without
/// a query or fragment.
fn checked_url(setting: &'static str, url: &str) -> Result<reqwest::Url> {
    let parsed = reqwest::Url::parse(url).map_err(|e| Error::Config {
        setting,
        message: format!("`{url}`: {e}"),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::Config {
            setting,
            message: format!("`{url}` is not an http(s) URL"),
        });
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::Config {
            setting,
            message: format!("`{url}` must not carry a query or fragment"),
        });
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn key_comes_from_fal_key_or_id_and_secret() {
        assert_eq!(
            ClientBuilder::from_env(env(&[("FAL_KEY", "k")])).key,
            Some(ApiKey::new("k"))
        );
        let joined = ClientBuilder::from_env(env(&[("FAL_KEY_ID", "id"), ("FAL_KEY_SECRET", "s")]));
        assert_eq!(joined.key, Some(ApiKey::new("id:s")));
        assert_eq!(
            ClientBuilder::from_env(env(&[("FAL_KEY_ID", "id")])).key,
            None
        );
        assert_eq!(ClientBuilder::from_env(env(&[("FAL_KEY", " ")])).key, None);
    }

    #[test]
    fn the_admin_key_comes_from_fal_admin_key_only() {
        let both = ClientBuilder::from_env(env(&[("FAL_KEY", "k"), ("FAL_ADMIN_KEY", "a")]));
        assert_eq!(both.admin_key, Some(ApiKey::new("a")));
        assert_eq!(both.key, Some(ApiKey::new("k")));
        assert_eq!(
            ClientBuilder::from_env(env(&[("FAL_KEY", "k")])).admin_key,
            None
        );
    }

    #[test]
    fn base_urls_keep_their_path_prefix() {
        assert_eq!(
            base_url("FAL_QUEUE_URL", "http://h:1/proxy/fal/").unwrap(),
            "http://h:1/proxy/fal"
        );
        let error = base_url("FAL_RUN_URL", "ftp://h").unwrap_err().to_string();
        assert_eq!(
            error,
            "invalid setting FAL_RUN_URL: `ftp://h` is not an http(s) URL"
        );
        assert!(base_url("FAL_REST_URL", "not a url").is_err());
    }
}
