//! The endpoint ids of the Kontext family.

/// FLUX.1 Kontext \[pro\]: edit an image with a prompt.
pub const FLUX_PRO_KONTEXT: &str = "fal-ai/flux-pro/kontext";
/// FLUX.1 Kontext \[max\]: the larger model, same input.
pub const FLUX_PRO_KONTEXT_MAX: &str = "fal-ai/flux-pro/kontext/max";
/// Text to image with Kontext \[pro\].
pub const FLUX_PRO_KONTEXT_TEXT_TO_IMAGE: &str = "fal-ai/flux-pro/kontext/text-to-image";
/// Text to image with Kontext \[max\].
pub const FLUX_PRO_KONTEXT_MAX_TEXT_TO_IMAGE: &str = "fal-ai/flux-pro/kontext/max/text-to-image";
/// Several reference images with Kontext \[pro\].
pub const FLUX_PRO_KONTEXT_MULTI: &str = "fal-ai/flux-pro/kontext/multi";
/// Several reference images with Kontext \[max\].
pub const FLUX_PRO_KONTEXT_MAX_MULTI: &str = "fal-ai/flux-pro/kontext/max/multi";
/// FLUX.1 Kontext \[dev\], the open-weights model.
pub const FLUX_KONTEXT_DEV: &str = "fal-ai/flux-kontext/dev";
/// FLUX.1 Kontext \[dev\] with LoRAs: edit an image.
pub const FLUX_KONTEXT_LORA: &str = "fal-ai/flux-kontext-lora";
/// FLUX.1 Kontext \[dev\] with LoRAs: text to image.
pub const FLUX_KONTEXT_LORA_TEXT_TO_IMAGE: &str = "fal-ai/flux-kontext-lora/text-to-image";
/// FLUX.1 Kontext \[dev\] with LoRAs: repaint a masked region after a reference image.
pub const FLUX_KONTEXT_LORA_INPAINT: &str = "fal-ai/flux-kontext-lora/inpaint";
/// Trains a Kontext LoRA from before/after pairs.
pub const FLUX_KONTEXT_TRAINER: &str = "fal-ai/flux-kontext-trainer";

/// Every endpoint of the family.
pub const ALL: &[&str] = &[
    FLUX_PRO_KONTEXT,
    FLUX_PRO_KONTEXT_MAX,
    FLUX_PRO_KONTEXT_TEXT_TO_IMAGE,
    FLUX_PRO_KONTEXT_MAX_TEXT_TO_IMAGE,
    FLUX_PRO_KONTEXT_MULTI,
    FLUX_PRO_KONTEXT_MAX_MULTI,
    FLUX_KONTEXT_DEV,
    FLUX_KONTEXT_LORA,
    FLUX_KONTEXT_LORA_TEXT_TO_IMAGE,
    FLUX_KONTEXT_LORA_INPAINT,
    FLUX_KONTEXT_TRAINER,
];

/// The app an endpoint belongs to (its first two segments): fal's queue
/// answers status, result and cancel there.
///
/// ```
/// assert_eq!(fal_kontext::endpoints::app("fal-ai/flux-pro/kontext/max"), "fal-ai/flux-pro");
/// ```
pub fn app(endpoint: &str) -> &str {
    match endpoint.match_indices('/').nth(1) {
        Some((end, _)) => &endpoint[..end],
        None => endpoint,
    }
}
