//! The fault matrix: every injected fault on every kind of call, each cell
//! through the SDK against its own emulator. A cell passes when the outcome is
//! the one the retry rules promise (the output, or the named `Error`
//! variant), within its deadline, with at most one job created (no submit
//! paid twice), no key sent off the API hosts and, for downloads, no partial
//! file left behind.
//!
//! The retry rules (see `fal_kontext::RetryPolicy` and `docs/reliability.md`): status, result, cancel and upload initiate retry on
//! connection errors, their own time limits, 408, 429 (`Retry-After`
//! honoured, capped by the policy), 500, 502, 503 and 504, downloads and
//! storage uploads on the same but 500; a submit retries only when fal
//! provably never saw it (429, an ingress 503 page without
//! `x-fal-request-id`, a refused connection), is ambiguous (never repeated)
//! after a gateway's 502/504 without `x-fal-request-id`, and follows the job
//! its answer's head named when the body is lost; the 504 of the caller's
//! own `x-fal-request-timeout` is never retried. Waiting (see `fal_kontext::Subscription`) gives a stream
//! that fails or goes silent up for polling. Every fault here hits once, the
//! first request of its route after the setup.

mod common;

use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use common::{SAMPLE, builder, emulator_with, quick};
use fal_emulator::{Config, Emulator, Fault, FaultRule, Route, Timing};
use fal_kontext::{CancelOutcome, Error, Images};
use futures::StreamExt;

/// The calls, as a user makes them.
#[derive(Clone, Copy, Debug)]
enum Call {
    /// `text_to_image(..).run()`: the fault hits the submit.
    Submit,
    /// `RequestHandle::status`, by hand.
    Status,
    /// `RequestHandle::wait(..).output()`: the fault hits the status stream.
    Stream,
    /// `Subscription::output` once completed: the fault hits the result call.
    Result,
    /// `RequestHandle::cancel` of a queued request.
    Cancel,
    /// `Client::download` of a finished output.
    Download,
    /// `edit(<local file>).run()` with uploads on: the fault hits the initiate.
    UploadInitiate,
    /// The same: the fault hits the `PUT` of the bytes.
    UploadPut,
    /// The same with uploads in parts (a threshold of 0, 1 KiB parts): the
    /// fault hits the first part's `PUT`.
    UploadPart,
    /// The same: the fault hits the `complete` of the parts.
    UploadComplete,
}

impl Call {
    fn route(self) -> Route {
        match self {
            Call::Submit => Route::Submit,
            Call::Status => Route::Status,
            Call::Stream => Route::Stream,
            Call::Result => Route::Result,
            Call::Cancel => Route::Cancel,
            Call::Download => Route::Cdn,
            Call::UploadInitiate => Route::UploadInitiate,
            Call::UploadPut => Route::UploadPut,
            Call::UploadPart => Route::UploadPart,
            Call::UploadComplete => Route::UploadComplete,
        }
    }
}

/// What the caller gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// The correct output (checked per call: images, a status, whole files).
    Output,
    /// The cancel worked, and fal reported it so.
    Cancelled(CancelOutcome),
    /// A download that saved what a 200 served (not the image).
    SavedAsServed,
    Server(u16),
    Transport,
    Decode,
    Authentication,
    NotFound,
    Validation,
    Timeout,
    /// A submit fal may have taken, not repeated (`Error::AmbiguousSubmit`).
    Ambiguous,
    /// The caller's start deadline ran out at fal (`Error::RequestTimeout`).
    RequestTimeout,
    /// An answer larger than the SDK reads (`Error::TooLarge`).
    TooLarge,
    /// An upload in parts that failed for good (`Error::Upload`, naming the
    /// file, the step and fal's answer).
    Upload,
    /// Anything else (never expected).
    Other,
}

fn outcome_of(error: &Error) -> Outcome {
    match error {
        Error::Server { status, .. } => Outcome::Server(*status),
        Error::Transport { .. } => Outcome::Transport,
        Error::Decode { .. } => Outcome::Decode,
        Error::Authentication { .. } => Outcome::Authentication,
        Error::NotFound { .. } => Outcome::NotFound,
        Error::Validation { .. } => Outcome::Validation,
        Error::Timeout { .. } => Outcome::Timeout,
        Error::RequestTimeout { .. } => Outcome::RequestTimeout,
        Error::AmbiguousSubmit { .. } => Outcome::Ambiguous,
        Error::TooLarge { .. } => Outcome::TooLarge,
        Error::Upload { .. } => Outcome::Upload,
        _ => Outcome::Other,
    }
}

