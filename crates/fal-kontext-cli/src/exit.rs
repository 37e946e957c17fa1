//! Exit codes and error messages: every failure is mapped to its code here,
//! and only here (the codes are listed in `kontext --help`, from
//! `EXIT_CODES` of the command line).

use std::process::ExitCode;

use fal_kontext::{CancelAtDeadline, Error};

use crate::output;
use crate::server_text::printable;
use crate::signal::Stop;

/// A result could not be saved locally.
pub const SAVE_FAILED: u8 = 1;
/// Bad usage or input, found before any request was sent.
pub const USAGE: u8 = 2;
/// The API refused: key, validation, unknown request.
pub const REFUSED: u8 = 3;
/// Failed after retries: server, network, timeout, the model failed.
pub const FAILED: u8 = 4;
/// A batch stopped at `--max-cost`: jobs left unsubmitted, for a rerun.
pub const OVER_BUDGET: u8 = 5;

/// Why a command did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// Bad usage the CLI found itself.
    Usage(String),
    /// The SDK failed; the kind of error decides the code.
    Sdk(Error),
    /// The request succeeded, but its images could not be saved.
    Save(Error),
    /// fal's estimate (for `--estimate` or `--max-cost`) could not be had;
    /// nothing was submitted.
    Estimate(Error),
    /// A batch stopped submitting at `--max-cost`.
    OverBudget {
        /// The jobs left unsubmitted.
        left: usize,
        /// What was spent, with the currency.
        spent: String,
    },
    /// Ctrl-C, SIGTERM or SIGHUP; what was done about what had been
    /// submitted.
    Interrupted(Stop, String),
    /// Some batch jobs failed (listed already); the code is the highest of theirs.
    Batch {
        /// How many failed.
        failed: usize,
        /// Their highest exit code.
        code: u8,
    },
    /// `result --timeout` passed; the request goes on.
    StillRunning(String),
    /// A failure after fal accepted the request: it names the request, so
    /// that `kontext result` can fetch it.
    Accepted {
        /// fal's request id.
        request_id: String,
        /// The endpoint it was submitted to.
        endpoint: String,
        /// What went wrong.
        failure: Box<Failure>,
    },
    /// The local emulator could not start.
    #[cfg(feature = "emulator")]
    Emulator(std::io::Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Sdk(error)
    }
}

/// The exit code of an SDK error. Local files that cannot be read are bad
/// input: the SDK reads every input before it sends anything.
pub fn code_of(error: &Error) -> u8 {
    match error {
        Error::InvalidInput { .. }
        | Error::MissingKey
        | Error::Config { .. }
        | Error::Io { .. } => USAGE,
        Error::Authentication { .. }
        | Error::NotFound { .. }
        | Error::Validation { .. }
        | Error::Http { .. } => REFUSED,
        // an upload in parts: what its failing step's error says
        Error::Upload { source, .. } => code_of(source),
        _ => FAILED,
    }
}

impl Failure {
    /// The process exit code.
    pub fn code(&self) -> u8 {
        match self {
            Failure::Usage(_) => USAGE,
            Failure::Sdk(error) => code_of(error),
            // `--name` is checked before anything is sent, so a stem refused
            // at saving time is fal's request id: not the user's input.
            Failure::Save(Error::Io { .. } | Error::InvalidInput { .. }) => SAVE_FAILED,
            Failure::Save(error) => code_of(error),
            Failure::Estimate(error) => code_of(error),
            Failure::OverBudget { .. } => OVER_BUDGET,
            Failure::Interrupted(stop, _) => stop.exit_code(),
            Failure::Batch { code, .. } => *code,
            Failure::StillRunning(_) => FAILED,
            Failure::Accepted { failure, .. } => failure.code(),
            #[cfg(feature = "emulator")]
            Failure::Emulator(_) => FAILED,
        }
    }

    /// One line for stderr, naming command-line flags where the SDK names
    /// input fields. Never holds the API key: no SDK error carries it.
    pub fn message(&self) -> String {
        match self {
            Failure::Usage(message) | Failure::Interrupted(_, message) => message.clone(),
            Failure::Sdk(Error::InvalidInput { field, value, rule }) => {
                format!("invalid value '{value}' for '{}': {rule}", flag_of(field))
            }
            // the SDK reads every input image before it sends anything, so a
            // file it cannot read is an --image
            Failure::Sdk(Error::Io { path, source }) => format!(
                "invalid value '{}' for '--image': {source}; must be a readable JPEG, PNG, WebP, \
                 GIF or AVIF file, or an http(s) URL",
                path.display()
            ),
            Failure::Sdk(Error::MissingKey) => "no fal API key: set FAL_KEY (or FAL_KEY_ID and \
                FAL_KEY_SECRET), or add --local to use an emulator in this process"
                .into(),
            Failure::Sdk(error) => error.to_string(),
            Failure::Save(Error::InvalidInput {
                field: "stem",
                value,
                rule,
            }) => format!(
                "could not save the images: fal's request id `{value}` cannot name a file ({rule})"
            ),
            Failure::Save(error) => format!("could not save the images: {error}"),
            Failure::Estimate(error) => format!(
                "could not get fal's estimate (FAL_PLATFORM_URL); nothing was submitted: {error}"
            ),
            Failure::OverBudget { left, spent } => format!(
                "stopped at --max-cost after spending {spent}: {left} job(s) left unsubmitted; \
                 rerun the same command (with a larger --max-cost) to do them"
            ),
            Failure::Batch { failed, .. } => format!("{failed} job(s) failed (listed above)"),
            Failure::StillRunning(id) => {
                format!("request {id} has not completed yet (it was not cancelled)")
            }
            Failure::Accepted {
                request_id,
                endpoint,
                failure,
            } => {
                // Failed at fal, or cancelled by its deadline: fetching it
                // again gets nothing more.
                if failure.ended() == Ended::AtFal || failure.cancelled_it() {
                    failure.message()
                } else {
                    format!(
                        "{}; fal still has request {request_id}: `{}` fetches it",
                        failure.message(),
                        result_command(request_id, endpoint)
                    )
                }
            }
            #[cfg(feature = "emulator")]
            Failure::Emulator(error) => format!("could not start the local emulator: {error}"),
        }
    }

