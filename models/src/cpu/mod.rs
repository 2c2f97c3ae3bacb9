//! The transformer encoder on the CPU, as one fused pass over plain buffers.
//!
//! burn's CPU backend runs the encoder one tensor op at a time: every op allocates its output,
//! biases and residuals are separate passes, attention is computed naively, and the matrix
//! kernel re-reads weights in the layout the checkpoint loader chose. On a 2-core AVX2 machine
//! that left the ViT-B/32 image tower at 0.62× ONNX Runtime's speed with two thirds of the time
//! in the matrix kernel (`bench/models.sh`). Here the same layer runs with:
//! - q, k and v as one product against one fused weight;
//! - each weight packed once, at load, for an AVX2 + FMA or AVX-512 kernel ([`packed`]) that
//!   reads it in place on every call (elsewhere, stored in the orientation the `gemm` crate runs
//!   fastest for its shape);
//! - biases, activations and the residual stream folded into passes that touch each row once:
//!   the out-projection and the second MLP product accumulate straight into the residual, whose
//!   bias was added while the layer norm had the row in cache;
//! - attention per (image, head) with the scores in a per-thread scratch buffer;
//! - buffers reused from layer to layer.
//!
//! It computes what [`crate::transformer::Encoder`] computes (a test holds the two together on
//! random weights; the parity tests hold it to transformers) and runs only for f32 on the CPU;
//! burn's own ops remain the path on a GPU.

mod attention;
mod davit;
mod gemm;
pub(crate) mod kernels;
mod packed;

use burn::nn::conv::Conv2d;
use burn::nn::{LayerNorm, Linear, PaddingConfig2d};
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

pub use self::davit::CpuDavit;
use self::gemm::{matmul, MatMut, MatRef, Threads};
pub use self::packed::bf16_available;
use self::packed::Packed;
use crate::config::Activation;
use crate::transformer::EncoderLayer;

/// A linear layer's weight (and bias) as the CPU kernel reads it.
struct CpuLinear {
    weight: Weight,
    bias: Vec<f32>,
    k: usize,
    n: usize,
}

/// How a weight is stored.
enum Weight {
    /// Packed once for the AVX2 + FMA kernel ([`packed`]).
    Packed(Packed),
    /// Row-major for the `gemm` crate on other CPUs: `[n, k]` when `out_major`, else `[k, n]`.
    Plain { data: Vec<f32>, out_major: bool },
}

impl Weight {
    /// A row-major weight for the `gemm` crate, widening layers output-major.
    fn plain(weight: Vec<f32>, k: usize, n: usize) -> Self {
        if n > k {
            Weight::Plain {
                data: transpose(&weight, k, n),
                out_major: true,
            }
        } else {
            Weight::Plain {
                data: weight,
                out_major: false,
            }
        }
    }
}

impl CpuLinear {
    /// Whether the products round their factors to bf16.
    #[cfg(test)]
    fn is_bf16(&self) -> bool {
        matches!(&self.weight, Weight::Packed(p) if p.is_bf16())
    }

    /// From an input-major `[k, n]` weight (burn's layout): packed where the CPU runs the
    /// packed kernel; otherwise widening layers are turned output-major, the orientation in
    /// which the `gemm` crate runs them up to twice as fast with few rows (one image).
    fn new(weight: Vec<f32>, k: usize, n: usize, bias: Vec<f32>, bf16: bool) -> Self {
        debug_assert_eq!(weight.len(), k * n);
        debug_assert_eq!(bias.len(), n);
        let weight = match Packed::new(&weight, k, n, bf16) {
            Some(packed) => Weight::Packed(packed),
            None => Weight::plain(weight, k, n),
        };
        CpuLinear { weight, bias, k, n }
    }

    /// Several layers reading the same input, as one layer with their outputs side by side.
    fn fused(parts: Vec<Linear>, bf16: bool) -> Self {
        let parts: Vec<(Vec<f32>, usize, usize, Vec<f32>)> =
            parts.into_iter().map(parts_of).collect();
        let k = parts[0].1;
        let n: usize = parts.iter().map(|p| p.2).sum();
        let mut weight = vec![0.0; k * n];
        let mut bias = Vec::with_capacity(n);
        let mut col = 0;
        for (w, pk, pn, b) in parts {
            assert_eq!(pk, k, "fused layers read the same input");
            for (r, row) in w.chunks_exact(pn).enumerate() {
                weight[r * n + col..r * n + col + pn].copy_from_slice(row);
            }
            bias.extend(b);
            col += pn;
        }
        CpuLinear::new(weight, k, n, bias, bf16)
    }

