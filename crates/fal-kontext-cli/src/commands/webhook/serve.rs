//! `kontext webhook serve`: fal's deliveries in, verified, images saved.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use fal_kontext::webhook::Verifier;
use tokio::sync::Notify;

use super::receiver::Receiver;
use super::server::{listen, serve_until_stopped};
use crate::exit::Failure;
use crate::flags::Global;
use crate::flags::parse::{number, seconds};

/// `kontext webhook serve`.
#[derive(Debug, Args)]
#[command(after_long_help = SERVE_HELP)]
pub struct ServeArgs {
    /// The port to listen on (0: any free port; the address is printed on stderr).
    #[arg(long, default_value_t = 8080, value_parser = number::<u16>("must be a port number from 0 to 65535 (0: any free port)"))]
    pub port: u16,
    /// The address to listen on. fal calls public addresses only: put a
    /// reverse proxy or a tunnel in front, or listen on a public address.
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1", value_parser = number::<IpAddr>("must be an IP address such as 127.0.0.1 or 0.0.0.0"))]
    pub host: IpAddr,
    /// The directory for the images (created if missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// fal's webhook key set (a JWKS).
    #[arg(long, value_name = "URL", default_value = fal_kontext::webhook::DEFAULT_JWKS_URL)]
    pub jwks_url: String,
    /// Take only this fal user's deliveries (their signed X-Fal-Webhook-User-Id): any other
    /// account's is answered 401, unread, and nothing is fetched for it.
    #[arg(long, value_name = "ID", env = "FAL_WEBHOOK_USER_ID")]
    pub user_id: Option<String>,
    /// Give up saving one event's images after this many seconds: the delivery is answered 503
    /// and the next one fal sends is handled anew.
    #[arg(long, value_name = "SECS", default_value_t = 120, value_parser = seconds())]
    pub save_timeout: u64,
}

const SERVE_HELP: &str = "\
Submit with `--webhook URL` (URL: where fal reaches this server). Each delivery is answered
200 when genuine, 401 when its signature is missing or wrong, its timestamp is more than
5 minutes off or it is for another fal user than --user-id, 400 when it is genuine but not an
event, 413 when its body is over 64 MiB, 500 when the images could not be saved, 503 when fal's
key set cannot be fetched, the images were not saved within --save-timeout or too many bodies
are being read at once (fal delivers again later). The headers are checked before the body is
read. Without --user-id, any fal account can have its deliveries saved here: set it (or
FAL_WEBHOOK_USER_ID) to the user id of your deliveries. The images of each successful event are
saved in --out as <request-id>-<n>.<ext>; an event delivered again saves nothing new. One line
per event on stdout (one JSON object with --json); refused deliveries are reported on stderr.
When stdout is closed, the server stops.";

/// Listens until Ctrl-C (or until stdout is closed); every delivery is
/// verified against `--jwks-url` and, with `--user-id`, taken only for that
/// fal user.
pub async fn run(args: ServeArgs, global: &Global) -> Result<(), Failure> {
    if global.local {
        return Err(Failure::Usage(
            "--local does not apply to `webhook serve`: run `kontext emulator`, submit to it with \
             --webhook, and give this server --jwks-url <its rest URL>/.well-known/jwks.json"
                .into(),
        ));
    }
    let mut verifier = Verifier::builder().jwks_url(&args.jwks_url);
    if let Some(user_id) = &args.user_id {
        verifier = verifier.user_id(user_id);
    }
    let verifier = verifier.build().map_err(|error| match error {
        fal_kontext::Error::Config {
            setting: "user_id", ..
        } => Failure::Usage(format!(
            "invalid value '{}' for '--user-id' (or FAL_WEBHOOK_USER_ID): must be a fal user id, \
             visible characters without spaces",
            args.user_id.as_deref().unwrap_or_default()
        )),
        error => Failure::Usage(format!(
            "invalid value '{}' for '--jwks-url': must be an http(s) URL ({error})",
            args.jwks_url
        )),
    })?;
    let listener = listen(args.host, args.port).await?;
    crate::out_dir::prepare_dir(&args.out)?;
    // Downloads only: the images are on fal's CDN, which is never sent a key.
    let downloads = fal_kontext::Client::builder().build()?;
    let address = listener.local_addr().map_err(|error| {
        Failure::Usage(format!(
            "invalid value '{}' for '--port': {error}",
            args.port
        ))
    })?;
    // Caught from before the address is announced: whoever reads it may
    // stop the server at once, and SIGTERM/SIGHUP must end it as cleanly as
    // Ctrl-C (a save in flight is left for fal to deliver again).
    let signalled = crate::signal::stop();
    eprintln!(
        "kontext webhook serve: listening on http://{address}/ (keys: {}); Ctrl-C stops",
        verifier.jwks_url()
    );
    match verifier.user_id() {
        Some(user_id) => eprintln!("taking the deliveries of fal user {user_id} only"),
        None => eprintln!(
            "warning: no --user-id: the deliveries of any fal account are taken; set --user-id \
             (or FAL_WEBHOOK_USER_ID) to your deliveries' X-Fal-Webhook-User-Id"
        ),
    }
    let stop = Arc::new(Notify::new());
    let save_timeout = Duration::from_secs(args.save_timeout);
    let receiver = Receiver::new(
        verifier,
        downloads,
        args.out,
        global.json,
        save_timeout,
        stop.clone(),
    );
    serve_until_stopped(listener, Arc::new(receiver), stop, signalled).await;
    Ok(())
}
