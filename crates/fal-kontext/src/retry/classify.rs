//! The one classifier of failed attempts: what a call is ([`Call`]), how an
//! attempt failed ([`Failed`]), and what to do ([`Verdict`]): retry, stop,
//! or (a submit) stop as ambiguous. The evidence for each rule is in the module above.

use std::time::Duration;

use super::answer::{ErrorAnswer, is_user_timeout};
use crate::error::Error;

/// What a call is, which decides whether it carries the key and when it may
/// be repeated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    /// Creates a paid job at `endpoint`: repeated only when fal provably
    /// never saw it.
    Submit {
        /// The endpoint the job is for (named by an ambiguous submit's error).
        endpoint: &'static str,
    },
    /// An idempotent call to fal's API (status, result, cancel, upload
    /// initiate, the Platform API).
    Api,
    /// A call to a host that is not fal's API (CDN download, storage PUT):
    /// idempotent, and never carries the key.
    Foreign,
}

/// A failed attempt, as the retry rules see it.
#[derive(Debug)]
pub(crate) enum Failed {
    /// An unsuccessful answer.
    Answer(ErrorAnswer),
    /// No whole answer: the connection failed or broke.
    Transport(reqwest::Error),
    /// No whole answer within one of the call's time limits.
    TimedOut(Duration),
    /// An error no retry can help.
    Final(Error),
}

/// What to do after a failed attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Try again (after a pause).
    Retry,
    /// Stop with the attempt's error.
    Stop,
    /// Stop: a submit that fal may have taken, for this reason.
    Ambiguous(String),
}

impl Failed {
    /// The error a failed attempt stands for.
    pub fn into_error(self) -> Error {
        match self {
            Failed::Answer(answer) => answer.into_error(),
            Failed::Transport(error) => Error::transport(error),
            Failed::TimedOut(after) => Error::Timeout {
                request_id: None,
                after,
                cancel: crate::error::CancelAtDeadline::NotSent,
            },
            Failed::Final(error) => error,
        }
    }
}

/// What to do after `failed`, an attempt of `call`.
pub(super) fn verdict(call: Call, failed: &Failed) -> Verdict {
    let retry_if = |yes: bool| if yes { Verdict::Retry } else { Verdict::Stop };
    match (call, failed) {
        (_, Failed::Final(_)) => Verdict::Stop,
        (_, Failed::Answer(answer)) if is_user_timeout(answer) => Verdict::Stop,
        (Call::Submit { .. }, Failed::Answer(answer)) => submit_answer(answer),
        (Call::Submit { .. }, Failed::Transport(error)) if error.is_connect() => Verdict::Retry,
        (Call::Submit { .. }, Failed::Transport(_)) => {
            Verdict::Ambiguous("the connection was lost after the request was sent".into())
        }
        (Call::Submit { .. }, Failed::TimedOut(after)) => Verdict::Ambiguous(format!(
            "no whole answer within the call's limit of {after:?}"
        )),
        (Call::Api, Failed::Answer(answer)) => retry_if(matches!(
            answer.status.as_u16(),
            408 | 429 | 500 | 502 | 503 | 504
        )),
        (Call::Foreign, Failed::Answer(answer)) => retry_if(matches!(
            answer.status.as_u16(),
            408 | 429 | 502 | 503 | 504
        )),
        // reqwest reports a body that broke while being read (a reset, fewer
        // bytes than promised) as a decode error; the SDK decodes JSON
        // itself, so here that kind only ever means a broken body.
        (Call::Api | Call::Foreign, Failed::Transport(error)) => retry_if(
            error.is_connect()
                || error.is_timeout()
                || error.is_request()
                || error.is_body()
                || error.is_decode(),
        ),
        (Call::Api | Call::Foreign, Failed::TimedOut(_)) => Verdict::Retry,
    }
}

/// A submit's unsuccessful answer: retried only when fal cannot have taken
/// the job; a gateway error that may have come after fal took it is
/// ambiguous.
fn submit_answer(answer: &ErrorAnswer) -> Verdict {
    let status = answer.status.as_u16();
    let from_fal = answer.headers.contains_key("x-fal-request-id");
    match status {
        429 => Verdict::Retry,
        503 if is_ingress_page(answer) => Verdict::Retry,
        502 | 504 if !from_fal => Verdict::Ambiguous(format!(
            "a gateway answered {status} without x-fal-request-id"
        )),
        // any other answer fal sent is fal's decision: final
        _ => Verdict::Stop,
    }
}

