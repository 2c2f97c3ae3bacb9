//! Reusable pieces of page chrome.

pub mod drop;
pub mod header;
pub mod libraries;
pub mod lightbox;
pub mod models;
pub mod results;
pub mod status;
pub mod theme;
