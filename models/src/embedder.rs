//! A loaded model folder: the model on its device, its tokenizer and its preprocessing.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use burn::tensor::{Int, Tensor, TensorData};
use lru::LruCache;

use crate::clip::ClipModel;
use crate::config::ModelConfig;
use crate::device::Compute;
use crate::error::{Error, Result};
use crate::loader::{load_safetensors, LoadReport};
use crate::preprocess::{Pixels, Preprocessor};
use crate::siglip::SiglipModel;
use crate::tokenizer::{TextPooling, TextTokenizer};
use crate::transformer::l2_normalize;

/// The files of a Hugging Face model folder that Trove reads.
pub const MODEL_FILES: [&str; 4] = [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "preprocessor_config.json",
];

/// SigLIP v1's tokenizer, which its repositories ship instead of `tokenizer.json`.
pub const SENTENCEPIECE_FILE: &str = "spiece.model";

/// The files [`MODEL_FILES`] lists that `dir` lacks (a `spiece.model` stands in for
/// `tokenizer.json`).
pub fn missing_files(dir: &Path) -> Vec<&'static str> {
    MODEL_FILES
        .into_iter()
        .filter(|f| {
            let stands_in = *f == "tokenizer.json" && dir.join(SENTENCEPIECE_FILE).is_file();
            !(dir.join(f).is_file() || stands_in)
        })
        .collect()
}

/// How many recent text queries keep their embedding.
const QUERY_CACHE: usize = 256;

enum Towers {
    Clip(Box<ClipModel>),
    Siglip(Box<SiglipModel>),
}

/// An image–text embedding model ready to run. Embeddings are L2-normalised `Vec<f32>`s.
pub struct Embedder {
    towers: Towers,
    config: ModelConfig,
    tokenizer: TextTokenizer,
    preprocessor: Preprocessor,
    compute: Compute,
    dir: PathBuf,
    report: LoadReport,
    queries: Mutex<LruCache<String, Arc<[f32]>>>,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("dir", &self.dir)
            .field("compute", &self.compute.describe())
            .finish_non_exhaustive()
    }
}

impl Embedder {
    /// Loads a model folder (`config.json`, `model.safetensors`, `tokenizer.json`,
    /// `preprocessor_config.json`) onto `compute`'s device.
    pub fn load(dir: &Path, compute: &Compute) -> Result<Self> {
        if let Some(&file) = missing_files(dir).first() {
            return Err(Error::MissingFile {
                dir: dir.to_path_buf(),
                file,
            });
        }
        let config = ModelConfig::from_file(&dir.join("config.json"))?;
        let preprocessor = Preprocessor::from_file(&dir.join("preprocessor_config.json"))?;
        let weights = dir.join("model.safetensors");
        let device = &compute.device;
        let (towers, tokenizer, report) = match &config {
            ModelConfig::Clip(cfg) => {
                let path = dir.join("tokenizer.json");
                if !path.is_file() {
                    return Err(Error::MissingFile {
                        dir: dir.to_path_buf(),
                        file: "tokenizer.json",
                    });
                }
                let mut model = ClipModel::new(cfg, device);
                let report = load_safetensors(&mut model, &weights, compute.dtype)?;
                model.prepare_cpu(compute.bf16);
                // Probe with the real end-of-text id; the original OpenAI configs say 2.
                let probe = TextTokenizer::from_file(
                    &path,
                    cfg.text_config.max_position_embeddings,
                    TextPooling::EndOfText { eos_id: 0 },
                )?;
                let eos_id = match cfg.text_config.eos_token_id {
                    2 => probe.token_id("<|endoftext|>").ok_or_else(|| Error::Tokenizer {
                        path: path.clone(),
                        reason: "config.json gives the legacy eos_token_id 2 and the vocabulary has no <|endoftext|>".into(),
                    })?,
                    id => id,
                };
                let tokenizer = TextTokenizer::from_file(
                    &path,
                    cfg.text_config.max_position_embeddings,
                    TextPooling::EndOfText { eos_id },
                )?;
                (Towers::Clip(Box::new(model)), tokenizer, report)
            }
            ModelConfig::Siglip(cfg) => {
                if !cfg.vision_config.vision_use_head {
                    return Err(Error::Config {
                        path: dir.join("config.json"),
                        reason: "vision_use_head = false: SigLIP without its pooling head has no image embedding".into(),
                    });
                }
                let mut model = SiglipModel::new(cfg, device);
                let report = load_safetensors(&mut model, &weights, compute.dtype)?;
                model.prepare_cpu(compute.bf16);
                let (context, pooling) = (
                    cfg.text_config.max_position_embeddings,
                    TextPooling::LastToken {
                        pad_id: cfg.text_config.pad_token_id,
                    },
                );
                let json = dir.join("tokenizer.json");
                let tokenizer = if json.is_file() {
                    TextTokenizer::from_file(&json, context, pooling)?
                } else {
                    TextTokenizer::from_sentencepiece(
                        &dir.join(SENTENCEPIECE_FILE),
                        context,
                        pooling,
                    )?
                };
                (Towers::Siglip(Box::new(model)), tokenizer, report)
            }
        };
        tracing::info!(
            model = %dir.display(),
            tensors = report.applied.len(),
            device = %compute.describe(),
            "model loaded"
        );
        Ok(Embedder {
            towers,
            config,
            tokenizer,
            preprocessor,
            compute: compute.clone(),
            dir: dir.to_path_buf(),
            report,
            queries: Mutex::new(LruCache::new(
                NonZeroUsize::new(QUERY_CACHE).expect("invariant: non-zero cache size"),
            )),
        })
    }

