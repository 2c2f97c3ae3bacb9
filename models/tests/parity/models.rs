//! Image and text embeddings of whole models against transformers (fp32, CPU backend).

use std::path::Path;

use trove_models::{Compute, Embedder, Pixels};

use crate::util::{fixtures, max_abs_diff, reference, rgb};

/// The bound for fp32 (CPU backend, or a GPU without fp16).
const TOLERANCE: f32 = 1e-4;
/// The bound for fp16 on a GPU.
#[cfg(feature = "wgpu")]
const TOLERANCE_FP16: f32 = 2e-2;
/// The bound for fp32 on wgpu, whose shaders use fast approximations of exp and erf.
#[cfg(feature = "wgpu")]
const TOLERANCE_WGPU_FP32: f32 = 1e-3;

fn check_model(dir: &Path) {
    check_model_on(dir, &Compute::cpu(), TOLERANCE);
}

fn check_model_on(dir: &Path, compute: &Compute, tolerance: f32) {
    let model = Embedder::load(dir, compute).expect("model loads");
    let r = reference(dir);

    // Every module parameter was set from a checkpoint tensor, and every checkpoint tensor
    // was used, apart from the documented ones.
    let report = model.load_report();
    assert!(
        report.unused.is_empty(),
        "unused tensors: {:?}",
        report.unused
    );
    assert!(
        report.ignored.iter().all(|t| t.starts_with("logit_")),
        "ignored: {:?}",
        report.ignored
    );
    assert!(!report.applied.is_empty());

    // Image tower on transformers' own pixel values.
    let [n, c, h, w] = r.pixel_shape[..] else {
        panic!("pixel_shape {:?}", r.pixel_shape)
    };
    assert_eq!(c, 3);
    let pixels: Vec<Pixels> = r
        .pixel_values
        .chunks(c * h * w)
        .map(|chunk| Pixels {
            height: h,
            width: w,
            data: chunk.to_vec(),
        })
        .collect();
    assert_eq!(pixels.len(), n);
    let images = model.embed_images(&pixels).expect("images embed");
    let image_err = max_abs_diff(&images, &r.image_embeds);
    assert!(
        image_err <= tolerance,
        "image embeddings differ by {image_err}"
    );

    // Our preprocessing of the same files feeds the same embeddings.
    let ours: Vec<Pixels> = r
        .images
        .iter()
        .map(|name| {
            let (data, w, h) = rgb(&dir.join(name));
            model.preprocessor().prepare(&data, w, h).expect("prepares")
        })
        .collect();
    let pixel_err = ours
        .iter()
        .zip(&pixels)
        .flat_map(|(a, b)| a.data.iter().zip(&b.data).map(|(x, y)| (x - y).abs()))
        .fold(0.0, f32::max);
    // 2/255 of the 0..1 range, divided by the smallest std (CLIP's 0.2613).
    assert!(
        pixel_err <= 2.0 / 255.0 / 0.26,
        "pixel values differ by {pixel_err}"
    );

    // Tokenizer and text tower.
    let texts: Vec<&str> = r.texts.iter().map(String::as_str).collect();
    let batch = model.tokenizer().encode_batch(&texts).expect("tokenizes");
    let ids: Vec<Vec<u32>> = batch.ids.chunks(batch.seq).map(<[u32]>::to_vec).collect();
    assert_eq!(ids, r.input_ids, "token ids differ");
    let text = model.embed_texts(&texts).expect("texts embed");
    let text_err = max_abs_diff(&text, &r.text_embeds);
    assert!(
        text_err <= tolerance,
        "text embeddings differ by {text_err}"
    );
    // Shown with --nocapture; the figures the README reports.
    eprintln!(
        "{} on {}: max abs error image {image_err:.2e}, text {text_err:.2e}, pixels {pixel_err:.2e}",
        dir.display(),
        compute.describe()
    );

    // A cached query is the same embedding.
    let q1 = model.embed_query(texts[0]).expect("query");
    let q2 = model.embed_query(texts[0]).expect("query");
    assert!(max_abs_diff(&[q1.to_vec()], &text[..1]) <= tolerance);
    assert!(
        std::sync::Arc::ptr_eq(&q1, &q2),
        "second query comes from the cache"
    );
}

#[test]
fn tiny_clip_fp16_checkpoint_matches_transformers() {
    check_model(&fixtures().join("tiny-clip"));
}

#[test]
fn tiny_siglip_bf16_checkpoint_matches_transformers() {
    check_model(&fixtures().join("tiny-siglip"));
}

/// Full-size configurations (ViT-B/32 CLIP and SigLIP B/16; ViT-B/16 and ViT-L/14 on request) with
/// random weights, generated on demand: `.venv/bin/python models/scripts/make_fixtures.py full
/// .data/full [clip-vit-base-patch16 clip-vit-large-patch14]`, then every generated folder is checked by
/// `TROVE_FULL_FIXTURES=$PWD/.data/full cargo test -p trove-models --test parity -- --ignored --nocapture`
/// (an absolute path: tests run in `models/`).
#[test]
#[ignore = "needs generated full-size checkpoints (see the doc comment)"]
fn full_size_checkpoints_match_transformers() {
    let dir = std::env::var_os("TROVE_FULL_FIXTURES").expect("set TROVE_FULL_FIXTURES");
    let mut models: Vec<_> = std::fs::read_dir(&dir)
        .expect("TROVE_FULL_FIXTURES is a folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("reference.json").is_file())
        // Captioners have their own test (florence2.rs).
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("florence2"))
        })
        .collect();
    models.sort();
    assert!(
        !models.is_empty(),
        "no generated models in {}",
        Path::new(&dir).display()
    );
    for model in models {
        check_model(&model);
    }
}

/// The same parity on burn-wgpu: fp16 where the adapter supports it (bound 2e-2), else fp32
/// (bound 1e-3).
/// Runs where a wgpu adapter exists, a GPU or Mesa's software Vulkan (lavapipe); without one
/// it reports that and passes, unless `TROVE_REQUIRE_GPU=1` makes that a failure.
#[cfg(feature = "wgpu")]
#[test]
fn tiny_models_match_transformers_on_wgpu() {
    let compute = match Compute::select(trove_models::DevicePreference::Gpu) {
        Ok(c) => c,
        Err(e) if std::env::var("TROVE_REQUIRE_GPU").as_deref() != Ok("1") => {
            eprintln!("no wgpu adapter, wgpu parity not checked: {e}");
            return;
        }
        Err(e) => panic!("TROVE_REQUIRE_GPU=1 but {e}"),
    };
    let tolerance = if compute.dtype == burn::tensor::DType::F16 {
        TOLERANCE_FP16
    } else {
        TOLERANCE_WGPU_FP32
    };
    for name in ["tiny-clip", "tiny-siglip"] {
        check_model_on(&fixtures().join(name), &compute, tolerance);
    }
}
