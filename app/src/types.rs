//! Plain serde types that cross the wire between the server and the browser.

use serde::{Deserialize, Serialize};

/// What the server knows about itself, shown on the home page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The `trove` version serving the page.
    pub version: String,
    /// Library roots the server was configured with, as the user wrote them.
    pub libraries: Vec<String>,
    /// Hugging Face id (or folder) of the configured embedding model.
    pub model: String,
    /// Whether that model is installed, and if not, how to install it.
    pub model_status: String,
    /// The compute device preference (`auto`, `cpu` or `gpu`).
    pub device: String,
}

/// Catalog counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogCounts {
    /// Files in the catalog.
    pub files: u64,
    /// Distinct images (content) with at least one file.
    pub images: u64,
    /// Of those, embedded with the current model (searchable).
    pub embedded: u64,
    /// Files that could not be indexed.
    pub skipped: u64,
}

/// Live figures of the running (or last) crawl.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CrawlProgress {
    /// Whether a crawl is running now.
    pub running: bool,
    /// Whether its walk has finished (so `seen` is the total).
    pub walked: bool,
    /// Image files found.
    pub seen: u64,
    /// Files handled.
    pub done: u64,
    /// Newly embedded.
    pub embedded: u64,
    /// Moved or copied content reused without embedding.
    pub reused: u64,
    /// Unchanged since the last crawl.
    pub unchanged: u64,
    /// Skipped.
    pub skipped: u64,
    /// Forgotten because they are gone.
    pub removed: u64,
    /// Seconds since it started.
    pub elapsed_s: f64,
    /// Images embedded per second.
    pub rate: f64,
    /// Estimated seconds left, once known.
    pub eta_s: Option<f64>,
}

/// A file that could not be indexed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFile {
    /// Its path.
    pub path: String,
    /// Why, in words.
    pub reason: String,
}

/// The library's state, for the status API and the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LibraryStatus {
    /// `loading` (model and index opening), `ready`, or `error`.
    pub state: String,
    /// The error, when `state` is `error`.
    pub error: Option<String>,
    /// The model in use.
    pub model: String,
    /// Whether it is the built-in demo model.
    pub demo_model: bool,
    /// Library folders being indexed.
    pub roots: Vec<String>,
    /// Catalog counts.
    pub counts: CatalogCounts,
    /// The running or last crawl.
    pub crawl: CrawlProgress,
    /// How the last crawl ended, if it failed.
    pub crawl_error: Option<String>,
    /// The most recent skipped files (up to 50).
    pub skipped: Vec<SkippedFile>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// Image id: `/thumb/{id}`, `/image/{id}`, `/similar/{id}`.
    pub id: i64,
    /// Cosine similarity to the query.
    pub score: f32,
    /// Displayed width in pixels.
    pub width: u32,
    /// Displayed height in pixels.
    pub height: u32,
    /// File format.
    pub format: String,
    /// Capture time (EXIF, camera local time), if known.
    pub taken_at: Option<String>,
    /// One of its files.
    pub path: String,
    /// File size in bytes.
    pub bytes: u64,
    /// Camera make and model (EXIF), if known.
    pub camera: Option<String>,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchPage {
    /// Best first.
    pub hits: Vec<SearchHit>,
    /// The offset of the next page; `None` at the end.
    pub next_offset: Option<usize>,
    /// Whether the page lists the library (newest first) rather than answering a query.
    pub browsing: bool,
}

/// A search as the UI asks for it. With nothing to search for (no text, image or upload) it
/// browses the library, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
// Server functions send it form-encoded, where empty parts are left out.
#[serde(default)]
pub struct SearchRequest {
    /// Text, with `-term` negatives.
    pub q: Option<String>,
    /// Images like this one (excluding it).
    pub similar_to: Option<i64>,
    /// An uploaded image, by the key `POST /api/search/image` returned.
    pub upload: Option<String>,
    /// Restrictions and order.
    pub filters: SearchFilters,
    /// First result.
    pub offset: usize,
    /// Page size.
    pub limit: usize,
}

/// The refinements of a search, as they appear in its URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchFilters {
    /// Only files under this folder.
    pub folder: Option<String>,
    /// Captured on or after (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Captured on or before (`YYYY-MM-DD`).
    pub to: Option<String>,
    /// File format (`jpeg`, `png`, …).
    pub format: Option<String>,
    /// `relevance` (the default), `newest` or `oldest`.
    pub sort: Option<String>,
}

impl SearchFilters {
    /// The URL query-string keys, in the order they are written.
    pub const KEYS: [&'static str; 5] = ["folder", "from", "to", "format", "sort"];

    /// Reads the refinements from a query-string lookup; blank values are absent.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        SearchFilters {
            folder: get("folder"),
            from: get("from"),
            to: get("to"),
            format: get("format"),
            sort: get("sort").filter(|s| s != "relevance"),
        }
    }

    /// The set refinements as `(key, value)` pairs, in [`Self::KEYS`] order.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        [&self.folder, &self.from, &self.to, &self.format, &self.sort]
            .into_iter()
            .zip(Self::KEYS)
            .filter_map(|(v, k)| v.as_deref().map(|v| (k, v)))
            .collect()
    }

    /// Whether any refinement is set.
    pub fn is_empty(&self) -> bool {
        *self == SearchFilters::default()
    }
}

/// A library folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibraryRoot {
    /// Its path.
    pub path: String,
    /// Files of it in the catalog.
    pub files: u64,
    /// Whether it comes from the configuration (`--library`, `TROVE_LIBRARY`, the config file),
    /// so the UI cannot remove it.
    pub configured: bool,
}

/// A model Trove can use, as the admin's model picker shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelChoice {
    /// Repository id (`owner/name`) or folder.
    pub id: String,
    /// `clip` or `siglip`, when the folder is complete and valid.
    pub family: Option<String>,
    /// Embedding width.
    pub dim: Option<usize>,
    /// Bytes on disk.
    pub bytes: u64,
    /// What is wrong with it, if anything (it cannot be chosen then).
    pub problem: Option<String>,
    /// Whether it is the model in use.
    pub active: bool,
    /// Whether it is the built-in demo model.
    pub demo: bool,
}

/// The model in use and the models that could replace it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelList {
    /// The model in use.
    pub active: String,
    /// Where that choice came from, in words.
    pub chosen_by: String,
    /// The built-in demo model and every model in the data directory.
    pub models: Vec<ModelChoice>,
    /// Where to put more models, in words.
    pub install_hint: String,
}

/// Who is looking: a guest (search and view) or an admin (may also start and stop crawls).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    /// A request from this machine, or with the admin token.
    pub admin: bool,
    /// An admin who chose to see the site as a guest does.
    pub previewing_guest: bool,
}

/// Results per page in the UI.
pub const PAGE_SIZE: usize = 60;
