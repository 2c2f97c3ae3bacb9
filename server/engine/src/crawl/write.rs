//! The writer: gathers outcomes and commits them in batches (up to 256, or whatever arrived in
//! half a second), one SQLite transaction each, then adds the new vectors to the index (saved
//! every five minutes during a crawl and at its end). Returns the roots walked completely.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::progress::Busy;
use super::{CrawlError, Stage, ToWriter};
use crate::catalog::{Catalog, Outcome};

const MAX_BATCH: usize = 256;
const MAX_WAIT: Duration = Duration::from_millis(500);
const SAVE_EVERY: Duration = Duration::from_secs(300);

pub(super) fn run(
    stage: &Stage<'_>,
    catalog: &mut Catalog,
    crawl_id: i64,
    rx: Receiver<ToWriter>,
) -> Result<Vec<i64>, CrawlError> {
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
        if due {
            let started = Instant::now();
            commit(stage, catalog, crawl_id, std::mem::take(&mut pending))?;
            Busy::add(&stage.progress.busy.write_ns, started);
        }
        if last_save.elapsed() >= SAVE_EVERY {
            stage.parts.index.save()?;
            last_save = Instant::now();
        }
    }
    Ok(walked)
}

/// Commits one batch, adds its vectors to the index and counts it.
fn commit(
    stage: &Stage<'_>,
    catalog: &mut Catalog,
    crawl_id: i64,
    batch: Vec<Outcome>,
) -> Result<(), CrawlError> {
    let (mut embedded, mut reused, mut unchanged, mut skipped) = (0u64, 0u64, 0u64, 0u64);
    for o in &batch {
        match o {
            Outcome::Indexed {
                embedding: Some(_), ..
            } => embedded += 1,
            Outcome::Indexed {
                embedding: None, ..
            } => reused += 1,
            Outcome::Unchanged { .. } | Outcome::Described { .. } => unchanged += 1,
            // Comes beside its file's own outcome.
            Outcome::Sidecar { .. } => {}
            Outcome::Skipped { .. } | Outcome::StillSkipped { .. } => skipped += 1,
        }
    }
    let effect = catalog.write_batch(crawl_id, stage.parts.model_id, batch)?;
    for (id, vector) in &effect.added {
        stage.parts.index.add(*id, vector)?;
    }
    let p = stage.progress;
    p.embedded.fetch_add(embedded, Ordering::Relaxed);
    p.reused.fetch_add(reused, Ordering::Relaxed);
    p.unchanged.fetch_add(unchanged, Ordering::Relaxed);
    p.skipped.fetch_add(skipped, Ordering::Relaxed);
    Ok(())
}
