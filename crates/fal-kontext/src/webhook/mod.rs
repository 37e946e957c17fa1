//! Receiving fal's webhooks: check that a delivery comes from fal, then
//! decode it into a typed [`Event`].
//!
//! Submit with [`Request::webhook`](crate::Request::webhook) and fal POSTs the
//! outcome to that URL when the request ends. A receiver gives the
//! [`Verifier`] the delivery's headers and its body bytes exactly as
//! received; it checks fal's Ed25519 signature against fal's published keys
//! and answers the event, or a [`WebhookError`] whose
//! [`http_status`](WebhookError::http_status) is what to answer fal. It
//! works with any HTTP server.
//!
//! ```no_run
//! use fal_kontext::webhook::{Headers, Outcome, Verifier};
//!
//! # async fn demo(header_map: &reqwest::header::HeaderMap, body: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::new()?; // keep one for the server's life: it caches fal's keys
//! // in your handler:
//! match verifier.verify::<fal_kontext::EditOutput>(&Headers::from(header_map), body).await {
//!     Ok(event) => match event.outcome {
//!         Outcome::Success(output) => println!("{}: {} image(s)", event.request_id, output.images.len()),
//!         Outcome::Failure { error, .. } => eprintln!("{} failed: {error}", event.request_id),
//!         Outcome::PayloadError { reason } => eprintln!("{}: no output ({reason})", event.request_id),
//!         _ => {}
//!     },
//!     Err(error) => eprintln!("refused ({}): {error}", error.http_status()),
//! }
//! # Ok(()) }
//! ```
//!
//! fal may deliver the same event more than once (it retries until it gets
//! a 2xx): make the handling idempotent on [`Event::request_id`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

mod error;
mod event;
pub(crate) mod keys;
pub(crate) mod signature;

pub use error::WebhookError;
pub use event::{Event, Outcome};
pub use signature::{
    Headers, REQUEST_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, TOLERANCE_SECS, USER_ID_HEADER,
};

use keys::KeyCache;
use signature::CheckedHeaders;

/// fal's webhook key set. fal's webhook documentation names this URL
/// (<https://docs.fal.ai/model-apis/model-endpoints/webhooks>); newer
/// material names `https://rest.fal.ai/.well-known/jwks.json`. The documented one is
/// the default because it is the one fal commits to for verification; the
/// other is one [`VerifierBuilder::jwks_url`] (or `kontext webhook serve
/// --jwks-url`) away.
pub const DEFAULT_JWKS_URL: &str = "https://rest.alpha.fal.ai/.well-known/jwks.json";

/// The longest fal's key set is kept: fal says to cache it for at most 24 hours.
pub const MAX_KEY_AGE: Duration = Duration::from_secs(24 * 3600);

/// How soon after a fetch of the key set a signature that matches none of
/// its keys may fetch it again (default of [`VerifierBuilder::refresh_cooldown`]).
pub const DEFAULT_REFRESH_COOLDOWN: Duration = Duration::from_secs(30);

