//! Florence-2's image side: the DaViT vision tower (`Florence2VisionBackbone`) and the
//! projector into the language model (`Florence2MultiModalProjector`), transformers 5.23
//! `models/florence2/modeling_florence2.py`. Field names are the checkpoint's.
//!
//! Each stage is an embedding convolution and blocks of (spatial block, channel block): a
//! depthwise 3×3 convolution added as a position encoding, attention (in 12×12 windows, or
//! across channels), another depthwise convolution, an MLP. The projector adds learned 2D
//! positions, prepends the mean of all tokens, and projects to the language model's width.

use std::sync::Arc;

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::softmax;
use burn::tensor::module::attention;
use burn::tensor::ops::{AttentionModuleOptions, PadMode};
use burn::tensor::{DType, Device, Int, Tensor, TensorData};

use super::config::VisionConfig;
use crate::cpu::CpuDavit;
use crate::transformer::{layer_norm, linear_no_bias, UNLOADED};

/// LayerNorm's epsilon everywhere in Florence-2 (PyTorch's default).
pub const LN_EPS: f64 = 1e-5;

fn linear(d_in: usize, d_out: usize, bias: bool, device: &Device) -> Linear {
    LinearConfig::new(d_in, d_out)
        .with_bias(bias)
        .with_initializer(UNLOADED)
        .init(device)
}

/// `[b, c, h, w]` → `[b, h·w, c]` (row-major tokens).
fn tokens(x: Tensor<4>) -> Tensor<3> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h * w]).swap_dims(1, 2)
}

/// `[b, h·w, c]` → `[b, c, h, w]`.
fn map(t: Tensor<3>, h: usize, w: usize) -> Tensor<4> {
    let [b, _, c] = t.dims();
    t.swap_dims(1, 2).reshape([b, c, h, w])
}

/// A layer norm over the channels of `[b, c, h, w]`.
fn norm_channels(norm: &LayerNorm, x: Tensor<4>) -> Tensor<4> {
    norm.forward(x.permute([0, 2, 3, 1])).permute([0, 3, 1, 2])
}

/// A stage's embedding convolution with its norm (`Florence2VisionConvEmbed`).
#[derive(Module, Debug)]
pub struct ConvEmbed {
    /// The strided convolution.
    pub conv: Conv2d,
    /// Before the convolution (over its input channels) or after it.
    pub norm: LayerNorm,
    /// Whether the norm comes first.
    #[module(skip)]
    pub pre_norm: bool,
}

impl ConvEmbed {
    fn new(cfg: &VisionConfig, stage: usize, device: &Device) -> Self {
        let c_in = if stage == 0 {
            cfg.in_channels
        } else {
            cfg.embed_dim[stage - 1]
        };
        let c_out = cfg.embed_dim[stage];
        let (k, s, p) = (
            cfg.patch_size[stage],
            cfg.patch_stride[stage],
            cfg.patch_padding[stage],
        );
        let pre_norm = cfg.patch_prenorm[stage];
        ConvEmbed {
            conv: Conv2dConfig::new([c_in, c_out], [k, k])
                .with_stride([s, s])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .with_initializer(UNLOADED)
                .init(device),
            norm: layer_norm(if pre_norm { c_in } else { c_out }, LN_EPS, device),
            pre_norm,
        }
    }

    /// `[b, c, h, w]` → the next map.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if self.pre_norm {
            self.conv.forward(norm_channels(&self.norm, x))
        } else {
            norm_channels(&self.norm, self.conv.forward(x))
        }
    }
}

/// The blocks' MLP (`Florence2VisionMLP`).
#[derive(Module, Debug)]
pub struct Mlp {
    /// channels → channels·ratio.
    pub fc1: Linear,
    /// Back.
    pub fc2: Linear,
}

