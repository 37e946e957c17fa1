//! Serving one origin: an accept loop on a loopback listener, plain or TLS,
//! every connection dropped when the emulator stops (or when a fault hangs
//! it up: [`Hangup`]).

use std::time::Duration;

use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// Binds 127.0.0.1 only: the emulator is never reachable from elsewhere.
pub(crate) async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port)).await
}

pub(crate) fn spawn(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = shutdown.cancelled() => return,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of descriptors and the like: wait, do not spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let router = router.clone();
            let tls = tls.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(stream) => serve_connection(stream, router, shutdown).await,
                        Err(error) => tracing::debug!(%error, "TLS handshake failed"),
                    },
                    None => serve_connection(stream, router, shutdown).await,
                }
            });
        }
    });
}

/// The connection a request came on, as its handler can end it: every
/// request carries one in its extensions. Hanging up drops the connection
/// at once, without writing another byte (not even a status line), as a
/// proxy does whose upstream died.
#[derive(Clone)]
pub(crate) struct Hangup(CancellationToken);

impl Hangup {
    /// Drops the connection; never returns (the handler's future is
    /// dropped with it).
    pub(crate) async fn now<T>(&self) -> T {
        self.0.cancel();
        std::future::pending().await
    }
}

async fn serve_connection<S>(stream: S, router: Router, shutdown: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let hangup = Hangup(CancellationToken::new());
    let dropped = hangup.0.clone();
    let router = router.layer(Extension(hangup));
    let connection = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
        () = shutdown.cancelled() => {}
        () = dropped.cancelled() => {}
    }
}
