//! The time and size limits of one call, and the one reader of bodies that
//! keeps them (see the rulebook in the module above).

use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};

/// The most the SDK reads of one answer (a status, an output, an error), 64
/// MiB: an output with `sync_mode` carries its images inline, four large
/// PNGs in base64. A larger answer is [`Error::TooLarge`](crate::Error::TooLarge), not read.
pub(crate) const MAX_ANSWER_BYTES: u64 = 64 * 1024 * 1024;

/// The time limits of one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Until the answer's head (status and headers) has come.
    pub first_byte: Duration,
    /// The longest silence between two pieces of a body.
    pub idle: Duration,
    /// The whole call, body included.
    pub total: Duration,
}

/// The JWKS fetch of a webhook receiver (fal's public key set): 10 s in
/// all, so a delivery is answered while fal still waits for it.
pub(crate) const JWKS_LIMITS: Limits = Limits {
    first_byte: Duration::from_secs(10),
    idle: Duration::from_secs(10),
    total: Duration::from_secs(10),
};

/// The end of a request's body, for an upload: its answer's head can come
/// only once the body is sent, which takes as long as the link needs, so the
/// head's limit counts from then ([`BodySent::then`]); the sending itself is
/// bounded by the call's total. One per try.
#[derive(Clone, Default)]
pub(crate) struct BodySent(std::sync::Arc<tokio::sync::Notify>);

impl BodySent {
    /// `body`, of `len` bytes, which marks its end when its last byte has
    /// been taken (an HTTP client stops reading a body at its declared
    /// length, so its end is not waited for).
    pub(crate) fn watch<S, E>(
        &self,
        body: S,
        len: u64,
    ) -> impl Stream<Item = std::result::Result<Bytes, E>> + use<S, E>
    where
        S: Stream<Item = std::result::Result<Bytes, E>>,
    {
        let sent = self.0.clone();
        let mut taken = 0;
        if len == 0 {
            sent.notify_one();
        }
        body.inspect(move |piece| {
            if let Ok(piece) = piece {
                taken += piece.len() as u64;
                if taken >= len && !piece.is_empty() {
                    // a permit is kept if the head is not waiting yet
                    sent.notify_one();
                }
            }
        })
    }

    /// Returns `limit` after the body's end.
    pub(crate) async fn then(&self, limit: Duration) {
        self.0.notified().await;
        tokio::time::sleep(limit).await;
    }
}

/// Why a body was not read whole.
pub(crate) enum Cut<E> {
    /// It broke (a reset, fewer bytes than promised).
    Broken(E),
    /// It grew past its bound.
    TooLarge,
    /// Nothing came for this long.
    Stalled(Duration),
}

/// The next piece of `body`, or [`Cut::Stalled`] when none comes within
/// `idle`; `None` at its end.
pub(crate) async fn next_piece<S, E>(
    body: &mut S,
    idle: Duration,
) -> std::result::Result<Option<Bytes>, Cut<E>>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
{
    match tokio::time::timeout(idle, body.next()).await {
        Err(_) => Err(Cut::Stalled(idle)),
        Ok(None) => Ok(None),
        Ok(Some(piece)) => piece.map(Some).map_err(Cut::Broken),
    }
}

/// A body read whole, if it is at most `max` bytes long and no silence
/// between its pieces lasts `idle`.
pub(crate) async fn read_capped<S, E>(
    body: S,
    max: u64,
    idle: Duration,
) -> std::result::Result<Bytes, Cut<E>>
where
    S: Stream<Item = std::result::Result<Bytes, E>>,
{
    let mut body = std::pin::pin!(body);
    let mut read = Vec::new();
    while let Some(piece) = next_piece(&mut body, idle).await? {
        if (read.len() + piece.len()) as u64 > max {
            return Err(Cut::TooLarge);
        }
        read.extend_from_slice(&piece);
    }
    Ok(read.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bodies_are_read_up_to_the_limit() {
        let mib = |n: u64| {
            futures::stream::iter(
                (0..n).map(|_| Ok::<_, std::convert::Infallible>(Bytes::from(vec![b'x'; 1 << 20]))),
            )
        };
        let idle = Duration::from_secs(5);
        let limit = MAX_ANSWER_BYTES >> 20;
        let whole = read_capped(mib(limit), MAX_ANSWER_BYTES, idle).await;
        assert_eq!(whole.ok().map(|b| b.len() as u64), Some(MAX_ANSWER_BYTES));
        assert!(matches!(
            read_capped(mib(limit + 1), MAX_ANSWER_BYTES, idle).await,
            Err(Cut::TooLarge)
        ));
    }

    #[tokio::test]
    async fn an_uploads_head_limit_counts_from_the_end_of_its_body() {
        let sent = BodySent::default();
        let pieces = [b"ab", b"cd"].map(|piece| Ok::<_, ()>(Bytes::from_static(piece)));
        let mut body = std::pin::pin!(sent.watch(futures::stream::iter(pieces), 4));
        let limit = sent.then(Duration::from_millis(50));
        let mut limit = std::pin::pin!(limit);
        let early = tokio::time::timeout(Duration::from_millis(300), &mut limit).await;
        assert!(early.is_err(), "the limit ran before the body was sent");
        body.next().await;
        let half = tokio::time::timeout(Duration::from_millis(300), &mut limit).await;
        assert!(
            half.is_err(),
            "the limit ran while the body was still going"
        );
        body.next().await; // its last byte, and nothing asked after it
        let after = tokio::time::timeout(Duration::from_secs(5), &mut limit).await;
        assert!(after.is_ok(), "the limit runs once the body is sent");
    }

    #[tokio::test]
    async fn a_body_that_never_comes_or_trickles_ends_at_the_idle_limit() {
        let idle = Duration::from_millis(50);
        // a head, then nothing
        let silent = futures::stream::pending::<std::result::Result<Bytes, ()>>();
        assert!(matches!(
            read_capped(silent, 100, idle).await,
            Err(Cut::Stalled(after)) if after == idle
        ));
        // a byte every four idle limits
        let trickle = futures::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Some((Ok::<_, ()>(Bytes::from_static(b"x")), ()))
        });
        assert!(matches!(
            read_capped(trickle, 100, idle).await,
            Err(Cut::Stalled(_))
        ));
    }
}
