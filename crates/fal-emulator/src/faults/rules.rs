//! The faults a user sets ([`Fault`]: what goes wrong) and the rules that
//! aim them ([`FaultRule`]: at which requests, how often, for how long).

use std::time::Duration;

use crate::route::Route;

/// What goes wrong.
#[derive(Clone, Debug)]
pub enum Fault {
    /// 429 with `Retry-After: <secs>`; the request does not reach the app.
    TooManyRequests {
        /// The `Retry-After` value, in seconds.
        retry_after_secs: u64,
    },
    /// 502, 503 or 504 with an nginx HTML body, as fal's ingress sends it;
    /// the request does not reach the app (a submit creates no job).
    Ingress(u16),
    /// 500 from the app with a JSON `detail`; the request DID reach the app
    /// (a submit created its job: the "did my request land?" case).
    AppError,
    /// Headers and part of the body, then the connection is dropped. On an
    /// upload's body ([`UploadPut`](Route::UploadPut),
    /// [`UploadPart`](Route::UploadPart)): part of the request's body is
    /// read, then the connection is dropped, before any answer (the upload
    /// is not kept).
    ResetMidBody,
    /// The status stream closes after this many frames (one per event or
    /// keep-alive comment), without COMPLETED.
    CutStreamAfter(usize),
    /// The body trickles out; a whole answer takes about this long (a stream,
    /// this long per event).
    SlowBody(Duration),
    /// 200 with a body that is not valid JSON (the app did run).
    MalformedJson,
    /// `Content-Length` promises more than is sent (the app did run).
    Truncate,
    /// 401 with fal's body; the request does not reach the app.
    Unauthorized,
    /// 404 with fal's body; the request does not reach the app.
    NotFound,
    /// 422 with a fal `detail` list; the request does not reach the app.
    Unprocessable,
    /// fal's ingress is down: the answer is [`Ingress(502)`](Fault::Ingress)'s
    /// nginx page, without `x-fal-request-id`, and status streams open when
    /// the rule is set are cut (the connection drops mid-stream). Meant for
    /// [`FaultRule::outage`]; jobs already submitted keep running.
    Outage,
    /// The status stream goes silent after this many frames: no more events,
    /// no keep-alive comments, and the connection stays open (until the
    /// client leaves or the emulator stops). The job itself goes on.
    SilentStreamAfter(usize),
    /// Lean answers, with only what fal must send: a status answer (poll or
    /// stream event) is `{"status": …}` alone, without `request_id`, URLs,
    /// logs, metrics or queue position; an output keeps only its images'
    /// `url`s (`{"images": [{"url": …}]}`). A submit answer keeps its
    /// `request_id` and URLs (fal's clients read them from it), and error
    /// answers are left as they are.
    Lean,
    /// The `status_url`, `response_url` and `cancel_url` of an answer (submit,
    /// status, stream events) point at the foreign origin
    /// ([`Emulator::foreign_url`](crate::Emulator::foreign_url)), another
    /// host that serves the same queue answers without asking for a key and
    /// counts every `Authorization` header it is sent
    /// ([`Stats::foreign_authorizations`](crate::Stats::foreign_authorizations)).
    ForeignUrls,
    /// On [`Submit`](Route::Submit) or [`Run`](Route::Run): the job is
    /// created, then ends as if the start deadline the caller set with
    /// `x-fal-request-timeout` had run out: its status is `COMPLETED` with
    /// `error_type: "request_timeout"`, and its result (or the run's answer)
    /// is 504 with `x-fal-request-timeout-type: user` and
    /// `x-fal-error-type: request_timeout`. No effect on other routes.
    UserTimeout,
    /// 429 whose `Retry-After` is this text, sent as is: a number no clock
    /// can hold (`1e20`, `18446744073709551616`), negative, `inf`, or not a
    /// number at all. (Text that cannot be a header value at all, such as a
    /// line break, sends no `Retry-After`.) The request does not reach the app.
    AbsurdRetryAfter(String),
    /// The answer never ends: the app's answer, sent without
    /// `Content-Length`, then spaces (which JSON allows after a value) in
    /// 64 KiB pieces, as fast as the client reads, until it leaves. Only a
    /// bound on what the client reads ends it. The app did run.
    EndlessBody,
    /// On a successful [`Result`](Route::Result) (or [`Run`](Route::Run)):
    /// `x-fal-billable-units` says this many units, whatever the output: fal
    /// billing more (or less) than a client planned, as a price per
    /// megapixel does on a larger image than planned. No effect on answers
    /// without the header.
    BilledUnits(f64),
    /// No answer at all: the request is read, then nothing comes back, not
    /// even a status line, and the connection stays open (until the client
    /// leaves or the emulator stops). The request does not reach the app. On
    /// [`Stream`](Route::Stream): a status stream whose response never
    /// starts; on [`UploadPut`](Route::UploadPut): a storage upload that
    /// hangs.
    NoAnswer,
    /// Meant for [`Stream`](Route::Stream): the stream's headers, then only
    /// SSE comments, `: ping`, one every this long, for ever: never an event.
    /// The job itself goes on.
    KeepAliveOnly(Duration),
    /// Meant for [`Stream`](Route::Stream): after this many frames, bytes
    /// that are not UTF-8 (a `data:` line holding them), then newlines in
    /// 64 KiB pieces, as fast as the client reads, until it leaves. The job
    /// itself goes on.
    JunkStreamAfter(usize),
    /// An error answer whose body never comes: this status (502, 503 or
    /// 504 make an nginx page's headers), `Content-Length` of the page, and
    /// then not a byte of it, the connection left open (until the client
    /// leaves or the emulator stops). No `x-fal-request-id`: the request does
    /// not reach the app (on [`Cdn`](Route::Cdn): the CDN answering 503 and
    /// then nothing).
    StalledErrorBody(u16),
    /// The app's answer (its headers at once, `Content-Length` kept), then
    /// its body one byte at a time, this long apart: a body that ends, much
    /// later. The app did run.
    Trickle(Duration),
    /// The app takes the request (a submit creates its job, which runs),
    /// then the connection drops after the answer's headers
    /// (`x-fal-request-id` and the full `Content-Length` included), before
    /// a byte of its body.
    CutAfterHeaders,
    /// The app takes the request (a submit creates its job, which runs),
    /// then the connection drops before a byte of the answer, not even its
    /// status line.
    CutBeforeHeaders,
    /// The app takes the request (a submit creates its job, which runs),
    /// then a gateway in front of it answers this status (502 or 504: the
    /// upstream failed or timed out) with nginx's page and without
    /// `x-fal-request-id`, as [`Ingress`](Fault::Ingress) does: the client
    /// cannot tell from the answer whether fal took the request.
    GatewayAfterApp(u16),
    /// 429 in the Platform APIs' error shape (`{"error": {"type":
    /// "rate_limited", …}}`) and without `Retry-After`, which fal documents
    /// for none of its Platform APIs; the request does not reach the app.
    PlatformRateLimited,
}

