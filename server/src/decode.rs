//! Decoding any supported image file to RGB at the scale the catalog needs, with its facts
//! (format, displayed size, EXIF) and a reason a person understands when it cannot be done.
//!
//! JPEGs are decoded DCT-scaled (libjpeg's trick): a 12 MP photo needed at 256 px is decoded at
//! 1/8 size, several times faster than a full decode, by the system's libjpeg-turbo
//! ([`crate::turbo`], feature `turbojpeg`) or else `jpeg-decoder`'s `scale`. Formats
//! are recognised by their bytes, not their names. Every decoder runs under `catch_unwind`, and
//! header sizes are checked against a pixel limit before any pixel buffer is allocated.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits, RgbImage};

use crate::store::ImageFacts;

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
    #[error("not an image Trove can read (the file starts like {0})")]
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
        Format::Jpeg => decode_jpeg(bytes, min_side, limits),
        Format::Other(f) => decode_other(bytes, f, name, min_side, limits),
        Format::Heif => decode_heif(bytes, min_side, limits),
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
        read_exif(&exif, &mut facts);
        // libheif has already applied the container's rotation and mirroring.
        let orientation = facts.orientation.filter(|_| format != Format::Heif);
        if let Some(o) = orientation.filter(|o| (2..=8).contains(o)) {
            rgb = orient(rgb, o);
            if o >= 5 {
                std::mem::swap(&mut facts.width, &mut facts.height);
            }
        }
    }
    Ok(Decoded { rgb, facts })
}

/// What the first bytes look like, for the "not an image" message.
fn describe_start(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(16)];
    if head
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        format!("text: {:?}", String::from_utf8_lossy(head))
    } else {
        let hex: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("bytes {}", hex.join(" "))
    }
}

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

fn decode_jpeg(bytes: &[u8], min_side: u32, limits: DecodeLimits) -> Result<Raw, DecodeError> {
    // libjpeg-turbo first; what it cannot read (CMYK, say) goes to jpeg-decoder, whose
    // message is the one reported if neither can.
    #[cfg(feature = "turbojpeg")]
    if let Ok(jpeg) = crate::turbo::Jpeg::open(bytes) {
        let (w, h) = jpeg.size();
        check_pixels(u64::from(w), u64::from(h), limits)?;
        if let Ok((pixels, sw, sh)) = jpeg.decode(min_side) {
            if let Some(img) = RgbImage::from_raw(sw, sh, pixels) {
                return Ok((img, w, h, crate::turbo::exif(bytes)));
            }
        }
    }
    decode_jpeg_rust(bytes, min_side, limits)
}

/// `jpeg-decoder`, DCT-scaled too: the fallback, and the decoder of builds without libjpeg-turbo.
fn decode_jpeg_rust(bytes: &[u8], min_side: u32, limits: DecodeLimits) -> Result<Raw, DecodeError> {
    let corrupt = |e: jpeg_decoder::Error| DecodeError::Corrupt {
        format: "JPEG",
        detail: e.to_string(),
    };
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder.read_info().map_err(corrupt)?;
    let info = decoder.info().ok_or_else(|| DecodeError::Corrupt {
        format: "JPEG",
        detail: "no frame header".into(),
    })?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    check_pixels(u64::from(w), u64::from(h), limits)?;
    let short = w.min(h).max(1);
    let want = |side: u32| -> u16 {
        u16::try_from((u64::from(side) * u64::from(min_side)).div_ceil(u64::from(short)))
            .unwrap_or(u16::MAX)
    };
    let (sw, sh) = if short > min_side {
        decoder.scale(want(w), want(h)).map_err(corrupt)?
    } else {
        (info.width, info.height)
    };
    let pixels = decoder.decode().map_err(corrupt)?;
    let exif = decoder.exif_data().map(<[u8]>::to_vec);
    let (sw, sh) = (u32::from(sw), u32::from(sh));
    let n = (sw * sh) as usize;
    let rgb: Vec<u8> = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => pixels,
        jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
        jpeg_decoder::PixelFormat::L16 => pixels
            .chunks_exact(2)
            .flat_map(|c| [c[0], c[0], c[0]])
            .collect(),
        jpeg_decoder::PixelFormat::CMYK32 => pixels
            .chunks_exact(4)
            .flat_map(|c| {
                // Adobe JPEGs store inverted CMYK; jpeg-decoder hands back that convention.
                let k = u16::from(c[3]);
                [c[0], c[1], c[2]].map(|v| ((u16::from(v) * k) / 255) as u8)
            })
            .collect(),
    };
    if rgb.len() < n * 3 {
        return Err(DecodeError::Corrupt {
            format: "JPEG",
            detail: "fewer pixels than the header promises".into(),
        });
    }
    let img = RgbImage::from_raw(sw, sh, rgb).ok_or_else(|| DecodeError::Corrupt {
        format: "JPEG",
        detail: "inconsistent pixel buffer".into(),
    })?;
    Ok((img, w, h, exif))
}

