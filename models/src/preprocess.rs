//! Image preprocessing from `preprocessor_config.json`, matching `transformers`' image
//! processors: CLIP resizes the shortest side (bicubic), centre-crops and normalises with CLIP's
//! mean and std; SigLIP resizes to the square size and normalises with 0.5/0.5.
//!
//! Resizing is PIL's own algorithm (Pillow 13's `Resample.c`: Keys' bicubic with a = -0.5 or
//! bilinear, widened when downscaling, fixed-point, two passes with an 8-bit intermediate), so
//! the result equals `transformers`' PIL image processors'.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// `size` / `crop_size` in a preprocessor config: an int or a dict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum SizeSpec {
    Square(usize),
    Shortest { shortest_edge: usize },
    Exact { height: usize, width: usize },
}

#[derive(Debug, Clone, Deserialize)]
struct RawConfig {
    #[serde(default = "yes")]
    do_resize: bool,
    size: Option<SizeSpec>,
    #[serde(default)]
    do_center_crop: bool,
    crop_size: Option<SizeSpec>,
    #[serde(default = "yes")]
    do_rescale: bool,
    #[serde(default = "default_rescale")]
    rescale_factor: f32,
    #[serde(default = "yes")]
    do_normalize: bool,
    image_mean: Option<[f32; 3]>,
    image_std: Option<[f32; 3]>,
    #[serde(default = "bicubic")]
    resample: u32,
}

fn yes() -> bool {
    true
}
fn default_rescale() -> f32 {
    1.0 / 255.0
}
fn bicubic() -> u32 {
    3
}

/// OpenAI CLIP's normalisation.
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// OpenAI CLIP's normalisation.
#[allow(clippy::excessive_precision)] // the published constants, digit for digit
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

/// How the image is resized before any crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resize {
    /// Scale so the shorter side has this length, keeping the aspect ratio (CLIP).
    ShortestEdge(usize),
    /// Scale to exactly `(height, width)` (SigLIP).
    Exact(usize, usize),
}

/// A preprocessing recipe.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessor {
    /// Resize step, if any.
    pub resize: Option<Resize>,
    /// Centre crop `(height, width)`, if any.
    pub crop: Option<(usize, usize)>,
    /// Multiplier from 0..255 (usually 1/255).
    pub rescale: Option<f32>,
    /// Per-channel mean and std, if normalising.
    pub normalize: Option<([f32; 3], [f32; 3])>,
    /// PIL resample code: 2 bilinear, 3 bicubic.
    pub resample: u32,
}

/// Preprocessed pixels: `[3, height, width]`, channel-major, f32.
#[derive(Debug, Clone, PartialEq)]
pub struct Pixels {
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
    /// `3 * height * width` values.
    pub data: Vec<f32>,
}

