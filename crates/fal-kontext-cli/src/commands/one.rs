//! What `edit`, `generate` and `multi` share: submit one request, follow it
//! with a spinner, save its images, print them; on Ctrl-C (SIGTERM,
//! SIGHUP) cancel it first.

use std::pin::pin;
use std::time::Duration;

use fal_kontext::{CancelOutcome, Client, Images, Kind, Request, Subscription};
use serde::Serialize;

use crate::exit::{Failure, result_command};
use crate::flags::{Global, SaveFlags};
use crate::job::{Job, Runner};
use crate::local::connect;
use crate::output;
use crate::progress::Spinner;
use crate::server_text::printable;
use crate::signal::{self, Stop};

/// How long the cancel sent on Ctrl-C may take.
const CANCEL_BUDGET: Duration = Duration::from_secs(10);

/// A finished request and where its images were saved.
pub struct Saved {
    /// fal's request id.
    pub request_id: String,
    /// Where it was submitted.
    pub endpoint: String,
    /// The files.
    pub paths: Vec<std::path::PathBuf>,
}

/// Runs `job` in the foreground and saves what it makes.
pub async fn run(job: Job, save: &SaveFlags, global: &Global) -> Result<Saved, Failure> {
    if let Some(name) = &save.name {
        output::check_stem(name)
            .map_err(|rule| Failure::Usage(format!("invalid --name: {rule}")))?;
    }
    crate::out_dir::check_dir(&save.out)?;
    let connection = connect(global.local).await?;
    let runner = Foreground {
        client: &connection.client,
        save,
        global,
    };
    job.run(&connection.client, runner).await?
}

/// Runs a request in the foreground.
struct Foreground<'a> {
    client: &'a Client,
    save: &'a SaveFlags,
    global: &'a Global,
}

impl Runner for Foreground<'_> {
    type Output = Result<Saved, Failure>;

    async fn run<K: Kind>(self, request: Request<K>) -> Result<Saved, Failure>
    where
        K::Output: Images + Serialize,
    {
        let endpoint = request.endpoint();
        let spinner = Spinner::new(self.global.quiet, "submitting");
        // Listening from before the submit, so a signal during the upload
        // is seen too.
        let mut interrupt = pin!(signal::stop());
        let mut subscribing = pin!(request.subscribe());
        let mut job = tokio::select! {
            job = &mut subscribing => job.map_err(|error| Failure::of_submit(error, endpoint))?,
            stop = &mut interrupt => {
                // fal may have accepted it already: let the submit finish,
                // so that there is an id to cancel.
                spinner.notice(&format!("{}: waiting for the submit in flight, to cancel it", stop.name()));
                return Err(match subscribing.await {
                    Ok(job) => cancel(job, stop, &spinner).await,
                    Err(_) => Failure::Interrupted(stop, format!("{} before fal accepted the request", stop.name())),
                });
            }
        };
        let id = job.request_id().to_string();
        spinner.set(format!("submitted {}", printable(&id)));
        // From here on, a failure names the request, so that it can be fetched.
        let accepted = |failure: Failure| failure.accepted(&id, endpoint);
        loop {
            tokio::select! {
                update = job.next() => match update {
                    Some(update) => spinner.show(&update.map_err(|e| accepted(e.into()))?),
                    None => break,
                },
                stop = &mut interrupt => return Err(cancel(job, stop, &spinner).await),
            }
        }
        spinner.set("downloading");
        let saving = async {
            let done = job.output().await?;
            let stem = self.save.name.as_deref().unwrap_or(&done.request_id);
            let paths = self
                .client
                .download_as(&done.output, &self.save.out, stem)
                .await
                .map_err(Failure::Save)?;
            Ok::<_, Failure>((done, paths))
        };
        // Nothing left to cancel; dropping the download removes its temporary file.
        let (done, paths) = tokio::select! {
            saved = saving => saved.map_err(accepted)?,
            stop = &mut interrupt => {
                spinner.finish();
                return Err(Failure::Interrupted(stop, format!(
                    "{} while saving; request {id} has completed: `{}` saves it",
                    stop.name(),
                    result_command(&id, endpoint)
                )));
            }
        };
        spinner.finish();
        if self.global.json {
            let fal_output = serde_json::to_value(&done.output)
                .expect("the SDK's output types serialize to JSON");
            output::print_json(&output::document(
                &done.request_id,
                endpoint,
                fal_output,
                &paths,
            ));
        } else {
            output::print_paths(&paths);
        }
        Ok(Saved {
            request_id: done.request_id,
            endpoint: endpoint.to_string(),
            paths,
        })
    }
}

/// Cancels the request being followed, waits for fal's answer, and says what happened.
async fn cancel<O>(job: Subscription<O>, stop: Stop, spinner: &Spinner) -> Failure {
    let id = job.request_id().to_string();
    spinner.set(format!("cancelling {id}"));
    // The SDK sends no second cancel for a subscription cancelled this way.
    let outcome = tokio::time::timeout(CANCEL_BUDGET, job.cancel()).await;
    spinner.finish();
    let name = stop.name();
    Failure::Interrupted(
        stop,
        match outcome {
            Ok(Ok(CancelOutcome::Requested)) => format!("{name}: cancelled request {id}"),
            Ok(Ok(CancelOutcome::AlreadyCompleted)) => {
                format!("{name}: request {id} had already completed; nothing to cancel")
            }
            Ok(Err(error)) => format!("{name}: could not cancel request {id}: {error}"),
            Err(_) => format!("{name}: cancelling request {id} took too long; it may still run"),
        },
    )
}
