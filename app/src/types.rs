//! Plain serde types that cross the wire: between the server and the browser, in the JSON API,
//! and in the command line's `--json` output. One type per answer, the same whoever asks; each
//! top-level answer carries [`SCHEMA`] as `schema`, raised when a field changes meaning or goes.

use serde::{Deserialize, Serialize};

/// The version of the answers' shape (`schema` in each top-level answer).
pub const SCHEMA: u32 = 1;

fn schema() -> u32 {
    SCHEMA
}

/// `GET /api/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// [`SCHEMA`].
    #[serde(default = "schema")]
    pub schema: u32,
    /// `ok` while the server answers.
    pub status: String,
    /// The `trove` version.
    pub version: String,
}

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

/// Where a crawl stands or how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CrawlState {
    /// In progress.
    Running,
    /// Every library folder walked to the end.
    Done,
    /// Stopped on request.
    Stopped,
    /// Ended by an error.
    Failed,
    /// Cut short by a process that died (a kill, a power cut); the next crawl resumed it.
    Interrupted,
}

impl CrawlState {
    /// The word people read.
    pub fn as_str(self) -> &'static str {
        match self {
            CrawlState::Running => "running",
            CrawlState::Done => "done",
            CrawlState::Stopped => "stopped",
            CrawlState::Failed => "failed",
            CrawlState::Interrupted => "interrupted",
        }
    }
}

/// A crawl as the catalog recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrawlRecord {
    /// Its number.
    pub id: i64,
    /// How it stands or ended.
    pub state: CrawlState,
    /// Unix seconds.
    pub started_at: i64,
    /// Unix seconds, once ended.
    pub finished_at: Option<i64>,
    /// Image files seen.
    pub files_seen: u64,
    /// Newly embedded.
    pub embedded: u64,
    /// Skipped.
    pub skipped: u64,
    /// Forgotten because they are gone.
    pub removed: u64,
    /// The error, for a failed crawl.
    pub message: Option<String>,
}

/// How a crawl ended: `trove index --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrawlSummary {
    /// [`SCHEMA`].
    #[serde(default = "schema")]
    pub schema: u32,
    /// Its number.
    pub crawl_id: i64,
    /// [`CrawlState::Done`] or [`CrawlState::Stopped`].
    pub state: CrawlState,
    /// Its final figures.
    pub progress: CrawlProgress,
    /// Library folders that could not be walked at all (their files are kept).
    pub missing_roots: Vec<String>,
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
    /// Reading the words in pictures, after embedding.
    #[serde(default)]
    pub text: TextProgress,
    /// Tagging, after embedding (in the same shape: `with_words` is images with a tag).
    #[serde(default)]
    pub tags: TextProgress,
    /// Captioning, last (`with_words` is images with a caption).
    #[serde(default)]
    pub captions: TextProgress,
}

/// The crawl's text pass (reading the words in pictures).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TextProgress {
    /// Whether it is running now.
    pub reading: bool,
    /// Images read this crawl.
    pub read: u64,
    /// Images it set out to read.
    pub total: u64,
    /// Of those read, images with words.
    pub with_words: u64,
    /// Images read per second.
    pub rate: f64,
    /// Work the pass does before its first image, while it does it (tagging: embedding the tag
    /// vocabulary's prompts, once per model).
    #[serde(default)]
    pub preparing: Option<Preparing>,
}

/// A pass's work before its first image: how far it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preparing {
    /// Steps done (tagging: prompts embedded).
    pub done: u64,
    /// Steps in all.
    pub total: u64,
}

/// A tag and how many pictures have it: the home page's tags to browse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagCount {
    /// The tag (`tag:NAME` finds its pictures).
    pub tag: String,
    /// Pictures with it.
    pub images: u64,
}

/// A file that could not be indexed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFile {
    /// Its path.
    pub path: String,
    /// Why, in words.
    pub reason: String,
}

/// Whether the library (the model and its index) is open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LibraryState {
    /// The model and the index are being opened.
    #[default]
    Loading,
    /// Searches are answered.
    Ready,
    /// It could not open; `error` says why.
    Error,
}

