//! The HTTP side of `kontext webhook serve`: a small hyper server (the CLI
//! has no web framework) that hands each request to the [`Receiver`].

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::exit::Failure;

mod receiver;
mod saved;

pub use receiver::Receiver;

/// The largest delivery taken: outputs with `sync_mode` carry their images
/// inline, a few megabytes each.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// How long a client may take to send its headers, then its body.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Binds the listener; a port that cannot be had is a usage error naming it.
pub async fn listen(host: IpAddr, port: u16) -> Result<TcpListener, Failure> {
    TcpListener::bind((host, port)).await.map_err(|error| {
        Failure::Usage(format!(
            "invalid value '{port}' for '--port': cannot listen on {host}:{port} ({error})"
        ))
    })
}

/// Serves until Ctrl-C.
pub async fn serve_until_ctrl_c(listener: TcpListener, receiver: Arc<Receiver>) {
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut ctrl_c => return,
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
        let receiver = receiver.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let receiver = receiver.clone();
                async move { Ok::<_, Infallible>(answer(&receiver, request).await) }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// One request: only a POST with a whole body reaches the receiver.
async fn answer(receiver: &Arc<Receiver>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::POST {
        return respond(StatusCode::METHOD_NOT_ALLOWED, "fal's webhooks are POSTs");
    }
    let (parts, body) = request.into_parts();
    let body = match tokio::time::timeout(READ_TIMEOUT, Limited::new(body, MAX_BODY).collect())
        .await
    {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(error)) if error.is::<LengthLimitError>() => {
            return respond(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large");
        }
        Ok(Err(_)) => return respond(StatusCode::BAD_REQUEST, "the body could not be read whole"),
        Err(_) => return respond(StatusCode::REQUEST_TIMEOUT, "the body came too slowly"),
    };
    let (status, message) = receiver.receive(&parts.headers, &body).await;
    respond(status, &message)
}

fn respond(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{message}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
