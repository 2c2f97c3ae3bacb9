//! JPEG decoding with the system's libjpeg-turbo (TurboJPEG 2 API, Debian's
//! `libturbojpeg0-dev`), DCT-scaled: the fastest way to get a 12 MP photo down to thumbnail size
//! (its Huffman decoder and SIMD IDCT are several times faster than `jpeg-decoder`'s); and the
//! thumbnails' encoding, several times faster than the `image` crate's encoder. Only the
//! TurboJPEG 2 calls that libjpeg-turbo 2.0 to 3.x all export are used.
//!
//! Every call passes a buffer together with its true length, output buffers are allocated at
//! the size TurboJPEG was told (for encoding, its own worst-case bound, with reallocation
//! forbidden), and the handle is freed on every path.

#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_uchar, c_ulong, c_void, CStr};

#[repr(C)]
#[derive(Clone, Copy)]
struct ScalingFactor {
    num: c_int,
    denom: c_int,
}

#[link(name = "turbojpeg")]
extern "C" {
    fn tjInitDecompress() -> *mut c_void;
    fn tjDecompressHeader3(
        handle: *mut c_void,
        jpeg: *const c_uchar,
        size: c_ulong,
        width: *mut c_int,
        height: *mut c_int,
        subsampling: *mut c_int,
        colorspace: *mut c_int,
    ) -> c_int;
    fn tjGetScalingFactors(count: *mut c_int) -> *mut ScalingFactor;
    fn tjDecompress2(
        handle: *mut c_void,
        jpeg: *const c_uchar,
        size: c_ulong,
        dst: *mut c_uchar,
        width: c_int,
        pitch: c_int,
        height: c_int,
        pixel_format: c_int,
        flags: c_int,
    ) -> c_int;
    fn tjInitCompress() -> *mut c_void;
    fn tjBufSize(width: c_int, height: c_int, subsampling: c_int) -> c_ulong;
    #[allow(clippy::too_many_arguments)]
    fn tjCompress2(
        handle: *mut c_void,
        src: *const c_uchar,
        width: c_int,
        pitch: c_int,
        height: c_int,
        pixel_format: c_int,
        jpeg: *mut *mut c_uchar,
        size: *mut c_ulong,
        subsampling: c_int,
        quality: c_int,
        flags: c_int,
    ) -> c_int;
    fn tjGetErrorStr2(handle: *mut c_void) -> *mut c_char;
    fn tjDestroy(handle: *mut c_void) -> c_int;
}

/// `TJPF_RGB`: three bytes per pixel, red first.
const TJPF_RGB: c_int = 0;

/// `TJFLAG_LIMITSCANS`: refuse a progressive JPEG of more than 500 scans (a decompression bomb:
/// each scan is another pass over the whole image).
const TJFLAG_LIMITSCANS: c_int = 32768;

/// `TJSAMP_420`: chroma at half resolution both ways, as cameras and browsers expect.
const TJSAMP_420: c_int = 2;

/// `TJFLAG_NOREALLOC`: write into the buffer given, never a reallocated one.
const TJFLAG_NOREALLOC: c_int = 1024;

/// A decompressor or compressor handle, destroyed on drop.
struct Handle(*mut c_void);

impl Handle {
    fn new() -> Result<Self, String> {
        // SAFETY: no arguments; a null result is checked.
        Self::checked(unsafe { tjInitDecompress() }, "a decoder")
    }

    fn compressor() -> Result<Self, String> {
        // SAFETY: no arguments; a null result is checked.
        Self::checked(unsafe { tjInitCompress() }, "an encoder")
    }

    fn checked(h: *mut c_void, what: &str) -> Result<Self, String> {
        if h.is_null() {
            Err(format!("libjpeg-turbo could not start {what}"))
        } else {
            Ok(Handle(h))
        }
    }

