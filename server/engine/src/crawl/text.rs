//! The text pass: after embedding, read the words in every image the text reader has not read
//! (never read, or read by other weights), and record them, sixteen images per transaction.
//!
//! It never holds up embedding: search works as soon as a crawl's embedding is done, and the
//! words follow. Decoding runs on a thread of its own, one image ahead of the reader. It is
//! resumable by construction: what is recorded is never read again, and a killed crawl loses at
//! most the batch in flight. An image whose file cannot be opened or decoded is recorded with
//! no words (its content is fixed by its hash, so reading it again would not help); a file
//! that changed since it was indexed is left for the next crawl, which indexes it anew.

use std::sync::atomic::Ordering;

use crossbeam_channel::bounded;
use serde::Serialize;

use super::ahead::{decode_ahead, Decoded};
use super::{CrawlError, Stage};
use crate::catalog::{Catalog, TextRecord};
use crate::text::TextReader;

/// Images recorded per transaction.
const BATCH: usize = 16;
/// Decoding keeps the picture's short side at least this (the reader scales to 2,000 px long).
const DECODE_SIDE: u32 = 1536;

#[derive(Serialize)]
struct LineJson<'a> {
    text: &'a str,
    confidence: f32,
    quad: [[f32; 2]; 4],
}

/// Reads what `reader` has not read; returns how many images it read.
pub(super) fn run(
    stage: &Stage<'_>,
    catalog: &mut Catalog,
    reader: &TextReader,
) -> Result<u64, CrawlError> {
    let counts = catalog.text_counts(&reader.id)?;
    stage
        .progress
        .text_started(counts.images.saturating_sub(counts.read));
    let (tx, rx) = bounded::<Decoded>(2);
    let read = std::thread::scope(|s| -> Result<u64, CrawlError> {
        let unread = |c: &Catalog, after, n| c.unread_images(&reader.id, after, n);
        let decoder = std::thread::Builder::new()
            .name("trove-text-decode".into())
            .spawn_scoped(s, move || {
                decode_ahead(stage, DECODE_SIDE, BATCH, unread, &tx)
            })
            .map_err(CrawlError::Thread)?;
        let mut batch = Vec::with_capacity(BATCH);
        let mut read = 0;
        for item in rx {
            if stage.stopped() {
                break;
            }
            if item.changed {
                continue;
            }
            let record = match item.pixels {
                Some((rgb, w, h)) => match reader.read(&rgb, w, h) {
                    Ok(reading) => {
                        let lines: Vec<LineJson<'_>> = reading
                            .lines
                            .iter()
                            .map(|l| LineJson {
                                text: &l.text,
                                confidence: l.confidence,
                                quad: l.quad,
                            })
                            .collect();
                        TextRecord {
                            image_id: item.image_id,
                            text: reading.text(),
                            lines_json: serde_json::to_string(&lines)
                                .unwrap_or_else(|_| "[]".into()),
                        }
                    }
                    Err(e) => {
                        tracing::warn!(image = item.image_id, error = %e, "reading the words failed");
                        empty(item.image_id)
                    }
                },
                None => empty(item.image_id),
            };
            if !record.text.is_empty() {
                stage.progress.text_found.fetch_add(1, Ordering::Relaxed);
            }
            stage.progress.text_read.fetch_add(1, Ordering::Relaxed);
            read += 1;
            batch.push(record);
            if batch.len() >= BATCH {
                catalog.record_text(&reader.id, &batch)?;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            catalog.record_text(&reader.id, &batch)?;
        }
        decoder
            .join()
            .map_err(|_| CrawlError::Panicked("text decode"))??;
        Ok(read)
    })?;
    stage.progress.reading_text.store(false, Ordering::Relaxed);
    Ok(read)
}

fn empty(image_id: i64) -> TextRecord {
    TextRecord {
        image_id,
        text: String::new(),
        lines_json: "[]".into(),
    }
}
