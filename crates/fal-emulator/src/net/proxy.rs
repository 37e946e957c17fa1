//! A forward proxy (HTTP `CONNECT` only) that maps fal's public hosts to the
//! emulator's origins. Some clients cannot be pointed elsewhere for every
//! call (fal's Python client has its REST and CDN hosts fixed), but every
//! HTTP stack honours `HTTPS_PROXY`: through this proxy such a client
//! reaches the emulator unchanged, and with `Config::tls` the certificate it
//! is shown is valid for those names. Any other host is refused: the
//! emulator never opens a connection off this machine.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// `host` (or `host:port`) → the local port that serves it.
pub(crate) type Targets = Arc<HashMap<String, u16>>;

/// The hosts the forward proxy serves, and the ports behind them.
pub(crate) fn targets([queue, run, rest, cdn]: [u16; 4], foreign: u16) -> HashMap<String, u16> {
    let mut targets: HashMap<String, u16> = [
        ("queue.fal.run", queue),
        ("fal.ai", queue),
        ("fal.run", run),
        ("rest.fal.ai", rest),
        ("api.fal.ai", rest),
        ("v3.fal.media", cdn),
        ("v3b.fal.media", cdn),
        ("fal.media", cdn),
    ]
    .into_iter()
    .map(|(host, port)| (host.to_owned(), port))
    .collect();
    for port in [queue, run, rest, cdn, foreign] {
        for host in ["127.0.0.1", "localhost"] {
            targets.insert(format!("{host}:{port}"), port);
        }
    }
    targets
}

pub(crate) fn spawn(listener: TcpListener, targets: Targets, shutdown: CancellationToken) {
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
                () = shutdown.cancelled() => return,
            };
            let targets = targets.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let targets = targets.clone();
                    let shutdown = shutdown.clone();
                    async move { Ok::<_, Infallible>(tunnel(request, &targets, shutdown)) }
                });
                let connection = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades();
                let _ = connection.await;
            });
        }
    });
}

fn tunnel(
    request: Request<Incoming>,
    targets: &Targets,
    shutdown: CancellationToken,
) -> Response<Body> {
    if request.method() != Method::CONNECT {
        return status(StatusCode::METHOD_NOT_ALLOWED);
    }
    let Some(authority) = request.uri().authority() else {
        return status(StatusCode::BAD_REQUEST);
    };
    let host = authority.host().to_ascii_lowercase();
    let port = targets
        .get(&format!("{host}:{}", authority.port_u16().unwrap_or(443)))
        .or_else(|| targets.get(&host))
        .copied();
    let Some(port) = port else {
        return status(StatusCode::FORBIDDEN);
    };
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(request).await else {
            return;
        };
        let Ok(mut origin) = TcpStream::connect(("127.0.0.1", port)).await else {
            return;
        };
        let mut client = TokioIo::new(upgraded);
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut origin) => {}
            () = shutdown.cancelled() => {}
        }
    });
    status(StatusCode::OK)
}

fn status(code: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = code;
    response
}
