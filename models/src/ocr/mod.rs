//! Reading the words in pictures: PaddleOCR's PP-OCRv4 mobile detector and recogniser
//! (Apache-2.0), ported to burn and loaded straight from their ONNX files.
//!
//! - [`det::Detector`]: where text is, as a per-pixel probability map;
//! - [`rec::Recognizer`]: what a line says, as per-step class probabilities, decoded by
//!   [`ctc::Alphabet`] with the recogniser's own character list (stored in its ONNX metadata);
//! - [`onnx`]: the graph reader both loaders walk.
//!
//! The ports are checked against ONNX Runtime on the same files (`tests/parity/ocr.rs`).

pub mod crop;
pub mod ctc;
pub mod db;
pub mod det;
mod layers;
pub mod onnx;
pub mod read;
pub mod rec;

use std::path::Path;

use burn::tensor::{Device, Tensor};

use crate::error::{Error, Result};
pub use ctc::Alphabet;
pub use det::Detector;
pub use read::{ReadOptions, Reading, TextLine};
pub use rec::Recognizer;

/// The detector's file name in an OCR model folder.
pub const DETECTOR_FILE: &str = "ch_PP-OCRv4_det_infer.onnx";
/// The recogniser's file name in an OCR model folder.
pub const RECOGNIZER_FILE: &str = "ch_PP-OCRv4_rec_infer.onnx";

/// A loaded detector and recogniser.
#[derive(Debug, Clone)]
pub struct OcrModels {
    /// The text detector.
    pub detector: Detector,
    /// The line recogniser.
    pub recognizer: Recognizer,
    /// The recogniser's classes.
    pub alphabet: Alphabet,
    /// Where they run.
    pub device: Device,
}

impl OcrModels {
    /// Loads `DETECTOR_FILE` and `RECOGNIZER_FILE` from `dir`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let det = onnx::Graph::open(&dir.join(DETECTOR_FILE))?;
        let detector = Detector::load(&det, device)?;
        let rec = onnx::Graph::open(&dir.join(RECOGNIZER_FILE))?;
        let recognizer = Recognizer::load(&rec, device)?;
        let chars = rec
            .metadata
            .get("character")
            .ok_or_else(|| Error::Weights {
                path: rec.path().to_path_buf(),
                reason: "the recogniser has no `character` list in its metadata".into(),
            })?;
        let alphabet = Alphabet::new(chars.lines().map(str::to_string).collect());
        if alphabet.classes() != recognizer.classes() {
            return Err(Error::Weights {
                path: rec.path().to_path_buf(),
                reason: format!(
                    "the character list gives {} classes but the recogniser outputs {}",
                    alphabet.classes(),
                    recognizer.classes()
                ),
            });
        }
        Ok(OcrModels {
            detector,
            recognizer,
            alphabet,
            device: device.clone(),
        })
    }

    /// Runs the detector on `[n, 3, h, w]` values: `[n, 1, h, w]` probabilities.
    pub fn detect(&self, input: Tensor<4>) -> Tensor<4> {
        self.detector.forward(input)
    }

    /// Runs the recogniser on `[n, 3, 48, w]` values: `[n, t, classes]` probabilities.
    pub fn recognize(&self, input: Tensor<4>) -> Tensor<3> {
        self.recognizer.forward(input)
    }
}
