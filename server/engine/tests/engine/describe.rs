//! Tags and captions: the passes after embedding, on generated pictures whose truth is known.

use std::collections::HashMap;
use std::path::Path;

use trove_engine::catalog::Catalog;
use trove_engine::describe::CaptionChoice;
use trove_engine::search::{search, Query};
use trove_engine::{Engine, EngineConfig};

use crate::util::crawl_root;
use trove_models::demo::DEMO_MODEL;
use trove_models::synth::{self, Scene, Split};
use trove_models::tags::demo_truth;
use trove_models::{DevicePreference, PrecisionPreference};

/// `count` held-out generated pictures as PNGs in `dir`, with their scenes by file name.
fn library(dir: &Path, count: u64) -> HashMap<String, Scene> {
    (0..count)
        .map(|i| {
            let sample = synth::generate(7, Split::Test, i, synth::DEFAULT_SIZE);
            let name = format!("{i:03}.png");
            sample.image.save(dir.join(&name)).expect("writes");
            (name, sample.scene)
        })
        .collect()
}

fn open(data: &Path, model: &str, captions: CaptionChoice) -> Engine {
    Engine::open(&EngineConfig {
        data_dir: data.to_path_buf(),
        model: model.into(),
        device: DevicePreference::Cpu,
        precision: PrecisionPreference::Auto,
        read_text: false,
        captions,
        captioner: None,
    })
    .expect("the engine opens")
}

fn ids(engine: &Engine, catalog: &Catalog, text: &str) -> Vec<i64> {
    let query = Query {
        text: Some(text.into()),
        ..Query::default()
    };
    search(engine, catalog, &query, 0, 200)
        .expect("searches")
        .hits
        .iter()
        .map(|h| h.id)
        .collect()
}

#[test]
fn the_demo_model_tags_what_pictures_show_and_tag_search_finds_them() {
    let data = tempfile::tempdir().expect("temp dir");
    let root = tempfile::tempdir().expect("temp dir");
    let scenes = library(root.path(), 80);
    let engine = open(data.path(), DEMO_MODEL, CaptionChoice::Off);
    assert!(engine.describer.is_none());
    assert_eq!(
        engine.describer_note.as_deref(),
        Some("captions are turned off")
    );
    let summary = crawl_root(&engine, root.path());
    assert_eq!(summary.progress.embedded, 80);
    assert_eq!(summary.progress.tags.read, 80);
    assert!(
        summary.progress.tags.with_words > 40,
        "{:?}",
        summary.progress.tags
    );

    let catalog = Catalog::open(&engine.paths.catalog).expect("opens");
    let (mut given, mut right) = (0, 0);
    let mut by_tag: HashMap<String, Vec<i64>> = HashMap::new();
    for (name, scene) in &scenes {
        let path = root.path().join(name);
        let id = catalog
            .image_of_path(path.as_os_str().as_encoded_bytes())
            .expect("reads")
            .expect("indexed");
        let truth = demo_truth(scene);
        for (tag, score) in catalog.tags_of(id).expect("reads") {
            assert!((-1.0..=1.0).contains(&score));
            given += 1;
            right += usize::from(truth.contains(&tag));
            by_tag.entry(tag).or_default().push(id);
        }
    }
    // Calibrated for 90 % precision on the training split (a held-out sample varies).
    assert!(
        right as f64 >= 0.8 * given as f64,
        "{right} of {given} tags true"
    );

    // `tag:` lists exactly the pictures with the tag, any case; with words, it restricts.
    let (tag, mut with) = by_tag
        .into_iter()
        .max_by_key(|(t, v)| (v.len(), t.clone()))
        .expect("some tag");
    with.sort_unstable();
    let mut found = ids(&engine, &catalog, &format!("tag:{}", tag.to_uppercase()));
    found.sort_unstable();
    assert_eq!(found, with, "tag:{tag}");
    assert!(ids(&engine, &catalog, &format!("circle tag:\"{tag}\""))
        .iter()
        .all(|id| with.contains(id)));
    assert!(ids(&engine, &catalog, "tag:unicorn").is_empty());
    // The tags are in the keyword index too.
    let keyword = trove_engine::catalog::KeywordQuery {
        terms: std::slice::from_ref(&tag),
        phrases: &[],
    };
    let hits = catalog.keyword_search(keyword, 500).expect("searches");
    assert!(with.iter().all(|id| hits.iter().any(|(h, _)| h == id)));
    // The most common tag comes first on the home page's list.
    let common = catalog.common_tags(5).expect("reads");
    assert_eq!(common.first().map(|(_, n)| *n), Some(with.len() as u64));

    // A second crawl tags nothing again.
    assert_eq!(crawl_root(&engine, root.path()).progress.tags.read, 0);
}

