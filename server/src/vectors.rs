//! The vector index: a usearch HNSW graph (cosine, f16 by default) keyed by image id, saved
//! beside the catalog. It is a cache: when its sidecar (model, dimension, count) disagrees with
//! the catalog it is rebuilt from the embeddings there.
//!
//! usearch calls grab a "thread slot" without waiting and fail when none is free, and
//! `reserve` must not overlap any other call; so every call holds a slot from a small counting
//! gate, and growth and saving take the write side of a lock.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::store::{Store, StoreError};

/// How wide an insert searches for neighbours (build time grows with it; recall is checked by
/// the recall test below and by the search bench at a million vectors).
pub const EXPANSION_ADD: usize = 256;
/// How wide a search looks at least (a search for k results looks at least k wide).
pub const EXPANSION_SEARCH: usize = 768;

/// Below this many vectors, searches are exact (brute force is fast and has perfect recall).
pub const EXACT_BELOW: usize = 20_000;

/// Concurrent usearch calls allowed (its thread slots).
const SLOTS: usize = 32;

/// What can go wrong with the vector index.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    /// usearch refused an operation.
    #[error("vector index {op}: {message}")]
    Usearch {
        /// What was being done.
        op: &'static str,
        /// usearch's message.
        message: String,
    },
    /// Reading the catalog for a rebuild failed.
    #[error("rebuilding the vector index")]
    Store(#[from] StoreError),
    /// Its files could not be written.
    #[error("cannot write {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A vector of the wrong width.
    #[error("a {got}-d vector for a {want}-d index")]
    Dimension {
        /// Index width.
        want: usize,
        /// Given width.
        got: usize,
    },
}

type Result<T> = std::result::Result<T, VectorError>;

fn usearch(op: &'static str) -> impl FnOnce(cxx::Exception) -> VectorError {
    move |e| VectorError::Usearch {
        op,
        message: e.what().to_owned(),
    }
}

/// The sidecar that says what a saved index holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Sidecar {
    model: String,
    dim: usize,
    count: usize,
}

/// A counting gate for usearch's thread slots.
struct Gate {
    free: Mutex<usize>,
    freed: Condvar,
}

struct Permit<'a>(&'a Gate);

impl Gate {
    fn acquire(&self) -> Permit<'_> {
        let mut free = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *free == 0 {
            free = self
                .freed
                .wait(free)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *free -= 1;
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self
            .0
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
        self.0.freed.notify_one();
    }
}

/// A search hit: image id and cosine similarity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Image row id.
    pub id: i64,
    /// Cosine similarity in [-1, 1].
    pub similarity: f32,
}

/// How [`VectorIndex::open`] came by its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// The saved index matched the catalog.
    Loaded,
    /// The saved index lagged the catalog; this many vectors were added to it.
    CaughtUp {
        /// Vectors added.
        added: usize,
    },
    /// Built from the catalog (none saved, another model's, or holding images the catalog
    /// no longer has).
    Rebuilt,
}

/// The HNSW index of one model's embeddings.
pub struct VectorIndex {
    index: RwLock<Index>,
    gate: Gate,
    dim: usize,
    model: String,
    path: PathBuf,
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("model", &self.model)
            .field("dim", &self.dim)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn options(dim: usize, quantization: ScalarKind) -> IndexOptions {
    IndexOptions {
        dimensions: dim,
        metric: MetricKind::Cos,
        quantization,
        connectivity: 32,
        expansion_add: EXPANSION_ADD,
        expansion_search: EXPANSION_SEARCH,
        ..IndexOptions::default()
    }
}

impl VectorIndex {
    /// An empty in-memory index that will save to `path`.
    pub fn new(path: &Path, model: &str, dim: usize, quantization: ScalarKind) -> Result<Self> {
        let index = Index::new(&options(dim, quantization)).map_err(usearch("create"))?;
        index
            .reserve_capacity_and_threads(1024, SLOTS)
            .map_err(usearch("reserve"))?;
        Ok(VectorIndex {
            index: RwLock::new(index),
            gate: Gate {
                free: Mutex::new(SLOTS),
                freed: Condvar::new(),
            },
            dim,
            model: model.to_owned(),
            path: path.to_path_buf(),
        })
    }

