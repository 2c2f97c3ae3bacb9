//! Reading Lightroom catalogs: the same photos from catalogs in the Lightroom 5, Classic 13 and
//! Classic 14 shapes; a catalog Lightroom holds open read from a copy; other files, old or
//! damaged catalogs and one mid-write refused with their reason; the file never written.
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use trove_engine::lightroom::fixture::{Builder, Photo, Release};
use trove_engine::lightroom::{Flag, Lrcat, LrcatError};

fn sample(release: Release) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cat = dir.path().join("Lightroom Catalog-v13.lrcat");
    let mut b = Builder::new(&cat, Path::new("/Volumes/Photos/Fotos"), release).expect("builds");
    b.photo(&Photo {
        folder: "2023/Japan".into(),
        name: "DSC_0001.NEF".into(),
        capture: Some("2023-04-02T06:12:44.50".into()),
        rating: Some(4),
        pick: 1,
        label: "Red".into(),
        title: Some("Fuji from the plane".into()),
        caption: Some("Seat 32A, early".into()),
        keywords: vec!["Places|Japan|Fuji".into(), "@Akiko Tanaka".into()],
        collections: vec!["Travel/Japan 2023".into()],
        copies: vec![(
            "Copy 1".into(),
            vec!["black and white".into(), "Places|Japan|Fuji".into()],
            vec!["Portfolio".into()],
        )],
        ..Default::default()
    })
    .expect("photo");
    b.photo(&Photo {
        folder: String::new(),
        name: "Übersicht café.jpg".into(),
        pick: -1,
        ..Default::default()
    })
    .expect("photo");
    drop(b);
    (dir, cat)
}

#[test]
fn reads_every_release_the_same() {
    for release in [Release::Lr5, Release::Classic13, Release::Classic14] {
        let (_dir, cat) = sample(release);
        let before = std::fs::read(&cat).expect("bytes");
        let lr = Lrcat::open(&cat).expect("opens");
        assert!(!lr.from_copy);
        let photos = lr.photos().expect("photos");
        assert_eq!(
            photos.len(),
            2,
            "{release:?}: a virtual copy is not a second file"
        );
        let p = &photos[0];
        assert_eq!(
            p.path,
            Path::new("/Volumes/Photos/Fotos/2023/Japan/DSC_0001.NEF")
        );
        assert_eq!(p.relative, Path::new("Fotos/2023/Japan/DSC_0001.NEF"));
        assert_eq!(p.capture_time.as_deref(), Some("2023-04-02T06:12:44.50"));
        assert_eq!((p.rating, p.flag), (Some(4), Flag::Pick));
        assert_eq!(p.label.as_deref(), Some("Red"));
        assert_eq!(
            p.title.as_deref(),
            Some("Fuji from the plane"),
            "{release:?}"
        );
        assert_eq!(p.caption.as_deref(), Some("Seat 32A, early"));
        let kw: Vec<(String, bool)> = p
            .keywords
            .iter()
            .map(|k| (k.path.join("|"), k.person))
            .collect();
        assert_eq!(
            kw,
            [
                ("Places|Japan|Fuji".to_owned(), false),
                ("Akiko Tanaka".to_owned(), true),
                ("black and white".to_owned(), false),
            ]
        );
        assert_eq!(p.collections, ["Travel / Japan 2023", "Portfolio"]);
        assert_eq!(p.copies.len(), 1);
        let q = &photos[1];
        assert_eq!(
            q.path,
            Path::new("/Volumes/Photos/Fotos/Übersicht café.jpg")
        );
        assert_eq!(
            (q.rating, q.flag, q.label.as_deref()),
            (None, Flag::Reject, None)
        );
        assert!(q.keywords.is_empty() && q.collections.is_empty());
        drop(lr);
        assert_eq!(std::fs::read(&cat).expect("bytes"), before, "never written");
    }
}

