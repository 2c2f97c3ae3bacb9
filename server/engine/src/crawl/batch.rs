//! The model's thread: the one owner of the device. It gathers prepared images into batches
//! (up to the batch size, waiting at most 50 ms for one to fill) and embeds them; a failing
//! batch is retried image by image, so one bad image never sinks the others.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use trove_models::Pixels;

use super::progress::Busy;
use super::{Ready, Stage, ToWriter};
use crate::catalog::{FileFacts, Outcome};
use crate::media::ImageFacts;

/// How long a batch waits to fill once its first image is there.
const FILL_WAIT: Duration = Duration::from_millis(50);

pub(super) fn run(
    stage: &Stage<'_>,
    batch: usize,
    ready: &Receiver<Ready>,
    out: &Sender<ToWriter>,
) {
    while let Some(items) = next_batch(ready, batch) {
        stage.progress.embedding_started();
        let (pixels, items): (Vec<Pixels>, Vec<(FileFacts, ImageFacts)>) = items
            .into_iter()
            .map(|i| (i.pixels, (i.file, i.image)))
            .unzip();
        let started = Instant::now();
        let results = embed(stage, &pixels);
        Busy::add(&stage.progress.busy.embed_ns, started);
        tracing::debug!(
            images = pixels.len(),
            ms = started.elapsed().as_millis(),
            "batch embedded"
        );
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

/// The next batch: at least one image, then as many more as arrive within [`FILL_WAIT`], up to
/// `batch`. `None` once the decoders are done.
fn next_batch(ready: &Receiver<Ready>, batch: usize) -> Option<Vec<Ready>> {
    let first = ready.recv().ok()?;
    let mut items = vec![first];
    let deadline = Instant::now() + FILL_WAIT;
    while items.len() < batch {
        match ready.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(item) => items.push(item),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    Some(items)
}

/// Each image's embedding, or why the model failed on it.
fn embed(stage: &Stage<'_>, pixels: &[Pixels]) -> Vec<Result<Vec<f32>, String>> {
    let embedder = stage.parts.embedder;
    match embedder.embed_images(pixels) {
        Ok(vectors) => vectors.into_iter().map(Ok).collect(),
        Err(_) => pixels
            .iter()
            .map(|p| {
                embedder
                    .embed_images(std::slice::from_ref(p))
                    .map_err(|e| e.to_string())
                    .and_then(|mut v| v.pop().ok_or_else(|| "no embedding".to_owned()))
            })
            .collect(),
    }
}
