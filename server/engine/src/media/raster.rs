//! PNG (APNG: the first frame), WebP, GIF (first frame), TIFF (first page), BMP and Netpbm
//! through the `image` crate, with its allocation limits set from the header's size, reduced to
//! the scale needed. TIFFs it cannot read go to libtiff where Trove is built with it, and
//! otherwise get a reason that says what the TIFF holds.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use super::{check_pixels, DecodeError, DecodeLimits, Raw};

pub(super) fn decode(
    bytes: &[u8],
    format: ImageFormat,
    name: &'static str,
    min_side: u32,
    limits: DecodeLimits,
) -> Result<Raw, DecodeError> {
    match decode_image(bytes, format, name, min_side, limits) {
        Err(DecodeError::Corrupt { detail, .. }) if format == ImageFormat::Tiff => {
            tiff_fallback(bytes, detail, min_side, limits)
        }
        other => other,
    }
}

/// A TIFF the `image` crate refused (`detail` is why): libtiff reads it where Trove is built
/// with it; otherwise, or when libtiff cannot either, the reason says what the TIFF holds.
fn tiff_fallback(
    bytes: &[u8],
    detail: String,
    min_side: u32,
    limits: DecodeLimits,
) -> Result<Raw, DecodeError> {
    let unsupported = detail.contains("not support") || detail.contains("nsupported");
    #[cfg(feature = "libtiff")]
    let detail = match super::libtiff::decode(bytes, limits) {
        Ok((img, w, h)) => return Ok((shrink(DynamicImage::ImageRgb8(img), min_side), w, h, None)),
        Err(super::libtiff::Failure::Limit(e)) => return Err(e),
        Err(super::libtiff::Failure::Unreadable(why)) => why,
    };
    #[cfg(not(feature = "libtiff"))]
    let _ = (min_side, limits);
    let what = super::ifd::describe(bytes);
    Err(match what {
        Some(what) if unsupported => DecodeError::Unsupported(format!(
            "this TIFF uses {what}, which Trove cannot read yet ({detail})"
        )),
        _ => DecodeError::Corrupt {
            format: "TIFF",
            detail,
        },
    })
}

fn decode_image(
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
    Ok((shrink(img, min_side), w, h, None))
}

/// Reduces a decoded picture to at least `min_side` on its shorter side, when it is more than
/// twice that.
fn shrink(img: DynamicImage, min_side: u32) -> image::RgbImage {
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
    img.into_rgb8()
}
