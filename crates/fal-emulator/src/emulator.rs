//! [`Emulator`]: starts the origins, the proxy and the shared state on
//! loopback ports, and is the handle a test holds (URLs, key, counters,
//! recorded requests, faults, prices, timing); it stops serving when dropped.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::catalog::prices::Price;
use crate::faults::{FaultRule, WebhookFault};
use crate::net;
use crate::origins;
use crate::route::Origin;
use crate::state::Shared;
use crate::state::config::{Config, Timing};
use crate::state::recording::RecordedRequest;
use crate::state::stats::Stats;
use crate::state::urls::Urls;

/// A running emulator: four origins on 127.0.0.1, plus a forward proxy for
/// clients whose hosts are fixed. It stops serving when dropped.
pub struct Emulator {
    shared: Arc<Shared>,
    proxy_url: String,
    ca_cert_pem: Option<String>,
}

impl Emulator {
    /// Starts an emulator with [`Config::default`].
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let emulator = fal_emulator::Emulator::start().await?;
    /// assert!(emulator.queue_url().starts_with("http://127.0.0.1:"));
    /// # Ok(()) }
    /// ```
    pub async fn start() -> std::io::Result<Emulator> {
        Self::start_with(Config::default()).await
    }

    /// Starts an emulator with this configuration.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use fal_emulator::{Config, Emulator, Fault, FaultRule, Route};
    ///
    /// let emulator = Emulator::start_with(Config {
    ///     key: "test-key".into(),
    ///     concurrency: 1,
    ///     faults: vec![FaultRule::once(Route::Submit, Fault::Ingress(502))],
    ///     ..Config::default()
    /// })
    /// .await?;
    /// assert_eq!(emulator.key(), "test-key");
    /// # Ok(()) }
    /// ```
    pub async fn start_with(config: Config) -> std::io::Result<Emulator> {
        let queue = net::server::bind(config.port).await?;
        let run = net::server::bind(0).await?;
        let rest = net::server::bind(0).await?;
        let cdn = net::server::bind(0).await?;
        let foreign = net::server::bind(0).await?;
        let proxy = net::server::bind(0).await?;
        let port = |listener: &TcpListener| listener.local_addr().map(|addr| addr.port());
        let ports = [port(&queue)?, port(&run)?, port(&rest)?, port(&cdn)?];
        let foreign_port = port(&foreign)?;
        let scheme = if config.tls { "https" } else { "http" };
        let url = |port: u16| format!("{scheme}://127.0.0.1:{port}");
        let urls = Urls {
            queue: url(ports[0]),
            run: url(ports[1]),
            rest: url(ports[2]),
            cdn: url(ports[3]),
            key: config.key.clone(),
        };

        let tls = if config.tls {
            Some(net::tls::generate()?)
        } else {
            None
        };
        let acceptor = tls.as_ref().map(|tls| tls.acceptor.clone());
        let shutdown = CancellationToken::new();
        let shared = Arc::new(Shared::new(
            &config,
            urls,
            url(foreign_port),
            shutdown.clone(),
        ));
        let routers = [
            origins::queue::router(shared.clone(), Origin::Queue),
            origins::run::router(shared.clone()),
            origins::rest::router(shared.clone()),
            origins::cdn::router(shared.clone()),
            origins::queue::router(shared.clone(), Origin::Foreign),
        ];
        let listeners = [queue, run, rest, cdn, foreign];
        for (listener, router) in listeners.into_iter().zip(routers) {
            net::server::spawn(listener, router, acceptor.clone(), shutdown.clone());
        }
        let proxy_url = format!("http://127.0.0.1:{}", port(&proxy)?);
        let targets = net::proxy::targets(ports, foreign_port);
        net::proxy::spawn(proxy, Arc::new(targets), shutdown);

        Ok(Emulator {
            shared,
            proxy_url,
            ca_cert_pem: tls.map(|tls| tls.ca_pem),
        })
    }

    /// The base URLs and the key.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let emulator = fal_emulator::Emulator::start().await?;
    /// let urls = emulator.urls();
    /// println!("{}", serde_json::to_string(urls).unwrap());
    /// assert_eq!(urls.key, emulator.key());
    /// # Ok(()) }
    /// ```
    pub fn urls(&self) -> &Urls {
        &self.shared.urls
    }

