//! How an emulator is set up: [`Config`], [`Timing`], [`WebhookRetry`], and
//! the command-line form [`EmulatorArgs`] shared by `fal-emulator` and
//! `kontext emulator`.

use std::time::Duration;

use crate::catalog::prices::{self, Price, PriceOverride};
use crate::faults::FaultRule;
use crate::faults::WebhookFault;

/// Everything an [`Emulator`](crate::Emulator) is started with.
///
/// Build it from [`Config::default`] and change what the test needs:
///
/// ```
/// use std::time::Duration;
/// use fal_emulator::{Config, Timing};
///
/// let config = Config {
///     key: "test-key".into(),
///     concurrency: 2,
///     timing: Timing { queue_delay: Duration::ZERO, processing_time: Duration::from_millis(10) },
///     ..Config::default()
/// };
/// assert_eq!(config.log_lines, 3);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    /// The API key clients must send as `Authorization: Key <key>`.
    pub key: String,
    /// A key with fal's ADMIN scope: accepted wherever `key` is, and the only
    /// one that may delete a request's payloads (`DELETE
    /// {rest}/v1/models/requests/{id}/payloads`; `key` gets 403 there).
    pub admin_key: String,
    /// The queue origin's port; `0` takes any free port. The run, rest and
    /// CDN origins always take free ports.
    pub port: u16,
    /// Queue delay and processing time of every job.
    pub timing: Timing,
    /// How many jobs run at once; the others wait in the queue, with real
    /// positions. At least 1.
    pub concurrency: usize,
    /// How many jobs of one API key may run at once (`None`: no cap of its
    /// own, only [`concurrency`](Self::concurrency)); a key's other jobs wait
    /// `IN_QUEUE`, with positions, and start in order as its slots free. fal
    /// runs 2 requests at once for a new account, up to 40 with credit, and
    /// counts only running ones
    /// (<https://docs.fal.ai/documentation/model-apis/concurrency-limits>).
    pub max_running_per_key: Option<usize>,
    /// Answer an invalid input with 422 at submit instead of at the result
    /// call (fal's queue accepts any input and reports it at the result).
    pub eager_validation: bool,
    /// Faults to inject from the start; see [`Emulator::set_faults`](crate::Emulator::set_faults).
    pub faults: Vec<FaultRule>,
    /// Serve every origin over HTTPS with a certificate generated at start
    /// (see [`Emulator::ca_cert_pem`](crate::Emulator::ca_cert_pem)).
    pub tls: bool,
    /// How many log lines a job emits while it is in progress.
    pub log_lines: usize,
    /// How long a status stream may go without an event before it sends a
    /// keep-alive comment (`: keep-alive`); fal sends one about every 15 s.
    pub keep_alive: Duration,
    /// How failed webhook deliveries are retried.
    pub webhook_retry: WebhookRetry,
    /// Webhook faults to inject from the start; see
    /// [`Emulator::set_webhook_faults`](crate::Emulator::set_webhook_faults).
    pub webhook_faults: Vec<WebhookFault>,
    /// What each endpoint costs: the prices `GET {rest}/v1/models/pricing`
    /// lists and estimates are made from, and the units
    /// `x-fal-billable-units` counts. fal's published prices of the seven
    /// Kontext endpoints by default; an endpoint listed twice takes its last
    /// price. See [`Emulator::set_prices`](crate::Emulator::set_prices).
    pub prices: Vec<Price>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            key: "emulator-key".to_owned(),
            admin_key: "emulator-admin-key".to_owned(),
            port: 0,
            timing: Timing::default(),
            concurrency: 16,
            max_running_per_key: None,
            eager_validation: false,
            faults: Vec::new(),
            tls: false,
            log_lines: 3,
            keep_alive: Duration::from_secs(15),
            webhook_retry: WebhookRetry::default(),
            webhook_faults: Vec::new(),
            prices: prices::published(),
        }
    }
}

