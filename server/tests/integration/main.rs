//! Integration tests of the real `trove` binary. One test binary; one module per topic.

mod cli;
mod crawl;
mod model;
mod search;
mod serve;
mod util;
