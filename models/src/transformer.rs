//! The pre-LN transformer encoder shared by CLIP and SigLIP, both towers.
//!
//! Mirrors `CLIPEncoderLayer` / `SiglipEncoderLayer` in transformers 5.23
//! (`models/clip/modeling_clip.py`, `models/siglip/modeling_siglip.py`): field names are the
//! checkpoint's, so weights load without renaming.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{
    Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig,
};
use burn::tensor::activation::{gelu_approximate, sigmoid};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use std::sync::Arc;

use crate::config::{Activation, TowerConfig};
use crate::cpu::{CpuEncoder, CpuPatches};

/// Applies an MLP activation.
pub fn activate<const D: usize>(act: Activation, x: Tensor<D>) -> Tensor<D> {
    match act {
        Activation::QuickGelu => x.clone() * sigmoid(x * 1.702),
        Activation::Gelu => crate::fast::gelu(x),
        Activation::GeluTanh => gelu_approximate(x),
    }
}

/// Multi-head self-attention with separate q/k/v projections (`CLIPAttention`).
#[derive(Module, Debug)]
pub struct SelfAttention {
    /// Key projection.
    pub k_proj: Linear,
    /// Value projection.
    pub v_proj: Linear,
    /// Query projection.
    pub q_proj: Linear,
    /// Output projection.
    pub out_proj: Linear,
    /// Number of heads.
    pub num_heads: usize,
}

impl SelfAttention {
    fn new(hidden: usize, num_heads: usize, device: &Device) -> Self {
        let linear = || {
            LinearConfig::new(hidden, hidden)
                .with_initializer(UNLOADED)
                .init(device)
        };
        SelfAttention {
            k_proj: linear(),
            v_proj: linear(),
            q_proj: linear(),
            out_proj: linear(),
            num_heads,
        }
    }

    /// `[batch, seq, hidden]` → `[batch, seq, hidden]`; `causal` masks future positions.
    pub fn forward(&self, x: Tensor<3>, causal: bool) -> Tensor<3> {
        let [b, s, d] = x.dims();
        let head_dim = d / self.num_heads;
        // [batch, seq, hidden] -> [batch, heads, seq, head_dim]
        let heads = |t: Tensor<3>| t.reshape([b, s, self.num_heads, head_dim]).swap_dims(1, 2);
        let q = heads(self.q_proj.forward(x.clone()));
        let k = heads(self.k_proj.forward(x.clone()));
        let v = heads(self.v_proj.forward(x));
        // Default scale: 1/sqrt(head_dim), as both models use.
        let options = AttentionModuleOptions {
            is_causal: causal,
            ..Default::default()
        };
        let out = attention(q, k, v, None, None, options);
        self.out_proj
            .forward(out.swap_dims(1, 2).reshape([b, s, d]))
    }
}

/// The two-layer MLP (`CLIPMLP`, `SiglipMLP`).
#[derive(Module, Debug)]
pub struct Mlp {
    /// hidden → intermediate.
    pub fc1: Linear,
    /// intermediate → hidden.
    pub fc2: Linear,
    /// The activation between them.
    #[module(skip)]
    pub act: Activation,
}

impl Mlp {
    /// Builds an MLP with unloaded weights.
    pub fn new(hidden: usize, intermediate: usize, act: Activation, device: &Device) -> Self {
        Mlp {
            fc1: LinearConfig::new(hidden, intermediate)
                .with_initializer(UNLOADED)
                .init(device),
            fc2: LinearConfig::new(intermediate, hidden)
                .with_initializer(UNLOADED)
                .init(device),
            act,
        }
    }

    /// `[.., hidden]` → `[.., hidden]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.fc2.forward(activate(self.act, self.fc1.forward(x)))
    }
}

/// One pre-LN encoder layer.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    /// Attention.
    pub self_attn: SelfAttention,
    /// Norm before attention.
    pub layer_norm1: LayerNorm,
    /// MLP.
    pub mlp: Mlp,
    /// Norm before the MLP.
    pub layer_norm2: LayerNorm,
}

impl EncoderLayer {
    /// `[batch, seq, hidden]` → `[batch, seq, hidden]`.
    pub fn forward(&self, x: Tensor<3>, causal: bool) -> Tensor<3> {
        let x = x.clone() + self.self_attn.forward(self.layer_norm1.forward(x), causal);
        x.clone() + self.mlp.forward(self.layer_norm2.forward(x))
    }
}

/// A stack of encoder layers (`CLIPEncoder`).
#[derive(Module, Debug)]
pub struct Encoder {
    /// The layers, in order (empty once [`Encoder::prepare_cpu`] has taken them).
    pub layers: Vec<EncoderLayer>,
    /// Epsilon of the layer norms.
    #[module(skip)]
    pub eps: f64,
    /// The layers held for the fused CPU kernels, after [`Encoder::prepare_cpu`].
    #[module(skip)]
    pub cpu: Option<Arc<CpuEncoder>>,
}