    /// The message for a batch line, which names fal's input fields as the
    /// line does (not the flags).
    pub fn job_reason(&self) -> String {
        match self {
            Failure::Sdk(error) => error.to_string(),
            Failure::Accepted { failure, .. } => failure.job_reason(),
            other => other.message(),
        }
    }

    /// This failure, after fal accepted the request `request_id`: it names
    /// the request (its message says how to fetch it, its `--json` document
    /// gives the id).
    pub fn accepted(self, request_id: &str, endpoint: &str) -> Failure {
        match self {
            // These say what became of the request already.
            Failure::Accepted { .. } | Failure::Interrupted(..) | Failure::StillRunning(_) => self,
            failure => Failure::Accepted {
                request_id: request_id.to_string(),
                endpoint: endpoint.to_string(),
                failure: Box::new(failure),
            },
        }
    }

    /// An SDK error of a submit to `endpoint`: one that names a request
    /// (fal's answer named the job, then its body was lost) names it as
    /// [`Failure::accepted`] does.
    pub fn of_submit(error: Error, endpoint: &str) -> Failure {
        match error.request_id().map(str::to_owned) {
            Some(request_id) => Failure::Sdk(error).accepted(&request_id, endpoint),
            None => Failure::Sdk(error),
        }
    }

    /// Who ended a request fal had accepted, when this failure ended it.
    /// fal did when its answer is final: it refused the input (422), the
    /// request failed there (an error status), or it never started within
    /// the caller's `request_timeout` (a user timeout); fetching it again
    /// gets the same failure, only a new submit can do the job. Anything
    /// else went wrong on this side, or on the way (the download, the
    /// deadline, the network, a result fetch): the request is fal's to
    /// finish, and fetching it by its id gets what it made, without paying
    /// for it again. (A deadline that cancelled the request is this side's
    /// too: a running job may finish all the same, and fetching it tells
    /// what fal made of the cancel.)
    pub fn ended(&self) -> Ended {
        match self {
            Failure::Sdk(
                Error::Validation { .. }
                | Error::RequestFailed { .. }
                | Error::RequestTimeout { .. },
            ) => Ended::AtFal,
            Failure::Accepted { failure, .. } => failure.ended(),
            _ => Ended::Here,
        }
    }

    /// Whether this failure is a deadline that cancelled its request.
    fn cancelled_it(&self) -> bool {
        match self {
            Failure::Sdk(Error::Timeout { cancel, .. }) => *cancel == CancelAtDeadline::Cancelled,
            Failure::Accepted { failure, .. } => failure.cancelled_it(),
            _ => false,
        }
    }

    /// The request this failure names, and its endpoint.
    pub fn request(&self) -> Option<(&str, &str)> {
        match self {
            Failure::Accepted {
                request_id,
                endpoint,
                ..
            } => Some((request_id, endpoint)),
            _ => None,
        }
    }

    /// Prints the message on stderr (made printable: it may quote a
    /// server) and gives the exit code. With `json`, a failure that names
    /// a request also prints one JSON document on stdout: `error`,
    /// `exit_code`, `request_id` and `endpoint`.
    pub fn report(self, json: bool) -> ExitCode {
        let message = self.message();
        eprintln!("error: {}", printable(&message));
        if json && let Some((request_id, endpoint)) = self.request() {
            output::print_json(&serde_json::json!({
                "error": message,
                "exit_code": self.code(),
                "request_id": request_id,
                "endpoint": endpoint,
            }));
        }
        ExitCode::from(self.code())
    }
}

/// Who ended a request fal had accepted (see [`Failure::ended`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// fal did: the failure is final, fetching the request again gets it
    /// again.
    AtFal,
    /// Something on this side or on the way: fal finishes the request, and
    /// fetching it by its id gets what it made.
    Here,
}

