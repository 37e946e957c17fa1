//! The upload scenario's input: a valid PNG of about 30 MB, noise stored
//! without compression, so that its size on the wire is its size on disk.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::{Context, Result};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};

use super::rng::SplitMix64;

/// 3168 × 3168 RGB pixels: 30.1 MB.
const SIDE: u32 = 3168;

/// Writes the PNG to `path` and returns its size in bytes.
pub fn large_png(path: &Path) -> Result<u64> {
    let mut pixels = vec![0u8; (SIDE * SIDE * 3) as usize];
    let mut rng = SplitMix64::new(0x0B5E_55ED);
    for chunk in pixels.chunks_mut(8) {
        let noise = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&noise[..chunk.len()]);
    }
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    PngEncoder::new_with_quality(
        BufWriter::new(file),
        CompressionType::Uncompressed,
        FilterType::NoFilter,
    )
    .write_image(&pixels, SIDE, SIDE, ExtendedColorType::Rgb8)
    .context("encoding the large PNG")?;
    Ok(std::fs::metadata(path)?.len())
}