fn decode_other(
    bytes: &[u8],
    format: ImageFormat,
    name: &'static str,
    min_side: u32,
    limits: DecodeLimits,
) -> Result<Raw, DecodeError> {
    let corrupt = |e: image::ImageError| DecodeError::Corrupt {
        format: name,
        detail: e.to_string(),
    };
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(corrupt)?;
    check_pixels(u64::from(w), u64::from(h), limits)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut lim = Limits::default();
    lim.max_image_width = Some(w);
    lim.max_image_height = Some(h);
    // Room for a 16-bit RGBA frame plus the decoder's own buffers.
    lim.max_alloc = Some(limits.max_pixels * 8 + (64 << 20));
    reader.limits(lim);
    let img: DynamicImage = reader.decode().map_err(corrupt)?;
    let (iw, ih) = (img.width(), img.height());
    let short = iw.min(ih).max(1);
    let img = if short > min_side * 2 {
        let scale = f64::from(min_side) / f64::from(short);
        let tw = ((f64::from(iw) * scale).ceil() as u32).max(min_side.min(iw));
        let th = ((f64::from(ih) * scale).ceil() as u32).max(min_side.min(ih));
        img.thumbnail_exact(tw, th)
    } else {
        img
    };
    Ok((img.into_rgb8(), w, h, None))
}

#[cfg(feature = "heic")]
fn decode_heif(bytes: &[u8], min_side: u32, limits: DecodeLimits) -> Result<Raw, DecodeError> {
    use libheif_rs::{ColorSpace, HeifContext, ItemId, LibHeif, RgbChroma};
    static LIB: std::sync::OnceLock<LibHeif> = std::sync::OnceLock::new();
    let lib = LIB.get_or_init(LibHeif::new);
    let corrupt = |e: libheif_rs::HeifError| DecodeError::Corrupt {
        format: "HEIC",
        detail: e.message,
    };
    let ctx = HeifContext::read_from_bytes(bytes).map_err(corrupt)?;
    let primary = ctx.primary_image_handle().map_err(corrupt)?;
    let (w, h) = (primary.width(), primary.height());
    check_pixels(u64::from(w), u64::from(h), limits)?;
    // An embedded thumbnail with the same shape and enough pixels saves the full HEVC decode.
    let mut ids: Vec<ItemId> = vec![0; primary.number_of_thumbnails()];
    let found = primary.thumbnail_ids(&mut ids);
    let thumb = ids[..found]
        .iter()
        .filter_map(|&id| primary.thumbnail(id).ok())
        .filter(|t| {
            let (tw, th) = (t.width(), t.height());
            tw.min(th) >= min_side
                && (u64::from(tw) * u64::from(h)).abs_diff(u64::from(th) * u64::from(w))
                    <= u64::from(w.max(h)) * 2
        })
        .min_by_key(|t| t.width() * t.height());
    let handle = thumb.as_ref().unwrap_or(&primary);
    let image = lib
        .decode(handle, ColorSpace::Rgb(RgbChroma::Rgb), None)
        .map_err(corrupt)?;
    let planes = image.planes();
    let plane = planes.interleaved.ok_or_else(|| DecodeError::Corrupt {
        format: "HEIC",
        detail: "no interleaved RGB plane".into(),
    })?;
    let (pw, ph) = (plane.width, plane.height);
    let row = pw as usize * 3;
    let mut rgb = Vec::with_capacity(row * ph as usize);
    for y in 0..ph as usize {
        let start = y * plane.stride;
        rgb.extend_from_slice(plane.data.get(start..start + row).ok_or_else(|| {
            DecodeError::Corrupt {
                format: "HEIC",
                detail: "short pixel rows".into(),
            }
        })?);
    }
    let img = RgbImage::from_raw(pw, ph, rgb).ok_or_else(|| DecodeError::Corrupt {
        format: "HEIC",
        detail: "inconsistent pixel buffer".into(),
    })?;
    let short = pw.min(ph).max(1);
    let img = if short > min_side * 2 {
        let scale = f64::from(min_side) / f64::from(short);
        let tw = ((f64::from(pw) * scale).ceil() as u32).max(1);
        let th = ((f64::from(ph) * scale).ceil() as u32).max(1);
        image::imageops::thumbnail(&img, tw, th)
    } else {
        img
    };
    Ok((img, w, h, None))
}

