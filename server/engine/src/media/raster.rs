//! PNG, WebP, GIF (first frame), TIFF and BMP through the `image` crate, with its allocation
//! limits set from the header's size, reduced to the scale needed.

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
