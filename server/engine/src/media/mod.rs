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
mod iptc;
mod jpeg;
#[cfg(feature = "libtiff")]
mod libtiff;
mod markers;
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

/// What a file says about its picture in its own metadata: its XMP packet, and its IPTC block
/// for what the XMP does not say. `None` when it says nothing.
pub fn described(bytes: &[u8]) -> Option<xmp::Described> {
    let mut d = xmp::find_packet(bytes)
        .map(xmp::Described::parse)
        .unwrap_or_default();
    if let Some(iptc) = iptc::find(bytes) {
        d.merge(iptc);
    }
    (!d.is_empty()).then_some(d)
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
mod tests;