/// The command that fetches request `request_id` of `endpoint`: fal
/// answers by app, and `--model dev` names the one app that is not pro's.
pub fn result_command(request_id: &str, endpoint: &str) -> String {
    let model = if endpoint.starts_with(fal_kontext::endpoints::FLUX_KONTEXT_DEV) {
        " --model dev"
    } else {
        ""
    };
    format!("kontext result {request_id}{model}")
}

/// The flag that sets an input field.
fn flag_of(field: &str) -> String {
    match field {
        "image_url" | "image_urls" => "--image".into(),
        "fal_webhook" => "--webhook".into(),
        "x-fal-object-lifecycle-preference" => "--cdn-lifetime".into(),
        "fal_max_queue_length" => "--max-queue-length".into(),
        "sync_mode" => "--sync".into(),
        "enable_safety_checker" => "--no-safety-checker".into(),
        "loras" | "loras.scale" | "loras.path" => "--lora".into(),
        "mask_url" => "--mask".into(),
        "reference_image_url" => "--reference".into(),
        "image_data_url" => "--pairs".into(),
        "default_caption" => "--caption".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_of_error_has_its_code() {
        let invalid = Error::InvalidInput {
            field: "num_images",
            value: "5".into(),
            rule: "must be from 1 to 4".into(),
        };
        assert_eq!(code_of(&invalid), USAGE);
        assert_eq!(code_of(&Error::MissingKey), USAGE);
        let refused = Error::Authentication {
            status: 401,
            detail: "bad key".into(),
            context: Default::default(),
        };
        assert_eq!(code_of(&refused), REFUSED);
        let rejected = Error::Validation {
            details: vec![],
            context: Default::default(),
        };
        assert_eq!(code_of(&rejected), REFUSED);
        let server = Error::Server {
            status: 500,
            body: String::new(),
            context: Default::default(),
        };
        assert_eq!(code_of(&server), FAILED);
        let timeout = Error::Timeout {
            request_id: None,
            after: std::time::Duration::from_secs(1),
            cancel: fal_kontext::CancelAtDeadline::NotSent,
        };
        assert_eq!(code_of(&timeout), FAILED);
        let disk = Error::Io {
            path: "out/a-1.png".into(),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(Failure::Save(disk).code(), SAVE_FAILED);
    }

    #[test]
    fn invalid_input_names_the_flag() {
        let failure = Failure::Sdk(Error::InvalidInput {
            field: "num_images",
            value: "5".into(),
            rule: "must be from 1 to 4".into(),
        });
        assert_eq!(
            failure.message(),
            "invalid value '5' for '--num-images': must be from 1 to 4"
        );
    }

    #[test]
    fn a_request_id_that_cannot_name_a_file_is_a_save_failure() {
        let refused = fal_kontext::check_file_stem("../../x").unwrap_err();
        let failure = Failure::Save(refused);
        assert_eq!(failure.code(), SAVE_FAILED, "not the user's input");
        let message = failure.message();
        assert!(
            message.starts_with(
                "could not save the images: fal's request id `../../x` cannot name a file"
            ),
            "{message}"
        );
    }

    #[test]
    fn what_fal_decided_is_final_and_the_rest_can_be_fetched() {
        let at_fal = [
            Error::Validation {
                details: vec![],
                context: Default::default(),
            },
            Error::RequestFailed {
                message: "the model failed".into(),
                context: Default::default(),
            },
            Error::RequestTimeout {
                detail: "did not start".into(),
                context: Default::default(),
            },
        ];
        for error in at_fal {
            assert_eq!(Failure::Sdk(error).ended(), Ended::AtFal);
        }
        let here = [
            Failure::Save(Error::Server {
                status: 503,
                body: "Service Temporarily Unavailable".into(),
                context: Default::default(),
            }),
            Failure::Sdk(Error::Timeout {
                request_id: Some("r1".into()),
                after: std::time::Duration::from_secs(900),
                cancel: CancelAtDeadline::Cancelled,
            }),
            Failure::Save(Error::Io {
                path: "out".into(),
                source: std::io::Error::other("disk full"),
            }),
        ];
        for failure in here {
            assert_eq!(failure.ended(), Ended::Here, "{failure:?}");
        }
    }

    #[test]
    fn a_failure_after_the_submit_names_the_request_and_how_to_fetch_it() {
        let unsaved = Failure::Save(Error::Server {
            status: 503,
            body: "Service Temporarily Unavailable".into(),
            context: Default::default(),
        })
        .accepted("r1", "fal-ai/flux-kontext/dev");
        assert_eq!(
            unsaved.message(),
            "could not save the images: fal answered 503: Service Temporarily Unavailable; \
             fal still has request r1: `kontext result r1 --model dev` fetches it"
        );
        assert_eq!(unsaved.request(), Some(("r1", "fal-ai/flux-kontext/dev")));
        assert_eq!(unsaved.code(), FAILED);

        let failed = Failure::Sdk(Error::RequestFailed {
            message: "the model failed".into(),
            context: Default::default(),
        })
        .accepted("r2", "fal-ai/flux-pro/kontext");
        assert_eq!(failed.message(), "the request failed: the model failed");
        assert_eq!(failed.request(), Some(("r2", "fal-ai/flux-pro/kontext")));
    }
}
