//! The native services behind the server functions and the JSON API (see
//! [`app::ssr::Backend`]): the library (model, catalog, vector index), opened in the background
//! at start, and the crawl controller.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use app::error::AppError;
use app::types::{
    CatalogCounts, CrawlProgress, LibraryRoot, LibraryStatus, ModelChoice, ModelList,
    SearchFilters, SearchHit, SearchPage, SearchRequest, ServerInfo, SkippedFile,
};
use trove_models::synth::{self, Output, Split};

use crate::crawler::Crawler;
use crate::decode::{decode, DecodeLimits};
use crate::gate::Gate;
use crate::ingest::ProgressSnapshot;
use crate::library::{DataPaths, Library};
use crate::model_store::{describe, ModelStore};
use crate::search::{self, Filters, Hit, Query, SearchError, Sort};
use crate::settings::{ModelSource, Settings, DEFAULT_MODEL, DEMO_MODEL};
use crate::store::{ImageDetail, Store, StoreError};
use crate::thumbs::{self, Thumbnails};

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
    /// An uploaded image that cannot be used; the message says why.
    #[error("{0}")]
    BadUpload(String),
    /// An upload key the server no longer (or never) had.
    #[error("{0}")]
    UploadGone(String),
    /// A crawl cannot start now; the message says why.
    #[error("{0}")]
    Conflict(String),
    /// A request that cannot be done as asked (a folder that does not exist, say).
    #[error("{0}")]
    Invalid(String),
}

/// Largest image accepted for search by image.
pub const MAX_UPLOAD_BYTES: usize = 32 * 1024 * 1024;
/// Uploaded images remembered (most recent), so their results can be paged and shared.
const UPLOADS_KEPT: usize = 256;

/// An image uploaded to search with: its embedding and a grid-sized preview. Kept in memory
/// only; it is never added to the library.
#[derive(Debug)]
struct Upload {
    model_id: i64,
    vector: Vec<f32>,
    thumb: Vec<u8>,
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

/// Catalog connections kept open for reads between requests.
const READERS_KEPT: usize = 16;

/// Catalog connections for reading, reused across requests: opening one per request costs
/// more than a query (file open, pragmas, schema parse, and no statement cache).
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
}

/// A catalog connection borrowed from [`Readers`]; it goes back when dropped.
struct Reader<'a> {
    readers: &'a Readers,
    store: Option<Store>,
}

impl Readers {
    fn get(&self) -> Result<Reader<'_>, StoreError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let store = match idle {
            Some(store) => store,
            None => Store::open(&self.path)?,
        };
        Ok(Reader {
            readers: self,
            store: Some(store),
        })
    }
}

impl std::ops::Deref for Reader<'_> {
    type Target = Store;

    fn deref(&self) -> &Store {
        self.store.as_ref().expect("present until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        let mut idle = self
            .readers
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(store) = self.store.take().filter(|_| idle.len() < READERS_KEPT) {
            idle.push(store);
        }
    }
}

/// How long a model change waits for the running crawl to finish its batch.
const CRAWL_STOP_WAIT: Duration = Duration::from_secs(120);

/// Everything the running server owns.
pub struct Trove {
    settings: Settings,
    paths: DataPaths,
    active: RwLock<ActiveModel>,
    /// A model change is under way.
    switching: AtomicBool,
    /// Queries and uploads being embedded and searched (see [`search_limit`]).
    search_gate: Gate,
    /// Catalog connections for reads.
    readers: Readers,
    library: RwLock<Opening>,
    crawler: Crawler,
    uploads: Mutex<lru::LruCache<String, Arc<Upload>>>,
}

