//! Thumbnails: made once, kept in `.gallery/thumbs/` beside the images, and
//! made again only when their image is newer. With the cargo feature
//! `thumbnails` (default; it brings the `image` crate); a build without it
//! makes none, and the page shows the images themselves, lazily loaded.

use std::path::{Path, PathBuf};

/// The longest side of a thumbnail, in pixels: sharp at twice the size the
/// page shows it (a 160 px box).
#[cfg(feature = "thumbnails")]
const SIDE: u32 = 320;

/// One thumbnail to have: its image and where it goes.
pub struct Wanted {
    /// The image.
    pub source: PathBuf,
    /// The thumbnail (a JPEG).
    pub thumb: PathBuf,
}

/// Makes the thumbnails that are missing or older than their image, on
/// every core; gives, for each, whether it exists now. An image that cannot
/// be read or decoded gets none (the page shows the image itself).
pub fn make_all(wanted: &[Wanted]) -> Vec<bool> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = wanted.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = wanted
            .chunks(chunk)
            .map(|part| {
                let worker = scope.spawn(|| part.iter().map(have).collect::<Vec<bool>>());
                (part.len(), worker)
            })
            .collect();
        // A decoder that panicked on some image costs its share its
        // thumbnails, never the order of the others'.
        workers
            .into_iter()
            .flat_map(|(len, worker)| worker.join().unwrap_or_else(|_| vec![false; len]))
            .collect()
    })
}

/// Whether `wanted.thumb` is there and fresh, making it if not.
fn have(wanted: &Wanted) -> bool {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    match (modified(&wanted.source), modified(&wanted.thumb)) {
        (None, _) => false,
        (Some(image), Some(thumb)) if thumb >= image => true,
        _ => make(&wanted.source, &wanted.thumb),
    }
}

/// Writes the thumbnail of `source` to `thumb` (through a temporary file
/// renamed into place, so that a kill leaves no half of one to be reused).
#[cfg(feature = "thumbnails")]
fn make(source: &Path, thumb: &Path) -> bool {
    // By its bytes, not its name: a file's extension may lie.
    let decoded = image::ImageReader::open(source)
        .and_then(|reader| reader.with_guessed_format())
        .ok()
        .and_then(|reader| reader.decode().ok());
    let Some(image) = decoded else {
        return false;
    };
    let small = if image.width() > SIDE || image.height() > SIDE {
        image.thumbnail(SIDE, SIDE)
    } else {
        image
    }
    .into_rgb8();
    let part = thumb.with_extension("part");
    let written = std::fs::File::create(&part).ok().and_then(|file| {
        let mut out = std::io::BufWriter::new(file);
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
            .encode_image(&small)
            .ok()
    });
    if written.is_some() && std::fs::rename(&part, thumb).is_ok() {
        return true;
    }
    let _ = std::fs::remove_file(&part);
    false
}

/// Without the `image` crate no thumbnail is made.
#[cfg(not(feature = "thumbnails"))]
fn make(_source: &Path, _thumb: &Path) -> bool {
    false
}

#[cfg(all(test, feature = "thumbnails"))]
mod tests {
    use super::*;

    #[test]
    fn a_thumbnail_is_made_once_and_again_when_its_image_changes() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("a-1.png");
        image::RgbImage::from_pixel(800, 400, image::Rgb([200, 10, 10]))
            .save(&source)
            .unwrap();
        let wanted = [
            Wanted {
                source: source.clone(),
                thumb: dir.path().join("a-1.jpg"),
            },
            Wanted {
                source: dir.path().join("missing.png"),
                thumb: dir.path().join("missing.jpg"),
            },
        ];
        assert_eq!(make_all(&wanted), [true, false]);
        let thumb = image::open(&wanted[0].thumb).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (SIDE, SIDE / 2));

        // Fresh: not made again (a file that is not an image stays).
        std::fs::write(&wanted[0].thumb, b"kept").unwrap();
        assert_eq!(make_all(&wanted[..1]), [true]);
        assert_eq!(std::fs::read(&wanted[0].thumb).unwrap(), b"kept");

        // Its image changed after it: made again.
        std::thread::sleep(std::time::Duration::from_millis(20));
        image::RgbImage::from_pixel(100, 300, image::Rgb([0, 0, 0]))
            .save(&source)
            .unwrap();
        assert_eq!(make_all(&wanted[..1]), [true]);
        let thumb = image::open(&wanted[0].thumb).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (100, 300));
    }
}
