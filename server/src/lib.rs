//! The native half of Trove: command line, settings, and the axum server that renders the
//! Leptos app and answers its server functions.

pub mod access;
pub mod cli;
pub mod crawler;
pub mod decode;
pub mod gate;
pub mod index_cmd;
pub mod ingest;
pub mod library;
pub mod logging;
pub mod model_cmd;
pub mod model_store;
pub mod search;
pub mod search_cmd;
pub mod services;
pub mod settings;
pub mod status_cmd;
pub mod store;
pub mod synth_cmd;
pub mod thumbs;
#[cfg(feature = "turbojpeg")]
pub mod turbo;
pub mod vectors;
pub mod web;

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
