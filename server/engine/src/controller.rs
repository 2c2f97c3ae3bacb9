//! The crawl controller: at most one crawl at a time, on a thread of its own (never on the async
//! runtime), with live progress for the status, a stop switch, and how the last one ended.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::crawl::{CrawlError, CrawlSummary, Progress, ProgressSnapshot};
use crate::engine::Engine;
use crate::media::DecodeLimits;

/// How the last crawl ended.
#[derive(Debug, Clone)]
pub enum LastCrawl {
    /// It finished or was stopped.
    Finished(Box<CrawlSummary>),
    /// It failed.
    Failed(Arc<CrawlError>),
}

/// Why a crawl was not started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// One is already running.
    #[error("a crawl is already running")]
    Running,
    /// No library roots to crawl.
    #[error("no library folders to crawl")]
    NoRoots,
    /// The thread could not start.
    #[error("cannot start the crawl thread")]
    Thread(#[source] std::io::Error),
}

/// Runs crawls one at a time.
#[derive(Debug, Default)]
pub struct CrawlController {
    progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
    busy: Arc<AtomicBool>,
    last: Arc<Mutex<Option<LastCrawl>>>,
}

impl CrawlController {
    /// Starts crawling `roots` with `engine` in the background.
    pub fn start(
        &self,
        engine: Arc<Engine>,
        roots: Vec<PathBuf>,
        limits: DecodeLimits,
    ) -> Result<(), StartError> {
        if roots.is_empty() {
            return Err(StartError::NoRoots);
        }
        if self.busy.swap(true, Ordering::SeqCst) {
            return Err(StartError::Running);
        }
        self.stop.store(false, Ordering::SeqCst);
        // At once, so nobody reads the last crawl's figures as this one's.
        self.progress.reset();
        let (progress, stop, busy, last) = (
            self.progress.clone(),
            self.stop.clone(),
            self.busy.clone(),
            self.last.clone(),
        );
        std::thread::Builder::new()
            .name("trove-crawl".into())
            .spawn(move || {
                let record = run(&engine, &roots, limits, &progress, &stop);
                *last.lock().unwrap_or_else(PoisonError::into_inner) = Some(record);
                busy.store(false, Ordering::SeqCst);
            })
            .map(|_| ())
            .map_err(|e| {
                self.busy.store(false, Ordering::SeqCst);
                StartError::Thread(e)
            })
    }

    /// Asks the running crawl (if any) to stop after its current batch.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether a crawl is running.
    pub fn is_running(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }

    /// Live counters (of the running crawl, or the last one).
    pub fn progress(&self) -> ProgressSnapshot {
        self.progress.snapshot()
    }

    /// How the last crawl ended.
    pub fn last(&self) -> Option<LastCrawl> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// One crawl to its end, logged; a panic is caught and reported as a failure.
fn run(
    engine: &Engine,
    roots: &[PathBuf],
    limits: DecodeLimits,
    progress: &Progress,
    stop: &AtomicBool,
) -> LastCrawl {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        engine.crawl(roots, limits, progress, stop)
    }));
    match result {
        Err(_) => {
            tracing::error!("the crawl thread panicked");
            LastCrawl::Failed(Arc::new(CrawlError::Panicked("crawl")))
        }
        Ok(Ok(summary)) => {
            tracing::info!(
                embedded = summary.progress.embedded,
                skipped = summary.progress.skipped,
                state = %summary.state,
                "crawl finished"
            );
            LastCrawl::Finished(Box::new(summary))
        }
        Ok(Err(e)) => {
            tracing::error!(error = %crate::error_chain(&e), "crawl failed");
            LastCrawl::Failed(Arc::new(e))
        }
    }
}
