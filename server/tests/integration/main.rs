//! Integration tests of the real `trove` binary. One test binary; one module per topic.

mod admin;
mod caption;
mod cli;
mod crawl;
mod describe;
mod formats;
mod library;
mod lightroom;
mod model;
mod photos;
mod search;
mod security;
mod serve;
mod token;
mod util;
