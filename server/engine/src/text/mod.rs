//! The text reader: PaddleOCR's PP-OCRv4 detector and recogniser (Apache-2.0, run by
//! `trove-models`' burn port), installed in the model store as `paddleocr/pp-ocrv4`, pinned by
//! the files' BLAKE3 hashes. A reader's id names its weights, so words read by other weights
//! are read again.

mod pull;

use std::path::{Path, PathBuf};

pub use pull::{pull, DEFAULT_INDEX, PACKAGE, VERSION};
use trove_models::ocr::{OcrModels, ReadOptions, Reading, DETECTOR_FILE, RECOGNIZER_FILE};
use trove_models::Compute;

use crate::fsutil::{write_atomic, WriteOptions};
use crate::model_store::ModelStore;

pub use crate::model_store::OCR_MODEL;

/// The files of [`OCR_MODEL`] and their BLAKE3 hashes (the PaddleOCR release as RapidOCR 1.4.4
/// ships it on PyPI, `rapidocr_onnxruntime/models/`).
pub const OCR_FILES: [(&str, &str); 2] = [
    (
        DETECTOR_FILE,
        "2b44a5100814b982d5f33c920d573dba91150069cf1525bc60f2e4b3f220ba3f",
    ),
    (
        RECOGNIZER_FILE,
        "6e47235f66df743e113807a035a1d3e5118d03d344226f5f15e4af3cda512424",
    ),
];

/// Installed files are flushed to disk before they take their names.
const DURABLE: WriteOptions = WriteOptions {
    private: false,
    durable: true,
};

/// The licence notice kept beside the weights.
const NOTICE: &str = "PP-OCRv4 mobile text detection and recognition models\n\
Copyright (c) PaddlePaddle Authors (PaddleOCR, https://github.com/PaddlePaddle/PaddleOCR),\n\
converted to ONNX by RapidAI (RapidOCR, https://github.com/RapidAI/RapidOCR).\n\
Licensed under the Apache License, Version 2.0: https://www.apache.org/licenses/LICENSE-2.0\n";

/// Why the reader is not available.
#[derive(Debug, thiserror::Error)]
pub enum TextReaderError {
    /// The weights are not installed.
    #[error("the text reader ({OCR_MODEL}) is not installed in {dir}: run `trove model pull {OCR_MODEL}`, or, offline, `trove model install-ocr FOLDER`, where FOLDER holds {DETECTOR_FILE} and {RECOGNIZER_FILE} (they are inside the rapidocr-onnxruntime 1.4.4 package on PyPI, under rapidocr_onnxruntime/models)")]
    NotInstalled {
        /// Where they were looked for.
        dir: PathBuf,
    },
    /// A file is not the pinned one.
    #[error(
        "{path} is not the {OCR_MODEL} file Trove knows (BLAKE3 {found}, expected {expected})"
    )]
    WrongFile {
        /// The file.
        path: PathBuf,
        /// Its hash.
        found: String,
        /// The pinned hash.
        expected: &'static str,
    },
    /// A file could not be read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The weights did not load.
    #[error("cannot load the text reader")]
    Load(#[source] trove_models::Error),
    /// A download failed.
    #[error("cannot download {url}: {message}. Where this machine cannot reach PyPI, download rapidocr-onnxruntime 1.4.4 elsewhere and run `trove model install-ocr` on its rapidocr_onnxruntime/models folder")]
    Download {
        /// What was asked for.
        url: String,
        /// Why it failed.
        message: String,
    },
    /// What was downloaded is not what was expected.
    #[error("{url}: {what}")]
    Package {
        /// What was downloaded.
        url: String,
        /// What is wrong with it.
        what: String,
    },
}

/// A loaded text reader.
pub struct TextReader {
    /// `paddleocr/pp-ocrv4@<first 16 hex digits of the detector's and recogniser's hashes>`.
    pub id: String,
    models: OcrModels,
    options: ReadOptions,
}

impl std::fmt::Debug for TextReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextReader")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn blake3_of(path: &Path) -> Result<String, TextReaderError> {
    let io = |source| TextReaderError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(&mut file).map_err(io)?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// Checks that `dir` holds the pinned files.
fn verify(dir: &Path) -> Result<(), TextReaderError> {
    for (name, expected) in OCR_FILES {
        let path = dir.join(name);
        if !path.is_file() {
            return Err(TextReaderError::NotInstalled {
                dir: dir.to_path_buf(),
            });
        }
        let found = blake3_of(&path)?;
        if found != expected {
            return Err(TextReaderError::WrongFile {
                path,
                found,
                expected,
            });
        }
    }
    Ok(())
}

impl TextReader {
    /// The store's folder for the reader.
    pub fn dir(data_dir: &Path) -> PathBuf {
        ModelStore::new(data_dir)
            .dir_for(OCR_MODEL)
            .unwrap_or_else(|_| data_dir.join("models"))
    }

    /// Loads the installed reader of `data_dir` onto the CPU (the detector's many small
    /// convolutions gain little from a GPU, and the CPU leaves the GPU to the embedder).
    pub fn load(data_dir: &Path) -> Result<Self, TextReaderError> {
        let dir = Self::dir(data_dir);
        verify(&dir)?;
        let compute = Compute::cpu();
        let models = OcrModels::load(&dir, &compute.device).map_err(TextReaderError::Load)?;
        let id = format!(
            "{OCR_MODEL}@{}{}",
            &OCR_FILES[0].1[..8],
            &OCR_FILES[1].1[..8]
        );
        Ok(TextReader {
            id,
            models,
            options: ReadOptions::default(),
        })
    }

    /// Copies the two files from `from` (a folder) into the store, after checking their hashes;
    /// writes the licence notice beside them. Returns the folder.
    pub fn install(data_dir: &Path, from: &Path) -> Result<PathBuf, TextReaderError> {
        verify(from)?;
        let dir = Self::dir(data_dir);
        std::fs::create_dir_all(&dir).map_err(|source| TextReaderError::Io {
            path: dir.clone(),
            source,
        })?;
        for (name, _) in OCR_FILES {
            let bytes = std::fs::read(from.join(name)).map_err(|source| TextReaderError::Io {
                path: from.join(name),
                source,
            })?;
            write_atomic(&dir.join(name), &bytes, DURABLE).map_err(|source| {
                TextReaderError::Io {
                    path: dir.join(name),
                    source,
                }
            })?;
        }
        write_atomic(&dir.join("NOTICE"), NOTICE.as_bytes(), DURABLE).map_err(|source| {
            TextReaderError::Io {
                path: dir.join("NOTICE"),
                source,
            }
        })?;
        verify(&dir)?;
        Ok(dir)
    }

    /// Reads the words in an RGB8 picture.
    pub fn read(&self, rgb: &[u8], width: usize, height: usize) -> trove_models::Result<Reading> {
        self.models.read(rgb, width, height, &self.options)
    }
}
