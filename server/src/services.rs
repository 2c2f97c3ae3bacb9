//! The native services behind the server functions and the JSON API (see
//! [`app::ssr::Backend`]): the library (model, catalog, vector index), opened in the background
//! at start, and the crawl controller.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use app::error::AppError;
use app::types::{
    CatalogCounts, CrawlProgress, LibraryStatus, SearchHit, SearchPage, SearchRequest, ServerInfo,
    SkippedFile,
};
use trove_models::synth::{self, Output, Split};

use crate::crawler::Crawler;
use crate::decode::DecodeLimits;
use crate::ingest::ProgressSnapshot;
use crate::library::{DataPaths, Library};
use crate::model_store::{describe, ModelStore};
use crate::search::{self, Page, Query, SearchError};
use crate::settings::{ModelSource, Settings, DEFAULT_MODEL};
use crate::store::{ImageDetail, Store, StoreError};
use crate::thumbs::Thumbnails;

/// Why a request to the library failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The library is still loading, or failed to load.
    #[error("{0}")]
    NotReady(String),
    /// The query failed.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// The catalog failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Images in the demo library generated on a first run with nothing to index.
pub const DEMO_IMAGES: u64 = 300;

/// Where the library stands.
#[derive(Clone)]
enum Opening {
    Loading,
    Ready(Arc<Library>),
    Failed(String),
}

/// Everything the running server owns.
pub struct Trove {
    settings: Settings,
    paths: DataPaths,
    library: RwLock<Opening>,
    crawler: Crawler,
}

impl Trove {
    /// Opens Trove's services for these settings, creating the data directory if needed. The
    /// library itself opens in the background ([`Trove::open_library`]).
    pub fn open(settings: Settings) -> std::io::Result<Self> {
        std::fs::create_dir_all(&settings.data_dir)?;
        Ok(Trove {
            paths: DataPaths::new(&settings.data_dir),
            settings,
            library: RwLock::new(Opening::Loading),
            crawler: Crawler::default(),
        })
    }

