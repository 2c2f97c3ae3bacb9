//! Integration tests of the engine on real parts: a real SQLite catalog, a real usearch index,
//! the built-in demo model on the CPU, real image files. One test binary; one module per topic.

mod apple_photos;
mod describe;
mod layers;
mod lightroom;
mod lrcat;
mod same_vector;
mod thumbnails;
mod util;
mod words;