impl Mlp {
    fn new(dim: usize, ratio: f64, device: &Device) -> Self {
        // int(dim * mlp_ratio), as transformers computes it.
        let hidden = (dim as f64 * ratio) as usize;
        Mlp {
            fc1: linear(dim, hidden, true, device),
            fc2: linear(hidden, dim, true, device),
        }
    }

    /// `[b, n, c]` → `[b, n, c]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.fc2.forward(crate::fast::gelu(self.fc1.forward(x)))
    }
}

/// Self-attention inside non-overlapping windows (`Florence2VisionWindowAttention`): no
/// relative position bias, no shift; the map is padded with zeros (after the norm, unmasked)
/// to a multiple of the window.
#[derive(Module, Debug)]
pub struct WindowAttention {
    /// q, k, v in one projection (q first, heads outermost within each).
    pub qkv: Linear,
    /// Output projection.
    pub proj: Linear,
    /// Heads.
    #[module(skip)]
    pub heads: usize,
    /// Window side.
    #[module(skip)]
    pub window: usize,
}

impl WindowAttention {
    /// `[b, h·w, c]` → `[b, h·w, c]`.
    pub fn forward(&self, t: Tensor<3>, h: usize, w: usize) -> Tensor<3> {
        let [b, _, c] = t.dims();
        let ws = self.window;
        let (pad_b, pad_r) = ((ws - h % ws) % ws, (ws - w % ws) % ws);
        let x = t.reshape([b, h, w, c]);
        let x = if pad_b + pad_r > 0 {
            x.pad([(0, pad_b), (0, pad_r), (0, 0)], PadMode::Constant(0.0))
        } else {
            x
        };
        let (hp, wp) = (h + pad_b, w + pad_r);
        let (nh, nw) = (hp / ws, wp / ws);
        let n = ws * ws;
        let windows = x
            .reshape([b, nh, ws, nw, ws, c])
            .permute([0, 1, 3, 2, 4, 5])
            .reshape([b * nh * nw, n, c]);
        let hd = c / self.heads;
        let qkv = self
            .qkv
            .forward(windows)
            .reshape([b * nh * nw, n, 3, self.heads, hd])
            .permute([2, 0, 3, 1, 4]);
        let part = |i: usize| {
            qkv.clone()
                .narrow(0, i, 1)
                .reshape([b * nh * nw, self.heads, n, hd])
        };
        let out = attention(
            part(0),
            part(1),
            part(2),
            None,
            None,
            AttentionModuleOptions::default(),
        );
        let out = self
            .proj
            .forward(out.swap_dims(1, 2).reshape([b * nh * nw, n, c]));
        let x = out
            .reshape([b, nh, nw, ws, ws, c])
            .permute([0, 1, 3, 2, 4, 5])
            .reshape([b, hp, wp, c]);
        let x = if pad_b + pad_r > 0 {
            x.narrow(1, 0, h).narrow(2, 0, w)
        } else {
            x
        };
        x.reshape([b, h * w, c])
    }
}

/// Attention across channels (`Florence2VisionChannelAttention`): within each group, the
/// channels attend to each other with the spatial tokens as features, scaled by tokens^-½.
#[derive(Module, Debug)]
pub struct ChannelAttention {
    /// q, k, v in one projection.
    pub qkv: Linear,
    /// Output projection.
    pub proj: Linear,
    /// Channel groups.
    #[module(skip)]
    pub groups: usize,
}

impl ChannelAttention {
    /// `[b, n, c]` → `[b, n, c]`.
    pub fn forward(&self, t: Tensor<3>) -> Tensor<3> {
        let [b, n, c] = t.dims();
        let cg = c / self.groups;
        let qkv = self
            .qkv
            .forward(t)
            .reshape([b, n, 3, self.groups, cg])
            .permute([2, 0, 3, 4, 1]); // [3, b, g, cg, n]
        let part = |i: usize| qkv.clone().narrow(0, i, 1).reshape([b, self.groups, cg, n]);
        let (q, k, v) = (part(0), part(1), part(2));
        let scale = (n as f64).powf(-0.5);
        let scores = softmax(q.matmul(k.swap_dims(2, 3)) * scale, 3); // [b, g, cg, cg]
        let out = scores.matmul(v); // [b, g, cg, n]
        self.proj
            .forward(out.permute([0, 3, 1, 2]).reshape([b, n, c]))
    }
}

