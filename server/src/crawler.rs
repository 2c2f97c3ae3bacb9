//! The server's crawl controller: at most one crawl at a time, on a thread of its own (never on
//! the async runtime), with live progress for the status API and a stop switch.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::decode::DecodeLimits;
use crate::ingest::{CrawlSummary, Progress, ProgressSnapshot};
use crate::library::Library;

/// How the last crawl ended, for the status API.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum LastCrawl {
    /// It finished or was stopped.
    Finished(CrawlSummary),
    /// It failed.
    Failed {
        /// The error, in words.
        error: String,
    },
}

/// Why a crawl was not started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// One is already running.
    #[error("a crawl is already running")]
    Running,
    /// No library roots to crawl.
    #[error("no library folders to crawl")]
    NoRoots,
    /// The thread could not start.
    #[error("cannot start the crawl thread: {0}")]
    Thread(String),
}

/// Runs crawls one at a time.
#[derive(Debug, Default)]
pub struct Crawler {
    progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
    busy: Arc<AtomicBool>,
    last: Arc<Mutex<Option<LastCrawl>>>,
}

impl Crawler {
    /// Starts crawling `roots` in the background.
    pub fn start(
        &self,
        library: Arc<Library>,
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
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    library.crawl(&roots, limits, &progress, &stop)
                }));
                let record = match result {
                    Err(_) => {
                        tracing::error!("the crawl thread panicked");
                        LastCrawl::Failed {
                            error:
                                "the crawl stopped on an internal error (a bug): see the server log"
                                    .into(),
                        }
                    }
                    Ok(result) => match result {
                        Ok(summary) => {
                            tracing::info!(
                                embedded = summary.progress.embedded,
                                skipped = summary.progress.skipped,
                                state = %summary.state,
                                "crawl finished"
                            );
                            LastCrawl::Finished(summary)
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "crawl failed");
                            LastCrawl::Failed {
                                error: crate::error_chain(&e),
                            }
                        }
                    },
                };
                *last
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(record);
                busy.store(false, Ordering::SeqCst);
            })
            .map(|_| ())
            .map_err(|e| {
                self.busy.store(false, Ordering::SeqCst);
                StartError::Thread(e.to_string())
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
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}