impl Preprocessor {
    /// Reads `preprocessor_config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        crate::error::read_config(path, Self::from_json)
    }

    /// Parses the text of a `preprocessor_config.json`.
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let raw: RawConfig = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if raw.resample != 2 && raw.resample != 3 {
            return Err(format!(
                "resample {} is not supported (2 = bilinear, 3 = bicubic)",
                raw.resample
            ));
        }
        let resize = match (raw.do_resize, raw.size) {
            (false, _) => None,
            (true, Some(SizeSpec::Shortest { shortest_edge })) => {
                Some(Resize::ShortestEdge(shortest_edge))
            }
            (true, Some(SizeSpec::Exact { height, width })) => Some(Resize::Exact(height, width)),
            (true, Some(SizeSpec::Square(n))) => Some(Resize::ShortestEdge(n)),
            (true, None) => return Err("do_resize is set but size is missing".into()),
        };
        let crop = match (raw.do_center_crop, raw.crop_size) {
            (false, _) => None,
            (true, Some(SizeSpec::Square(n) | SizeSpec::Shortest { shortest_edge: n })) => {
                Some((n, n))
            }
            (true, Some(SizeSpec::Exact { height, width })) => Some((height, width)),
            (true, None) => return Err("do_center_crop is set but crop_size is missing".into()),
        };
        let normalize = raw.do_normalize.then(|| {
            (
                raw.image_mean.unwrap_or(CLIP_MEAN),
                raw.image_std.unwrap_or(CLIP_STD),
            )
        });
        Ok(Preprocessor {
            resize,
            crop,
            rescale: raw.do_rescale.then_some(raw.rescale_factor),
            normalize,
            resample: raw.resample,
        })
    }

    /// The `(height, width)` of the output for an input of the given size.
    pub fn output_size(&self, height: usize, width: usize) -> (usize, usize) {
        let resized = self.resized_size(height, width);
        self.crop.unwrap_or(resized)
    }

    fn resized_size(&self, height: usize, width: usize) -> (usize, usize) {
        match self.resize {
            None => (height, width),
            Some(Resize::Exact(h, w)) => (h, w),
            // transformers' get_resize_output_image_size(default_to_square=False): the long
            // side is truncated, not rounded.
            Some(Resize::ShortestEdge(short)) => {
                if width <= height {
                    (short * height / width.max(1), short)
                } else {
                    (short, short * width / height.max(1))
                }
            }
        }
    }

    /// Preprocesses 8-bit RGB pixels (`width * height * 3` bytes, row-major, interleaved).
    pub fn prepare(&self, rgb: &[u8], width: usize, height: usize) -> Result<Pixels> {
        if width == 0 || height == 0 || rgb.len() != width * height * 3 {
            return Err(Error::Input(format!(
                "an RGB image of {width}x{height} needs {} bytes, got {}",
                width * height * 3,
                rgb.len()
            )));
        }
        let (rh, rw) = self.resized_size(height, width);
        let resized;
        let (pixels, w, h) = if (rh, rw) == (height, width) {
            (rgb, width, height)
        } else {
            resized = resize_rgb(rgb, width, height, rw, rh, self.resample)?;
            (resized.as_slice(), rw, rh)
        };
        let (ch, cw) = self.crop.unwrap_or((h, w));
        // transformers' center_crop: top = (h - crop_h) // 2; pads with zeros when the crop is
        // larger than the image.
        let top = (h as isize - ch as isize).div_euclid(2);
        let left = (w as isize - cw as isize).div_euclid(2);
        let scale = self.rescale.unwrap_or(1.0);
        let (mean, std) = self.normalize.unwrap_or(([0.0; 3], [1.0; 3]));
        let mut data = vec![0.0f32; 3 * ch * cw];
        for c in 0..3 {
            let zero = (0.0 - mean[c]) / std[c];
            let plane = &mut data[c * ch * cw..(c + 1) * ch * cw];
            for y in 0..ch {
                let sy = top + y as isize;
                for x in 0..cw {
                    let sx = left + x as isize;
                    plane[y * cw + x] = if sy < 0 || sx < 0 || sy >= h as isize || sx >= w as isize
                    {
                        zero
                    } else {
                        let v = pixels[(sy as usize * w + sx as usize) * 3 + c];
                        (f32::from(v) * scale - mean[c]) / std[c]
                    };
                }
            }
        }
        Ok(Pixels {
            height: ch,
            width: cw,
            data,
        })
    }
}

/// The two PIL filters preprocessor configs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    Bilinear,
    Bicubic,
}

