//! Fixture paths and comparisons.

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// What `make_fixtures.py` recorded for one model.
#[derive(Debug, Deserialize)]
pub struct Reference {
    pub images: Vec<String>,
    pub pixel_values: Vec<f32>,
    pub pixel_shape: Vec<usize>,
    pub image_embeds: Vec<Vec<f32>>,
    pub texts: Vec<String>,
    pub input_ids: Vec<Vec<u32>>,
    pub text_embeds: Vec<Vec<f32>>,
}

pub fn reference(dir: &Path) -> Reference {
    let text = std::fs::read_to_string(dir.join("reference.json")).expect("reference.json");
    serde_json::from_str(&text).expect("valid reference.json")
}

/// Largest absolute difference between two equally shaped matrices.
pub fn max_abs_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len(), "row counts differ");
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x.len(), y.len(), "row widths differ");
            x.iter().zip(y).map(|(p, q)| (p - q).abs())
        })
        .fold(0.0, f32::max)
}

/// Decodes an image file to RGB8.
pub fn rgb(path: &Path) -> (Vec<u8>, usize, usize) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    let (w, h) = img.dimensions();
    (img.into_raw(), w as usize, h as usize)
}
