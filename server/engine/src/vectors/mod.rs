//! The vector index: a usearch HNSW graph (cosine, vectors kept in bf16) keyed by image id, saved
//! beside the catalog. It is a cache of the catalog's embeddings: at open it proves itself
//! against the catalog and says what it did ([`Opened`], in [`open`]).
//!
//! usearch calls grab a "thread slot" without waiting and fail when none is free, and
//! `reserve` must not overlap any other call; so every call holds a slot from a small pool
//! ([`slots`]), and growth and saving take the write side of a lock.

mod open;
mod slots;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::{Deserialize, Serialize};
/// How vectors are stored in the index ([`Graph::stored`]).
pub use usearch::ScalarKind;
use usearch::{Index, IndexOptions, MetricKind};

pub use open::Opened;
use slots::SlotPool;

use crate::catalog::CatalogError;
use crate::fsutil::{replace_with, write_atomic, WriteOptions};

/// How an HNSW graph is built and what it stores. The engine's is [`Graph::ENGINE`]; the search
/// bench weighs others against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Graph {
    /// How the index stores vectors.
    pub stored: ScalarKind,
    /// Links per vector in the upper layers (twice as many on the base layer).
    pub links: usize,
    /// How wide an insert searches for neighbours (build time grows with it).
    pub insert_breadth: usize,
}

impl Graph {
    /// The engine's graph (README, "Searching", has the measurements):
    /// - bf16 rounds each component to 8 significant bits (a similarity moves by about 1e-4):
    ///   half the memory of f32, like f16, but cheaper distances (bf16 widens to f32 by a
    ///   shift, and CPUs with AVX512_BF16 multiply it directly). An index saved in f16 by an
    ///   earlier version loads and works as it is.
    /// - 32 links: 16 cost recall on random vectors (0.842 in the recall test, 24: 0.938).
    /// - inserts search 128 wide: 256 built twice as slowly for little recall (0.98 against
    ///   0.976 in the recall test, 1.000 both on structured vectors).
    pub const ENGINE: Graph = Graph {
        stored: ScalarKind::BF16,
        links: 32,
        insert_breadth: 128,
    };

    /// The engine's graph storing vectors as `stored`.
    pub const fn stored_as(stored: ScalarKind) -> Graph {
        Graph {
            stored,
            ..Graph::ENGINE
        }
    }
}

/// How wide a search looks at least (a search for k results looks at least k wide).
pub const EXPANSION_SEARCH: usize = 768;

/// Below this many vectors, searches are exact: brute force over bf16 vectors has perfect
/// recall and is at least as fast there (50,000: 2 ms a query against HNSW's 2.8 ms p50;
/// 100,000: 6 ms against 2.6 ms; README, "Searching").
pub const EXACT_BELOW: usize = 50_000;

/// Concurrent usearch calls allowed (its thread slots).
const SLOTS: usize = 32;

/// What can go wrong with the vector index.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    /// usearch refused an operation.
    #[error("vector index {op}")]
    Usearch {
        /// What was being done.
        op: &'static str,
        /// usearch's exception.
        #[source]
        source: cxx::Exception,
    },
    /// Reading the catalog for a rebuild failed.
    #[error("rebuilding the vector index")]
    Catalog(#[from] CatalogError),
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
    move |source| VectorError::Usearch { op, source }
}

/// The sidecar that says what a saved index holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Sidecar {
    model: String,
    dim: usize,
    count: usize,
}

/// A nearest neighbour: image id and cosine similarity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    /// Image row id.
    pub id: i64,
    /// Cosine similarity in [-1, 1].
    pub similarity: f32,
}

/// The HNSW index of one model's embeddings.
pub struct VectorIndex {
    index: RwLock<Index>,
    slots: SlotPool,
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

fn options(dim: usize, graph: Graph) -> IndexOptions {
    IndexOptions {
        dimensions: dim,
        metric: MetricKind::Cos,
        quantization: graph.stored,
        connectivity: graph.links,
        expansion_add: graph.insert_breadth,
        expansion_search: EXPANSION_SEARCH,
        ..IndexOptions::default()
    }
}

impl VectorIndex {
    /// An empty in-memory index that will save to `path`.
    pub fn new(path: &Path, model: &str, dim: usize, graph: Graph) -> Result<Self> {
        let index = Index::new(&options(dim, graph)).map_err(usearch("create"))?;
        index
            .reserve_capacity_and_threads(1024, SLOTS)
            .map_err(usearch("reserve"))?;
        Ok(VectorIndex {
            index: RwLock::new(index),
            slots: SlotPool::new(SLOTS),
            dim,
            model: model.to_owned(),
            path: path.to_path_buf(),
        })
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
        // Breadths are settings of the running index, not of the file (its links and the way
        // it stores vectors are).
        index.change_expansion_add(Graph::ENGINE.insert_breadth);
        index.change_expansion_search(EXPANSION_SEARCH);
        index
            .reserve_capacity_and_threads(index.size() + 1024, SLOTS)
            .map_err(usearch("reserve"))?;
        let vi = VectorIndex::new(path, model, dim, Graph::stored_as(index.scalar_kind()))?;
        *vi.write() = index;
        Ok(vi)
    }

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets how wide searches look at least (normally [`EXPANSION_SEARCH`]): for benchmarks
    /// that weigh recall against speed.
    pub fn set_search_breadth(&self, breadth: usize) {
        self.write().change_expansion_search(breadth);
    }

