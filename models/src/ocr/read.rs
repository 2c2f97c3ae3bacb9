//! Reading a whole picture: find the text, cut out each line, recognise it.
//!
//! The steps and their settings are RapidOCR 1.4.4's (the Python reference on the same
//! weights), with one addition that makes pictures without words cheap:
//!
//! 1. the picture's long side is brought to at most 2,000 px (short side at least 30);
//! 2. **probe**: on a picture with over twice the pixels of a 640 px long side, the detector
//!    runs first at that size; when no pixel of its map reaches the text threshold, the
//!    picture has no words and reading stops there (smaller pictures go straight to 3, and
//!    stop there for the same reason);
//! 3. **detect**: otherwise the detector runs at the picture's own size (sides rounded to
//!    multiples of 32; a short side under 320 px is enlarged to 320) and [`db::boxes`] turns
//!    its map into boxes, in reading order.
//!    RapidOCR enlarges every picture to a short side of 736 instead: on Trove's meme set
//!    (`bench/ocr.sh`) that reads worse (a higher character error rate) and costs about twice
//!    the pixels;
//! 4. **recognise**: each box is cut out upright ([`crop::line`]), scaled to height 48, and
//!    recognised in batches of six sorted by aspect ratio, each batch padded to its widest
//!    (at least 320 px), as RapidOCR batches; lines below 0.5 confidence are dropped.
//!
//! Not done (RapidOCR's defaults do them): the 180° direction classifier, and padding very
//! wide or very short pictures into a letterbox before detection.

use burn::tensor::{Tensor, TensorData};

use super::crop::{self, Rgb};
use super::db::{self, DbParams, Quad};
use super::rec::HEIGHT;
use super::OcrModels;
use crate::error::{Error, Result};
use crate::preprocess::resize_rgb;

/// How a picture is read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The long side a picture is first brought down to.
    pub max_side: usize,
    /// The short side the detector sees at least: smaller pictures are enlarged to it
    /// (RapidOCR's `limit_side_len` with type `min`, which it sets to 736).
    pub detect_side: usize,
    /// The long side of the probe that decides whether a picture has words; `None` skips it.
    pub probe_side: Option<usize>,
    /// Lines recognised with less confidence are dropped.
    pub min_confidence: f32,
    /// Box finding.
    pub boxes: DbParams,
    /// Lines recognised at once.
    pub batch: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_side: 2000,
            detect_side: 320,
            probe_side: Some(640),
            min_confidence: 0.5,
            boxes: DbParams::default(),
            batch: 6,
        }
    }
}

/// One line of text found in a picture.
#[derive(Debug, Clone, PartialEq)]
pub struct TextLine {
    /// Where, in the picture's own pixels: top-left, top-right, bottom-right, bottom-left.
    pub quad: Quad,
    /// What it says.
    pub text: String,
    /// The recogniser's mean confidence over the line's characters, 0–1.
    pub confidence: f32,
}

/// What reading a picture found, and how much work it took.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// The lines, in reading order.
    pub lines: Vec<TextLine>,
    /// True when no pixel of the detector's map reached the text threshold (so no box was
    /// looked for and nothing recognised).
    pub probe_only: bool,
}

impl Reading {
    /// All the lines' text, one line per line.
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `round(x / 32) * 32`, at least 32.
fn multiple_of_32(x: f64) -> usize {
    (((x / 32.0).round() as usize) * 32).max(32)
}

/// Scales `image` to `width × height` (Pillow's bilinear).
fn resized(image: &Rgb, width: usize, height: usize) -> Result<Rgb> {
    if (width, height) == (image.width, image.height) {
        return Ok(image.clone());
    }
    Ok(Rgb {
        data: resize_rgb(&image.data, image.width, image.height, width, height, 2)?,
        width,
        height,
    })
}

/// RGB8 → BGR, `(x/255 − 0.5)/0.5`, channels first.
fn normalised(image: &Rgb) -> Vec<f32> {
    let plane = image.width * image.height;
    let mut out = vec![0.0; plane * 3];
    for (i, px) in image.data.chunks_exact(3).enumerate() {
        for (c, &v) in [px[2], px[1], px[0]].iter().enumerate() {
            out[c * plane + i] = f32::from(v) / 127.5 - 1.0;
        }
    }
    out
}

impl OcrModels {
    /// The detector's probability map for `image` resized to `width × height`.
    fn probability_map(&self, image: &Rgb, width: usize, height: usize) -> Result<Vec<f32>> {
        let input = normalised(&resized(image, width, height)?);
        let input = Tensor::from_data(TensorData::new(input, [1, 3, height, width]), &self.device);
        self.detect(input)
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| Error::Device(format!("{e:?}")))
    }

