//! `kontext result ID [--out DIR]`: wait for a submitted request (without
//! ever cancelling it) and save its images.

use std::time::Duration;

use clap::Args;

use crate::exit::Failure;
use crate::flags::Global;
use crate::flags::parse::seconds;
use crate::flags::{RequestRef, SaveFlags};
use crate::local::connect;
use crate::output::{self, AnyOutput};
use crate::progress::Spinner;
use crate::signal;

/// `kontext result`.
#[derive(Debug, Args)]
pub struct ResultArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub request: RequestRef,
    /// Stop waiting after this many seconds (the request is not cancelled).
    #[arg(long, value_name = "SECS", value_parser = seconds())]
    pub timeout: Option<u64>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub save: SaveFlags,
}

/// Waits for completion, saves the images, prints their paths (or `--json`).
pub async fn run(args: ResultArgs, global: &Global) -> Result<(), Failure> {
    super::refuse_local(global)?;
    let save = &args.save;
    if let Some(name) = &save.name {
        output::check_stem(name)
            .map_err(|rule| Failure::Usage(format!("invalid --name: {rule}")))?;
    }
    crate::out_dir::check_dir(&save.out)?;
    let connection = connect(false).await?;
    let client = &connection.client;
    let (endpoint, id) = (args.request.endpoint(), args.request.id.as_str());
    let handle = client.request_handle::<AnyOutput>(endpoint, id);

    let spinner = Spinner::new(global.quiet, &format!("waiting for {id}"));
    // A watch never cancels the request: not at --timeout, not on Ctrl-C.
    let timeout = args.timeout.map_or(super::NO_DEADLINE, Duration::from_secs);
    let saving = async {
        let watched = handle
            .clone()
            .watch(timeout)
            .output_with(|update| spinner.show(update))
            .await;
        let output = match watched {
            Ok(done) => done.output,
            Err(fal_kontext::Error::Timeout { .. }) => {
                return Err(Failure::StillRunning(id.to_string()));
            }
            Err(error) => return Err(error.into()),
        };
        spinner.set("downloading");
        let stem = save.name.as_deref().unwrap_or(id);
        let paths = client
            .download_as(&output, &save.out, stem)
            .await
            .map_err(|error| Failure::Save(error).accepted(id, endpoint))?;
        Ok((output, paths))
    };
    // Ctrl-C (or SIGTERM, SIGHUP) stops the waiting, never the request; dropping a download
    // removes its temporary file.
    let saved = tokio::select! {
        saved = saving => saved,
        stop = signal::stop() => Err(Failure::Interrupted(stop, format!(
            "{}; request {id} was not cancelled", stop.name()
        ))),
    };
    spinner.finish();
    let (output, paths) = saved?;
    if global.json {
        output::print_json(&output::document(id, endpoint, output.0, &paths));
    } else {
        output::print_paths(&paths);
    }
    Ok(())
}
