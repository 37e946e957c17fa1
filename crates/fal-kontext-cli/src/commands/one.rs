//! What `edit`, `generate` and `multi` share: submit one request, follow it
//! with a spinner, save its images, print them; on Ctrl-C cancel it first.

use std::pin::pin;
use std::time::Duration;

use fal_kontext::{CancelOutcome, Client, Images, Kind, Request, Subscription};
use serde::Serialize;

use crate::cli::{Global, SaveFlags};
use crate::exit::Failure;
use crate::job::{Job, Runner};
use crate::local::connect;
use crate::output;
use crate::progress::Spinner;

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
    output::check_dir(&save.out)?;
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
        // Polled along with the submit from its start (the first poll
        // installs the handler), so a Ctrl-C during the upload is seen too.
        let mut interrupt = pin!(tokio::signal::ctrl_c());
        let mut subscribing = pin!(request.subscribe());
        let mut job = tokio::select! {
            job = &mut subscribing => job?,
            Ok(()) = &mut interrupt => {
                // fal may have accepted it already: let the submit finish,
                // so that there is an id to cancel.
                spinner.notice("interrupted: waiting for the submit in flight, to cancel it");
                return Err(match subscribing.await {
                    Ok(job) => cancel(job, &spinner).await,
                    Err(_) => Failure::Interrupted("interrupted before fal accepted the request".into()),
                });
            }
        };
        spinner.set(format!("submitted {}", job.request_id()));
        loop {
            tokio::select! {
                update = job.next() => match update {
                    Some(update) => spinner.show(&update?),
                    None => break,
                },
                Ok(()) = &mut interrupt => return Err(cancel(job, &spinner).await),
            }
        }
        spinner.set("downloading");
        let id = job.request_id().to_string();
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
            saved = saving => saved?,
            Ok(()) = &mut interrupt => {
                spinner.finish();
                return Err(Failure::Interrupted(format!(
                    "interrupted while saving; request {id} has completed: `kontext result {id}` saves it"
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
async fn cancel<O>(job: Subscription<O>, spinner: &Spinner) -> Failure {
    let id = job.request_id().to_string();
    spinner.set(format!("cancelling {id}"));
    // The SDK sends no second cancel for a subscription cancelled this way.
    let outcome = tokio::time::timeout(CANCEL_BUDGET, job.cancel()).await;
    spinner.finish();
    Failure::Interrupted(match outcome {
        Ok(Ok(CancelOutcome::Requested)) => format!("interrupted: cancelled request {id}"),
        Ok(Ok(CancelOutcome::AlreadyCompleted)) => {
            format!("interrupted: request {id} had already completed; nothing to cancel")
        }
        Ok(Err(error)) => format!("interrupted: could not cancel request {id}: {error}"),
        Err(_) => format!("interrupted: cancelling request {id} took too long; it may still run"),
    })
}
