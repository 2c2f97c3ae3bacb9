//! Media: any supported image file decoded to RGB at the scale Trove needs, with its facts
//! (format, displayed size, EXIF) and a reason a person understands when it cannot be done;
//! and the thumbnails made from those pixels ([`thumbs`]).
//!
//! JPEGs are decoded DCT-scaled (libjpeg's trick): a 12 MP photo needed at 256 px is decoded at
//! 1/8 size, several times faster than a full decode, by the system's libjpeg-turbo
//! ([`turbo`], feature `turbojpeg`) or else `jpeg-decoder`'s `scale` ([`jpeg`]). Other formats
//! go through the `image` crate ([`raster`]) or libheif ([`heif`]). Formats are recognised by
//! their bytes, not their names. Every decoder runs under `catch_unwind`, and header sizes are
//! checked against a pixel limit before any pixel buffer is allocated.

mod heif;
mod jpeg;
mod metadata;
mod raster;
pub mod thumbs;
#[cfg(feature = "turbojpeg")]
pub mod turbo;
pub mod xmp;

use std::io::Cursor;

use image::{ImageFormat, RgbImage};

/// What decoding learnt about an image: the catalog's `images` row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageFacts {
    /// BLAKE3 of the file's bytes.
    pub hash: [u8; 32],
    /// Container format, lower case.
    pub format: String,
    /// Displayed width (after EXIF orientation).
    pub width: u32,
    /// Displayed height.
    pub height: u32,
    /// File size.
    pub bytes: u64,
    /// EXIF capture time, ISO 8601 in the camera's local time.
    pub taken_at: Option<String>,
    /// EXIF camera maker.
    pub camera_make: Option<String>,
    /// EXIF camera model.
    pub camera_model: Option<String>,
    /// EXIF lens model.
    pub lens: Option<String>,
    /// Latitude in degrees, north positive.
    pub gps_lat: Option<f64>,
    /// Longitude in degrees, east positive.
    pub gps_lon: Option<f64>,
    /// EXIF orientation tag (1–8).
    pub orientation: Option<u16>,
}

/// Limits that protect the crawl from hostile or absurd files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest image, in pixels, that will be decoded.
    pub max_pixels: u64,
    /// Largest file, in bytes, that will be read.
    pub max_bytes: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_pixels: 100_000_000,
            max_bytes: 512 * 1024 * 1024,
        }
    }
}

/// Why a file was not decoded. The `Display` text is shown to people as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not an image format Trove reads.
    #[error("not an image Trove can read (it looks like {0})")]
    NotAnImage(String),
    /// An empty file.
    #[error("the file is empty")]
    Empty,
    /// Over the pixel limit.
    #[error("the image is {width}×{height} ({mp} MP), more than the {limit} MP limit")]
    TooManyPixels {
        /// Header width.
        width: u64,
        /// Header height.
        height: u64,
        /// Megapixels.
        mp: u64,
        /// The limit in megapixels.
        limit: u64,
    },
    /// Over the file size limit.
    #[error("the file is {size} MB, more than the {limit} MB limit")]
    TooLarge {
        /// MB.
        size: u64,
        /// MB.
        limit: u64,
    },
    /// The decoder failed.
    #[error("the {format} data is damaged or truncated: {detail}")]
    Corrupt {
        /// Format name.
        format: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// A format this build cannot decode.
    #[error("{0}")]
    Unsupported(String),
    /// The decoder panicked.
    #[error("the {0} decoder crashed on this file")]
    Crashed(&'static str),
}

/// A decoded image: pixels at least `min_side` on the shorter side where the original is, with
/// EXIF orientation applied, and the facts for the catalog.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The pixels (reduced scale).
    pub rgb: RgbImage,
    /// Format, full displayed size and EXIF.
    pub facts: ImageFacts,
}

/// The container formats Trove reads, by their leading bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Jpeg,
    Other(ImageFormat),
    Heif,
}

fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = &bytes[8..12];
        if [
            b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif",
        ]
        .iter()
        .any(|b| brand == *b)
        {
            return Some(Format::Heif);
        }
    }
    let format = image::guess_format(bytes).ok()?;
    if format == ImageFormat::Jpeg {
        Some(Format::Jpeg)
    } else {
        [
            ImageFormat::Png,
            ImageFormat::WebP,
            ImageFormat::Gif,
            ImageFormat::Tiff,
            ImageFormat::Bmp,
        ]
        .contains(&format)
        .then_some(Format::Other(format))
    }
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Jpeg => "jpeg",
        Format::Heif => "heic",
        Format::Other(ImageFormat::Png) => "png",
        Format::Other(ImageFormat::WebP) => "webp",
        Format::Other(ImageFormat::Gif) => "gif",
        Format::Other(ImageFormat::Tiff) => "tiff",
        Format::Other(ImageFormat::Bmp) => "bmp",
        Format::Other(_) => "image",
    }
}

