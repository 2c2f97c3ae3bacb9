//! Media: any supported image file decoded to RGB at the scale Trove needs, with its facts
//! (format, displayed size, EXIF) and a reason a person understands when it cannot be done;
//! and the thumbnails made from those pixels ([`thumbs`]).
//!
//! JPEGs (and MPOs, whose first picture is a JPEG) are decoded DCT-scaled (libjpeg's trick): a
//! 12 MP photo needed at 256 px is decoded at 1/8 size, several times faster than a full
//! decode, by the system's libjpeg-turbo ([`turbo`], feature `turbojpeg`) or else
//! `jpeg-decoder`'s `scale` ([`jpeg`]). Camera raw files show the JPEG preview they hold
//! ([`raw`]). HEIC and AVIF go through libheif ([`heif`]); PNG (APNG's first frame), WebP, GIF,
//! BMP, Netpbm and TIFF through the `image` crate ([`raster`]), with the TIFFs it cannot read
//! handed to the system libtiff ([`libtiff`], feature `libtiff`). Formats are recognised by
//! their bytes, not their names. Every decoder runs under `catch_unwind`, and header sizes are
//! checked against a pixel limit before any pixel buffer is allocated.

mod heif;
mod ifd;
mod jpeg;
#[cfg(feature = "libtiff")]
mod libtiff;
mod metadata;
mod raster;
mod raw;
pub mod thumbs;
#[cfg(feature = "turbojpeg")]
pub mod turbo;
pub mod xmp;

use std::io::Cursor;

pub use raw::RAW_FORMATS;

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
    /// A JPEG with more pictures after it (Multi-Picture Format: stereo pairs, Fujifilm's).
    Mpo,
    Other(ImageFormat),
    Heif,
    Avif,
    /// A camera raw file, by its catalog name (`nef`, `cr3`, …).
    Raw(&'static str),
}

fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        // The major brand, then the compatible ones (an AVIF may say `mif1` first).
        let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let compatible = bytes
            .get(16..size.min(bytes.len()).min(256))
            .unwrap_or_default();
        let brands: Vec<&[u8]> = std::iter::once(&bytes[8..12])
            .chain(compatible.chunks_exact(4))
            .collect();
        if brands.iter().any(|b| *b == b"avif" || *b == b"avis") {
            return Some(Format::Avif);
        }
        if [
            b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1",
        ]
        .iter()
        .any(|b| brands[0] == *b)
        {
            return Some(Format::Heif);
        }
    }
    if let Some(name) = raw::sniff(bytes) {
        return Some(Format::Raw(name));
    }
    // BigTIFF, which `image` does not recognise but libtiff reads.
    if bytes.starts_with(b"II+\0") || bytes.starts_with(b"MM\0+") {
        return Some(Format::Other(ImageFormat::Tiff));
    }
    let format = image::guess_format(bytes).ok()?;
    if format == ImageFormat::Jpeg {
        Some(if jpeg::is_mpo(bytes) {
            Format::Mpo
        } else {
            Format::Jpeg
        })
    } else {
        [
            ImageFormat::Png,
            ImageFormat::WebP,
            ImageFormat::Gif,
            ImageFormat::Tiff,
            ImageFormat::Bmp,
            ImageFormat::Pnm,
        ]
        .contains(&format)
        .then_some(Format::Other(format))
    }
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Jpeg => "jpeg",
        Format::Mpo => "mpo",
        Format::Heif => "heic",
        Format::Avif => "avif",
        Format::Raw(name) => name,
        Format::Other(ImageFormat::Png) => "png",
        Format::Other(ImageFormat::WebP) => "webp",
        Format::Other(ImageFormat::Gif) => "gif",
        Format::Other(ImageFormat::Tiff) => "tiff",
        Format::Other(ImageFormat::Bmp) => "bmp",
        Format::Other(ImageFormat::Pnm) => "pnm",
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
        Format::Jpeg | Format::Mpo => jpeg::decode(bytes, min_side, limits),
        Format::Raw(name) => raw::decode(bytes, name, min_side, limits),
        Format::Other(f) => raster::decode(bytes, f, name, min_side, limits),
        Format::Heif => heif::decode(bytes, "HEIC", min_side, limits),
        Format::Avif => heif::decode(bytes, "AVIF", min_side, limits),
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
        (Format::Jpeg | Format::Mpo | Format::Raw(_), None) => None,
        (Format::Other(_) | Format::Heif | Format::Avif, None) => exif::Reader::new()
            .read_from_container(&mut Cursor::new(bytes))
            .ok(),
    };
    let mut rgb = rgb;
    if let Some(exif) = exif {
        metadata::read(&exif, &mut facts);
        // libheif has already applied the container's rotation and mirroring.
        let orientation = facts
            .orientation
            .filter(|_| !matches!(format, Format::Heif | Format::Avif));
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

#[cfg(test)]
mod format_tests {
    use super::*;

    /// Where the fixture's red (or white) half ends up once decoded and turned upright.
    #[derive(Debug, Clone, Copy)]
    enum Layout {
        RedLeft,
        RedTop,
        RedBottom,
        WhiteLeft,
    }

    fn check_layout(name: &str, rgb: &RgbImage, layout: Layout) {
        let (w, h) = rgb.dimensions();
        let at = |x: u32, y: u32| rgb.get_pixel(x, y).0;
        let (first, second) = match layout {
            Layout::RedLeft | Layout::WhiteLeft => (at(w / 8, h / 2), at(w - 1 - w / 8, h / 2)),
            Layout::RedTop => (at(w / 2, h / 8), at(w / 2, h - 1 - h / 8)),
            Layout::RedBottom => (at(w / 2, h - 1 - h / 8), at(w / 2, h / 8)),
        };
        if let Layout::WhiteLeft = layout {
            assert!(first.iter().all(|&c| c > 200), "{name}: {first:?}");
            assert!(second.iter().all(|&c| c < 50), "{name}: {second:?}");
        } else {
            assert!(
                first[0] > 150 && first[2] < 90,
                "{name}: red half {first:?}"
            );
            assert!(
                second[2] > 150 && second[0] < 90,
                "{name}: blue half {second:?}"
            );
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/formats")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Every fixture `tests/fixtures/formats/make.py` writes (but the one without a preview),
    /// decoded, the right way up, with its facts.
    #[test]
    fn every_format_decodes_upright_with_its_facts() {
        use Layout::*;
        let nikon = Some("NIKON CORPORATION");
        type Case<'a> = (&'a str, &'a str, (u32, u32), Layout, Option<&'a str>);
        let cases: &[Case] = &[
            ("animated.apng", "png", (96, 64), RedLeft, None),
            ("stereo.mpo", "mpo", (96, 64), RedLeft, Some("TroveCam")),
            ("photo.ppm", "pnm", (96, 64), RedLeft, None),
            ("photo.pam", "pnm", (96, 64), RedLeft, None),
            ("grey.pgm", "pnm", (96, 64), WhiteLeft, None),
            ("bits.pbm", "pnm", (96, 64), WhiteLeft, None),
            ("rgb16.tif", "tiff", (96, 64), RedLeft, None),
            ("palette.tif", "tiff", (96, 64), RedLeft, None),
            ("cielab.tif", "tiff", (96, 64), RedLeft, None),
            ("jpeg-ycbcr.tif", "tiff", (96, 64), RedLeft, None),
            ("lzw-predictor.tif", "tiff", (96, 64), RedLeft, None),
            (
                "deflate-predictor-tiled.tif",
                "tiff",
                (96, 64),
                RedLeft,
                None,
            ),
            ("bigtiff.tif", "tiff", (96, 64), RedLeft, None),
            ("cmyk.tif", "tiff", (96, 64), RedLeft, None),
            ("multipage.tif", "tiff", (96, 64), RedLeft, None),
            ("nikon.nef", "nef", (128, 192), RedBottom, nikon),
            ("canon.cr2", "cr2", (192, 128), RedLeft, Some("Canon")),
            ("canon.cr3", "cr3", (128, 192), RedTop, Some("Canon")),
            ("sony.arw", "arw", (192, 128), RedLeft, Some("SONY")),
            ("pixel.dng", "dng", (192, 128), RedLeft, Some("Google")),
            (
                "olympus.orf",
                "orf",
                (192, 128),
                RedLeft,
                Some("OLYMPUS CORPORATION"),
            ),
            (
                "panasonic.rw2",
                "rw2",
                (192, 128),
                RedLeft,
                Some("Panasonic"),
            ),
            ("fujifilm.raf", "raf", (192, 128), RedLeft, Some("FUJIFILM")),
        ];
        #[cfg(feature = "heic")]
        let cases = [
            cases,
            &[("photo.avif", "avif", (96, 64), RedLeft, Some("TroveCam"))][..],
        ]
        .concat();
        for &(name, format, size, layout, make) in cases.iter() {
            #[cfg(not(feature = "libtiff"))]
            if ["palette.tif", "cielab.tif", "jpeg-ycbcr.tif", "bigtiff.tif"].contains(&name) {
                continue;
            }
            let d = decode(&fixture(name), 32, DecodeLimits::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(d.facts.format, format, "{name}");
            assert_eq!((d.facts.width, d.facts.height), size, "{name}");
            let (w, h) = d.rgb.dimensions();
            assert_eq!(w * size.1, h * size.0, "{name}: {w}x{h} keeps the shape");
            assert!(w.min(h) >= 32, "{name}: {w}x{h} has the pixels asked for");
            check_layout(name, &d.rgb, layout);
            assert_eq!(d.facts.camera_make.as_deref(), make, "{name}");
            if make.is_some() {
                assert_eq!(
                    d.facts.taken_at.as_deref(),
                    Some("2024-05-01T13:45:10"),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn what_cannot_be_shown_says_why() {
        let err = decode(&fixture("no-preview.dng"), 32, DecodeLimits::default())
            .expect_err("no preview")
            .to_string();
        assert!(
            err.contains("DNG camera raw file holds no preview"),
            "{err}"
        );
        // A TIFF whose compression neither decoder knows: what it is, not "damaged".
        let mut tiff = fixture("lzw-predictor.tif");
        let t = ifd::Tiff::parse(&tiff).expect("a TIFF");
        let _ = t;
        let at = find_entry(&tiff, 259).expect("has a compression tag");
        tiff[at + 8..at + 10].copy_from_slice(&34712u16.to_le_bytes());
        let err = decode(&tiff, 32, DecodeLimits::default())
            .expect_err("JPEG 2000")
            .to_string();
        assert!(
            err.contains("this TIFF uses RGB colour, JPEG 2000 compression, 8-bit"),
            "{err}"
        );
        // A raw whose preview is cut short gets no half picture.
        let mut nef = fixture("nikon.nef");
        let start = memchr::memmem::find(&nef, &[0xFF, 0xD8, 0xFF]).expect("a preview");
        nef[start + 400..start + 1200].fill(0);
        nef.truncate(start + 1200);
        let err = decode(&nef, 32, DecodeLimits::default()).expect_err("cut");
        assert!(!err.to_string().is_empty());
    }

    /// The offset of `tag`'s entry in IFD0 of a little-endian classic TIFF.
    fn find_entry(tiff: &[u8], tag: u16) -> Option<usize> {
        let ifd0 = u32::from_le_bytes(tiff[4..8].try_into().ok()?) as usize;
        let n = usize::from(u16::from_le_bytes(tiff[ifd0..ifd0 + 2].try_into().ok()?));
        (0..n)
            .map(|i| ifd0 + 2 + i * 12)
            .find(|&at| u16::from_le_bytes([tiff[at], tiff[at + 1]]) == tag)
    }
}
