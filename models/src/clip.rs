//! CLIP (`CLIPModel` in transformers 5.23, `models/clip/modeling_clip.py`).
//!
//! Module fields are named after the checkpoint's keys (including HF's `pre_layrnorm`), so the
//! safetensors file maps onto the module tree directly.

use std::sync::Arc;

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Embedding, EmbeddingConfig, Initializer, LayerNorm, Linear};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::config::{ClipConfig, ModelConfig};
use crate::cpu::CpuPatches;
use crate::transformer::{
    layer_norm, linear_no_bias, patch_rows, Encoder, TextEmbeddings, UNLOADED,
};

/// Patch and position embeddings with a class token (`CLIPVisionEmbeddings`).
#[derive(Module, Debug)]
pub struct ClipVisionEmbeddings {
    /// The class token, `[hidden]`.
    pub class_embedding: Param<Tensor<1>>,
    /// Patchify: `Conv2d(3, hidden, patch, stride=patch, bias=False)`.
    pub patch_embedding: Conv2d,
    /// One position per patch plus the class token.
    pub position_embedding: Embedding,
    /// The patch convolution held for the CPU kernels, after [`ClipModel::prepare_cpu`].
    #[module(skip)]
    pub cpu: Option<Arc<CpuPatches>>,
}

impl ClipVisionEmbeddings {
    /// `[batch, 3, size, size]` → `[batch, 1 + patches, hidden]`.
    pub fn forward(&self, pixels: Tensor<4>) -> Tensor<3> {
        let patches = patch_rows(&self.patch_embedding, self.cpu.as_deref(), pixels);
        let [b, _, hidden] = patches.dims();
        let class = self
            .class_embedding
            .val()
            .reshape([1, 1, hidden])
            .expand([b, 1, hidden]);
        let x = Tensor::cat(vec![class, patches], 1);
        x + self.position_embedding.weight.val().unsqueeze::<3>()
    }
}

/// The vision tower (`CLIPVisionTransformer`).
#[derive(Module, Debug)]
pub struct ClipVisionTransformer {
    /// Embeddings.
    pub embeddings: ClipVisionEmbeddings,
    /// Norm before the encoder (HF spells it `pre_layrnorm`).
    pub pre_layrnorm: LayerNorm,
    /// The encoder.
    pub encoder: Encoder,
    /// Norm of the class token's final state.
    pub post_layernorm: LayerNorm,
}

impl ClipVisionTransformer {
    /// `[batch, 3, size, size]` → pooled `[batch, hidden]`.
    pub fn forward(&self, pixels: Tensor<4>) -> Tensor<2> {
        let x = self.pre_layrnorm.forward(self.embeddings.forward(pixels));
        let x = self.encoder.forward(x, false);
        let [b, _, d] = x.dims();
        let class = x.narrow(1, 0, 1).reshape([b, d]);
        self.post_layernorm.forward(class)
    }
}

/// The causal text tower (`CLIPTextTransformer`).
#[derive(Module, Debug)]
pub struct ClipTextTransformer {
    /// Embeddings.
    pub embeddings: TextEmbeddings,
    /// The encoder, run with a causal mask.
    pub encoder: Encoder,
    /// Final norm.
    pub final_layer_norm: LayerNorm,
}

impl ClipTextTransformer {
    /// `ids: [batch, seq]` → the final state at each row's end-of-text position, `[batch, hidden]`.
    ///
    /// `eos[i]` is row `i`'s end-of-text position. Positions after it never influence it
    /// (causal mask), so callers may pass `seq = max(eos) + 1` instead of the full context.
    pub fn forward(&self, ids: Tensor<2, Int>, eos: &[usize]) -> Tensor<2> {
        let [b, s] = ids.dims();
        let positions = self
            .embeddings
            .position_embedding
            .weight
            .val()
            .narrow(0, 0, s);
        let x = self.embeddings.token_embedding.forward(ids) + positions.unsqueeze::<3>();
        let x = self.final_layer_norm.forward(self.encoder.forward(x, true));
        let [_, _, d] = x.dims();
        let rows: Vec<i64> = eos
            .iter()
            .enumerate()
            .map(|(i, &p)| (i * s + p) as i64)
            .collect();
        let index = Tensor::<1, Int>::from_data(TensorData::new(rows, [b]), &x.device());
        x.reshape([b * s, d]).select(0, index)
    }
}

