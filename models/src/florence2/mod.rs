//! Florence-2 (`Florence2ForConditionalGeneration` in transformers 5.23), ported to burn for
//! local captions: the DaViT vision tower and projector ([`vision`]), BART's encoder-decoder
//! with a key/value cache ([`bart`]), and generation as `generate()` does it, greedy and beam
//! search ([`generate`]).
//!
//! Checkpoints are transformers' native layout (`model_type: florence2`, as the
//! `florence-community/Florence-2-base` and `-large` repositories hold them): the image's 577
//! features replace the prompt's `<image>` placeholders, which is the same as putting them
//! before the prompt's own tokens, so [`Florence2::encode`] takes the features and the prompt
//! tokens (`<s> … </s>`) separately.

pub mod bart;
pub mod caption;
pub mod config;
pub mod generate;
pub mod vision;

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};

pub use caption::{Captioner, Task, TextTokenizer};
pub use config::{Florence2Config, GenerationConfig};
pub use generate::Settings;

use crate::device::Compute;
use crate::error::{Error, Result};
use crate::loader::{load_safetensors, LoadReport};
use crate::preprocess::Pixels;
use bart::{Bart, Cache};
use vision::{Projector, VisionTower};

/// The model's parts, named as in the checkpoint (`model.*`).
#[derive(Module, Debug)]
pub struct Florence2Model {
    /// DaViT.
    pub vision_tower: VisionTower,
    /// Image features into the language model.
    pub multi_modal_projector: Projector,
    /// BART.
    pub language_model: Bart,
}

/// The whole checkpoint (`lm_head` is tied to the shared embedding, so not stored apart).
#[derive(Module, Debug)]
pub struct Florence2Weights {
    /// Everything.
    pub model: Florence2Model,
}

/// A loaded Florence-2 with its configuration.
#[derive(Debug)]
pub struct Florence2 {
    /// The modules, as the checkpoint names them.
    pub weights: Florence2Weights,
    config: Florence2Config,
    generation: GenerationConfig,
    device: Device,
    report: LoadReport,
}

impl Florence2 {
    /// Loads `dir` (`config.json`, `model.safetensors`, optional `generation_config.json`).
    pub fn load(dir: &Path, compute: &Compute) -> Result<Self> {
        let config = Florence2Config::read(dir)?;
        let generation = GenerationConfig::read(dir)?;
        let device = compute.device.clone();
        let mut weights = Florence2Weights {
            model: Florence2Model {
                vision_tower: VisionTower::new(&config.vision_config, &device),
                multi_modal_projector: Projector::new(&config.vision_config, &device),
                language_model: Bart::new(&config.text_config, &device),
            },
        };
        let report = load_safetensors(&mut weights, &dir.join("model.safetensors"), compute.dtype)?;
        weights.model.vision_tower.prepare_cpu();
        weights.model.language_model.prepare_cpu();
        Ok(Florence2 {
            weights,
            config,
            generation,
            device,
            report,
        })
    }

    /// What the load applied and left out.
    pub fn load_report(&self) -> &LoadReport {
        &self.report
    }

    /// The configuration.
    pub fn config(&self) -> &Florence2Config {
        &self.config
    }

    /// The generation settings `generation_config.json` gives, with `max_new_tokens` new tokens.
    pub fn settings(&self, max_new_tokens: usize) -> Settings {
        let t = &self.config.text_config;
        let mut s =
            Settings::from_config(&self.generation, t.decoder_start_token_id, t.eos_token_id);
        s.max_new_tokens = max_new_tokens;
        s
    }

    fn pixels_tensor(&self, pixels: &[Pixels]) -> Result<Tensor<4>> {
        let first = pixels
            .first()
            .ok_or_else(|| Error::Input("no images".into()))?;
        let (h, w) = (first.height, first.width);
        if pixels.iter().any(|p| p.height != h || p.width != w) {
            return Err(Error::Input(
                "images of one batch must have one size".into(),
            ));
        }
        let data: Vec<f32> = pixels.iter().flat_map(|p| p.data.iter().copied()).collect();
        Ok(Tensor::from_data(
            TensorData::new(data, [pixels.len(), 3, h, w]),
            &self.device,
        ))
    }

