//! Captioning speed of Trove's Florence-2 port on this machine, for comparison with
//! transformers on the same checkpoint, pictures and cores (`bench/captions.sh` runs both and
//! prints the ratio).
//!
//! `TROVE_BENCH_MODEL=<Florence-2 folder> TROVE_BENCH_IMAGES=<folder of pictures> cargo bench -p
//! trove-models --bench captions` (default: `.data/full/florence2-base` and its fixture
//! pictures; `TROVE_BENCH_BEAMS`, default the checkpoint's; `TROVE_BENCH_NEW_TOKENS`, default
//! 20). Prints one JSON object: captions per second, the mean seconds of each part (vision
//! tower and projector, encoder, generation) and the ids of every caption (for the side-by-side
//! check that both engines did the same work).

use std::path::PathBuf;
use std::time::Instant;

use trove_models::florence2::Florence2;
use trove_models::{Compute, Preprocessor};

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::var_os("TROVE_BENCH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".data/full/florence2-base"));
    let images = std::env::var_os("TROVE_BENCH_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.clone());
    let model =
        Florence2::load(&dir, &Compute::cpu()).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let pre = Preprocessor::from_file(&dir.join("preprocessor_config.json")).expect("preprocessor");
    let mut settings = model.settings(env_usize("TROVE_BENCH_NEW_TOKENS").unwrap_or(20));
    if let Some(b) = env_usize("TROVE_BENCH_BEAMS") {
        settings.num_beams = b;
    }
    // <CAPTION>'s prompt, "What does the image describe?" (Florence-2's tokenizer; the vendored
    // fixture's cases hold it): the same ids for every Florence-2 checkpoint.
    let prompt = [0, 2264, 473, 5, 2274, 6190, 116, 2];
    let mut files: Vec<PathBuf> = std::fs::read_dir(&images)
        .expect("pictures folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "png" || e == "jpg"))
        .collect();
    files.sort();
    let decoded: Vec<(Vec<u8>, usize, usize)> = files
        .iter()
        .map(|f| {
            let img = image::open(f).expect("picture").to_rgb8();
            let (w, h) = img.dimensions();
            (img.into_raw(), w as usize, h as usize)
        })
        .collect();
    // Warm-up on the first picture.
    let (rgb, w, h) = &decoded[0];
    let px = pre.prepare(rgb, *w, *h).expect("prepares");
    let f = model
        .image_features(std::slice::from_ref(&px))
        .expect("features");
    let e = model.encode(f, &prompt).expect("encodes");
    model.generate(e, &settings).expect("generates");

    let (mut vision_s, mut encode_s, mut generate_s) = (0.0, 0.0, 0.0);
    let mut ids = Vec::new();
    let start = Instant::now();
    for (rgb, w, h) in &decoded {
        let t = Instant::now();
        let px = pre.prepare(rgb, *w, *h).expect("prepares");
        let f = model
            .image_features(std::slice::from_ref(&px))
            .expect("features");
        let _ = f.clone().into_data();
        vision_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let e = model.encode(f, &prompt).expect("encodes");
        let _ = e.clone().into_data();
        encode_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        ids.push(model.generate(e, &settings).expect("generates"));
        generate_s += t.elapsed().as_secs_f64();
    }
    let total = start.elapsed().as_secs_f64();
    let n = decoded.len() as f64;
    println!(
        "{}",
        serde_json::json!({
            "impl": "trove-burn",
            "model": dir.display().to_string(),
            "images": decoded.len(),
            "beams": settings.num_beams,
            "max_new_tokens": settings.max_new_tokens,
            "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "captions_per_s": n / total,
            "vision_s": vision_s / n,
            "encode_s": encode_s / n,
            "generate_s": generate_s / n,
            "ids": ids,
        })
    );
}