/// `CLIPModel` without the logit scale (read separately; see [`crate::loader`]).
#[derive(Module, Debug)]
pub struct ClipModel {
    /// Text tower.
    pub text_model: ClipTextTransformer,
    /// Vision tower.
    pub vision_model: ClipVisionTransformer,
    /// Vision pooled state → shared space.
    pub visual_projection: Linear,
    /// Text pooled state → shared space.
    pub text_projection: Linear,
}

impl ClipModel {
    /// Builds the module tree for `cfg` with unloaded (lazy) weights.
    pub fn new(cfg: &ClipConfig, device: &Device) -> Self {
        let whole = ModelConfig::Clip(cfg.clone());
        let (t, v) = (&cfg.text_config, &cfg.vision_config);
        let grid = v.image_size / v.patch_size;
        ClipModel {
            text_model: ClipTextTransformer {
                embeddings: TextEmbeddings::new(
                    t.vocab_size,
                    t.max_position_embeddings,
                    t.hidden_size,
                    device,
                ),
                encoder: Encoder::new(&whole.text_tower(), device),
                final_layer_norm: layer_norm(t.hidden_size, t.layer_norm_eps, device),
            },
            vision_model: ClipVisionTransformer {
                embeddings: ClipVisionEmbeddings {
                    class_embedding: Initializer::Zeros.init([v.hidden_size], device),
                    patch_embedding: Conv2dConfig::new(
                        [v.num_channels, v.hidden_size],
                        [v.patch_size, v.patch_size],
                    )
                    .with_stride([v.patch_size, v.patch_size])
                    .with_bias(false)
                    .with_initializer(UNLOADED)
                    .init(device),
                    position_embedding: EmbeddingConfig::new(grid * grid + 1, v.hidden_size)
                        .with_initializer(UNLOADED)
                        .init(device),
                    cpu: None,
                },
                pre_layrnorm: layer_norm(v.hidden_size, v.layer_norm_eps, device),
                encoder: Encoder::new(&whole.vision_tower(), device),
                post_layernorm: layer_norm(v.hidden_size, v.layer_norm_eps, device),
            },
            visual_projection: linear_no_bias(v.hidden_size, cfg.projection_dim, device),
            text_projection: linear_no_bias(t.hidden_size, cfg.projection_dim, device),
        }
    }

    /// Hands both encoders to the fused CPU kernels when the weights are f32 on the CPU
    /// ([`crate::transformer::Encoder::prepare_cpu`]).
    pub fn prepare_cpu(&mut self, bf16: bool) {
        self.text_model.encoder.prepare_cpu(bf16);
        self.vision_model.encoder.prepare_cpu(bf16);
        let embeddings = &mut self.vision_model.embeddings;
        embeddings.cpu = CpuPatches::new(&embeddings.patch_embedding, bf16).map(Arc::new);
    }

    /// Image embeddings, not normalised: `[batch, 3, size, size]` → `[batch, projection_dim]`.
    pub fn image_features(&self, pixels: Tensor<4>) -> Tensor<2> {
        self.visual_projection
            .forward(self.vision_model.forward(pixels))
    }

    /// Text embeddings, not normalised: see [`ClipTextTransformer::forward`].
    pub fn text_features(&self, ids: Tensor<2, Int>, eos: &[usize]) -> Tensor<2> {
        self.text_projection
            .forward(self.text_model.forward(ids, eos))
    }
}