    /// The model's configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Width of the embeddings.
    pub fn dim(&self) -> usize {
        self.config.embed_dim()
    }

    /// The image preprocessing recipe.
    pub fn preprocessor(&self) -> &Preprocessor {
        &self.preprocessor
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Where the model runs.
    pub fn compute(&self) -> &Compute {
        &self.compute
    }

    /// What the weight loader applied and left out.
    pub fn load_report(&self) -> &LoadReport {
        &self.report
    }

    /// Embeds preprocessed images (all of the model's input size).
    pub fn embed_images(&self, images: &[Pixels]) -> Result<Vec<Vec<f32>>> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let size = self.config.image_size();
        let mut data = Vec::with_capacity(images.len() * 3 * size * size);
        for img in images {
            if (img.height, img.width) != (size, size) || img.data.len() != 3 * size * size {
                return Err(Error::Input(format!(
                    "the model takes {size}x{size} images, got {}x{}",
                    img.width, img.height
                )));
            }
            data.extend_from_slice(&img.data);
        }
        let device = &self.compute.device;
        let pixels = Tensor::<4>::from_data(
            TensorData::new(data, [images.len(), 3, size, size]),
            (device, self.compute.dtype),
        );
        let features = match &self.towers {
            Towers::Clip(m) => m.image_features(pixels),
            Towers::Siglip(m) => m.image_features(pixels),
        };
        self.read_rows(features)
    }

    /// Embeds texts in one batch.
    pub fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let batch = self.tokenizer.encode_batch(texts)?;
        let ids: Vec<i64> = batch.ids.iter().map(|&i| i64::from(i)).collect();
        let ids = Tensor::<2, Int>::from_data(
            TensorData::new(ids, [batch.batch, batch.seq]),
            &self.compute.device,
        );
        let features = match &self.towers {
            Towers::Clip(m) => m.text_features(ids, &batch.pool_positions),
            Towers::Siglip(m) => m.text_features(ids),
        };
        self.read_rows(features)
    }

    /// Embeds one search query, from the cache when it was asked recently.
    pub fn embed_query(&self, text: &str) -> Result<Arc<[f32]>> {
        let cached = self
            .queries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(text)
            .cloned();
        if let Some(hit) = cached {
            return Ok(hit);
        }
        let embedding: Arc<[f32]> = self
            .embed_texts(&[text])?
            .pop()
            .expect("invariant: one text gives one embedding")
            .into();
        self.queries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .put(text.to_owned(), embedding.clone());
        Ok(embedding)
    }

    fn read_rows(&self, features: Tensor<2>) -> Result<Vec<Vec<f32>>> {
        let [rows, dim] = features.dims();
        let flat = l2_normalize(features)
            .try_into_vec_as::<f32>()
            .map_err(|e| Error::Device(format!("{e:?}")))?;
        Ok((0..rows)
            .map(|r| flat[r * dim..(r + 1) * dim].to_vec())
            .collect())
    }
}