    /// `out (+)= x · W` over `rows` rows; the bias is the caller's to add.
    fn product(&self, x: &[f32], rows: usize, out: &mut [f32], accumulate: bool) {
        let matrix = match &self.weight {
            Weight::Packed(packed) => return packed.product(x, rows, out, accumulate),
            Weight::Plain {
                data,
                out_major: true,
            } => MatRef::rows(data, self.n, self.k).t(),
            Weight::Plain {
                data,
                out_major: false,
            } => MatRef::rows(data, self.k, self.n),
        };
        matmul(
            MatMut::rows(out, rows, self.n),
            MatRef::rows(x, rows, self.k),
            matrix,
            1.0,
            accumulate,
            Threads::All,
        );
    }
}

/// A linear layer on the packed kernels, taking and giving burn tensors: for models whose
/// layers stay burn modules (Florence-2's BART), where the matrix products are what the
/// kernels bring. burn's CPU matrix product (the `gemm` crate) repacks the weight on every
/// call, which for a decoder step (a row per beam) reads each weight three times over.
pub struct CpuDense(CpuLinear);

impl std::fmt::Debug for CpuDense {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuDense")
            .field("in", &self.0.k)
            .field("out", &self.0.n)
            .finish()
    }
}

impl CpuDense {
    /// From a linear layer with f32 weights on the CPU; `None` for any other (left to burn).
    pub fn new(linear: &Linear) -> Option<Self> {
        let weight = linear.weight.val();
        if !on_cpu_f32(&weight) {
            return None;
        }
        let [k, n] = weight.dims();
        let bias = linear
            .bias
            .as_ref()
            .map_or_else(|| vec![0.0; n], |b| values(b.val()));
        Some(CpuDense(CpuLinear::new(values(weight), k, n, bias, false)))
    }

    /// A layer without bias whose weight is stored `[n, k]` (an embedding table used as the
    /// output head).
    pub fn transposed(weight: Tensor<2>) -> Option<Self> {
        if !on_cpu_f32(&weight) {
            return None;
        }
        let [n, k] = weight.dims();
        let w = transpose(&values(weight), n, k);
        Some(CpuDense(CpuLinear::new(w, k, n, vec![0.0; n], false)))
    }

    /// `[.., k]` → `[.., n]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let mut dims = x.dims();
        let device = x.device();
        let data = values(x);
        let rows = data.len() / self.0.k.max(1);
        let mut out = vec![0.0f32; rows * self.0.n];
        self.0.product(&data, rows, &mut out, false);
        add_bias(&mut out, &self.0.bias, None);
        dims[D - 1] = self.0.n;
        Tensor::from_data(TensorData::new(out, dims), &device)
    }
}

/// Whether a tensor is f32 on burn's CPU backend (what the kernels here read).
fn on_cpu_f32<const D: usize>(t: &Tensor<D>) -> bool {
    t.device() == burn::tensor::Device::flex() && t.dtype() == burn::tensor::DType::F32
}

/// A patch embedding (a convolution whose stride is its kernel, without padding) as one
/// product: each image's patches gathered into rows, times the kernel packed like any linear
/// weight, so it runs on the same kernels (bf16 included) as the encoder instead of burn's
/// general convolution.
pub struct CpuPatches {
    linear: CpuLinear,
    channels: usize,
    patch: usize,
}

impl std::fmt::Debug for CpuPatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuPatches")
            .field("channels", &self.channels)
            .field("patch", &self.patch)
            .field("hidden", &self.linear.n)
            .finish()
    }
}

