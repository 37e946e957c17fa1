//! What becomes of each job of a batch: its [`Outcome`], the record a
//! failure leaves for a rerun ([`failed`]), and the summary printed at the
//! end ([`summarize`]).

use std::path::{Path, PathBuf};

use fal_kontext::Error;
use serde_json::json;

use super::budget::Budget;
use super::jobs;
use super::payloads;
use super::state::Record;
use crate::exit::{Ended, Failure};
use crate::flags::Global;
use crate::output;
use crate::server_text::printable;

/// What becomes of one line.
pub(super) enum Outcome {
    /// Saved in this run.
    Done {
        request_id: String,
        paths: Vec<PathBuf>,
    },
    /// Saved by an earlier run.
    Skipped {
        request_id: Option<String>,
        paths: Vec<PathBuf>,
    },
    /// Failed, with the exit code its error stands for.
    Failed {
        reason: String,
        code: u8,
        /// The request fal accepted for it, if any.
        request_id: Option<String>,
        /// What a rerun does with it.
        rerun: Rerun,
    },
    /// Not submitted: it would have passed `--max-cost`.
    Unsubmitted,
}

/// What a rerun does with a failed job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Rerun {
    /// Submits it again: fal refused or failed it, or it was never sent.
    Submit,
    /// Collects its request by id, never submitting it again: it failed on
    /// this side after fal accepted it.
    Collect,
    /// Leaves it unless `--resubmit-unknown`: its submit may have reached fal.
    Unknown,
}

impl Rerun {
    /// As the `--json` summary says it.
    fn as_str(self) -> &'static str {
        match self {
            Rerun::Submit => "submit",
            Rerun::Collect => "collect",
            Rerun::Unknown => "unknown",
        }
    }
}

/// The record and the outcome of a job that failed with `failure`, after
/// fal accepted `request` (its id and endpoint) if it did. The record
/// decides what a rerun does: a request that failed here is collected,
/// never submitted again; one fal failed, or a job never sent, is submitted
/// again; a submit whose answer was lost is left alone (`--resubmit-unknown`).
pub(super) fn failed(
    id: &str,
    request: Option<(String, String)>,
    failure: Failure,
) -> (Outcome, Record) {
    let reason = failure.job_reason();
    let code = failure.code();
    let (record, request_id, rerun) = match (request, &failure) {
        (
            None,
            Failure::Sdk(Error::AmbiguousSubmit {
                endpoint,
                submitted,
                ..
            }),
        ) => (
            Record::Unknown {
                id: id.into(),
                endpoint: endpoint.clone(),
                unknown: reason.clone(),
                sent: submitted.as_deref().cloned(),
            },
            None,
            Rerun::Unknown,
        ),
        (None, _) => (
            Record::Failed {
                id: id.into(),
                failed: reason.clone(),
                request_id: None,
            },
            None,
            Rerun::Submit,
        ),
        (Some((request_id, endpoint)), failure) => match failure.ended() {
            Ended::AtFal => (
                Record::Failed {
                    id: id.into(),
                    failed: reason.clone(),
                    request_id: Some(request_id.clone()),
                },
                Some(request_id),
                Rerun::Submit,
            ),
            Ended::Here => (
                Record::Unfinished {
                    id: id.into(),
                    request_id: request_id.clone(),
                    endpoint,
                    unfinished: reason.clone(),
                },
                Some(request_id),
                Rerun::Collect,
            ),
        },
    };
    let outcome = Outcome::Failed {
        reason,
        code,
        request_id,
        rerun,
    };
    (outcome, record)
}

/// The jobs whose images are saved (in this run or before), with their requests.
pub(super) fn saved_requests(lines: &[jobs::Line], outcomes: &[Outcome]) -> Vec<payloads::Saved> {
    lines
        .iter()
        .zip(outcomes)
        .filter_map(|(line, outcome)| {
            let request_id = match outcome {
                Outcome::Done { request_id, .. } => request_id,
                Outcome::Skipped {
                    request_id: Some(request_id),
                    ..
                } => request_id,
                _ => return None,
            };
            let (id, _) = line.job.as_ref().ok()?;
            Some(payloads::Saved {
                id: id.clone(),
                request_id: request_id.clone(),
            })
        })
        .collect()
}

