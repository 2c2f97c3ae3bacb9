//! TIFFs the `image` crate cannot read (palette, CIELab, JPEG-compressed YCbCr, and others
//! photo tools write), through the system libtiff (feature `libtiff`; Debian: libtiff-dev,
//! macOS: brew libtiff), by way of the small C shim in `csrc/tiff_shim.c`: the first page as
//! 8-bit RGB, as stored (the caller applies the orientation), with libtiff's own message when
//! it cannot.
#![allow(unsafe_code)]

use std::ffi::{c_char, CStr};

use image::RgbImage;

use super::{check_pixels, DecodeLimits};

extern "C" {
    fn trove_tiff_decode(
        data: *const u8,
        len: u64,
        max_pixels: u64,
        out: *mut *mut u32,
        width: *mut u32,
        height: *mut u32,
        err: *mut c_char,
        err_len: usize,
    ) -> i32;
    fn trove_tiff_free(raster: *mut u32);
}

/// Why libtiff did not decode a file.
#[derive(Debug)]
pub(super) enum Failure {
    /// Over the pixel limit (the error to report).
    Limit(super::DecodeError),
    /// libtiff's message.
    Unreadable(String),
}

/// The first page's pixels (as stored) and its size.
pub(super) fn decode(bytes: &[u8], limits: DecodeLimits) -> Result<(RgbImage, u32, u32), Failure> {
    let mut raster: *mut u32 = std::ptr::null_mut();
    let (mut w, mut h) = (0u32, 0u32);
    let mut err = [0 as c_char; 512];
    // SAFETY: the shim reads only `bytes` (pointer and length from one slice) and writes only
    // the out-parameters given here, `err` within its length included.
    let rc = unsafe {
        trove_tiff_decode(
            bytes.as_ptr(),
            bytes.len() as u64,
            limits.max_pixels,
            &mut raster,
            &mut w,
            &mut h,
            err.as_mut_ptr(),
            err.len(),
        )
    };
    match rc {
        0 => {
            let n = w as usize * h as usize;
            // SAFETY: on success the shim hands over a malloc'd raster of exactly w*h pixels,
            // freed below and nowhere else.
            let pixels = unsafe { std::slice::from_raw_parts(raster, n) };
            let rgb: Vec<u8> = pixels
                .iter()
                .flat_map(|&p| [p as u8, (p >> 8) as u8, (p >> 16) as u8])
                .collect();
            // SAFETY: `raster` came from the shim's malloc and is not used after this.
            unsafe { trove_tiff_free(raster) };
            let img = RgbImage::from_raw(w, h, rgb)
                .ok_or_else(|| Failure::Unreadable("inconsistent pixel buffer".into()))?;
            Ok((img, w, h))
        }
        1 => Err(Failure::Limit(
            check_pixels(u64::from(w), u64::from(h), limits)
                .expect_err("the shim refused it for its pixel count"),
        )),
        _ => {
            // SAFETY: the shim always leaves `err` NUL-terminated within its length.
            let message = unsafe { CStr::from_ptr(err.as_ptr()) }
                .to_string_lossy()
                .trim()
                .to_owned();
            Err(Failure::Unreadable(if message.is_empty() {
                "libtiff cannot read it".into()
            } else {
                message
            }))
        }
    }
}
