//! Florence-2's `config.json` and `generation_config.json`, as transformers 5.23 writes them
//! (`models/florence2/configuration_florence2.py`: a `florence_vision` vision config and a plain
//! `bart` text config). Absent fields take transformers' defaults, which are Florence-2-base's.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The DaViT vision tower (`Florence2VisionConfig`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct VisionConfig {
    /// Input channels (3).
    pub in_channels: usize,
    /// Blocks per stage.
    pub depths: Vec<usize>,
    /// Each stage's embedding convolution: kernel, stride, padding.
    pub patch_size: Vec<usize>,
    /// Stride of each stage's embedding convolution.
    pub patch_stride: Vec<usize>,
    /// Padding of each stage's embedding convolution.
    pub patch_padding: Vec<usize>,
    /// Whether the stage's norm comes before its convolution (else after).
    pub patch_prenorm: Vec<bool>,
    /// Channels per stage.
    pub embed_dim: Vec<usize>,
    /// Window-attention heads per stage.
    pub num_heads: Vec<usize>,
    /// Channel-attention groups per stage.
    pub num_groups: Vec<usize>,
    /// Side of the attention windows.
    pub window_size: usize,
    /// MLP width over channels.
    pub mlp_ratio: f64,
    /// Whether the qkv projections have a bias.
    pub qkv_bias: bool,
    /// The language model's width, which image features are projected to.
    pub projection_dim: usize,
    /// Rows of the learned 2D position table (feature maps up to this side).
    pub max_position_embeddings: usize,
    /// Rows of the temporal (frame) embedding table.
    pub max_temporal_embeddings: usize,
}

impl Default for VisionConfig {
    fn default() -> Self {
        VisionConfig {
            in_channels: 3,
            depths: vec![1, 1, 9, 1],
            patch_size: vec![7, 3, 3, 3],
            patch_stride: vec![4, 2, 2, 2],
            patch_padding: vec![3, 1, 1, 1],
            patch_prenorm: vec![false, true, true, true],
            embed_dim: vec![128, 256, 512, 1024],
            num_heads: vec![4, 8, 16, 32],
            num_groups: vec![4, 8, 16, 32],
            window_size: 12,
            mlp_ratio: 4.0,
            qkv_bias: true,
            projection_dim: 1024,
            max_position_embeddings: 50,
            max_temporal_embeddings: 100,
        }
    }
}

/// The BART encoder-decoder (`BartConfig`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TextConfig {
    /// Vocabulary rows (the tied embedding and the logits).
    pub vocab_size: usize,
    /// Hidden width.
    pub d_model: usize,
    /// Encoder layers.
    pub encoder_layers: usize,
    /// Decoder layers.
    pub decoder_layers: usize,
    /// Encoder attention heads.
    pub encoder_attention_heads: usize,
    /// Decoder attention heads.
    pub decoder_attention_heads: usize,
    /// Encoder MLP width.
    pub encoder_ffn_dim: usize,
    /// Decoder MLP width.
    pub decoder_ffn_dim: usize,
    /// Learned positions (the table has two more rows: BART's offset).
    pub max_position_embeddings: usize,
    /// The MLP activation; only `gelu` (exact) is supported.
    pub activation_function: String,
    /// Whether token embeddings are multiplied by sqrt(d_model).
    pub scale_embedding: bool,
    /// Padding token.
    pub pad_token_id: u32,
    /// Beginning of sequence.
    pub bos_token_id: u32,
    /// End of sequence.
    pub eos_token_id: u32,
    /// The decoder's first token.
    pub decoder_start_token_id: u32,
}

impl Default for TextConfig {
    fn default() -> Self {
        TextConfig {
            vocab_size: 50265,
            d_model: 1024,
            encoder_layers: 12,
            decoder_layers: 12,
            encoder_attention_heads: 16,
            decoder_attention_heads: 16,
            encoder_ffn_dim: 4096,
            decoder_ffn_dim: 4096,
            max_position_embeddings: 1024,
            activation_function: "gelu".into(),
            scale_embedding: false,
            pad_token_id: 1,
            bos_token_id: 0,
            eos_token_id: 2,
            decoder_start_token_id: 2,
        }
    }
}

/// The whole model (`Florence2Config`).
#[derive(Debug, Clone, Deserialize)]
pub struct Florence2Config {
    /// Must be `florence2`.
    pub model_type: String,
    /// The vision tower.
    #[serde(default)]
    pub vision_config: VisionConfig,
    /// The language model.
    #[serde(default)]
    pub text_config: TextConfig,
    /// The placeholder token the image features replace.
    #[serde(default = "image_token_default")]
    pub image_token_id: u32,
}