    /// The queue origin, e.g. `http://127.0.0.1:41231`.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let emulator = fal_emulator::Emulator::start().await?;
    /// let submit = format!("{}/fal-ai/flux-pro/kontext", emulator.queue_url());
    /// # Ok(()) }
    /// ```
    pub fn queue_url(&self) -> &str {
        &self.shared.urls.queue
    }

    /// The run origin.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let emulator = fal_emulator::Emulator::start().await?;
    /// let run = format!("{}/fal-ai/flux-pro/kontext", emulator.run_url());
    /// # Ok(()) }
    /// ```
    pub fn run_url(&self) -> &str {
        &self.shared.urls.run
    }

    /// The REST (storage) origin.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let emulator = fal_emulator::Emulator::start().await?;
    /// let initiate = format!("{}/storage/upload/initiate", emulator.rest_url());
    /// # Ok(()) }
    /// ```
    pub fn rest_url(&self) -> &str {
        &self.shared.urls.rest
    }

    /// The Platform APIs' base URL, `{rest}/v1` (fal's `https://api.fal.ai/v1`):
    /// what a client takes as `FAL_PLATFORM_URL`. It serves
    /// `GET /models/pricing`, `POST /models/pricing/estimate`, the request
    /// history (`GET /models/requests/by-endpoint`) and the payload deletion
    /// (`DELETE /models/requests/{id}/payloads`, with [`admin_key`](Self::admin_key)).
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let emulator = fal_emulator::Emulator::start().await?;
    /// assert_eq!(emulator.platform_url(), format!("{}/v1", emulator.rest_url()));
    /// let prices = format!("{}/models/pricing?endpoint_id=fal-ai/flux-pro/kontext", emulator.platform_url());
    /// # Ok(()) }
    /// ```
    pub fn platform_url(&self) -> String {
        format!("{}/v1", self.shared.urls.rest)
    }

    /// The CDN origin.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let emulator = fal_emulator::Emulator::start().await?;
    /// assert_ne!(emulator.cdn_url(), emulator.queue_url());
    /// # Ok(()) }
    /// ```
    pub fn cdn_url(&self) -> &str {
        &self.shared.urls.cdn
    }

    /// The foreign origin: another host, which answers that carry
    /// [`Fault::ForeignUrls`](crate::Fault::ForeignUrls) point their `status_url`, `response_url` and
    /// `cancel_url` at. It serves those calls without asking for a key, and
    /// counts in [`Stats::foreign_authorizations`] every request that brings
    /// an `Authorization` header (and in [`Stats::key_leaks`] every one that
    /// brings the key).
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let emulator = fal_emulator::Emulator::start().await?;
    /// assert_ne!(emulator.foreign_url(), emulator.queue_url());
    /// # Ok(()) }
    /// ```
    pub fn foreign_url(&self) -> &str {
        &self.shared.foreign_url
    }

    /// The API key the emulator accepts.
    pub fn key(&self) -> &str {
        &self.shared.key
    }

    /// The key with fal's ADMIN scope ([`Config::admin_key`]): the only one
    /// that may delete a request's payloads.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let emulator = fal_emulator::Emulator::start().await?;
    /// assert_ne!(emulator.admin_key(), emulator.key());
    /// # Ok(()) }
    /// ```
    pub fn admin_key(&self) -> &str {
        &self.shared.admin_key
    }

    /// An HTTP forward proxy (`CONNECT` only) that maps fal's public hosts
    /// (`queue.fal.run`, `fal.run`, `rest.fal.ai`, `api.fal.ai`, `fal.ai`,
    /// `v3.fal.media`, `fal.media`) to this emulator and refuses every other host. For
    /// clients whose hosts cannot be configured; use with `tls: true`, so
    /// that the certificate they see is valid for those names.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let emulator = fal_emulator::Emulator::start().await?;
    /// let mut child = std::process::Command::new("python3");
    /// child.env("HTTPS_PROXY", emulator.proxy_url()).env("NO_PROXY", "127.0.0.1,localhost");
    /// # Ok(()) }
    /// ```
    pub fn proxy_url(&self) -> &str {
        &self.proxy_url
    }

