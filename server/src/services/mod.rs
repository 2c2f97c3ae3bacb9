//! The native services behind the server functions and the JSON API (see
//! [`app::ssr::Backend`], implemented in [`backend`]): [`Trove`] owns the settings, the engine
//! for the model in use (opened in the background at start), the crawl controller, the query
//! limit, the catalog readers and the recent uploads. Each concern has its own file: searching
//! ([`search`]), image files ([`media`]), library folders ([`folders`]), models
//! ([`models`]); errors are typed ([`error`]) and reach the wire in one mapping.

pub mod backend;
pub mod error;
pub mod folders;
pub mod media;
pub mod models;
pub mod readers;
pub mod search;
pub mod uploads;
pub mod wire;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, PoisonError, RwLock};

use app::types::{LibraryState, LibraryStatus};
use trove_engine::catalog::Catalog;
use trove_engine::controller::{CrawlController, LastCrawl};
use trove_engine::limiter::FifoLimiter;
use trove_engine::media::DecodeLimits;
use trove_engine::{DataPaths, Engine, EngineError};
use trove_models::synth::{self, Output, Split};

use error::RootsError;
pub use error::ServiceError;
use readers::Readers;
use uploads::Uploads;

use crate::settings::{ModelSource, Settings, DEMO_MODEL};

/// Images in the demo library generated on a first run with nothing to index.
pub const DEMO_IMAGES: u64 = 300;

/// Where the engine stands.
#[derive(Clone)]
enum Opening {
    Loading,
    Ready(Arc<Engine>),
    Failed(Arc<EngineError>),
}

/// The model in use: the configured one, until an admin chooses another.
#[derive(Debug, Clone)]
struct ActiveModel {
    model: String,
    source: ModelSource,
}

/// How many queries may run at once: one per core. More would only time-slice the cores
/// against each other and against a running crawl (whose threads then get a fair share
/// against these few, not against every waiting client).
fn search_limit() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// Everything the running server owns.
pub struct Trove {
    settings: Settings,
    paths: DataPaths,
    active: RwLock<ActiveModel>,
    /// A model change is under way.
    switching: AtomicBool,
    /// Queries and uploads being embedded and searched (see [`search_limit`]).
    limiter: FifoLimiter,
    /// Image files by id; shared, so that a preview is made once however many ask.
    files: trove_engine::images::ImageFiles,
    /// Catalog connections for reads.
    readers: Readers,
    engine: RwLock<Opening>,
    crawler: CrawlController,
    uploads: Uploads,
}

impl Trove {
    /// Opens Trove's services for these settings, creating the data directory if needed. The
    /// engine itself opens in the background ([`Trove::open_engine`]).
    pub fn open(settings: Settings) -> std::io::Result<Self> {
        std::fs::create_dir_all(&settings.data_dir)?;
        let paths = DataPaths::new(&settings.data_dir);
        let files = trove_engine::images::ImageFiles::new(&paths);
        Ok(Trove {
            readers: Readers::new(paths.catalog.clone()),
            paths,
            active: RwLock::new(ActiveModel {
                model: settings.model.clone(),
                source: settings.model_source,
            }),
            switching: AtomicBool::new(false),
            limiter: FifoLimiter::default(),
            files,
            settings,
            engine: RwLock::new(Opening::Loading),
            crawler: CrawlController::default(),
            uploads: Uploads::default(),
        })
    }

    /// Loads the model and the index, then crawls the libraries (or, when there is nothing to
    /// index at all, a generated demo library). Blocking: run it off the async runtime.
    pub fn open_engine(&self) {
        let engine = match Engine::open(&self.settings_for(self.active()).engine_config()) {
            Ok(engine) => Arc::new(engine),
            Err(e) => {
                tracing::error!(error = %trove_engine::error_chain(&e), "the library cannot open");
                self.set_opening(Opening::Failed(Arc::new(e)));
                return;
            }
        };
        self.set_opening(Opening::Ready(engine));
        if let Err(e) = self.start_crawl() {
            tracing::warn!(error = %trove_engine::error_chain(&e), "no crawl at start");
        }
    }

    fn set_opening(&self, opening: Opening) {
        *self.engine.write().unwrap_or_else(PoisonError::into_inner) = opening;
    }

