//! Preprocessing against transformers' CLIP and SigLIP image processors (PIL backend) on
//! photo-like images of several sizes and aspect ratios: within 2/255 per value.

use serde::Deserialize;
use trove_models::Preprocessor;

use crate::util::{fixtures, rgb};

#[derive(Deserialize)]
struct Case {
    input: String,
    kind: String,
    expected: String,
}

#[test]
fn matches_transformers_image_processors_within_two_levels() {
    let dir = fixtures().join("preprocess");
    let cases: Vec<Case> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).expect("cases"))
            .expect("json");
    assert!(cases.len() >= 8);
    for case in cases {
        let p =
            Preprocessor::from_file(&dir.join(format!("{}-preprocessor_config.json", case.kind)))
                .expect("config");
        let (data, w, h) = rgb(&dir.join(&case.input));
        let out = p.prepare(&data, w, h).expect("prepares");
        let (want, ew, eh) = rgb(&dir.join(&case.expected));
        assert_eq!((out.width, out.height), (ew, eh), "{}", case.expected);
        let (mean, std) = p.normalize.expect("normalises");
        let mut worst = 0.0f32;
        for c in 0..3 {
            for i in 0..ew * eh {
                // Back to the 0..1 range of the 8-bit image the processor resized.
                let ours = out.data[c * ew * eh + i] * std[c] + mean[c];
                let theirs = f32::from(want[i * 3 + c]) / 255.0;
                worst = worst.max((ours - theirs).abs());
            }
        }
        assert!(
            worst <= 2.0 / 255.0 + 1e-6,
            "{} ({}) differs by {:.2}/255",
            case.input,
            case.kind,
            worst * 255.0
        );
    }
}