/// The slow body takes this long, so long that only a timeout ends it: its
/// ten pieces come 6 s apart.
const SLOW: Duration = Duration::from_secs(60);
/// The limit on one API call, and on a status stream's silence, in the
/// slow-body and silent-stream cells: well below the wait for a slow piece.
/// (The other cells keep the defaults, so that a loaded machine cannot turn
/// a slow answer into a fault of its own.)
const SLOW_CELL_CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// The body idle limit in the same cells: shorter than the call timeout, as
/// the defaults are (30 s and 60 s), so a body that stops coming ends by it.
const SLOW_CELL_BODY_IDLE: Duration = Duration::from_secs(1);
/// A keep-alive-only stream's ping interval, well inside its idle bound.
const PING: Duration = Duration::from_millis(200);
/// A trickling body's pause between bytes, past the slow cells' limits.
const TRICKLE: Duration = Duration::from_secs(3);
/// How often the slow cells poll beside an open status stream.
const SLOW_CELL_POLL: Duration = Duration::from_secs(1);
/// The deadline of every wait (`run`, `wait`).
const DEADLINE: Duration = Duration::from_secs(8);
/// "Never hangs": a cell that has not finished by now fails.
const CELL_LIMIT: Duration = Duration::from_secs(20);

const RATE_LIMITED: Fault = Fault::TooManyRequests {
    retry_after_secs: 1,
};

struct Cell {
    call: Call,
    fault: Fault,
    expect: Outcome,
    why: &'static str,
}

fn cell(call: Call, fault: Fault, expect: Outcome, why: &'static str) -> Cell {
    Cell {
        call,
        fault,
        expect,
        why,
    }
}

use Call::*;
use Fault::{
    AppError, CutAfterHeaders, CutBeforeHeaders, CutStreamAfter, EndlessBody, ForeignUrls,
    GatewayAfterApp, Ingress, JunkStreamAfter, KeepAliveOnly, Lean, MalformedJson, NoAnswer,
    NotFound, Outage, ResetMidBody, SilentStreamAfter, SlowBody, StalledErrorBody, Trickle,
    Truncate, Unauthorized, Unprocessable, UserTimeout,
};
use Outcome::{
    Ambiguous, Authentication, Cancelled, Decode, Output, SavedAsServed, Server, Validation,
};

/// A 429 whose `Retry-After` no clock can hold (`1e20` seconds): read as an
/// hour, waited as the policy's longest delay.
fn absurd() -> Fault {
    Fault::AbsurdRetryAfter("1e20".into())
}

