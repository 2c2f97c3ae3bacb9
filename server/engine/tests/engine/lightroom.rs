//! Lightroom Classic: a catalog in the real schema, imported over an indexed library; its
//! keywords, titles and collections searchable, its ratings and flags filters, matched by path
//! and (for moved folders) by file name and capture time; re-import and removal.

use std::path::Path;

use trove_engine::catalog::Catalog;
use trove_engine::describe::CaptionChoice;
use trove_engine::lightroom::fixture::{Builder, Photo, Release};
use trove_engine::lightroom::{self, LrcatError};
use trove_engine::search::{search, Query};
use trove_engine::{Engine, EngineConfig};

use crate::util::crawl_root;
use trove_models::demo::DEMO_MODEL;
use trove_models::synth::{self, Split};
use trove_models::{DevicePreference, PrecisionPreference};

pub(crate) fn open(data: &Path) -> Engine {
    Engine::open(&EngineConfig {
        data_dir: data.to_path_buf(),
        model: DEMO_MODEL.into(),
        device: DevicePreference::Cpu,
        precision: PrecisionPreference::Auto,
        read_text: false,
        captions: CaptionChoice::Off,
        captioner: None,
    })
    .expect("the engine opens")
}

/// A generated picture saved as `dir/name`.
fn picture(dir: &Path, name: &str, i: u64) {
    std::fs::create_dir_all(dir).expect("folder");
    synth::generate(11, Split::Test, i, synth::DEFAULT_SIZE)
        .image
        .save(dir.join(name))
        .expect("writes");
}