/// Checks deliveries against fal's key set and decodes them. Cheap to
/// clone; clones share the cached keys. Keep one for the life of a server.
///
/// ```no_run
/// let verifier = fal_kontext::webhook::Verifier::new()?;
/// # Ok::<(), fal_kontext::Error>(())
/// ```
#[derive(Clone)]
pub struct Verifier {
    keys: Arc<KeyCache>,
    /// The only fal user whose deliveries are taken, when pinned.
    user_id: Option<Arc<str>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("jwks_url", &self.keys.url)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier of fal's keys at [`DEFAULT_JWKS_URL`].
    ///
    /// ```no_run
    /// let verifier = fal_kontext::webhook::Verifier::new()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn new() -> Result<Self> {
        Self::builder().build()
    }

    /// A builder, to set the key set's URL and caching.
    ///
    /// ```
    /// let verifier = fal_kontext::webhook::Verifier::builder()
    ///     .jwks_url("https://rest.fal.ai/.well-known/jwks.json")
    ///     .build()?;
    /// assert_eq!(verifier.jwks_url(), "https://rest.fal.ai/.well-known/jwks.json");
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }

    /// The URL of the key set in use.
    ///
    /// ```
    /// let verifier = fal_kontext::webhook::Verifier::new()?;
    /// assert_eq!(verifier.jwks_url(), fal_kontext::webhook::DEFAULT_JWKS_URL);
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn jwks_url(&self) -> &str {
        &self.keys.url
    }

    /// The fal user whose deliveries alone are taken, when one is pinned
    /// ([`VerifierBuilder::user_id`]).
    ///
    /// ```
    /// let verifier = fal_kontext::webhook::Verifier::builder().user_id("my-user").build()?;
    /// assert_eq!(verifier.user_id(), Some("my-user"));
    /// assert_eq!(fal_kontext::webhook::Verifier::new()?.user_id(), None);
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    /// What can be checked before the body is read: the four headers
    /// present, the timestamp within 300 s of this clock, the user id the
    /// pinned one (if any), the signature 64 bytes of hex. A receiver that
    /// calls it first refuses a forged or foreign delivery without reading
    /// (or buffering) its body, and without fetching anything.
    /// [`verify`](Self::verify) makes the same checks again.
    ///
    /// ```
    /// use fal_kontext::webhook::{Headers, Verifier, WebhookError};
    /// let verifier = Verifier::builder().user_id("my-user").build()?;
    /// let error = verifier.check_headers(&Headers::default()).unwrap_err();
    /// assert_eq!(error, WebhookError::MissingHeader("X-Fal-Webhook-Request-Id"));
    /// assert_eq!(error.http_status(), 401);
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn check_headers(&self, headers: &Headers<'_>) -> std::result::Result<(), WebhookError> {
        self.check_headers_at(headers, SystemTime::now())
    }

    /// [`check_headers`](Self::check_headers) with `now` as the receiver's
    /// clock.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use fal_kontext::webhook::{Headers, Verifier, WebhookError};
    /// let verifier = Verifier::builder().user_id("my-user").build()?;
    /// let signature = "00".repeat(64);
    /// let headers = Headers {
    ///     request_id: Some("r1"),
    ///     user_id: Some("someone-else"),
    ///     timestamp: Some("1700000000"),
    ///     signature: Some(&signature),
    /// };
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_010);
    /// let error = verifier.check_headers_at(&headers, now).unwrap_err();
    /// assert!(matches!(error, WebhookError::WrongUser { .. }), "{error}");
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn check_headers_at(
        &self,
        headers: &Headers<'_>,
        now: SystemTime,
    ) -> std::result::Result<(), WebhookError> {
        CheckedHeaders::check(headers, now, self.user_id()).map(drop)
    }

    /// Checks a delivery and decodes it: the four headers present, the
    /// timestamp within 300 s of this clock, the user id the pinned one (when
    /// [`VerifierBuilder::user_id`] pins one), the signature valid for one of
    /// fal's keys (the key set is fetched again, once, when none of the
    /// cached keys verifies), then the body decoded as an [`Event`] of
    /// output `O` (use [`serde_json::Value`] for any output). `body` must be
    /// the bytes exactly as received.
    ///
    /// ```no_run
    /// # async fn demo(map: &reqwest::header::HeaderMap, body: &[u8]) -> Result<(), fal_kontext::webhook::WebhookError> {
    /// use fal_kontext::webhook::{Headers, Verifier};
    /// let verifier = Verifier::new().expect("a TLS client builds");
    /// let event = verifier.verify::<serde_json::Value>(&Headers::from(map), body).await?;
    /// println!("{} ended: {:?}", event.request_id, event.outcome);
    /// # Ok(()) }
    /// ```
    pub async fn verify<O: DeserializeOwned>(
        &self,
        headers: &Headers<'_>,
        body: &[u8],
    ) -> std::result::Result<Event<O>, WebhookError> {
        self.verify_at(headers, body, SystemTime::now()).await
    }

    /// [`verify`](Self::verify) with `now` as the receiver's clock: for tests
    /// with recorded deliveries, or a server whose clock is known to be off.
    ///
    /// ```no_run
    /// # async fn demo(map: &reqwest::header::HeaderMap, body: &[u8]) -> Result<(), fal_kontext::webhook::WebhookError> {
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use fal_kontext::webhook::{Headers, Verifier};
    /// let verifier = Verifier::new().expect("a TLS client builds");
    /// let recorded_at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let event = verifier.verify_at::<serde_json::Value>(&Headers::from(map), body, recorded_at).await?;
    /// # Ok(()) }
    /// ```
    pub async fn verify_at<O: DeserializeOwned>(
        &self,
        headers: &Headers<'_>,
        body: &[u8],
        now: SystemTime,
    ) -> std::result::Result<Event<O>, WebhookError> {
        let signed = CheckedHeaders::check(headers, now, self.user_id())?.with_body(body);
        let keys = self.keys.keys().await?;
        if !signed.verifies_with(&keys.keys) {
            // fal may have rotated its keys since they were cached.
            let newer = self.keys.newer_than(&keys).await?;
            if !signed.verifies_with(&newer.keys) {
                return Err(WebhookError::BadSignature);
            }
        }
        Event::decode(body, Some(&signed.request_id))
    }
}