impl CpuPatches {
    /// From a patchify convolution with f32 weights on the CPU; `None` for any other
    /// convolution (left to burn).
    pub fn new(conv: &Conv2d, bf16: bool) -> Option<Self> {
        let weight = conv.weight.val();
        let [hidden, channels, p, q] = weight.dims();
        let plain = p == q
            && conv.kernel_size == [p, p]
            && conv.stride == [p, p]
            && conv.dilation == [1, 1]
            && conv.groups == 1
            && matches!(conv.padding, PaddingConfig2d::Valid)
            && weight.device() == burn::tensor::Device::flex()
            && weight.dtype() == burn::tensor::DType::F32;
        if !plain {
            return None;
        }
        // [hidden, channels·p·p] → [channels·p·p, hidden].
        let k = channels * p * p;
        let t = transpose(&values(weight), hidden, k);
        let bias = conv
            .bias
            .as_ref()
            .map_or_else(|| vec![0.0; hidden], |b| values(b.val()));
        Some(CpuPatches {
            linear: CpuLinear::new(t, k, hidden, bias, bf16),
            channels,
            patch: p,
        })
    }

    /// `[batch, channels, h, w]` → `[batch, (h / patch) · (w / patch), hidden]`, patches in
    /// row-major order (the convolution's output flattened, channels last).
    pub fn forward(&self, pixels: Tensor<4>) -> Tensor<3> {
        let [b, c, h, w] = pixels.dims();
        assert_eq!(c, self.channels, "pixels have the convolution's channels");
        let device = pixels.device();
        let data = values(pixels);
        let p = self.patch;
        let (gh, gw) = (h / p, w / p);
        let (k, hidden) = (self.linear.k, self.linear.n);
        let rows = b * gh * gw;
        let mut x = vec![0.0f32; rows * k];
        let per_image = gh * gw * k;
        x.par_chunks_mut(per_image.max(1))
            .enumerate()
            .for_each(|(image, x)| {
                for (patch, row) in x.chunks_exact_mut(k).enumerate() {
                    let (gy, gx) = (patch / gw, patch % gw);
                    for ch in 0..c {
                        for ky in 0..p {
                            let src = ((image * c + ch) * h + gy * p + ky) * w + gx * p;
                            row[(ch * p + ky) * p..][..p].copy_from_slice(&data[src..src + p]);
                        }
                    }
                }
            });
        let mut out = vec![0.0f32; rows * hidden];
        self.linear.product(&x, rows, &mut out, false);
        add_bias(&mut out, &self.linear.bias, None);
        Tensor::from_data(TensorData::new(out, [b, gh * gw, hidden]), &device)
    }
}

/// A row-major `[rows, cols]` matrix as row-major `[cols, rows]`.
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; rows * cols];
    for (r, row) in m.chunks_exact(cols).enumerate() {
        for (c, v) in row.iter().enumerate() {
            t[c * rows + r] = *v;
        }
    }
    t
}

/// The next value of a fixed sequence (xorshift64*), in (0, 1): random test weights that are the
/// same every run.
#[cfg(test)]
fn uniform(state: &mut u64) -> f32 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    let bits = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
    (bits as f32 + 0.5) / (1u64 << 24) as f32
}

/// Deterministic test values spread over about ±1: `((i · step mod modulus) − modulus / 2) /
/// divisor` for `i < len`.
#[cfg(test)]
fn pattern(len: usize, step: usize, modulus: usize, divisor: f32) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * step % modulus) as f32 - (modulus / 2) as f32) / divisor)
        .collect()
}

/// `(weight [k, n], k, n, bias)` of a burn linear layer; a missing bias is zeros.
fn parts_of(linear: Linear) -> (Vec<f32>, usize, usize, Vec<f32>) {
    let [k, n] = linear.weight.dims();
    let weight = values(linear.weight.val());
    let bias = linear
        .bias
        .map_or_else(|| vec![0.0; n], |b| values(b.val()));
    (weight, k, n, bias)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("converted to f32")
}

/// `(gamma, beta)` of a layer norm.
fn norm_of(norm: LayerNorm) -> (Vec<f32>, Vec<f32>) {
    let gamma = values(norm.gamma.val());
    let beta = norm
        .beta
        .map_or_else(|| vec![0.0; gamma.len()], |b| values(b.val()));
    (gamma, beta)
}