#[test]
fn captions_are_written_once_and_their_words_find_the_picture() {
    let data = tempfile::tempdir().expect("temp dir");
    let root = tempfile::tempdir().expect("temp dir");
    library(root.path(), 6);
    std::fs::write(
        root.path().join("broken.png"),
        b"\x89PNG\r\n\x1a\nnot really",
    )
    .expect("writes");
    // Auto: the demo captioner is small enough for the CPU.
    let engine = open(data.path(), DEMO_MODEL, CaptionChoice::Auto);
    let describer = engine.describer.clone().expect("the demo captioner loads");
    assert!(describer.id.starts_with("trove/demo-captioner@"));
    let summary = crawl_root(&engine, root.path());
    assert_eq!(summary.progress.skipped, 1);
    assert_eq!(summary.progress.captions.read, 6);
    let catalog = Catalog::open(&engine.paths.catalog).expect("opens");
    let counts = catalog.caption_counts(&describer.id).expect("counts");
    assert_eq!((counts.read, counts.images), (6, 6));
    assert_eq!(counts.with_words, 6);
    // Every caption is found by its own words through the keyword index.
    let details = catalog
        .image_details(&(1..=6).collect::<Vec<_>>())
        .expect("reads");
    for d in &details {
        let caption = d.caption.clone().expect("captioned");
        let word = caption
            .split_whitespace()
            .max_by_key(|w| w.len())
            .expect("a word")
            .to_owned();
        let keyword = trove_engine::catalog::KeywordQuery {
            terms: std::slice::from_ref(&word),
            phrases: &[],
        };
        let hits = catalog.keyword_search(keyword, 50).expect("searches");
        assert!(
            hits.iter().any(|(h, _)| *h == d.id),
            "{word} in {caption:?}"
        );
    }
    // Resumable: nothing is captioned twice.
    assert_eq!(crawl_root(&engine, root.path()).progress.captions.read, 0);
}

#[test]
fn another_model_calibrates_its_everyday_tags_on_the_library() {
    let data = tempfile::tempdir().expect("temp dir");
    let root = tempfile::tempdir().expect("temp dir");
    // The demo weights under a folder path: not the demo model, so the everyday vocabulary
    // (4,585 tags) with thresholds from the library itself.
    let folder = data.path().join("clip-copy");
    std::fs::create_dir_all(&folder).expect("folder");
    for (name, bytes) in trove_models::demo::FILES {
        std::fs::write(folder.join(name), bytes).expect("writes");
    }
    let model = folder.display().to_string();
    library(root.path(), 20);
    let engine = open(data.path(), &model, CaptionChoice::Off);
    // Too few pictures to calibrate on: no tags yet, nothing recorded.
    assert_eq!(crawl_root(&engine, root.path()).progress.tags.read, 0);
    let catalog = Catalog::open(&engine.paths.catalog).expect("opens");
    let stored = catalog
        .model_tags(engine.model_id)
        .expect("reads")
        .expect("the vocabulary was embedded");
    assert_eq!(stored.names.len(), 4585);
    assert!(stored.thresholds.is_none());
    // Enough pictures: calibrated on them, and every picture tagged.
    for i in 20..60 {
        let sample = synth::generate(7, Split::Test, i, synth::DEFAULT_SIZE);
        sample
            .image
            .save(root.path().join(format!("{i:03}.png")))
            .expect("writes");
    }
    assert_eq!(crawl_root(&engine, root.path()).progress.tags.read, 60);
    let stored = catalog
        .model_tags(engine.model_id)
        .expect("reads")
        .expect("stored");
    assert_eq!(stored.calibrated_images, 60);
    assert!(stored.calibration.is_some_and(|c| c.starts_with("library")));
    assert_eq!(stored.thresholds.map(|t| t.len()), Some(4585));
}
