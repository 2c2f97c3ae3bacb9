//! Trove's engine: everything that finds, reads, remembers and searches pictures, with no web
//! server and no command line. The `trove` binary (`server/`) puts a command line, settings and
//! an HTTP server around it; this crate depends on none of axum, Leptos or clap, so the compiler
//! keeps that layering.
//!
//! - [`catalog`]: the SQLite catalog, the one source of truth (roots, files, images,
//!   embeddings per model, skipped files, crawls).
//! - [`media`]: bytes to pixels (JPEG DCT-scaled through libjpeg-turbo, PNG, WebP, GIF, TIFF,
//!   BMP, HEIC), EXIF facts, and the thumbnail cache.
//! - [`vectors`]: the usearch HNSW index, a cache of the catalog's embeddings.
//! - [`embed`]: the one path from image bytes to an embedding, shared by the crawl, uploads and
//!   the command line, so one file always gets one vector.
//! - [`crawl`]: the pipeline that walks library folders into the catalog; [`controller`] runs
//!   one crawl at a time in the background.
//! - [`search`]: the query engine (text, images, uploads, filters, cutoff, pagination).
//! - [`text`]: the text reader that crawls use to read the words in pictures.
//! - [`engine`]: an [`Engine`], a data directory opened with one model.
//! - [`images`]: the files behind an image id (original, thumbnail, preview).
//! - [`lightroom`]: Lightroom Classic catalogs and previews, read-only.
//! - [`model_store`]: installed models and `trove model pull`.
//! - [`limiter`]: the first-come-first-served limit on concurrent queries.

pub mod apple_photos;
pub mod catalog;
pub mod controller;
pub mod crawl;
pub mod describe;
pub mod embed;
pub mod engine;
pub mod fsutil;
pub mod images;
pub mod lightroom;
pub mod limiter;
pub mod media;
pub mod model_store;
pub mod paths;
pub mod search;
pub mod tags;
pub mod text;
pub mod vectors;

pub use engine::{Engine, EngineConfig, EngineError};
pub use paths::DataPaths;

/// An error and its causes on one line, `outer: inner: innermost`, skipping causes their parent
/// already quotes.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}
