//! The crawl: walk the library roots, decode what is new or changed, embed it in batches on
//! the model's device, and commit it to the catalog one transaction per batch.
//!
//! ```text
//! walker ──jobs──▶ decode pool (N threads: read, BLAKE3, known content? decode, thumbnail,
//!   │                 │                       preprocess)
//!   │                 └──pixels──▶ embedder (one thread owns the device; batches)
//!   │                 │                 │
//!   └────────────── outcomes ───────────┴──▶ writer (one SQLite transaction per batch,
//!                                              then the vector index)
//! ```
//!
//! Every channel is bounded, so memory stays flat however large the library. Nothing here runs
//! on the async runtime; the server starts a crawl on a thread of its own. Files whose size,
//! mtime and inode are unchanged and whose content is embedded cost one `stat` and one
//! indexed lookup. A file that cannot be indexed becomes a `skipped` row with a reason, and the
//! crawl goes on. Deleted files are forgotten only after a root was walked completely, so an
//! unmounted drive or a stopped crawl never empties the catalog.

use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use serde::Serialize;
use trove_models::{Embedder, Pixels};
use walkdir::WalkDir;

use crate::decode::{decode, DecodeLimits};
use crate::store::{path_bytes, CrawlState, FileFacts, ImageFacts, Outcome, Store, StoreError};
use crate::thumbs::Thumbnails;
use crate::vectors::{VectorError, VectorIndex};

/// File name extensions the crawler considers (case-insensitive). Other files are ignored
/// without a record; these are recorded as skipped when they cannot be read.
pub const IMAGE_EXTENSIONS: [&str; 13] = [
    "jpg", "jpeg", "jpe", "jfif", "png", "webp", "gif", "tif", "tiff", "bmp", "heic", "heif", "hif",
];

/// What a crawl needs to know.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Library roots to walk.
    pub roots: Vec<PathBuf>,
    /// The catalog database file.
    pub catalog: PathBuf,
    /// The model's id (as given to `--model`).
    pub model: String,
    /// Decoding limits.
    pub limits: DecodeLimits,
    /// Images per embedding batch.
    pub batch: usize,
    /// Decoding threads.
    pub decoders: usize,
    /// Folders never walked (the data directory, if it sits inside a library).
    pub exclude: Vec<PathBuf>,
}

/// Why a crawl could not run or finish. Per-file problems are never errors: they are skips.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The catalog failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The vector index failed.
    #[error(transparent)]
    Vectors(#[from] VectorError),
    /// A crawl thread could not be started.
    #[error("a crawl thread could not start or failed")]
    Thread(#[source] std::io::Error),
}

/// Live counters of a crawl, shared with the progress display and the status API.
#[derive(Debug)]
pub struct Progress {
    started: Mutex<Option<Instant>>,
    first_embed: Mutex<Option<Instant>>,
    /// When the crawl ended: its time and rate stop there.
    ended: Mutex<Option<Instant>>,
    /// Image files found so far.
    pub seen: AtomicU64,
    /// Unchanged since the last crawl.
    pub unchanged: AtomicU64,
    /// New or changed files whose content was already embedded (moves, copies).
    pub reused: AtomicU64,
    /// Newly embedded.
    pub embedded: AtomicU64,
    /// Skipped (new reasons this crawl, plus unchanged files skipped before).
    pub skipped: AtomicU64,
    /// Files forgotten because they are gone.
    pub removed: AtomicU64,
    /// Whether the walk has finished (so the total is known).
    pub walked: AtomicBool,
    /// Whether the crawl is running.
    pub running: AtomicBool,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            started: Mutex::new(None),
            first_embed: Mutex::new(None),
            ended: Mutex::new(None),
            seen: AtomicU64::new(0),
            unchanged: AtomicU64::new(0),
            reused: AtomicU64::new(0),
            embedded: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            removed: AtomicU64::new(0),
            walked: AtomicBool::new(false),
            running: AtomicBool::new(false),
        }
    }
}

