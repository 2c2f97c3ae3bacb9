//! The command layer: what a person reads. Each command opens what it needs from the engine,
//! runs, and prints text, or with `--json` the same wire type the HTTP API answers with.

pub mod admin;
pub mod caption;
pub mod import;
pub mod index;
pub mod lightroom;
pub mod model;
pub mod search;
pub mod status;
pub mod synth;
