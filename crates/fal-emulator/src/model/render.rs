//! The pixels of an output image: a deterministic transformation of the
//! input images (or, with none, a pattern drawn from the seed and prompt),
//! at the size asked, encoded as JPEG or PNG. It is not a
//! diffusion model; what it guarantees is that sizes, aspect ratios, formats,
//! byte counts and content types are real, and that the same input and seed
//! give the same bytes.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ImageEncoder, Rgb, RgbImage};

use crate::rng::{SplitMix64, fnv1a};

/// The longest side of any output: small, so that tests stay fast.
pub(crate) const MAX_SIDE: u32 = 256;

/// The aspect ratios `resolution_mode: "auto"` chooses from.
const AUTO_RATIOS: [(u32, u32); 11] = [
    (1, 1),
    (16, 9),
    (21, 9),
    (3, 2),
    (2, 3),
    (4, 5),
    (5, 4),
    (3, 4),
    (4, 3),
    (9, 16),
    (9, 21),
];

/// An output encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Jpeg,
    Png,
}

impl Format {
    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name {
            "jpeg" | "jpg" => Some(Self::Jpeg),
            "png" => Some(Self::Png),
            _ => None,
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }

    pub(crate) fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
        }
    }
}

/// How the output size is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sizing {
    /// A `w:h` aspect ratio, longest side [`MAX_SIDE`].
    Ratio(u32, u32),
    /// The (first) input's size, shrunk to fit and rounded to multiples of 16.
    MatchInput,
    /// The listed ratio closest to the input's.
    Auto,
}

impl Sizing {
    /// fal's `image_size`: a named size (`landscape_4_3`, whose pixel sizes
    /// are https://docs.fal.ai/documentation/model-apis/model-arguments) or
    /// `{width, height}` (each 512 when left out), as a ratio.
    pub(crate) fn of_image_size(value: &serde_json::Value) -> Option<Self> {
        let (w, h) = match value.as_str() {
            Some("square_hd" | "square") => (1, 1),
            Some("portrait_4_3") => (3, 4),
            Some("portrait_16_9") => (9, 16),
            Some("landscape_4_3") => (4, 3),
            Some("landscape_16_9") => (16, 9),
            Some(_) => return None,
            None => (
                value
                    .get("width")
                    .map_or(Some(512), serde_json::Value::as_u64)?,
                value
                    .get("height")
                    .map_or(Some(512), serde_json::Value::as_u64)?,
            ),
        };
        let (w, h) = (u32::try_from(w).ok()?, u32::try_from(h).ok()?);
        (w > 0 && h > 0).then_some(Self::Ratio(w, h))
    }

    /// `"16:9"` → a ratio; `"match_input"`, `"auto"`.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value {
            "match_input" => Some(Self::MatchInput),
            "auto" => Some(Self::Auto),
            ratio => {
                let (w, h) = ratio.split_once(':')?;
                let (w, h) = (w.parse().ok()?, h.parse().ok()?);
                (w > 0 && h > 0).then_some(Self::Ratio(w, h))
            }
        }
    }
}

/// The output size for this sizing and (first) input size.
pub(crate) fn output_size(sizing: Sizing, input: Option<(u32, u32)>) -> (u32, u32) {
    match (sizing, input) {
        (Sizing::Ratio(w, h), _) => fit_ratio(w, h),
        (Sizing::MatchInput, Some((w, h))) => {
            let scale = f64::from(MAX_SIDE) / f64::from(w.max(h));
            let scale = scale.min(1.0);
            let round16 = |side: u32| {
                let scaled = (f64::from(side) * scale / 16.0).round() as u32 * 16;
                scaled.clamp(16, MAX_SIDE)
            };
            (round16(w), round16(h))
        }
        (Sizing::Auto, Some((w, h))) => {
            let target = f64::from(w) / f64::from(h);
            let (rw, rh) = AUTO_RATIOS
                .iter()
                .copied()
                .min_by(|a, b| {
                    let distance =
                        |(x, y): (u32, u32)| (f64::from(x) / f64::from(y) / target).ln().abs();
                    distance(*a).total_cmp(&distance(*b))
                })
                .unwrap_or((1, 1));
            fit_ratio(rw, rh)
        }
        (_, None) => fit_ratio(1, 1),
    }
}

fn fit_ratio(w: u32, h: u32) -> (u32, u32) {
    let long = f64::from(MAX_SIDE);
    if w >= h {
        let short = (long * f64::from(h) / f64::from(w)).round().max(1.0) as u32;
        (MAX_SIDE, short)
    } else {
        let short = (long * f64::from(w) / f64::from(h)).round().max(1.0) as u32;
        (short, MAX_SIDE)
    }
}

