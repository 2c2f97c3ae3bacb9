//! An [`Engine`]: one data directory opened with one model. It holds the loaded model, the
//! model's row in the catalog, its vector index and the thumbnail cache, and is what crawls
//! fill and queries read. Switching models means opening another engine.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use trove_models::{Compute, DevicePreference, Embedder, PrecisionPreference};

use crate::catalog::{Catalog, CatalogError};
use crate::crawl::{CrawlConfig, CrawlError, CrawlParts, CrawlSummary, Progress};
use crate::describe::{self, CaptionChoice, Describer};
use crate::embed::{self, EmbedError, Embedded};
use crate::media::thumbs::Thumbnails;
use crate::media::DecodeLimits;
use crate::model_store::{ModelStore, ModelStoreError};
use crate::paths::DataPaths;
use crate::text::{TextReader, TextReaderError};
use crate::vectors::{Opened, VectorError, VectorIndex};

/// What an engine is opened with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// The data directory (catalog, index, thumbnails, models).
    pub data_dir: PathBuf,
    /// The model: an installed repository id, `trove/demo-clip`, or a model folder.
    pub model: String,
    /// Where the model runs.
    pub device: DevicePreference,
    /// The arithmetic the model may use on the CPU.
    pub precision: PrecisionPreference,
    /// Whether crawls read the words in pictures (with the installed text reader).
    pub read_text: bool,
    /// Whether crawls caption pictures.
    pub captions: CaptionChoice,
    /// The captioner, when one is named (else the installed one, see [`crate::describe`]).
    pub captioner: Option<String>,
}

/// Why an engine could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
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
    Catalog(#[from] CatalogError),
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

/// What identifies a model's weights: see [`crate::model_store::weights_fingerprint`].
pub fn fingerprint(dir: &Path) -> Result<String, EngineError> {
    crate::model_store::weights_fingerprint(dir)
        .map_err(|(path, source)| EngineError::Read { path, source })
}

/// A data directory opened with one model.
pub struct Engine {
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
    /// The text reader crawls use, when words are read and it is installed.
    pub reader: Option<Arc<TextReader>>,
    /// Why words are not read, when they are not.
    pub reader_note: Option<String>,
    /// The model's name and weights fingerprint (`name@fingerprint`).
    pub label: String,
    /// The captioner crawls use, when pictures are captioned.
    pub describer: Option<Arc<Describer>>,
    /// Why pictures are not captioned, when they are not.
    pub describer_note: Option<String>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("paths", &self.paths)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Loads the model and opens (catching up or rebuilding) the catalog's vector index for it.
    pub fn open(config: &EngineConfig) -> Result<Self, EngineError> {
        let paths = DataPaths::new(&config.data_dir);
        let dir = ModelStore::new(&config.data_dir)
            .resolve(&config.model)
            .map_err(Box::new)?;
        let load = |source| EngineError::Load {
            model: config.model.clone(),
            source,
        };
        let compute = Compute::select_with(config.device, config.precision).map_err(load)?;
        let embedder = Embedder::load(&dir, &compute).map_err(load)?;
        let weights = fingerprint(&dir)?;
        let mut catalog = Catalog::open(&paths.catalog)?;
        let (model_id, forgotten) =
            catalog.prepare_model(&config.model, embedder.dim(), &weights)?;
        if forgotten > 0 {
            tracing::warn!(
                model = %config.model,
                embeddings = forgotten,
                "the model's weights changed: its embeddings are made again"
            );
        }
        // The sidecar names the weights too, so an index of other weights is rebuilt.
        let (index, opened) = VectorIndex::open(
            &paths.index_file(&config.model),
            &format!("{}@{weights}", config.model),
            embedder.dim(),
            &catalog,
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
        let (reader, reader_note) = if config.read_text {
            match TextReader::load(&config.data_dir) {
                Ok(reader) => (Some(Arc::new(reader)), None),
                Err(e @ TextReaderError::NotInstalled { .. }) => {
                    tracing::info!("words in pictures are not read: {e}");
                    (None, Some(e.to_string()))
                }
                Err(e) => {
                    let note = crate::error_chain(&e);
                    tracing::warn!(error = %note, "words in pictures are not read");
                    (None, Some(note))
                }
            }
        } else {
            (None, Some("reading words in pictures is turned off".into()))
        };
        let (describer, describer_note) = match describe::load(
            &config.data_dir,
            config.captions,
            config.captioner.as_deref(),
            &config.model,
            config.device,
        ) {
            Ok(describer) => (Some(Arc::new(describer)), None),
            Err(note) => {
                tracing::info!("pictures are not captioned: {note}");
                (None, Some(note))
            }
        };
        Ok(Engine {
            reader,
            reader_note,
            label: format!("{}@{weights}", config.model),
            describer,
            describer_note,
            thumbs: Thumbnails::new(&paths.thumbs),
            paths,
            model: config.model.clone(),
            model_id,
            embedder: Arc::new(embedder),
            index: Arc::new(index),
        })
    }

    /// Crawls `roots` into the catalog (blocking, until done or `stop` is set).
    pub fn crawl(
        &self,
        roots: &[PathBuf],
        limits: DecodeLimits,
        progress: &Progress,
        stop: &AtomicBool,
    ) -> Result<CrawlSummary, CrawlError> {
        // The previews standing in for offline originals are crawled with every library.
        let mut roots = roots.to_vec();
        if let Ok(stand_ins) = std::fs::canonicalize(&self.paths.stand_ins) {
            if stand_ins.is_dir() && !roots.contains(&stand_ins) {
                roots.push(stand_ins);
            }
        }
        let config = CrawlConfig {
            roots,
            limits,
            batch: 32,
            decoders: std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            exclude: vec![
                std::fs::canonicalize(&self.paths.root).unwrap_or_else(|_| self.paths.root.clone())
            ],
        };
        let parts = CrawlParts {
            catalog: &self.paths.catalog,
            model_id: self.model_id,
            embedder: &self.embedder,
            index: &self.index,
            thumbs: &self.thumbs,
            label: &self.label,
            reader: self.reader.as_deref(),
            describer: self.describer.as_deref(),
        };
        crate::crawl::run(&parts, &config, progress, stop)
    }

    /// Embeds one image given as bytes (an upload, a file named on the command line) exactly as
    /// the crawl embeds a file, so the same file always gets the same vector.
    pub fn embed_image(&self, bytes: &[u8], limits: DecodeLimits) -> Result<Embedded, EmbedError> {
        embed::embed_one(bytes, &self.embedder, limits)
    }
}