impl Trove {
    /// Opens Trove's services for these settings, creating the data directory if needed. The
    /// library itself opens in the background ([`Trove::open_library`]).
    pub fn open(settings: Settings) -> std::io::Result<Self> {
        std::fs::create_dir_all(&settings.data_dir)?;
        Ok(Trove {
            paths: DataPaths::new(&settings.data_dir),
            active: RwLock::new(ActiveModel {
                model: settings.model.clone(),
                source: settings.model_source,
            }),
            switching: AtomicBool::new(false),
            search_gate: Gate::default(),
            readers: Readers {
                path: DataPaths::new(&settings.data_dir).catalog,
                idle: Mutex::new(Vec::new()),
            },
            settings,
            library: RwLock::new(Opening::Loading),
            crawler: Crawler::default(),
            uploads: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(UPLOADS_KEPT).unwrap_or(NonZeroUsize::MIN),
            )),
        })
    }

    /// Loads the model and the index, then crawls the libraries (or, when there is nothing to
    /// index at all, a generated demo library). Blocking: run it off the async runtime.
    pub fn open_library(&self) {
        let opened = Library::open(&self.settings_for(self.active()));
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

    /// The model in use.
    pub fn active_model(&self) -> String {
        self.active().model
    }

    fn active(&self) -> ActiveModel {
        self.active
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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

    /// Whether the model in use is installed, in words.
    fn model_status(&self) -> String {
        let active = self.active();
        if active.model == DEMO_MODEL {
            return format!(
                "the built-in demo model, trained by Trove on its own generated images: it knows shapes, \
                 colours, counts and a few words on signs and memes, not real photos. For real photos \
                 run `trove model pull {DEFAULT_MODEL}` (or google/siglip-base-patch16-224) and restart"
            );
        }
        let store = ModelStore::new(&self.settings.data_dir);
        match store.resolve(&active.model) {
            Ok(dir) => {
                let model = describe(&dir, active.model.clone());
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
    pub fn start_crawl(&self) -> Result<(), ServiceError> {
        let library = self.ready()?;
        let roots = self
            .roots_to_crawl()
            .map_err(|e| ServiceError::Conflict(format!("{e:#}")))?;
        self.crawler
            .start(library, roots, DecodeLimits::default())
            .map_err(|e| ServiceError::Conflict(e.to_string()))
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

    /// Runs a query (blocking; waits its turn when every core is busy with queries).
    pub fn search(
        &self,
        query: &Query,
        offset: usize,
        limit: usize,
    ) -> Result<SearchPage, ServiceError> {
        let library = self.ready()?;
        let _pass = self.search_gate.enter(search_limit);
        let store = self.readers.get()?;
        let page = search::search(&library, &store, query, offset, limit)?;
        let started = std::time::Instant::now();
        let hits = search_hits(&store, &page.hits)?;
        tracing::debug!(
            details_ms = started.elapsed().as_secs_f64() * 1e3,
            "results"
        );
        Ok(SearchPage {
            hits,
            next_offset: page.next,
            browsing: false,
        })
    }

    /// Runs a search as the UI asks for it (blocking): a query when there is anything to
    /// search for, else a page of the library, newest first.
    pub fn search_request(&self, request: SearchRequest) -> Result<SearchPage, ServiceError> {
        let (filters, sort) = filters_of(&request.filters)?;
        let vector = match &request.upload {
            Some(key) => Some(self.upload_vector(key)?),
            None => None,
        };
        let query = Query {
            text: request.q.filter(|q| !q.trim().is_empty()),
            like: request.similar_to.into_iter().collect(),
            vector,
            filters,
            sort,
            ..Query::default()
        };
        if query.text.is_none() && query.like.is_empty() && query.vector.is_none() {
            return self.browse(&query.filters, sort, request.offset, request.limit);
        }
        self.search(&query, request.offset, request.limit)
    }

    /// A page of the library itself, newest capture first (or oldest, with `Sort::Oldest`).
    pub fn browse(
        &self,
        filters: &Filters,
        sort: Sort,
        offset: usize,
        limit: usize,
    ) -> Result<SearchPage, ServiceError> {
        let library = self.ready()?;
        if limit == 0 || limit > search::MAX_PAGE {
            return Err(SearchError::BadQuery(format!(
                "limit must be between 1 and {}",
                search::MAX_PAGE
            ))
            .into());
        }
        let store = self.readers.get()?;
        let mut ids = store.browse(
            library.model_id,
            filters,
            sort == Sort::Oldest,
            offset,
            limit + 1,
        )?;
        let next_offset = (ids.len() > limit).then_some(offset + limit);
        ids.truncate(limit);
        let hits: Vec<Hit> = ids.into_iter().map(|id| Hit { id, score: 0.0 }).collect();
        Ok(SearchPage {
            hits: search_hits(&store, &hits)?,
            next_offset,
            browsing: true,
        })
    }

    /// Embeds an uploaded image (blocking) and returns the key its results are found by. The
    /// image is not added to the library; the most recent uploads are remembered in memory.
    pub fn upload(&self, bytes: &[u8]) -> Result<String, ServiceError> {
        let library = self.ready()?;
        if bytes.len() > MAX_UPLOAD_BYTES {
            return Err(ServiceError::BadUpload(format!(
                "the image is {} MB; uploads are limited to {} MB",
                bytes.len() / (1024 * 1024),
                MAX_UPLOAD_BYTES / (1024 * 1024)
            )));
        }
        let key = blake3::hash(bytes).to_hex()[..24].to_owned();
        if self
            .uploads()
            .get(&key)
            .is_some_and(|u| u.model_id == library.model_id)
        {
            return Ok(key);
        }
        let min_side = u32::try_from(library.embedder.config().image_size())
            .unwrap_or(u32::MAX)
            .max(thumbs::GRID_HEIGHT);
        let limits = DecodeLimits {
            max_bytes: MAX_UPLOAD_BYTES as u64,
            ..DecodeLimits::default()
        };
        let _pass = self.search_gate.enter(search_limit);
        let decoded = decode(bytes, min_side, limits)
            .map_err(|e| ServiceError::BadUpload(format!("the upload cannot be used: {e}")))?;
        let (w, h) = decoded.rgb.dimensions();
        let pixels = library
            .embedder
            .preprocessor()
            .prepare(decoded.rgb.as_raw(), w as usize, h as usize)
            .map_err(|e| ServiceError::BadUpload(format!("the upload cannot be used: {e}")))?;
        let vector = library
            .embedder
            .embed_images(&[pixels])
            .map_err(SearchError::Model)?
            .pop()
            .ok_or_else(|| ServiceError::BadUpload("the model returned nothing".into()))?;
        let thumb = thumbs::jpeg(&thumbs::grid_image(&decoded.rgb))
            .map_err(|e| ServiceError::BadUpload(format!("no preview: {e}")))?;
        self.uploads().put(
            key.clone(),
            Arc::new(Upload {
                model_id: library.model_id,
                vector,
                thumb,
            }),
        );
        Ok(key)
    }

    fn uploads(&self) -> std::sync::MutexGuard<'_, lru::LruCache<String, Arc<Upload>>> {
        self.uploads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn upload_entry(&self, key: &str) -> Result<Arc<Upload>, ServiceError> {
        self.uploads().get(key).cloned().ok_or_else(|| {
            ServiceError::UploadGone(format!(
                "the uploaded image {key} is no longer on this server (it keeps the {UPLOADS_KEPT} most recent, until it restarts); upload it again"
            ))
        })
    }

    /// The embedding of a remembered upload.
    pub fn upload_vector(&self, key: &str) -> Result<Vec<f32>, ServiceError> {
        let library = self.ready()?;
        let upload = self.upload_entry(key)?;
        if upload.model_id != library.model_id {
            return Err(ServiceError::UploadGone(
                "the uploaded image was embedded with another model; upload it again".into(),
            ));
        }
        Ok(upload.vector.clone())
    }

    /// The preview of a remembered upload (JPEG bytes).
    pub fn upload_thumbnail(&self, key: &str) -> Result<Vec<u8>, ServiceError> {
        Ok(self.upload_entry(key)?.thumb.clone())
    }

    /// What the catalog knows of an image (blocking).
    pub fn image(&self, id: i64) -> Result<Option<ImageDetail>, ServiceError> {
        let store = self.readers.get()?;
        Ok(store.image_details(&[id])?.pop())
    }

    /// The grid thumbnail's bytes (blocking).
    pub fn thumbnail(&self, id: i64) -> Result<Option<Vec<u8>>, ServiceError> {
        let store = self.readers.get()?;
        let Some((hash, _)) = store.files_of(id)? else {
            return Ok(None);
        };
        Ok(std::fs::read(Thumbnails::new(&self.paths.thumbs).grid_path(&hash)).ok())
    }

    /// The lightbox preview (about 1280 px) of an image (blocking): made from the original on
    /// first request and kept beside the grid thumbnails.
    pub fn preview(&self, id: i64) -> Result<Option<Vec<u8>>, ServiceError> {
        let store = self.readers.get()?;
        let Some((hash, _)) = store.files_of(id)? else {
            return Ok(None);
        };
        let thumbs = Thumbnails::new(&self.paths.thumbs);
        let path = thumbs.preview_path(&hash);
        if let Ok(bytes) = std::fs::read(&path) {
            return Ok(Some(bytes));
        }
        let Some(bytes) = self.original_bytes(&store, id)? else {
            return Ok(None);
        };
        let decoded = match decode(&bytes, thumbs::PREVIEW_SIDE, DecodeLimits::default()) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(id, error = %e, "no preview");
                return Ok(None);
            }
        };
        let preview = thumbs::preview_image(&decoded.rgb);
        if let Err(e) = thumbs::write_jpeg(&path, &preview) {
            tracing::warn!(id, error = %e, "preview not kept");
        }
        Ok(thumbs::jpeg(&preview).ok())
    }

    /// The original file's bytes and MIME type (blocking).
    pub fn original(&self, id: i64) -> Result<Option<(Vec<u8>, &'static str)>, ServiceError> {
        let store = self.readers.get()?;
        Ok(self.original_bytes(&store, id)?.map(|bytes| {
            let mime = match image::guess_format(&bytes) {
                Ok(image::ImageFormat::Jpeg) => "image/jpeg",
                Ok(image::ImageFormat::Png) => "image/png",
                Ok(image::ImageFormat::WebP) => "image/webp",
                Ok(image::ImageFormat::Gif) => "image/gif",
                Ok(image::ImageFormat::Tiff) => "image/tiff",
                Ok(image::ImageFormat::Bmp) => "image/bmp",
                _ if bytes.get(4..8) == Some(b"ftyp") => "image/heic",
                _ => "application/octet-stream",
            };
            (bytes, mime)
        }))
    }

    /// The bytes of one of an image's files. Only a regular file inside a library root is ever
    /// read: the path comes from the catalog, is resolved, and checked.
    fn original_bytes(&self, store: &Store, id: i64) -> Result<Option<Vec<u8>>, ServiceError> {
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
                return Ok(Some(bytes));
            }
        }
        Ok(None)
    }

    /// The library folders with their file counts (blocking).
    pub fn libraries(&self) -> Result<Vec<LibraryRoot>, ServiceError> {
        let configured = self.configured_roots();
        let mut out: Vec<LibraryRoot> = Vec::new();
        if self.paths.catalog.is_file() {
            for (path, files) in self.readers.get()?.root_files()? {
                out.push(LibraryRoot {
                    path: path.display().to_string(),
                    files,
                    configured: configured.contains(&path),
                });
            }
        }
        for path in configured {
            let shown = path.display().to_string();
            if !out.iter().any(|r| r.path == shown) {
                out.push(LibraryRoot {
                    path: shown,
                    files: 0,
                    configured: true,
                });
            }
        }
        Ok(out)
    }

    fn configured_roots(&self) -> Vec<PathBuf> {
        self.settings
            .libraries
            .iter()
            .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
            .collect()
    }

    /// Adds a library folder (blocking) and starts crawling it, unless a crawl is running (it
    /// is crawled next time then). The answer says which.
    pub fn add_library(&self, path: &str) -> Result<String, ServiceError> {
        let invalid = |m: String| Err(ServiceError::Invalid(m));
        let path = path.trim();
        let raw = PathBuf::from(path);
        if path.is_empty() || !raw.is_absolute() {
            return invalid(format!(
                "give the folder's full path (like /home/me/Pictures), not {path:?}"
            ));
        }
        let real = match std::fs::canonicalize(&raw) {
            Ok(p) => p,
            Err(e) => return invalid(format!("{path} cannot be opened: {e}")),
        };
        if !real.is_dir() {
            return invalid(format!("{path} is not a folder"));
        }
        if let Err(e) = std::fs::read_dir(&real) {
            return invalid(format!("{path} cannot be read: {e}"));
        }
        let data =
            std::fs::canonicalize(&self.paths.root).unwrap_or_else(|_| self.paths.root.clone());
        if real.starts_with(&data) {
            return invalid(format!("{path} is inside Trove's own data folder"));
        }
        let store = Store::open(&self.paths.catalog)?;
        if store.roots()?.contains(&real) {
            return invalid(format!("{} is already a library", real.display()));
        }
        store.ensure_root(&real)?;
        drop(store);
        let shown = real.display();
        match self.start_crawl() {
            Ok(()) => Ok(format!("added {shown}; crawling it now")),
            Err(ServiceError::Conflict(_)) => Ok(format!(
                "added {shown}; a crawl is running, so it will be crawled next time"
            )),
            Err(e) => Err(e),
        }
    }

    /// Forgets a library folder and the images only it held (blocking). The files themselves
    /// are not touched. Folders from the configuration cannot be removed here.
    pub fn remove_library(&self, path: &str) -> Result<String, ServiceError> {
        let library = self.ready()?;
        if self.crawler.is_running() {
            return Err(ServiceError::Conflict(
                "a crawl is running: stop it first, then remove the folder".into(),
            ));
        }
        let raw = PathBuf::from(path.trim());
        let real = std::fs::canonicalize(&raw).unwrap_or_else(|_| raw.clone());
        if self.configured_roots().contains(&real) || self.settings.libraries.contains(&raw) {
            return Err(ServiceError::Conflict(format!(
                "{} comes from Trove's configuration (--library, TROVE_LIBRARY or the config file): remove it there",
                raw.display()
            )));
        }
        let mut store = Store::open(&self.paths.catalog)?;
        if !(store.remove_root(&real)? || store.remove_root(&raw)?) {
            return Err(ServiceError::Invalid(format!(
                "{} is not a library",
                raw.display()
            )));
        }
        let gone = store.purge_orphans()?;
        for &id in &gone {
            library.index.remove(id).map_err(SearchError::from)?;
        }
        if let Err(e) = library.index.save() {
            tracing::warn!(error = %e, "the vector index was not saved; it is rebuilt at the next start");
        }
        Ok(format!(
            "removed {}: {} images forgotten (the files are untouched)",
            raw.display(),
            gone.len()
        ))
    }

    /// The model in use and every model that could replace it: the built-in demo model and
    /// the folders in `<data>/models` (blocking: reads them).
    pub fn models(&self) -> Result<ModelList, ServiceError> {
        let active = self.active();
        let store = ModelStore::new(&self.settings.data_dir);
        let installed = store
            .list()
            .map_err(|e| ServiceError::Invalid(crate::error_chain(&e)))?;
        let mut models = vec![ModelChoice {
            id: DEMO_MODEL.to_owned(),
            family: Some("clip".into()),
            dim: None,
            bytes: 0,
            problem: None,
            active: active.model == DEMO_MODEL,
            demo: true,
        }];
        for m in installed.into_iter().filter(|m| m.id != DEMO_MODEL) {
            models.push(ModelChoice {
                active: m.id == active.model,
                id: m.id,
                family: m.family,
                dim: m.dim,
                bytes: m.bytes,
                problem: m.problem,
                demo: false,
            });
        }
        if !models.iter().any(|m| m.active) {
            // A model given as a folder, or one that failed to load.
            let dir = store.resolve(&active.model).ok();
            let described = dir.map(|d| describe(&d, active.model.clone()));
            models.push(ModelChoice {
                id: active.model.clone(),
                family: described.as_ref().and_then(|m| m.family.clone()),
                dim: described.as_ref().and_then(|m| m.dim),
                bytes: described.as_ref().map_or(0, |m| m.bytes),
                problem: described.and_then(|m| m.problem),
                active: true,
                demo: false,
            });
        }
        let chosen_by = match active.source {
            ModelSource::Chosen => "the configuration (--model, TROVE_MODEL or the config file)",
            ModelSource::Saved => "an admin, on this page (kept for the next start)",
            ModelSource::Default => "default: the standard model is installed",
            ModelSource::Demo => "default: no real model is installed yet",
        };
        Ok(ModelList {
            active: active.model,
            chosen_by: chosen_by.to_owned(),
            models,
            install_hint: format!(
                "install more with `trove model pull <hugging-face-id>` (e.g. {DEFAULT_MODEL} or google/siglip-base-patch16-224) where the internet is reachable, or copy a model folder (config.json, model.safetensors, tokenizer.json, preprocessor_config.json) to {}",
                store.root().join("<owner>--<name>").display()
            ),
        })
    }

    /// Switches to another model (blocking). The new model is loaded while the old one keeps
    /// answering searches; then the running crawl is stopped, the new library replaces the
    /// old, the choice is saved for the next start, and a crawl embeds every image the new
    /// model has not seen. Embeddings of the old model stay in the catalog, so switching back
    /// is quick.
    pub fn select_model(&self, model: &str) -> Result<String, ServiceError> {
        let model = model.trim();
        if model.is_empty() {
            return Err(ServiceError::Invalid("choose a model".into()));
        }
        if self.active_model() == model {
            return Ok(format!("{model} is already in use"));
        }
        if self.switching.swap(true, Ordering::SeqCst) {
            return Err(ServiceError::Conflict(
                "another model change is under way; wait for it to finish".into(),
            ));
        }
        let result = self.switch_model(model);
        self.switching.store(false, Ordering::SeqCst);
        result
    }

    fn switch_model(&self, model: &str) -> Result<String, ServiceError> {
        let store = ModelStore::new(&self.settings.data_dir);
        let dir = store
            .resolve(model)
            .map_err(|e| ServiceError::Invalid(crate::error_chain(&e)))?;
        if let Some(problem) = describe(&dir, model.to_owned()).problem {
            return Err(ServiceError::Invalid(format!("{model}: {problem}")));
        }
        let chosen = ActiveModel {
            model: model.to_owned(),
            source: ModelSource::Saved,
        };
        let library = Library::open(&self.settings_for(chosen.clone())).map_err(|e| {
            ServiceError::Invalid(format!(
                "{model} cannot be used: {}",
                crate::error_chain(&e)
            ))
        })?;
        crate::settings::save_model_choice(&self.settings.data_dir, model).map_err(|e| {
            ServiceError::Invalid(format!(
                "the choice cannot be saved in the data directory: {e}"
            ))
        })?;
        self.crawler.stop();
        let deadline = Instant::now() + CRAWL_STOP_WAIT;
        while self.crawler.is_running() {
            if Instant::now() > deadline {
                return Err(ServiceError::Conflict(
                    "the running crawl did not stop in time; try again when it has".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let library = Arc::new(library);
        *self
            .active
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = chosen;
        *self.write() = Opening::Ready(library);
        tracing::info!(model, "model changed");
        Ok(match self.start_crawl() {
            Ok(()) => format!(
                "now using {model}; a crawl is embedding the images it has not seen (search covers them as they are done)"
            ),
            Err(e) => format!("now using {model}; no crawl started: {e}"),
        })
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
            model: self.active_model(),
            demo_model: self.active_model() == DEMO_MODEL,
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
        let store = self.readers.get()?;
        let model_id = match library {
            Some(l) => Some(l.model_id),
            None => store.model_id(&self.active_model())?,
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

/// The wire form of result hits: the catalog's facts for each, in the hits' order (an image
/// deleted meanwhile is left out).
fn search_hits(store: &Store, hits: &[Hit]) -> Result<Vec<SearchHit>, ServiceError> {
    let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
    let details = store.image_details(&ids)?;
    Ok(hits
        .iter()
        .filter_map(|h| {
            let d = details.iter().find(|d| d.id == h.id)?;
            let f = &d.facts;
            let camera = match (&f.camera_make, &f.camera_model) {
                (Some(make), Some(model)) if model.starts_with(make.as_str()) => {
                    Some(model.clone())
                }
                (Some(make), Some(model)) => Some(format!("{make} {model}")),
                (one, other) => one.clone().or_else(|| other.clone()),
            };
            Some(SearchHit {
                id: h.id,
                score: h.score,
                width: f.width,
                height: f.height,
                format: f.format.clone(),
                taken_at: f.taken_at.clone(),
                path: d.path.clone(),
                bytes: f.bytes,
                camera,
            })
        })
        .collect())
}

/// The engine's filters and order from the UI's refinements; an unknown sort is a 400.
pub fn filters_of(f: &SearchFilters) -> Result<(Filters, Sort), ServiceError> {
    let sort = match f.sort.as_deref() {
        None | Some("relevance") => Sort::Relevance,
        Some("newest") => Sort::Newest,
        Some("oldest") => Sort::Oldest,
        Some(other) => {
            return Err(SearchError::BadQuery(format!(
                "sort is relevance, newest or oldest, not {other:?}"
            ))
            .into())
        }
    };
    Ok((
        Filters {
            folder: f.folder.clone(),
            from: f.from.clone(),
            to: f.to.clone(),
            camera: None,
            format: f.format.clone(),
        },
        sort,
    ))
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
        ServiceError::BadUpload(m) => AppError::BadRequest(m),
        ServiceError::UploadGone(m) => AppError::NotFound(m),
        ServiceError::Conflict(m) => AppError::Conflict(m),
        ServiceError::Invalid(m) => AppError::BadRequest(m),
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
        self.search_request(request).map_err(app_error)
    }

    fn start_crawl(&self) -> Result<(), AppError> {
        Trove::start_crawl(self).map_err(app_error)
    }

    fn stop_crawl(&self) {
        self.crawler.stop();
    }

    fn libraries(&self) -> Result<Vec<LibraryRoot>, AppError> {
        Trove::libraries(self).map_err(app_error)
    }

    fn add_library(&self, path: &str) -> Result<String, AppError> {
        Trove::add_library(self, path).map_err(app_error)
    }

    fn remove_library(&self, path: &str) -> Result<String, AppError> {
        Trove::remove_library(self, path).map_err(app_error)
    }

    fn models(&self) -> Result<ModelList, AppError> {
        Trove::models(self).map_err(app_error)
    }

    fn select_model(&self, model: &str) -> Result<String, AppError> {
        Trove::select_model(self, model).map_err(app_error)
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
            model: self.active_model(),
            model_status: self.model_status(),
            device: self.settings.device.as_str().to_owned(),
        }
    }
}