/// One output image: the inputs side by side (each cropped to fill its
/// tile), tinted by a colour drawn from the seed, with a seed-placed band;
/// with no inputs, a gradient and stripes drawn from the seed and prompt.
pub(crate) fn render(inputs: &[RgbImage], prompt: &str, seed: u64, size: (u32, u32)) -> RgbImage {
    let (width, height) = size;
    let mut rng = SplitMix64::new(seed ^ fnv1a(&[prompt.as_bytes()]));
    let tint = random_colour(&mut rng);
    let band_top = (rng.next_u64() % u64::from(height)) as u32;
    let band_height = (height / 12).max(1);
    let mut out = RgbImage::new(width, height);

    if inputs.is_empty() {
        let (from, to) = (random_colour(&mut rng), random_colour(&mut rng));
        let stripe = 8 + (rng.next_u64() % 24) as u32;
        for (x, y, pixel) in out.enumerate_pixels_mut() {
            let t = (x + y) as f32 / (width + height).max(1) as f32;
            let base = mix(from, to, t);
            *pixel = if ((x + 2 * y) / stripe).is_multiple_of(2) {
                base
            } else {
                mix(base, tint, 0.35)
            };
        }
    } else {
        let tiles = inputs.len() as u32;
        for (x, y, pixel) in out.enumerate_pixels_mut() {
            let tile = (x * tiles / width).min(tiles - 1);
            let tile_left = tile * width / tiles;
            let tile_width = ((tile + 1) * width / tiles - tile_left).max(1);
            let source = sample_cover(&inputs[tile as usize], tile_width, height, x - tile_left, y);
            *pixel = mix(source, tint, 0.25);
        }
    }
    for y in band_top..(band_top + band_height).min(height) {
        for x in 0..width {
            let pixel = out.get_pixel_mut(x, y);
            *pixel = mix(*pixel, tint, 0.6);
        }
    }
    out
}

/// The pixel at `(x, y)` of `image` scaled to cover a `w`×`h` tile, centred
/// (nearest neighbour: exact enough, and fast even in debug builds).
pub(crate) fn sample_cover(image: &RgbImage, w: u32, h: u32, x: u32, y: u32) -> Rgb<u8> {
    let (iw, ih) = (image.width().max(1), image.height().max(1));
    let scale = (f64::from(w) / f64::from(iw)).max(f64::from(h) / f64::from(ih));
    let offset_x = (f64::from(iw) * scale - f64::from(w)) / 2.0;
    let offset_y = (f64::from(ih) * scale - f64::from(h)) / 2.0;
    let sx = ((f64::from(x) + offset_x) / scale) as u32;
    let sy = ((f64::from(y) + offset_y) / scale) as u32;
    *image.get_pixel(sx.min(iw - 1), sy.min(ih - 1))
}

fn random_colour(rng: &mut SplitMix64) -> Rgb<u8> {
    let bits = rng.next_u64().to_le_bytes();
    Rgb([bits[0], bits[1], bits[2]])
}

pub(crate) fn mix(a: Rgb<u8>, b: Rgb<u8>, t: f32) -> Rgb<u8> {
    let channel = |i: usize| (f32::from(a[i]) * (1.0 - t) + f32::from(b[i]) * t).round() as u8;
    Rgb([channel(0), channel(1), channel(2)])
}

/// Encodes an image; both encoders are deterministic.
pub(crate) fn encode(image: &RgbImage, format: Format) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    let (w, h) = image.dimensions();
    let result = match format {
        Format::Jpeg => JpegEncoder::new_with_quality(&mut bytes, 85).write_image(
            image.as_raw(),
            w,
            h,
            image::ExtendedColorType::Rgb8,
        ),
        Format::Png => {
            PngEncoder::new_with_quality(&mut bytes, CompressionType::Fast, FilterType::Sub)
                .write_image(image.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        }
    };
    result.expect("encoding an in-memory RGB image cannot fail");
    bytes.into_inner()
}

/// Decodes an input image (PNG, JPEG, WebP or GIF).
pub(crate) fn decode(bytes: &[u8]) -> Result<RgbImage, image::ImageError> {
    Ok(image::load_from_memory(bytes)?.to_rgb8())
}

/// A stand-in input for a URL the emulator will not fetch (anything off
/// this machine): a pattern drawn from the URL, so it is stable.
pub(crate) fn placeholder(url: &str) -> RgbImage {
    render(
        &[],
        url,
        fnv1a(&[b"placeholder"]),
        (MAX_SIDE, MAX_SIDE * 3 / 4),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_fit_the_longest_side() {
        assert_eq!(output_size(Sizing::Ratio(16, 9), None), (256, 144));
        assert_eq!(output_size(Sizing::Ratio(9, 21), None), (110, 256));
        assert_eq!(output_size(Sizing::Ratio(1, 1), Some((5, 700))), (256, 256));
    }

    #[test]
    fn match_input_keeps_shape_in_multiples_of_16() {
        assert_eq!(
            output_size(Sizing::MatchInput, Some((1024, 768))),
            (256, 192)
        );
        assert_eq!(output_size(Sizing::MatchInput, Some((64, 48))), (64, 48));
        assert_eq!(output_size(Sizing::MatchInput, Some((3, 2))), (16, 16));
    }

    #[test]
    fn auto_picks_the_closest_listed_ratio() {
        assert_eq!(output_size(Sizing::Auto, Some((1900, 1080))), (256, 144));
        assert_eq!(output_size(Sizing::Auto, Some((400, 500))), (205, 256));
    }

    #[test]
    fn sizing_parses_fal_values() {
        assert_eq!(Sizing::parse("21:9"), Some(Sizing::Ratio(21, 9)));
        assert_eq!(Sizing::parse("match_input"), Some(Sizing::MatchInput));
        assert_eq!(Sizing::parse("0:1"), None);
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let input = render(&[], "input", 1, (40, 30));
        let a = encode(
            &render(std::slice::from_ref(&input), "p", 7, (32, 32)),
            Format::Png,
        );
        let b = encode(
            &render(std::slice::from_ref(&input), "p", 7, (32, 32)),
            Format::Png,
        );
        let c = encode(&render(&[input], "p", 8, (32, 32)), Format::Png);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn encodings_decode_to_the_rendered_size() {
        let image = render(&[], "p", 3, (48, 20));
        for format in [Format::Jpeg, Format::Png] {
            let decoded = decode(&encode(&image, format)).expect("decodes");
            assert_eq!(decoded.dimensions(), (48, 20), "{format:?}");
        }
    }
}
