//! The catalog's own tests, on a real SQLite file.

use std::path::Path;

use super::*;
use crate::media::ImageFacts;

fn facts(root_id: i64, path: &str) -> FileFacts {
    FileFacts {
        root_id,
        path: path.as_bytes().to_vec(),
        size: 10,
        mtime_ns: 5,
        inode: 7,
        metadata: Default::default(),
    }
}

fn image(hash: u8) -> ImageFacts {
    ImageFacts {
        hash: [hash; 32],
        format: "png".into(),
        width: 4,
        height: 3,
        bytes: 10,
        ..ImageFacts::default()
    }
}

#[test]
fn other_weights_under_a_known_name_forget_its_embeddings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Catalog::open(&dir.path().join("catalog.db")).expect("opens");
    let root = store.ensure_root(Path::new("/lib")).expect("root");
    let embed = |store: &mut Catalog, model: i64| {
        let crawl = store.begin_crawl(model).expect("crawl");
        store
            .write_batch(
                crawl,
                model,
                vec![Outcome::Indexed {
                    file: facts(root, "/lib/a.png"),
                    image: image(1),
                    embedding: Some(vec![0.6, 0.8]),
                }],
            )
            .expect("writes");
    };
    // A row from before fingerprints were kept: unknown weights, so forgotten.
    store
        .conn
        .execute("INSERT INTO models (name, dim) VALUES ('m', 2)", [])
        .expect("inserts");
    let model = store.model_id("m").expect("reads").expect("known");
    embed(&mut store, model);
    assert_eq!(
        store.prepare_model("m", 2, "aaa").expect("prepares"),
        (model, 1)
    );
    embed(&mut store, model);
    // The same weights keep them; other weights do not.
    assert_eq!(
        store.prepare_model("m", 2, "aaa").expect("prepares"),
        (model, 0)
    );
    assert_eq!(store.counts(Some(model)).expect("counts").embedded, 1);
    assert_eq!(
        store.prepare_model("m", 2, "bbb").expect("prepares"),
        (model, 1)
    );
    assert_eq!(store.counts(Some(model)).expect("counts").embedded, 0);
    // A model seen for the first time.
    let (other, forgotten) = store.prepare_model("n", 4, "ccc").expect("prepares");
    assert!(other != model && forgotten == 0);
}

#[test]
fn batches_link_files_to_content_and_moves_keep_embeddings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Catalog::open(&dir.path().join("catalog.db")).expect("opens");
    let root = store.ensure_root(Path::new("/lib")).expect("root");
    let (model, _) = store.prepare_model("m", 2, "fp").expect("model");
    let crawl = store.begin_crawl(model).expect("crawl");
    let effect = store
        .write_batch(
            crawl,
            model,
            vec![Outcome::Indexed {
                file: facts(root, "/lib/a.png"),
                image: image(1),
                embedding: Some(vec![0.6, 0.8]),
            }],
        )
        .expect("writes");
    assert_eq!(effect.added.len(), 1);
    let known = store
        .file(b"/lib/a.png", model)
        .expect("reads")
        .expect("known");
    assert!(known.embedded);
    // The same content under a new name: no new embedding, same image.
    let (image_id, embedded) = store
        .image_by_hash(&[1; 32], model)
        .expect("q")
        .expect("found");
    assert!(embedded);
    let crawl2 = store.begin_crawl(model).expect("crawl");
    store
        .write_batch(
            crawl2,
            model,
            vec![Outcome::Indexed {
                file: facts(root, "/lib/moved.png"),
                image: image(1),
                embedding: None,
            }],
        )
        .expect("writes");
    assert_eq!(store.finish_root(crawl2, root).expect("finishes"), 1);
    assert!(store.file(b"/lib/a.png", model).expect("reads").is_none());
    assert_eq!(
        store
            .file(b"/lib/moved.png", model)
            .expect("reads")
            .map(|f| f.image_id),
        Some(image_id)
    );
    assert!(store.purge_orphans().expect("purges").is_empty());
    assert_eq!(
        store.embedding(image_id, model).expect("reads"),
        Some(vec![0.6, 0.8])
    );
    let counts = store.counts(Some(model)).expect("counts");
    assert_eq!((counts.files, counts.images, counts.embedded), (1, 1, 1));
}

#[test]
fn a_skip_replaces_a_file_and_orphans_are_purged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Catalog::open(&dir.path().join("catalog.db")).expect("opens");
    let root = store.ensure_root(Path::new("/lib")).expect("root");
    let (model, _) = store.prepare_model("m", 2, "fp").expect("model");
    let crawl = store.begin_crawl(model).expect("crawl");
    store
        .write_batch(
            crawl,
            model,
            vec![Outcome::Indexed {
                file: facts(root, "/lib/a.png"),
                image: image(2),
                embedding: Some(vec![1.0, 0.0]),
            }],
        )
        .expect("writes");
    store
        .write_batch(
            crawl,
            model,
            vec![Outcome::Skipped {
                root_id: root,
                path: b"/lib/a.png".to_vec(),
                size: Some(3),
                mtime_ns: Some(9),
                reason: "truncated".into(),
            }],
        )
        .expect("writes");
    assert!(store.skipped_unchanged(b"/lib/a.png", 3, 9).expect("reads"));
    assert!(!store.skipped_unchanged(b"/lib/a.png", 4, 9).expect("reads"));
    assert_eq!(store.purge_orphans().expect("purges").len(), 1);
    assert_eq!(
        store.skipped(10).expect("lists"),
        [SkippedFile {
            path: "/lib/a.png".into(),
            reason: "truncated".into()
        }]
    );
}