impl Filter {
    fn support(self) -> f64 {
        match self {
            Filter::Bilinear => 1.0,
            Filter::Bicubic => 2.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            Filter::Bilinear => (1.0 - x).max(0.0),
            // Keys' cubic with a = -0.5, as PIL's bicubic_filter.
            Filter::Bicubic => {
                const A: f64 = -0.5;
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
        }
    }
}

/// PIL's fixed-point precision for 8-bit resampling.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Per output index: the first input index and fixed-point weights (PIL's precompute_coeffs
/// followed by normalize_coeffs_8bpc, Pillow's `Resample.c`).
fn coefficients(in_size: usize, out_size: usize, filter: Filter) -> Vec<(usize, Vec<i32>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let inv_filterscale = 1.0 / filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            // `as` truncates toward zero, as C's (int) cast does.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let weights: Vec<f64> = (xmin..xmax)
                .map(|x| filter.weight((x as f64 - center + 0.5) * inv_filterscale))
                .collect();
            let total: f64 = weights.iter().sum();
            let fixed = weights
                .iter()
                .map(|w| {
                    let w = if total == 0.0 { *w } else { w / total };
                    let scaled = w * f64::from(1u32 << PRECISION_BITS);
                    if w < 0.0 {
                        (scaled - 0.5) as i32
                    } else {
                        (scaled + 0.5) as i32
                    }
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

fn clip8(acc: i64) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// One horizontal pass over `rows` rows of an RGB8 image `width` wide.
fn resample_horizontal(src: &[u8], width: usize, coeffs: &[(usize, Vec<i32>)]) -> Vec<u8> {
    let half = 1i64 << (PRECISION_BITS - 1);
    let rows = src.len() / (width * 3);
    let new_width = coeffs.len();
    let mut out = vec![0u8; rows * new_width * 3];
    for (row_out, row) in out
        .chunks_exact_mut(new_width * 3)
        .zip(src.chunks_exact(width * 3))
    {
        for (xx, (xmin, k)) in coeffs.iter().enumerate() {
            for c in 0..3 {
                let acc = k.iter().enumerate().fold(half, |acc, (i, &w)| {
                    acc + i64::from(row[(xmin + i) * 3 + c]) * i64::from(w)
                });
                row_out[xx * 3 + c] = clip8(acc);
            }
        }
    }
    out
}

/// One vertical pass; `coeffs` row indices are relative to the start of `src`.
fn resample_vertical(src: &[u8], width: usize, coeffs: &[(usize, Vec<i32>)]) -> Vec<u8> {
    let half = 1i64 << (PRECISION_BITS - 1);
    let stride = width * 3;
    let mut out = vec![0u8; coeffs.len() * stride];
    for (row_out, (ymin, k)) in out.chunks_exact_mut(stride).zip(coeffs) {
        for (x, value) in row_out.iter_mut().enumerate() {
            let acc = k.iter().enumerate().fold(half, |acc, (i, &w)| {
                acc + i64::from(src[(ymin + i) * stride + x]) * i64::from(w)
            });
            *value = clip8(acc);
        }
    }
    out
}

/// Resizes interleaved RGB8 exactly as Pillow 13's `Image.resize` does (two fixed-point
/// passes with an 8-bit intermediate; vertical first only when the height shrinks by more than
/// twice as many pixels as the width), so preprocessing matches `transformers`' PIL image
/// processors.
pub fn resize_rgb(
    rgb: &[u8],
    width: usize,
    height: usize,
    new_width: usize,
    new_height: usize,
    resample: u32,
) -> Result<Vec<u8>> {
    if rgb.len() != width * height * 3 || new_width == 0 || new_height == 0 {
        return Err(Error::Input(format!(
            "cannot resize a {width}x{height} RGB buffer of {} bytes to {new_width}x{new_height}",
            rgb.len()
        )));
    }
    let filter = if resample == 2 {
        Filter::Bilinear
    } else {
        Filter::Bicubic
    };
    let need_horizontal = new_width != width;
    let need_vertical = new_height != height;
    let shrink_h = height as i64 - new_height as i64;
    let shrink_w = width as i64 - new_width as i64;
    let horizontal_first = !(shrink_h > 0 && shrink_h > shrink_w * 2);
    let mut vertical = coefficients(height, new_height, filter);
    let horizontal = coefficients(width, new_width, filter);

    let out = if horizontal_first {
        let mut image = std::borrow::Cow::Borrowed(rgb);
        let mut w = width;
        if need_horizontal {
            // Only the rows the vertical pass reads are resampled horizontally.
            let first = vertical.first().map_or(0, |(y, _)| *y);
            let last = vertical.last().map_or(height, |(y, k)| y + k.len());
            for (y, _) in &mut vertical {
                *y -= first;
            }
            image = resample_horizontal(
                &rgb[first * width * 3..last * width * 3],
                width,
                &horizontal,
            )
            .into();
            w = new_width;
        }
        if need_vertical {
            resample_vertical(&image, w, &vertical)
        } else {
            image.into_owned()
        }
    } else {
        // shrink_h > 0 here, so the vertical pass is needed.
        let image = resample_vertical(rgb, width, &vertical);
        if need_horizontal {
            resample_horizontal(&image, width, &horizontal)
        } else {
            image
        }
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIP: &str = r#"{"crop_size":{"height":224,"width":224},"do_center_crop":true,"do_normalize":true,
        "do_resize":true,"image_mean":[0.48145466,0.4578275,0.40821073],"image_std":[0.26862954,0.26130258,0.27577711],
        "resample":3,"size":{"shortest_edge":224}}"#;
    const SIGLIP: &str = r#"{"do_normalize":true,"do_rescale":true,"do_resize":true,"image_mean":[0.5,0.5,0.5],
        "image_std":[0.5,0.5,0.5],"resample":3,"rescale_factor":0.00392156862745098,"size":{"height":224,"width":224}}"#;

    #[test]
    fn clip_keeps_aspect_then_crops() {
        let p = Preprocessor::from_json(CLIP).expect("parses");
        assert_eq!(p.resized_size(480, 640), (224, 298));
        assert_eq!(p.resized_size(1000, 300), (746, 224));
        assert_eq!(p.output_size(480, 640), (224, 224));
    }

    #[test]
    fn siglip_squashes_to_the_square() {
        let p = Preprocessor::from_json(SIGLIP).expect("parses");
        assert_eq!(p.output_size(480, 640), (224, 224));
        assert_eq!(p.crop, None);
        assert_eq!(p.normalize, Some(([0.5; 3], [0.5; 3])));
    }

    #[test]
    fn normalises_channel_major() {
        let p = Preprocessor::from_json(SIGLIP).expect("parses");
        // A uniform 224x224 image: resize is the identity, so values are exact.
        let mut rgb = Vec::new();
        for _ in 0..224 * 224 {
            rgb.extend_from_slice(&[255, 0, 51]);
        }
        let out = p.prepare(&rgb, 224, 224).expect("prepares");
        assert_eq!(
            (out.height, out.width, out.data.len()),
            (224, 224, 3 * 224 * 224)
        );
        let plane = 224 * 224;
        assert!((out.data[0] - 1.0).abs() < 1e-6);
        assert!((out.data[plane] + 1.0).abs() < 1e-6);
        assert!((out.data[2 * plane] - (0.2 - 0.5) / 0.5).abs() < 1e-5);
    }

    #[test]
    fn resizing_a_flat_image_keeps_it_flat_and_identity_is_exact() {
        let rgb: Vec<u8> = std::iter::repeat_n([10u8, 128, 250], 37 * 23)
            .flatten()
            .collect();
        let out = resize_rgb(&rgb, 37, 23, 11, 64, 3).expect("resizes");
        assert_eq!(out.len(), 11 * 64 * 3);
        assert!(out.chunks(3).all(|p| p == [10, 128, 250]));
        assert_eq!(resize_rgb(&rgb, 37, 23, 37, 23, 3).expect("same size"), rgb);
    }

    #[test]
    fn rejects_wrong_buffer_sizes_and_unknown_filters() {
        let p = Preprocessor::from_json(SIGLIP).expect("parses");
        assert!(p.prepare(&[0; 10], 2, 2).is_err());
        assert!(Preprocessor::from_json(r#"{"size":224,"resample":1}"#).is_err());
    }
}