struct CpuLayer {
    norm1: (Vec<f32>, Vec<f32>),
    qkv: CpuLinear,
    out: CpuLinear,
    norm2: (Vec<f32>, Vec<f32>),
    fc1: CpuLinear,
    fc2: CpuLinear,
}

/// An encoder stack held for the CPU kernels: pre-LN (CLIP, SigLIP) or post-LN (BART).
pub struct CpuEncoder {
    layers: Vec<CpuLayer>,
    hidden: usize,
    heads: usize,
    intermediate: usize,
    eps: f32,
    act: Activation,
    /// Post-LN: each sublayer's norm applies to the residual sum (`x = LN(x + f(x))`), where
    /// pre-LN normalises the sublayer's input (`x = x + f(LN(x))`).
    post_norm: bool,
}

/// One layer's burn modules, for [`CpuEncoder::from_parts`]: `norm1` goes with attention and
/// `norm2` with the MLP, before or after them.
pub struct LayerParts {
    /// Queries.
    pub q: Linear,
    /// Keys.
    pub k: Linear,
    /// Values.
    pub v: Linear,
    /// Attention's output.
    pub out: Linear,
    /// Attention's norm.
    pub norm1: LayerNorm,
    /// MLP in.
    pub fc1: Linear,
    /// MLP out.
    pub fc2: Linear,
    /// The MLP's norm.
    pub norm2: LayerNorm,
}

impl std::fmt::Debug for CpuEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuEncoder")
            .field("layers", &self.layers.len())
            .field("hidden", &self.hidden)
            .field("heads", &self.heads)
            .field("intermediate", &self.intermediate)
            .finish_non_exhaustive()
    }
}

/// Scratch buffers of one forward pass, reused by every layer.
struct Buffers {
    normed: Vec<f32>,
    qkv: Vec<f32>,
    heads: Vec<f32>,
    context: Vec<f32>,
    hidden: Vec<f32>,
}

/// Rows per parallel task: about four tasks per thread, so uneven rows even out; all of them
/// when the work is too small to be worth splitting (a text query).
fn rows_per_task(rows: usize, width: usize) -> usize {
    if rows * width < SPLIT_ABOVE {
        return rows;
    }
    (rows / (4 * rayon::current_num_threads()).max(1)).max(1)
}

/// Elementwise work on fewer floats than this stays on one thread.
const SPLIT_ABOVE: usize = 1 << 15;

impl CpuEncoder {
    /// Takes an encoder's layers (their burn tensors are dropped one layer at a time, so the
    /// weights are never held twice). With `bf16`, where the CPU has AVX512_BF16, the matrix
    /// products round their factors to bf16 and sum in fp32 ([`packed`]); everything else
    /// stays fp32.
    pub fn new(layers: Vec<EncoderLayer>, eps: f64, bf16: bool) -> Option<Self> {
        let act = layers.first()?.mlp.act;
        let heads = layers.first()?.self_attn.num_heads;
        let parts = layers
            .into_iter()
            .map(|layer| LayerParts {
                q: layer.self_attn.q_proj,
                k: layer.self_attn.k_proj,
                v: layer.self_attn.v_proj,
                out: layer.self_attn.out_proj,
                norm1: layer.layer_norm1,
                fc1: layer.mlp.fc1,
                fc2: layer.mlp.fc2,
                norm2: layer.layer_norm2,
            })
            .collect();
        Self::from_parts(parts, heads, (eps, act), false, bf16)
    }

    /// From each layer's modules, taken one layer at a time; `post_norm` for post-LN layers
    /// (BART's). The kernels read f32 weights on the CPU only: `None` for anything else.
    pub fn from_parts(
        layers: Vec<LayerParts>,
        heads: usize,
        (eps, act): (f64, Activation),
        post_norm: bool,
        bf16: bool,
    ) -> Option<Self> {
        let first = layers.first()?;
        if !on_cpu_f32(&first.q.weight.val()) {
            return None;
        }
        let [hidden, _] = first.q.weight.dims();
        let [_, intermediate] = first.fc1.weight.dims();
        let linear = |l: Linear| {
            let (w, k, n, b) = parts_of(l);
            CpuLinear::new(w, k, n, b, bf16)
        };
        let layers = layers
            .into_iter()
            .map(|layer| CpuLayer {
                norm1: norm_of(layer.norm1),
                qkv: CpuLinear::fused(vec![layer.q, layer.k, layer.v], bf16),
                out: linear(layer.out),
                norm2: norm_of(layer.norm2),
                fc1: linear(layer.fc1),
                fc2: linear(layer.fc2),
            })
            .collect();
        Some(CpuEncoder {
            layers,
            hidden,
            heads,
            intermediate,
            eps: eps as f32,
            act,
            post_norm,
        })
    }