#[test]
fn reopening_keeps_the_schema_and_refuses_newer_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("catalog.db");
    drop(Catalog::open(&path).expect("creates"));
    let store = Catalog::open(&path).expect("reopens");
    store
        .conn
        .pragma_update(None, "user_version", 99)
        .expect("bumps");
    drop(store);
    let err = Catalog::open(&path).expect_err("too new");
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

#[test]
fn connections_opening_a_new_catalog_together_migrate_it_once() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("catalog.db");
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let catalog = Catalog::open(&path).expect("every opener succeeds");
                    catalog.roots().expect("migrated");
                });
            }
        });
    }
}

/// The images whose keyword row matches an FTS5 query.
fn keyword_ids(store: &Catalog, query: &str) -> Vec<i64> {
    let mut stmt = store
        .conn
        .prepare("SELECT rowid FROM keyword_index WHERE keyword_index MATCH ?1 ORDER BY rowid")
        .expect("prepares");
    let rows = stmt.query_map([query], |r| r.get(0)).expect("queries");
    rows.collect::<std::result::Result<_, _>>().expect("reads")
}

#[test]
fn the_keyword_index_follows_names_words_and_forgetting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Catalog::open(&dir.path().join("catalog.db")).expect("opens");
    let root = store
        .ensure_root(Path::new("/home/me/Memes"))
        .expect("root");
    let model = store.prepare_model("m", 2, "aaa").expect("model").0;
    let crawl = store.begin_crawl(model).expect("crawl");
    let mut photo = image(1);
    photo.camera_model = Some("X-T30".into());
    photo.taken_at = Some("2023-03-14T10:22:01".into());
    store
        .write_batch(
            crawl,
            model,
            vec![
                Outcome::Indexed {
                    file: facts(root, "/home/me/Memes/Japan 2023/Fuji_from_plane.jpg"),
                    image: photo,
                    embedding: Some(vec![0.6, 0.8]),
                },
                Outcome::Indexed {
                    file: facts(root, "/home/me/Memes/café.png"),
                    image: image(2),
                    embedding: Some(vec![0.8, 0.6]),
                },
            ],
        )
        .expect("writes");
    let (fuji, cafe) = (
        store
            .image_of_path(b"/home/me/Memes/Japan 2023/Fuji_from_plane.jpg")
            .expect("reads")
            .expect("known"),
        store
            .image_of_path("/home/me/Memes/café.png".as_bytes())
            .expect("reads")
            .expect("known"),
    );
    // Folder and file names, substrings, any case, accents folded; the library's own name.
    assert_eq!(keyword_ids(&store, "\"japan\""), [fuji]);
    assert_eq!(keyword_ids(&store, "names:\"rom_pla\""), [fuji]);
    assert_eq!(keyword_ids(&store, "\"CAFE\""), [cafe]);
    assert_eq!(keyword_ids(&store, "names:\"memes/\""), [fuji, cafe]);
    // Camera facts and the capture date in words.
    assert_eq!(keyword_ids(&store, "facts:\"march 2023\""), [fuji]);
    assert_eq!(keyword_ids(&store, "\"x-t30\""), [fuji]);
    // Words read from the pixels, including text that is not space-separated.
    store
        .record_text(
            "ocr@1",
            &[
                TextRecord {
                    image_id: cafe,
                    text: "MONDAY AGAIN\n星期一又来了".into(),
                    lines_json: "[]".into(),
                },
                TextRecord {
                    image_id: fuji,
                    text: String::new(),
                    lines_json: "[]".into(),
                },
            ],
        )
        .expect("records");
    assert_eq!(keyword_ids(&store, "words:\"mond\""), [cafe]);
    assert_eq!(keyword_ids(&store, "\"期一又\""), [cafe]);
    assert_eq!(
        store.text_counts("ocr@1").expect("counts"),
        TextCounts {
            read: 2,
            with_words: 1,
            images: 2
        }
    );
    assert!(store
        .unread_images("ocr@1", 0, 10)
        .expect("unread")
        .is_empty());
    assert_eq!(
        store.unread_images("ocr@2", 0, 10).expect("unread").len(),
        2
    );
    // A new reader's words replace the old ones.
    store
        .record_text(
            "ocr@2",
            &[TextRecord {
                image_id: cafe,
                text: "TUESDAY".into(),
                lines_json: "[]".into(),
            }],
        )
        .expect("records");
    assert!(keyword_ids(&store, "\"monday\"").is_empty());
    assert_eq!(keyword_ids(&store, "\"tuesday\""), [cafe]);
    // Forgetting a file takes its name out; forgetting the image takes its row out.
    let next = store.begin_crawl(model).expect("crawl");
    store
        .write_batch(next, model, vec![Outcome::Unchanged { file_id: 2 }])
        .expect("writes");
    store.finish_root(next, root).expect("finishes");
    store.purge_orphans().expect("purges");
    let left: i64 = store
        .conn
        .query_row("SELECT count(*) FROM keyword_index", [], |r| r.get(0))
        .expect("counts");
    assert_eq!(left, 1);
    assert!(keyword_ids(&store, "\"japan\"").is_empty());
}
