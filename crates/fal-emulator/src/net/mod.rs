//! The network plumbing under the origins: the accept loop that serves a
//! router on a loopback listener, plain or TLS (`server.rs`), the
//! certificates generated at start (`tls.rs`), and the forward proxy that
//! maps fal's public hosts to the origins (`proxy.rs`).

pub(crate) mod proxy;
pub(crate) mod server;
pub(crate) mod tls;