/// The matrix: 20 faults × 8 calls, the upload in parts' rows, then the
/// faults that hold a client, on the calls they are meant for.
#[rustfmt::skip]
static MATRIX: LazyLock<Vec<Cell>> = LazyLock::new(|| vec![
    // submit: repeated only when fal provably never saw it
    cell(Submit, RATE_LIMITED, Output, "a 429 is refused before the app: retried after Retry-After"),
    cell(Submit, Ingress(502), Ambiguous, "a gateway's 502 may come after fal took the job: never repeated, said as such"),
    cell(Submit, Ingress(503), Output, "an ingress page (no x-fal-request-id) passed nothing on: retried"),
    cell(Submit, Ingress(504), Ambiguous, "a gateway's 504 may come after fal took the job: never repeated, said as such"),
    cell(Submit, AppError, Server(500), "the app created the job: never submitted twice"),
    cell(Submit, ResetMidBody, Output, "the answer's head named the job: followed, never submitted twice"),
    cell(Submit, CutStreamAfter(1), Output, "a one-frame answer has nothing to cut"),
    cell(Submit, SlowBody(SLOW), Output, "the body idle limit ends it; the head named the job: followed, never submitted twice"),
    cell(Submit, MalformedJson, Output, "a 200 whose head names the job is followed, whatever its body"),
    cell(Submit, Truncate, Output, "the body was cut after the head named the job: followed, never submitted twice"),
    cell(Submit, Unauthorized, Authentication, "a refused key is final"),
    cell(Submit, NotFound, Outcome::NotFound, "an unknown endpoint is final"),
    cell(Submit, Unprocessable, Validation, "rejected input is final, with fal's details"),
    // status: idempotent
    cell(Status, RATE_LIMITED, Output, "idempotent: retried after Retry-After"),
    cell(Status, Ingress(502), Output, "idempotent: retried"),
    cell(Status, Ingress(503), Output, "idempotent: retried"),
    cell(Status, Ingress(504), Output, "idempotent: retried"),
    cell(Status, AppError, Output, "idempotent: a 500 from fal's queue is retried"),
    cell(Status, ResetMidBody, Output, "a broken connection is retried"),
    cell(Status, CutStreamAfter(1), Output, "a one-frame answer has nothing to cut"),
    cell(Status, SlowBody(SLOW), Output, "the call timeout ends it, then it is retried"),
    cell(Status, MalformedJson, Decode, "a 200 that is not JSON is not retried"),
    cell(Status, Truncate, Output, "a cut body is a broken connection: retried"),
    cell(Status, Unauthorized, Authentication, "a refused key is final"),
    cell(Status, NotFound, Outcome::NotFound, "an unknown request id is final"),
    cell(Status, Unprocessable, Validation, "a 422 is final"),
    // status stream: optional, polling takes over when it fails
    cell(Stream, RATE_LIMITED, Output, "the stream is refused: polling takes over"),
    cell(Stream, Ingress(502), Output, "the stream fails: polling takes over"),
    cell(Stream, Ingress(503), Output, "the stream fails: polling takes over"),
    cell(Stream, Ingress(504), Output, "the stream fails: polling takes over"),
    cell(Stream, AppError, Output, "the stream fails: polling takes over"),
    cell(Stream, ResetMidBody, Output, "the stream breaks: polling takes over"),
    cell(Stream, CutStreamAfter(1), Output, "the stream ends before COMPLETED: polling takes over"),
    cell(Stream, SlowBody(SLOW), Output, "a stream silent past its idle bound gives way to polling"),
    cell(Stream, MalformedJson, Output, "what is not a status is skipped; the stream ends: polling"),
    cell(Stream, Truncate, Output, "the stream breaks: polling takes over"),
    cell(Stream, Unauthorized, Authentication, "a refused key is final, not polled around"),
    cell(Stream, NotFound, Output, "the stream is refused: polling finds the request"),
    cell(Stream, Unprocessable, Output, "the stream is refused: polling takes over"),
    // result: idempotent
    cell(Result, RATE_LIMITED, Output, "idempotent: retried after Retry-After"),
    cell(Result, Ingress(502), Output, "idempotent: retried"),
    cell(Result, Ingress(503), Output, "idempotent: retried"),
    cell(Result, Ingress(504), Output, "idempotent: retried"),
    cell(Result, AppError, Output, "idempotent: a 500 from fal's queue is retried"),
    cell(Result, ResetMidBody, Output, "a broken connection is retried"),
    cell(Result, CutStreamAfter(1), Output, "a one-frame answer has nothing to cut"),
    cell(Result, SlowBody(SLOW), Output, "the call timeout ends it, then it is retried"),
    cell(Result, MalformedJson, Decode, "a 200 that is not JSON is not retried"),
    cell(Result, Truncate, Output, "a cut body is a broken connection: retried"),
    cell(Result, Unauthorized, Authentication, "a refused key is final"),
    cell(Result, NotFound, Outcome::NotFound, "an unknown request id is final"),
    cell(Result, Unprocessable, Validation, "fal's 422 at the result: rejected input, with details"),
    // cancel: idempotent; a repeat after a lost answer finds the request ended
    cell(Cancel, RATE_LIMITED, Cancelled(CancelOutcome::Requested), "refused before the app: retried"),
    cell(Cancel, Ingress(502), Cancelled(CancelOutcome::Requested), "the ingress's: retried"),
    cell(Cancel, Ingress(503), Cancelled(CancelOutcome::Requested), "the ingress's: retried"),
    cell(Cancel, Ingress(504), Cancelled(CancelOutcome::Requested), "the ingress's: retried"),
    cell(Cancel, AppError, Cancelled(CancelOutcome::AlreadyCompleted), "the cancel landed, its answer was a 500: the retry finds it ended"),
    cell(Cancel, ResetMidBody, Cancelled(CancelOutcome::AlreadyCompleted), "the first cancel landed; the retry finds it ended"),
    cell(Cancel, CutStreamAfter(1), Cancelled(CancelOutcome::Requested), "a one-frame answer has nothing to cut"),
    cell(Cancel, SlowBody(SLOW), Cancelled(CancelOutcome::AlreadyCompleted), "the call timeout ends it; the retry finds it ended"),
    cell(Cancel, MalformedJson, Decode, "a body that is not JSON does not say what fal did"),
    cell(Cancel, Truncate, Cancelled(CancelOutcome::AlreadyCompleted), "the first cancel landed; the retry finds it ended"),
    cell(Cancel, Unauthorized, Authentication, "a refused key is final"),
    cell(Cancel, NotFound, Outcome::NotFound, "an unknown request id is final"),
    cell(Cancel, Unprocessable, Validation, "a 422 is final"),
    // download: idempotent, into a temporary file renamed only when whole
    cell(Download, RATE_LIMITED, Output, "idempotent: retried after Retry-After"),
    cell(Download, Ingress(502), Output, "idempotent: retried"),
    cell(Download, Ingress(503), Output, "idempotent: retried"),
    cell(Download, Ingress(504), Output, "idempotent: retried"),
    cell(Download, AppError, Server(500), "a 500 is not retried; no file is left"),
    cell(Download, ResetMidBody, Output, "a broken connection is retried; the part is dropped"),
    cell(Download, CutStreamAfter(1), Output, "a one-frame answer has nothing to cut"),
    cell(Download, SlowBody(SLOW), Output, "a stall longer than the call timeout is retried"),
    cell(Download, MalformedJson, SavedAsServed, "a whole 200 is saved as served: HTTP cannot tell"),
    cell(Download, Truncate, Output, "fewer bytes than promised is a broken body: retried"),
    cell(Download, Unauthorized, Authentication, "a 401 is final; no file is left"),
    cell(Download, NotFound, Outcome::NotFound, "a 404 is final; no file is left"),
    cell(Download, Unprocessable, Validation, "a 422 is final; no file is left"),
    // upload initiate: an idempotent API call, before any submit
    cell(UploadInitiate, RATE_LIMITED, Output, "idempotent: retried after Retry-After"),
    cell(UploadInitiate, Ingress(502), Output, "idempotent: retried"),
    cell(UploadInitiate, Ingress(503), Output, "idempotent: retried"),
    cell(UploadInitiate, Ingress(504), Output, "idempotent: retried"),
    cell(UploadInitiate, AppError, Output, "idempotent: a 500 from fal's API is retried"),
    cell(UploadInitiate, ResetMidBody, Output, "a broken connection is retried"),
    cell(UploadInitiate, CutStreamAfter(1), Output, "a one-frame answer has nothing to cut"),
    cell(UploadInitiate, SlowBody(SLOW), Output, "the call timeout ends it, then it is retried"),
    cell(UploadInitiate, MalformedJson, Decode, "a 200 that is not JSON names no upload URL"),
    cell(UploadInitiate, Truncate, Output, "a cut body is a broken connection: retried"),
    cell(UploadInitiate, Unauthorized, Authentication, "a refused key is final; nothing submitted"),
    cell(UploadInitiate, NotFound, Outcome::NotFound, "final; nothing submitted"),
    cell(UploadInitiate, Unprocessable, Validation, "final; nothing submitted"),
    // upload PUT: idempotent, to storage, without the key
    cell(UploadPut, RATE_LIMITED, Output, "idempotent: retried after Retry-After"),
    cell(UploadPut, Ingress(502), Output, "idempotent: retried"),
    cell(UploadPut, Ingress(503), Output, "idempotent: retried"),
    cell(UploadPut, Ingress(504), Output, "idempotent: retried"),
    cell(UploadPut, AppError, Server(500), "not retried; nothing was submitted"),
    cell(UploadPut, ResetMidBody, Output, "a broken connection is retried, the file sent whole again"),
    cell(UploadPut, CutStreamAfter(1), Output, "a one-frame answer has nothing to cut"),
    cell(UploadPut, SlowBody(SLOW), Output, "the storage's 200 is empty: nothing to trickle"),
    cell(UploadPut, MalformedJson, Output, "a 2xx stored the file; its body is not read"),
    cell(UploadPut, Truncate, Output, "a cut body is a broken connection: retried"),
    cell(UploadPut, Unauthorized, Authentication, "final; nothing submitted"),
    cell(UploadPut, NotFound, Outcome::NotFound, "final; nothing submitted"),
    cell(UploadPut, Unprocessable, Validation, "final; nothing submitted"),
    // upload in parts: each part retried on its own, complete by the same rules
    cell(UploadPart, RATE_LIMITED, Output, "the part alone is retried after Retry-After"),
    cell(UploadPart, Ingress(503), Output, "the part alone is retried"),
    cell(UploadPart, AppError, Outcome::Upload, "the storage's 500 is final: an error naming the part and fal's answer; nothing submitted"),
    cell(UploadPart, ResetMidBody, Output, "a part cut mid-body is sent again whole"),
    cell(UploadPart, Unauthorized, Outcome::Upload, "a refused part is final: an error naming it; nothing submitted"),
    cell(UploadComplete, Ingress(503), Output, "complete is retried: the parts are all there"),
    cell(UploadComplete, AppError, Outcome::Upload, "a 500 is fal's decision: an error naming the upload and the step; nothing submitted"),
    cell(UploadComplete, ResetMidBody, Output, "the answer was cut: the repeat finds the file assembled"),
    cell(UploadComplete, MalformedJson, Output, "a 2xx assembled the file; its body is not read"),
    // lean answers: fal may send less than its documents require
    cell(Submit, Lean, Output, "a submit answer keeps its request id and URLs (fal's clients need them)"),
    cell(Status, Lean, Output, "a status needs only `status`"),
    cell(Stream, Lean, Output, "stream events need only `status`"),
    cell(Result, Lean, Output, "an output needs only its images' URLs"),
    cell(Cancel, Lean, Cancelled(CancelOutcome::Requested), "a cancel answer is lean already"),
    cell(Download, Lean, Output, "an image is not JSON: nothing to make lean"),
    cell(UploadInitiate, Lean, Output, "an upload answer is neither a status nor an output"),
    cell(UploadPut, Lean, Output, "the storage's answer is not read"),
    // an outage of fal's ingress: nginx 502 pages without x-fal-request-id
    cell(Submit, Outage, Ambiguous, "a 502 does not prove fal never saw it: never repeated, said as such"),
    cell(Status, Outage, Output, "idempotent: retried"),
    cell(Stream, Outage, Output, "the stream is refused: polling takes over"),
    cell(Result, Outage, Output, "idempotent: retried"),
    cell(Cancel, Outage, Cancelled(CancelOutcome::Requested), "idempotent: retried"),
    cell(Download, Outage, Output, "idempotent: retried"),
    cell(UploadInitiate, Outage, Output, "idempotent: retried"),
    cell(UploadPut, Outage, Output, "idempotent: retried"),
    // a status stream that goes silent, connection open (any other body: never ends)
    cell(Submit, SilentStreamAfter(1), Output, "the body idle limit ends it; the head named the job: followed"),
    cell(Status, SilentStreamAfter(1), Output, "the call timeout ends it, then it is retried"),
    cell(Stream, SilentStreamAfter(1), Output, "silent past its idle bound: polling takes over"),
    cell(Result, SilentStreamAfter(1), Output, "the call timeout ends it, then it is retried"),
    cell(Cancel, SilentStreamAfter(1), Cancelled(CancelOutcome::AlreadyCompleted), "the cancel landed; after the call timeout the retry finds it ended"),
    cell(Download, SilentStreamAfter(1), Output, "a stall longer than the call timeout is retried"),
    cell(UploadInitiate, SilentStreamAfter(1), Output, "the call timeout ends it, then it is retried"),
    cell(UploadPut, SilentStreamAfter(1), Output, "the storage's silent answer ends at the body idle limit: retried"),
    // returned URLs on a foreign origin, which counts the keys it is sent
    cell(Submit, ForeignUrls, Output, "never followed: the app-root path on the queue origin serves the calls"),
    cell(Status, ForeignUrls, Output, "a status's URLs are not followed"),
    cell(Stream, ForeignUrls, Output, "an event's URLs are not followed"),
    cell(Result, ForeignUrls, Output, "an output names no queue URL"),
    cell(Cancel, ForeignUrls, Cancelled(CancelOutcome::Requested), "a cancel answer names no URL"),
    cell(Download, ForeignUrls, Output, "an image is not a queue answer"),
    cell(UploadInitiate, ForeignUrls, Output, "an upload answer is not a queue answer"),
    cell(UploadPut, ForeignUrls, Output, "the storage's answer is not read"),
    // the start deadline the caller set ran out at fal (504, user)
    cell(Submit, UserTimeout, Outcome::RequestTimeout, "final and its own error, never retried"),
    cell(Status, UserTimeout, Output, "only a submit sets a start deadline: no effect"),
    cell(Stream, UserTimeout, Output, "only a submit sets a start deadline: no effect"),
    cell(Result, UserTimeout, Output, "only a submit sets a start deadline: no effect"),
    cell(Cancel, UserTimeout, Cancelled(CancelOutcome::Requested), "only a submit sets a start deadline: no effect"),
    cell(Download, UserTimeout, Output, "only a submit sets a start deadline: no effect"),
    cell(UploadInitiate, UserTimeout, Output, "only a submit sets a start deadline: no effect"),
    cell(UploadPut, UserTimeout, Output, "only a submit sets a start deadline: no effect"),
    // a 429 whose Retry-After no clock can hold: bounded, no panic
    cell(Submit, absurd(), Output, "a 429 is refused before the app: retried after the bounded wait"),
    cell(Status, absurd(), Output, "retried after the bounded wait"),
    cell(Stream, absurd(), Output, "the stream is refused: polling takes over"),
    cell(Result, absurd(), Output, "retried after the bounded wait"),
    cell(Cancel, absurd(), Cancelled(CancelOutcome::Requested), "retried after the bounded wait"),
    cell(Download, absurd(), Output, "retried after the bounded wait"),
    cell(UploadInitiate, absurd(), Output, "retried after the bounded wait"),
    cell(UploadPut, absurd(), Output, "retried after the bounded wait"),
    // an answer that never ends (no Content-Length): only the SDK's bounds stop it
    cell(Submit, EndlessBody, Output, "read no further than 64 MiB; the head named the job: followed"),
    cell(Status, EndlessBody, Outcome::TooLarge, "final at 64 MiB, read no further"),
    cell(Stream, EndlessBody, Output, "an event past 1 MiB ends the stream: polling takes over"),
    cell(Result, EndlessBody, Outcome::TooLarge, "final at 64 MiB; the request is named, to fetch later"),
    cell(Cancel, EndlessBody, Outcome::TooLarge, "final at 64 MiB, read no further"),
    cell(Download, EndlessBody, Outcome::TooLarge, "an image past 256 MiB is no image; no file is left"),
    cell(UploadInitiate, EndlessBody, Outcome::TooLarge, "final at 64 MiB; nothing submitted"),
    cell(UploadPut, EndlessBody, Outcome::TooLarge, "the storage's answer is read up to 64 MiB: final; nothing submitted"),
    // faults that hold a client rather than fail it: each ends in a retry or
    // a clean error within the call's limits, never at the wait's deadline
    cell(Submit, NoAnswer, Ambiguous, "sent and never answered: fal may have it; never repeated, said as such"),
    cell(Status, NoAnswer, Output, "no head within the call timeout: retried"),
    cell(Stream, NoAnswer, Output, "a stream whose head never comes: polling after the call timeout"),
    cell(Result, NoAnswer, Output, "no head within the call timeout: retried"),
    cell(Download, NoAnswer, Output, "no head within the call timeout: retried"),
    cell(UploadPut, NoAnswer, Output, "a PUT never answered: retried after the call timeout"),
    cell(UploadPart, NoAnswer, Output, "a part never answered: it alone is retried after the call timeout"),
    cell(Stream, KeepAliveOnly(PING), Output, "keep-alives only: the status poll beside the stream finds the job done"),
    cell(Stream, JunkStreamAfter(1), Output, "invalid UTF-8 then a flood of newlines: skipped, bounded; the status poll finds the job done"),
    cell(Submit, StalledErrorBody(503), Output, "an nginx 503 (its Server header) without x-fal-request-id: fal never saw it: retried"),
    cell(Status, StalledErrorBody(503), Output, "an error body that never comes ends at the body idle limit: retried"),
    cell(Stream, StalledErrorBody(503), Output, "the stream is refused (its body never read whole): polling"),
    cell(Result, StalledErrorBody(503), Output, "an error body that never comes ends at the body idle limit: retried"),
    cell(Download, StalledErrorBody(503), Output, "the CDN's 503 whose body never comes: retried"),
    cell(UploadPut, StalledErrorBody(503), Output, "the storage's 503 whose body never comes: retried"),
    cell(Submit, Trickle(TRICKLE), Output, "the head named the job: followed when the body stalls, one job"),
    cell(Status, Trickle(TRICKLE), Output, "a trickle ends at the call's limit: retried"),
    cell(Result, Trickle(TRICKLE), Output, "a trickle ends at the call's limit: retried"),
    cell(Download, Trickle(TRICKLE), Output, "a trickle ends at the body idle limit: retried"),
    cell(Submit, CutAfterHeaders, Output, "the head named the job: followed, one job"),
    cell(Status, CutAfterHeaders, Output, "a broken body: retried"),
    cell(Result, CutAfterHeaders, Output, "a broken body: retried"),
    cell(Submit, CutBeforeHeaders, Ambiguous, "fal took the job, the connection was lost before any answer: never repeated, said as such"),
    cell(Status, CutBeforeHeaders, Output, "a lost connection: retried"),
    cell(Submit, GatewayAfterApp(502), Ambiguous, "a gateway's 502 after fal took the job: never repeated, said as such"),
    cell(Submit, GatewayAfterApp(504), Ambiguous, "a gateway's 504 after fal took the job: never repeated, said as such"),
]);

