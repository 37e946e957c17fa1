//! Fault injection: which requests misbehave ([`FaultRule`]) and how
//! ([`Fault`]). The gateway asks [`FaultEngine::pick`] once per request; a
//! fault either answers in place of the app ([`Fault::short_circuit`]),
//! spoils the app's answer ([`spoil`]), or (a user timeout) changes the job
//! the request creates; the gateway itself never answers
//! ([`Fault::NoAnswer`]) or hangs up after the app ran
//! ([`Fault::CutBeforeHeaders`]).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::json;
use tokio::time::Instant;

use crate::replies::buffered;
use crate::rewrite::{self, Rewrite};
use crate::rng::SplitMix64;
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

/// A rule as the engine keeps it: with the end of its window.
struct LiveRule {
    rule: FaultRule,
    until: Option<Instant>,
}

/// The live fault rules of one emulator.
pub(crate) struct FaultEngine {
    rules: Vec<LiveRule>,
    rng: SplitMix64,
}

impl FaultEngine {
    pub(crate) fn new(rules: Vec<FaultRule>) -> Self {
        let mut engine = Self {
            rules: Vec::new(),
            rng: SplitMix64::new(0xFA17),
        };
        engine.replace(rules);
        engine
    }

    /// Sets the rules, their windows starting now; `true` when they start an
    /// outage (which cuts the open status streams).
    pub(crate) fn replace(&mut self, rules: Vec<FaultRule>) -> bool {
        let now = Instant::now();
        let outage = rules.iter().any(|rule| matches!(rule.fault, Fault::Outage));
        self.rules = rules
            .into_iter()
            .map(|rule| LiveRule {
                until: rule.window.and_then(|window| now.checked_add(window)),
                rule,
            })
            .collect();
        outage
    }

    /// The fault for this request, if any: the first rule that matches the
    /// route, has uses left, is within its window and wins its draw. Spent
    /// and expired rules are dropped.
    pub(crate) fn pick(&mut self, route: Route) -> Option<Fault> {
        let now = Instant::now();
        self.rules
            .retain(|live| live.until.is_none_or(|until| now < until));
        let index = self.rules.iter().position(|LiveRule { rule, .. }| {
            rule.route.covers(route)
                && rule.times != Some(0)
                && (rule.rate >= 1.0 || self.rng.next_f64() < rule.rate)
        })?;
        let rule = &mut self.rules[index].rule;
        let fault = rule.fault.clone();
        if let Some(left) = rule.times.as_mut() {
            *left -= 1;
            if *left == 0 {
                self.rules.remove(index);
            }
        }
        Some(fault)
    }
}

impl Fault {
    /// The answer that replaces the app's, for faults that stop the request
    /// at the edge.
    pub(crate) fn short_circuit(&self) -> Option<Response> {
        match self {
            Fault::TooManyRequests { retry_after_secs } => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({"detail": "Too many requests, please retry later."})),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
                Some(response)
            }
            Fault::Ingress(code) => Some(ingress_error(*code)),
            Fault::StalledErrorBody(code) => Some(stalled_body(ingress_error(*code))),
            Fault::Outage => Some(ingress_error(502)),
            Fault::AbsurdRetryAfter(text) => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({"detail": "Too many requests, please retry later."})),
                )
                    .into_response();
                if let Ok(value) = HeaderValue::from_bytes(text.as_bytes()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                Some(response)
            }
            Fault::PlatformRateLimited => Some(crate::replies::platform_error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Rate limit exceeded",
            )),
            Fault::Unauthorized => Some(crate::replies::unauthorized(
                "No user found for Key ID and Secret",
            )),
            Fault::NotFound => Some(
                (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"detail": "Not Found"})),
                )
                    .into_response(),
            ),
            Fault::Unprocessable => Some(
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    axum::Json(json!({"detail": [{
                        "loc": ["body"],
                        "msg": "Injected validation failure",
                        "type": "value_error",
                    }]})),
                )
                    .into_response(),
            ),
            _ => None,
        }
    }

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

/// An nginx-style error page, as fal's ingress answers when no app is
/// reached: HTML, `Server: nginx`, and no `x-fal-request-id` (fal's clients
/// use exactly those to tell an ingress error from the app's).
fn ingress_error(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
    let title = match status.as_u16() {
        503 => "503 Service Temporarily Unavailable".to_owned(),
        504 => "504 Gateway Time-out".to_owned(),
        _ => format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error")
        ),
    };
    let body = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    headers.insert(header::SERVER, HeaderValue::from_static("nginx"));
    response
}

/// How many bytes of a body survive a cut: half, but at least one byte
/// short of the whole (a non-empty body always loses something).
fn cut_point(len: usize) -> usize {
    (len / 2).min(len.saturating_sub(1))
}

