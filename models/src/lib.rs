//! CLIP and SigLIP, ported to [burn](https://burn.dev), for Trove's image and text embeddings.
//!
//! - [`Embedder::load`] reads a Hugging Face model folder (`config.json`, `model.safetensors`
//!   in fp32, fp16 or bf16, `tokenizer.json`, `preprocessor_config.json`) and runs it on the
//!   device chosen by [`Compute::select`]: burn-wgpu where a GPU is usable, else the CPU.
//! - [`clip`] and [`siglip`] are faithful ports of `transformers`' `CLIPModel` and
//!   `SiglipModel`; [`transformer`] holds the encoder they share.
//! - [`preprocess`] reproduces the image processors, [`tokenizer`] the text side.
//! - [`ocr`] reads the words in pictures: PaddleOCR's PP-OCRv4 detector and recogniser,
//!   loaded from their ONNX files.
//!
//! ```no_run
//! use trove_models::{Compute, DevicePreference, Embedder};
//! # fn main() -> trove_models::Result<()> {
//! let compute = Compute::select(DevicePreference::Auto)?;
//! let model = Embedder::load("models/openai--clip-vit-base-patch32".as_ref(), &compute)?;
//! let query = model.embed_query("a dog on a beach")?;
//! assert_eq!(query.len(), model.dim());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod clip;
pub mod config;
pub mod cpu;
pub mod demo;
pub mod device;
pub mod embedder;
pub mod error;
pub mod eval;
pub mod fast;
pub mod florence2;
pub mod loader;
pub mod ocr;
pub mod preprocess;
mod protobuf;
pub mod siglip;
pub mod spiece;
pub mod synth;
pub mod tags;
pub mod tokenizer;
pub mod transformer;

pub use config::{Family, ModelConfig};
pub use device::{Compute, ComputeKind, DevicePreference, PrecisionPreference};
pub use embedder::{missing_files, Embedder, MODEL_FILES, SENTENCEPIECE_FILE};
pub use error::{Error, Result};
pub use preprocess::{Pixels, Preprocessor};
