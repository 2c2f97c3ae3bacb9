//! Parity of the burn port with PyTorch + transformers, on the references that
//! `models/scripts/make_fixtures.py` wrote. One test binary; one module per topic.

mod errors;
mod florence2;
mod models;
mod ocr;
mod preprocess;
mod tokenizer;
mod util;
