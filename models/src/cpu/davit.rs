//! Florence-2's DaViT vision tower on the CPU, as one pass over channels-last buffers.
//!
//! burn's ops run the tower as a chain of tensors in `[b, c, h, w]`: every block turns the map
//! into tokens and back four times (copies), the depthwise convolutions run as grouped
//! convolutions, windows are cut and stitched by permutes, and channel attention multiplies
//! strided views. Here one image's map stays `[h·w, c]` (row-major tokens) from the first
//! convolution to the last block:
//! - the stage convolutions gather their patches into rows and run on the packed matrix
//!   kernels, as the linear layers do;
//! - the depthwise 3×3 position encodings are one pass per output row, adding into the map;
//! - window attention gathers each 12×12 window's normed rows, runs the fused q/k/v product
//!   and the same attention kernels as CLIP's encoder, and adds the projected windows back;
//! - channel attention's `cg × cg` scores are summed over all tokens per group, and each
//!   token's output is its values times the scores, in row blocks;
//! - biases, the GELU and residuals are folded into the products' row passes, as in
//!   [`super::CpuEncoder`].
//!
//! It computes what [`crate::florence2::vision::VisionTower::forward_with_burn`] computes (a
//! test holds the two together on random weights, and the parity tests hold the tower to
//! transformers). fp32 only.

use burn::nn::conv::Conv2d;
use burn::nn::PaddingConfig2d;
use rayon::prelude::*;

use super::gemm::{matmul, MatMut, MatRef, Threads};
use super::{add_bias, attend, gather_heads, norm_of, norm_rows, parts_of, values, CpuLinear};
use crate::config::Activation;
use crate::florence2::vision::{ChannelBlock, ConvEmbed, DaVitBlock, SpatialBlock, VisionTower};

/// A stage's strided convolution as one product: patches gathered channels-last.
struct StageConv {
    linear: CpuLinear,
    kernel: usize,
    stride: usize,
    pad: usize,
    c_in: usize,
    norm: (Vec<f32>, Vec<f32>),
    pre_norm: bool,
}

/// A depthwise 3×3 convolution (padding 1): each tap's weights over the channels.
struct Depthwise {
    taps: Vec<f32>,
    bias: Vec<f32>,
}

/// The two attentions' own parts.
enum Attend {
    /// Self-attention in `window × window` windows with `heads` heads.
    Window { heads: usize, window: usize },
    /// Attention across the channels in `groups` groups.
    Channel { groups: usize },
}

/// A spatial or channel block.
struct Block {
    conv1: Depthwise,
    norm1: (Vec<f32>, Vec<f32>),
    qkv: CpuLinear,
    proj: CpuLinear,
    attend: Attend,
    conv2: Depthwise,
    norm2: (Vec<f32>, Vec<f32>),
    fc1: CpuLinear,
    fc2: CpuLinear,
}

struct Stage {
    conv: StageConv,
    blocks: Vec<Block>,
    dim: usize,
}

/// The DaViT tower held for the CPU kernels.
pub struct CpuDavit {
    stages: Vec<Stage>,
    eps: f32,
}

