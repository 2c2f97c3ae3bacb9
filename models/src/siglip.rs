//! SigLIP (`SiglipModel` in transformers 5.23, `models/siglip/modeling_siglip.py`).
//!
//! Differences from CLIP: no class token and no pre-norm in the vision tower, which pools with
//! an attention head (a learned probe attending over the patches); a text tower with no causal
//! mask that pools the last position through a linear `head`; no projection layers; gelu-tanh;
//! layer-norm epsilon 1e-6.

use std::sync::Arc;

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Embedding, EmbeddingConfig, Initializer, LayerNorm, Linear, LinearConfig};
use burn::tensor::module::{attention, linear};
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Device, Int, Tensor};

use crate::config::{ModelConfig, SiglipConfig};
use crate::cpu::CpuPatches;
use crate::transformer::{layer_norm, patch_rows, Encoder, Mlp, TextEmbeddings, UNLOADED};

/// Patch and position embeddings (`SiglipVisionEmbeddings`).
#[derive(Module, Debug)]
pub struct SiglipVisionEmbeddings {
    /// Patchify: `Conv2d(3, hidden, patch, stride=patch)` with bias.
    pub patch_embedding: Conv2d,
    /// One position per patch.
    pub position_embedding: Embedding,
    /// The patch convolution held for the CPU kernels, after [`SiglipModel::prepare_cpu`].
    #[module(skip)]
    pub cpu: Option<Arc<CpuPatches>>,
}

/// `torch.nn.MultiheadAttention` as stored in the checkpoint: one packed `in_proj`.
///
/// Named so that burn's PyTorch adapter leaves `in_proj_weight` in PyTorch's `[out, in]`
/// layout (it transposes only fields of structs named `Linear`); `out_proj` is a real `Linear`.
#[derive(Module, Debug)]
pub struct TorchMultiheadAttention {
    /// `[3 * hidden, hidden]`: query, key and value weights stacked.
    pub in_proj_weight: Param<Tensor<2>>,
    /// `[3 * hidden]`.
    pub in_proj_bias: Param<Tensor<1>>,
    /// Output projection.
    pub out_proj: Linear,
    /// Heads.
    pub num_heads: usize,
}

impl TorchMultiheadAttention {
    fn project(&self, x: Tensor<3>, which: usize) -> Tensor<3> {
        let [hidden3, _] = self.in_proj_weight.dims();
        let h = hidden3 / 3;
        let w = self.in_proj_weight.val().narrow(0, which * h, h); // [out, in]
        let b = self.in_proj_bias.val().narrow(0, which * h, h);
        linear(x, w.transpose(), Some(b))
    }

    /// Cross-attention: `query [batch, q, hidden]` over `kv [batch, s, hidden]`.
    pub fn forward(&self, query: Tensor<3>, kv: Tensor<3>) -> Tensor<3> {
        let [b, q_len, d] = query.dims();
        let [_, s, _] = kv.dims();
        let hd = d / self.num_heads;
        let split =
            |t: Tensor<3>, len: usize| t.reshape([b, len, self.num_heads, hd]).swap_dims(1, 2);
        let q = split(self.project(query, 0), q_len);
        let k = split(self.project(kv.clone(), 1), s);
        let v = split(self.project(kv, 2), s);
        let out = attention(q, k, v, None, None, AttentionModuleOptions::default());
        self.out_proj
            .forward(out.swap_dims(1, 2).reshape([b, q_len, d]))
    }
}

/// Attention pooling (`SiglipMultiheadAttentionPoolingHead`).
#[derive(Module, Debug)]
pub struct SiglipPoolingHead {
    /// The learned query, `[1, 1, hidden]`.
    pub probe: Param<Tensor<3>>,
    /// Probe-over-patches attention.
    pub attention: TorchMultiheadAttention,
    /// Norm before the MLP.
    pub layernorm: LayerNorm,
    /// MLP with residual.
    pub mlp: Mlp,
}

impl SiglipPoolingHead {
    /// `[batch, patches, hidden]` → `[batch, hidden]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        let [b, _, d] = x.dims();
        let probe = self.probe.val().expand([b, 1, d]);
        let h = self.attention.forward(probe, x);
        let h = h.clone() + self.mlp.forward(self.layernorm.forward(h));
        h.reshape([b, d])
    }
}

/// The vision tower (`SiglipVisionTransformer`).
#[derive(Module, Debug)]
pub struct SiglipVisionTransformer {
    /// Embeddings.
    pub embeddings: SiglipVisionEmbeddings,
    /// Encoder.
    pub encoder: Encoder,
    /// Final norm.
    pub post_layernorm: LayerNorm,
    /// Attention-pooling head.
    pub head: SiglipPoolingHead,
}

