//! What goes wrong with a webhook delivery ([`WebhookFault`]): the faults
//! queued for the next delivery attempts, one per attempt.

/// What goes wrong with a webhook delivery (see
/// [`Emulator::set_webhook_faults`](crate::Emulator::set_webhook_faults)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookFault {
    /// The attempt is signed with a key that is not in the JWKS.
    ForeignKey,
    /// The attempt carries a timestamp ten minutes old (signed correctly).
    StaleTimestamp,
    /// Once delivered, the event is delivered again, as fal may.
    Duplicate,
}
