//! HEIC/HEIF and AVIF through the system libheif (feature `heic`; AVIF needs a libheif built
//! with an AV1 decoder, as Debian's and Homebrew's are), using an embedded thumbnail of the
//! same shape when it has enough pixels.

#[cfg(feature = "heic")]
use image::RgbImage;

#[cfg(feature = "heic")]
use super::check_pixels;
use super::{DecodeError, DecodeLimits, Raw};

#[cfg(feature = "heic")]
pub(super) fn decode(
    bytes: &[u8],
    format: &'static str,
    min_side: u32,
    limits: DecodeLimits,
) -> Result<Raw, DecodeError> {
    use libheif_rs::{ColorSpace, HeifContext, ItemId, LibHeif, RgbChroma};
    static LIB: std::sync::OnceLock<LibHeif> = std::sync::OnceLock::new();
    let lib = LIB.get_or_init(LibHeif::new);
    let corrupt = |e: libheif_rs::HeifError| DecodeError::Corrupt {
        format,
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
        format,
        detail: "no interleaved RGB plane".into(),
    })?;
    let (pw, ph) = (plane.width, plane.height);
    let row = pw as usize * 3;
    let mut rgb = Vec::with_capacity(row * ph as usize);
    for y in 0..ph as usize {
        let start = y * plane.stride;
        rgb.extend_from_slice(plane.data.get(start..start + row).ok_or_else(|| {
            DecodeError::Corrupt {
                format,
                detail: "short pixel rows".into(),
            }
        })?);
    }
    let img = RgbImage::from_raw(pw, ph, rgb).ok_or_else(|| DecodeError::Corrupt {
        format,
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
pub(super) fn decode(
    _: &[u8],
    format: &'static str,
    _: u32,
    _: DecodeLimits,
) -> Result<Raw, DecodeError> {
    Err(DecodeError::Unsupported(format!(
        "{format} images need Trove built with the `heic` feature (libheif)"
    )))
}