fn image_token_default() -> u32 {
    51289
}

impl Florence2Config {
    /// Reads and checks `dir/config.json`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let bad = |reason: String| Error::Config {
            path: path.clone(),
            reason,
        };
        let cfg: Florence2Config = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if cfg.model_type != "florence2" {
            return Err(bad(format!(
                "model_type is {:?}, not \"florence2\" (the microsoft/Florence-2-* remote-code \
                 checkpoints must be converted to transformers' native layout first, as the \
                 florence-community/Florence-2-* repositories are)",
                cfg.model_type
            )));
        }
        cfg.check().map_err(bad)?;
        Ok(cfg)
    }

    fn check(&self) -> std::result::Result<(), String> {
        let v = &self.vision_config;
        let stages = v.depths.len();
        for (name, len) in [
            ("patch_size", v.patch_size.len()),
            ("patch_stride", v.patch_stride.len()),
            ("patch_padding", v.patch_padding.len()),
            ("patch_prenorm", v.patch_prenorm.len()),
            ("embed_dim", v.embed_dim.len()),
            ("num_heads", v.num_heads.len()),
            ("num_groups", v.num_groups.len()),
        ] {
            if len != stages {
                return Err(format!(
                    "vision_config.{name} has {len} entries for {stages} stages"
                ));
            }
        }
        if stages == 0 || v.window_size == 0 {
            return Err("vision_config needs at least one stage and a window".into());
        }
        for s in 0..stages {
            if v.num_heads[s] == 0
                || v.num_groups[s] == 0
                || !v.embed_dim[s].is_multiple_of(v.num_heads[s])
                || !v.embed_dim[s].is_multiple_of(v.num_groups[s])
            {
                return Err(format!(
                    "vision stage {s}: {} channels do not split into {} heads and {} groups",
                    v.embed_dim[s], v.num_heads[s], v.num_groups[s]
                ));
            }
        }
        let t = &self.text_config;
        if v.projection_dim != t.d_model {
            return Err(format!(
                "vision_config.projection_dim {} differs from text_config.d_model {}",
                v.projection_dim, t.d_model
            ));
        }
        if t.encoder_attention_heads == 0
            || t.decoder_attention_heads == 0
            || !t.d_model.is_multiple_of(t.encoder_attention_heads)
            || !t.d_model.is_multiple_of(t.decoder_attention_heads)
        {
            return Err(format!(
                "text d_model {} does not split into the attention heads",
                t.d_model
            ));
        }
        if t.activation_function != "gelu" {
            return Err(format!(
                "text activation {:?} is not supported (gelu is)",
                t.activation_function
            ));
        }
        Ok(())
    }
}

/// How captions are generated (`generation_config.json`; transformers' defaults where absent).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct GenerationConfig {
    /// Beams (1: greedy).
    pub num_beams: usize,
    /// No n-gram of this length appears twice (0: off).
    pub no_repeat_ngram_size: usize,
    /// Stop a beam search once `num_beams` hypotheses are finished.
    pub early_stopping: bool,
    /// The token forced first, if any.
    pub forced_bos_token_id: Option<u32>,
    /// The token forced at the last position, if any.
    pub forced_eos_token_id: Option<u32>,
    /// The decoder's first token.
    pub decoder_start_token_id: Option<u32>,
    /// End of sequence.
    pub eos_token_id: Option<u32>,
    /// Padding of finished sequences.
    pub pad_token_id: Option<u32>,
    /// Exponent of the length a finished beam's score is divided by.
    pub length_penalty: f64,
    /// Most new tokens (transformers' default when absent: 20).
    pub max_new_tokens: Option<usize>,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        GenerationConfig {
            num_beams: 1,
            no_repeat_ngram_size: 0,
            early_stopping: false,
            forced_bos_token_id: None,
            forced_eos_token_id: None,
            decoder_start_token_id: None,
            eos_token_id: None,
            pad_token_id: None,
            length_penalty: 1.0,
            max_new_tokens: None,
        }
    }
}

impl GenerationConfig {
    /// Reads `dir/generation_config.json`, or transformers' defaults when the file is absent.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join("generation_config.json");
        if !path.is_file() {
            return Ok(GenerationConfig::default());
        }
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| Error::Config {
            path,
            reason: e.to_string(),
        })
    }
}
