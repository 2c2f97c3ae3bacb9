//! Reading the words in pictures during a crawl: with the real PP-OCRv4 weights (from
//! `scripts/setup.sh test`, `.data/ocr/pp-ocrv4`), a real catalog and real files. Without the
//! weights the test says so and passes, unless `TROVE_REQUIRE_OCR=1` (as `scripts/test.sh`
//! sets) makes that a failure.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use trove_engine::catalog::Catalog;
use trove_engine::crawl::Progress;
use trove_engine::media::DecodeLimits;
use trove_engine::search::{search, Query};
use trove_engine::text::{TextReader, TextReaderError};
use trove_engine::{Engine, EngineConfig};
use trove_models::demo::DEMO_MODEL;
use trove_models::{DevicePreference, PrecisionPreference};

fn weights() -> Option<PathBuf> {
    let dir = std::env::var_os("TROVE_OCR_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.data/ocr/pp-ocrv4"));
    if dir.join(trove_models::ocr::DETECTOR_FILE).is_file() {
        return Some(dir);
    }
    let why = format!(
        "no OCR weights in {} (scripts/setup.sh test puts them there)",
        dir.display()
    );
    assert!(
        std::env::var("TROVE_REQUIRE_OCR").as_deref() != Ok("1"),
        "TROVE_REQUIRE_OCR=1 but {why}"
    );
    eprintln!("skipped: {why}");
    None
}

fn open(data: &Path, read_text: bool) -> Engine {
    Engine::open(&EngineConfig {
        data_dir: data.to_path_buf(),
        model: DEMO_MODEL.into(),
        device: DevicePreference::Cpu,
        precision: PrecisionPreference::Auto,
        read_text,
        captions: trove_engine::describe::CaptionChoice::Off,
        captioner: None,
    })
    .expect("the engine opens")
}