/// The app's answer, spoiled by a fault that lets the request through.
/// `route` is the request's; `foreign` the origin that
/// [`Fault::ForeignUrls`] points at instead of `queue`.
pub(crate) async fn spoil(
    fault: &Fault,
    route: Route,
    (queue, foreign): (&str, &str),
    response: Response,
) -> Response {
    match fault {
        Fault::AppError => {
            let request_id = response.headers().get("x-fal-request-id").cloned();
            let mut spoiled = (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"detail": "Internal Server Error"})),
            )
                .into_response();
            if let Some(id) = request_id {
                spoiled.headers_mut().insert("x-fal-request-id", id);
            }
            spoiled
        }
        Fault::ResetMidBody => {
            // An error from the body stream makes hyper drop the connection.
            cut_short(
                response,
                Some(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "fault injected: connection reset mid-body",
                )),
            )
            .await
        }
        // The body just ends early; hyper closes the connection, as it
        // cannot keep the length it announced.
        Fault::Truncate => cut_short(response, None).await,
        Fault::MalformedJson => {
            let (mut parts, bytes) = buffered(response).await;
            let mut body = bytes[..cut_point(bytes.len())].to_vec();
            // A bare `<` is never valid JSON, inside an unterminated string or not.
            body.extend_from_slice(b"<not json");
            parts.status = StatusCode::OK;
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Response::from_parts(parts, Body::from(body))
        }
        Fault::CutStreamAfter(events) => {
            // The stream handlers send exactly one event per body frame.
            let (parts, body) = response.into_parts();
            let frames = body.into_data_stream().take(*events);
            Response::from_parts(parts, Body::from_stream(frames))
        }
        Fault::SilentStreamAfter(events) => {
            let (parts, body) = response.into_parts();
            let frames = body
                .into_data_stream()
                .take(*events)
                .chain(futures::stream::pending());
            Response::from_parts(parts, Body::from_stream(frames))
        }
        // fal's clients read the request id and URLs from the submit answer.
        Fault::Lean if route == Route::Submit => response,
        Fault::Lean => rewrite::answer(response, Rewrite::Lean).await,
        Fault::ForeignUrls => {
            let origins = Rewrite::Origin {
                queue: queue.to_owned(),
                foreign: foreign.to_owned(),
            };
            rewrite::answer(response, origins).await
        }
        Fault::SlowBody(total) => slow(response, *total),
        Fault::Trickle(every) => trickle(response, *every),
        Fault::KeepAliveOnly(every) => pings(response, *every),
        Fault::JunkStreamAfter(events) => junk(response, *events),
        Fault::CutAfterHeaders => {
            let (mut parts, bytes) = buffered(response).await;
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            let cut = futures::stream::once(async {
                // A pause first, so that hyper sends the headers alone.
                tokio::time::sleep(Duration::from_millis(20)).await;
                Err::<Bytes, _>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "fault injected: connection reset after the headers",
                ))
            });
            Response::from_parts(parts, Body::from_stream(cut))
        }
        Fault::GatewayAfterApp(code) => ingress_error(*code),
        Fault::EndlessBody => endless(response).await,
        Fault::BilledUnits(units) => billed(response, *units),
        _ => response,
    }
}

/// Headers announcing the whole length, half the body, a pause (so that
/// hyper flushes what it has), then an error or a plain end.
async fn cut_short(response: Response, error: Option<std::io::Error>) -> Response {
    let (mut parts, bytes) = buffered(response).await;
    let keep = bytes.slice(..cut_point(bytes.len()));
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let first = futures::stream::once(async move { Ok(keep) });
    let rest = futures::stream::once(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        error
    })
    .filter_map(|error| async move { error.map(Err) });
    Response::from_parts(parts, Body::from_stream(first.chain(rest)))
}

/// The answer, its `x-fal-billable-units` (if any) replaced by `units`.
fn billed(mut response: Response, units: f64) -> Response {
    let headers = response.headers_mut();
    if headers.contains_key("x-fal-billable-units")
        && let Ok(value) = HeaderValue::from_str(&units.to_string())
    {
        headers.insert("x-fal-billable-units", value);
    }
    response
}

/// The whole answer, then spaces without end, chunked.
async fn endless(response: Response) -> Response {
    let (mut parts, bytes) = buffered(response).await;
    parts.headers.remove(header::CONTENT_LENGTH);
    let padding = Bytes::from(vec![b' '; 64 * 1024]);
    let body = futures::stream::once(std::future::ready(bytes))
        .chain(futures::stream::repeat(padding))
        .map(Ok::<_, std::convert::Infallible>);
    Response::from_parts(parts, Body::from_stream(body))
}

/// The answer's status and headers, and a body that never comes.
fn stalled_body(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let length = axum::body::HttpBody::size_hint(&body).exact().unwrap_or(1);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    let never = futures::stream::pending::<Result<Bytes, std::convert::Infallible>>();
    Response::from_parts(parts, Body::from_stream(never))
}