    fn error(&self) -> String {
        // SAFETY: the handle is live; TurboJPEG returns a NUL-terminated static or per-handle
        // string, copied out before the handle can go away.
        unsafe {
            let s = tjGetErrorStr2(self.0);
            if s.is_null() {
                "unknown error".into()
            } else {
                CStr::from_ptr(s).to_string_lossy().trim().to_owned()
            }
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: created by tjInitDecompress or tjInitCompress and destroyed exactly once.
        unsafe {
            tjDestroy(self.0);
        }
    }
}

/// A JPEG whose header has been read: its size is known before any pixel is decoded, so the
/// caller can check it against its limits, and the same decoder then decodes it.
pub struct Jpeg<'a> {
    handle: Handle,
    bytes: &'a [u8],
    size: c_ulong,
    width: u32,
    height: u32,
}

impl<'a> Jpeg<'a> {
    /// Reads the header of the JPEG in `bytes`.
    pub fn open(bytes: &'a [u8]) -> Result<Self, String> {
        let handle = Handle::new()?;
        let (mut w, mut h, mut sub, mut cs) = (0, 0, 0, 0);
        let size =
            c_ulong::try_from(bytes.len()).map_err(|_| "the file is too large".to_owned())?;
        // SAFETY: `bytes` is valid for `size` bytes; the out-pointers are to live locals.
        let rc = unsafe {
            tjDecompressHeader3(
                handle.0,
                bytes.as_ptr(),
                size,
                &mut w,
                &mut h,
                &mut sub,
                &mut cs,
            )
        };
        if rc != 0 {
            return Err(handle.error());
        }
        match (u32::try_from(w), u32::try_from(h)) {
            (Ok(width), Ok(height)) if width > 0 && height > 0 => Ok(Jpeg {
                handle,
                bytes,
                size,
                width,
                height,
            }),
            _ => Err("the header says it has no pixels".into()),
        }
    }

    /// Width and height from the header.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Decodes to RGB at the smallest DCT scale whose shorter side is at least `min_side` (the
    /// full size when the image is smaller). Any libjpeg warning (a truncated file, say) is an
    /// error here, so damaged files are reported rather than half-decoded.
    pub fn decode(self, min_side: u32) -> Result<(Vec<u8>, u32, u32), String> {
        let (sw, sh) = scaled(self.width, self.height, min_side);
        let pitch = sw as usize * 3;
        let mut out = vec![0u8; pitch * sh as usize];
        let int = |v: usize| c_int::try_from(v).map_err(|_| "the image is too large".to_owned());
        // SAFETY: `bytes` is valid for `size` bytes; `out` holds exactly pitch × sh bytes, the
        // size TurboJPEG is asked to write (sw × sh RGB at `pitch` bytes a row).
        let rc = unsafe {
            tjDecompress2(
                self.handle.0,
                self.bytes.as_ptr(),
                self.size,
                out.as_mut_ptr(),
                int(sw as usize)?,
                int(pitch)?,
                int(sh as usize)?,
                TJPF_RGB,
                TJFLAG_LIMITSCANS,
            )
        };
        if rc != 0 {
            return Err(self.handle.error());
        }
        Ok((out, sw, sh))
    }
}

/// `rgb` (`width × height` pixels, three bytes each, red first) as a baseline 4:2:0 JPEG at
/// `quality` (1–100).
pub fn encode(rgb: &[u8], width: u32, height: u32, quality: u8) -> Result<Vec<u8>, String> {
    let int = |v: usize| c_int::try_from(v).map_err(|_| "the image is too large".to_owned());
    let (w, h) = (int(width as usize)?, int(height as usize)?);
    let pitch = int(width as usize * 3)?;
    if w == 0 || h == 0 || rgb.len() != width as usize * height as usize * 3 {
        return Err("the pixel buffer does not match the size".into());
    }
    let handle = Handle::compressor()?;
    // SAFETY: a pure function of its arguments.
    let bound = unsafe { tjBufSize(w, h, TJSAMP_420) };
    let capacity = usize::try_from(bound)
        .ok()
        .filter(|&b| b > 0 && bound != c_ulong::MAX)
        .ok_or("the image is too large")?;
    let mut out = vec![0u8; capacity];
    let mut ptr = out.as_mut_ptr();
    let mut size = bound;
    // SAFETY: `rgb` holds exactly h rows of `pitch` bytes (checked above); `out` holds `bound`
    // bytes, TurboJPEG's own worst case for this size and subsampling, and NOREALLOC forbids
    // it to write anywhere else; `size` tells it that capacity and receives the length.
    let rc = unsafe {
        tjCompress2(
            handle.0,
            rgb.as_ptr(),
            w,
            pitch,
            h,
            TJPF_RGB,
            &mut ptr,
            &mut size,
            TJSAMP_420,
            c_int::from(quality.clamp(1, 100)),
            TJFLAG_NOREALLOC,
        )
    };
    if rc != 0 {
        return Err(handle.error());
    }
    let len = usize::try_from(size).map_err(|_| "the encoder's output is too large".to_owned())?;
    if !std::ptr::eq(ptr, out.as_ptr()) || len > out.len() {
        return Err("the encoder wrote outside its buffer".into());
    }
    out.truncate(len);
    Ok(out)
}

