//! The retrieval check of the CPU's bf16 path: the same model loaded in fp32 and in bf16
//! (AVX512_BF16), the same pictures and queries, and how far the bf16 results stray.
//!
//! `cargo bench -p trove-models --bench precision` (`bench/precision.sh` runs it on the demo
//! CLIP and on the full-size ViT-B/32).
//!
//! - `TROVE_BENCH_MODEL`: a model folder (default: the demo CLIP, trained by the project).
//! - `TROVE_BENCH_IMAGES`: how many held-out generated pictures make the library (default
//!   1,000; the generator's test split, which the demo model never saw).
//! - `TROVE_BENCH_QUERIES`: text queries and image queries each (default 100).
//!
//! For each query, the top 10 of the library in bf16 (queries and library both embedded in
//! bf16) against the top 10 in fp32: the share they have in common, averaged. Also with bf16
//! queries against an fp32 library (a library embedded on another machine, or before an
//! upgrade). And the cosine between each picture's and each query's bf16 and fp32
//! embeddings: its distribution. Prints one JSON object.

use std::cmp::Ordering;

use trove_models::synth::{self, Split};
use trove_models::{Compute, Embedder, Pixels, PrecisionPreference};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    dot(a, b) / (dot(a, a).sqrt() * dot(b, b).sqrt())
}

/// The indices of the 10 library vectors nearest `query`, leaving out `skip`.
fn top10(query: &[f32], library: &[Vec<f32>], skip: Option<usize>) -> Vec<usize> {
    let mut scored: Vec<(f32, usize)> = library
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != skip)
        .map(|(i, v)| (dot(query, v), i))
        .collect();
    scored.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal));
    scored.into_iter().take(10).map(|(_, i)| i).collect()
}

fn overlap(a: &[usize], b: &[usize]) -> f64 {
    a.iter().filter(|i| b.contains(i)).count() as f64 / a.len().max(1) as f64
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// min, 1st percentile, 5th percentile, median and mean of the cosines.
fn distribution(mut v: Vec<f32>) -> String {
    v.sort_by(f32::total_cmp);
    let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    let mean = v.iter().map(|&c| f64::from(c)).sum::<f64>() / v.len() as f64;
    format!(
        "{{\"min\":{:.6},\"p1\":{:.6},\"p5\":{:.6},\"median\":{:.6},\"mean\":{mean:.6}}}",
        v[0],
        at(0.01),
        at(0.05),
        at(0.5)
    )
}

fn main() {
    let demo;
    let dir = match std::env::var_os("TROVE_BENCH_MODEL") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => {
            demo = tempfile::tempdir().expect("temporary folder");
            for (name, bytes) in trove_models::demo::FILES {
                std::fs::write(demo.path().join(name), bytes).expect("demo model written");
            }
            demo.path().to_path_buf()
        }
    };
    let count = env_usize("TROVE_BENCH_IMAGES", 1000);
    let queries = env_usize("TROVE_BENCH_QUERIES", 100).min(count);
    let load = |compute: &Compute| {
        Embedder::load(&dir, compute).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
    };
    let bf16_compute = Compute::cpu_with(PrecisionPreference::Auto);
    if !bf16_compute.bf16 {
        println!("{{\"skipped\":\"this CPU has no AVX512_BF16: Trove runs fp32 here\"}}");
        return;
    }
    let (fp32, bf16) = (load(&Compute::cpu()), load(&bf16_compute));

    // The library: held-out generated pictures, preprocessed once for both.
    let side = fp32.config().image_size().max(224) as u32;
    let pixels: Vec<Pixels> = (0..count as u64)
        .map(|i| {
            let sample = synth::generate(7, Split::Test, i, side);
            let (w, h) = sample.image.dimensions();
            fp32.preprocessor()
                .prepare(sample.image.as_raw(), w as usize, h as usize)
                .expect("preprocessed")
        })
        .collect();
    // Text queries: the captions of other held-out pictures, as a person would describe
    // what they look for.
    let texts: Vec<String> = (0..queries as u64)
        .map(|i| synth::generate(8, Split::Test, i, 32).scene.caption())
        .collect();
    let embed_images = |model: &Embedder| -> Vec<Vec<f32>> {
        pixels
            .chunks(32)
            .flat_map(|batch| model.embed_images(batch).expect("embedded"))
            .collect()
    };
    let embed_texts = |model: &Embedder| -> Vec<Vec<f32>> {
        texts
            .iter()
            .map(|t| model.embed_texts(&[t]).expect("embedded").remove(0))
            .collect()
    };
    let (lib32, lib16) = (embed_images(&fp32), embed_images(&bf16));
    let (txt32, txt16) = (embed_texts(&fp32), embed_texts(&bf16));

    let mut text_same = Vec::new();
    let mut text_mixed = Vec::new();
    for (q32, q16) in txt32.iter().zip(&txt16) {
        let want = top10(q32, &lib32, None);
        text_same.push(overlap(&want, &top10(q16, &lib16, None)));
        text_mixed.push(overlap(&want, &top10(q16, &lib32, None)));
    }
    let mut image_same = Vec::new();
    let mut image_mixed = Vec::new();
    for i in 0..queries {
        let want = top10(&lib32[i], &lib32, Some(i));
        image_same.push(overlap(&want, &top10(&lib16[i], &lib16, Some(i))));
        image_mixed.push(overlap(&want, &top10(&lib16[i], &lib32, Some(i))));
    }
    let image_cos: Vec<f32> = lib32
        .iter()
        .zip(&lib16)
        .map(|(a, b)| cosine(a, b))
        .collect();
    let text_cos: Vec<f32> = txt32
        .iter()
        .zip(&txt16)
        .map(|(a, b)| cosine(a, b))
        .collect();
    let worst = image_cos
        .iter()
        .chain(&text_cos)
        .copied()
        .fold(f32::INFINITY, f32::min);
    let (ts, is) = (mean(&text_same), mean(&image_same));
    println!(
        "{{\"model\":\"{}\",\"images\":{count},\"text_queries\":{queries},\"image_queries\":{queries},\
         \"top10_overlap\":{{\"text\":{ts:.4},\"image\":{is:.4},\"text_bf16_queries_fp32_library\":{:.4},\
         \"image_bf16_queries_fp32_library\":{:.4}}},\"cosine_image\":{},\"cosine_text\":{},\
         \"meets\":{}}}",
        dir.display(),
        mean(&text_mixed),
        mean(&image_mixed),
        distribution(image_cos),
        distribution(text_cos),
        ts >= 0.95 && is >= 0.95 && worst >= 0.999,
    );
}
