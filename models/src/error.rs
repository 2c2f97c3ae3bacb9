//! The crate's one error type. Every variant carries the file or tensor it is about.

use std::path::PathBuf;

/// What can go wrong loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A model folder lacks a file Trove needs.
    #[error("{dir} has no {file}: a model folder needs config.json, model.safetensors, tokenizer.json (or, for SigLIP v1, spiece.model) and preprocessor_config.json (as in a Hugging Face model repository)")]
    MissingFile {
        /// The model folder.
        dir: PathBuf,
        /// The missing file's name.
        file: &'static str,
    },
    /// `config.json` or `preprocessor_config.json` is invalid.
    #[error("invalid {path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The checkpoint lacks a tensor the model needs.
    #[error("{path} has no tensor {tensor} (expected shape {expected:?})")]
    MissingTensor {
        /// The checkpoint.
        path: PathBuf,
        /// Hugging Face name of the tensor.
        tensor: String,
        /// The shape the model expects.
        expected: Vec<usize>,
    },
    /// A checkpoint tensor has the wrong shape for the configuration.
    #[error("tensor {tensor} in {path} has shape {found:?}, but config.json implies {expected:?}")]
    TensorShape {
        /// The checkpoint.
        path: PathBuf,
        /// Hugging Face name of the tensor.
        tensor: String,
        /// The shape the model expects.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// The checkpoint could not be read or applied.
    #[error("cannot load weights from {path}: {reason}")]
    Weights {
        /// The checkpoint.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The tokenizer could not be loaded or failed on an input.
    #[error("tokenizer {path}: {reason}")]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// An image or batch that does not fit the model.
    #[error("invalid input: {0}")]
    Input(String),
    /// The GPU was asked for and none is usable.
    #[error("no usable GPU: {0}")]
    NoGpu(String),
    /// A tensor could not be read back from the device.
    #[error("reading a result from the device failed: {0}")]
    Device(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Reads and parses a JSON config file; errors name the file.
pub(crate) fn read_config<T>(
    path: &std::path::Path,
    parse: impl FnOnce(&str) -> std::result::Result<T, String>,
) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text).map_err(|reason| Error::Config {
        path: path.to_path_buf(),
        reason,
    })
}
