//! Model configuration read from a Hugging Face `config.json`.
//!
//! Field names and defaults mirror `transformers`' `CLIPTextConfig`, `CLIPVisionConfig`,
//! `SiglipTextConfig` and `SiglipVisionConfig` (transformers 5.23), so a `config.json` that
//! leaves a field out gets the same value PyTorch would use.

use std::path::Path;

use serde::Deserialize;

use crate::error::Result;

/// The activation inside each transformer MLP (`hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Activation {
    /// `x * sigmoid(1.702 x)`: OpenAI CLIP.
    #[serde(rename = "quick_gelu")]
    QuickGelu,
    /// The exact erf form.
    #[serde(rename = "gelu")]
    Gelu,
    /// The tanh approximation: SigLIP.
    #[serde(rename = "gelu_pytorch_tanh", alias = "gelu_new", alias = "gelu_fast")]
    GeluTanh,
}

/// Shape of one transformer tower.
#[derive(Debug, Clone, PartialEq)]
pub struct TowerConfig {
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the MLP's hidden layer.
    pub intermediate_size: usize,
    /// Number of encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// MLP activation.
    pub hidden_act: Activation,
    /// Epsilon of every layer norm.
    pub layer_norm_eps: f64,
}

/// CLIP's text tower (`CLIPTextConfig`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct ClipTextConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Residual width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Output width of the text projection.
    pub projection_dim: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Context length (77 for OpenAI CLIP).
    pub max_position_embeddings: usize,
    /// MLP activation.
    pub hidden_act: Activation,
    /// Layer norm epsilon.
    pub layer_norm_eps: f64,
    /// End-of-text token id; `2` is the legacy value of the original OpenAI configs, in which
    /// case the tokenizer's `<|endoftext|>` id is used instead.
    pub eos_token_id: u32,
}

impl Default for ClipTextConfig {
    fn default() -> Self {
        ClipTextConfig {
            vocab_size: 49408,
            hidden_size: 512,
            intermediate_size: 2048,
            projection_dim: 512,
            num_hidden_layers: 12,
            num_attention_heads: 8,
            max_position_embeddings: 77,
            hidden_act: Activation::QuickGelu,
            layer_norm_eps: 1e-5,
            eos_token_id: 49407,
        }
    }
}

/// CLIP's vision tower (`CLIPVisionConfig`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct ClipVisionConfig {
    /// Residual width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Output width of the visual projection.
    pub projection_dim: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Input channels (3).
    pub num_channels: usize,
    /// Input side in pixels.
    pub image_size: usize,
    /// Patch side in pixels.
    pub patch_size: usize,
    /// MLP activation.
    pub hidden_act: Activation,
    /// Layer norm epsilon.
    pub layer_norm_eps: f64,
}

impl Default for ClipVisionConfig {
    fn default() -> Self {
        ClipVisionConfig {
            hidden_size: 768,
            intermediate_size: 3072,
            projection_dim: 512,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            num_channels: 3,
            image_size: 224,
            patch_size: 32,
            hidden_act: Activation::QuickGelu,
            layer_norm_eps: 1e-5,
        }
    }
}

/// `CLIPConfig`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct ClipConfig {
    /// Text tower.
    pub text_config: ClipTextConfig,
    /// Vision tower.
    pub vision_config: ClipVisionConfig,
    /// Width of the shared embedding space.
    pub projection_dim: usize,
}

impl Default for ClipConfig {
    fn default() -> Self {
        ClipConfig {
            text_config: ClipTextConfig::default(),
            vision_config: ClipVisionConfig::default(),
            projection_dim: 512,
        }
    }
}

/// SigLIP's text tower (`SiglipTextConfig`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct SiglipTextConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Residual width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Context length; texts are always padded to it (64).
    pub max_position_embeddings: usize,
    /// MLP activation.
    pub hidden_act: Activation,
    /// Layer norm epsilon.
    pub layer_norm_eps: f64,
    /// Output width of the text head (`None`: `hidden_size`).
    pub projection_size: Option<usize>,
    /// Padding token id.
    pub pad_token_id: u32,
}

impl Default for SiglipTextConfig {
    fn default() -> Self {
        SiglipTextConfig {
            vocab_size: 32000,
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            max_position_embeddings: 64,
            hidden_act: Activation::GeluTanh,
            layer_norm_eps: 1e-6,
            projection_size: None,
            pad_token_id: 1,
        }
    }
}

/// SigLIP's vision tower (`SiglipVisionConfig`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct SiglipVisionConfig {
    /// Residual width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Input channels (3).
    pub num_channels: usize,
    /// Input side in pixels.
    pub image_size: usize,
    /// Patch side in pixels.
    pub patch_size: usize,
    /// MLP activation.
    pub hidden_act: Activation,
    /// Layer norm epsilon.
    pub layer_norm_eps: f64,
    /// Whether the attention-pooling head exists (always true for the released models).
    pub vision_use_head: bool,
}

impl Default for SiglipVisionConfig {
    fn default() -> Self {
        SiglipVisionConfig {
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            num_channels: 3,
            image_size: 224,
            patch_size: 16,
            hidden_act: Activation::GeluTanh,
            layer_norm_eps: 1e-6,
            vision_use_head: true,
        }
    }
}