/// The library's state: `GET /api/status`, the home page's panel, `trove status --json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LibraryStatus {
    /// [`SCHEMA`].
    #[serde(default = "schema")]
    pub schema: u32,
    /// Whether it is open.
    pub state: LibraryState,
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
    /// The catalog's record of the last crawl (this run's or an earlier one's).
    pub last_crawl: Option<CrawlRecord>,
    /// The most recent skipped files (up to 50 on the page; all of them from the command line).
    pub skipped: Vec<SkippedFile>,
    /// The words read in pictures.
    #[serde(default)]
    pub text: TextStatus,
    /// Captions: images captioned, with a caption, and why not (in the same shape).
    #[serde(default)]
    pub captions: TextStatus,
    /// Tags: images tagged, with a tag, and why none yet.
    #[serde(default)]
    pub tags: TextStatus,
}

/// What is known of the words in pictures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextStatus {
    /// Images whose words have been read.
    pub read: u64,
    /// Of those, images with words.
    pub with_words: u64,
    /// Why words are not read, when they are not (admins only).
    pub note: Option<String>,
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
    /// What in its words, names and facts matched the query's words (empty when only its
    /// similarity explains it, and when browsing).
    #[serde(default, skip_serializing_if = "Why::is_empty")]
    pub why: Why,
    /// Its caption, when the captioner wrote one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Its tags, clearest first (`tag:NAME` finds them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// What an imported catalog (Lightroom) says of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<CatalogFacts>,
    /// What its files say of it: their own XMP and IPTC (`catalog` the file's name) and their
    /// XMP sidecars (`catalog` the sidecar's name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub described: Vec<CatalogFacts>,
}

/// What a photographer's catalog (Lightroom Classic) says of a picture, imported read-only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CatalogFacts {
    /// The catalog's file name (`Lightroom Catalog.lrcat`), or the file that says it
    /// (`DSC_0001.jpg`, `DSC_0001.xmp`).
    pub catalog: String,
    /// Stars, 0–5; `None` when unrated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    /// 1 picked, -1 rejected, 0 neither.
    pub flag: i8,
    /// Colour label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Caption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Keywords, each with the keywords above it (`Places > Japan > Tokyo`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Collections (`Travel / Japan 2023`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub collections: Vec<String>,
    /// The file name of the original, when it is offline or lost and the catalog's preview
    /// stands in for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stands_in_for: Option<String>,
}

/// A piece of text, marked where the query matched it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// The text.
    pub text: String,
    /// Whether the query matched it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hit: bool,
}

/// Why a result matched, besides its similarity ([`SearchHit::score`]). Each part is empty
/// when the query's words are not in it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Why {
    /// The words read in the picture (an excerpt around the first match when long).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<Span>,
    /// The file's path inside its library folder, the folder's own name first (only the file
    /// name for guests), when a query word is in it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub name: Vec<Span>,
    /// Camera, lens or capture date words that hold a query word.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<Span>,
    /// The caption, when it holds a query word.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caption: Vec<Span>,
    /// The tags (comma-separated), when one holds a query word.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Span>,
    /// What an imported catalog (Lightroom) says of it, the lines that hold a query word:
    /// keywords, title, caption, collections (` · ` between).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<Span>,
}

impl Why {
    /// Whether nothing but similarity explains the result.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
            && self.name.is_empty()
            && self.facts.is_empty()
            && self.caption.is_empty()
            && self.tags.is_empty()
            && self.keywords.is_empty()
    }

    /// The spans as plain text.
    pub fn plain(spans: &[Span]) -> String {
        spans.iter().map(|s| s.text.as_str()).collect()
    }
}

/// One page of results: `GET /api/search`, `/api/similar/<id>`, the grid, and `trove search
/// --json` / `trove similar --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchPage {
    /// [`SCHEMA`].
    #[serde(default = "schema")]
    pub schema: u32,
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

/// A results page for an uploaded image: `POST /api/search/image`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadPage {
    /// The key that pages on (`/api/search?upload=KEY`) and that `/search?upload=KEY` shows.
    pub upload: String,
    /// The first page.
    #[serde(flatten)]
    pub page: SearchPage,
}