    /// Opens the index saved at `path` for the catalog's embeddings of `model_id`, and saves it
    /// again if it had to change. A saved index of the same `model` and `dim` that matches the
    /// catalog's count is used as it is. One that lags the catalog (the process was killed
    /// after the catalog took vectors and before the index was saved again) is brought up to
    /// date: only the vectors it lacks are added, not a million again. Otherwise, or when it
    /// holds images the catalog no longer has, it is rebuilt from the catalog.
    pub fn open(
        path: &Path,
        model: &str,
        dim: usize,
        store: &Store,
        model_id: i64,
    ) -> Result<(Self, Opened)> {
        let expected = store.counts(Some(model_id))?.embedded as usize;
        let sidecar: Option<Sidecar> = std::fs::read(sidecar_path(path))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if let Some(sidecar) = sidecar.filter(|s| s.model == model && s.dim == dim) {
            if let Ok(vi) = VectorIndex::load(path, model, dim) {
                if sidecar.count == expected && vi.len() == expected {
                    return Ok((vi, Opened::Loaded));
                }
                vi.reserve(expected + 1024)?;
                let mut scratch = vec![0f32; dim];
                let added = vi.fill(store, model_id, |id, v| !vi.holds(id, v, &mut scratch))?;
                if vi.len() == expected {
                    vi.save()?;
                    return Ok((vi, Opened::CaughtUp { added }));
                }
            }
        }
        let vi = VectorIndex::new(path, model, dim, ScalarKind::F16)?;
        vi.reserve(expected + 1024)?;
        vi.fill(store, model_id, |_, _| true)?;
        vi.save()?;
        Ok((vi, Opened::Rebuilt))
    }

    /// Adds the catalog's embeddings of `model_id` that `wanted` picks: one thread reads the
    /// catalog, one per core inserts (HNSW inserts dominate). Returns how many were added.
    fn fill(
        &self,
        store: &Store,
        model_id: i64,
        mut wanted: impl FnMut(i64, &[f32]) -> bool,
    ) -> Result<usize> {
        let workers = std::thread::available_parallelism()
            .map_or(2, std::num::NonZero::get)
            .min(SLOTS);
        let failed: Mutex<Option<VectorError>> = Mutex::new(None);
        let (tx, rx) = crossbeam_channel::bounded::<(i64, Vec<f32>)>(4096);
        let mut added = 0;
        let fed = std::thread::scope(|s| {
            for _ in 0..workers {
                let (rx, failed) = (rx.clone(), &failed);
                s.spawn(move || {
                    for (id, v) in rx {
                        if let Err(e) = self.add(id, &v) {
                            failed
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .get_or_insert(e);
                            return;
                        }
                    }
                });
            }
            drop(rx);
            let fed = store.for_each_embedding(model_id, |id, v| {
                if wanted(id, v) {
                    added += 1;
                    // Fails only once every worker stopped on an error, reported below.
                    let _ = tx.send((id, v.to_vec()));
                }
            });
            drop(tx);
            fed
        });
        fed?;
        match failed
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some(e) => Err(e),
            None => Ok(added),
        }
    }

    /// Whether the index holds `vector` (up to its f16 rounding) for image `id`.
    fn holds(&self, id: i64, vector: &[f32], scratch: &mut [f32]) -> bool {
        let index = self
            .index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _slot = self.gate.acquire();
        if !index.contains(id as u64) || !index.get(id as u64, scratch).is_ok_and(|n| n == 1) {
            return false;
        }
        let dot: f32 = scratch.iter().zip(vector).map(|(a, b)| a * b).sum();
        let norms = scratch.iter().map(|a| a * a).sum::<f32>().sqrt()
            * vector.iter().map(|b| b * b).sum::<f32>().sqrt();
        dot >= 0.999 * norms
    }

    /// Loads the index saved at `path` as it is, without checking it against a catalog (which
    /// [`open`](Self::open) does): for an index that has no catalog, as in the search bench.
    pub fn load(path: &Path, model: &str, dim: usize) -> Result<Self> {
        let index = Index::restore(&path.to_string_lossy()).map_err(usearch("restore"))?;
        if index.dimensions() != dim {
            return Err(VectorError::Dimension {
                want: dim,
                got: index.dimensions(),
            });
        }
        // Breadths are settings of the running index, not of the file.
        index.change_expansion_add(EXPANSION_ADD);
        index.change_expansion_search(EXPANSION_SEARCH);
        index
            .reserve_capacity_and_threads(index.size() + 1024, SLOTS)
            .map_err(usearch("reserve"))?;
        let vi = VectorIndex::new(path, model, dim, ScalarKind::F16)?;
        *vi.index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = index;
        Ok(vi)
    }

    /// Sets how wide searches look at least (normally [`EXPANSION_SEARCH`]): for benchmarks
    /// that weigh recall against speed.
    pub fn set_search_breadth(&self, breadth: usize) {
        self.index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .change_expansion_search(breadth);
    }

