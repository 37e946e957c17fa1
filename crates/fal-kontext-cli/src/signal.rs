//! The signals that stop a command, handled alike: Ctrl-C (SIGINT), and on
//! Unix SIGTERM (`kill`, `docker stop`, `timeout`) and SIGHUP (a closed
//! terminal or SSH session). Left to their default, the last two would end
//! the process at once, with a submit on the wire and its request id not yet
//! recorded; caught, each lets the command finish what it must first (a
//! batch records the requests in flight, `edit` cancels its request).

use std::future::Future;

/// A signal that asks the process to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP.
    Hangup,
}

impl Stop {
    /// The exit code of a process it stopped: 128 and the signal's number,
    /// as shells report a process the signal killed.
    pub fn exit_code(self) -> u8 {
        match self {
            Stop::Interrupt => 130,
            Stop::Terminate => 143,
            Stop::Hangup => 129,
        }
    }

    /// Its name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Stop::Interrupt => "interrupted",
            Stop::Terminate => "terminated (SIGTERM)",
            Stop::Hangup => "hung up (SIGHUP)",
        }
    }
}

/// The first stop signal from now on. The handlers are installed before
/// this returns, so a signal that comes before the future is first polled is
/// not lost; while they are installed, these signals no longer end the
/// process. If they cannot be installed, the future never completes (the
/// signals keep their default effect).
pub fn stop() -> impl Future<Output = Stop> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let listeners = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        );
        async move {
            let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = listeners else {
                return std::future::pending().await;
            };
            tokio::select! {
                Some(()) = interrupt.recv() => Stop::Interrupt,
                Some(()) = terminate.recv() => Stop::Terminate,
                Some(()) = hangup.recv() => Stop::Hangup,
                else => std::future::pending().await,
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            match tokio::signal::ctrl_c().await {
                Ok(()) => Stop::Interrupt,
                Err(_) => std::future::pending().await,
            }
        }
    }
}