/// When a [`Fault`] applies.
///
/// ```
/// use fal_emulator::{Fault, FaultRule, Route};
///
/// let rules = vec![
///     FaultRule::once(Route::Submit, Fault::Ingress(503)),
///     FaultRule::times(Route::Status, Fault::TooManyRequests { retry_after_secs: 1 }, 2),
///     FaultRule::rate(Route::Cdn, Fault::Truncate, 0.1),
/// ];
/// assert_eq!(rules[1].times, Some(2));
/// ```
#[derive(Clone, Debug)]
pub struct FaultRule {
    /// Which requests it applies to ([`Route::Any`]: all).
    pub route: Route,
    /// What happens to them.
    pub fault: Fault,
    /// Apply to the next N matching requests (counting only those it hit);
    /// `None`: every matching request, subject to `rate`.
    pub times: Option<u32>,
    /// Probability (0.0..=1.0) that a matching request is hit, drawn from a
    /// deterministic generator.
    pub rate: f64,
    /// Apply only for this long after the rule is set (by
    /// [`Config::faults`](crate::Config::faults) at start, or by
    /// [`Emulator::set_faults`](crate::Emulator::set_faults)); `None`: for as
    /// long as the rule has uses left.
    pub window: Option<Duration>,
}

impl FaultRule {
    /// The next matching request, and only it.
    ///
    /// ```
    /// use fal_emulator::{Fault, FaultRule, Route};
    /// let rule = FaultRule::once(Route::Result, Fault::ResetMidBody);
    /// assert_eq!(rule.times, Some(1));
    /// ```
    pub fn once(route: Route, fault: Fault) -> Self {
        Self::times(route, fault, 1)
    }