/// Decodes `bytes` so that the shorter side is at least `min_side` (or the original size, if
/// smaller), applying EXIF orientation.
pub fn decode(bytes: &[u8], min_side: u32, limits: DecodeLimits) -> Result<Decoded, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.len() as u64 > limits.max_bytes {
        return Err(DecodeError::TooLarge {
            size: bytes.len() as u64 / 1_000_000,
            limit: limits.max_bytes / 1_000_000,
        });
    }
    let format = sniff(bytes).ok_or_else(|| DecodeError::NotAnImage(describe_start(bytes)))?;
    let name = format_name(format);
    let run = || match format {
        Format::Jpeg => jpeg::decode(bytes, min_side, limits),
        Format::Other(f) => raster::decode(bytes, f, name, min_side, limits),
        Format::Heif => heif::decode(bytes, min_side, limits),
    };
    let (rgb, width, height, exif_raw) =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
            .map_err(|_| DecodeError::Crashed(name))??;
    let mut facts = ImageFacts {
        hash: [0; 32],
        format: name.to_owned(),
        width,
        height,
        bytes: bytes.len() as u64,
        ..ImageFacts::default()
    };
    let exif = match (format, exif_raw) {
        (_, Some(raw)) => exif::Reader::new().read_raw(raw).ok(),
        (Format::Jpeg, None) => None,
        (Format::Other(_) | Format::Heif, None) => exif::Reader::new()
            .read_from_container(&mut Cursor::new(bytes))
            .ok(),
    };
    let mut rgb = rgb;
    if let Some(exif) = exif {
        metadata::read(&exif, &mut facts);
        // libheif has already applied the container's rotation and mirroring.
        let orientation = facts.orientation.filter(|_| format != Format::Heif);
        if let Some(o) = orientation.filter(|o| (2..=8).contains(o)) {
            rgb = metadata::orient(rgb, o);
            if o >= 5 {
                std::mem::swap(&mut facts.width, &mut facts.height);
            }
        }
    }
    Ok(Decoded { rgb, facts })
}

/// What kind of file the first bytes say this is, for the "not an image" message. The bytes
/// themselves are never quoted: skip reasons are shown on the web page, and a file's contents
/// are not the page's to show.
fn describe_start(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(64)];
    let starts = |magic: &[u8]| head.starts_with(magic);
    let text = head
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace() || *b >= 0x80);
    let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
    let kind = if starts(b"%PDF") {
        "a PDF document"
    } else if starts(b"PK\x03\x04") {
        "a ZIP archive (or an Office document)"
    } else if head.get(4..8) == Some(b"ftyp") {
        "an MP4/QuickTime video or an image format Trove does not read"
    } else if starts(b"RIFF") {
        "a RIFF file (audio or video)"
    } else if starts(b"\x1a\x45\xdf\xa3") {
        "a Matroska/WebM video"
    } else if starts(b"ID3") || starts(b"fLaC") || starts(b"OggS") {
        "an audio file"
    } else if text && (lower.contains("<svg") || lower.contains("<?xml")) {
        "XML or an SVG drawing"
    } else if text && (lower.contains("<html") || lower.contains("<!doctype")) {
        "a web page"
    } else if text {
        "text"
    } else {
        "data of no known image format"
    };
    kind.to_owned()
}

/// What a decoder gives back: pixels at reduced scale, the full width and height, and the raw
/// EXIF block when the decoder found one.
type Raw = (RgbImage, u32, u32, Option<Vec<u8>>);

