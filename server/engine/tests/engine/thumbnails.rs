//! Thumbnails are a cache: missing or damaged, they are made again from the original.

use trove_engine::catalog::{path_bytes, Catalog};
use trove_engine::images::{ImageFiles, MAKERS};
use trove_engine::media::thumbs::{whole_jpeg, Thumbnails};

use crate::util::{crawl, engine, photo_jpeg};

#[test]
fn a_missing_or_damaged_thumbnail_is_made_again_from_the_original() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(&lib).expect("mkdir");
    let bytes = photo_jpeg(900, 600);
    std::fs::write(lib.join("a.jpg"), &bytes).expect("writes");
    let engine = engine(&tmp.path().join("data"));
    let real = std::fs::canonicalize(&lib).expect("real path");
    crawl(&engine, std::slice::from_ref(&real));
    let catalog = Catalog::open(&engine.paths.catalog).expect("catalog");
    let id = catalog
        .image_of_path(&path_bytes(&real.join("a.jpg")))
        .expect("reads")
        .expect("indexed");
    let (hash, _) = catalog.files_of(id).expect("reads").expect("known");
    let path = Thumbnails::new(&engine.paths.thumbs).grid_path(&hash);
    let written = std::fs::read(&path).expect("the crawl wrote it");
    let files = ImageFiles::new(&engine.paths);

    std::fs::remove_file(&path).expect("deletes");
    let again = files.thumbnail(&catalog, id).expect("reads").expect("made");
    assert!(whole_jpeg(&again));
    assert_eq!(image_size(&again), image_size(&written));
    assert!(path.is_file(), "kept for next time");

    std::fs::write(&path, &written[..written.len() / 2]).expect("damages");
    let repaired = files.thumbnail(&catalog, id).expect("reads").expect("made");
    assert!(whole_jpeg(&repaired));
    assert!(whole_jpeg(&std::fs::read(&path).expect("reads")));

    // No original, no thumbnail: an answer, not a failure.
    std::fs::remove_file(&path).expect("deletes");
    std::fs::remove_file(lib.join("a.jpg")).expect("deletes the original");
    assert_eq!(files.thumbnail(&catalog, id).expect("reads"), None);
    assert_eq!(files.thumbnail(&catalog, 999_999).expect("reads"), None);
}

fn image_size(jpeg: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory(jpeg).expect("decodes");
    (img.width(), img.height())
}

#[test]
fn a_preview_is_made_once_however_many_ask_and_a_few_at_a_time() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(&lib).expect("mkdir");
    for i in 0..6u32 {
        std::fs::write(
            lib.join(format!("{i}.jpg")),
            photo_jpeg(1600 + 16 * i, 1200),
        )
        .expect("writes");
    }
    let engine = engine(&tmp.path().join("data"));
    let real = std::fs::canonicalize(&lib).expect("real path");
    crawl(&engine, std::slice::from_ref(&real));
    let catalog_path = engine.paths.catalog.clone();
    let ids: Vec<i64> = {
        let catalog = Catalog::open(&catalog_path).expect("catalog");
        (0..6)
            .map(|i| {
                catalog
                    .image_of_path(&path_bytes(&real.join(format!("{i}.jpg"))))
                    .expect("reads")
                    .expect("indexed")
            })
            .collect()
    };
    let files = ImageFiles::new(&engine.paths);
    let ask = |wanted: Vec<i64>| {
        std::thread::scope(|s| {
            for id in wanted {
                let (files, catalog_path) = (&files, &catalog_path);
                s.spawn(move || {
                    let catalog = Catalog::open(catalog_path).expect("catalog");
                    let preview = files.preview(&catalog, id).expect("reads").expect("made");
                    assert!(whole_jpeg(&preview));
                });
            }
        });
    };
    // Ten viewers open the same picture at once: one preview is made.
    ask(vec![ids[0]; 10]);
    assert_eq!(files.maker_stats().made, 1);
    // Twelve ask for six pictures: each is made once, at most MAKERS at a time.
    ask(ids.iter().chain(&ids).copied().collect());
    let stats = files.maker_stats();
    assert_eq!(stats.made, 6);
    assert!(stats.peak <= MAKERS, "{stats:?}");
}
