//! The crawl: walk the library roots, decode what is new or changed, embed it in batches on
//! the model's device, and commit it to the catalog one transaction per batch.
//!
//! ```text
//! walk ──jobs──▶ decode (N threads: read, BLAKE3, known content? decode, thumbnail,
//!   │              │                 preprocess)
//!   │              └──prepared──▶ batch (one thread owns the device; batches of 32)
//!   │              │                 │
//!   └──────────── outcomes ──────────┴──▶ write (one SQLite transaction per batch,
//!                                              then the vector index)
//! ```
//!
//! Every channel is bounded, so memory stays flat however large the library. Nothing here runs
//! on the async runtime; the server starts a crawl on a thread of its own
//! ([`crate::controller`]). Files whose size, mtime and inode are unchanged and whose content
//! is embedded cost one `stat` and one indexed lookup. A file that cannot be indexed becomes a
//! `skipped` row with a reason, and the crawl goes on. Deleted files are forgotten only after a
//! root was walked completely, so an unmounted drive or a stopped crawl never empties the
//! catalog. After embedding come the passes that put a picture into words, each resumable:
//! the model's tags (`tags.rs`, from the stored embeddings), the words in pictures when a text
//! reader is given (`text.rs`), and captions when a captioner is (`captions.rs`).

mod ahead;
mod batch;
mod captions;
mod decode;
mod progress;
mod sidecar;
mod tags;
mod text;
mod walk;
mod write;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::bounded;
use trove_models::{Embedder, Pixels};

pub use progress::{Pass, Progress, ProgressSnapshot, StageTimes, TextProgress};

use crate::catalog::crawls::CrawlCounts;
use crate::catalog::{Catalog, CatalogError, CrawlState, FileFacts, Outcome};
use crate::describe::Describer;
use crate::media::thumbs::Thumbnails;
use crate::media::{DecodeLimits, ImageFacts};
use crate::text::TextReader;
use crate::vectors::{VectorError, VectorIndex};

/// File name extensions the crawl considers (case-insensitive). Other files are ignored
/// without a record; these are recorded as skipped when they cannot be read.
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "jfif", "mpo", "png", "apng", "webp", "gif", "tif", "tiff", "bmp",
    "heic", "heif", "hif", "avif", "pbm", "pgm", "ppm", "pnm", "pam", // camera raw files:
    "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "raf", "orf", "rw2", "dng", "pef",
    "srw", "3fr", "iiq", "erf", "kdc", "dcr", "mos", "mrw", "x3f", "rwl",
];

/// How to crawl.
#[derive(Debug, Clone)]
pub struct CrawlConfig {
    /// Library roots to walk.
    pub roots: Vec<PathBuf>,
    /// Decoding limits.
    pub limits: DecodeLimits,
    /// Images per embedding batch.
    pub batch: usize,
    /// Decoding threads.
    pub decoders: usize,
    /// Folders never walked (the data directory, if it sits inside a library).
    pub exclude: Vec<PathBuf>,
}

/// What a crawl fills: the catalog, for one model, its index and the thumbnails.
#[derive(Debug, Clone, Copy)]
pub struct CrawlParts<'a> {
    /// The catalog database file.
    pub catalog: &'a Path,
    /// The model's catalog row.
    pub model_id: i64,
    /// The loaded model.
    pub embedder: &'a Embedder,
    /// The model's vector index.
    pub index: &'a VectorIndex,
    /// The thumbnail cache.
    pub thumbs: &'a Thumbnails,
    /// The model's name and weights (`name@fingerprint`), which its tags are recorded under.
    pub label: &'a str,
    /// The text reader, when words are read (after embedding).
    pub reader: Option<&'a TextReader>,
    /// The captioner, when pictures are captioned (last).
    pub describer: Option<&'a Describer>,
}

