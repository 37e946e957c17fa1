//! What the LoRA endpoints add to the simulated model
//! (`fal-ai/flux-kontext-lora`, `…/text-to-image`, `…/inpaint`): each LoRA
//! tints the output with a colour drawn from its file, as strongly as its
//! scale asks (0 leaves the image as it is), so that a LoRA visibly changes
//! the output and its scale matters; and inpainting repaints only where the
//! mask is light.
//!
//! fal does not document the mask's convention
//! (<https://fal.ai/models/fal-ai/flux-kontext-lora/inpaint>): the emulator
//! takes the common one of diffusion inpainting, white (light) = repaint,
//! black (dark) = keep.

use image::{Rgb, RgbImage};
use serde_json::{Value, json};

use super::fetch::{self, DownloadError, digest};
use super::render::{mix, sample_cover};
use crate::rng::{SplitMix64, fnv1a};
use crate::state::Shared;

/// One LoRA of a request: a digest of its file and its scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Lora {
    pub(crate) digest: u64,
    pub(crate) scale: f64,
}

impl Lora {
    /// What shapes the output: the file and the scale.
    pub(crate) fn key(self) -> u64 {
        fnv1a(&[
            &self.digest.to_le_bytes(),
            &self.scale.to_bits().to_le_bytes(),
        ])
    }
}

/// The request's LoRAs, each file fetched as fal would (a file that cannot
/// be had is the app's 422 `file_download_error`, at `loras.N.path`).
pub(crate) async fn load(shared: &Shared, input: &Value) -> Result<Vec<Lora>, Vec<Value>> {
    let mut loras = Vec::new();
    for (index, lora) in input["loras"].as_array().into_iter().flatten().enumerate() {
        let path = lora["path"].as_str().unwrap_or_default();
        let source = fetch::load(shared, path).await.map_err(|DownloadError| {
            vec![json!({
                "loc": ["body", "loras", index, "path"],
                "msg": "Failed to download the file. Please check if the URL is accessible.",
                "type": "file_download_error",
            })]
        })?;
        loras.push(Lora {
            digest: digest(&source),
            scale: lora["scale"].as_f64().unwrap_or(1.0),
        });
    }
    Ok(loras)
}

/// Tints `image` once per LoRA, by `0.2 × scale` (at most 0.9).
pub(crate) fn apply(image: &mut RgbImage, loras: &[Lora]) {
    for lora in loras {
        let mut rng = SplitMix64::new(lora.digest);
        let bits = rng.next_u64().to_le_bytes();
        let colour = Rgb([bits[0], bits[1], bits[2]]);
        let strength = (0.2 * lora.scale).clamp(0.0, 0.9) as f32;
        if strength == 0.0 {
            continue;
        }
        for pixel in image.pixels_mut() {
            *pixel = mix(*pixel, colour, strength);
        }
    }
}

/// `painted` where the mask is light, the original elsewhere (both the
/// original and the mask scaled to cover the output, as inputs are).
pub(crate) fn inpaint(original: &RgbImage, mask: &RgbImage, painted: &RgbImage) -> RgbImage {
    let (width, height) = painted.dimensions();
    RgbImage::from_fn(width, height, |x, y| {
        let Rgb([r, g, b]) = sample_cover(mask, width, height, x, y);
        let light = u32::from(r) * 299 + u32::from(g) * 587 + u32::from(b) * 114 >= 128 * 1000;
        if light {
            *painted.get_pixel(x, y)
        } else {
            sample_cover(original, width, height, x, y)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(value: u8) -> RgbImage {
        RgbImage::from_pixel(8, 8, Rgb([value, value, value]))
    }

    #[test]
    fn a_lora_tints_as_strongly_as_its_scale_and_zero_does_nothing() {
        let strong = Lora {
            digest: 7,
            scale: 2.0,
        };
        let weak = Lora {
            digest: 7,
            scale: 0.5,
        };
        let off = Lora {
            digest: 7,
            scale: 0.0,
        };
        let (mut a, mut b, mut c) = (grey(100), grey(100), grey(100));
        apply(&mut a, &[strong]);
        apply(&mut b, &[weak]);
        apply(&mut c, &[off]);
        assert_ne!(a, grey(100));
        assert_ne!(a, b, "the scale matters");
        assert_eq!(c, grey(100), "scale 0 leaves the image as it is");
    }

    #[test]
    fn only_the_light_part_of_the_mask_is_repainted() {
        let original = grey(10);
        let painted = grey(200);
        let mask = RgbImage::from_fn(8, 8, |x, _| if x < 4 { Rgb([255; 3]) } else { Rgb([0; 3]) });
        let out = inpaint(&original, &mask, &painted);
        for (x, _, pixel) in out.enumerate_pixels() {
            let expected = if x < 4 { 200 } else { 10 };
            assert_eq!(pixel.0, [expected; 3], "x = {x}");
        }
    }
}
