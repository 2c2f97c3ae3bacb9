//! Integration tests of the real `trove` binary. One test binary; one module per topic.

mod cli;
mod model;
mod serve;
mod util;
