//! The vector index against brute force and against a real catalog.

use std::path::Path;

use usearch::ScalarKind;

use super::*;
use crate::catalog::Catalog;

fn unit(seed: u64, dim: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v: Vec<f32> = (0..dim)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

#[test]
fn finds_the_nearest_and_grows_past_its_capacity() {
    let dir = tempfile::tempdir().expect("temp dir");
    let vi = VectorIndex::new(
        &dir.path().join("v.usearch"),
        "m",
        8,
        Graph::stored_as(ScalarKind::F32),
    )
    .expect("creates");
    for i in 0..3000 {
        vi.add(i, &unit(i as u64, 8)).expect("adds");
    }
    assert_eq!(vi.len(), 3000);
    let hits = vi.search(&unit(42, 8), 3).expect("searches");
    assert_eq!(hits[0].id, 42);
    assert!((hits[0].similarity - 1.0).abs() < 1e-4);
    vi.add(42, &unit(7, 8)).expect("replaces");
    assert_eq!(vi.len(), 3000);
    vi.remove(7).expect("removes");
    assert_eq!(vi.search(&unit(7, 8), 1).expect("searches")[0].id, 42);
    assert!(matches!(
        vi.add(1, &[1.0]),
        Err(VectorError::Dimension { .. })
    ));
}

/// A catalog of `n` images (ids 1..=n) with the vectors `unit(id, 8)`, and its model id.
fn catalog(path: &Path, n: u64) -> (Catalog, i64) {
    use crate::catalog::{FileFacts, Outcome};
    use crate::media::ImageFacts;
    let mut store = Catalog::open(path).expect("catalog");
    let (model_id, _) = store.prepare_model("m", 8, "fp").expect("model");
    let root_id = store.ensure_root(Path::new("/photos")).expect("root");
    let crawl = store.begin_crawl(model_id).expect("crawl");
    let batch = (1..=n)
        .map(|i| Outcome::Indexed {
            file: FileFacts {
                root_id,
                path: format!("/photos/{i}.jpg").into_bytes(),
                size: 1,
                mtime_ns: 1,
                inode: i,
                metadata: Default::default(),
            },
            image: ImageFacts {
                hash: *blake3::hash(&i.to_le_bytes()).as_bytes(),
                format: "jpeg".into(),
                ..ImageFacts::default()
            },
            embedding: Some(unit(i, 8)),
        })
        .collect();
    store.write_batch(crawl, model_id, batch).expect("writes");
    (store, model_id)
}

#[test]
fn a_saved_index_that_lags_the_catalog_gets_only_what_it_lacks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("m.usearch");
    // Saved when the catalog held 300 images; a kill -9 after 200 more were committed.
    let (store, model_id) = catalog(&dir.path().join("a.db"), 300);
    let (vi, opened) = VectorIndex::open(&path, "m@1", 8, &store, model_id).expect("opens");
    assert_eq!((opened, vi.len()), (Opened::Rebuilt, 300));
    drop(vi);
    let (store, model_id) = catalog(&dir.path().join("b.db"), 500);
    let (vi, opened) = VectorIndex::open(&path, "m@1", 8, &store, model_id).expect("opens");
    assert_eq!((opened, vi.len()), (Opened::CaughtUp { added: 200 }, 500));
    assert_eq!(
        vi.search_exact(&unit(450, 8), 1).expect("search")[0].id,
        450
    );
    drop(vi);
    let (vi, opened) = VectorIndex::open(&path, "m@1", 8, &store, model_id).expect("opens");
    assert_eq!((opened, vi.len()), (Opened::Loaded, 500));
    drop(vi);
    // Other weights under the name, or images the catalog no longer has: built again.
    let (vi, opened) = VectorIndex::open(&path, "m@2", 8, &store, model_id).expect("opens");
    assert_eq!((opened, vi.len()), (Opened::Rebuilt, 500));
    assert_eq!(vi.read().scalar_kind(), Graph::ENGINE.stored);
    drop(vi);
    let (store, model_id) = catalog(&dir.path().join("c.db"), 100);
    let (vi, opened) = VectorIndex::open(&path, "m@2", 8, &store, model_id).expect("opens");
    assert_eq!((opened, vi.len()), (Opened::Rebuilt, 100));
}

#[test]
fn an_id_that_now_holds_another_vector_is_replaced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("m.usearch");
    let (store, model_id) = catalog(&dir.path().join("a.db"), 50);
    // Saved in f16, as earlier versions did: it loads, stays f16 and is caught up.
    let vi = VectorIndex::new(&path, "m@1", 8, Graph::stored_as(ScalarKind::F16)).expect("creates");
    for i in 1..=40 {
        // Ids 1-10 hold other vectors (as when SQLite reuses the id of a forgotten image).
        vi.add(
            i,
            &unit(if i <= 10 { 1000 + i as u64 } else { i as u64 }, 8),
        )
        .expect("adds");
    }
    vi.save().expect("saves");
    drop(vi);
    let (vi, opened) = VectorIndex::open(&path, "m@1", 8, &store, model_id).expect("opens");
    assert_eq!((opened, vi.len()), (Opened::CaughtUp { added: 20 }, 50));
    assert_eq!(vi.read().scalar_kind(), ScalarKind::F16);
    for i in 1..=50 {
        assert_eq!(
            vi.search_exact(&unit(i, 8), 1).expect("search")[0].id,
            i as i64
        );
    }
}

/// HNSW against brute force on 100k random unit vectors (the hardest case for a graph
/// index: no clusters), filled from two threads at once.
#[test]
fn hnsw_recall_at_10_is_at_least_0_95_on_100k_random_vectors() {
    const N: i64 = 100_000;
    const DIM: usize = 128;
    let dir = tempfile::tempdir().expect("temp dir");
    let vi =
        VectorIndex::new(&dir.path().join("v.usearch"), "m", DIM, Graph::ENGINE).expect("creates");
    vi.reserve(N as usize).expect("reserves");
    std::thread::scope(|s| {
        for half in 0..2 {
            let vi = &vi;
            s.spawn(move || {
                for i in (half..N).step_by(2) {
                    vi.add(i, &unit(i as u64, DIM)).expect("adds");
                }
            });
        }
    });
    assert_eq!(vi.len(), N as usize);
    let queries = 200;
    let mut found = 0;
    for q in 0..queries {
        let query = unit(1_000_000 + q, DIM);
        let truth: Vec<i64> = vi
            .search_exact(&query, 10)
            .expect("exact")
            .iter()
            .map(|h| h.id)
            .collect();
        // As the engine asks: its first bucket of candidates, of which the top ten show.
        let approx = vi
            .search_hnsw(&query, crate::search::FIRST_BUCKET)
            .expect("hnsw");
        found += approx
            .iter()
            .take(10)
            .filter(|h| truth.contains(&h.id))
            .count();
    }
    let recall = found as f64 / (queries as f64 * 10.0);
    eprintln!("HNSW recall@10 on {N} random {DIM}-d vectors: {recall}");
    assert!(recall >= 0.95, "recall@10 = {recall}");
}
