//! Image- and text-tower speed of Trove's port on this machine, for comparison with ONNX Runtime and
//! PyTorch (`bench/models.sh` runs all three and prints the ratios).
//!
//! `TROVE_BENCH_MODEL=<model folder> cargo bench -p trove-models --bench towers`
//! (`TROVE_BENCH_BATCH`, default 32; `TROVE_BENCH_TEXT_ROUNDS`, default 30 text queries;
//! `TROVE_BENCH_PRECISION=auto` for bf16 products where the CPU has them, default fp32)
//! Prints one JSON object: images/s at batch 32, batch-1 latency, text-query latency.

use std::time::Instant;

use trove_models::{Compute, DevicePreference, Embedder, Pixels, PrecisionPreference};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let dir = std::env::var("TROVE_BENCH_MODEL").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../.data/full/clip-vit-base-patch32"
        )
        .into()
    });
    let pref = match std::env::var("TROVE_BENCH_DEVICE").as_deref() {
        Ok("gpu") => DevicePreference::Gpu,
        Ok("auto") => DevicePreference::Auto,
        _ => DevicePreference::Cpu,
    };
    let batch: usize = std::env::var("TROVE_BENCH_BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(32);
    let precision = match std::env::var("TROVE_BENCH_PRECISION").as_deref() {
        Ok("auto") => PrecisionPreference::Auto,
        _ => PrecisionPreference::Fp32,
    };
    let compute = Compute::select_with(pref, precision).expect("device");
    let t = Instant::now();
    let model = Embedder::load(dir.as_ref(), &compute).unwrap_or_else(|e| panic!("{dir}: {e}"));
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let size = model.config().image_size();
    // Deterministic, non-constant pixel values; speed does not depend on their content.
    let image = |seed: usize| Pixels {
        height: size,
        width: size,
        data: (0..3 * size * size)
            .map(|i| (((i * 31 + seed * 17) % 255) as f32 / 127.5) - 1.0)
            .collect(),
    };
    let batch_images: Vec<Pixels> = (0..batch).map(image).collect();

    // Warm up (kernel selection, allocator).
    model.embed_images(&batch_images[..2]).expect("warm-up");
    model.embed_images(&batch_images).expect("warm-up");

    let rounds = 3;
    let start = Instant::now();
    for _ in 0..rounds {
        model.embed_images(&batch_images).expect("batch");
    }
    let images_per_s = (rounds * batch) as f64 / start.elapsed().as_secs_f64();

    let single: Vec<f64> = (0..10)
        .map(|i| {
            let one = [image(100 + i)];
            let t = Instant::now();
            model.embed_images(&one).expect("single");
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();

    let queries = [
        "money",
        "surprised face",
        "bokeh",
        "Mt Fuji from a plane window",
        "a dog on a beach",
        "two red circles on a blue background",
        "a meme that says monday again",
        "sunset",
        "birthday cake with candles",
        "a cat sleeping on a laptop keyboard",
    ];
    model.embed_texts(&["warm up"]).expect("warm-up");
    let text_rounds: usize = std::env::var("TROVE_BENCH_TEXT_ROUNDS")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(30);
    let text: Vec<f64> = queries
        .iter()
        .cycle()
        .take(text_rounds)
        .enumerate()
        .map(|(i, q)| {
            // Distinct strings: the query cache must not answer.
            let q = format!("{q} {i}");
            let t = Instant::now();
            model.embed_texts(&[&q]).expect("text");
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();

    println!(
        "{{\"impl\":\"trove-burn\",\"device\":\"{}\",\"model\":\"{dir}\",\"batch\":{batch},\"images_per_s\":{images_per_s:.2},\"batch1_ms\":{:.1},\"text_p50_ms\":{:.1},\"text_p90_ms\":{:.1},\"threads\":{},\"load_ms\":{load_ms:.0}}}",
        compute.describe(),
        median(single),
        median(text.clone()),
        percentile(text, 0.9),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
}