/// What one cell did.
struct Played {
    outcome: Outcome,
    stats: fal_emulator::Stats,
    /// Files left in the download directory, partial ones included.
    files: Vec<String>,
    /// For a run or a wait that failed: whether its error names a request.
    named: Option<bool>,
}

/// The names of the files in `dir` (dot-files too: a partial download is one).
fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the call of `cell` with its fault armed right before it.
async fn play(cell: &Cell) -> Played {
    let timing = match cell.call {
        // a request held in the queue, to be cancelled
        Cancel => Timing {
            queue_delay: Duration::from_secs(60),
            processing_time: Duration::from_millis(20),
        },
        _ => quick(),
    };
    let emulator = emulator_with(Config {
        timing,
        ..Config::default()
    })
    .await;
    let mut client = builder(&emulator).inline_limit(0);
    if matches!(cell.call, UploadPart | UploadComplete) {
        client = client.multipart_threshold(0).multipart_part_size(1024);
    }
    if matches!(
        cell.fault,
        SlowBody(_)
            | SilentStreamAfter(_)
            | NoAnswer
            | KeepAliveOnly(_)
            | JunkStreamAfter(_)
            | StalledErrorBody(_)
            | Trickle(_)
    ) {
        client = client
            .call_timeout(SLOW_CELL_CALL_TIMEOUT)
            .body_idle_timeout(SLOW_CELL_BODY_IDLE)
            .stream_idle_timeout(SLOW_CELL_CALL_TIMEOUT)
            .status_poll_interval(SLOW_CELL_POLL);
    }
    let client = client.build().unwrap();
    let arm = |emulator: &Emulator| {
        emulator.set_faults(vec![FaultRule::once(cell.call.route(), cell.fault.clone())]);
    };
    let dir = tempfile::tempdir().unwrap();
    let (outcome, named) = match cell.call {
        Submit => {
            arm(&emulator);
            waited(client.text_to_image("p").timeout(DEADLINE).run().await)
        }
        UploadInitiate | UploadPut | UploadPart | UploadComplete => {
            arm(&emulator);
            waited(client.edit("p", SAMPLE).timeout(DEADLINE).run().await)
        }
        Status => {
            let handle = client.text_to_image("p").submit().await.unwrap();
            arm(&emulator);
            let outcome = match handle.status(true).await {
                // a lean status may leave its request id out, never another's
                Ok(status)
                    if status
                        .request_id
                        .as_deref()
                        .is_none_or(|id| id == handle.request_id()) =>
                {
                    Outcome::Output
                }
                Ok(_) => Outcome::Other,
                Err(error) => outcome_of(&error),
            };
            (outcome, None)
        }
        Stream => {
            let handle = client.text_to_image("p").submit().await.unwrap();
            arm(&emulator);
            waited(handle.wait(DEADLINE).output().await)
        }
        Result => {
            let handle = client.text_to_image("p").submit().await.unwrap();
            let mut job = handle.wait(DEADLINE);
            while let Some(update) = job.next().await {
                update.unwrap();
            }
            arm(&emulator);
            waited(job.output().await)
        }
        Cancel => {
            let handle = client.text_to_image("p").submit().await.unwrap();
            arm(&emulator);
            let outcome = match handle.cancel().await {
                Ok(said) => Outcome::Cancelled(said),
                Err(error) => outcome_of(&error),
            };
            (outcome, None)
        }
        Download => {
            let done = client.text_to_image("p").run().await.unwrap();
            arm(&emulator);
            let outcome = match client.download(&done.output, dir.path()).await {
                Ok(paths) => saved(&done.output, &paths).await,
                Err(error) => outcome_of(&error),
            };
            (outcome, None)
        }
    };
    Played {
        outcome,
        stats: emulator.stats(),
        files: files_in(dir.path()),
        named,
    }
}

