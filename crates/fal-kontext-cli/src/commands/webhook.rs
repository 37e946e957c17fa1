//! `kontext webhook serve`: fal's deliveries in, verified, images saved.

use std::sync::Arc;
use std::time::Duration;

use fal_kontext::webhook::Verifier;
use tokio::sync::Notify;

use crate::cli::{Global, ServeArgs};
use crate::exit::Failure;
use crate::webhook::{Receiver, listen, serve_until_stopped};

/// Listens until Ctrl-C (or until stdout is closed); every delivery is
/// verified against `--jwks-url` and, with `--user-id`, taken only for that
/// fal user.
pub async fn serve(args: ServeArgs, global: &Global) -> Result<(), Failure> {
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