/// Why a crawl could not run or finish. Per-file problems are never errors: they are skips.
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The vector index failed.
    #[error(transparent)]
    Vectors(#[from] VectorError),
    /// A crawl thread could not be started.
    #[error("a crawl thread could not start")]
    Thread(#[source] std::io::Error),
    /// A crawl thread panicked (a bug).
    #[error("the {0} thread of the crawl failed (a bug: see the log)")]
    Panicked(&'static str),
}

/// How a crawl ended.
#[derive(Debug, Clone, PartialEq)]
pub struct CrawlSummary {
    /// The crawl's row id.
    pub crawl_id: i64,
    /// [`CrawlState::Done`] or [`CrawlState::Stopped`].
    pub state: CrawlState,
    /// Final counters.
    pub progress: ProgressSnapshot,
    /// Roots that could not be walked at all (kept as they were).
    pub missing_roots: Vec<PathBuf>,
}

/// What every stage of one crawl shares.
struct Stage<'a> {
    parts: &'a CrawlParts<'a>,
    config: &'a CrawlConfig,
    progress: &'a Progress,
    stop: &'a AtomicBool,
}

impl Stage<'_> {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// A file the walk wants decoded, or (`describe`) an unchanged file whose own metadata was
/// never read.
struct Job {
    root_id: i64,
    path: PathBuf,
    size: u64,
    mtime_ns: i64,
    inode: u64,
    /// The file's row, when only its metadata is to be read.
    describe: Option<i64>,
}

/// A decoded image waiting for the model.
struct Ready {
    file: FileFacts,
    image: ImageFacts,
    pixels: Pixels,
}

/// What reaches the writer.
enum ToWriter {
    Outcome(Box<Outcome>),
    /// A root was walked to the end without an unreadable folder: what it did not see is gone.
    RootWalked(i64),
}

/// Runs one crawl to the end (or until `stop` is set), updating `progress`.
pub fn run(
    parts: &CrawlParts<'_>,
    config: &CrawlConfig,
    progress: &Progress,
    stop: &AtomicBool,
) -> Result<CrawlSummary, CrawlError> {
    progress.reset();
    let result = run_recorded(parts, config, progress, stop);
    progress.finish();
    // The summary's figures are the final ones, taken once the crawl is over.
    result.map(|summary| CrawlSummary {
        progress: progress.snapshot(),
        ..summary
    })
}

/// Runs the crawl between its two catalog records (begun, then done, stopped or failed).
fn run_recorded(
    parts: &CrawlParts<'_>,
    config: &CrawlConfig,
    progress: &Progress,
    stop: &AtomicBool,
) -> Result<CrawlSummary, CrawlError> {
    let mut catalog = Catalog::open(parts.catalog)?;
    catalog.mark_interrupted()?;
    let mut roots = Vec::new();
    let mut missing_roots = Vec::new();
    for root in &config.roots {
        if root.is_dir() {
            roots.push((catalog.ensure_root(root)?, root.clone()));
        } else {
            tracing::warn!(root = %root.display(), "library root is not a reachable folder; its files are kept");
            missing_roots.push(root.clone());
        }
    }
    let crawl_id = catalog.begin_crawl(parts.model_id)?;
    let stage = Stage {
        parts,
        config,
        progress,
        stop,
    };
    let counts = || {
        let s = progress.snapshot();
        CrawlCounts {
            files_seen: s.seen,
            embedded: s.embedded,
            skipped: s.skipped,
            removed: s.removed,
        }
    };
    let pipeline = run_pipeline(&stage, &mut catalog, crawl_id, &roots).and_then(|state| {
        progress.embedding_finished();
        if state != CrawlState::Done {
            return Ok(state);
        }
        // Search has every vector before the passes after embedding begin.
        parts.index.save()?;
        tags::run(&stage, &mut catalog)?;
        if let Some(reader) = parts.reader.filter(|_| !stage.stopped()) {
            text::run(&stage, &mut catalog, reader)?;
        }
        if let Some(describer) = parts.describer.filter(|_| !stage.stopped()) {
            captions::run(&stage, &mut catalog, describer)?;
        }
        Ok(if stage.stopped() {
            CrawlState::Stopped
        } else {
            CrawlState::Done
        })
    });
    let state = match pipeline {
        Ok(state) => state,
        Err(e) => {
            let message = crate::error_chain(&e);
            let _ = catalog.finish_crawl(crawl_id, CrawlState::Failed, counts(), Some(&message));
            let _ = parts.index.save();
            return Err(e);
        }
    };
    parts.index.save()?;
    catalog.finish_crawl(crawl_id, state, counts(), None)?;
    Ok(CrawlSummary {
        crawl_id,
        state,
        progress: progress.snapshot(),
        missing_roots,
    })
}

/// The pipeline's threads, then the forgetting of what complete walks did not see.
fn run_pipeline(
    stage: &Stage<'_>,
    catalog: &mut Catalog,
    crawl_id: i64,
    roots: &[(i64, PathBuf)],
) -> Result<CrawlState, CrawlError> {
    let batch = stage.config.batch.max(1);
    let (job_tx, job_rx) = bounded::<Job>(64);
    let (ready_tx, ready_rx) = bounded::<Ready>(batch * 2);
    let (out_tx, out_rx) = bounded::<ToWriter>(256);
    let walked_roots = std::thread::scope(|s| -> Result<Vec<i64>, CrawlError> {
        let spawn = |name: String| std::thread::Builder::new().name(name);
        let walker = {
            let out_tx = out_tx.clone();
            spawn("trove-walk".into())
                .spawn_scoped(s, move || walk::run(stage, roots, &job_tx, &out_tx))
                .map_err(CrawlError::Thread)?
        };
        let mut decoders = Vec::new();
        let threads = stage.config.decoders.max(1);
        stage
            .progress
            .busy
            .decoders
            .store(threads as u64, Ordering::Relaxed);
        for i in 0..threads {
            let (job_rx, ready_tx, out_tx) = (job_rx.clone(), ready_tx.clone(), out_tx.clone());
            decoders.push(
                spawn(format!("trove-decode-{i}"))
                    .spawn_scoped(s, move || decode::run(stage, &job_rx, &ready_tx, &out_tx))
                    .map_err(CrawlError::Thread)?,
            );
        }
        drop((job_rx, ready_tx));
        let batch_out = out_tx.clone();
        let batcher = spawn("trove-embed".into())
            .spawn_scoped(s, move || batch::run(stage, batch, &ready_rx, &batch_out))
            .map_err(CrawlError::Thread)?;
        drop(out_tx);
        let written = write::run(stage, catalog, crawl_id, out_rx);
        let walk_result = walker.join();
        let decoders_ok = decoders.into_iter().all(|d| d.join().is_ok());
        let batcher_ok = batcher.join().is_ok();
        let walked = written?;
        walk_result.map_err(|_| CrawlError::Panicked("walk"))??;
        if !decoders_ok {
            return Err(CrawlError::Panicked("decode"));
        }
        if !batcher_ok {
            return Err(CrawlError::Panicked("embed"));
        }
        Ok(walked)
    })?;
    if stage.stopped() {
        return Ok(CrawlState::Stopped);
    }
    for root_id in walked_roots {
        let removed = catalog.finish_root(crawl_id, root_id)?;
        stage.progress.removed.fetch_add(removed, Ordering::Relaxed);
    }
    for id in catalog.purge_orphans()? {
        stage.parts.index.remove(id)?;
    }
    Ok(CrawlState::Done)
}

/// An I/O error in words.
fn io_reason(what: &str, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        format!("cannot {what}: permission denied")
    } else if e.kind() == std::io::ErrorKind::NotFound {
        format!("cannot {what}: it disappeared during the crawl")
    } else {
        format!("cannot {what}: {e}")
    }
}
