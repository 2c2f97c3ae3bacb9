//! The caption pass: the last pass after embedding, when a captioner is on. Every image the
//! captioner has not captioned (never, or by other weights) gets a one-sentence caption
//! (Florence-2's `<CAPTION>` task), recorded eight images per transaction; the schema's
//! triggers put it into the keyword index. Decoding runs on a thread of its own, one image
//! ahead. Resumable like the text pass: what is recorded is never captioned again, a killed
//! crawl loses at most the batch in flight, and an unreadable image is recorded with an empty
//! caption (its content is fixed by its hash).

use crossbeam_channel::bounded;

use super::{CrawlError, Stage};
use crate::catalog::Catalog;
use crate::describe::Describer;
use crate::images::first_inside_roots;
use crate::media::{decode, DecodeLimits};

/// Images recorded per transaction.
const BATCH: usize = 8;
/// Decoding keeps the picture's short side at least this (Florence-2 looks at 768 × 768).
const DECODE_SIDE: u32 = 1024;

struct Decoded {
    image_id: i64,
    pixels: Option<(Vec<u8>, usize, usize)>,
    changed: bool,
}

/// Captions what `describer` has not captioned; returns how many images it captioned.
pub(super) fn run(
    stage: &Stage<'_>,
    catalog: &mut Catalog,
    describer: &Describer,
) -> Result<u64, CrawlError> {
    let counts = catalog.caption_counts(&describer.id)?;
    let pass = &stage.progress.captions;
    pass.start(counts.images.saturating_sub(counts.read));
    let limits = stage.config.limits;
    let (tx, rx) = bounded::<Decoded>(1);
    let captioned = std::thread::scope(|s| -> Result<u64, CrawlError> {
        let catalog_path = stage.parts.catalog;
        let decoder = std::thread::Builder::new()
            .name("trove-caption-decode".into())
            .spawn_scoped(s, move || {
                decode_uncaptioned(stage, catalog_path, &describer.id, limits, &tx)
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

/// Decodes the uncaptioned images in id order, one ahead of the captioner.
fn decode_uncaptioned(
    stage: &Stage<'_>,
    catalog_path: &std::path::Path,
    captioner: &str,
    limits: DecodeLimits,
    tx: &crossbeam_channel::Sender<Decoded>,
) -> Result<(), CrawlError> {
    let catalog = Catalog::open(catalog_path)?;
    let mut after = 0;
    loop {
        let waiting = catalog.uncaptioned_images(captioner, after, BATCH)?;
        let Some(last) = waiting.last() else {
            return Ok(());
        };
        after = last.image_id;
        for image in waiting {
            if stage.stopped() {
                return Ok(());
            }
            let item = match first_inside_roots(&catalog, &image.files)? {
                None => Decoded {
                    image_id: image.image_id,
                    pixels: None,
                    changed: !image.files.is_empty(),
                },
                Some(original) => Decoded {
                    image_id: image.image_id,
                    pixels: decode(&original.bytes, DECODE_SIDE, limits).ok().map(|d| {
                        let (w, h) = d.rgb.dimensions();
                        (d.rgb.into_raw(), w as usize, h as usize)
                    }),
                    changed: false,
                },
            };
            if tx.send(item).is_err() {
                return Ok(());
            }
        }
    }
}