    fn opening(&self) -> Opening {
        self.engine
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The engine, once it is ready.
    pub fn ready(&self) -> Result<Arc<Engine>, ServiceError> {
        match self.opening() {
            Opening::Ready(engine) => Ok(engine),
            Opening::Loading => Err(ServiceError::Opening),
            Opening::Failed(e) => Err(ServiceError::OpenFailed(e)),
        }
    }

    /// The settings Trove was opened with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The crawl controller.
    pub fn crawler(&self) -> &CrawlController {
        &self.crawler
    }

    /// The model in use.
    pub fn active_model(&self) -> String {
        self.active().model
    }

    fn active(&self) -> ActiveModel {
        self.active
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The settings with `active` as the model (an admin may change it after the start).
    fn settings_for(&self, active: ActiveModel) -> Settings {
        Settings {
            model: active.model,
            model_source: active.source,
            ..self.settings.clone()
        }
    }

    /// Whether `viewer` sees absolute paths and GPS positions: admins do, guests only when the
    /// server's owner allowed it (`guests_see_paths`).
    pub fn shows_paths_to(&self, viewer: app::types::Viewer) -> bool {
        viewer.admin || self.settings.network.guests_see_paths
    }

    /// `value` as `viewer` may see it.
    pub fn for_viewer<T: app::redact::HidePaths>(
        &self,
        viewer: app::types::Viewer,
        mut value: T,
    ) -> T {
        if !self.shows_paths_to(viewer) {
            value.hide_paths();
        }
        value
    }

    /// Starts a crawl of the libraries.
    pub fn start_crawl(&self) -> Result<(), ServiceError> {
        let engine = self.ready()?;
        let roots = self.roots_to_crawl().map_err(ServiceError::Roots)?;
        Ok(self.crawler.start(engine, roots, DecodeLimits::default())?)
    }

    /// The configured libraries plus the catalog's roots; with none at all, the demo library
    /// (generated on first use).
    fn roots_to_crawl(&self) -> Result<Vec<PathBuf>, RootsError> {
        let mut roots: Vec<PathBuf> = self.configured_roots();
        if self.paths.catalog.is_file() {
            for root in Catalog::open(&self.paths.catalog)?.roots()? {
                if !roots.contains(&root) {
                    roots.push(root);
                }
            }
        }
        if roots.is_empty() {
            roots.push(self.demo_library()?);
        }
        Ok(roots)
    }

    /// The configured library folders, resolved.
    fn configured_roots(&self) -> Vec<PathBuf> {
        self.settings
            .libraries
            .iter()
            .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
            .collect()
    }

    /// `<data>/demo-library`: generated held-out images, written once.
    fn demo_library(&self) -> Result<PathBuf, RootsError> {
        let dir = &self.paths.demo_library;
        let failed = |source: Box<dyn std::error::Error + Send + Sync>| RootsError::Demo {
            path: dir.clone(),
            source,
        };
        let marker = dir.join(".complete");
        if !marker.is_file() {
            tracing::info!(images = DEMO_IMAGES, dir = %dir.display(), "generating the demo library");
            synth::write_set(
                dir,
                0,
                Split::Test,
                DEMO_IMAGES,
                synth::DEFAULT_SIZE,
                Output::Png,
                &|_| {},
            )
            .map_err(|e| failed(Box::new(e)))?;
            std::fs::write(&marker, b"").map_err(|e| failed(Box::new(e)))?;
        }
        std::fs::canonicalize(dir).map_err(|e| failed(Box::new(e)))
    }

    /// The library's state for the status API and the UI.
    pub fn status(&self) -> LibraryStatus {
        let (state, error, engine) = match self.opening() {
            Opening::Loading => (LibraryState::Loading, None, None),
            Opening::Ready(engine) => (LibraryState::Ready, None, Some(engine)),
            Opening::Failed(e) => (
                LibraryState::Error,
                Some(trove_engine::error_chain(&*e)),
                None,
            ),
        };
        let mut status = blank_status(self.active_model(), state);
        status.error = error;
        status.text.note = engine.as_ref().and_then(|e| e.reader_note.clone());
        status.captions.note = engine.as_ref().and_then(|e| e.describer_note.clone());
        status.crawl = wire::progress(&self.crawler.progress());
        status.crawl_error = match self.crawler.last() {
            Some(LastCrawl::Failed(e)) => Some(trove_engine::error_chain(&*e)),
            Some(LastCrawl::Finished(_)) | None => None,
        };
        if self.paths.catalog.is_file() {
            let model_id = engine.map(|e| e.model_id);
            let read = self
                .readers
                .get()
                .and_then(|c| catalog_status(&c, &mut status, model_id, SKIPPED_SHOWN));
            if let Err(e) = read {
                tracing::warn!(error = %trove_engine::error_chain(&e), "status: catalog unreadable");
            }
        }
        status
    }
}

/// A status for `model` in `state` with nothing known yet of the catalog or a crawl.
pub fn blank_status(model: String, state: LibraryState) -> LibraryStatus {
    LibraryStatus {
        schema: app::types::SCHEMA,
        state,
        error: None,
        demo_model: model == DEMO_MODEL,
        model,
        roots: Vec::new(),
        counts: Default::default(),
        crawl: Default::default(),
        crawl_error: None,
        last_crawl: None,
        skipped: Vec::new(),
        text: Default::default(),
        captions: Default::default(),
        tags: Default::default(),
    }
}

/// Skipped files the page's status lists.
const SKIPPED_SHOWN: usize = 50;

/// Fills the catalog's part of a status: roots, counts (embedded with `model_id`, or with the
/// model of that name when the engine is not open), the last crawl, up to `skipped` skips.
pub fn catalog_status(
    catalog: &Catalog,
    status: &mut LibraryStatus,
    model_id: Option<i64>,
    skipped: usize,
) -> Result<(), trove_engine::catalog::CatalogError> {
    let model_id = match model_id {
        Some(id) => Some(id),
        None => catalog.model_id(&status.model)?,
    };
    status.roots = catalog
        .roots()?
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    status.counts = wire::counts(catalog.counts(model_id)?);
    status.last_crawl = catalog.last_crawl()?.as_ref().map(wire::crawl_record);
    status.skipped = catalog
        .skipped(skipped)?
        .into_iter()
        .map(wire::skipped)
        .collect();
    (status.text.read, status.text.with_words) = catalog.text_totals()?;
    (status.captions.read, status.captions.with_words) = catalog.caption_totals()?;
    (status.tags.read, status.tags.with_words) = catalog.tag_totals()?;
    let needed = trove_models::tags::LIBRARY_MIN_IMAGES as u64;
    if status.tags.read == 0 && !status.demo_model && status.counts.embedded < needed {
        status.tags.note = Some(format!(
            "tags are calibrated on the library itself, so they come once {needed} pictures are embedded"
        ));
    }
    Ok(())
}
