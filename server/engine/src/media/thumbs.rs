//! Thumbnails on disk, named by content hash: `<data>/thumbs/ab/abcdef….jpg`. A cache: the grid
//! size is written during the crawl from the already-reduced decode, the lightbox size on first
//! request, and either is made again from the original whenever it is missing or damaged (see
//! [`crate::images`]). Files are written atomically ([`crate::fsutil`]), so a reader never sees
//! half a thumbnail, and identical content shares one file.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::RgbImage;

use crate::fsutil::{write_atomic, WriteOptions};

/// Height of grid thumbnails in pixels (the width follows the aspect ratio).
pub const GRID_HEIGHT: u32 = 256;
/// Widest grid thumbnail (panoramas are cropped by the browser, not stretched).
const GRID_MAX_WIDTH: u32 = 1024;
/// JPEG quality of thumbnails.
const QUALITY: u8 = 82;

/// The thumbnails folder.
#[derive(Debug, Clone)]
pub struct Thumbnails {
    root: PathBuf,
}

/// Lower-case hex of a hash.
pub fn hex(hash: &[u8]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

impl Thumbnails {
    /// Thumbnails under `root`.
    pub fn new(root: &Path) -> Self {
        Thumbnails {
            root: root.to_path_buf(),
        }
    }

    /// Where the lightbox preview of `hash` lives.
    pub fn preview_path(&self, hash: &[u8]) -> PathBuf {
        let h = hex(hash);
        self.root
            .join("preview")
            .join(&h[..2])
            .join(format!("{h}.jpg"))
    }

    /// Where the grid thumbnail of `hash` lives.
    pub fn grid_path(&self, hash: &[u8]) -> PathBuf {
        let h = hex(hash);
        self.root.join(&h[..2]).join(format!("{h}.jpg"))
    }

    /// Writes the grid thumbnail of `hash` from `rgb` unless it exists.
    pub fn write(&self, hash: &[u8], rgb: &RgbImage) -> std::io::Result<()> {
        let path = self.grid_path(hash);
        if path.is_file() {
            return Ok(());
        }
        write_jpeg(&path, &grid_image(rgb))
    }
}

/// The grid thumbnail size for an image of `w`×`h`.
pub fn grid_size(w: u32, h: u32) -> (u32, u32) {
    if h <= GRID_HEIGHT {
        return (w.clamp(1, GRID_MAX_WIDTH), h.max(1));
    }
    let tw = (u64::from(w) * u64::from(GRID_HEIGHT) / u64::from(h)) as u32;
    (tw.clamp(1, GRID_MAX_WIDTH), GRID_HEIGHT)
}

/// Encodes `rgb` as JPEG into `path` atomically.
pub fn write_jpeg(path: &Path, rgb: &RgbImage) -> std::io::Result<()> {
    write_atomic(path, &jpeg(rgb)?, WriteOptions::default())
}

/// Whether `bytes` look like a whole JPEG: its start and end markers are there, so a file cut
/// short or emptied (a full disk, a damaged sector) is told apart from a good thumbnail without
/// decoding it.
pub fn whole_jpeg(bytes: &[u8]) -> bool {
    bytes.len() > 4 && bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9])
}

/// `rgb` as JPEG bytes at thumbnail quality: by libjpeg-turbo where the build has it, else (or
/// should it fail) by the `image` crate.
pub fn jpeg(rgb: &RgbImage) -> std::io::Result<Vec<u8>> {
    #[cfg(feature = "turbojpeg")]
    if let Ok(bytes) = super::turbo::encode(rgb.as_raw(), rgb.width(), rgb.height(), QUALITY) {
        return Ok(bytes);
    }
    let mut bytes = Cursor::new(Vec::new());
    JpegEncoder::new_with_quality(&mut bytes, QUALITY)
        .encode_image(rgb)
        .map_err(std::io::Error::other)?;
    Ok(bytes.into_inner())
}

/// `rgb` reduced to the grid's size.
pub fn grid_image(rgb: &RgbImage) -> RgbImage {
    let (w, h) = rgb.dimensions();
    let (tw, th) = grid_size(w, h);
    if (tw, th) == (w, h) {
        rgb.clone()
    } else {
        image::imageops::thumbnail(rgb, tw, th)
    }
}

/// The longest side of a lightbox preview.
pub const PREVIEW_SIDE: u32 = 1280;

/// `rgb` reduced to fit a [`PREVIEW_SIDE`] square (never enlarged).
pub fn preview_image(rgb: &RgbImage) -> RgbImage {
    let (w, h) = rgb.dimensions();
    let long = w.max(h).max(1);
    if long <= PREVIEW_SIDE {
        return rgb.clone();
    }
    let scale = |x: u32| ((u64::from(x) * u64::from(PREVIEW_SIDE) / u64::from(long)) as u32).max(1);
    image::imageops::resize(
        rgb,
        scale(w),
        scale(h),
        image::imageops::FilterType::Triangle,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_thumbnails_keep_the_aspect_ratio() {
        assert_eq!(grid_size(4000, 3000), (341, 256));
        assert_eq!(grid_size(100, 80), (100, 80));
        assert_eq!(grid_size(10000, 300), (1024, 256));
    }

    #[test]
    fn writes_once_by_hash() {
        let dir = tempfile::tempdir().expect("temp dir");
        let thumbs = Thumbnails::new(dir.path());
        let img = RgbImage::from_pixel(600, 400, image::Rgb([200, 10, 10]));
        thumbs.write(&[0xab; 32], &img).expect("writes");
        let path = thumbs.grid_path(&[0xab; 32]);
        assert!(path.starts_with(dir.path().join("ab")));
        let back = image::open(&path).expect("reads").to_rgb8();
        assert_eq!(back.dimensions(), (384, 256));
        let bytes = std::fs::read(&path).expect("reads");
        assert!(whole_jpeg(&bytes));
        assert!(!whole_jpeg(&bytes[..bytes.len() / 2]));
        assert!(!whole_jpeg(b""));
    }

    #[test]
    fn thumbnails_encode_the_picture() {
        // A picture with structure (a gradient and a block), encoded and decoded again.
        let img = RgbImage::from_fn(341, 256, |x, y| {
            if (100..200).contains(&x) && (50..150).contains(&y) {
                image::Rgb([250, 250, 20])
            } else {
                image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
            }
        });
        let bytes = jpeg(&img).expect("encodes");
        assert!(whole_jpeg(&bytes));
        let back = image::load_from_memory(&bytes).expect("decodes").to_rgb8();
        assert_eq!(back.dimensions(), img.dimensions());
        let worst = back
            .pixels()
            .zip(img.pixels())
            .flat_map(|(a, b)| (0..3).map(move |c| (i32::from(a[c]) - i32::from(b[c])).abs()))
            .filter(|d| *d > 24)
            .count();
        assert!(
            worst < 341 * 256 / 50,
            "{worst} channel values off by more than 24"
        );
    }
}