/// Prints the summary (failures with their reasons on stderr; paths or the
/// `--json` document on stdout) and gives the batch's exit status.
pub(super) fn summarize(
    lines: &[jobs::Line],
    outcomes: &[Outcome],
    state_path: &Path,
    budget: Option<&Budget>,
    global: &Global,
) -> Result<(), Failure> {
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let done = count(|o| matches!(o, Outcome::Done { .. }));
    let skipped = count(|o| matches!(o, Outcome::Skipped { .. }));
    let failed = count(|o| matches!(o, Outcome::Failed { .. }));
    let left = count(|o| matches!(o, Outcome::Unsubmitted));
    if failed > 0 || left > 0 || !global.quiet {
        eprintln!("{done} done, {skipped} skipped (done before), {failed} failed");
    }
    if let Some(budget) = budget
        && (left > 0 || !global.quiet)
    {
        eprintln!(
            "spent {} of --max-cost (at fal's prices; what fal billed where it said); \
             {left} job(s) left unsubmitted",
            budget.spent()
        );
    }
    for (line, outcome) in lines.iter().zip(outcomes) {
        if let Outcome::Failed {
            reason,
            request_id,
            rerun,
            ..
        } = outcome
        {
            let next = match (rerun, request_id) {
                (Rerun::Collect, Some(request_id)) => {
                    format!(" [a rerun collects request {request_id}, never submitting it again]")
                }
                (Rerun::Unknown, _) => " [a rerun looks for it in fal's request history; \
                                         it is not submitted again while fal may have it, \
                                         unless --resubmit-unknown]"
                    .into(),
                _ => String::new(),
            };
            eprintln!(
                "  {}: {}",
                line.name(),
                printable(&format!("{reason}{next}"))
            );
        }
    }
    if global.json {
        let jobs: Vec<_> = lines
            .iter()
            .zip(outcomes)
            .map(|(line, outcome)| {
                let id = line
                    .job
                    .as_ref()
                    .map_or_else(|(id, _)| id.clone(), |(id, _)| Some(id.clone()));
                let mut entry = json!({"line": line.number, "id": id});
                let details = match outcome {
                    Outcome::Done { request_id, paths } => {
                        json!({"status": "done", "request_id": request_id, "paths": paths})
                    }
                    Outcome::Skipped { request_id, paths } => {
                        json!({"status": "skipped", "request_id": request_id, "paths": paths})
                    }
                    Outcome::Failed {
                        reason,
                        code,
                        request_id,
                        rerun,
                    } => json!({
                        "status": "failed",
                        "reason": reason,
                        "exit_code": code,
                        "request_id": request_id,
                        "rerun": rerun.as_str(),
                    }),
                    Outcome::Unsubmitted => json!({"status": "unsubmitted"}),
                };
                entry
                    .as_object_mut()
                    .expect("an object")
                    .extend(details.as_object().expect("an object").clone());
                entry
            })
            .collect();
        let mut document = json!({
            "state_file": state_path,
            "done": done,
            "skipped": skipped,
            "failed": failed,
            "jobs": jobs,
        });
        if let Some(budget) = budget {
            document["budget"] = budget.json(left);
        }
        output::print_json(&document);
    } else {
        output::print_paths(outcomes.iter().flat_map(|outcome| match outcome {
            Outcome::Done { paths, .. } => paths.as_slice(),
            _ => &[],
        }));
    }
    match outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Failed { code, .. } => Some(*code),
            _ => None,
        })
        .max()
    {
        Some(code) => Err(Failure::Batch { failed, code }),
        None if left > 0 => Err(Failure::OverBudget {
            left,
            spent: budget.map(Budget::spent).unwrap_or_default(),
        }),
        None => Ok(()),
    }
}