/// A copy of the counters with rates, for display.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProgressSnapshot {
    /// Whether a crawl is running.
    pub running: bool,
    /// Whether the walk has finished.
    pub walked: bool,
    /// Image files found.
    pub seen: u64,
    /// Files handled so far (unchanged, reused, embedded or skipped).
    pub done: u64,
    /// Unchanged files.
    pub unchanged: u64,
    /// Moved or copied content reused.
    pub reused: u64,
    /// Newly embedded.
    pub embedded: u64,
    /// Skipped.
    pub skipped: u64,
    /// Forgotten.
    pub removed: u64,
    /// Seconds since the crawl started.
    pub elapsed_s: f64,
    /// Images embedded per second.
    pub rate: f64,
    /// Estimated seconds left, once the walk has finished and a rate is known.
    pub eta_s: Option<f64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Progress {
    /// Zeroes the counters and marks a crawl as running (a crawl does it as it starts).
    pub fn reset(&self) {
        *lock(&self.started) = Some(Instant::now());
        *lock(&self.first_embed) = None;
        *lock(&self.ended) = None;
        for c in [
            &self.seen,
            &self.unchanged,
            &self.reused,
            &self.embedded,
            &self.skipped,
            &self.removed,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        self.walked.store(false, Ordering::Relaxed);
        self.running.store(true, Ordering::Relaxed);
    }

    /// Marks the crawl as over, freezing its elapsed time and rate.
    fn finish(&self) {
        *lock(&self.ended) = Some(Instant::now());
        self.running.store(false, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> ProgressSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (seen, unchanged, reused, embedded, skipped) = (
            get(&self.seen),
            get(&self.unchanged),
            get(&self.reused),
            get(&self.embedded),
            get(&self.skipped),
        );
        let done = unchanged + reused + embedded + skipped;
        let end = lock(&self.ended).unwrap_or_else(Instant::now);
        let since = |t: Instant| end.saturating_duration_since(t).as_secs_f64();
        let elapsed_s = lock(&self.started).map_or(0.0, since);
        let embedding_s = lock(&self.first_embed).map_or(0.0, since);
        let rate = if embedding_s > 0.5 {
            embedded as f64 / embedding_s
        } else {
            0.0
        };
        let walked = self.walked.load(Ordering::Relaxed);
        let eta_s = (walked && rate > 0.0).then(|| seen.saturating_sub(done) as f64 / rate);
        ProgressSnapshot {
            running: self.running.load(Ordering::Relaxed),
            walked,
            seen,
            done,
            unchanged,
            reused,
            embedded,
            skipped,
            removed: get(&self.removed),
            elapsed_s,
            rate,
            eta_s,
        }
    }
}

/// How a crawl ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrawlSummary {
    /// The crawl's row id.
    pub crawl_id: i64,
    /// `done` or `stopped`.
    pub state: String,
    /// Final counters.
    pub progress: ProgressSnapshot,
    /// Roots that could not be walked at all (kept as they were).
    pub missing_roots: Vec<String>,
}

/// A file the walker wants decoded.
struct Job {
    root_id: i64,
    path: PathBuf,
    size: u64,
    mtime_ns: i64,
    inode: u64,
}

/// A decoded image waiting for the model.
struct Prepared {
    file: FileFacts,
    image: ImageFacts,
    pixels: Pixels,
}

enum ToWriter {
    Outcome(Box<Outcome>),
    RootWalked(i64),
}

/// Runs one crawl to the end (or until `stop` is set), updating `progress`.
pub fn crawl(
    config: &IngestConfig,
    embedder: &Embedder,
    index: &VectorIndex,
    thumbs: &Thumbnails,
    progress: &Progress,
    stop: &AtomicBool,
) -> Result<CrawlSummary, IngestError> {
    progress.reset();
    let result = crawl_inner(config, embedder, index, thumbs, progress, stop);
    progress.finish();
    result
}

fn crawl_inner(
    config: &IngestConfig,
    embedder: &Embedder,
    index: &VectorIndex,
    thumbs: &Thumbnails,
    progress: &Progress,
    stop: &AtomicBool,
) -> Result<CrawlSummary, IngestError> {
    let mut store = Store::open(&config.catalog)?;
    store.mark_interrupted()?;
    let model_id = store.ensure_model(&config.model, embedder.dim())?;
    let mut roots = Vec::new();
    let mut missing_roots = Vec::new();
    for root in &config.roots {
        if root.is_dir() {
            roots.push((store.ensure_root(root)?, root.clone()));
        } else {
            tracing::warn!(root = %root.display(), "library root is not a reachable folder; its files are kept");
            missing_roots.push(root.display().to_string());
        }
    }
    let crawl_id = store.begin_crawl(model_id)?;
    let min_side = u32::try_from(embedder.config().image_size())
        .unwrap_or(u32::MAX)
        .max(crate::thumbs::GRID_HEIGHT);

    let (job_tx, job_rx) = bounded::<Job>(64);
    let (prep_tx, prep_rx) = bounded::<Prepared>(config.batch * 2);
    let (out_tx, out_rx) = bounded::<ToWriter>(256);

    let outcome = std::thread::scope(|s| -> Result<CrawlState, IngestError> {
        let walker = {
            let out_tx = out_tx.clone();
            let roots = roots.clone();
            std::thread::Builder::new()
                .name("trove-walk".into())
                .spawn_scoped(s, move || {
                    walk(config, &roots, model_id, &job_tx, &out_tx, progress, stop)
                })
                .map_err(IngestError::Thread)?
        };
        let mut decoders = Vec::new();
        for i in 0..config.decoders.max(1) {
            let (job_rx, prep_tx, out_tx) = (job_rx.clone(), prep_tx.clone(), out_tx.clone());
            decoders.push(
                std::thread::Builder::new()
                    .name(format!("trove-decode-{i}"))
                    .spawn_scoped(s, move || {
                        decode_loop(
                            config, model_id, embedder, thumbs, min_side, &job_rx, &prep_tx,
                            &out_tx, stop,
                        )
                    })
                    .map_err(IngestError::Thread)?,
            );
        }
        drop((job_rx, prep_tx));
        let embed_out = out_tx.clone();
        let embedder_thread = std::thread::Builder::new()
            .name("trove-embed".into())
            .spawn_scoped(s, move || {
                embed_loop(embedder, config.batch, &prep_rx, &embed_out, progress)
            })
            .map_err(IngestError::Thread)?;
        drop(out_tx);
        let written = write_loop(&mut store, crawl_id, model_id, index, out_rx, progress);
        let walk_result = walker.join();
        for d in decoders {
            let _ = d.join();
        }
        let _ = embedder_thread.join();
        let walked_roots = written?;
        match walk_result {
            Ok(result) => result?,
            Err(_) => {
                return Err(IngestError::Thread(std::io::Error::other(
                    "the walker thread panicked",
                )))
            }
        }
        if stop.load(Ordering::Relaxed) {
            return Ok(CrawlState::Stopped);
        }
        for root_id in walked_roots {
            let removed = store.finish_root(crawl_id, root_id)?;
            progress.removed.fetch_add(removed, Ordering::Relaxed);
        }
        for id in store.purge_orphans()? {
            index.remove(id)?;
        }
        Ok(CrawlState::Done)
    });
    let state = match outcome {
        Ok(state) => state,
        Err(e) => {
            let snap = progress.snapshot();
            let _ = store.finish_crawl(
                crawl_id,
                CrawlState::Failed,
                (snap.seen, snap.embedded, snap.skipped, snap.removed),
                Some(&e.to_string()),
            );
            let _ = index.save();
            return Err(e);
        }
    };
    index.save()?;
    let snap = progress.snapshot();
    store.finish_crawl(
        crawl_id,
        state,
        (snap.seen, snap.embedded, snap.skipped, snap.removed),
        None,
    )?;
    Ok(CrawlSummary {
        crawl_id,
        state: match state {
            CrawlState::Stopped => "stopped",
            CrawlState::Done | CrawlState::Running | CrawlState::Failed => "done",
        }
        .into(),
        progress: progress.snapshot(),
        missing_roots,
    })
}

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

/// An I/O error in words.
fn io_reason(what: &str, e: &std::io::Error) -> String {
    if e.kind() == ErrorKind::PermissionDenied {
        format!("cannot {what}: permission denied")
    } else if e.kind() == ErrorKind::NotFound {
        format!("cannot {what}: it disappeared during the crawl")
    } else {
        format!("cannot {what}: {e}")
    }
}

fn has_image_extension(path: &Path) -> bool {
    path.extension().is_some_and(|e| {
        let e = e.to_string_lossy().to_ascii_lowercase();
        IMAGE_EXTENSIONS.contains(&e.as_str())
    })
}

fn walk(
    config: &IngestConfig,
    roots: &[(i64, PathBuf)],
    model_id: i64,
    jobs: &Sender<Job>,
    out: &Sender<ToWriter>,
    progress: &Progress,
    stop: &AtomicBool,
) -> Result<(), StoreError> {
    let store = Store::open(&config.catalog)?;
    let send = |o: Outcome| out.send(ToWriter::Outcome(Box::new(o))).is_ok();
    for (root_id, root) in roots {
        let root_id = *root_id;
        let mut clean = true;
        let entries = WalkDir::new(root)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0
                    || !(e.file_name().as_encoded_bytes().starts_with(b".")
                        || config.exclude.iter().any(|x| x == e.path()))
            });
        for entry in entries {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    let path = err
                        .path()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| root.clone());
                    let reason = match err.io_error() {
                        Some(io) => io_reason("read this folder", io),
                        None => format!("cannot read this folder: {err}"),
                    };
                    if err.depth() == 0 {
                        clean = false;
                    }
                    if !send(Outcome::Skipped {
                        root_id,
                        path: path_bytes(&path),
                        size: None,
                        mtime_ns: None,
                        reason,
                    }) {
                        return Ok(());
                    }
                    continue;
                }
            };
            let ft = entry.file_type();
            if ft.is_dir() || !has_image_extension(entry.path()) {
                continue;
            }
            progress.seen.fetch_add(1, Ordering::Relaxed);
            let path = entry.path().to_path_buf();
            let bytes = path_bytes(&path);
            let skip = |reason: String, size: Option<u64>, mtime: Option<i64>| {
                send(Outcome::Skipped {
                    root_id,
                    path: bytes.clone(),
                    size,
                    mtime_ns: mtime,
                    reason,
                })
            };
            let alive = if ft.is_symlink() {
                skip(
                    "a symbolic link: Trove indexes files under their real path and never follows links out of a library".into(),
                    None,
                    None,
                )
            } else if !ft.is_file() {
                skip(
                    "not a regular file (a named pipe, socket or device)".into(),
                    None,
                    None,
                )
            } else {
                match entry.metadata() {
                    Err(err) => skip(format!("cannot read its size and date: {err}"), None, None),
                    Ok(meta) => {
                        let (size, mtime, inode) = (meta.len(), mtime_ns(&meta), meta.ino());
                        let known = store.file(&bytes, model_id)?;
                        match known {
                            Some(k)
                                if k.embedded
                                    && (k.size, k.mtime_ns, k.inode) == (size, mtime, inode) =>
                            {
                                send(Outcome::Unchanged { file_id: k.id })
                            }
                            _ if store.skipped_unchanged(&bytes, size, mtime)? => {
                                send(Outcome::StillSkipped {
                                    path: bytes.clone(),
                                })
                            }
                            _ if size > config.limits.max_bytes => skip(
                                format!(
                                    "the file is {} MB, more than the {} MB limit",
                                    size / 1_000_000,
                                    config.limits.max_bytes / 1_000_000
                                ),
                                Some(size),
                                Some(mtime),
                            ),
                            _ => jobs
                                .send(Job {
                                    root_id,
                                    path,
                                    size,
                                    mtime_ns: mtime,
                                    inode,
                                })
                                .is_ok(),
                        }
                    }
                }
            };
            if !alive {
                return Ok(());
            }
        }
        if clean
            && !stop.load(Ordering::Relaxed)
            && out.send(ToWriter::RootWalked(root_id)).is_err()
        {
            return Ok(());
        }
    }
    progress.walked.store(true, Ordering::Relaxed);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn decode_loop(
    config: &IngestConfig,
    model_id: i64,
    embedder: &Embedder,
    thumbs: &Thumbnails,
    min_side: u32,
    jobs: &Receiver<Job>,
    prepared: &Sender<Prepared>,
    out: &Sender<ToWriter>,
    stop: &AtomicBool,
) {
    let store = match Store::open(&config.catalog) {
        Ok(s) => s,
        Err(e) => {
            // Without this thread its share of files would go unrecorded, and a complete walk
            // would then forget them: stop the whole crawl instead.
            tracing::error!(error = %e, "decoder cannot open the catalog; stopping the crawl");
            stop.store(true, Ordering::Relaxed);
            return;
        }
    };
    for job in jobs {
        if stop.load(Ordering::Relaxed) {
            continue; // drain without work so the walker is never blocked
        }
        let file = FileFacts {
            root_id: job.root_id,
            path: path_bytes(&job.path),
            size: job.size,
            mtime_ns: job.mtime_ns,
            inode: job.inode,
        };
        let skipped = |reason: String| {
            ToWriter::Outcome(Box::new(Outcome::Skipped {
                root_id: job.root_id,
                path: file.path.clone(),
                size: Some(job.size),
                mtime_ns: Some(job.mtime_ns),
                reason,
            }))
        };
        let bytes = match std::fs::read(&job.path) {
            Ok(b) => b,
            Err(e) => {
                if out.send(skipped(io_reason("read the file", &e))).is_err() {
                    return;
                }
                continue;
            }
        };
        let hash: [u8; 32] = *blake3::hash(&bytes).as_bytes();
        match store.image_by_hash(&hash, model_id) {
            Ok(Some((_, true))) => {
                let image = ImageFacts {
                    hash,
                    ..ImageFacts::default()
                };
                if out
                    .send(ToWriter::Outcome(Box::new(Outcome::Indexed {
                        file,
                        image,
                        embedding: None,
                    })))
                    .is_err()
                {
                    return;
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "content lookup failed; decoding anyway"),
        }
        let decoded = match decode(&bytes, min_side, config.limits) {
            Ok(d) => d,
            Err(e) => {
                if out.send(skipped(e.to_string())).is_err() {
                    return;
                }
                continue;
            }
        };
        drop(bytes);
        let mut image = decoded.facts;
        image.hash = hash;
        if let Err(e) = thumbs.write(&hash, &decoded.rgb) {
            tracing::warn!(error = %e, "thumbnail not written");
        }
        let (w, h) = decoded.rgb.dimensions();
        let pixels =
            match embedder
                .preprocessor()
                .prepare(decoded.rgb.as_raw(), w as usize, h as usize)
            {
                Ok(p) => p,
                Err(e) => {
                    if out
                        .send(skipped(format!("cannot prepare it for the model: {e}")))
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
            };
        if prepared
            .send(Prepared {
                file,
                image,
                pixels,
            })
            .is_err()
        {
            return;
        }
    }
}

fn embed_loop(
    embedder: &Embedder,
    batch: usize,
    prepared: &Receiver<Prepared>,
    out: &Sender<ToWriter>,
    progress: &Progress,
) {
    let batch = batch.max(1);
    loop {
        let Ok(first) = prepared.recv() else { return };
        let mut items = vec![first];
        let deadline = Instant::now() + Duration::from_millis(50);
        while items.len() < batch {
            match prepared.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(item) => items.push(item),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        {
            let mut first_embed = lock(&progress.first_embed);
            if first_embed.is_none() {
                *first_embed = Some(Instant::now());
            }
        }
        let (pixels, items): (Vec<Pixels>, Vec<(FileFacts, ImageFacts)>) = items
            .into_iter()
            .map(|i| (i.pixels, (i.file, i.image)))
            .unzip();
        let results: Vec<Result<Vec<f32>, String>> = match embedder.embed_images(&pixels) {
            Ok(vectors) => vectors.into_iter().map(Ok).collect(),
            // One bad image must not sink the batch: retry one by one.
            Err(_) => pixels
                .iter()
                .map(|p| {
                    embedder
                        .embed_images(std::slice::from_ref(p))
                        .map_err(|e| e.to_string())
                        .and_then(|mut v| v.pop().ok_or_else(|| "no embedding".to_owned()))
                })
                .collect(),
        };
        for ((file, image), result) in items.into_iter().zip(results) {
            let outcome = match result {
                Ok(vector) => Outcome::Indexed {
                    file,
                    image,
                    embedding: Some(vector),
                },
                Err(reason) => Outcome::Skipped {
                    root_id: file.root_id,
                    path: file.path,
                    size: Some(file.size),
                    mtime_ns: Some(file.mtime_ns),
                    reason: format!("the model failed on this image: {reason}"),
                },
            };
            if out.send(ToWriter::Outcome(Box::new(outcome))).is_err() {
                return;
            }
        }
    }
}

/// Commits outcomes in batches; returns the roots walked completely.
fn write_loop(
    store: &mut Store,
    crawl_id: i64,
    model_id: i64,
    index: &VectorIndex,
    rx: Receiver<ToWriter>,
    progress: &Progress,
) -> Result<Vec<i64>, IngestError> {
    const MAX_BATCH: usize = 256;
    const MAX_WAIT: Duration = Duration::from_millis(500);
    const SAVE_EVERY: Duration = Duration::from_secs(300);
    let mut walked = Vec::new();
    let mut pending: Vec<Outcome> = Vec::new();
    let mut oldest = Instant::now();
    let mut last_save = Instant::now();
    let mut open = true;
    while open || !pending.is_empty() {
        if open {
            match rx.recv_timeout(MAX_WAIT) {
                Ok(ToWriter::Outcome(o)) => {
                    if pending.is_empty() {
                        oldest = Instant::now();
                    }
                    pending.push(*o);
                }
                Ok(ToWriter::RootWalked(id)) => walked.push(id),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
        }
        let due = pending.len() >= MAX_BATCH
            || (!pending.is_empty() && (!open || oldest.elapsed() >= MAX_WAIT));
        if !due {
            continue;
        }
        let batch = std::mem::take(&mut pending);
        let (mut embedded, mut reused, mut unchanged, mut skipped) = (0u64, 0u64, 0u64, 0u64);
        for o in &batch {
            match o {
                Outcome::Indexed {
                    embedding: Some(_), ..
                } => embedded += 1,
                Outcome::Indexed {
                    embedding: None, ..
                } => reused += 1,
                Outcome::Unchanged { .. } => unchanged += 1,
                Outcome::Skipped { .. } | Outcome::StillSkipped { .. } => skipped += 1,
            }
        }
        let effect = store.write_batch(crawl_id, model_id, batch)?;
        for (id, vector) in &effect.added {
            index.add(*id, vector)?;
        }
        progress.embedded.fetch_add(embedded, Ordering::Relaxed);
        progress.reused.fetch_add(reused, Ordering::Relaxed);
        progress.unchanged.fetch_add(unchanged, Ordering::Relaxed);
        progress.skipped.fetch_add(skipped, Ordering::Relaxed);
        if last_save.elapsed() >= SAVE_EVERY {
            index.save()?;
            last_save = Instant::now();
        }
    }
    Ok(walked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_crawl_keeps_its_time() {
        let progress = Progress::default();
        progress.reset();
        assert!(progress.snapshot().running);
        std::thread::sleep(std::time::Duration::from_millis(20));
        progress.finish();
        let first = progress.snapshot();
        assert!(!first.running);
        assert!(first.elapsed_s >= 0.02, "{first:?}");
        std::thread::sleep(std::time::Duration::from_millis(30));
        assert_eq!(progress.snapshot().elapsed_s, first.elapsed_s);
        progress.reset();
        assert!(progress.snapshot().elapsed_s < first.elapsed_s);
    }
}