/// What the catalog knows of one image: `GET /api/images/<id>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// [`SCHEMA`].
    #[serde(default = "schema")]
    pub schema: u32,
    /// Image id.
    pub id: i64,
    /// One of its files (the first by path).
    pub path: String,
    /// How many files have this content.
    pub copies: u64,
    /// File format.
    pub format: String,
    /// Displayed width.
    pub width: u32,
    /// Displayed height.
    pub height: u32,
    /// File size in bytes.
    pub bytes: u64,
    /// EXIF capture time (camera local time).
    pub taken_at: Option<String>,
    /// EXIF camera maker.
    pub camera_make: Option<String>,
    /// EXIF camera model.
    pub camera_model: Option<String>,
    /// EXIF lens.
    pub lens: Option<String>,
    /// Latitude, north positive.
    pub gps_lat: Option<f64>,
    /// Longitude, east positive.
    pub gps_lon: Option<f64>,
    /// EXIF orientation (1–8) as stored in the file.
    pub orientation: Option<u16>,
    /// Its caption, when the captioner wrote one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Its tags, clearest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// What an imported catalog (Lightroom) says of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<CatalogFacts>,
    /// What its files say of it: their own XMP and IPTC (`catalog` the file's name) and their
    /// XMP sidecars (`catalog` the sidecar's name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub described: Vec<CatalogFacts>,
}

/// How results are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Most similar first.
    #[default]
    Relevance,
    /// Newest capture date first (undated last).
    Newest,
    /// Oldest capture date first (undated last).
    Oldest,
}

impl Sort {
    /// Every order.
    pub const ALL: [Sort; 3] = [Sort::Relevance, Sort::Newest, Sort::Oldest];

    /// The word in URLs and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Relevance => "relevance",
            Sort::Newest => "newest",
            Sort::Oldest => "oldest",
        }
    }

    /// The order a word names.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }
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
    /// The order; `None` is relevance.
    pub sort: Option<Sort>,
}

impl SearchFilters {
    /// The URL query-string keys, in the order they are written.
    pub const KEYS: [&'static str; 5] = ["folder", "from", "to", "format", "sort"];

    /// Reads the refinements from a query-string lookup; blank values are absent, and so is
    /// an order that is not one of [`Sort::ALL`] (a link with a mistyped order still searches).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        SearchFilters {
            folder: get("folder"),
            from: get("from"),
            to: get("to"),
            format: get("format"),
            sort: get("sort")
                .and_then(|s| Sort::parse(&s))
                .filter(|s| *s != Sort::Relevance),
        }
    }

    /// The set refinements as `(key, value)` pairs, in [`Self::KEYS`] order.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let sort = self.sort.map(Sort::as_str);
        [
            self.folder.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            self.format.as_deref(),
            sort,
        ]
        .into_iter()
        .zip(Self::KEYS)
        .filter_map(|(v, k)| v.map(|v| (k, v)))
        .collect()
    }

    /// Whether any refinement is set.
    pub fn is_empty(&self) -> bool {
        *self == SearchFilters::default()
    }
}

/// The library folders: `GET /api/libraries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibraryList {
    /// [`SCHEMA`].
    #[serde(default = "schema")]
    pub schema: u32,
    /// In the order they were added.
    pub libraries: Vec<LibraryRoot>,
    /// Imported photographers' catalogs (Lightroom), oldest first.
    #[serde(default)]
    pub catalogs: Vec<ImportedCatalog>,
}

/// A photographer's catalog whose keywords, ratings and collections were imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedCatalog {
    /// The catalog file.
    pub path: String,
    /// `lightroom`.
    pub kind: String,
    /// Its photos.
    pub photos: u64,
    /// Of those, matched to an indexed image.
    pub matched: u64,
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
    /// Input image side in pixels.
    pub image_size: Option<usize>,
    /// Bytes on disk.
    pub bytes: u64,
    /// What is wrong with it, if anything (it cannot be chosen then).
    pub problem: Option<String>,
    /// Whether it is the model in use.
    pub active: bool,
    /// Whether it is the built-in demo model.
    pub demo: bool,
}

/// The model in use and the models that could replace it: `GET /api/models`, the admin's
/// model picker, `trove model list --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelList {
    /// [`SCHEMA`].
    #[serde(default = "schema")]
    pub schema: u32,
    /// The model in use.
    pub active: String,
    /// Where that choice came from, in words.
    pub chosen_by: String,
    /// The built-in demo model and every model in the data directory.
    pub models: Vec<ModelChoice>,
    /// Where to put more models, in words.
    pub install_hint: String,
}

/// A change done, in words: the answer of an admin's `POST` (library folders, the model, the
/// crawl).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    /// What happened.
    pub message: String,
}

/// A refused or failed request: the body of every JSON error answer, sent with the error's
/// status code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Why, for a person.
    pub error: String,
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