    /// `x`: `[batch, seq, hidden]` row-major, transformed in place; `causal` masks future
    /// positions.
    pub fn forward(&self, x: &mut [f32], batch: usize, seq: usize, causal: bool) {
        let d = self.hidden;
        let rows = batch * seq;
        assert_eq!(x.len(), rows * d, "input is [batch, seq, hidden]");
        if rows == 0 {
            return;
        }
        let mut buf = Buffers {
            normed: vec![0.0; rows * d],
            qkv: vec![0.0; rows * 3 * d],
            heads: vec![0.0; rows * d],
            context: vec![0.0; rows * d],
            hidden: vec![0.0; rows * self.intermediate],
        };
        // On one of rayon's threads, every parallel step below starts there, instead of being
        // handed over from the caller's thread (tens of microseconds each, ten steps a layer).
        rayon::scope(|_| {
            for layer in &self.layers {
                if self.post_norm {
                    self.post_norm_layer(layer, x, (batch, seq), causal, &mut buf);
                } else {
                    self.layer(layer, x, (batch, seq), causal, &mut buf);
                }
            }
        });
    }

    /// A pre-LN layer: `x += attention(LN1(x))`, then `x += MLP(LN2(x))`.
    fn layer(
        &self,
        layer: &CpuLayer,
        x: &mut [f32],
        (batch, seq): (usize, usize),
        causal: bool,
        buf: &mut Buffers,
    ) {
        // normed = LN1(x); x += out-projection bias.
        let out_bias = Some(&layer.out.bias[..]);
        norm_rows(x, &mut buf.normed, &layer.norm1, self.eps, out_bias);
        self.attention(layer, x, (batch, seq), causal, buf);
        // normed = LN2(x); x += fc2 bias.
        let fc2_bias = Some(&layer.fc2.bias[..]);
        norm_rows(x, &mut buf.normed, &layer.norm2, self.eps, fc2_bias);
        self.mlp(layer, x, batch * seq, buf);
    }

    /// A post-LN layer: `x = LN1(x + attention(x))`, then `x = LN2(x + MLP(x))`.
    fn post_norm_layer(
        &self,
        layer: &CpuLayer,
        x: &mut [f32],
        (batch, seq): (usize, usize),
        causal: bool,
        buf: &mut Buffers,
    ) {
        buf.normed.copy_from_slice(x);
        self.attention(layer, x, (batch, seq), causal, buf);
        add_bias(x, &layer.out.bias, None);
        norm_rows(x, &mut buf.normed, &layer.norm1, self.eps, None);
        x.copy_from_slice(&buf.normed);
        self.mlp(layer, x, batch * seq, buf);
        add_bias(x, &layer.fc2.bias, None);
        norm_rows(x, &mut buf.normed, &layer.norm2, self.eps, None);
        x.copy_from_slice(&buf.normed);
    }

    /// `x += attention(normed) · Wo`: q, k and v of `buf.normed` as one product plus bias,
    /// attention per (sequence, head), the heads gathered back into rows.
    fn attention(
        &self,
        layer: &CpuLayer,
        x: &mut [f32],
        (batch, seq): (usize, usize),
        causal: bool,
        buf: &mut Buffers,
    ) {
        let rows = batch * seq;
        let d = self.hidden;
        layer.qkv.product(&buf.normed, rows, &mut buf.qkv, false);
        add_bias(&mut buf.qkv, &layer.qkv.bias, None);
        attend(
            &buf.qkv,
            &mut buf.heads,
            (batch, seq),
            d,
            self.heads,
            causal,
        );
        gather_heads(&buf.heads, &mut buf.context, seq, d, self.heads);
        layer.out.product(&buf.context, rows, x, true);
    }

