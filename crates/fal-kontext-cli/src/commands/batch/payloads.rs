//! `kontext batch --delete-payloads`: once a job's images are saved, what
//! fal stored of its request (input, output, output files) is deleted, and
//! the deletion recorded in the state file, so that a rerun does not repeat
//! it. A deletion fal did not finish (a file it could not delete, an error)
//! is not recorded: the next run tries again.

use std::collections::HashMap;

use fal_kontext::Client;

use super::state::{JobState, Record, StateFile};
use crate::exit::{self, Failure, code_of};

/// One job whose images are saved: its id and its request's.
pub struct Saved {
    /// The job.
    pub id: String,
    /// Its request at fal.
    pub request_id: String,
}

/// Deletes the payloads of each saved job not deleted before (per
/// `previous`); each success is recorded before the next. A failure is
/// reported on stderr; the result says how many failed and their highest
/// exit code.
pub async fn delete_saved(
    client: &Client,
    state: &mut StateFile,
    previous: &HashMap<String, JobState>,
    saved: Vec<Saved>,
) -> Result<(), Failure> {
    let (mut failed, mut code) = (0, 0);
    for job in saved {
        let done_before = previous
            .get(&job.id)
            .and_then(|state| state.payloads_deleted.as_deref())
            == Some(job.request_id.as_str());
        if done_before {
            continue;
        }
        // One key per request: a rerun within fal's 10 minutes, after an
        // answer that was lost, gets that answer instead of a second deletion.
        let key = format!("kontext-batch-{}", job.request_id);
        let why = match client.delete_payloads_with_key(&job.request_id, &key).await {
            Ok(deletion) if deletion.is_complete() => {
                let record = Record::PayloadsDeleted {
                    id: job.id.clone(),
                    payloads_deleted: job.request_id.clone(),
                };
                if let Err(error) = state.record(&record) {
                    eprintln!(
                        "could not record the payload deletion of {} in {}: {error}",
                        job.id,
                        state.path().display()
                    );
                }
                continue;
            }
            Ok(deletion) => {
                code = code.max(exit::FAILED);
                let files: Vec<String> = deletion
                    .failed()
                    .map(|(url, why)| format!("{url} ({why})"))
                    .collect();
                format!("fal could not delete {}", files.join(", "))
            }
            Err(error) => {
                code = code.max(code_of(&error));
                error.to_string()
            }
        };
        failed += 1;
        eprintln!(
            "could not delete fal's stored payloads of {} (request {}): {}",
            job.id,
            job.request_id,
            crate::server_text::printable(&why)
        );
    }
    match failed {
        0 => Ok(()),
        _ => Err(Failure::Batch { failed, code }),
    }
}