/// The scaled size for the smallest of TurboJPEG's scaling factors (1/8, 1/4, 3/8, … 1) that
/// keeps the shorter side at least `min_side`.
fn scaled(w: u32, h: u32, min_side: u32) -> (u32, u32) {
    let mut count: c_int = 0;
    // SAFETY: returns a pointer to a static table of `count` factors (or null).
    let table = unsafe { tjGetScalingFactors(&mut count) };
    let factors: Vec<ScalingFactor> = if table.is_null() || count <= 0 {
        Vec::new()
    } else {
        // SAFETY: the static table holds `count` entries and lives for the whole program.
        unsafe { std::slice::from_raw_parts(table, usize::try_from(count).unwrap_or(0)) }.to_vec()
    };
    let apply = |dim: u32, f: ScalingFactor| -> u32 {
        let (num, denom) = (
            u64::from(f.num.unsigned_abs()),
            u64::from(f.denom.unsigned_abs()).max(1),
        );
        ((u64::from(dim) * num).div_ceil(denom)) as u32
    };
    factors
        .into_iter()
        .filter(|f| f.num > 0 && f.num <= f.denom)
        .map(|f| (apply(w, f), apply(h, f)))
        .filter(|&(sw, sh)| sw.min(sh) >= min_side.min(w.min(h)))
        .min_by_key(|&(sw, sh)| u64::from(sw) * u64::from(sh))
        .unwrap_or((w, h))
}

/// The raw EXIF (TIFF) data of a JPEG's APP1 segment, if it has one.
pub fn exif(bytes: &[u8]) -> Option<Vec<u8>> {
    super::markers::segments(bytes)
        .find_map(|(marker, body)| body.strip_prefix(b"Exif\0\0").filter(|_| marker == 0xE1))
        .map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&img)
            .expect("encodes");
        out.into_inner()
    }

    #[test]
    fn decodes_at_the_smallest_scale_that_keeps_the_short_side() {
        let bytes = jpeg(1600, 1200);
        let decode = |min_side| Jpeg::open(&bytes).and_then(|j| j.decode(min_side));
        assert_eq!(Jpeg::open(&bytes).map(|j| j.size()), Ok((1600, 1200)));
        let (px, w, h) = decode(224).expect("decodes");
        // 1/4 gives 400×300 (short side 300 ≥ 224); 1/8 would give 150.
        assert_eq!((w, h), (400, 300));
        assert_eq!(px.len(), 400 * 300 * 3);
        let (_, w, h) = decode(2000).expect("decodes");
        assert_eq!((w, h), (1600, 1200), "never enlarged");
        // The colours survive: the blue channel is flat 90.
        assert!(px.chunks_exact(3).all(|p| p[2].abs_diff(90) < 12));
    }

    #[test]
    fn damaged_data_is_an_error_with_libjpegs_words() {
        let bytes = jpeg(640, 480);
        let truncated = &bytes[..bytes.len() / 2];
        let decode = |b: &[u8]| Jpeg::open(b).and_then(|j| j.decode(64));
        let err = decode(truncated).expect_err("truncated");
        assert!(!err.is_empty());
        assert!(decode(b"\xFF\xD8\xFF\xE0 not a jpeg").is_err());
        assert!(decode(b"").is_err());
    }
}