    /// The vision tower's last feature map, `[b, c, h/32, w/32]`.
    pub fn vision(&self, pixels: &[Pixels]) -> Result<Tensor<4>> {
        Ok(self
            .weights
            .model
            .vision_tower
            .forward(self.pixels_tensor(pixels)?))
    }

    /// The projected image features, `[b, 1 + h·w/1024, d]` (577 tokens at 768×768).
    pub fn image_features(&self, pixels: &[Pixels]) -> Result<Tensor<3>> {
        let map = self.vision(pixels)?;
        let [_, _, h, w] = map.dims();
        let max = self.weights.model.multi_modal_projector.max_side();
        if h > max || w > max {
            return Err(Error::Input(format!(
                "a {h}×{w} feature map is larger than the model's {max}×{max} position table"
            )));
        }
        Ok(self.weights.model.multi_modal_projector.forward(map))
    }

    /// Runs the encoder over one image's features `[1, n, d]` followed by the prompt's tokens
    /// (`<s> … </s>`), `[1, n + prompt, d]`.
    pub fn encode(&self, features: Tensor<3>, prompt: &[u32]) -> Result<Tensor<3>> {
        let lm = &self.weights.model.language_model;
        let [b, n, _] = features.dims();
        if n + prompt.len() > lm.max_positions() {
            return Err(Error::Input(format!(
                "{} image tokens and a {}-token prompt exceed the model's {} positions",
                n,
                prompt.len(),
                lm.max_positions()
            )));
        }
        let ids = self.ids(prompt, b);
        let x = Tensor::cat(vec![features, lm.embed(ids)], 1);
        Ok(lm.encode(x))
    }

    fn ids(&self, ids: &[u32], rows: usize) -> Tensor<2, Int> {
        let flat: Vec<i64> = (0..rows)
            .flat_map(|_| ids.iter().map(|&t| i64::from(t)))
            .collect();
        Tensor::<1, Int>::from_data(flat.as_slice(), &self.device).reshape([rows, ids.len()])
    }

    /// The decoder's logits `[1, t, vocab]` for `decoder_ids` after one encoded input, all at
    /// once (teacher forcing), as the model's forward pass gives them.
    pub fn decoder_logits(&self, encoded: Tensor<3>, decoder_ids: &[u32]) -> Tensor<3> {
        let lm = &self.weights.model.language_model;
        let mut cache = lm.start(encoded, None, 1);
        let h = lm.decode(self.ids(decoder_ids, 1), &mut cache);
        lm.logits(h)
    }

    /// Generates token ids (starting with the decoder's start token) for one encoded input.
    pub fn generate(&self, encoded: Tensor<3>, settings: &Settings) -> Result<Vec<u32>> {
        let lm = &self.weights.model.language_model;
        let rows = settings.num_beams;
        let mut stepper = Stepper {
            model: self,
            cache: lm.start(encoded, None, rows),
        };
        if rows > 1 {
            generate::beam_search(settings, &mut stepper)
        } else {
            generate::greedy(settings, &mut stepper)
        }
    }
}

/// The decoder as generation drives it.
struct Stepper<'a> {
    model: &'a Florence2,
    cache: Cache,
}

impl generate::Step for Stepper<'_> {
    type Error = Error;

    fn step(&mut self, tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        let lm = &self.model.weights.model.language_model;
        let ids = Tensor::<1, Int>::from_data(
            tokens
                .iter()
                .map(|&t| i64::from(t))
                .collect::<Vec<_>>()
                .as_slice(),
            &self.model.device,
        )
        .reshape([tokens.len(), 1]);
        let h = lm.decode(ids, &mut self.cache);
        let logits = lm.logits(h); // [rows, 1, vocab]
        let [rows, _, vocab] = logits.dims();
        let flat = logits
            .try_into_vec_as::<f32>()
            .map_err(|e| Error::Device(format!("{e:?}")))?;
        Ok(flat.chunks(vocab).take(rows).map(<[f32]>::to_vec).collect())
    }

    fn reorder(&mut self, rows: &[usize]) {
        self.cache.select(rows);
    }
}
