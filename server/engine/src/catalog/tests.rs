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
