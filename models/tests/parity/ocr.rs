//! PP-OCRv4's detector and recogniser in burn against ONNX Runtime on the same ONNX files:
//! `models/scripts/ocr_reference.py` (run by `scripts/setup.sh test`) wrote 50 generated
//! pictures' detector inputs and probability maps, and 50 text crops' recogniser inputs,
//! probabilities and decoded strings. The weights are PaddleOCR's, from the
//! `rapidocr-onnxruntime` wheel on PyPI, pinned by hash in `scripts/setup.sh`.
//!
//! Where the weights or references are absent (a machine without `scripts/setup.sh test`), the
//! test says so and passes, unless `TROVE_REQUIRE_OCR=1` (as `scripts/test.sh` sets) makes
//! that a failure.

use std::path::{Path, PathBuf};

use burn::tensor::{Tensor, TensorData};
use serde::Deserialize;
use trove_models::ocr::OcrModels;
use trove_models::Compute;

#[derive(Deserialize)]
struct Manifest {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    det_input: Array,
    det_output: Array,
    rec_input: Array,
    rec_output: Array,
    text: String,
}

#[derive(Deserialize)]
struct Array {
    file: String,
    shape: Vec<usize>,
}

fn data_dir(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(default)
    })
}

fn read(dir: &Path, a: &Array) -> Vec<f32> {
    let bytes = std::fs::read(dir.join(&a.file)).unwrap_or_else(|e| panic!("{}: {e}", a.file));
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(
        values.len(),
        a.shape.iter().product::<usize>(),
        "{}",
        a.file
    );
    values
}

fn tensor4(dir: &Path, a: &Array, device: &burn::tensor::Device) -> Tensor<4> {
    let shape: [usize; 4] = a.shape.clone().try_into().expect("a 4-D input");
    Tensor::from_data(TensorData::new(read(dir, a), shape), device)
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn setup() -> Option<(OcrModels, PathBuf, Manifest)> {
    let models = data_dir("TROVE_OCR_MODELS", ".data/ocr/pp-ocrv4");
    let refs = data_dir("TROVE_OCR_PARITY", ".data/ocr/parity");
    let manifest = refs.join("manifest.json");
    if !models.join(trove_models::ocr::DETECTOR_FILE).is_file() || !manifest.is_file() {
        let why = format!(
            "no OCR weights in {} or references in {} (scripts/setup.sh test makes them)",
            models.display(),
            refs.display()
        );
        if std::env::var("TROVE_REQUIRE_OCR").as_deref() == Ok("1") {
            panic!("TROVE_REQUIRE_OCR=1 but {why}");
        }
        eprintln!("skipped: {why}");
        return None;
    }
    let compute = Compute::cpu();
    let ocr = OcrModels::load(&models, &compute.device).expect("the OCR models load");
    let text = std::fs::read_to_string(&manifest).expect("manifest.json");
    Some((
        ocr,
        refs,
        serde_json::from_str(&text).expect("a valid manifest"),
    ))
}

#[test]
fn detector_and_recogniser_match_onnx_runtime() {
    let Some((ocr, refs, manifest)) = setup() else {
        return;
    };
    assert!(manifest.cases.len() >= 50, "at least 50 cases");
    let device = ocr.device.clone();
    let (mut worst_det, mut worst_rec) = (0.0f32, 0.0f32);
    for (i, case) in manifest.cases.iter().enumerate() {
        let map = ocr.detect(tensor4(&refs, &case.det_input, &device));
        assert_eq!(
            map.dims().to_vec(),
            case.det_output.shape,
            "case {i}: map shape"
        );
        let got = map.into_data().try_to_vec::<f32>().expect("f32 map");
        let diff = max_abs(&got, &read(&refs, &case.det_output));
        assert!(diff <= 1e-4, "case {i}: probability map differs by {diff}");
        worst_det = worst_det.max(diff);

        let probs = ocr.recognize(tensor4(&refs, &case.rec_input, &device));
        assert_eq!(
            probs.dims().to_vec(),
            case.rec_output.shape,
            "case {i}: recogniser shape"
        );
        let classes = probs.dims()[2];
        let got = probs
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32 probabilities");
        let diff = max_abs(&got, &read(&refs, &case.rec_output));
        assert!(
            diff <= 1e-4,
            "case {i}: recogniser output differs by {diff}"
        );
        worst_rec = worst_rec.max(diff);
        let (text, _) = ocr.alphabet.decode(&got, classes);
        assert_eq!(text, case.text, "case {i}: decoded text");
    }
    eprintln!(
        "{} cases: detector max |Δ| {worst_det:.2e}, recogniser max |Δ| {worst_rec:.2e}",
        manifest.cases.len()
    );
}