    fn reserve(&self, capacity: usize) -> Result<()> {
        let index = self.write();
        if index.capacity() < capacity {
            index
                .reserve_capacity_and_threads(capacity, SLOTS)
                .map_err(usearch("reserve"))?;
        }
        Ok(())
    }

    /// Vectors held.
    pub fn len(&self) -> usize {
        self.read().size()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    fn check_width(&self, vector: &[f32]) -> Result<()> {
        if vector.len() == self.dim {
            Ok(())
        } else {
            Err(VectorError::Dimension {
                want: self.dim,
                got: vector.len(),
            })
        }
    }

    /// Adds (or replaces) the vector of image `id`.
    pub fn add(&self, id: i64, vector: &[f32]) -> Result<()> {
        self.check_width(vector)?;
        let key = id as u64;
        loop {
            {
                let index = self.read();
                let _slot = self.slots.take();
                // Room for every slot, so concurrent adds can never overflow the capacity.
                if index.size() + SLOTS <= index.capacity() {
                    if index.contains(key) {
                        index.remove(key).map_err(usearch("remove"))?;
                    }
                    return index.add(key, vector).map_err(usearch("add"));
                }
            }
            let capacity = self.read().capacity();
            self.reserve((capacity * 2).max(1024 + SLOTS))?;
        }
    }

    /// Removes image `id` if present.
    pub fn remove(&self, id: i64) -> Result<()> {
        let index = self.read();
        let _slot = self.slots.take();
        index.remove(id as u64).map_err(usearch("remove"))?;
        Ok(())
    }

    /// The similarity to `query` (unit length) of each of `ids` the index holds, from the
    /// index's own copies (the precision search results have).
    pub fn similarities(&self, ids: &[i64], query: &[f32]) -> Result<Vec<(i64, f32)>> {
        self.check_width(query)?;
        let index = self.read();
        let mut buf = vec![0f32; self.dim];
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let found = index.get(id as u64, &mut buf).map_err(usearch("get"))?;
            if found > 0 {
                out.push((id, buf.iter().zip(query).map(|(a, b)| a * b).sum()));
            }
        }
        Ok(out)
    }

    /// The `k` nearest images to `query` (unit length), most similar first. Exact below
    /// [`EXACT_BELOW`] vectors, HNSW above.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Neighbour>> {
        self.check_width(query)?;
        let index = self.read();
        if k == 0 || index.size() == 0 {
            return Ok(Vec::new());
        }
        // usearch searches max(expansion_search, k) wide, so a deep page widens only itself.
        let _slot = self.slots.take();
        let matches = if index.size() < EXACT_BELOW {
            index.exact_search(query, k).map_err(usearch("search"))?
        } else {
            index.search(query, k).map_err(usearch("search"))?
        };
        Ok(neighbours(&matches))
    }

    /// The approximate search regardless of size (for recall tests and benchmarks).
    pub fn search_hnsw(&self, query: &[f32], k: usize) -> Result<Vec<Neighbour>> {
        self.check_width(query)?;
        let index = self.read();
        let _slot = self.slots.take();
        let matches = index.search(query, k).map_err(usearch("search"))?;
        Ok(neighbours(&matches))
    }

    /// The exact nearest neighbours (brute force inside usearch), regardless of size.
    pub fn search_exact(&self, query: &[f32], k: usize) -> Result<Vec<Neighbour>> {
        self.check_width(query)?;
        let index = self.read();
        let _slot = self.slots.take();
        let matches = index.exact_search(query, k).map_err(usearch("search"))?;
        Ok(neighbours(&matches))
    }

    /// Saves the index, then its sidecar, each atomically ([`crate::fsutil`]).
    pub fn save(&self) -> Result<()> {
        let index = self.write();
        let mut refused = None;
        let written = replace_with(&self.path, |partial| {
            index.save(&partial.to_string_lossy()).map_err(|e| {
                let io = std::io::Error::other(e.what().to_owned());
                refused = Some(e);
                io
            })
        });
        if let Some(source) = refused {
            return Err(VectorError::Usearch { op: "save", source });
        }
        written.map_err(|source| VectorError::Io {
            path: self.path.clone(),
            source,
        })?;
        let sidecar = Sidecar {
            model: self.model.clone(),
            dim: self.dim,
            count: index.size(),
        };
        let side = sidecar_path(&self.path);
        let bytes = serde_json::to_vec_pretty(&sidecar).map_err(|e| VectorError::Io {
            path: side.clone(),
            source: std::io::Error::other(e),
        })?;
        write_atomic(&side, &bytes, WriteOptions::default())
            .map_err(|source| VectorError::Io { path: side, source })
    }
}

/// usearch's matches as neighbours (its cosine distance is `1 - similarity`).
fn neighbours(matches: &usearch::ffi::Matches) -> Vec<Neighbour> {
    matches
        .keys
        .iter()
        .zip(&matches.distances)
        .map(|(&key, &d)| Neighbour {
            id: key as i64,
            similarity: 1.0 - d,
        })
        .collect()
}

fn sidecar_path(path: &Path) -> PathBuf {
    path.with_extension("json")
}