/// How failed deliveries are retried: `attempts` in all, the first pause
/// `first_delay`, doubling up to a minute (fal retries for up to hours; the
/// default is ten attempts over about four minutes).
///
/// ```
/// use std::time::Duration;
/// let quick = fal_emulator::WebhookRetry { attempts: 3, first_delay: Duration::from_millis(10) };
/// assert_eq!(fal_emulator::WebhookRetry::default().attempts, 10);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebhookRetry {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// The pause after the first failed attempt.
    pub first_delay: Duration,
}

impl Default for WebhookRetry {
    fn default() -> Self {
        Self {
            attempts: 10,
            first_delay: Duration::from_secs(1),
        }
    }
}

/// How long jobs wait and work.
///
/// ```
/// use std::time::Duration;
/// use fal_emulator::Timing;
///
/// let timing = Timing::default();
/// assert_eq!(timing.queue_delay, Duration::ZERO);
/// assert_eq!(timing.processing_time, Duration::from_millis(50));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// How long a submitted job stays `IN_QUEUE` before it may take a slot.
    pub queue_delay: Duration,
    /// How long a job stays `IN_PROGRESS` (its log lines are spread over it).
    pub processing_time: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            queue_delay: Duration::ZERO,
            processing_time: Duration::from_millis(50),
        }
    }
}

/// The emulator's command-line options, to `#[command(flatten)]` into a CLI.
///
/// ```
/// use clap::Parser;
/// use fal_emulator::EmulatorArgs;
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     emulator: EmulatorArgs,
/// }
///
/// let cli = Cli::parse_from(["kontext", "--port", "8080", "--processing-ms", "5"]);
/// let config = cli.emulator.into_config();
/// assert_eq!(config.port, 8080);
/// assert_eq!(config.timing.processing_time.as_millis(), 5);
/// ```
#[derive(clap::Args, Clone, Debug)]
pub struct EmulatorArgs {
    /// Port of the queue origin (0: any free port); the run, rest and CDN origins take free ports.
    #[arg(long, default_value_t = 0, value_parser = port)]
    pub port: u16,
    /// The API key clients must send (`Authorization: Key <key>`).
    #[arg(long, default_value = "emulator-key")]
    pub key: String,
    /// A key with fal's ADMIN scope, the only one that may delete a request's payloads.
    #[arg(long, default_value = "emulator-admin-key")]
    pub admin_key: String,
    /// Reject an invalid input with 422 at submit instead of at the result call.
    #[arg(long)]
    pub eager_validation: bool,
    /// How long each job stays IN_QUEUE before it may start, in milliseconds.
    #[arg(long, default_value_t = 0, value_parser = milliseconds)]
    pub queue_delay_ms: u64,
    /// How long each job stays IN_PROGRESS, in milliseconds.
    #[arg(long, default_value_t = 50, value_parser = milliseconds)]
    pub processing_ms: u64,
    /// How many jobs run at once; the rest wait in the queue.
    #[arg(long, default_value_t = 16, value_parser = at_least_one)]
    pub concurrency: u64,
    /// How many jobs of one API key run at once (fal's account limit: 2 to 40); default no cap.
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub max_running_per_key: Option<u64>,
    /// Serve HTTPS with a generated certificate; its CA is written to a file named in the ready line.
    #[arg(long)]
    pub tls: bool,
    /// Price an endpoint at AMOUNT US dollars per UNIT (by default its current unit, such as
    /// image or megapixels); repeatable.
    #[arg(long = "price", value_name = "ENDPOINT=AMOUNT[:UNIT]", value_parser = price)]
    pub prices: Vec<PriceOverride>,
}

// Each number option's parser names the values it takes when it refuses one.
fn port(text: &str) -> Result<u16, String> {
    text.parse()
        .map_err(|_| "must be a port number from 0 to 65535 (0: any free port)".into())
}

fn milliseconds(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| "must be a whole number of milliseconds, 0 or more".into())
}

fn price(text: &str) -> Result<PriceOverride, String> {
    text.parse()
}

fn at_least_one(text: &str) -> Result<u64, String> {
    match text.parse() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("must be a whole number, 1 or more".into()),
    }
}