fn depthwise(dim: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([dim, dim], [3, 3])
        .with_groups(dim)
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_initializer(UNLOADED)
        .init(device)
}

/// The spatial block (`Florence2VisionSpatialBlock`).
#[derive(Module, Debug)]
pub struct SpatialBlock {
    /// Depthwise 3×3 position encoding before attention.
    pub conv1: Conv2d,
    /// Norm before attention.
    pub norm1: LayerNorm,
    /// Window attention.
    pub window_attn: WindowAttention,
    /// Depthwise 3×3 position encoding before the MLP.
    pub conv2: Conv2d,
    /// Norm before the MLP.
    pub norm2: LayerNorm,
    /// The MLP.
    pub ffn: Mlp,
}

/// The channel block (`Florence2VisionChannelBlock`).
#[derive(Module, Debug)]
pub struct ChannelBlock {
    /// Depthwise 3×3 position encoding before attention.
    pub conv1: Conv2d,
    /// Norm before attention.
    pub norm1: LayerNorm,
    /// Channel attention.
    pub channel_attn: ChannelAttention,
    /// Depthwise 3×3 position encoding before the MLP.
    pub conv2: Conv2d,
    /// Norm before the MLP.
    pub norm2: LayerNorm,
    /// The MLP.
    pub ffn: Mlp,
}

/// The residual pattern both blocks share, with `attend` mapping normed tokens.
fn block_forward(
    x: Tensor<4>,
    (conv1, norm1, conv2, norm2, ffn): (&Conv2d, &LayerNorm, &Conv2d, &LayerNorm, &Mlp),
    attend: impl FnOnce(Tensor<3>, usize, usize) -> Tensor<3>,
) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let x = x.clone() + conv1.forward(x);
    let t = tokens(x);
    let t = t.clone() + attend(norm1.forward(t), h, w);
    let x = map(t, h, w);
    let x = x.clone() + conv2.forward(x);
    let t = tokens(x);
    let t = t.clone() + ffn.forward(norm2.forward(t));
    map(t, h, w)
}

impl SpatialBlock {
    /// `[b, c, h, w]` → the next map.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let parts = (
            &self.conv1,
            &self.norm1,
            &self.conv2,
            &self.norm2,
            &self.ffn,
        );
        block_forward(x, parts, |t, h, w| self.window_attn.forward(t, h, w))
    }
}

impl ChannelBlock {
    /// `[b, c, h, w]` → the next map.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let parts = (
            &self.conv1,
            &self.norm1,
            &self.conv2,
            &self.norm2,
            &self.ffn,
        );
        block_forward(x, parts, |t, _, _| self.channel_attn.forward(t))
    }
}

/// A spatial block then a channel block (`Florence2VisionBlock`).
#[derive(Module, Debug)]
pub struct DaVitBlock {
    /// Window attention.
    pub spatial_block: SpatialBlock,
    /// Channel attention.
    pub channel_block: ChannelBlock,
}

