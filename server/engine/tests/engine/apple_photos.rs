//! Apple Photos: libraries in each release's database shape (Photos 5 to 10), read; one
//! imported over an indexed library, its keywords, albums, people, titles and favourites
//! searchable, an iCloud-only photo found through its derivative; bad libraries refused.

use std::path::Path;

use trove_engine::apple_photos::fixture::{Builder, Photo, Release};
use trove_engine::apple_photos::{self, PhotosDb, PhotosError};
use trove_engine::catalog::Catalog;

use crate::lightroom::{jpeg, names, open, search_ids};
use crate::util::crawl_root;

const FUJI: &str = "F88C2797-1B6B-4B55-9BD8-2E35C81BDD12";
const CLOUD: &str = "C01D0000-AAAA-4BBB-8CCC-DDDDEEEEFFFF";

/// A library with a photo (its original in the library), a photo only in iCloud (two
/// derivatives), a photo in the trash and a movie.
fn library(dir: &Path, release: Release) -> std::path::PathBuf {
    let lib = dir.join("Photos Library.photoslibrary");
    let mut b = Builder::new(&lib, release).expect("library");
    let fuji = Photo {
        uuid: FUJI.into(),
        ext: "jpeg".into(),
        original_name: "IMG_0042.JPG".into(),
        // 2023-04-02 06:12:44 UTC, in Tokyo.
        created: 702_108_764.0,
        tz_offset: 9 * 3600,
        favorite: true,
        title: Some("Fuji from the plane".into()),
        description: Some("Seat 32A at dawn".into()),
        keywords: vec!["Japan".into(), "sunrise".into(), "東京".into()],
        albums: vec![
            vec!["Travel".into(), "Japan 2023".into()],
            vec!["Best".into()],
            vec!["Reisen".into(), "Café Tōkyō".into()],
        ],
        people: vec!["Akiko Tanaka".into(), "Zoë Ångström".into()],
        ..Photo::default()
    };
    b.photo(&fuji).expect("photo");
    let original = b.original(&fuji);
    std::fs::create_dir_all(original.parent().expect("folder")).expect("folder");
    std::fs::write(&original, jpeg(0, 160, 120)).expect("writes");
    b.photo(&Photo {
        uuid: CLOUD.into(),
        ext: "heic".into(),
        original_name: "IMG_0043.HEIC".into(),
        created: 702_200_000.0,
        keywords: vec!["cloud".into()],
        ..Photo::default()
    })
    .expect("photo");
    let derivatives = lib.join("resources/derivatives/C");
    std::fs::create_dir_all(&derivatives).expect("folder");
    std::fs::write(
        derivatives.join(format!("{CLOUD}_1_105_c.jpeg")),
        jpeg(1, 320, 240),
    )
    .expect("writes");
    std::fs::write(
        derivatives.join(format!("{CLOUD}_1_201_a.THM")),
        b"not a picture",
    )
    .expect("writes");
    let masters = lib.join("resources/derivatives/masters/C");
    std::fs::create_dir_all(&masters).expect("folder");
    std::fs::write(
        masters.join(format!("{CLOUD}_4_5005_c.jpeg")),
        jpeg(1, 64, 48),
    )
    .expect("writes");
    b.photo(&Photo {
        uuid: "7AA5E000-0000-4000-8000-000000000001".into(),
        ext: "jpeg".into(),
        keywords: vec!["trash".into()],
        trashed: true,
        ..Photo::default()
    })
    .expect("photo");
    b.photo(&Photo {
        uuid: "60E00000-0000-4000-8000-000000000002".into(),
        ext: "mov".into(),
        keywords: vec!["movie".into()],
        movie: true,
        ..Photo::default()
    })
    .expect("photo");
    lib
}

#[test]
fn every_release_from_photos_5_to_10_is_read() {
    for release in Release::ALL {
        let dir = tempfile::tempdir().expect("temp dir");
        let lib = library(dir.path(), release);
        let db = PhotosDb::open(&lib).unwrap_or_else(|e| panic!("{release:?}: {e}"));
        assert_eq!(
            db.model_version,
            Some(release.model_version()),
            "{release:?}"
        );
        assert!(apple_photos::photos_release(release.model_version()).is_some());
        let photos = db
            .photos(&lib)
            .unwrap_or_else(|e| panic!("{release:?}: {e}"));
        assert_eq!(photos.len(), 2, "{release:?}: no trash, no movies");
        let fuji = &photos[0];
        assert_eq!(fuji.uuid, FUJI);
        assert!(fuji.original.ends_with(format!("originals/F/{FUJI}.jpeg")));
        assert_eq!(fuji.original_name.as_deref(), Some("IMG_0042.JPG"));
        assert_eq!(
            fuji.taken_at.as_deref(),
            Some("2023-04-02T15:12:44"),
            "{release:?}"
        );
        assert!(fuji.favorite);
        assert_eq!(fuji.title.as_deref(), Some("Fuji from the plane"));
        assert_eq!(fuji.description.as_deref(), Some("Seat 32A at dawn"));
        assert_eq!(fuji.keywords, ["Japan", "sunrise", "東京"], "{release:?}");
        assert_eq!(
            fuji.albums,
            ["Best", "Reisen / Café Tōkyō", "Travel / Japan 2023"],
            "{release:?}"
        );
        assert_eq!(fuji.people, ["Akiko Tanaka", "Zoë Ångström"], "{release:?}");
        assert_eq!(photos[1].keywords, ["cloud"]);
        assert!(!photos[1].favorite);
    }
}

