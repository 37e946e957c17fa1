//! The app's answer, spoiled by a fault that let the request through: cut,
//! slowed, trickled, made endless or not JSON, rewritten, billed otherwise.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::json;

use super::replace::ingress_error;
use super::rewrite::{self, Rewrite};
use super::rules::Fault;
use crate::replies::buffered;
use crate::route::Route;

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