/// Builds a [`Verifier`].
///
/// ```
/// use std::time::Duration;
/// let verifier = fal_kontext::webhook::Verifier::builder()
///     .max_age(Duration::from_secs(3600))
///     .refresh_cooldown(Duration::from_secs(10))
///     .build()?;
/// # Ok::<(), fal_kontext::Error>(())
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct VerifierBuilder {
    jwks_url: Option<String>,
    http: Option<reqwest::Client>,
    max_age: Option<Duration>,
    refresh_cooldown: Option<Duration>,
    user_id: Option<String>,
}

impl VerifierBuilder {
    /// Where fal's key set is (default [`DEFAULT_JWKS_URL`]); an http(s) URL.
    ///
    /// ```
    /// let verifier = fal_kontext::webhook::Verifier::builder()
    ///     .jwks_url("http://127.0.0.1:8082/.well-known/jwks.json") // the emulator's
    ///     .build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Fetch the key set with this client (its proxy and TLS settings). It
    /// must not carry fal's key as a default header: the key set is public
    /// and the key never goes to it.
    ///
    /// ```
    /// let http = reqwest::Client::builder().build().unwrap();
    /// let verifier = fal_kontext::webhook::Verifier::builder().http_client(http).build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// How long the key set is kept before it is fetched again (default and
    /// at most [`MAX_KEY_AGE`], 24 hours; longer is cut to it).
    ///
    /// ```
    /// let verifier = fal_kontext::webhook::Verifier::builder()
    ///     .max_age(std::time::Duration::from_secs(6 * 3600))
    ///     .build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// How soon after a fetch a signature that matches no key may fetch the
    /// set again (default [`DEFAULT_REFRESH_COOLDOWN`]). Within it such a
    /// delivery is refused at once (fal delivers it again later), so that
    /// forged deliveries cannot turn into a stream of fetches.
    ///
    /// ```
    /// let verifier = fal_kontext::webhook::Verifier::builder()
    ///     .refresh_cooldown(std::time::Duration::ZERO)
    ///     .build()?;
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn refresh_cooldown(mut self, cooldown: Duration) -> Self {
        self.refresh_cooldown = Some(cooldown);
        self
    }

    /// Takes only the deliveries of this fal user: a delivery whose signed
    /// `X-Fal-Webhook-User-Id` names another is refused with
    /// [`WebhookError::WrongUser`] (401), before its body is read or fal's
    /// keys are fetched. fal signs every account's deliveries with the same
    /// keys, so without a pinned user any fal account can point its webhook
    /// at a receiver and be taken. The id is the one fal's deliveries to
    /// this account carry in that header.
    ///
    /// ```
    /// let verifier = fal_kontext::webhook::Verifier::builder().user_id("my-user").build()?;
    /// assert_eq!(verifier.user_id(), Some("my-user"));
    /// let error = fal_kontext::webhook::Verifier::builder().user_id(" ").build().unwrap_err();
    /// assert!(error.to_string().contains("user_id"), "{error}");
    /// # Ok::<(), fal_kontext::Error>(())
    /// ```
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Builds the verifier; fails only on an unusable URL or user id. Nothing is
    /// fetched until the first delivery.
    ///
    /// ```
    /// let error = fal_kontext::webhook::Verifier::builder().jwks_url("ftp://x").build().unwrap_err();
    /// assert!(error.to_string().contains("jwks_url"));
    /// ```
    pub fn build(self) -> Result<Verifier> {
        let url = crate::config::base_url(
            "jwks_url",
            self.jwks_url.as_deref().unwrap_or(DEFAULT_JWKS_URL),
        )?;
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .user_agent(concat!("fal-kontext-rs/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(10))
                .build()
                .map_err(|source| Error::Transport {
                    source,
                    context: crate::error::ErrorContext::default(),
                })?,
        };
        let user_id = self.user_id.map(checked_user_id).transpose()?;
        let keys = KeyCache::new(
            url,
            http,
            self.max_age.unwrap_or(MAX_KEY_AGE).min(MAX_KEY_AGE),
            self.refresh_cooldown.unwrap_or(DEFAULT_REFRESH_COOLDOWN),
        );
        Ok(Verifier {
            keys: Arc::new(keys),
            user_id,
        })
    }
}

/// A user id as a header carries it: visible ASCII, not empty (a header
/// value with anything else could never match).
fn checked_user_id(user_id: String) -> Result<Arc<str>> {
    if user_id.is_empty() || !user_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Config {
            setting: "user_id",
            message: format!(
                "{user_id:?} is not a fal user id: it must be non-empty visible ASCII, without spaces"
            ),
        });
    }
    Ok(user_id.into())
}