#[test]
fn a_photos_library_makes_its_photos_searchable_and_its_icloud_photos_visible() {
    let data = tempfile::tempdir().expect("temp dir");
    let dir = tempfile::tempdir().expect("temp dir");
    let lib = library(dir.path(), Release::Photos10);
    let engine = open(data.path());
    let originals = apple_photos::originals(&lib);
    crawl_root(&engine, &originals);
    let mut catalog = Catalog::open(&engine.paths.catalog).expect("catalog");
    let stand_ins = engine.paths.stand_ins.clone();
    let done = apple_photos::import(&mut catalog, &lib, &stand_ins).expect("imports");
    assert_eq!(done.version, "18402");
    assert_eq!(done.release, Some("Photos 10 (macOS 15)"));
    assert_eq!((done.counts.photos, done.counts.by_path), (2, 1));
    assert_eq!((done.originals_missing, done.stand_ins), (1, 1));
    // The iCloud photo's largest derivative stands in; the next crawl indexes it.
    crawl_root(&engine, &originals);
    let fuji = format!("{FUJI}.jpeg");
    assert_eq!(names(&engine, &catalog, "keyword:Japan"), [fuji.as_str()]);
    assert_eq!(
        names(&engine, &catalog, r#"collection:"Japan 2023""#),
        [fuji.as_str()]
    );
    assert_eq!(names(&engine, &catalog, "collection:Best"), [fuji.as_str()]);
    assert_eq!(names(&engine, &catalog, "keyword:東京"), [fuji.as_str()]);
    assert_eq!(
        names(&engine, &catalog, r#"collection:"café tōkyō""#),
        [fuji.as_str()]
    );
    assert_eq!(names(&engine, &catalog, "text:angstrom"), [fuji.as_str()]);
    assert_eq!(names(&engine, &catalog, "pick:yes"), [fuji.as_str()]);
    assert_eq!(names(&engine, &catalog, "text:akiko"), [fuji.as_str()]);
    assert_eq!(names(&engine, &catalog, "text:dawn"), [fuji.as_str()]);
    assert_eq!(
        names(&engine, &catalog, "keyword:cloud"),
        [format!("{CLOUD}.jpeg")]
    );
    assert!(names(&engine, &catalog, "keyword:trash").is_empty());
    let ids = search_ids(&engine, &catalog, "keyword:cloud");
    let detail = catalog.image_details(&ids).expect("details").remove(0);
    let facts = detail.catalog.expect("the library's facts");
    assert!(facts.preview_only, "marked as standing in");
    assert_eq!(
        (detail.facts.width, detail.facts.height),
        (320, 240),
        "the largest"
    );
    let people = catalog
        .source_facts(search_ids(&engine, &catalog, "keyword:Japan")[0])
        .expect("facts");
    assert_eq!(people[0].kind, "photos");
    assert!(people[0].keywords.contains(&"Akiko Tanaka".to_owned()));

    // Importing again picks up a change; removing forgets.
    let conn = rusqlite::Connection::open(lib.join("database/Photos.sqlite")).expect("opens");
    conn.execute(
        "UPDATE ZKEYWORD SET ZTITLE = 'Nihon' WHERE ZTITLE = 'Japan'",
        [],
    )
    .expect("renames");
    drop(conn);
    let again = apple_photos::import(&mut catalog, &lib, &stand_ins).expect("imports again");
    assert_eq!(again.source_id, done.source_id);
    assert_eq!(names(&engine, &catalog, "keyword:Nihon"), [fuji.as_str()]);
    assert!(names(&engine, &catalog, "keyword:Japan").is_empty());
    assert!(catalog.remove_source(&again.library).expect("removes"));
    trove_engine::paths::remove_stand_ins(&stand_ins, &again.library).expect("deletes");
    assert!(names(&engine, &catalog, "keyword:Nihon").is_empty());
}

#[test]
fn a_bad_library_is_refused_and_changes_nothing() {
    let data = tempfile::tempdir().expect("temp dir");
    let engine = open(data.path());
    let mut catalog = Catalog::open(&engine.paths.catalog).expect("catalog");
    let stand_ins = engine.paths.stand_ins.clone();
    let dir = tempfile::tempdir().expect("temp dir");
    let import = |catalog: &mut Catalog, lib: &Path| {
        apple_photos::import(catalog, lib, &stand_ins).expect_err("refused")
    };
    // A folder that is not a library.
    let not = dir.path().join("Holiday.photoslibrary");
    std::fs::create_dir_all(&not).expect("folder");
    let err = import(&mut catalog, &not);
    assert!(err.to_string().contains("is not a Photos library"), "{err}");
    // A damaged database.
    std::fs::create_dir_all(not.join("database")).expect("folder");
    std::fs::write(
        not.join("database/Photos.sqlite"),
        b"\x89PNG\r\n\x1a\n not SQLite",
    )
    .expect("writes");
    let err = import(&mut catalog, &not);
    assert!(
        matches!(
            err,
            apple_photos::ImportError::Photos(PhotosError::Damaged { .. })
        ),
        "{err}"
    );
    // A Photos 4 library.
    let old = dir.path().join("Old.photoslibrary");
    std::fs::create_dir_all(old.join("database")).expect("folder");
    std::fs::write(old.join("database/photos.db"), b"").expect("writes");
    let err = import(&mut catalog, &old);
    assert!(err.to_string().contains("Photos 4 or older"), "{err}");
    // A shape Trove does not know (no keyword table).
    let odd = library(dir.path(), Release::Photos8);
    let conn = rusqlite::Connection::open(odd.join("database/Photos.sqlite")).expect("opens");
    conn.execute_batch("DROP TABLE ZKEYWORD").expect("drops");
    drop(conn);
    let err = import(&mut catalog, &odd);
    assert!(
        err.to_string().contains("16320") && err.to_string().contains("ZKEYWORD"),
        "{err}"
    );
    assert!(catalog.sources().expect("sources").is_empty());
}
