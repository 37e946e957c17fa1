//! The type of a normalization step and of what it found: each step file
//! writes its steps as functions of this shape, and the runner checks them.

use serde_json::Value;

/// A named patch of one document. `D` is what the document describes and
/// the step may need to know: the
/// [`Endpoint`](crate::regen::endpoints::Endpoint) of a queue document (one
/// document per endpoint, see [`DOCUMENT_STEPS`](super::DOCUMENT_STEPS)), or
/// nothing, `()`, for fal's Platform APIs document (one for the platform, see
/// [`PLATFORM_STEPS`](super::PLATFORM_STEPS)).
pub struct Step<D> {
    /// What the regen prints, and what an error names.
    pub name: &'static str,
    pub apply: fn(&mut Value, &D) -> Found,
}

/// What a step found in a document. A step that finds nothing to patch fails
/// the regen (fal changed the document where the step looks, and a silent
/// no-op would generate a client that no longer matches the service),
/// unless the step says that fal's document already has the change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// Its target, which it patched.
    Patched,
    /// fal's document already says what the step would make it say: a no-op
    /// by design.
    AlreadyThere,
    /// Not its target (what it looked for).
    Missing(&'static str),
}

impl Found {
    /// `Patched` when the step changed something, else `AlreadyThere`: for a
    /// step that found its target and wrote what it wants into it.
    pub fn by_change(changed: bool) -> Self {
        if changed {
            Found::Patched
        } else {
            Found::AlreadyThere
        }
    }
}