    /// `x += act(normed · W1 + b1) · W2`.
    fn mlp(&self, layer: &CpuLayer, x: &mut [f32], rows: usize, buf: &mut Buffers) {
        layer.fc1.product(&buf.normed, rows, &mut buf.hidden, false);
        add_bias(&mut buf.hidden, &layer.fc1.bias, Some(self.act));
        layer.fc2.product(&buf.hidden, rows, x, true);
    }
}

/// Scaled dot-product attention of every (sequence, head) pair of `qkv` (`[batch, seq, 3·d]`:
/// q, k, v side by side, each `heads` heads of `d / heads` values), each written head-major
/// (`[batch, heads, seq, head_dim]`) into `out`; `causal` masks future positions.
fn attend(
    qkv: &[f32],
    out: &mut [f32],
    (batch, seq): (usize, usize),
    d: usize,
    heads: usize,
    causal: bool,
) {
    let hd = d / heads;
    let scale = 1.0 / (hd as f32).sqrt();
    debug_assert_eq!(out.len(), batch * seq * d);
    if attention::available() && hd.is_multiple_of(16) {
        // Keys transposed per head (scaled, padded to whole registers) so both products
        // stream rows; see [`attention`].
        let wide = seq.div_ceil(16) * 16;
        // Queries in blocks, so a block's scores stay in the second-level cache however long
        // the sequence (BART's encoder reads 585 tokens: whole, the scores were 1.4 MB).
        let block = QUERY_BLOCK.min(seq);
        out.par_chunks_mut(seq * hd).enumerate().for_each_init(
            || (vec![0.0f32; block * seq], vec![0.0f32; hd * wide]),
            |(scores, keys), (job, out)| {
                let (b, h) = (job / heads, job % heads);
                let base = b * seq * 3 * d + h * hd;
                for (j, key) in qkv[base + d..].chunks(3 * d).take(seq).enumerate() {
                    for (t, v) in key[..hd].iter().enumerate() {
                        keys[t * wide + j] = v * scale;
                    }
                }
                for q0 in (0..seq).step_by(block) {
                    let m = block.min(seq - q0);
                    let scores = &mut scores[..m * seq];
                    let queries = &qkv[base + q0 * 3 * d..];
                    attention::product((m, seq, hd), queries, 3 * d, keys, wide, scores, seq);
                    kernels::softmax_rows(scores, seq, causal, q0);
                    let values = &qkv[base + 2 * d..];
                    let out = &mut out[q0 * hd..];
                    attention::product((m, hd, seq), scores, seq, values, 3 * d, out, hd);
                }
            },
        );
        return;
    }
    out.par_chunks_mut(seq * hd).enumerate().for_each_init(
        || vec![0.0f32; seq * seq],
        |scores, (job, out)| {
            let (b, h) = (job / heads, job % heads);
            let base = b * seq * 3 * d + h * hd;
            let q = MatRef::new(&qkv[base..], seq, hd, 3 * d, 1);
            let k = MatRef::new(&qkv[base + d..], seq, hd, 3 * d, 1);
            let v = MatRef::new(&qkv[base + 2 * d..], seq, hd, 3 * d, 1);
            matmul(
                MatMut::rows(scores, seq, seq),
                q,
                k.t(),
                scale,
                false,
                Threads::One,
            );
            kernels::softmax_rows(scores, seq, causal, 0);
            matmul(
                MatMut::rows(out, seq, hd),
                MatRef::rows(scores, seq, seq),
                v,
                1.0,
                false,
                Threads::One,
            );
        },
    );
}

/// Query rows per block of attention's scores (at 585 keys, 150 KB of scores).
const QUERY_BLOCK: usize = 64;

/// Head-major `[batch, heads, seq, head_dim]` → `[batch, seq, heads · head_dim]`.
fn gather_heads(heads: &[f32], context: &mut [f32], seq: usize, d: usize, count: usize) {
    let hd = d / count;
    context
        .par_chunks_mut(seq * d)
        .zip(heads.par_chunks(seq * d))
        .for_each(|(ctx, src)| {
            for (h, head) in src.chunks_exact(seq * hd).enumerate() {
                for (i, row) in head.chunks_exact(hd).enumerate() {
                    ctx[i * d + h * hd..i * d + (h + 1) * hd].copy_from_slice(row);
                }
            }
        });
}

