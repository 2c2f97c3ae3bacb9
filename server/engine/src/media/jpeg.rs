//! JPEG: libjpeg-turbo first (DCT-scaled, feature `turbojpeg`), `jpeg-decoder` (DCT-scaled too)
//! for what it cannot read, such as CMYK, and in builds without it.

use std::io::Cursor;

use image::RgbImage;

use super::{check_pixels, DecodeError, DecodeLimits, Raw};

pub(super) fn decode(
    bytes: &[u8],
    min_side: u32,
    limits: DecodeLimits,
) -> Result<Raw, DecodeError> {
    // A scan bomb is refused before either decoder sees it.
    let scans = scan_count(bytes);
    if scans > MAX_SCANS {
        return Err(DecodeError::Corrupt {
            format: "JPEG",
            detail: format!(
                "it has {scans} scans, more than the {MAX_SCANS} any real photo needs \
                 (a decompression bomb)"
            ),
        });
    }
    // libjpeg-turbo first; what it cannot read (CMYK, say) goes to jpeg-decoder, whose
    // message is the one reported if neither can.
    #[cfg(feature = "turbojpeg")]
    if let Ok(jpeg) = super::turbo::Jpeg::open(bytes) {
        let (w, h) = jpeg.size();
        check_pixels(u64::from(w), u64::from(h), limits)?;
        if let Ok((pixels, sw, sh)) = jpeg.decode(min_side) {
            if let Some(img) = RgbImage::from_raw(sw, sh, pixels) {
                return Ok((img, w, h, super::turbo::exif(bytes)));
            }
        }
    }
    decode_rust(bytes, min_side, limits)
}

/// Whether the JPEG carries a Multi-Picture Format index (an `APP2` segment starting `MPF`):
/// an MPO, whose first picture is this JPEG and the others follow it.
pub(super) fn is_mpo(bytes: &[u8]) -> bool {
    super::markers::segments(bytes)
        .any(|(marker, body)| marker == 0xE2 && body.starts_with(b"MPF\0"))
}

/// The most scans a JPEG may have (libjpeg-turbo's own limit with `TJFLAG_LIMITSCANS`).
pub const MAX_SCANS: usize = 500;

/// How many start-of-scan markers the file holds. Entropy-coded data never contains `FF DA`
/// (a data `FF` is always followed by `00` or a restart marker), so this counts the scans, plus
/// those of any small JPEG embedded in a metadata segment.
fn scan_count(bytes: &[u8]) -> usize {
    memchr::memmem::find_iter(bytes, &[0xFF, 0xDA]).count()
}

/// `jpeg-decoder`, DCT-scaled too: the fallback, and the decoder of builds without libjpeg-turbo.
fn decode_rust(bytes: &[u8], min_side: u32, limits: DecodeLimits) -> Result<Raw, DecodeError> {
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