/// `SiglipConfig`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SiglipConfig {
    /// Text tower.
    pub text_config: SiglipTextConfig,
    /// Vision tower.
    pub vision_config: SiglipVisionConfig,
}

/// A model family Trove runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// OpenAI's CLIP (`CLIPModel`, `model_type` `clip`).
    Clip,
    /// Google's SigLIP and fixed-resolution SigLIP 2 (`SiglipModel`, `model_type` `siglip`).
    Siglip,
}

impl Family {
    /// The `model_type` word: `clip` or `siglip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Clip => "clip",
            Family::Siglip => "siglip",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A model family and its configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelConfig {
    /// `CLIPModel`.
    Clip(ClipConfig),
    /// `SiglipModel` (SigLIP, and SigLIP 2 fixed-resolution checkpoints).
    Siglip(SiglipConfig),
}

/// The [`TowerConfig`] of any tower config struct (they share these field names).
macro_rules! tower {
    ($c:expr) => {
        TowerConfig {
            hidden_size: $c.hidden_size,
            intermediate_size: $c.intermediate_size,
            num_hidden_layers: $c.num_hidden_layers,
            num_attention_heads: $c.num_attention_heads,
            hidden_act: $c.hidden_act,
            layer_norm_eps: $c.layer_norm_eps,
        }
    };
}

#[derive(Deserialize)]
struct Header {
    model_type: Option<String>,
}

impl ModelConfig {
    /// Reads `config.json`, choosing the family by its `model_type`.
    pub fn from_file(path: &Path) -> Result<Self> {
        crate::error::read_config(path, Self::from_json)
    }

    /// Parses the text of a `config.json`; the error says what is wrong.
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let header: Header = serde_json::from_str(text).map_err(|e| e.to_string())?;
        match header.model_type.as_deref() {
            Some("clip") => serde_json::from_str(text)
                .map(ModelConfig::Clip)
                .map_err(|e| e.to_string()),
            Some("siglip") => serde_json::from_str(text)
                .map(ModelConfig::Siglip)
                .map_err(|e| e.to_string()),
            Some(other) => Err(format!(
                "model_type \"{other}\" is not supported; Trove runs \"clip\" (CLIPModel) and \"siglip\" (SiglipModel, including fixed-resolution SigLIP 2) checkpoints"
            )),
            None => Err("no \"model_type\" field".into()),
        }
    }

    /// CLIP or SigLIP, as `model_type` says.
    pub fn family(&self) -> Family {
        match self {
            ModelConfig::Clip(_) => Family::Clip,
            ModelConfig::Siglip(_) => Family::Siglip,
        }
    }

    /// The text tower's shape.
    pub fn text_tower(&self) -> TowerConfig {
        match self {
            ModelConfig::Clip(c) => tower!(c.text_config),
            ModelConfig::Siglip(c) => tower!(c.text_config),
        }
    }

    /// The vision tower's shape.
    pub fn vision_tower(&self) -> TowerConfig {
        match self {
            ModelConfig::Clip(c) => tower!(c.vision_config),
            ModelConfig::Siglip(c) => tower!(c.vision_config),
        }
    }

    /// Width of the shared embedding space.
    pub fn embed_dim(&self) -> usize {
        match self {
            ModelConfig::Clip(c) => c.projection_dim,
            ModelConfig::Siglip(c) => c
                .text_config
                .projection_size
                .unwrap_or(c.text_config.hidden_size),
        }
    }

    /// The image side the vision tower takes.
    pub fn image_size(&self) -> usize {
        match self {
            ModelConfig::Clip(c) => c.vision_config.image_size,
            ModelConfig::Siglip(c) => c.vision_config.image_size,
        }
    }

    /// The text context length.
    pub fn max_text_len(&self) -> usize {
        match self {
            ModelConfig::Clip(c) => c.text_config.max_position_embeddings,
            ModelConfig::Siglip(c) => c.text_config.max_position_embeddings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_clip_config_gets_transformers_defaults() {
        let ModelConfig::Clip(c) = ModelConfig::from_json(r#"{"model_type":"clip"}"#).expect("ok")
        else {
            panic!("not clip")
        };
        assert_eq!(c, ClipConfig::default());
        assert_eq!(c.vision_config.patch_size, 32);
        assert_eq!(c.text_config.hidden_act, Activation::QuickGelu);
    }

    #[test]
    fn siglip_values_are_read_and_defaults_fill_the_rest() {
        let cfg = ModelConfig::from_json(
            r#"{"model_type":"siglip","text_config":{"hidden_size":1152,"hidden_act":"gelu_pytorch_tanh"},
                "vision_config":{"image_size":384,"patch_size":14,"unknown_field":1}}"#,
        )
        .expect("ok");
        assert_eq!(cfg.embed_dim(), 1152);
        assert_eq!(cfg.image_size(), 384);
        assert_eq!(cfg.max_text_len(), 64);
        assert_eq!(cfg.vision_tower().layer_norm_eps, 1e-6);
    }

    #[test]
    fn unsupported_families_are_named_in_the_error() {
        let err = ModelConfig::from_json(r#"{"model_type":"siglip2"}"#).expect_err("rejects");
        assert!(err.contains("siglip2"), "{err}");
        let err =
            ModelConfig::from_json(r#"{"model_type":"clip","text_config":{"hidden_act":"swish"}}"#)
                .expect_err("rejects");
        assert!(err.contains("swish"), "{err}");
    }
}
