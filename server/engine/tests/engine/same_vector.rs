//! One file, one vector: an image embedded on its own (an upload, `trove similar FILE`) gets
//! exactly the vector the crawl stored for the same file.

use trove_engine::catalog::{path_bytes, Catalog};
use trove_engine::media::{decode, DecodeLimits};

use crate::util::{crawl, engine, photo_jpeg};

#[test]
fn an_image_embedded_on_its_own_gets_the_vector_the_crawl_stored() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(&lib).expect("mkdir");
    // 2400×1600: decoded DCT-scaled, so the scale chosen decides the pixels.
    let bytes = photo_jpeg(2400, 1600);
    let file = lib.join("photo.jpg");
    std::fs::write(&file, &bytes).expect("writes");
    let engine = engine(&tmp.path().join("data"));
    let summary = crawl(&engine, &[std::fs::canonicalize(&lib).expect("real path")]);
    assert_eq!(summary.progress.embedded, 1, "{summary:?}");

    let catalog = Catalog::open(&engine.paths.catalog).expect("catalog");
    let real = std::fs::canonicalize(&file).expect("real path");
    let id = catalog
        .image_of_path(&path_bytes(&real))
        .expect("reads")
        .expect("indexed");
    let stored = catalog
        .embedding(id, engine.model_id)
        .expect("reads")
        .expect("embedded");
    let alone = engine
        .embed_image(&bytes, DecodeLimits::default())
        .expect("embeds");
    let diff = max_abs_diff(&stored, &alone.vector);
    assert!(diff <= 1e-5, "max abs difference {diff}");

    // The test can tell: decoded at the model's own input size (112 px, as `trove similar
    // FILE` once did) the same file gives another vector.
    let side = u32::try_from(engine.embedder.config().image_size()).expect("size");
    let small = decode(&bytes, side, DecodeLimits::default()).expect("decodes");
    let (w, h) = small.rgb.dimensions();
    let pixels = engine
        .embedder
        .preprocessor()
        .prepare(small.rgb.as_raw(), w as usize, h as usize)
        .expect("prepares");
    let other = engine
        .embedder
        .embed_images(&[pixels])
        .expect("embeds")
        .pop()
        .expect("one");
    assert!(
        max_abs_diff(&stored, &other) > 1e-4,
        "another decode scale should give another vector"
    );
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
