//! The decoders (one thread per core): read each file, hash it, and either hand known content
//! straight to the writer (a move or a copy: no decode, no embedding) or decode it, write its
//! grid thumbnail and prepare it for the model ([`crate::embed::prepare`]).

use std::sync::atomic::Ordering;

use crossbeam_channel::{Receiver, Sender};

use super::progress::Busy;
use super::{io_reason, Job, Ready, Stage, ToWriter};
use crate::catalog::metadata::FileMetadata;
use crate::catalog::{path_bytes, Catalog, FileFacts, Outcome};
use crate::embed::prepare;
use crate::media::ImageFacts;

/// What became of one job.
enum Decoded {
    /// Something for the writer (a skip, or content already embedded).
    Outcome(Outcome),
    /// Pixels for the model.
    Ready(Ready),
}

pub(super) fn run(
    stage: &Stage<'_>,
    jobs: &Receiver<Job>,
    ready: &Sender<Ready>,
    out: &Sender<ToWriter>,
) {
    let catalog = match Catalog::open(stage.parts.catalog) {
        Ok(c) => c,
        Err(e) => {
            // Without this thread its share of files would go unrecorded, and a complete walk
            // would then forget them: stop the whole crawl instead.
            tracing::error!(error = %e, "decoder cannot open the catalog; stopping the crawl");
            stage.stop.store(true, Ordering::Relaxed);
            return;
        }
    };
    for job in jobs {
        if stage.stopped() {
            continue; // drain without work so the walk is never blocked
        }
        let started = std::time::Instant::now();
        let decoded = decode_one(stage, &catalog, job);
        Busy::add(&stage.progress.busy.decode_ns, started);
        let sent = match decoded {
            Decoded::Outcome(o) => out.send(ToWriter::Outcome(Box::new(o))).is_ok(),
            Decoded::Ready(r) => ready.send(r).is_ok(),
        };
        if !sent {
            return;
        }
    }
}

fn decode_one(stage: &Stage<'_>, catalog: &Catalog, job: Job) -> Decoded {
    let mut file = FileFacts {
        root_id: job.root_id,
        path: path_bytes(&job.path),
        size: job.size,
        mtime_ns: job.mtime_ns,
        inode: job.inode,
        metadata: FileMetadata::default(),
    };
    let skipped = |file: FileFacts, reason: String| {
        Decoded::Outcome(Outcome::Skipped {
            root_id: file.root_id,
            path: file.path,
            size: Some(file.size),
            mtime_ns: Some(file.mtime_ns),
            reason,
        })
    };
    let bytes = match std::fs::read(&job.path) {
        Ok(b) => b,
        Err(e) => return skipped(file, io_reason("read the file", &e)),
    };
    file.metadata = super::sidecar::metadata(&job.path, &bytes);
    if let Some(file_id) = job.describe {
        return Decoded::Outcome(Outcome::Described {
            file_id,
            path: file.path,
            metadata: file.metadata,
        });
    }
    let hash: [u8; 32] = *blake3::hash(&bytes).as_bytes();
    match catalog.image_by_hash(&hash, stage.parts.model_id) {
        Ok(Some((_, true))) => {
            let image = ImageFacts {
                hash,
                ..ImageFacts::default()
            };
            return Decoded::Outcome(Outcome::Indexed {
                file,
                image,
                embedding: None,
            });
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "content lookup failed; decoding anyway"),
    }
    let prepared = match prepare(&bytes, stage.parts.embedder, stage.config.limits) {
        Ok(p) => p,
        Err(e) => return skipped(file, crate::error_chain(&e)),
    };
    drop(bytes);
    if let Err(e) = stage.parts.thumbs.write(&hash, &prepared.rgb) {
        tracing::warn!(error = %e, "thumbnail not written");
    }
    Decoded::Ready(Ready {
        file,
        image: ImageFacts {
            hash,
            ..prepared.facts
        },
        pixels: prepared.pixels,
    })
}