impl std::fmt::Debug for CpuDavit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuDavit")
            .field(
                "dims",
                &self.stages.iter().map(|s| s.dim).collect::<Vec<_>>(),
            )
            .field(
                "blocks",
                &self
                    .stages
                    .iter()
                    .map(|s| s.blocks.len())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The padding of a convolution padded alike on every side.
fn even_padding(conv: &Conv2d) -> Option<usize> {
    match conv.padding {
        PaddingConfig2d::Valid => Some(0),
        PaddingConfig2d::Explicit(t, l, b, r) if t == l && l == b && b == r => Some(t),
        PaddingConfig2d::Explicit(..) | PaddingConfig2d::Same => None,
    }
}

fn conv_bias(conv: &Conv2d, n: usize) -> Vec<f32> {
    conv.bias
        .as_ref()
        .map_or_else(|| vec![0.0; n], |b| values(b.val()))
}

impl StageConv {
    /// Whether `conv` is square, strided alike both ways and padded alike on every side.
    fn fits(conv: &Conv2d) -> bool {
        let [_, _, k, k2] = conv.weight.dims();
        k == k2
            && conv.stride[0] == conv.stride[1]
            && conv.dilation == [1, 1]
            && conv.groups == 1
            && even_padding(conv).is_some()
    }

    fn new(embed: ConvEmbed) -> Option<Self> {
        let conv = &embed.conv;
        if !Self::fits(conv) {
            return None;
        }
        let [c_out, c_in, k, _] = conv.weight.dims();
        let pad = even_padding(conv)?;
        // [c_out, c_in, ky, kx] → rows ((ky·k + kx)·c_in + ci), columns c_out.
        let w = values(conv.weight.val());
        let rows = k * k * c_in;
        let mut t = vec![0.0; rows * c_out];
        for co in 0..c_out {
            for ci in 0..c_in {
                for tap in 0..k * k {
                    t[(tap * c_in + ci) * c_out + co] = w[(co * c_in + ci) * k * k + tap];
                }
            }
        }
        let bias = conv_bias(conv, c_out);
        Some(StageConv {
            linear: CpuLinear::new(t, rows, c_out, bias, false),
            kernel: k,
            stride: conv.stride[0],
            pad,
            c_in,
            norm: norm_of(embed.norm),
            pre_norm: embed.pre_norm,
        })
    }

    /// The output side for an input side.
    fn out_side(&self, side: usize) -> usize {
        (side + 2 * self.pad - self.kernel) / self.stride + 1
    }

    /// Channels-last `[h·w, c_in]` → `[h'·w', c_out]` with its norm (before or after).
    fn forward(
        &self,
        x: &mut Vec<f32>,
        (h, w): (usize, usize),
        eps: f32,
        scratch: &mut Vec<f32>,
    ) -> (usize, usize) {
        let c = self.c_in;
        if self.pre_norm {
            let out = sized(scratch, x.len());
            norm_rows(x, out, &self.norm, eps, None);
            std::mem::swap(x, scratch);
        }
        let (ho, wo) = (self.out_side(h), self.out_side(w));
        let (k, s, p) = (self.kernel, self.stride, self.pad);
        let row = k * k * c;
        scratch.clear();
        scratch.resize(ho * wo * row, 0.0);
        let input = &*x;
        scratch
            .par_chunks_mut(wo * row)
            .enumerate()
            .for_each(|(oy, out)| {
                for (ox, patch) in out.chunks_exact_mut(row).enumerate() {
                    for ky in 0..k {
                        let Some(y) = (oy * s + ky).checked_sub(p).filter(|&y| y < h) else {
                            continue;
                        };
                        for kx in 0..k {
                            let Some(xx) = (ox * s + kx).checked_sub(p).filter(|&x| x < w) else {
                                continue;
                            };
                            let src = (y * w + xx) * c;
                            patch[(ky * k + kx) * c..][..c].copy_from_slice(&input[src..src + c]);
                        }
                    }
                }
            });
        let n = self.linear.n;
        x.clear();
        x.resize(ho * wo * n, 0.0);
        self.linear.product(scratch, ho * wo, x, false);
        add_bias(x, &self.linear.bias, None);
        if !self.pre_norm {
            let out = sized(scratch, x.len());
            norm_rows(x, out, &self.norm, eps, None);
            std::mem::swap(x, scratch);
        }
        (ho, wo)
    }
}

impl Depthwise {
    /// Whether `conv` is a depthwise 3×3 convolution, stride 1, padding 1.
    fn fits(conv: &Conv2d) -> bool {
        let [c, one, k, k2] = conv.weight.dims();
        one == 1
            && k == 3
            && k2 == 3
            && conv.groups == c
            && conv.stride == [1, 1]
            && conv.dilation == [1, 1]
            && even_padding(conv) == Some(1)
    }

    fn new(conv: &Conv2d) -> Option<Self> {
        if !Self::fits(conv) {
            return None;
        }
        let c = conv.weight.dims()[0];
        let w = values(conv.weight.val());
        let mut taps = vec![0.0; 9 * c];
        for ch in 0..c {
            for tap in 0..9 {
                taps[tap * c + ch] = w[ch * 9 + tap];
            }
        }
        Some(Depthwise {
            taps,
            bias: conv_bias(conv, c),
        })
    }

    /// `out = x + conv(x)` over a channels-last `[h·w, c]` map.
    fn add(&self, x: &[f32], out: &mut [f32], (h, w): (usize, usize)) {
        let c = self.bias.len();
        out.par_chunks_mut(w * c).enumerate().for_each(|(y, row)| {
            for (xx, o) in row.chunks_exact_mut(c).enumerate() {
                let at = (y * w + xx) * c;
                for ((o, v), b) in o.iter_mut().zip(&x[at..at + c]).zip(&self.bias) {
                    *o = v + b;
                }
                for ky in 0..3 {
                    let Some(sy) = (y + ky).checked_sub(1).filter(|&s| s < h) else {
                        continue;
                    };
                    for kx in 0..3 {
                        let Some(sx) = (xx + kx).checked_sub(1).filter(|&s| s < w) else {
                            continue;
                        };
                        let src = &x[(sy * w + sx) * c..][..c];
                        let tap = &self.taps[(ky * 3 + kx) * c..][..c];
                        for ((o, v), t) in o.iter_mut().zip(src).zip(tap) {
                            *o += v * t;
                        }
                    }
                }
            }
        });
    }
}

/// Scratch buffers of one image's pass, reused by every block.
#[derive(Default)]
struct Buffers {
    spare: Vec<f32>,
    normed: Vec<f32>,
    qkv: Vec<f32>,
    heads: Vec<f32>,
    context: Vec<f32>,
    hidden: Vec<f32>,
}

/// Sets `v` to `len` values, keeping its allocation (the values are overwritten by the caller).
fn sized(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    v.resize(len, 0.0);
    &mut v[..len]
}

impl Block {
    fn parts(
        conv1: &Conv2d,
        conv2: &Conv2d,
        linears: [burn::nn::Linear; 4],
        norms: [burn::nn::LayerNorm; 2],
        attend: Attend,
    ) -> Option<Self> {
        let [qkv, proj, fc1, fc2] = linears.map(|l| {
            let (w, k, n, b) = parts_of(l);
            CpuLinear::new(w, k, n, b, false)
        });
        let [norm1, norm2] = norms.map(norm_of);
        Some(Block {
            conv1: Depthwise::new(conv1)?,
            norm1,
            qkv,
            proj,
            attend,
            conv2: Depthwise::new(conv2)?,
            norm2,
            fc1,
            fc2,
        })
    }

    fn spatial(b: SpatialBlock) -> Option<Self> {
        let attend = Attend::Window {
            heads: b.window_attn.heads,
            window: b.window_attn.window,
        };
        Self::parts(
            &b.conv1,
            &b.conv2,
            [b.window_attn.qkv, b.window_attn.proj, b.ffn.fc1, b.ffn.fc2],
            [b.norm1, b.norm2],
            attend,
        )
    }

    fn channel(b: ChannelBlock) -> Option<Self> {
        let attend = Attend::Channel {
            groups: b.channel_attn.groups,
        };
        Self::parts(
            &b.conv1,
            &b.conv2,
            [
                b.channel_attn.qkv,
                b.channel_attn.proj,
                b.ffn.fc1,
                b.ffn.fc2,
            ],
            [b.norm1, b.norm2],
            attend,
        )
    }

    /// One block over the map `x` (`[h·w, c]`), in place.
    fn forward(&self, x: &mut Vec<f32>, hw: (usize, usize), eps: f32, buf: &mut Buffers) {
        let c = self.proj.n;
        let rows = x.len() / c;
        // x += conv1(x); normed = LN1(x); x += the out-projection's bias.
        let spare = sized(&mut buf.spare, x.len());
        self.conv1.add(x, spare, hw);
        std::mem::swap(x, &mut buf.spare);
        let normed = sized(&mut buf.normed, x.len());
        norm_rows(x, normed, &self.norm1, eps, Some(&self.proj.bias));
        match self.attend {
            Attend::Window { heads, window } => self.window(x, hw, (heads, window), buf),
            Attend::Channel { groups } => self.channels(x, groups, buf),
        }
        // x += conv2(x); normed = LN2(x); x += fc2's bias; x += fc2(GELU(fc1(normed))).
        let spare = sized(&mut buf.spare, x.len());
        self.conv2.add(x, spare, hw);
        std::mem::swap(x, &mut buf.spare);
        let normed = sized(&mut buf.normed, x.len());
        norm_rows(x, normed, &self.norm2, eps, Some(&self.fc2.bias));
        let hidden = sized(&mut buf.hidden, rows * self.fc1.n);
        self.fc1.product(&buf.normed, rows, hidden, false);
        add_bias(hidden, &self.fc1.bias, Some(Activation::Gelu));
        self.fc2.product(&buf.hidden, rows, x, true);
    }

    /// `x += proj(attention in windows(normed))`; windows past the map's edge are padded with
    /// zero rows, which take part as keys, as in transformers.
    fn window(
        &self,
        x: &mut [f32],
        (h, w): (usize, usize),
        (heads, ws): (usize, usize),
        buf: &mut Buffers,
    ) {
        let c = self.proj.n;
        let (nh, nw) = (h.div_ceil(ws), w.div_ceil(ws));
        let (windows, n) = (nh * nw, ws * ws);
        let rows = windows * n;
        // Window-major rows: window (wy, wx), then (iy, ix) inside it.
        let gathered = sized(&mut buf.context, rows * c);
        let normed = &buf.normed;
        gathered
            .par_chunks_mut(n * c)
            .enumerate()
            .for_each(|(win, out)| {
                let (wy, wx) = (win / nw, win % nw);
                for (i, row) in out.chunks_exact_mut(c).enumerate() {
                    let (y, xx) = (wy * ws + i / ws, wx * ws + i % ws);
                    if y < h && xx < w {
                        row.copy_from_slice(&normed[(y * w + xx) * c..][..c]);
                    } else {
                        row.fill(0.0);
                    }
                }
            });
        let qkv = sized(&mut buf.qkv, rows * 3 * c);
        self.qkv.product(&buf.context, rows, qkv, false);
        add_bias(qkv, &self.qkv.bias, None);
        let head_major = sized(&mut buf.heads, rows * c);
        attend(&buf.qkv, head_major, (windows, n), c, heads, false);
        let context = sized(&mut buf.context, rows * c);
        gather_heads(&buf.heads, context, n, c, heads);
        let projected = sized(&mut buf.normed, rows * c);
        self.proj.product(&buf.context, rows, projected, false);
        // Back to the map's rows, adding.
        let projected = &buf.normed;
        x.par_chunks_mut(w * c).enumerate().for_each(|(y, row)| {
            let (wy, iy) = (y / ws, y % ws);
            for (xx, dst) in row.chunks_exact_mut(c).enumerate() {
                let (wx, ix) = (xx / ws, xx % ws);
                let src = ((wy * nw + wx) * n + iy * ws + ix) * c;
                for (d, s) in dst.iter_mut().zip(&projected[src..src + c]) {
                    *d += s;
                }
            }
        });
    }

    /// `x += proj(channel attention(normed))`: per group, the channels' `cg × cg` scores summed
    /// over every token (scaled by tokens^-½), and each token's output its values times them.
    fn channels(&self, x: &mut [f32], groups: usize, buf: &mut Buffers) {
        let c = self.proj.n;
        let rows = x.len() / c;
        let cg = c / groups;
        let qkv = sized(&mut buf.qkv, rows * 3 * c);
        self.qkv.product(&buf.normed, rows, qkv, false);
        add_bias(qkv, &self.qkv.bias, None);
        let qkv = &buf.qkv;
        let scale = (rows as f32).powf(-0.5);
        let scores = sized(&mut buf.heads, groups * cg * cg);
        scores
            .par_chunks_mut(cg * cg)
            .enumerate()
            .for_each(|(g, s)| {
                // qᵀ (cg × tokens) times k (tokens × cg).
                let q = MatRef::new(&qkv[g * cg..], cg, rows, 1, 3 * c);
                let k = MatRef::new(&qkv[c + g * cg..], rows, cg, 3 * c, 1);
                matmul(MatMut::rows(s, cg, cg), q, k, scale, false, Threads::One);
                super::kernels::softmax_rows(s, cg, false, 0);
            });
        let scores = &buf.heads;
        let context = sized(&mut buf.context, rows * c);
        let block = 256;
        context
            .par_chunks_mut(block * c)
            .enumerate()
            .for_each(|(i, ctx)| {
                let (first, count) = (i * block, ctx.len() / c);
                for g in 0..groups {
                    // out[t, i] = Σ_j v[t, j] · s[i, j].
                    let v =
                        MatRef::new(&qkv[first * 3 * c + 2 * c + g * cg..], count, cg, 3 * c, 1);
                    let s = MatRef::rows(&scores[g * cg * cg..], cg, cg).t();
                    let out = MatMut::new(&mut ctx[g * cg..], count, cg, c, 1);
                    matmul(out, v, s, 1.0, false, Threads::One);
                }
            });
        self.proj.product(&buf.context, rows, x, true);
    }
}

impl CpuDavit {
    /// Takes the tower's stages (each block's burn tensors are dropped as it is converted, so
    /// the weights are never held twice); `None`, with the tower untouched, when any part has
    /// a shape these kernels do not run.
    pub fn new(tower: &mut VisionTower, eps: f64) -> Option<Self> {
        let supported = tower.convs.iter().all(|e| StageConv::fits(&e.conv))
            && tower.blocks.iter().flatten().all(|b: &DaVitBlock| {
                let (s, c) = (&b.spatial_block, &b.channel_block);
                [&s.conv1, &s.conv2, &c.conv1, &c.conv2]
                    .into_iter()
                    .all(Depthwise::fits)
            });
        if !supported || tower.convs.len() != tower.blocks.len() {
            return None;
        }
        let convs = std::mem::take(&mut tower.convs);
        let blocks = std::mem::take(&mut tower.blocks);
        let stages = convs
            .into_iter()
            .zip(blocks)
            .map(|(conv, blocks)| {
                let dim = conv.conv.weight.dims()[0];
                let conv = StageConv::new(conv).expect("checked above");
                let blocks = blocks
                    .into_iter()
                    .flat_map(|b| {
                        [
                            Block::spatial(b.spatial_block),
                            Block::channel(b.channel_block),
                        ]
                    })
                    .map(|b| b.expect("checked above"))
                    .collect();
                Stage { conv, blocks, dim }
            })
            .collect();
        Some(CpuDavit {
            stages,
            eps: eps as f32,
        })
    }

    /// One image, `[3, h, w]` planes → the last stage's map, channels-last `[h'·w', c]`, with
    /// its side.
    pub fn forward(&self, pixels: &[f32], (h, w): (usize, usize)) -> (Vec<f32>, (usize, usize)) {
        let planes = pixels.len() / (h * w);
        // Channels-last, as every stage reads its input.
        let mut x = vec![0.0f32; pixels.len()];
        for (i, px) in x.chunks_exact_mut(planes).enumerate() {
            for (ch, v) in px.iter_mut().enumerate() {
                *v = pixels[ch * h * w + i];
            }
        }
        let mut buf = Buffers::default();
        let mut side = (h, w);
        // On one of rayon's threads, so every parallel step starts there.
        rayon::scope(|_| {
            for stage in &self.stages {
                side = stage.conv.forward(&mut x, side, self.eps, &mut buf.spare);
                for block in &stage.blocks {
                    block.forward(&mut x, side, self.eps, &mut buf);
                }
            }
        });
        (x, side)
    }
}

#[cfg(test)]
mod tests {
    use burn::module::{Module, ModuleMapper, Param};
    use burn::tensor::{Device, Tensor, TensorData};

    use crate::florence2::config::VisionConfig;
    use crate::florence2::vision::VisionTower;

    /// Fills every parameter from a fixed sequence: weights about ±1/√(first dim), vectors
    /// (norms, biases) about 1 ± 0.3.
    struct Fill(u64);

    impl Fill {
        /// In (-1, 1).
        fn uniform(&mut self) -> f32 {
            2.0 * super::super::uniform(&mut self.0) - 1.0
        }
    }

    impl ModuleMapper for Fill {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| {
                let shape = t.shape();
                let scale = 1.0 / (shape[0] as f32).sqrt();
                let values: Vec<f32> = (0..shape.num_elements())
                    .map(|_| {
                        let u = self.uniform();
                        if D == 1 {
                            1.0 + 0.3 * u
                        } else {
                            scale * u
                        }
                    })
                    .collect();
                Tensor::from_data(TensorData::new(values, shape), &t.device())
            })
        }
    }

    #[test]
    fn the_fused_tower_computes_what_burns_ops_compute() {
        let device = Device::flex();
        // 16 values a head runs attention's AVX-512 kernel where the CPU has it, 8 the `gemm`
        // crate; the maps (11×9, then 6×5) are not multiples of the window (3), so windows are
        // padded.
        for heads in [vec![2, 4], vec![4, 8]] {
            let cfg = VisionConfig {
                depths: vec![1, 2],
                patch_size: vec![7, 3],
                patch_stride: vec![4, 2],
                patch_padding: vec![3, 1],
                patch_prenorm: vec![false, true],
                embed_dim: vec![32, 64],
                num_groups: heads.clone(),
                num_heads: heads.clone(),
                window_size: 3,
                ..VisionConfig::default()
            };
            let tower = VisionTower::new(&cfg, &device).map(&mut Fill(0x9E37_79B9_7F4A_7C15));
            let mut fused = tower.clone();
            fused.prepare_cpu();
            assert!(fused.cpu.is_some() && fused.blocks.is_empty());
            let (b, h, w) = (2, 44, 36);
            let pixels: Vec<f32> = (0..b * 3 * h * w)
                .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
                .collect();
            let x = Tensor::<4>::from_data(TensorData::new(pixels, [b, 3, h, w]), &device);
            let want = tower.forward_with_burn(x.clone());
            let got = fused.forward(x);
            assert_eq!(got.dims(), want.dims());
            assert_eq!(got.dims(), [b, 64, 6, 5]);
            let (got, want) = (super::values(got), super::values(want));
            let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let worst = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                worst <= 1e-5 * scale.max(1.0),
                "{heads:?} heads: off by {worst} (values up to {scale})"
            );
        }
    }
}
