//! Trove's OCR (PP-OCRv4 in burn) over a folder of pictures, for comparison with RapidOCR on
//! ONNX Runtime (`bench/ocr.sh` runs both on the same files and cores and scores them).
//!
//! `TROVE_BENCH_OCR_DIR=<folder> cargo bench -p trove-models --bench ocr`
//! (`TROVE_OCR_MODELS`: the weights' folder, default `.data/ocr/pp-ocrv4`;
//! `TROVE_BENCH_PROBE=0` turns the no-words probe off; `TROVE_BENCH_DETECT_SIDE` sets the
//! detector's least short side).
//! Prints one JSON object: per file the lines read and the seconds taken (decoding included,
//! as RapidOCR's are), and the total.

use std::path::PathBuf;
use std::time::Instant;

use trove_models::ocr::{OcrModels, ReadOptions};
use trove_models::Compute;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let models = std::env::var_os("TROVE_OCR_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".data/ocr/pp-ocrv4"));
    let dir = std::env::var_os("TROVE_BENCH_OCR_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".data/ocr/memes"));
    let mut options = ReadOptions::default();
    if std::env::var("TROVE_BENCH_PROBE").as_deref() == Ok("0") {
        options.probe_side = None;
    }
    if let Some(side) = std::env::var("TROVE_BENCH_DETECT_SIDE")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        options.detect_side = side;
    }
    let compute = Compute::cpu();
    let ocr = OcrModels::load(&models, &compute.device).expect("the OCR models load");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("jpg" | "jpeg" | "png")
            )
        })
        .collect();
    files.sort();
    // One warm-up read, not timed (RapidOCR's first call is not timed either).
    if let Some(first) = files.first() {
        let img = image::open(first).expect("decodes").to_rgb8();
        let (w, h) = img.dimensions();
        ocr.read(img.as_raw(), w as usize, h as usize, &options)
            .expect("reads");
    }
    let mut results = serde_json::Map::new();
    let (mut total, mut probe_only) = (0.0, 0);
    for file in &files {
        let t = Instant::now();
        let img = image::open(file).expect("decodes").to_rgb8();
        let (w, h) = img.dimensions();
        let reading = ocr
            .read(img.as_raw(), w as usize, h as usize, &options)
            .expect("reads");
        let seconds = t.elapsed().as_secs_f64();
        total += seconds;
        probe_only += usize::from(reading.probe_only);
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        results.insert(
            name.to_string(),
            serde_json::json!({
                "lines": reading.lines.iter().map(|l| &l.text).collect::<Vec<_>>(),
                "seconds": seconds,
            }),
        );
    }
    let n = files.len().max(1) as f64;
    println!(
        "{}",
        serde_json::json!({
            "engine": "trove",
            "files": results,
            "images": files.len(),
            "seconds": total,
            "images_per_s": n / total.max(1e-9),
            "probe_only": probe_only,
        })
    );
}