impl DaVitBlock {
    fn new(cfg: &VisionConfig, stage: usize, device: &Device) -> Self {
        let dim = cfg.embed_dim[stage];
        let qkv = |d: &Device| linear(dim, 3 * dim, cfg.qkv_bias, d);
        SpatialBlock {
            conv1: depthwise(dim, device),
            norm1: layer_norm(dim, LN_EPS, device),
            window_attn: WindowAttention {
                qkv: qkv(device),
                proj: linear(dim, dim, true, device),
                heads: cfg.num_heads[stage],
                window: cfg.window_size,
            },
            conv2: depthwise(dim, device),
            norm2: layer_norm(dim, LN_EPS, device),
            ffn: Mlp::new(dim, cfg.mlp_ratio, device),
        }
        .pair(ChannelBlock {
            conv1: depthwise(dim, device),
            norm1: layer_norm(dim, LN_EPS, device),
            channel_attn: ChannelAttention {
                qkv: qkv(device),
                proj: linear(dim, dim, true, device),
                groups: cfg.num_groups[stage],
            },
            conv2: depthwise(dim, device),
            norm2: layer_norm(dim, LN_EPS, device),
            ffn: Mlp::new(dim, cfg.mlp_ratio, device),
        })
    }

    /// `[b, c, h, w]` → the next map.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.channel_block.forward(self.spatial_block.forward(x))
    }
}

impl SpatialBlock {
    fn pair(self, channel_block: ChannelBlock) -> DaVitBlock {
        DaVitBlock {
            spatial_block: self,
            channel_block,
        }
    }
}

/// The DaViT backbone (`Florence2VisionBackbone`): no final norm, no pooling.
#[derive(Module, Debug)]
pub struct VisionTower {
    /// Each stage's embedding convolution (empty once [`VisionTower::prepare_cpu`] took them).
    pub convs: Vec<ConvEmbed>,
    /// Each stage's blocks (likewise).
    pub blocks: Vec<Vec<DaVitBlock>>,
    /// The stages held for the fused CPU kernels, after [`VisionTower::prepare_cpu`].
    #[module(skip)]
    pub cpu: Option<Arc<CpuDavit>>,
}

impl VisionTower {
    /// Builds the tower with unloaded weights.
    pub fn new(cfg: &VisionConfig, device: &Device) -> Self {
        let stages = cfg.depths.len();
        VisionTower {
            convs: (0..stages)
                .map(|s| ConvEmbed::new(cfg, s, device))
                .collect(),
            blocks: (0..stages)
                .map(|s| {
                    (0..cfg.depths[s])
                        .map(|_| DaVitBlock::new(cfg, s, device))
                        .collect()
                })
                .collect(),
            cpu: None,
        }
    }

    /// Moves f32 weights on the CPU to the fused kernels of [`crate::cpu`]; from then on
    /// `forward` runs there. Call once the checkpoint is loaded. Elsewhere (a GPU, fp16) the
    /// stages stay burn's.
    pub fn prepare_cpu(&mut self) {
        let Some(first) = self.convs.first() else {
            return;
        };
        let weight = first.conv.weight.val();
        if weight.device() != Device::flex() || weight.dtype() != DType::F32 {
            return;
        }
        self.cpu = CpuDavit::new(self, LN_EPS).map(Arc::new);
    }

    /// `[b, 3, H, W]` → the last stage's map `[b, C, H/32, W/32]`.
    pub fn forward(&self, pixels: Tensor<4>) -> Tensor<4> {
        let Some(cpu) = &self.cpu else {
            return self.forward_with_burn(pixels);
        };
        let [b, _, h, w] = pixels.dims();
        let device = pixels.device();
        let data = pixels
            .into_data()
            .try_into_vec::<f32>()
            .expect("prepare_cpu checked the dtype is f32");
        let mut out = Vec::new();
        let mut side = (0, 0);
        for image in data.chunks_exact((data.len() / b.max(1)).max(1)) {
            let (map, s) = cpu.forward(image, (h, w));
            out.extend(map);
            side = s;
        }
        let c = out.len() / (b * side.0 * side.1).max(1);
        let t = Tensor::<3>::from_data(TensorData::new(out, [b, side.0 * side.1, c]), &device);
        map(t, side.0, side.1)
    }