    /// The next `n` matching requests.
    ///
    /// ```
    /// use fal_emulator::{Fault, FaultRule, Route};
    /// let rule = FaultRule::times(Route::Status, Fault::Ingress(503), 3);
    /// assert_eq!((rule.times, rule.rate), (Some(3), 1.0));
    /// ```
    pub fn times(route: Route, fault: Fault, n: u32) -> Self {
        Self {
            route,
            fault,
            times: Some(n),
            rate: 1.0,
            window: None,
        }
    }

    /// Each matching request with probability `rate`, for ever.
    ///
    /// ```
    /// use fal_emulator::{Fault, FaultRule, Route};
    /// let rule = FaultRule::rate(Route::Any, Fault::TooManyRequests { retry_after_secs: 1 }, 0.05);
    /// assert_eq!(rule.times, None);
    /// ```
    pub fn rate(route: Route, fault: Fault, rate: f64) -> Self {
        Self {
            route,
            fault,
            times: None,
            rate,
            window: None,
        }
    }

    /// Every matching request for `window` from when the rule is set.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fal_emulator::{Fault, FaultRule, Route};
    /// let rule = FaultRule::during(Route::Status, Fault::AppError, Duration::from_secs(2));
    /// assert_eq!((rule.times, rule.window), (None, Some(Duration::from_secs(2))));
    /// ```
    pub fn during(route: Route, fault: Fault, window: Duration) -> Self {
        Self {
            window: Some(window),
            ..Self::rate(route, fault, 1.0)
        }
    }

    /// An outage of fal's ingress for `window` from when the rule is set:
    /// every queue call answers an nginx 502 page without `x-fal-request-id`,
    /// and the status streams open at that moment are cut. The jobs go on,
    /// so a client that waits the outage out gets its result.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use fal_emulator::{Emulator, FaultRule};
    /// let emulator = Emulator::start().await?;
    /// // ... once the client under test has submitted its job ...
    /// emulator.set_faults(vec![FaultRule::outage(Duration::from_secs(8))]);
    /// # Ok(()) }
    /// ```
    pub fn outage(window: Duration) -> Self {
        Self::during(Route::Queue, Fault::Outage, window)
    }

    /// The CDN down for `window` from when the rule is set, then back: every
    /// download (`GET {cdn}/files/…`) answers an nginx 503 page. For a
    /// number of downloads instead of a time, use
    /// `FaultRule::times(Route::Cdn, Fault::Ingress(503), n)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fal_emulator::{FaultRule, Route};
    /// let rule = FaultRule::cdn_down(Duration::from_secs(5));
    /// assert_eq!((rule.route, rule.window), (Route::Cdn, Some(Duration::from_secs(5))));
    /// ```
    pub fn cdn_down(window: Duration) -> Self {
        Self::during(Route::Cdn, Fault::Ingress(503), window)
    }
}

impl Fault {
    /// An edge page: fal's ingress answered, not the app, so the answer
    /// carries no `x-fal-request-id` (that absence is how fal's clients
    /// recognise it).
    pub(crate) fn is_ingress(&self) -> bool {
        matches!(
            self,
            Fault::Ingress(_)
                | Fault::Outage
                | Fault::StalledErrorBody(_)
                | Fault::GatewayAfterApp(_)
        )
    }
}
