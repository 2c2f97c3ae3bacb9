//! The caption pass: the last pass after embedding, when a captioner is on. Every image the
//! captioner has not captioned (never, or by other weights) gets a one-sentence caption
//! (Florence-2's `<CAPTION>` task), recorded eight images per transaction; the schema's
//! triggers put it into the keyword index. Decoding runs on a thread of its own, one image
//! ahead. Resumable like the text pass: what is recorded is never captioned again, a killed
//! crawl loses at most the batch in flight, and an unreadable image is recorded with an empty
//! caption (its content is fixed by its hash).

use crossbeam_channel::bounded;

use super::ahead::{decode_ahead, Decoded};
use super::{CrawlError, Stage};
use crate::catalog::Catalog;
use crate::describe::Describer;

/// Images recorded per transaction.
const BATCH: usize = 8;
/// Decoding keeps the picture's short side at least this (Florence-2 looks at 768 × 768).
const DECODE_SIDE: u32 = 1024;

/// Captions what `describer` has not captioned; returns how many images it captioned.
pub(super) fn run(
    stage: &Stage<'_>,
    catalog: &mut Catalog,
    describer: &Describer,
) -> Result<u64, CrawlError> {
    let counts = catalog.caption_counts(&describer.id)?;
    let pass = &stage.progress.captions;
    pass.start(counts.images.saturating_sub(counts.read));
    let (tx, rx) = bounded::<Decoded>(1);
    let captioned = std::thread::scope(|s| -> Result<u64, CrawlError> {
        let waiting = |c: &Catalog, after, n| c.uncaptioned_images(&describer.id, after, n);
        let decoder = std::thread::Builder::new()
            .name("trove-caption-decode".into())
            .spawn_scoped(s, move || {
                decode_ahead(stage, DECODE_SIDE, BATCH, waiting, &tx)
            })
            .map_err(CrawlError::Thread)?;
        let mut batch: Vec<(i64, String)> = Vec::with_capacity(BATCH);
        let mut captioned = 0;
        for item in rx {
            if stage.stopped() {
                break;
            }
            if item.changed {
                continue;
            }
            let caption = item.pixels.map_or_else(String::new, |(rgb, w, h)| {
                describer.captioner.caption(&rgb, w, h).unwrap_or_else(|e| {
                    tracing::warn!(image = item.image_id, error = %e, "captioning failed");
                    String::new()
                })
            });
            pass.one(!caption.is_empty());
            captioned += 1;
            batch.push((item.image_id, caption));
            if batch.len() >= BATCH {
                catalog.record_captions(&describer.id, &batch)?;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            catalog.record_captions(&describer.id, &batch)?;
        }
        decoder
            .join()
            .map_err(|_| CrawlError::Panicked("caption decode"))??;
        Ok(captioned)
    })?;
    pass.running
        .store(false, std::sync::atomic::Ordering::Relaxed);
    Ok(captioned)
}