/// An error page of fal's ingress, which passed nothing on to fal: a 502,
/// 503 or 504 without `x-fal-request-id` (every answer of fal's own carries
/// it) from nginx, as fal's Python client tells them apart (fal-client
/// 1.0.3, `_is_ingress_error`, which looks for "nginx" in the body). The
/// `Server: nginx` header counts too, for a page whose body never came
/// within the body idle limit.
fn is_ingress_page(answer: &ErrorAnswer) -> bool {
    let nginx = |text: &[u8]| text.windows(5).any(|w| w.eq_ignore_ascii_case(b"nginx"));
    matches!(answer.status.as_u16(), 502..=504)
        && !answer.headers.contains_key("x-fal-request-id")
        && (nginx(&answer.body)
            || answer
                .headers
                .get(reqwest::header::SERVER)
                .is_some_and(|server| nginx(server.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    const SUBMIT: Call = Call::Submit { endpoint: "e" };

    fn answer(status: u16, content_type: &str, body: &str) -> Failed {
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::CONTENT_TYPE, content_type.parse().unwrap());
        Failed::Answer(ErrorAnswer {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: Bytes::from(body.to_string()),
        })
    }

    fn with(mut failed: Failed, header: &'static str, value: &str) -> Failed {
        if let Failed::Answer(answer) = &mut failed {
            answer.headers.insert(header, value.parse().unwrap());
        }
        failed
    }

    fn ambiguous(verdict: Verdict) -> bool {
        matches!(verdict, Verdict::Ambiguous(_))
    }

    const NGINX: &str = "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>";

    #[test]
    fn a_submit_is_retried_only_when_fal_cannot_have_taken_it() {
        let (html, json) = ("text/html", "application/json");
        assert_eq!(verdict(SUBMIT, &answer(429, json, "{}")), Verdict::Retry);
        assert_eq!(verdict(SUBMIT, &answer(503, html, NGINX)), Verdict::Retry);
        for status in [502, 504] {
            // a gateway's error may come after fal took the job
            assert!(ambiguous(verdict(SUBMIT, &answer(status, html, NGINX))));
            assert!(ambiguous(verdict(SUBMIT, &answer(status, json, "{}"))));
        }
        for status in [500, 502, 503, 504] {
            // fal's own answer is fal's decision: final, not ambiguous
            let from_fal = with(answer(status, html, NGINX), "x-fal-request-id", "r");
            assert_eq!(verdict(SUBMIT, &from_fal), Verdict::Stop, "{status}");
        }
        assert_eq!(verdict(SUBMIT, &answer(503, json, "{}")), Verdict::Stop);
        // an nginx page whose body never came: its Server header tells
        let headless = with(answer(503, html, ""), "server", "nginx");
        assert_eq!(verdict(SUBMIT, &headless), Verdict::Retry);
        let timed_out = Failed::TimedOut(std::time::Duration::from_secs(1));
        assert!(ambiguous(verdict(SUBMIT, &timed_out)));
    }

    #[test]
    fn idempotent_calls_are_retried_on_transient_answers() {
        for status in [408, 429, 500, 502, 503, 504] {
            let failed = answer(status, "application/json", "{}");
            assert_eq!(verdict(Call::Api, &failed), Verdict::Retry, "{status}");
        }
        let failed = answer(500, "application/json", "{}");
        assert_eq!(verdict(Call::Foreign, &failed), Verdict::Stop);
        for status in [400, 401, 403, 404, 422] {
            let failed = answer(status, "application/json", "{}");
            assert_eq!(verdict(Call::Api, &failed), Verdict::Stop, "{status}");
        }
    }

    #[test]
    fn the_user_timeout_is_never_retried() {
        let timed_out = || {
            with(
                answer(504, "application/json", r#"{"detail":"Request timed out"}"#),
                "x-fal-request-timeout-type",
                "user",
            )
        };
        for call in [SUBMIT, Call::Api, Call::Foreign] {
            assert_eq!(verdict(call, &timed_out()), Verdict::Stop, "{call:?}");
        }
        // a 504 without the mark is the gateway's, and passes
        let gateway = answer(504, "text/html", NGINX);
        assert_eq!(verdict(Call::Api, &gateway), Verdict::Retry);
    }
}