fn check_pixels(width: u64, height: u64, limits: DecodeLimits) -> Result<(), DecodeError> {
    let pixels = width * height;
    if pixels > limits.max_pixels {
        return Err(DecodeError::TooManyPixels {
            width,
            height,
            mp: pixels / 1_000_000,
            limit: limits.max_pixels / 1_000_000,
        });
    }
    if pixels == 0 {
        return Err(DecodeError::Corrupt {
            format: "image",
            detail: "the header says it has no pixels".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).expect("encodes");
        out.into_inner()
    }

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Jpeg).expect("encodes");
        out.into_inner()
    }

    #[test]
    fn jpegs_decode_scaled_but_report_their_full_size() {
        let d = decode(&jpeg(2400, 1600), 200, DecodeLimits::default()).expect("decodes");
        assert_eq!((d.facts.width, d.facts.height), (2400, 1600));
        assert_eq!(d.facts.format, "jpeg");
        // 1/8 scale gives 300x200, the smallest that keeps 200 px on the short side.
        assert_eq!(d.rgb.dimensions(), (300, 200));
    }

    #[test]
    fn small_images_keep_their_size() {
        let d = decode(&png(40, 30), 256, DecodeLimits::default()).expect("decodes");
        assert_eq!(d.rgb.dimensions(), (40, 30));
        assert_eq!(d.facts.format, "png");
    }

    #[test]
    fn bad_input_gets_a_reason() {
        let limits = DecodeLimits::default();
        assert_eq!(
            decode(b"", 8, limits).expect_err("fails"),
            DecodeError::Empty
        );
        let text = decode(b"hello, I am text", 8, limits)
            .expect_err("fails")
            .to_string();
        assert!(
            text.contains("not an image") && text.contains("text") && !text.contains("hello"),
            "{text}"
        );
        for (bytes, kind) in [
            (&b"%PDF-1.7 secret"[..], "PDF"),
            (b"<html><script>x</script>", "web page"),
            (b"\x00\x01\x02\x03secret", "no known image format"),
        ] {
            let text = decode(bytes, 8, limits).expect_err("fails").to_string();
            assert!(
                text.contains(kind) && !text.contains("secret") && !text.contains("script"),
                "{text}"
            );
        }
        let mut truncated = jpeg(64, 64);
        truncated.truncate(truncated.len() / 3);
        let err = decode(&truncated, 8, limits).expect_err("fails");
        assert!(matches!(err, DecodeError::Corrupt { .. }), "{err}");
        let tiny = DecodeLimits {
            max_pixels: 100,
            max_bytes: 1 << 20,
        };
        let err = decode(&png(20, 20), 8, tiny).expect_err("fails");
        assert!(err.to_string().contains("20×20"), "{err}");
    }

    #[cfg(feature = "heic")]
    #[test]
    fn heic_decodes_with_its_exif() {
        // 96x64, red left half, blue right half; EXIF Make "TroveCam" (made with pillow-heif).
        let bytes = include_bytes!("../../tests/fixtures/red-left-blue-right.heic");
        let d = decode(bytes, 32, DecodeLimits::default()).expect("decodes");
        assert_eq!(d.facts.format, "heic");
        assert_eq!((d.facts.width, d.facts.height), (96, 64));
        assert_eq!(d.facts.camera_make.as_deref(), Some("TroveCam"));
        let left = d.rgb.get_pixel(5, 30).0;
        let right = d.rgb.get_pixel(d.rgb.width() - 5, 30).0;
        assert!(left[0] > 150 && left[2] < 80, "{left:?}");
        assert!(right[2] > 150 && right[0] < 80, "{right:?}");
        let mut truncated = bytes.to_vec();
        truncated.truncate(bytes.len() / 2);
        assert!(decode(&truncated, 32, DecodeLimits::default()).is_err());
    }

    #[test]
    fn jpeg_exif_is_read_and_its_orientation_applied() {
        // 32x16, red left half, blue right half; EXIF Make "TroveCam", Orientation 6 (rotate
        // 90° clockwise to display), DateTimeOriginal 2024:05:01 13:45:10 (made with Pillow).
        let bytes = include_bytes!("../../tests/fixtures/rotated-exif.jpg");
        let d = decode(bytes, 64, DecodeLimits::default()).expect("decodes");
        assert_eq!(d.facts.camera_make.as_deref(), Some("TroveCam"));
        assert_eq!(d.facts.taken_at.as_deref(), Some("2024-05-01T13:45:10"));
        assert_eq!(d.facts.orientation, Some(6));
        assert_eq!((d.facts.width, d.facts.height), (16, 32), "displayed size");
        assert_eq!(d.rgb.dimensions(), (16, 32));
        // Rotated clockwise: the red (left) half is now on top.
        let top = d.rgb.get_pixel(8, 4).0;
        let bottom = d.rgb.get_pixel(8, 28).0;
        assert!(top[0] > 150 && top[2] < 90, "{top:?}");
        assert!(bottom[2] > 150 && bottom[0] < 90, "{bottom:?}");
    }
}
