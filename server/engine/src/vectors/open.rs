//! Opening the index: a saved index proves itself against the catalog, the source of truth,
//! and says what it did. One that matches is loaded; one that lags (a kill after the catalog
//! took vectors and before the index was saved) is caught up with only what it lacks or holds
//! wrongly; anything else is rebuilt from the catalog, on one insert thread per core.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use super::{sidecar_path, Graph, Result, Sidecar, VectorError, VectorIndex, SLOTS};
use crate::catalog::Catalog;

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

impl VectorIndex {
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
        catalog: &Catalog,
        model_id: i64,
    ) -> Result<(Self, Opened)> {
        let expected = catalog.counts(Some(model_id))?.embedded as usize;
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
                let added = vi.fill(catalog, model_id, |id, v| !vi.holds(id, v, &mut scratch))?;
                if vi.len() == expected {
                    vi.save()?;
                    return Ok((vi, Opened::CaughtUp { added }));
                }
            }
        }
        let vi = VectorIndex::new(path, model, dim, Graph::ENGINE)?;
        vi.reserve(expected + 1024)?;
        vi.fill(catalog, model_id, |_, _| true)?;
        vi.save()?;
        Ok((vi, Opened::Rebuilt))
    }

    /// Adds the catalog's embeddings of `model_id` that `wanted` picks: one thread reads the
    /// catalog, one per core inserts (HNSW inserts dominate). Returns how many were added.
    fn fill(
        &self,
        catalog: &Catalog,
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
                                .unwrap_or_else(PoisonError::into_inner)
                                .get_or_insert(e);
                            return;
                        }
                    }
                });
            }
            drop(rx);
            let fed = catalog.for_each_embedding(model_id, |id, v| {
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
        match failed.into_inner().unwrap_or_else(PoisonError::into_inner) {
            Some(e) => Err(e),
            None => Ok(added),
        }
    }

    /// Whether the index holds `vector` (up to its rounding) for image `id`.
    fn holds(&self, id: i64, vector: &[f32], scratch: &mut [f32]) -> bool {
        let index = self.read();
        let _slot = self.slots.take();
        if !index.contains(id as u64) || !index.get(id as u64, scratch).is_ok_and(|n| n == 1) {
            return false;
        }
        let dot: f32 = scratch.iter().zip(vector).map(|(a, b)| a * b).sum();
        let norms = scratch.iter().map(|a| a * a).sum::<f32>().sqrt()
            * vector.iter().map(|b| b * b).sum::<f32>().sqrt();
        dot >= 0.999 * norms
    }
}