impl SiglipVisionTransformer {
    /// `[batch, 3, size, size]` → `[batch, hidden]`.
    pub fn forward(&self, pixels: Tensor<4>) -> Tensor<2> {
        let embeddings = &self.embeddings;
        let patches = patch_rows(
            &embeddings.patch_embedding,
            embeddings.cpu.as_deref(),
            pixels,
        );
        let x = patches + embeddings.position_embedding.weight.val().unsqueeze::<3>();
        let x = self.post_layernorm.forward(self.encoder.forward(x, false));
        self.head.forward(x)
    }
}

/// The text tower (`SiglipTextTransformer`).
#[derive(Module, Debug)]
pub struct SiglipTextTransformer {
    /// Embeddings.
    pub embeddings: TextEmbeddings,
    /// Encoder, no mask.
    pub encoder: Encoder,
    /// Final norm.
    pub final_layer_norm: LayerNorm,
    /// Last-token state → embedding.
    pub head: Linear,
}

impl SiglipTextTransformer {
    /// `ids: [batch, context]`, padded to the full context → `[batch, embed]`.
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<2> {
        let [b, s] = ids.dims();
        let positions = self
            .embeddings
            .position_embedding
            .weight
            .val()
            .narrow(0, 0, s);
        let x = self.embeddings.token_embedding.forward(ids) + positions.unsqueeze::<3>();
        let x = self
            .final_layer_norm
            .forward(self.encoder.forward(x, false));
        let [_, _, d] = x.dims();
        self.head.forward(x.narrow(1, s - 1, 1).reshape([b, d]))
    }
}

/// `SiglipModel` without `logit_scale`/`logit_bias` (not needed for retrieval).
#[derive(Module, Debug)]
pub struct SiglipModel {
    /// Text tower.
    pub text_model: SiglipTextTransformer,
    /// Vision tower.
    pub vision_model: SiglipVisionTransformer,
}

impl SiglipModel {
    /// Builds the module tree for `cfg` with unloaded (lazy) weights.
    pub fn new(cfg: &SiglipConfig, device: &Device) -> Self {
        let whole = ModelConfig::Siglip(cfg.clone());
        let (t, v) = (&cfg.text_config, &cfg.vision_config);
        let grid = v.image_size / v.patch_size;
        let embed = t.projection_size.unwrap_or(t.hidden_size);
        SiglipModel {
            text_model: SiglipTextTransformer {
                embeddings: TextEmbeddings::new(
                    t.vocab_size,
                    t.max_position_embeddings,
                    t.hidden_size,
                    device,
                ),
                encoder: Encoder::new(&whole.text_tower(), device),
                final_layer_norm: layer_norm(t.hidden_size, t.layer_norm_eps, device),
                head: LinearConfig::new(t.hidden_size, embed)
                    .with_initializer(UNLOADED)
                    .init(device),
            },
            vision_model: SiglipVisionTransformer {
                embeddings: SiglipVisionEmbeddings {
                    patch_embedding: Conv2dConfig::new(
                        [v.num_channels, v.hidden_size],
                        [v.patch_size, v.patch_size],
                    )
                    .with_stride([v.patch_size, v.patch_size])
                    .with_initializer(UNLOADED)
                    .init(device),
                    position_embedding: EmbeddingConfig::new(grid * grid, v.hidden_size)
                        .with_initializer(UNLOADED)
                        .init(device),
                    cpu: None,
                },
                encoder: Encoder::new(&whole.vision_tower(), device),
                post_layernorm: layer_norm(v.hidden_size, v.layer_norm_eps, device),
                head: SiglipPoolingHead {
                    probe: Initializer::Zeros.init([1, 1, v.hidden_size], device),
                    attention: TorchMultiheadAttention {
                        in_proj_weight: Initializer::Zeros
                            .init([3 * v.hidden_size, v.hidden_size], device),
                        in_proj_bias: Initializer::Zeros.init([3 * v.hidden_size], device),
                        out_proj: LinearConfig::new(v.hidden_size, v.hidden_size)
                            .with_initializer(UNLOADED)
                            .init(device),
                        num_heads: v.num_attention_heads,
                    },
                    layernorm: layer_norm(v.hidden_size, v.layer_norm_eps, device),
                    mlp: Mlp::new(v.hidden_size, v.intermediate_size, v.hidden_act, device),
                },
            },
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

    /// Image embeddings, not normalised.
    pub fn image_features(&self, pixels: Tensor<4>) -> Tensor<2> {
        self.vision_model.forward(pixels)
    }

    /// Text embeddings, not normalised; `ids` padded to the full context.
    pub fn text_features(&self, ids: Tensor<2, Int>) -> Tensor<2> {
        self.text_model.forward(ids)
    }
}
