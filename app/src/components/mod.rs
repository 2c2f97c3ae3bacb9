//! Reusable pieces of page chrome.

pub mod header;
pub mod results;
pub mod theme;