impl EmulatorArgs {
    /// The [`Config`] these options describe (other settings at their
    /// defaults; each `--price` applied, in order, to the published prices).
    ///
    /// ```
    /// use clap::Parser;
    ///
    /// #[derive(Parser)]
    /// struct Cli {
    ///     #[command(flatten)]
    ///     emulator: fal_emulator::EmulatorArgs,
    /// }
    ///
    /// let config = Cli::parse_from(["fal-emulator", "--key", "k", "--tls"]).emulator.into_config();
    /// assert_eq!((config.key.as_str(), config.tls, config.concurrency), ("k", true, 16));
    /// ```
    pub fn into_config(self) -> Config {
        let mut prices = prices::published();
        for price in self.prices {
            price.apply(&mut prices);
        }
        Config {
            key: self.key,
            admin_key: self.admin_key,
            port: self.port,
            timing: Timing {
                queue_delay: Duration::from_millis(self.queue_delay_ms),
                processing_time: Duration::from_millis(self.processing_ms),
            },
            concurrency: usize::try_from(self.concurrency).unwrap_or(usize::MAX),
            max_running_per_key: self
                .max_running_per_key
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            eager_validation: self.eager_validation,
            tls: self.tls,
            prices,
            ..Config::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        emulator: EmulatorArgs,
    }

    fn config(args: &[&str]) -> Result<Config, clap::Error> {
        let args = std::iter::once("fal-emulator").chain(args.iter().copied());
        Cli::try_parse_from(args).map(|cli| cli.emulator.into_config())
    }

    #[test]
    fn price_flags_override_one_price_each_and_keep_the_unit() {
        let config = config(&[
            "--price",
            "fal-ai/flux-kontext/dev=0.03",
            "--price=fal-ai/flux-pro/kontext=0.05:megapixels",
            "--price",
            "fal-ai/flux/dev=0.025:image",
        ])
        .expect("parses");
        let find = |id: &str| prices::find(&config.prices, id).cloned();
        assert_eq!(
            find("fal-ai/flux-kontext/dev"),
            Some(Price::usd("fal-ai/flux-kontext/dev", 0.03, "megapixels"))
        );
        assert_eq!(
            find("fal-ai/flux-pro/kontext"),
            Some(Price::usd("fal-ai/flux-pro/kontext", 0.05, "megapixels"))
        );
        assert_eq!(
            find("fal-ai/flux/dev"),
            Some(Price::usd("fal-ai/flux/dev", 0.025, "image"))
        );
        assert_eq!(
            find("fal-ai/flux-pro/kontext/max"),
            Some(Price::usd("fal-ai/flux-pro/kontext/max", 0.08, "image")),
            "the others keep their published price"
        );
        assert_eq!(
            config.prices.len(),
            12,
            "the eleven published and one added"
        );
    }

    #[test]
    fn the_running_cap_per_key_is_off_unless_asked() {
        assert_eq!(config(&[]).expect("parses").max_running_per_key, None);
        let capped = config(&["--max-running-per-key", "4"]).expect("parses");
        assert_eq!(capped.max_running_per_key, Some(4));
        let error = config(&["--max-running-per-key", "0"]).expect_err("refused");
        assert!(error.to_string().contains("1 or more"), "{error}");
    }

    #[test]
    fn without_price_flags_the_published_prices_apply() {
        assert_eq!(config(&[]).expect("parses").prices, prices::published());
    }

    #[test]
    fn a_bad_price_flag_is_refused_naming_the_form() {
        for bad in [
            "fal-ai/flux-pro/kontext",
            "fal-ai/flux-pro/kontext=free",
            "fal-ai/flux-pro/kontext=-1",
        ] {
            let error = config(&["--price", bad]).expect_err("refused").to_string();
            assert!(
                error.contains("--price <ENDPOINT=AMOUNT[:UNIT]>"),
                "{error}"
            );
            assert!(
                error.contains("ENDPOINT=AMOUNT[:UNIT]") || error.contains("AMOUNT must"),
                "{error}"
            );
        }
    }
}