#[test]
fn an_open_catalog_is_read_from_a_copy() {
    let (_dir, cat) = sample(Release::Classic14);
    let lock = cat.with_file_name("Lightroom Catalog-v13.lrcat.lock");
    std::fs::write(&lock, b"").expect("lock");
    // Lightroom holds its catalog exclusively: nothing else may even read it in place.
    let holder = Connection::open(&cat).expect("opens");
    holder
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
        .expect("locks");
    let lr = Lrcat::open(&cat).expect("opens a copy");
    assert!(lr.from_copy);
    assert_eq!(lr.photos().expect("photos").len(), 2);
    drop(lr);
    // No lock file, but a lock all the same.
    std::fs::remove_file(&lock).expect("unlocks the file");
    let lr = Lrcat::open(&cat).expect("opens a copy");
    assert!(lr.from_copy);
    assert_eq!(lr.photos().expect("photos").len(), 2);
}

#[test]
fn other_files_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = dir.path().join("notes.lrcat");
    std::fs::write(&text, "not sqlite at all, just words".repeat(50)).expect("writes");
    let err = Lrcat::open(&text).err().expect("refused");
    assert!(matches!(err, LrcatError::NotSqlite { .. }), "{err}");
    assert!(err.to_string().contains("is not a Lightroom catalog"));

    let other = dir.path().join("other.lrcat");
    Connection::open(&other)
        .and_then(|c| c.execute_batch("CREATE TABLE notes (x);"))
        .expect("sqlite");
    let err = Lrcat::open(&other).err().expect("refused");
    assert!(
        matches!(
            err,
            LrcatError::NotACatalog {
                missing: "Adobe_variablesTable",
                ..
            }
        ),
        "{err}"
    );

    let (_d, cat) = sample(Release::Classic13);
    Connection::open(&cat)
        .and_then(|c| {
            c.execute(
                "UPDATE Adobe_variablesTable SET value = '0300025' WHERE name = 'Adobe_DBVersion'",
                [],
            )
        })
        .expect("edits");
    let err = Lrcat::open(&cat).err().expect("refused");
    assert!(err.to_string().contains("0300025"), "{err}");

    let (_d, cat) = sample(Release::Classic13);
    Connection::open(&cat)
        .and_then(|c| c.execute_batch("DROP TABLE AgLibraryCollectionImage;"))
        .expect("edits");
    let err = Lrcat::open(&cat).err().expect("refused");
    assert!(
        err.to_string()
            .contains("no AgLibraryCollectionImage table"),
        "{err}"
    );

    let err = Lrcat::open(&dir.path().join("missing.lrcat"))
        .err()
        .expect("refused");
    assert!(matches!(err, LrcatError::Read { .. }), "{err}");
}

#[test]
fn a_catalog_mid_write_is_refused() {
    let (_d, cat) = sample(Release::Classic13);
    let journal = cat.with_file_name("Lightroom Catalog-v13.lrcat-journal");
    std::fs::write(&journal, b"hot journal").expect("writes");
    let err = Lrcat::open(&cat).err().expect("refused");
    assert!(matches!(err, LrcatError::Busy { .. }), "{err}");
}

#[test]
fn a_damaged_catalog_and_a_keyword_cycle_are_survived() {
    // Cut short, as a copy interrupted half-way leaves it.
    let (_d, cat) = sample(Release::Classic13);
    let bytes = std::fs::read(&cat).expect("bytes");
    let cut = cat.with_file_name("cut.lrcat");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("writes");
    let err = Lrcat::open(&cut)
        .and_then(|c| c.photos().map(|_| c))
        .err()
        .expect("refused");
    assert!(matches!(err, LrcatError::Damaged { .. }), "{err}");
    assert!(err.to_string().contains("is damaged"), "{err}");

    // Keywords whose parents go round in a circle: read, once each, not forever.
    let (_d, cat) = sample(Release::Classic13);
    Connection::open(&cat)
        .and_then(|c| {
            c.execute_batch(
                "UPDATE AgLibraryKeyword SET parent = (SELECT id_local FROM AgLibraryKeyword WHERE name = 'Fuji')
                  WHERE name = 'Places';",
            )
        })
        .expect("edits");
    let photos = Lrcat::open(&cat).expect("opens").photos().expect("photos");
    let fuji = photos[0]
        .keywords
        .iter()
        .find(|k| k.name() == "Fuji")
        .expect("the keyword is still there");
    assert!(fuji.path.len() <= 3, "{:?}", fuji.path);
}