    /// Reads the words in an RGB8 picture.
    pub fn read(
        &self,
        rgb: &[u8],
        width: usize,
        height: usize,
        options: &ReadOptions,
    ) -> Result<Reading> {
        if width == 0 || height == 0 || rgb.len() != width * height * 3 {
            return Err(Error::Input(format!(
                "a {width}x{height} picture needs {} bytes of RGB, not {}",
                width * height * 3,
                rgb.len()
            )));
        }
        let original = Rgb {
            data: rgb.to_vec(),
            width,
            height,
        };
        // 1. Long side at most `max_side`, short side at least 30 (multiples of 32).
        let (mut w, mut h) = (width as f64, height as f64);
        if w.max(h) > options.max_side as f64 {
            let r = options.max_side as f64 / w.max(h);
            (w, h) = (multiple_of_32(w * r) as f64, multiple_of_32(h * r) as f64);
        }
        if w.min(h) < 30.0 {
            let r = 30.0 / w.min(h);
            (w, h) = (multiple_of_32(w * r) as f64, multiple_of_32(h * r) as f64);
        }
        let image = resized(&original, w as usize, h as usize)?;
        let (sx, sy) = (
            width as f32 / image.width as f32,
            height as f32 / image.height as f32,
        );

        // 3's size: short side at least `detect_side`, multiples of 32.
        let (iw, ih) = (image.width as f64, image.height as f64);
        let ratio = (options.detect_side as f64 / iw.min(ih)).max(1.0);
        let full = (
            multiple_of_32((iw * ratio).trunc()),
            multiple_of_32((ih * ratio).trunc()),
        );

        // 2. The probe, where it saves work: the full size has over twice its pixels.
        let mut map = None;
        if let Some(probe) = options.probe_side {
            let r = (probe as f64 / iw.max(ih)).min(1.0);
            let size = (multiple_of_32(iw * r), multiple_of_32(ih * r));
            if full.0 * full.1 > 2 * size.0 * size.1 {
                let probe_map = self.probability_map(&image, size.0, size.1)?;
                if !probe_map.iter().any(|&p| p > options.boxes.thresh) {
                    return Ok(Reading {
                        lines: Vec::new(),
                        probe_only: true,
                    });
                }
            } else {
                let full_map = self.probability_map(&image, full.0, full.1)?;
                if !full_map.iter().any(|&p| p > options.boxes.thresh) {
                    return Ok(Reading {
                        lines: Vec::new(),
                        probe_only: true,
                    });
                }
                map = Some(full_map);
            }
        }
        let map = match map {
            Some(map) => map,
            None => self.probability_map(&image, full.0, full.1)?,
        };
        let mut found = db::boxes(
            &map,
            full.0,
            full.1,
            image.width,
            image.height,
            &options.boxes,
        );
        db::reading_order(&mut found);

        // 4. Recognise.
        let crops: Vec<Option<Rgb>> = found.iter().map(|f| crop::line(&image, &f.quad)).collect();
        let texts = self.recognize_lines(&crops, options.batch.max(1))?;
        let lines = found
            .iter()
            .zip(texts)
            .filter_map(|(f, read)| {
                let (text, confidence) = read?;
                (confidence >= options.min_confidence && !text.trim().is_empty()).then(|| {
                    TextLine {
                        quad: f.quad.map(|[x, y]| {
                            [(x * sx).min(width as f32), (y * sy).min(height as f32)]
                        }),
                        text,
                        confidence,
                    }
                })
            })
            .collect();
        Ok(Reading {
            lines,
            probe_only: false,
        })
    }

    /// Recognises cut-out lines in batches sorted by aspect ratio; `None` for an empty crop.
    fn recognize_lines(
        &self,
        crops: &[Option<Rgb>],
        batch: usize,
    ) -> Result<Vec<Option<(String, f32)>>> {
        let ratio = |c: &Rgb| c.width as f64 / c.height as f64;
        let mut order: Vec<usize> = (0..crops.len()).filter(|&i| crops[i].is_some()).collect();
        order.sort_by(|&a, &b| {
            let (ra, rb) = (crops[a].as_ref().map(ratio), crops[b].as_ref().map(ratio));
            ra.partial_cmp(&rb).unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut out = vec![None; crops.len()];
        for chunk in order.chunks(batch) {
            let lines: Vec<&Rgb> = chunk.iter().filter_map(|&i| crops[i].as_ref()).collect();
            let max_ratio = lines
                .iter()
                .map(|c| ratio(c))
                .fold(320.0 / HEIGHT as f64, f64::max);
            let padded_width = (HEIGHT as f64 * max_ratio) as usize;
            let plane = HEIGHT * padded_width;
            let mut input = vec![0.0f32; lines.len() * 3 * plane];
            for (k, line) in lines.iter().enumerate() {
                let w = ((HEIGHT as f64 * ratio(line)).ceil() as usize).clamp(1, padded_width);
                let scaled = resized(line, w, HEIGHT)?;
                let values = normalised(&scaled);
                for c in 0..3 {
                    for y in 0..HEIGHT {
                        let dst = k * 3 * plane + c * plane + y * padded_width;
                        let src = c * HEIGHT * w + y * w;
                        input[dst..dst + w].copy_from_slice(&values[src..src + w]);
                    }
                }
            }
            let input = Tensor::from_data(
                TensorData::new(input, [lines.len(), 3, HEIGHT, padded_width]),
                &self.device,
            );
            let probs = self.recognize(input);
            let [_, steps, classes] = probs.dims();
            let values = probs
                .into_data()
                .try_into_vec::<f32>()
                .map_err(|e| Error::Device(format!("{e:?}")))?;
            for (k, &i) in chunk.iter().enumerate() {
                let row = &values[k * steps * classes..(k + 1) * steps * classes];
                out[i] = Some(self.alphabet.decode(row, classes));
            }
        }
        Ok(out)
    }
}