    /// The stages run as burn ops (a GPU, or before [`VisionTower::prepare_cpu`]).
    pub fn forward_with_burn(&self, pixels: Tensor<4>) -> Tensor<4> {
        let mut x = pixels;
        for (conv, blocks) in self.convs.iter().zip(&self.blocks) {
            x = conv.forward(x);
            for block in blocks {
                x = block.forward(x);
            }
        }
        x
    }
}

/// Learned 2D positions (`Florence2VisionLearnedAbsolutePositionEmbedding2D`).
#[derive(Module, Debug)]
pub struct Positions2d {
    /// Indexed by row: the last `c/2` channels.
    pub row_embeddings: Embedding,
    /// Indexed by column: the first `c - c/2` channels.
    pub column_embeddings: Embedding,
}

/// The fixed sinusoidal frame embedding (`Florence2VisionPositionalEmbeddingCosine1D`); one
/// frame, so only its first row is used.
#[derive(Module, Debug)]
pub struct Temporal {
    /// `[max frames, c]`, a buffer stored in the checkpoint.
    pub pos_idx_to_embed: Param<Tensor<2>>,
}

/// Image features into the language model (`Florence2MultiModalProjector`).
#[derive(Module, Debug)]
pub struct Projector {
    /// Vision channels → the language model's width, no bias.
    pub image_projection: Linear,
    /// Norm after the projection.
    pub image_proj_norm: LayerNorm,
    /// Learned 2D positions.
    pub image_position_embed: Positions2d,
    /// The frame embedding.
    pub visual_temporal_embed: Temporal,
}

impl Projector {
    /// Builds the projector with unloaded weights.
    pub fn new(cfg: &VisionConfig, device: &Device) -> Self {
        let c = *cfg.embed_dim.last().expect("checked: at least one stage");
        let table = |rows: usize, dim: usize| {
            EmbeddingConfig::new(rows, dim)
                .with_initializer(UNLOADED)
                .init(device)
        };
        Projector {
            image_projection: linear_no_bias(c, cfg.projection_dim, device),
            image_proj_norm: layer_norm(cfg.projection_dim, LN_EPS, device),
            image_position_embed: Positions2d {
                row_embeddings: table(cfg.max_position_embeddings, c / 2),
                column_embeddings: table(cfg.max_position_embeddings, c - c / 2),
            },
            visual_temporal_embed: Temporal {
                pos_idx_to_embed: Param::from_tensor(Tensor::zeros(
                    [cfg.max_temporal_embeddings, c],
                    device,
                )),
            },
        }
    }

    /// Rows of the 2D position table: the largest feature map side this model takes.
    pub fn max_side(&self) -> usize {
        self.image_position_embed.row_embeddings.weight.dims()[0]
    }

    /// `[b, c, h, w]` → `[b, 1 + h·w, d]`: the mean token first, then each position's.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<3> {
        let [_, c, h, w] = x.dims();
        let device = x.device();
        let rows = Tensor::<1, Int>::arange(0..h as i64, &device);
        let cols = Tensor::<1, Int>::arange(0..w as i64, &device);
        let pe = &self.image_position_embed;
        let row = pe
            .row_embeddings
            .forward(rows.unsqueeze())
            .reshape([h, 1, c / 2]);
        let col = pe
            .column_embeddings
            .forward(cols.unsqueeze())
            .reshape([1, w, c - c / 2]);
        let pos = Tensor::cat(
            vec![col.expand([h, w, c - c / 2]), row.expand([h, w, c / 2])],
            2,
        ); // [h, w, c]
        let t = tokens(x) + pos.reshape([1, h * w, c]);
        let frame = self
            .visual_temporal_embed
            .pos_idx_to_embed
            .val()
            .narrow(0, 0, 1)
            .reshape([1, 1, c]);
        let t = t + frame;
        let pooled = t.clone().mean_dim(1); // [b, 1, c]
        let all = Tensor::cat(vec![pooled, t], 1);
        self.image_proj_norm
            .forward(self.image_projection.forward(all))
    }
}