/// The outcome of a run or a wait, and, when it failed, whether its error
/// names a request.
fn waited<O: Images>(
    run: fal_kontext::Result<fal_kontext::Completed<O>>,
) -> (Outcome, Option<bool>) {
    let named = run.as_ref().err().map(|error| error.request_id().is_some());
    (checked_images(run.map(|done| done.output)), named)
}

/// An output with its one image on the emulator's CDN is the correct output.
fn checked_images<O: Images>(output: fal_kontext::Result<O>) -> Outcome {
    match output {
        Ok(output) => {
            let images = output.images();
            if images.len() == 1 && images[0].url.starts_with("http://127.0.0.1:") {
                Outcome::Output
            } else {
                Outcome::Other
            }
        }
        Err(error) => outcome_of(&error),
    }
}

/// Whether the saved files are the images themselves, byte for byte.
async fn saved(output: &impl Images, paths: &[std::path::PathBuf]) -> Outcome {
    let mut whole = paths.len() == output.images().len();
    for (image, path) in output.images().iter().zip(paths) {
        let served = reqwest::get(image.url)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        whole &= std::fs::read(path).unwrap() == served;
    }
    if whole {
        Outcome::Output
    } else {
        Outcome::SavedAsServed
    }
}

/// The totals the reliability table quotes (`docs/reliability.md`).
#[derive(Default)]
struct Totals {
    cells: usize,
    faults_injected: u64,
    submits: u64,
    jobs_created: u64,
    duplicate_jobs: u64,
    key_leaks: u64,
    panics: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_on_every_call_ends_as_promised() {
    let plays = futures::stream::iter(MATRIX.iter().enumerate())
        .map(|(index, cell)| async move {
            let task = tokio::spawn(tokio::time::timeout(CELL_LIMIT, play(cell)));
            (index, task.await)
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;

    let mut totals = Totals {
        cells: MATRIX.len(),
        ..Totals::default()
    };
    let mut failures = Vec::new();
    for (index, joined) in plays {
        let cell = &MATRIX[index];
        let name = format!("{:?} × {:?}", cell.call, cell.fault);
        let played = match joined {
            Err(join) if join.is_panic() => {
                totals.panics += 1;
                failures.push(format!("{name}: panicked"));
                continue;
            }
            Err(join) => panic!("{name}: {join}"),
            Ok(Err(_)) => {
                failures.push(format!("{name}: still running after {CELL_LIMIT:?}"));
                continue;
            }
            Ok(Ok(played)) => played,
        };
        let stats = &played.stats;
        totals.faults_injected += stats.faults_injected;
        totals.submits += stats.submit;
        totals.jobs_created += stats.jobs_created;
        totals.duplicate_jobs += stats.jobs_created.saturating_sub(1);
        totals.key_leaks += stats.key_leaks + stats.foreign_authorizations;
        if played.outcome != cell.expect {
            failures.push(format!(
                "{name}: expected {:?} ({}), got {:?}",
                cell.expect, cell.why, played.outcome
            ));
        }
        if stats.faults_injected != 1 {
            failures.push(format!(
                "{name}: the fault hit {} times",
                stats.faults_injected
            ));
        }
        if stats.jobs_created > 1 {
            failures.push(format!(
                "{name}: {} jobs for one request",
                stats.jobs_created
            ));
        }
        // an ambiguous submit cannot name the job: it says it may exist
        if played.named == Some(false) && stats.jobs_created > 0 && played.outcome != Ambiguous {
            failures.push(format!(
                "{name}: the error names no request, yet a job was created"
            ));
        }
        if stats.key_leaks > 0 {
            failures.push(format!("{name}: the key went to the CDN"));
        }
        if stats.foreign_requests > 0 {
            failures.push(format!(
                "{name}: {} requests to a foreign origin, {} with the key",
                stats.foreign_requests, stats.foreign_authorizations
            ));
        }
        let whole_files = matches!(played.outcome, Outcome::Output | Outcome::SavedAsServed);
        let expected_files = if matches!(cell.call, Download) && whole_files {
            1
        } else {
            0
        };
        if played.files.len() != expected_files || played.files.iter().any(|f| f.starts_with('.')) {
            failures.push(format!("{name}: files left behind: {:?}", played.files));
        }
    }
    println!(
        "fault matrix: {} cells, {} faults injected, {} submits, {} jobs created, \
         {} duplicate jobs, {} key leaks, {} panics",
        totals.cells,
        totals.faults_injected,
        totals.submits,
        totals.jobs_created,
        totals.duplicate_jobs,
        totals.key_leaks,
        totals.panics
    );
    assert!(
        failures.is_empty(),
        "{} cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(totals.faults_injected, MATRIX.len() as u64);
    assert_eq!(totals.duplicate_jobs, 0);
}

/// The CDN down for a while (`FaultRule::cdn_down`), a fault of a window
/// rather than of one request, so not a cell: a download during the window
/// fails cleanly after its retries, leaving no file; once the CDN is back,
/// the same output downloads whole.
#[tokio::test]
async fn a_cdn_down_for_a_while_fails_a_download_cleanly_and_a_later_one_saves_it() {
    let emulator = emulator_with(Config {
        timing: quick(),
        ..Config::default()
    })
    .await;
    let client = builder(&emulator).build().unwrap();
    let done = client.text_to_image("p").run().await.unwrap();
    emulator.set_faults(vec![FaultRule::cdn_down(Duration::from_secs(60))]);
    let dir = tempfile::tempdir().unwrap();
    let failed = tokio::time::timeout(CELL_LIMIT, client.download(&done.output, dir.path()))
        .await
        .expect("the retries end");
    assert!(
        matches!(failed, Err(Error::Server { status: 503, .. })),
        "{failed:?}"
    );
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
    emulator.set_faults(vec![]);
    let paths = client.download(&done.output, dir.path()).await.unwrap();
    assert_eq!(saved(&done.output, &paths).await, Outcome::Output);
    assert_eq!(files_in(dir.path()).len(), 1);
}