pub(crate) fn names(engine: &Engine, catalog: &Catalog, text: &str) -> Vec<String> {
    let ids = search_ids(engine, catalog, text);
    let mut out: Vec<String> = catalog
        .image_details(&ids)
        .expect("details")
        .into_iter()
        .map(|d| {
            Path::new(&d.path)
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_lightroom_catalog_makes_its_photos_searchable_and_filterable() {
    let data = tempfile::tempdir().expect("temp dir");
    let lib = tempfile::tempdir().expect("temp dir");
    let lr_dir = tempfile::tempdir().expect("temp dir");
    let root = lib.path().join("Fotos");
    picture(&root.join("2023/Japan"), "DSC_0001.png", 0);
    picture(&root.join("2023/Japan"), "DSC_0002.png", 1);
    picture(&root.join("Übersicht"), "café.png", 2);
    // Moved after Lightroom saw it: the catalog still says `Old/IMG_9.png`.
    picture(&root.join("New"), "IMG_9.png", 3);
    picture(&root, "not-in-lightroom.png", 4);

    let engine = open(data.path());
    crawl_root(&engine, lib.path());
    let mut catalog = Catalog::open(&engine.paths.catalog).expect("catalog");
    let stand_ins = engine.paths.stand_ins.clone();

    let cat = lr_dir.path().join("Photos.lrcat");
    let mut b = Builder::new(&cat, &root, Release::Classic14).expect("catalog");
    b.photo(&Photo {
        folder: "2023/Japan".into(),
        name: "DSC_0001.png".into(),
        capture: Some("2023-04-02T06:12:44.50".into()),
        rating: Some(5),
        pick: 1,
        label: "Red".into(),
        title: Some("Fuji from the plane window".into()),
        caption: Some("Seat 32A at dawn".into()),
        keywords: vec!["Places|Japan|Shizuoka".into(), "@Akiko Tanaka".into()],
        collections: vec!["Travel/Japan 2023".into()],
        copies: vec![(
            "Copy 1".into(),
            vec!["monochrome".into()],
            vec!["Portfolio".into()],
        )],
        ..Default::default()
    })
    .expect("photo");
    b.photo(&Photo {
        folder: "2023/Japan".into(),
        name: "DSC_0002.png".into(),
        rating: Some(2),
        pick: -1,
        keywords: vec!["Places|Japan|Tokyo".into()],
        collections: vec!["Travel/Japan 2023".into()],
        ..Default::default()
    })
    .expect("photo");
    b.photo(&Photo {
        folder: "Übersicht".into(),
        name: "café.png".into(),
        rating: Some(4),
        keywords: vec!["Kaffeehaus".into()],
        ..Default::default()
    })
    .expect("photo");
    b.photo(&Photo {
        folder: "Old".into(),
        name: "IMG_9.png".into(),
        keywords: vec!["moved".into()],
        ..Default::default()
    })
    .expect("photo");
    b.photo(&Photo {
        folder: "Gone".into(),
        name: "lost.NEF".into(),
        keywords: vec!["lost".into()],
        ..Default::default()
    })
    .expect("photo");
    drop(b);
    let before = std::fs::read(&cat).expect("bytes");

    let done = lightroom::import(&mut catalog, &cat, &stand_ins).expect("imports");
    assert_eq!(done.counts.photos, 5);
    assert_eq!(done.counts.by_path, 3);
    // The moved file has no capture time to match on: it stays unmatched (never a guess).
    assert_eq!((done.counts.by_name, done.counts.unmatched), (0, 2));
    assert_eq!(done.originals_missing, 2);
    assert_eq!(std::fs::read(&cat).expect("bytes"), before, "never written");

    // Keywords at any level, titles, captions, collections and person names are words.
    for (query, want) in [
        ("Shizuoka", vec!["DSC_0001.png"]),
        ("text:japan", vec!["DSC_0001.png", "DSC_0002.png"]),
        ("text:\"plane window\"", vec!["DSC_0001.png"]),
        ("text:plane", vec!["DSC_0001.png"]),
        ("text:dawn", vec!["DSC_0001.png"]),
        ("text:Akiko", vec!["DSC_0001.png"]),
        ("text:kaffeehaus", vec!["café.png"]),
        ("text:monochrome", vec!["DSC_0001.png"]),
        ("text:portfolio", vec!["DSC_0001.png"]),
    ] {
        let got = names(&engine, &catalog, query);
        let want: Vec<String> = want.into_iter().map(str::to_owned).collect();
        assert!(
            want.iter().all(|w| got.contains(w)),
            "{query}: {got:?} lacks some of {want:?}"
        );
        if query.starts_with("text:") {
            assert_eq!(got, want, "{query}");
        }
    }
    // Operators.
    for (query, want) in [
        ("rating:>=4", vec!["DSC_0001.png", "café.png"]),
        ("rating:2", vec!["DSC_0002.png"]),
        ("pick:yes", vec!["DSC_0001.png"]),
        ("pick:rejected", vec!["DSC_0002.png"]),
        ("label:red", vec!["DSC_0001.png"]),
        (
            "collection:\"Japan 2023\"",
            vec!["DSC_0001.png", "DSC_0002.png"],
        ),
        (
            "collection:\"travel / japan 2023\"",
            vec!["DSC_0001.png", "DSC_0002.png"],
        ),
        ("collection:Japan", vec![]),
        ("keyword:Japan", vec!["DSC_0001.png", "DSC_0002.png"]),
        ("keyword:tokyo", vec!["DSC_0002.png"]),
        ("keyword:\"Akiko Tanaka\" rating:5", vec!["DSC_0001.png"]),
        ("keyword:Japan rating:<3", vec!["DSC_0002.png"]),
    ] {
        let want: Vec<String> = want.into_iter().map(str::to_owned).collect();
        assert_eq!(names(&engine, &catalog, query), want, "{query}");
    }
    // The lightbox's facts.
    let first = catalog
        .image_details(&search_ids(&engine, &catalog, "pick:yes"))
        .expect("details");
    let facts = first[0].catalog.clone().expect("catalog facts");
    assert_eq!(facts.title.as_deref(), Some("Fuji from the plane window"));
    assert_eq!((facts.rating, facts.flag), (Some(5), 1));
    assert_eq!(facts.collections, ["Portfolio", "Travel / Japan 2023"]);
    assert!(facts
        .keywords
        .contains(&"Places > Japan > Shizuoka".to_owned()));

    // Re-import after a change in Lightroom: the new keyword is found, the old one gone.
    let conn = rusqlite::Connection::open(&cat).expect("opens");
    conn.execute(
        "UPDATE AgLibraryKeyword SET name = 'Hakone', lc_name = 'hakone' WHERE name = 'Shizuoka'",
        [],
    )
    .expect("renames");
    // The moved photo's folder is found again in Lightroom.
    conn.execute(
        "UPDATE AgLibraryFolder SET pathFromRoot = 'New/' WHERE pathFromRoot = 'Old/'",
        [],
    )
    .expect("moves");
    drop(conn);
    let again = lightroom::import(&mut catalog, &cat, &stand_ins).expect("imports again");
    assert_eq!(again.source_id, done.source_id);
    assert_eq!((again.counts.by_path, again.counts.unmatched), (4, 1));
    assert_eq!(names(&engine, &catalog, "text:hakone"), ["DSC_0001.png"]);
    assert!(names(&engine, &catalog, "text:shizuoka").is_empty());
    assert_eq!(names(&engine, &catalog, "keyword:moved"), ["IMG_9.png"]);
    assert_eq!(catalog.sources().expect("sources").len(), 1);

    // Removing the catalog removes what it brought.
    assert!(catalog.remove_source(&again.catalog).expect("removes"));
    assert!(names(&engine, &catalog, "text:hakone").is_empty());
    assert!(names(&engine, &catalog, "rating:>=1").is_empty());
    assert!(catalog.sources().expect("sources").is_empty());
}

pub(crate) fn search_ids(engine: &Engine, catalog: &Catalog, text: &str) -> Vec<i64> {
    let query = Query {
        text: Some(text.into()),
        ..Query::default()
    };
    search(engine, catalog, &query, 0, 100)
        .expect("searches")
        .hits
        .iter()
        .map(|h| h.id)
        .collect()
}

#[test]
fn moved_folders_match_by_name_and_capture_time() {
    // Trove's catalog with a file whose capture time is known: a JPEG with EXIF.
    let data = tempfile::tempdir().expect("temp dir");
    let lib = tempfile::tempdir().expect("temp dir");
    let jpeg = synth::generate(3, Split::Test, 0, synth::DEFAULT_SIZE).image;
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 85)
        .encode_image(&jpeg)
        .expect("encodes");
    let bytes = lightroom::with_capture_time(&bytes, "2019:08:01 10:11:12");
    std::fs::create_dir_all(lib.path().join("Sorted/2019")).expect("folder");
    std::fs::write(lib.path().join("Sorted/2019/DSC_7.jpg"), &bytes).expect("writes");
    let engine = open(data.path());
    crawl_root(&engine, lib.path());
    let mut catalog = Catalog::open(&engine.paths.catalog).expect("catalog");
    let stand_ins = engine.paths.stand_ins.clone();
    let lr = tempfile::tempdir().expect("temp dir");
    let cat = lr.path().join("Old.lrcat");
    let mut b = Builder::new(&cat, Path::new("/Volumes/Card"), Release::Lr5).expect("catalog");
    b.photo(&Photo {
        folder: "DCIM/100".into(),
        name: "DSC_7.JPG".into(),
        capture: Some("2019-08-01T10:11:12".into()),
        keywords: vec!["sunflower".into()],
        ..Default::default()
    })
    .expect("photo");
    drop(b);
    let done = lightroom::import(&mut catalog, &cat, &stand_ins).expect("imports");
    assert_eq!((done.counts.by_name, done.counts.unmatched), (1, 0));
    assert_eq!(names(&engine, &catalog, "keyword:sunflower"), ["DSC_7.jpg"]);
}

#[test]
fn a_bad_catalog_changes_nothing() {
    let data = tempfile::tempdir().expect("temp dir");
    let engine = open(data.path());
    let mut catalog = Catalog::open(&engine.paths.catalog).expect("catalog");
    let stand_ins = engine.paths.stand_ins.clone();
    let dir = tempfile::tempdir().expect("temp dir");
    let not = dir.path().join("holiday.lrcat");
    std::fs::write(&not, b"\x89PNG\r\n\x1a\n not a catalog").expect("writes");
    let err = lightroom::import(&mut catalog, &not, &stand_ins).expect_err("refused");
    assert!(
        matches!(
            err,
            lightroom::ImportError::Lightroom(LrcatError::NotSqlite { .. })
        ),
        "{err}"
    );
    assert!(catalog.sources().expect("sources").is_empty());
}

/// A JPEG of generated picture `i` at `w`×`h`.
pub(crate) fn jpeg(i: u64, w: u32, h: u32) -> Vec<u8> {
    let img = synth::generate(11, Split::Test, i, synth::DEFAULT_SIZE).image;
    let img = image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle);
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encodes");
    out.into_inner()
}

#[test]
fn an_offline_original_is_indexed_through_its_lightroom_preview() {
    let data = tempfile::tempdir().expect("temp dir");
    let lib = tempfile::tempdir().expect("temp dir");
    let lr_dir = tempfile::tempdir().expect("temp dir");
    let root = lib.path().join("Fotos");
    picture(&root.join("2023"), "here.png", 0);
    let engine = open(data.path());
    let mut catalog = Catalog::open(&engine.paths.catalog).expect("catalog");
    let stand_ins = engine.paths.stand_ins.clone();
    let cat = lr_dir.path().join("Photos.lrcat");
    let mut b = Builder::new(&cat, &root, Release::Classic14).expect("catalog");
    b.photo(&Photo {
        folder: "2023".into(),
        name: "here.png".into(),
        ..Default::default()
    })
    .expect("photo");
    // On a drive that is not plugged in: only Lightroom's previews of it are here.
    b.photo(&Photo {
        folder: "Archive".into(),
        name: "DSC_0042.NEF".into(),
        capture: Some("2019-08-10T17:03:00".into()),
        keywords: vec!["Places|Iceland|Vik".into()],
        title: Some("Black sand".into()),
        preview: vec![jpeg(1, 80, 60), jpeg(1, 320, 240)],
        ..Default::default()
    })
    .expect("photo");
    drop(b);

    let done = lightroom::import(&mut catalog, &cat, &stand_ins).expect("imports");
    assert_eq!(done.originals_missing, 1);
    let folder = trove_engine::paths::stand_in_folder(&stand_ins, &done.catalog);
    let stand_in = folder.join("Fotos/Archive/DSC_0042.jpg");
    let bytes = std::fs::read(&stand_in).expect("the largest preview stands in");
    assert_eq!(lightroom::lrprev::jpeg_size(&bytes), Some((320, 240)));

    // Any crawl indexes the stand-ins with the library.
    crawl_root(&engine, lib.path());
    assert_eq!(names(&engine, &catalog, "keyword:Vik"), ["DSC_0042.jpg"]);
    let ids = search_ids(&engine, &catalog, "keyword:Vik");
    let detail = catalog.image_details(&ids).expect("details").remove(0);
    assert_eq!(
        detail.facts.taken_at.as_deref(),
        Some("2019-08-10T17:03:00")
    );
    let facts = detail.catalog.expect("the catalog's facts");
    assert!(facts.preview_only, "marked as a preview");
    assert!(
        facts.original.ends_with("Archive/DSC_0042.NEF"),
        "{facts:?}"
    );
    assert_eq!(facts.title.as_deref(), Some("Black sand"));

    // Importing again changes nothing; once the original is back, it takes the place.
    let modified = std::fs::metadata(&stand_in)
        .and_then(|m| m.modified())
        .expect("date");
    lightroom::import(&mut catalog, &cat, &stand_ins).expect("imports again");
    let again = std::fs::metadata(&stand_in)
        .and_then(|m| m.modified())
        .expect("date");
    assert_eq!(
        modified, again,
        "an unchanged stand-in is not written again"
    );
    std::fs::create_dir_all(root.join("Archive")).expect("folder");
    let nef = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats/nikon.nef");
    std::fs::copy(nef, root.join("Archive/DSC_0042.NEF")).expect("the original is back");
    let back = lightroom::import(&mut catalog, &cat, &stand_ins).expect("imports again");
    assert_eq!(back.originals_missing, 0);
    assert!(!stand_in.exists(), "no longer needed");
    crawl_root(&engine, lib.path());
    assert_eq!(names(&engine, &catalog, "keyword:Vik"), ["DSC_0042.NEF"]);

    // Forgetting the catalog forgets its stand-ins.
    std::fs::remove_file(root.join("Archive/DSC_0042.NEF")).expect("removes");
    lightroom::import(&mut catalog, &cat, &stand_ins).expect("imports again");
    assert!(stand_in.exists());
    assert!(catalog.remove_source(&done.catalog).expect("removes"));
    trove_engine::paths::remove_stand_ins(&stand_ins, &done.catalog).expect("deletes");
    assert!(!folder.exists());
}