    /// Loads the model and the index, then crawls the libraries (or, when there is nothing to
    /// index at all, a generated demo library). Blocking: run it off the async runtime.
    pub fn open_library(&self) {
        let opened = Library::open(&self.settings);
        let library = match opened {
            Ok(library) => Arc::new(library),
            Err(e) => {
                let message = crate::error_chain(&e);
                tracing::error!(error = %message, "the library cannot open");
                *self.write() = Opening::Failed(message);
                return;
            }
        };
        *self.write() = Opening::Ready(library.clone());
        match self.roots_to_crawl() {
            Ok(roots) => {
                if let Err(e) = self.crawler.start(library, roots, DecodeLimits::default()) {
                    tracing::warn!(error = %e, "no crawl at start");
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot prepare the libraries"),
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Opening> {
        self.library
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn opening(&self) -> Opening {
        self.library
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The open library, if it is ready.
    pub fn library(&self) -> Option<Arc<Library>> {
        match self.opening() {
            Opening::Ready(l) => Some(l),
            Opening::Loading | Opening::Failed(_) => None,
        }
    }

    /// The configured libraries plus the catalog's roots; with none at all, the demo library
    /// (generated on first use).
    fn roots_to_crawl(&self) -> anyhow::Result<Vec<PathBuf>> {
        let mut roots: Vec<PathBuf> = Vec::new();
        for root in &self.settings.libraries {
            roots.push(std::fs::canonicalize(root).unwrap_or_else(|_| root.clone()));
        }
        if self.paths.catalog.is_file() {
            for root in Store::open(&self.paths.catalog)?.roots()? {
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

    /// `<data>/demo-library`: generated held-out images, written once.
    fn demo_library(&self) -> anyhow::Result<PathBuf> {
        let dir = self.paths.root.join("demo-library");
        let marker = dir.join(".complete");
        if !marker.is_file() {
            tracing::info!(images = DEMO_IMAGES, dir = %dir.display(), "generating the demo library");
            synth::write_set(
                &dir,
                0,
                Split::Test,
                DEMO_IMAGES,
                synth::DEFAULT_SIZE,
                Output::Png,
                &|_| {},
            )?;
            std::fs::write(&marker, b"")?;
        }
        Ok(std::fs::canonicalize(&dir)?)
    }

    /// Whether the configured model is installed, in words.
    fn model_status(&self) -> String {
        if self.settings.model_source == ModelSource::Demo {
            return format!(
                "the built-in demo model, trained by Trove on its own generated images: it knows shapes, \
                 colours, counts and a few words on signs and memes, not real photos. For real photos \
                 run `trove model pull {DEFAULT_MODEL}` (or google/siglip-base-patch16-224) and restart"
            );
        }
        let store = ModelStore::new(&self.settings.data_dir);
        match store.resolve(&self.settings.model) {
            Ok(dir) => {
                let model = describe(&dir, self.settings.model.clone());
                match (model.family, model.dim, model.problem) {
                    (Some(family), Some(dim), None) => format!("installed: {family}, {dim}-d"),
                    (.., Some(problem)) => problem,
                    _ => format!("model folder {}", dir.display()),
                }
            }
            Err(e) => e.to_string(),
        }
    }

    /// The settings Trove was opened with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Starts a crawl of the libraries; the error says why not, in words.
    pub fn start_crawl(&self) -> Result<(), String> {
        let library = self.library().ok_or_else(|| {
            "the library is not open yet (or failed to open: see /api/status)".to_owned()
        })?;
        let roots = self.roots_to_crawl().map_err(|e| format!("{e:#}"))?;
        self.crawler
            .start(library, roots, DecodeLimits::default())
            .map_err(|e| e.to_string())
    }

    fn ready(&self) -> Result<Arc<Library>, ServiceError> {
        match self.opening() {
            Opening::Ready(l) => Ok(l),
            Opening::Loading => Err(ServiceError::NotReady(
                "the library is still opening (loading the model and the index); try again in a moment".into(),
            )),
            Opening::Failed(e) => Err(ServiceError::NotReady(format!("the library could not open: {e}"))),
        }
    }

    /// Runs a query (blocking).
    pub fn search(
        &self,
        query: &Query,
        offset: usize,
        limit: usize,
    ) -> Result<SearchPage, ServiceError> {
        let library = self.ready()?;
        let store = Store::open(&self.paths.catalog)?;
        let page: Page = search::search(&library, &store, query, offset, limit)?;
        let ids: Vec<i64> = page.hits.iter().map(|h| h.id).collect();
        let details = store.image_details(&ids)?;
        let hits = page
            .hits
            .iter()
            .filter_map(|h| {
                let d = details.iter().find(|d| d.id == h.id)?;
                Some(SearchHit {
                    id: h.id,
                    score: h.score,
                    width: d.facts.width,
                    height: d.facts.height,
                    format: d.facts.format.clone(),
                    taken_at: d.facts.taken_at.clone(),
                    path: d.path.clone(),
                })
            })
            .collect();
        Ok(SearchPage {
            hits,
            next_offset: page.next,
        })
    }

    /// What the catalog knows of an image (blocking).
    pub fn image(&self, id: i64) -> Result<Option<ImageDetail>, ServiceError> {
        let store = Store::open(&self.paths.catalog)?;
        Ok(store.image_details(&[id])?.pop())
    }

    /// The grid thumbnail's bytes (blocking).
    pub fn thumbnail(&self, id: i64) -> Result<Option<Vec<u8>>, ServiceError> {
        let store = Store::open(&self.paths.catalog)?;
        let Some((hash, _)) = store.files_of(id)? else {
            return Ok(None);
        };
        Ok(std::fs::read(Thumbnails::new(&self.paths.thumbs).grid_path(&hash)).ok())
    }

    /// The original file's bytes and MIME type (blocking). Only a regular file inside a
    /// library root is ever read: the path comes from the catalog, is resolved, and checked.
    pub fn original(&self, id: i64) -> Result<Option<(Vec<u8>, &'static str)>, ServiceError> {
        let store = Store::open(&self.paths.catalog)?;
        let Some((_, paths)) = store.files_of(id)? else {
            return Ok(None);
        };
        let roots: Vec<PathBuf> = store
            .roots()?
            .iter()
            .filter_map(|r| std::fs::canonicalize(r).ok())
            .collect();
        for path in paths {
            let Ok(real) = std::fs::canonicalize(&path) else {
                continue;
            };
            let inside = roots.iter().any(|r| real.starts_with(r));
            let regular = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file());
            if !(inside && regular) {
                continue;
            }
            if let Ok(bytes) = std::fs::read(&real) {
                let mime = match image::guess_format(&bytes) {
                    Ok(image::ImageFormat::Jpeg) => "image/jpeg",
                    Ok(image::ImageFormat::Png) => "image/png",
                    Ok(image::ImageFormat::WebP) => "image/webp",
                    Ok(image::ImageFormat::Gif) => "image/gif",
                    Ok(image::ImageFormat::Tiff) => "image/tiff",
                    Ok(image::ImageFormat::Bmp) => "image/bmp",
                    _ => "application/octet-stream",
                };
                return Ok(Some((bytes, mime)));
            }
        }
        Ok(None)
    }

    /// The crawl controller.
    pub fn crawler(&self) -> &Crawler {
        &self.crawler
    }

    /// The library's state for the status API and the UI.
    pub fn status(&self) -> LibraryStatus {
        let (state, error, library) = match self.opening() {
            Opening::Loading => ("loading", None, None),
            Opening::Ready(l) => ("ready", None, Some(l)),
            Opening::Failed(e) => ("error", Some(e), None),
        };
        let mut status = LibraryStatus {
            state: state.to_owned(),
            error,
            model: self.settings.model.clone(),
            demo_model: self.settings.model_source == ModelSource::Demo,
            roots: Vec::new(),
            counts: CatalogCounts::default(),
            crawl: crawl_progress(&self.crawler.progress()),
            crawl_error: match self.crawler.last() {
                Some(crate::crawler::LastCrawl::Failed { error }) => Some(error),
                Some(crate::crawler::LastCrawl::Finished(_)) | None => None,
            },
            skipped: Vec::new(),
        };
        if self.paths.catalog.is_file() {
            match self.catalog_facts(library.as_deref()) {
                Ok((roots, counts, skipped)) => {
                    status.roots = roots;
                    status.counts = counts;
                    status.skipped = skipped;
                }
                Err(e) => tracing::warn!(error = %e, "status: catalog unreadable"),
            }
        }
        status
    }

    fn catalog_facts(
        &self,
        library: Option<&Library>,
    ) -> anyhow::Result<(Vec<String>, CatalogCounts, Vec<SkippedFile>)> {
        let store = Store::open(&self.paths.catalog)?;
        let model_id = match library {
            Some(l) => Some(l.model_id),
            None => store.model_id(&self.settings.model)?,
        };
        let c = store.counts(model_id)?;
        Ok((
            store
                .roots()?
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            CatalogCounts {
                files: c.files,
                images: c.images,
                embedded: c.embedded,
                skipped: c.skipped,
            },
            store
                .skipped(50)?
                .into_iter()
                .map(|s| SkippedFile {
                    path: s.path,
                    reason: s.reason,
                })
                .collect(),
        ))
    }
}

/// The wire form of crawl progress.
pub fn crawl_progress(p: &ProgressSnapshot) -> CrawlProgress {
    CrawlProgress {
        running: p.running,
        walked: p.walked,
        seen: p.seen,
        done: p.done,
        embedded: p.embedded,
        reused: p.reused,
        unchanged: p.unchanged,
        skipped: p.skipped,
        removed: p.removed,
        elapsed_s: p.elapsed_s,
        rate: p.rate,
        eta_s: p.eta_s,
    }
}

/// The wire error for a service error: one exhaustive match; only the server's own failures
/// are logged, and the browser gets no internals.
pub fn app_error(e: ServiceError) -> AppError {
    match e {
        ServiceError::Search(SearchError::BadQuery(m)) => AppError::BadRequest(m),
        ServiceError::Search(SearchError::NotFound(id)) => {
            AppError::NotFound(format!("image {id}"))
        }
        ServiceError::NotReady(m) => AppError::Unavailable(m),
        ServiceError::Search(
            SearchError::Store(_) | SearchError::Vectors(_) | SearchError::Model(_),
        )
        | ServiceError::Store(_) => {
            tracing::error!(error = %crate::error_chain(&e), "search failed");
            AppError::Internal("the search failed; the server's log has the details".into())
        }
    }
}

impl app::ssr::Backend for Trove {
    fn status(&self) -> LibraryStatus {
        Trove::status(self)
    }

    fn search(&self, request: SearchRequest) -> Result<SearchPage, AppError> {
        let query = Query {
            text: request.q,
            like: request.similar_to.into_iter().collect(),
            ..Query::default()
        };
        Trove::search(self, &query, request.offset, request.limit).map_err(app_error)
    }

    fn info(&self) -> ServerInfo {
        ServerInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            libraries: self
                .settings
                .libraries
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            model: self.settings.model.clone(),
            model_status: self.model_status(),
            device: self.settings.device.as_str().to_owned(),
        }
    }
}
