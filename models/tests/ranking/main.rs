//! Real ranking with the demo model Trove trained itself (`models/assets/demo-clip`): text
//! queries over held-out generated images put the matching images first.

use std::path::Path;

use trove_models::eval::{evaluate, queries, top_k};
use trove_models::synth::{self, Colour, ObjectQuery, Query, Scene, Shape, Split};
use trove_models::{Compute, Embedder};

fn demo() -> Embedder {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo-clip");
    Embedder::load(&dir, &Compute::cpu()).expect("the demo model loads")
}

/// Held-out images 0..n and their embeddings.
fn library(model: &Embedder, seed: u64, n: u64) -> (Vec<Scene>, Vec<Vec<f32>>) {
    let mut scenes = Vec::new();
    let mut pixels = Vec::new();
    for i in 0..n {
        let s = synth::generate(seed, Split::Test, i, synth::DEFAULT_SIZE);
        let side = synth::DEFAULT_SIZE as usize;
        pixels.push(
            model
                .preprocessor()
                .prepare(s.image.as_raw(), side, side)
                .expect("prepares"),
        );
        scenes.push(s.scene);
    }
    let embeddings = pixels
        .chunks(64)
        .flat_map(|c| model.embed_images(c).expect("embeds"))
        .collect();
    (scenes, embeddings)
}

/// Where the first image answering `q` ranks (0-based) among `images`.
fn first_relevant(model: &Embedder, q: &Query, scenes: &[Scene], images: &[Vec<f32>]) -> usize {
    let query = model.embed_query(&q.text()).expect("embeds");
    top_k(&query, images, images.len())
        .iter()
        .position(|&i| q.matches(&scenes[i]))
        .expect("some image answers the query")
}

#[test]
fn matching_images_come_first() {
    let model = demo();
    let (scenes, images) = library(&model, 5, 300);
    // Words on signs and memes: among the first three of 300.
    for q in [
        Query::Sign { word: "hello" },
        Query::Sign { word: "pizza" },
        Query::Meme {
            words: vec!["monday"],
        },
        Query::Meme {
            words: vec!["coffee"],
        },
    ] {
        assert!(
            scenes.iter().any(|s| q.matches(s)),
            "no answer to {:?}",
            q.text()
        );
        let rank = first_relevant(&model, &q, &scenes, &images);
        assert!(
            rank < 3,
            "{:?}: first relevant image at rank {rank}",
            q.text()
        );
    }
    // Coloured shapes and full descriptions: among the first ten of 300 (by chance, the first
    // answer to "a red circle" would rank about 50th).
    let mut asks = vec![
        Query::Objects {
            objects: vec![ObjectQuery::any(Shape::Circle, Colour::Red)],
            background: None,
        },
        Query::Objects {
            objects: vec![ObjectQuery::any(Shape::Triangle, Colour::Green)],
            background: None,
        },
    ];
    asks.extend(scenes.iter().take(5).map(Scene::description));
    for q in asks {
        let rank = first_relevant(&model, &q, &scenes, &images);
        assert!(
            rank < 10,
            "{:?}: first relevant image at rank {rank}",
            q.text()
        );
    }
}

/// The measured recall of the committed model, as a floor one query below it: a change to the
/// generator, the preprocessing or the towers that hurts ranking fails here (measured: single
/// 0.807 / 0.977 over 88 queries, compound 0.853 / 0.999 over 784; the goals are single R@1
/// 0.8 and compound R@5 0.8).
#[test]
fn recall_holds_on_the_held_out_split() {
    let model = demo();
    let report = evaluate(&model, 0, 1000, &|_| {}).expect("evaluates");
    assert!(
        report.single.at1 >= 0.79,
        "single-attribute R@1 {}",
        report.single.at1
    );
    assert!(
        report.single.at5 >= 0.96,
        "single-attribute R@5 {}",
        report.single.at5
    );
    assert!(
        report.compound.at1 >= 0.84,
        "compound R@1 {}",
        report.compound.at1
    );
    assert!(
        report.compound.at5 >= 0.99,
        "compound R@5 {}",
        report.compound.at5
    );
    // The suggested cutoff separates: most relevant pairs above it, nearly all irrelevant below.
    assert!(
        report.cutoff.relevant_p05 > report.cutoff.irrelevant_p99,
        "{:?}",
        report.cutoff
    );
    let (single, compound) = queries(&[]);
    assert!(single.is_empty() && compound.is_empty());
}