    /// With `tls: true`, the PEM of the CA that signed the emulator's
    /// certificate: what a client must trust. `None` without TLS.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use fal_emulator::{Config, Emulator};
    /// let emulator = Emulator::start_with(Config { tls: true, ..Config::default() }).await?;
    /// let pem = emulator.ca_cert_pem().expect("TLS is on");
    /// std::fs::write("emulator-ca.pem", pem)?;
    /// # Ok(()) }
    /// ```
    pub fn ca_cert_pem(&self) -> Option<&str> {
        self.ca_cert_pem.as_deref()
    }

    /// A snapshot of the counters.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let emulator = fal_emulator::Emulator::start().await?;
    /// assert_eq!(emulator.stats().submit, 0);
    /// # Ok(()) }
    /// ```
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// Every request received, in order (the latest 20,000).
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let emulator = fal_emulator::Emulator::start().await?;
    /// for request in emulator.requests() {
    ///     println!("{:?} {} {}", request.route, request.method, request.path);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.recorder.all()
    }

    /// Replaces the fault rules (an empty list stops all faults); windows
    /// ([`FaultRule::window`]) start now, and an outage
    /// ([`FaultRule::outage`]) cuts the status streams open now.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use fal_emulator::{Emulator, Fault, FaultRule, Route};
    /// let emulator = Emulator::start().await?;
    /// emulator.set_faults(vec![FaultRule::times(Route::Status, Fault::Ingress(503), 2)]);
    /// # Ok(()) }
    /// ```
    pub fn set_faults(&self, faults: Vec<FaultRule>) {
        self.shared.set_faults(faults);
    }

    /// Replaces the price list ([`Config::prices`]): the next pricing and
    /// estimate calls, and the next result and run answers'
    /// `x-fal-billable-units`, use it. An endpoint left out has no price.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use fal_emulator::{Config, Emulator, Price};
    /// let emulator = Emulator::start().await?;
    /// let mut prices = Config::default().prices;
    /// prices.push(Price::usd("fal-ai/flux/dev", 0.025, "megapixels"));
    /// emulator.set_prices(prices);
    /// # Ok(()) }
    /// ```
    pub fn set_prices(&self, prices: Vec<Price>) {
        self.shared.set_prices(prices);
    }

    /// Replaces the faults waiting for the next webhook delivery attempts:
    /// each attempt takes the first one left (an empty list: none).
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use fal_emulator::{Emulator, WebhookFault};
    /// let emulator = Emulator::start().await?;
    /// // the next attempt is signed by a stranger, and answered 401 by a
    /// // receiver that verifies; the retry after it is genuine
    /// emulator.set_webhook_faults(vec![WebhookFault::ForeignKey]);
    /// # Ok(()) }
    /// ```
    pub fn set_webhook_faults(&self, faults: Vec<WebhookFault>) {
        self.shared.webhooks.set_faults(faults);
    }

    /// Where the emulator serves the key set its webhooks are signed with,
    /// `{rest}/.well-known/jwks.json` (fal's is on its REST host too).
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let emulator = fal_emulator::Emulator::start().await?;
    /// assert_eq!(emulator.jwks_url(), format!("{}/.well-known/jwks.json", emulator.rest_url()));
    /// # Ok(()) }
    /// ```
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.shared.urls.rest)
    }

    /// Changes the queue delay and processing time; jobs read it as they
    /// reach each stage.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use fal_emulator::{Emulator, Timing};
    /// let emulator = Emulator::start().await?;
    /// emulator.set_timing(Timing { queue_delay: Duration::from_millis(200), processing_time: Duration::ZERO });
    /// # Ok(()) }
    /// ```
    pub fn set_timing(&self, timing: Timing) {
        self.shared.set_timing(timing);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("urls", &self.shared.urls)
            .field("proxy_url", &self.proxy_url)
            .field("tls", &self.ca_cert_pem.is_some())
            .finish()
    }
}