/// Layer norm of each row of `x` into `out` in parallel, then `x += after` on each row.
fn norm_rows(
    x: &mut [f32],
    out: &mut [f32],
    (gamma, beta): &(Vec<f32>, Vec<f32>),
    eps: f32,
    after: Option<&[f32]>,
) {
    let d = gamma.len();
    let task = rows_per_task(x.len() / d, d);
    x.par_chunks_mut(task * d)
        .zip(out.par_chunks_mut(task * d))
        .for_each(|(x, out)| kernels::layer_norm_rows(x, out, gamma, beta, eps, after));
}

/// `x[r] += bias`, then `act`, on every row, in parallel.
fn add_bias(x: &mut [f32], bias: &[f32], act: Option<Activation>) {
    let task = rows_per_task(x.len() / bias.len(), bias.len());
    x.par_chunks_mut(task * bias.len())
        .for_each(|rows| kernels::bias_activate_rows(rows, bias, act));
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor, TensorData};

    use super::*;
    use crate::config::{Activation, TowerConfig};
    use crate::transformer::Encoder;

    /// A small encoder with random weights (burn's loader is not involved), with `heads`
    /// heads of 32 / `heads` values (16 runs attention's AVX-512 kernel where the CPU has it,
    /// 8 the `gemm` crate).
    /// `shape`'s worth of normal values (mean, std) from a fixed sequence, so that tests on
    /// random weights see the same weights every run.
    fn normal<const D: usize>(
        shape: burn::tensor::Shape,
        (mean, std): (f32, f32),
        state: &mut u64,
        device: &Device,
    ) -> Tensor<D> {
        let mut uniform = || uniform(state);
        let values: Vec<f32> = (0..shape.num_elements())
            .map(|_| {
                // Box–Muller.
                let (u, v) = (uniform(), uniform());
                let z = (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos();
                mean + std * z
            })
            .collect();
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    fn random_encoder(act: Activation, heads: usize) -> Encoder {
        let device = Device::flex();
        let cfg = TowerConfig {
            hidden_size: 32,
            intermediate_size: 80,
            num_hidden_layers: 2,
            num_attention_heads: heads,
            layer_norm_eps: 1e-5,
            hidden_act: act,
        };
        let mut encoder = Encoder::new(&cfg, &device);
        let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ heads as u64;
        for layer in &mut encoder.layers {
            for l in [
                &mut layer.self_attn.q_proj,
                &mut layer.self_attn.k_proj,
                &mut layer.self_attn.v_proj,
                &mut layer.self_attn.out_proj,
                &mut layer.mlp.fc1,
                &mut layer.mlp.fc2,
            ] {
                l.weight = l
                    .weight
                    .clone()
                    .map(|t| normal(t.shape(), (0.0, 0.3), &mut state, &device));
                l.bias = l
                    .bias
                    .clone()
                    .map(|b| b.map(|t| normal(t.shape(), (0.0, 0.1), &mut state, &device)));
            }
            for n in [&mut layer.layer_norm1, &mut layer.layer_norm2] {
                n.gamma = n
                    .gamma
                    .clone()
                    .map(|t| normal(t.shape(), (1.0, 0.2), &mut state, &device));
                n.beta = n
                    .beta
                    .clone()
                    .map(|b| b.map(|t| normal(t.shape(), (0.0, 0.2), &mut state, &device)));
            }
        }
        encoder
    }

    #[test]
    fn packed_and_plain_weights_give_the_same_products() {
        for (k, n) in [(24, 40), (40, 24), (33, 33)] {
            let w: Vec<f32> = (0..k * n)
                .map(|i| ((i * 13 % 29) as f32 - 14.0) / 14.0)
                .collect();
            let bias = vec![0.0; n];
            let plain = CpuLinear {
                weight: Weight::plain(w.clone(), k, n),
                bias: bias.clone(),
                k,
                n,
            };
            let auto = CpuLinear::new(w, k, n, bias, false);
            for rows in [1, 5, 50] {
                let x: Vec<f32> = (0..rows * k)
                    .map(|i| ((i * 7 % 17) as f32 - 8.0) / 8.0)
                    .collect();
                let (mut a, mut b) = (vec![1.0; rows * n], vec![1.0; rows * n]);
                plain.product(&x, rows, &mut a, true);
                auto.product(&x, rows, &mut b, true);
                for (a, b) in a.iter().zip(&b) {
                    assert!((a - b).abs() < 1e-4, "{k}→{n}, {rows} rows: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn the_fused_encoder_computes_what_burns_ops_compute() {
        let device = Device::flex();
        for (act, heads) in [
            (Activation::QuickGelu, 4),
            (Activation::Gelu, 4),
            (Activation::GeluTanh, 4),
            (Activation::QuickGelu, 2),
        ] {
            let encoder = random_encoder(act, heads);
            // 70 tokens: attention's scores in two blocks of queries.
            for (batch, seq, causal) in [
                (3, 7, false),
                (2, 9, true),
                (1, 1, true),
                (1, 16, false),
                (1, 70, true),
                (2, 70, false),
            ] {
                let input: Vec<f32> = (0..batch * seq * 32)
                    .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
                    .collect();
                let x = Tensor::<3>::from_data(
                    TensorData::new(input.clone(), [batch, seq, 32]),
                    &device,
                );
                let want = values(encoder.forward_with_burn(x, causal));
                let fused = CpuEncoder::new(encoder.layers.clone(), 1e-5, false).expect("layers");
                let mut got = input;
                fused.forward(&mut got, batch, seq, causal);
                let worst = got
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                assert!(
                    worst < 1e-4,
                    "{act:?} {heads} heads {batch}×{seq} causal={causal}: off by {worst}"
                );
            }
        }
    }

    #[test]
    fn the_bf16_encoder_stays_close_to_fp32() {
        if !bf16_available() {
            eprintln!("skipped: this CPU has no AVX512_BF16");
            return;
        }
        let encoder = random_encoder(Activation::QuickGelu, 2);
        let fp32 = CpuEncoder::new(encoder.layers.clone(), 1e-5, false).expect("layers");
        let bf16 = CpuEncoder::new(encoder.layers.clone(), 1e-5, true).expect("layers");
        assert!(bf16.layers[0].fc1.is_bf16() && !fp32.layers[0].fc1.is_bf16());
        let (batch, seq) = (4, 20);
        let input: Vec<f32> = (0..batch * seq * 32)
            .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
            .collect();
        let (mut a, mut b) = (input.clone(), input);
        fp32.forward(&mut a, batch, seq, false);
        bf16.forward(&mut b, batch, seq, false);
        for (row, (a, b)) in a.chunks(32).zip(b.chunks(32)).enumerate() {
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
            let cosine = dot / (norm(a) * norm(b));
            assert!(cosine > 0.999, "row {row}: cosine {cosine}");
            assert!(
                a != b,
                "row {row}: bf16 gave exactly the fp32 values (not run in bf16?)"
            );
        }
    }

    #[test]
    fn patches_are_the_convolution() {
        let device = Device::flex();
        for bias in [false, true] {
            let conv = burn::nn::conv::Conv2dConfig::new([3, 20], [4, 4])
                .with_stride([4, 4])
                .with_bias(bias)
                .init(&device);
            let patches = CpuPatches::new(&conv, false).expect("a patchify convolution");
            let pixels =
                Tensor::<4>::random([2, 3, 8, 12], Distribution::Normal(0.0, 1.0), &device);
            let want = conv.forward(pixels.clone()); // [2, 20, 2, 3]
            let want = values(want.reshape([2, 20, 6]).swap_dims(1, 2));
            let got = values(patches.forward(pixels));
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-4, "bias {bias}: {g} vs {w}");
            }
        }
        // Anything but a plain patchify convolution is left to burn.
        let overlapping = burn::nn::conv::Conv2dConfig::new([3, 20], [4, 4])
            .with_stride([2, 2])
            .init(&device);
        assert!(CpuPatches::new(&overlapping, false).is_none());
    }
}
