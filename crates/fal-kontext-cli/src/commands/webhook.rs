//! `kontext webhook serve`: fal's deliveries in, verified, images saved.

use std::sync::Arc;

use fal_kontext::webhook::Verifier;

use crate::cli::{Global, ServeArgs};
use crate::exit::Failure;
use crate::output;
use crate::webhook::{Receiver, listen, serve_until_ctrl_c};

/// Listens until Ctrl-C; every delivery is verified against `--jwks-url`.
pub async fn serve(args: ServeArgs, global: &Global) -> Result<(), Failure> {
    if global.local {
        return Err(Failure::Usage(
            "--local does not apply to `webhook serve`: run `kontext emulator`, submit to it with \
             --webhook, and give this server --jwks-url <its rest URL>/.well-known/jwks.json"
                .into(),
        ));
    }
    let verifier = Verifier::builder()
        .jwks_url(&args.jwks_url)
        .build()
        .map_err(|error| {
            Failure::Usage(format!(
                "invalid value '{}' for '--jwks-url': must be an http(s) URL ({error})",
                args.jwks_url
            ))
        })?;
    let listener = listen(args.host, args.port).await?;
    output::prepare_dir(&args.out)?;
    // Downloads only: the images are on fal's CDN, which is never sent a key.
    let downloads = fal_kontext::Client::builder().build()?;
    let address = listener.local_addr().map_err(|error| {
        Failure::Usage(format!(
            "invalid value '{}' for '--port': {error}",
            args.port
        ))
    })?;
    eprintln!(
        "kontext webhook serve: listening on http://{address}/ (keys: {}); Ctrl-C stops",
        verifier.jwks_url()
    );
    let receiver = Receiver::new(verifier, downloads, args.out, global.json);
    serve_until_ctrl_c(listener, Arc::new(receiver)).await;
    Ok(())
}