/// The body one byte at a time, `every` apart (the first too).
fn trickle(response: Response, every: Duration) -> Response {
    let (mut parts, body) = response.into_parts();
    if let Some(length) = axum::body::HttpBody::size_hint(&body).exact() {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    let bytes = body.into_data_stream().flat_map(|frame| {
        let bytes: Vec<Result<Bytes, axum::Error>> = match frame {
            Ok(bytes) => (0..bytes.len())
                .map(|at| Ok(bytes.slice(at..=at)))
                .collect(),
            Err(error) => vec![Err(error)],
        };
        futures::stream::iter(bytes)
    });
    let paced = bytes.then(move |byte| async move {
        tokio::time::sleep(every).await;
        byte
    });
    Response::from_parts(parts, Body::from_stream(paced))
}

/// The answer's headers, then `: ping` comments, `every` apart, for ever.
fn pings(response: Response, every: Duration) -> Response {
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let pings = futures::stream::repeat(()).then(move |()| async move {
        tokio::time::sleep(every).await;
        Ok::<_, std::convert::Infallible>(Bytes::from_static(b": ping\n\n"))
    });
    Response::from_parts(parts, Body::from_stream(pings))
}

/// `events` frames of the stream, then a line that is not UTF-8, then
/// newlines without end.
fn junk(response: Response, events: usize) -> Response {
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let not_utf8 = Bytes::from_static(b"data: {\"status\": \"\xff\xfe\xc3\x28\"}\n");
    let newlines = Bytes::from(vec![b'\n'; 64 * 1024]);
    let frames = body
        .into_data_stream()
        .take(events)
        .chain(futures::stream::once(std::future::ready(Ok(not_utf8))))
        .chain(futures::stream::repeat(newlines).map(Ok));
    Response::from_parts(parts, Body::from_stream(frames))
}

/// Each frame of the body is split into ten pieces sent `total / 10` apart.
fn slow(response: Response, total: Duration) -> Response {
    const PIECES: usize = 10;
    let pause = total / PIECES as u32;
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let pieces = body.into_data_stream().flat_map(move |frame| {
        let pieces: Vec<Result<Bytes, axum::Error>> = match frame {
            Ok(bytes) => {
                let size = bytes.len().div_ceil(PIECES).max(1);
                (0..bytes.len())
                    .step_by(size)
                    .map(|start| Ok(bytes.slice(start..(start + size).min(bytes.len()))))
                    .collect()
            }
            Err(error) => vec![Err(error)],
        };
        futures::stream::iter(pieces).then(move |piece| async move {
            tokio::time::sleep(pause).await;
            piece
        })
    });
    Response::from_parts(parts, Body::from_stream(pieces))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_rules_are_spent_and_others_keep_going() {
        let mut engine = FaultEngine::new(vec![
            FaultRule::once(Route::Submit, Fault::AppError),
            FaultRule::rate(Route::Any, Fault::NotFound, 1.0),
        ]);
        assert!(matches!(engine.pick(Route::Submit), Some(Fault::AppError)));
        assert!(matches!(engine.pick(Route::Submit), Some(Fault::NotFound)));
        assert!(matches!(engine.pick(Route::Cdn), Some(Fault::NotFound)));
    }

    #[test]
    fn rates_hit_about_their_share_deterministically() {
        let hits = |seed_rules: f64| {
            let mut engine = FaultEngine::new(vec![FaultRule::rate(
                Route::Status,
                Fault::AppError,
                seed_rules,
            )]);
            (0..1000)
                .filter(|_| engine.pick(Route::Status).is_some())
                .count()
        };
        let first = hits(0.3);
        assert_eq!(first, hits(0.3), "same rules, same draws");
        assert!(
            (200..400).contains(&first),
            "{first} hits of 1000 at rate 0.3"
        );
        assert_eq!(hits(0.0), 0);
    }

    #[test]
    fn windowed_rules_apply_only_within_their_window() {
        let mut engine = FaultEngine::new(vec![
            FaultRule::during(Route::Status, Fault::AppError, Duration::ZERO),
            FaultRule::during(Route::Result, Fault::AppError, Duration::from_secs(3600)),
        ]);
        assert!(
            engine.pick(Route::Status).is_none(),
            "an empty window is over"
        );
        assert!(engine.pick(Route::Result).is_some());
        assert!(engine.pick(Route::Result).is_some(), "no use count");
    }

    #[test]
    fn an_outage_covers_the_queue_calls_only_and_is_reported_when_set() {
        let mut engine = FaultEngine::new(Vec::new());
        assert!(!engine.replace(vec![FaultRule::once(Route::Cdn, Fault::Truncate)]));
        assert!(engine.replace(vec![FaultRule::outage(Duration::from_secs(3600))]));
        for route in [
            Route::Submit,
            Route::Status,
            Route::Stream,
            Route::Result,
            Route::Cancel,
        ] {
            assert!(
                matches!(engine.pick(route), Some(Fault::Outage)),
                "{route:?}"
            );
        }
        for route in [
            Route::Run,
            Route::UploadInitiate,
            Route::UploadPut,
            Route::Cdn,
            Route::OpenApi,
            Route::Pricing,
            Route::Estimate,
        ] {
            assert!(engine.pick(route).is_none(), "{route:?}");
        }
    }

    #[test]
    fn unmatched_routes_are_untouched() {
        let mut engine = FaultEngine::new(vec![FaultRule::once(Route::Cdn, Fault::Truncate)]);
        assert!(engine.pick(Route::Submit).is_none());
        assert!(engine.pick(Route::Cdn).is_some());
        assert!(engine.pick(Route::Cdn).is_none());
    }
}