#[cfg(not(feature = "heic"))]
fn decode_heif(_: &[u8], _: u32, _: DecodeLimits) -> Result<Raw, DecodeError> {
    Err(DecodeError::Unsupported(
        "HEIC/HEIF images need Trove built with the `heic` feature (libheif)".into(),
    ))
}

/// Applies an EXIF orientation (2–8) to pixels.
fn orient(img: RgbImage, orientation: u16) -> RgbImage {
    use image::imageops;
    match orientation {
        2 => imageops::flip_horizontal(&img),
        3 => imageops::rotate180(&img),
        4 => imageops::flip_vertical(&img),
        5 => imageops::flip_horizontal(&imageops::rotate90(&img)),
        6 => imageops::rotate90(&img),
        7 => imageops::flip_horizontal(&imageops::rotate270(&img)),
        8 => imageops::rotate270(&img),
        _ => img,
    }
}

fn read_exif(exif: &exif::Exif, facts: &mut ImageFacts) {
    use exif::{In, Tag, Value};
    let text = |tag: Tag| {
        exif.get_field(tag, In::PRIMARY).and_then(|f| {
            let Value::Ascii(parts) = &f.value else {
                return None;
            };
            parts
                .first()
                .map(|p| {
                    String::from_utf8_lossy(p)
                        .trim()
                        .trim_end_matches('\0')
                        .to_owned()
                })
                .filter(|s| !s.is_empty())
        })
    };
    facts.camera_make = text(Tag::Make);
    facts.camera_model = text(Tag::Model);
    facts.lens = text(Tag::LensModel);
    facts.taken_at = text(Tag::DateTimeOriginal)
        .or_else(|| text(Tag::DateTime))
        .and_then(|s| exif_date(&s));
    facts.orientation = exif
        .get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|v| u16::try_from(v).ok());
    let coord = |tag: Tag, reference: Tag, negative: &str| -> Option<f64> {
        let field = exif.get_field(tag, In::PRIMARY)?;
        let Value::Rational(parts) = &field.value else {
            return None;
        };
        if parts.len() < 3 || parts.iter().any(|r| r.denom == 0) {
            return None;
        }
        let deg = parts[0].to_f64() + parts[1].to_f64() / 60.0 + parts[2].to_f64() / 3600.0;
        let sign = match text(reference) {
            Some(r) if r.eq_ignore_ascii_case(negative) => -1.0,
            _ => 1.0,
        };
        Some(sign * deg).filter(|v| v.is_finite())
    };
    facts.gps_lat = coord(Tag::GPSLatitude, Tag::GPSLatitudeRef, "S").filter(|v| v.abs() <= 90.0);
    facts.gps_lon =
        coord(Tag::GPSLongitude, Tag::GPSLongitudeRef, "W").filter(|v| v.abs() <= 180.0);
}

/// `2024:05:01 13:45:10` → `2024-05-01T13:45:10`; anything malformed → `None`.
fn exif_date(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4)
        && digits(5..7)
        && digits(8..10)
        && digits(11..13)
        && digits(14..16)
        && digits(17..19))
    {
        return None;
    }
    if &s[0..4] == "0000" {
        return None;
    }
    Some(format!(
        "{}-{}-{}T{}:{}:{}",
        &s[0..4],
        &s[5..7],
        &s[8..10],
        &s[11..13],
        &s[14..16],
        &s[17..19]
    ))
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
            text.contains("not an image") && text.contains("hello"),
            "{text}"
        );
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
        let bytes = include_bytes!("../tests/fixtures/red-left-blue-right.heic");
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
        let bytes = include_bytes!("../tests/fixtures/rotated-exif.jpg");
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

    #[test]
    fn exif_dates_become_iso() {
        assert_eq!(
            exif_date("2024:05:01 13:45:10").as_deref(),
            Some("2024-05-01T13:45:10")
        );
        assert_eq!(exif_date("0000:00:00 00:00:00"), None);
        assert_eq!(exif_date("garbage"), None);
    }
}
