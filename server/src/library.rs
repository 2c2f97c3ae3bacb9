//! A library opened for work: the catalog, the model, the vector index and the thumbnails of
//! one data directory, ready to crawl and (later) to search.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use trove_models::{Compute, Embedder};

use crate::decode::DecodeLimits;
use crate::ingest::{crawl, CrawlSummary, IngestConfig, IngestError, Progress};
use crate::model_store::{ModelStore, ModelStoreError};
use crate::settings::Settings;
use crate::store::{Store, StoreError};
use crate::thumbs::Thumbnails;
use crate::vectors::{Opened, VectorError, VectorIndex};

/// Why a library could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// The model is not installed or not valid.
    #[error(transparent)]
    Model(#[from] Box<ModelStoreError>),
    /// The model could not be loaded or run.
    #[error("loading model {model}")]
    Load {
        /// The model id.
        model: String,
        /// Why.
        #[source]
        source: trove_models::Error,
    },
    /// The catalog failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The vector index failed.
    #[error(transparent)]
    Vectors(#[from] VectorError),
    /// The model's files could not be read to fingerprint them.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// What identifies a model's weights: BLAKE3 of its `config.json` and `model.safetensors`
/// (hex). Embeddings in the catalog are kept per model name and fingerprint, so new weights
/// under an old name (an updated model, another Trove's demo model) re-embed the library.
pub fn fingerprint(dir: &Path) -> Result<String, LibraryError> {
    let mut hasher = blake3::Hasher::new();
    for name in ["config.json", "model.safetensors"] {
        let path = dir.join(name);
        let read = |source| LibraryError::Read {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::File::open(&path).map_err(read)?;
        hasher.update_reader(&mut file).map_err(read)?;
    }
    Ok(hasher.finalize().to_hex()[..32].to_owned())
}

/// Paths inside the data directory.
#[derive(Debug, Clone)]
pub struct DataPaths {
    /// The data directory.
    pub root: PathBuf,
    /// `catalog.db`.
    pub catalog: PathBuf,
    /// `thumbs/`.
    pub thumbs: PathBuf,
    /// `index/`.
    pub index: PathBuf,
}

impl DataPaths {
    /// The layout of `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        DataPaths {
            root: data_dir.to_path_buf(),
            catalog: data_dir.join("catalog.db"),
            thumbs: data_dir.join("thumbs"),
            index: data_dir.join("index"),
        }
    }

    /// The vector index file of a model.
    pub fn index_file(&self, model: &str) -> PathBuf {
        let slug: String = model
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let slug = slug.trim_start_matches(['.', '_']);
        let slug: String = slug.chars().take(120).collect();
        self.index.join(format!("{slug}.usearch"))
    }
}

/// An open library.
pub struct Library {
    /// Where everything lives.
    pub paths: DataPaths,
    /// The model id.
    pub model: String,
    /// The model's catalog row.
    pub model_id: i64,
    /// The loaded model.
    pub embedder: Arc<Embedder>,
    /// The model's vector index.
    pub index: Arc<VectorIndex>,
    /// Thumbnails.
    pub thumbs: Thumbnails,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library")
            .field("paths", &self.paths)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl Library {
    /// Loads the configured model and opens (or rebuilds) the catalog's vector index for it.
    pub fn open(settings: &Settings) -> Result<Self, LibraryError> {
        let paths = DataPaths::new(&settings.data_dir);
        let dir = ModelStore::new(&settings.data_dir)
            .resolve(&settings.model)
            .map_err(Box::new)?;
        let load = |source| LibraryError::Load {
            model: settings.model.clone(),
            source,
        };
        let compute = Compute::select(settings.device.preference()).map_err(load)?;
        let embedder = Embedder::load(&dir, &compute).map_err(load)?;
        let weights = fingerprint(&dir)?;
        let mut store = Store::open(&paths.catalog)?;
        let (model_id, forgotten) =
            store.prepare_model(&settings.model, embedder.dim(), &weights)?;
        if forgotten > 0 {
            tracing::warn!(
                model = %settings.model,
                embeddings = forgotten,
                "the model's weights changed: its embeddings are made again"
            );
        }
        // The sidecar names the weights too, so an index of other weights is rebuilt.
        let (index, opened) = VectorIndex::open(
            &paths.index_file(&settings.model),
            &format!("{}@{weights}", settings.model),
            embedder.dim(),
            &store,
            model_id,
        )?;
        match opened {
            Opened::Loaded => {}
            Opened::CaughtUp { added } => tracing::info!(
                vectors = index.len(),
                added,
                "vector index brought up to date with the catalog"
            ),
            Opened::Rebuilt => tracing::info!(
                vectors = index.len(),
                "vector index rebuilt from the catalog"
            ),
        }
        Ok(Library {
            thumbs: Thumbnails::new(&paths.thumbs),
            paths,
            model: settings.model.clone(),
            model_id,
            embedder: Arc::new(embedder),
            index: Arc::new(index),
        })
    }

    /// Crawls `roots` into the catalog.
    pub fn crawl(
        &self,
        roots: &[PathBuf],
        limits: DecodeLimits,
        progress: &Progress,
        stop: &AtomicBool,
    ) -> Result<CrawlSummary, IngestError> {
        let decoders = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let config = IngestConfig {
            roots: roots.to_vec(),
            catalog: self.paths.catalog.clone(),
            model: self.model.clone(),
            limits,
            batch: 32,
            decoders,
            exclude: vec![
                std::fs::canonicalize(&self.paths.root).unwrap_or_else(|_| self.paths.root.clone())
            ],
        };
        crawl(
            &config,
            &self.embedder,
            &self.index,
            &self.thumbs,
            progress,
            stop,
        )
    }
}
