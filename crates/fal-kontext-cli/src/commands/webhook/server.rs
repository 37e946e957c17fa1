//! The HTTP side of `kontext webhook serve`: a small hyper server (the CLI
//! has no web framework) that hands each request to the [`Receiver`].
//!
//! What a delivery may cost before it is proven to be fal's is bounded: its
//! headers are checked before its body is read (a delivery without fal's
//! headers, stale, or for another account is refused unread), a body is
//! taken up to [`MAX_BODY`], and all the bodies being read at once together
//! up to [`BUFFER_BUDGET`], so a flood of large bodies cannot grow the
//! server without bound.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, SemaphorePermit};

use super::receiver::Receiver;
use crate::exit::Failure;

/// The largest delivery taken: outputs with `sync_mode` carry their images
/// inline, a few megabytes each.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// The most all deliveries being read at once may hold together: two of
/// the largest. A body waits (up to [`READ_TIMEOUT`]) for its share, and is
/// answered 503 (fal delivers it again later) when it cannot have it.
const BUFFER_BUDGET: usize = 2 * MAX_BODY;

/// How long a client may take to send its headers, then its body (and a
/// body may wait for its share of the budget).
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What the server shares between connections: the receiver, and the
/// budget of bytes the bodies being read may hold.
struct Server {
    receiver: Arc<Receiver>,
    budget: Semaphore,
}

/// Binds the listener; a port that cannot be had is a usage error naming it.
pub async fn listen(host: IpAddr, port: u16) -> Result<TcpListener, Failure> {
    TcpListener::bind((host, port)).await.map_err(|error| {
        Failure::Usage(format!(
            "invalid value '{port}' for '--port': cannot listen on {host}:{port} ({error})"
        ))
    })
}

/// Serves until `signalled` completes (Ctrl-C, SIGTERM, SIGHUP: see
/// [`crate::signal::stop`]), or until `stop` is notified (stdout was closed).
pub async fn serve_until_stopped(
    listener: TcpListener,
    receiver: Arc<Receiver>,
    stop: Arc<Notify>,
    signalled: impl std::future::Future<Output = crate::signal::Stop>,
) {
    let server = Arc::new(Server {
        receiver,
        budget: Semaphore::new(BUFFER_BUDGET),
    });
    tokio::pin!(signalled);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut signalled => return,
            () = stop.notified() => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of descriptors and the like: wait, do not spin.
                eprintln!("warning: accepting a connection failed: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let server = server.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let server = server.clone();
                async move { Ok::<_, Infallible>(answer(&server, request).await) }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// One request: the headers checked first, then the body read within its
/// bounds, then the delivery verified and handled.
async fn answer(server: &Server, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::POST {
        return unread(StatusCode::METHOD_NOT_ALLOWED, "fal's webhooks are POSTs");
    }
    let (parts, body) = request.into_parts();
    if let Err((status, message)) = server.receiver.check_headers(&parts.headers) {
        return unread(status, &message);
    }
    let length = match declared_length(&parts.headers) {
        Some(length) if length > MAX_BODY => {
            return unread(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large");
        }
        Some(length) => length,
        // chunked: room for the largest body
        None => MAX_BODY,
    };
    let Some(permit) = share(&server.budget, length).await else {
        return unread(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many deliveries at once; deliver it again later",
        );
    };
    let body = match tokio::time::timeout(READ_TIMEOUT, read_body(body, length)).await {
        Ok(Ok(body)) => body,
        Ok(Err(status)) => return unread(status, "the body could not be read whole"),
        Err(_) => return unread(StatusCode::REQUEST_TIMEOUT, "the body came too slowly"),
    };
    let verified = server.receiver.verify(&parts.headers, &body).await;
    // The bytes are no longer needed: the event holds what counts.
    drop(body);
    drop(permit);
    let (status, message) = match verified {
        Ok(event) => server.receiver.take(event).await,
        Err(refusal) => refusal,
    };
    respond(status, &message)
}

/// The `Content-Length` a request declares; `None` when it sends none
/// (chunked). A length that is not a number counts as too large.
fn declared_length(headers: &HeaderMap) -> Option<usize> {
    let value = headers.get(header::CONTENT_LENGTH)?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(usize::MAX),
    )
}

/// `bytes` of the budget, waited for up to [`READ_TIMEOUT`].
async fn share(budget: &Semaphore, bytes: usize) -> Option<SemaphorePermit<'_>> {
    // MAX_BODY fits in a u32: the caller never asks for more.
    let bytes = u32::try_from(bytes).ok()?;
    tokio::time::timeout(READ_TIMEOUT, budget.acquire_many(bytes))
        .await
        .ok()?
        .ok()
}

/// The body, up to `limit` bytes, in one buffer of that size (its pages
/// are taken as they are written; the body is never copied whole): 413 past
/// the limit, 400 when the client breaks off.
async fn read_body(mut body: Incoming, limit: usize) -> Result<Vec<u8>, StatusCode> {
    let mut bytes = Vec::with_capacity(limit);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| StatusCode::BAD_REQUEST)?;
        if let Some(data) = frame.data_ref() {
            if bytes.len() + data.len() > limit {
                return Err(StatusCode::PAYLOAD_TOO_LARGE);
            }
            bytes.extend_from_slice(data);
        }
    }
    Ok(bytes)
}

/// An answer given without reading the request's body: the connection is
/// closed after it, so that nothing more of the body is read.
fn unread(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = respond(status, message);
    response.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}

fn respond(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{message}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