#[test]
fn a_crawl_reads_the_words_once_and_the_keyword_index_finds_them() {
    let Some(weights) = weights() else {
        return;
    };
    let data = tempfile::tempdir().expect("temp dir");
    let library = tempfile::tempdir().expect("temp dir");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/words");
    for name in ["monday.png", "sign.png", "no-words.png"] {
        std::fs::copy(fixtures.join(name), library.path().join(name)).expect("copies");
    }
    std::fs::write(
        library.path().join("broken.png"),
        b"\x89PNG\r\n\x1a\nnot really",
    )
    .expect("writes");

    // Not installed: the crawl embeds and says why it reads no words.
    let engine = open(data.path(), true);
    assert!(engine.reader.is_none());
    assert!(engine
        .reader_note
        .as_deref()
        .is_some_and(|n| n.contains("trove model install-ocr")));
    drop(engine);

    // A file that is not the pinned one is refused with its hash.
    let fake = tempfile::tempdir().expect("temp dir");
    for (name, _) in trove_engine::text::OCR_FILES {
        std::fs::write(fake.path().join(name), b"not a model").expect("writes");
    }
    let refused = TextReader::install(data.path(), fake.path()).expect_err("refused");
    assert!(
        matches!(refused, TextReaderError::WrongFile { .. }),
        "{refused}"
    );

    TextReader::install(data.path(), &weights).expect("installs");
    let engine = open(data.path(), true);
    let reader = engine.reader.clone().expect("the reader loads");
    let progress = Progress::default();
    let summary = engine
        .crawl(
            &[library.path().to_path_buf()],
            DecodeLimits::default(),
            &progress,
            &AtomicBool::new(false),
        )
        .expect("crawls");
    assert_eq!(summary.progress.embedded, 3);
    assert_eq!(summary.progress.skipped, 1);
    assert_eq!(
        (summary.progress.text.read, summary.progress.text.with_words),
        (3, 2)
    );

    let catalog = Catalog::open(&engine.paths.catalog).expect("opens");
    let id_of = |name: &str| {
        let path = library.path().join(name);
        catalog
            .image_of_path(path.as_os_str().as_encoded_bytes())
            .expect("reads")
            .expect("indexed")
    };
    let words = |name: &str| {
        catalog
            .text_of(id_of(name))
            .expect("reads")
            .map(|(text, ..)| text)
    };
    assert_eq!(words("monday.png").as_deref(), Some("MONDAY\nAGAIN"));
    let sign = words("sign.png").expect("read");
    assert!(sign.contains("Tokyo") && sign.contains("2023"), "{sign:?}");
    assert_eq!(words("no-words.png").as_deref(), Some(""));
    let counts = catalog.text_counts(&reader.id).expect("counts");
    assert_eq!((counts.read, counts.with_words, counts.images), (3, 2, 3));

    // The keyword index finds the words: substrings, any case, several terms, short ones.
    let found = |terms: &[&str]| -> Vec<i64> {
        let terms: Vec<String> = terms.iter().map(|t| (*t).to_owned()).collect();
        let query = trove_engine::catalog::KeywordQuery {
            terms: &terms,
            phrases: &[],
        };
        catalog
            .keyword_search(query, 10)
            .expect("searches")
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    };
    assert_eq!(found(&["monday"]), [id_of("monday.png")]);
    assert_eq!(found(&["mond", "GAIN"]), [id_of("monday.png")]);
    assert_eq!(found(&["okyo"]), [id_of("sign.png")]);
    assert_eq!(found(&["no-words"]), [id_of("no-words.png")]);
    assert_eq!(found(&["23"]), [id_of("sign.png")]);
    assert!(found(&["tuesday"]).is_empty());
    assert!(found(&["monday", "tokyo"]).is_empty());

    // A text query puts the picture that says it first, whatever the demo model thinks.
    let first = |text: &str| {
        let query = Query {
            text: Some(text.into()),
            ..Query::default()
        };
        search(&engine, &catalog, &query, 0, 5)
            .expect("searches")
            .hits
            .first()
            .map(|h| h.id)
    };
    assert_eq!(first("monday"), Some(id_of("monday.png")));
    assert_eq!(first("Tokyo cafe"), Some(id_of("sign.png")));

    // The query language: phrases, exclusions, one signal, operators, and why each hit matched.
    let page = |text: &str| {
        let query = Query {
            text: Some(text.into()),
            ..Query::default()
        };
        search(&engine, &catalog, &query, 0, 10).expect("searches")
    };
    let ids = |text: &str| -> Vec<i64> { page(text).hits.iter().map(|h| h.id).collect() };
    // A quoted phrase must be in the picture, across its lines, in order.
    assert_eq!(ids("\"monday again\""), [id_of("monday.png")]);
    assert!(ids("\"again monday\"").is_empty());
    assert_eq!(ids("picture \"tokyo\""), [id_of("sign.png")]);
    // -word leaves out what holds it.
    assert!(!ids("monday -again").contains(&id_of("monday.png")));
    // text: asks the words only: only what holds them.
    assert_eq!(ids("text:tokyo"), [id_of("sign.png")]);
    assert!(ids("text:tuesday").is_empty());
    // like: asks the meaning only: no reasons from words.
    assert!(page("like:monday").hits.iter().all(|h| h.why.is_empty()));
    // Operators restrict.
    assert_eq!(ids("monday type:png").first(), Some(&id_of("monday.png")));
    assert!(ids("monday type:jpeg").is_empty());
    assert!(ids("monday after:2030").is_empty());
    let folder = library
        .path()
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a name")
        .to_owned();
    assert_eq!(
        ids(&format!("monday folder:{folder}")).first(),
        Some(&id_of("monday.png"))
    );
    assert!(ids("monday folder:elsewhere").is_empty());
    // Operators alone list the library under them.
    let listed = page("type:png");
    assert!(listed.browsing);
    assert_eq!(listed.hits.len(), 3);
    // Why: the words read with the match marked, and the file name that holds it.
    let hit = page("monday").hits.into_iter().next().expect("a hit");
    let marked: Vec<(&str, bool)> = hit
        .why
        .words
        .iter()
        .map(|s| (s.text.as_str(), s.hit))
        .collect();
    assert_eq!(marked, [("MONDAY", true), (" AGAIN", false)]);
    assert!(
        hit.why.name.iter().any(|s| s.hit && s.text == "monday"),
        "{:?}",
        hit.why.name
    );
    let sign = page("\"okyo\" cafe")
        .hits
        .into_iter()
        .next()
        .expect("a hit");
    assert!(sign
        .why
        .words
        .iter()
        .any(|s| s.hit && s.text.contains("okyo")));

    // A second crawl reads nothing again.
    let again = engine
        .crawl(
            &[library.path().to_path_buf()],
            DecodeLimits::default(),
            &Progress::default(),
            &AtomicBool::new(false),
        )
        .expect("crawls");
    assert_eq!(again.progress.text.read, 0);
    assert_eq!(again.progress.embedded, 0);
}