impl Encoder {
    /// Builds an encoder with unloaded weights.
    pub fn new(cfg: &TowerConfig, device: &Device) -> Self {
        let layers = (0..cfg.num_hidden_layers)
            .map(|_| EncoderLayer {
                self_attn: SelfAttention::new(cfg.hidden_size, cfg.num_attention_heads, device),
                layer_norm1: layer_norm(cfg.hidden_size, cfg.layer_norm_eps, device),
                mlp: Mlp::new(
                    cfg.hidden_size,
                    cfg.intermediate_size,
                    cfg.hidden_act,
                    device,
                ),
                layer_norm2: layer_norm(cfg.hidden_size, cfg.layer_norm_eps, device),
            })
            .collect();
        Encoder {
            layers,
            eps: cfg.layer_norm_eps,
            cpu: None,
        }
    }

    /// Moves f32 weights on the CPU to the fused kernels of [`crate::cpu`]; from then on
    /// `forward` runs there, with bf16 matrix products when `bf16` and the CPU has them. Call
    /// once the checkpoint is loaded. Elsewhere (a GPU, fp16) it leaves the layers to burn.
    pub fn prepare_cpu(&mut self, bf16: bool) {
        let Some(first) = self.layers.first() else {
            return;
        };
        let weight = first.self_attn.q_proj.weight.val();
        if weight.device() != Device::flex() || weight.dtype() != DType::F32 {
            return;
        }
        self.cpu = CpuEncoder::new(std::mem::take(&mut self.layers), self.eps, bf16).map(Arc::new);
    }

    /// `[batch, seq, hidden]` → `[batch, seq, hidden]`.
    pub fn forward(&self, x: Tensor<3>, causal: bool) -> Tensor<3> {
        let Some(cpu) = &self.cpu else {
            return self.forward_with_burn(x, causal);
        };
        let [b, s, d] = x.dims();
        let device = x.device();
        let mut data = x
            .into_data()
            .try_into_vec::<f32>()
            .expect("prepare_cpu checked the dtype is f32");
        cpu.forward(&mut data, b, s, causal);
        Tensor::from_data(TensorData::new(data, [b, s, d]), &device)
    }

    /// The layers run as burn ops (a GPU, or before [`Encoder::prepare_cpu`]).
    pub fn forward_with_burn(&self, mut x: Tensor<3>, causal: bool) -> Tensor<3> {
        for layer in &self.layers {
            x = layer.forward(x, causal);
        }
        x
    }
}

/// Token plus learned position embeddings (`CLIPTextEmbeddings`, `SiglipTextEmbeddings`).
#[derive(Module, Debug)]
pub struct TextEmbeddings {
    /// Token embeddings.
    pub token_embedding: Embedding,
    /// Learned positions.
    pub position_embedding: Embedding,
}

impl TextEmbeddings {
    /// Builds the embeddings with unloaded weights.
    pub fn new(vocab: usize, positions: usize, hidden: usize, device: &Device) -> Self {
        TextEmbeddings {
            token_embedding: EmbeddingConfig::new(vocab, hidden)
                .with_initializer(UNLOADED)
                .init(device),
            position_embedding: EmbeddingConfig::new(positions, hidden)
                .with_initializer(UNLOADED)
                .init(device),
        }
    }

    /// `ids: [batch, seq]` → `[batch, seq, hidden]`, positions `0..seq`.
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let [_, s] = ids.dims();
        let positions = self.position_embedding.weight.val().narrow(0, 0, s);
        self.token_embedding.forward(ids) + positions.unsqueeze::<3>()
    }
}

/// How parameters start before the checkpoint replaces them all (the loader proves every one
/// is set): zeros, which cost a memset, rather than burn's default random initialisers, whose
/// sampling is thrown away.
pub const UNLOADED: Initializer = Initializer::Zeros;

/// A vision tower's patch embedding as rows, `[batch, 3, size, size]` → `[batch, patches,
/// hidden]`: on the CPU kernels once the tower was prepared for them (`cpu`), else burn's
/// convolution.
pub fn patch_rows(conv: &Conv2d, cpu: Option<&CpuPatches>, pixels: Tensor<4>) -> Tensor<3> {
    match cpu {
        Some(cpu) => cpu.forward(pixels),
        None => {
            let patches = conv.forward(pixels); // [b, hidden, gh, gw]
            let [b, hidden, gh, gw] = patches.dims();
            patches.reshape([b, hidden, gh * gw]).swap_dims(1, 2)
        }
    }
}

/// A layer norm with the checkpoint's epsilon.
pub fn layer_norm(dim: usize, eps: f64, device: &Device) -> LayerNorm {
    LayerNormConfig::new(dim).with_epsilon(eps).init(device)
}

/// A bias-free linear layer (CLIP's projections).
pub fn linear_no_bias(d_in: usize, d_out: usize, device: &Device) -> Linear {
    LinearConfig::new(d_in, d_out)
        .with_bias(false)
        .with_initializer(UNLOADED)
        .init(device)
}

/// Divides each row of `[batch, dim]` by its L2 norm.
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}