    fn reserve(&self, capacity: usize) -> Result<()> {
        let index = self
            .index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if index.capacity() < capacity {
            index
                .reserve_capacity_and_threads(capacity, SLOTS)
                .map_err(usearch("reserve"))?;
        }
        Ok(())
    }

    /// Vectors held.
    pub fn len(&self) -> usize {
        self.index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .size()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Adds (or replaces) the vector of image `id`.
    pub fn add(&self, id: i64, vector: &[f32]) -> Result<()> {
        if vector.len() != self.dim {
            return Err(VectorError::Dimension {
                want: self.dim,
                got: vector.len(),
            });
        }
        let key = id as u64;
        loop {
            {
                let index = self
                    .index
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let _slot = self.gate.acquire();
                // Room for every slot, so concurrent adds can never overflow the capacity.
                if index.size() + SLOTS <= index.capacity() {
                    if index.contains(key) {
                        index.remove(key).map_err(usearch("remove"))?;
                    }
                    return index.add(key, vector).map_err(usearch("add"));
                }
            }
            let capacity = self
                .index
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .capacity();
            self.reserve((capacity * 2).max(1024 + SLOTS))?;
        }
    }

    /// Removes image `id` if present.
    pub fn remove(&self, id: i64) -> Result<()> {
        let index = self
            .index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _slot = self.gate.acquire();
        index.remove(id as u64).map_err(usearch("remove"))?;
        Ok(())
    }

    /// The `k` nearest images to `query` (unit length), most similar first. Exact below
    /// [`EXACT_BELOW`] vectors, HNSW above.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        if query.len() != self.dim {
            return Err(VectorError::Dimension {
                want: self.dim,
                got: query.len(),
            });
        }
        let index = self
            .index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if k == 0 || index.size() == 0 {
            return Ok(Vec::new());
        }
        // usearch searches max(expansion_search, k) wide, so a deep page widens only itself.
        let _slot = self.gate.acquire();
        let matches = if index.size() < EXACT_BELOW {
            index.exact_search(query, k).map_err(usearch("search"))?
        } else {
            index.search(query, k).map_err(usearch("search"))?
        };
        Ok(hits(&matches))
    }

    /// The approximate search regardless of size (for recall tests and benchmarks).
    pub fn search_hnsw(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        let index = self
            .index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _slot = self.gate.acquire();
        let matches = index.search(query, k).map_err(usearch("search"))?;
        Ok(hits(&matches))
    }

    /// The exact nearest neighbours (brute force inside usearch), regardless of size.
    pub fn search_exact(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        let index = self
            .index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _slot = self.gate.acquire();
        let matches = index.exact_search(query, k).map_err(usearch("search"))?;
        Ok(hits(&matches))
    }

    /// Saves the index and its sidecar (each written to a temporary file, then renamed).
    pub fn save(&self) -> Result<()> {
        let index = self
            .index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| VectorError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let partial = self.path.with_extension("usearch.partial");
        index
            .save(&partial.to_string_lossy())
            .map_err(usearch("save"))?;
        std::fs::rename(&partial, &self.path).map_err(|source| VectorError::Io {
            path: self.path.clone(),
            source,
        })?;
        let sidecar = Sidecar {
            model: self.model.clone(),
            dim: self.dim,
            count: index.size(),
        };
        let side = sidecar_path(&self.path);
        let tmp = side.with_extension("json.partial");
        let bytes = serde_json::to_vec_pretty(&sidecar).map_err(|e| VectorError::Io {
            path: tmp.clone(),
            source: std::io::Error::other(e),
        })?;
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, &side))
            .map_err(|source| VectorError::Io { path: side, source })
    }
}

/// usearch's matches as hits (its cosine distance is `1 - similarity`).
fn hits(matches: &usearch::ffi::Matches) -> Vec<Hit> {
    matches
        .keys
        .iter()
        .zip(&matches.distances)
        .map(|(&key, &d)| Hit {
            id: key as i64,
            similarity: 1.0 - d,
        })
        .collect()
}

fn sidecar_path(path: &Path) -> PathBuf {
    path.with_extension("json")
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let vi = VectorIndex::new(&dir.path().join("v.usearch"), "m", 8, ScalarKind::F32)
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
    fn catalog(path: &Path, n: u64) -> (Store, i64) {
        use crate::store::{FileFacts, ImageFacts, Outcome};
        let mut store = Store::open(path).expect("catalog");
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
        let vi = VectorIndex::new(&path, "m@1", 8, ScalarKind::F16).expect("creates");
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
        let vi = VectorIndex::new(&dir.path().join("v.usearch"), "m", DIM, ScalarKind::F16)
            .expect("creates");
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
}
