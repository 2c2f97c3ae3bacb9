//! The tag pass: after embedding, give every embedded image the model's tags (`crate::tags`),
//! 256 images per transaction. It reads the stored embeddings, so it costs one dot product per
//! tag and picture, and never decodes a file. Resumable like the text pass: what is recorded
//! under the current tagger is never tagged again; a new tagger (other weights, vocabulary or
//! thresholds) tags everything again.

use std::sync::atomic::Ordering;

use super::{CrawlError, Stage};
use crate::catalog::{Catalog, TagRecord};
use crate::tags::{prepare, Prepared, TagError};

/// Images tagged per transaction.
const BATCH: usize = 256;

/// Tags what the current tagger has not tagged; returns how many images it tagged (none when
/// the library is too small to calibrate on, or the vocabulary could not be embedded: logged).
pub(super) fn run(stage: &Stage<'_>, catalog: &mut Catalog) -> Result<u64, CrawlError> {
    let parts = stage.parts;
    let pass = &stage.progress.tags;
    pass.start(0);
    let prepared = prepare(
        catalog,
        parts.model_id,
        parts.label,
        parts.embedder,
        &|done, total| pass.preparing(done as u64, total as u64),
    );
    pass.prepared();
    let tagger = match prepared {
        Ok(Prepared::Ready(tagger)) => tagger,
        Ok(Prepared::Waiting(why)) => {
            pass.running.store(false, Ordering::Relaxed);
            tracing::info!("no tags yet: {why}");
            return Ok(0);
        }
        Err(TagError::Catalog(e)) => return Err(e.into()),
        Err(e) => {
            pass.running.store(false, Ordering::Relaxed);
            let why = crate::error_chain(&e);
            tracing::warn!(error = %why, "tags are not given");
            return Ok(0);
        }
    };
    let counts = catalog.tag_counts(parts.model_id, &tagger.id)?;
    pass.start(counts.images.saturating_sub(counts.read));
    let mut after = 0;
    let mut tagged = 0;
    loop {
        if stage.stopped() {
            break;
        }
        let batch = catalog.untagged(parts.model_id, &tagger.id, after, BATCH)?;
        let Some(&(last, _)) = batch.last() else {
            break;
        };
        after = last;
        let records: Vec<TagRecord> = batch
            .iter()
            .map(|(image_id, vector)| TagRecord {
                image_id: *image_id,
                tags: tagger
                    .set
                    .tag(vector)
                    .into_iter()
                    .map(|g| (tagger.set.names[g.tag].clone(), g.score))
                    .collect(),
            })
            .collect();
        catalog.record_tags(&tagger.id, &records)?;
        for r in &records {
            pass.one(!r.tags.is_empty());
        }
        tagged += records.len() as u64;
    }
    pass.running.store(false, Ordering::Relaxed);
    Ok(tagged)
}
