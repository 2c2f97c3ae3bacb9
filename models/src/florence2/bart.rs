//! Florence-2's language model: BART's encoder-decoder (`BartModel`, transformers 5.23
//! `models/bart/modeling_bart.py`) with the head tied to the shared embedding. Post-norm
//! layers, learned positions offset by two, an embedding layer norm on both sides. The
//! decoder keeps a key/value cache: its own keys and values grow by one token a step, the
//! encoder's are computed once.

use std::sync::Arc;

use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, Linear, LinearConfig};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Int, Tensor};

use super::config::TextConfig;
use super::vision::LN_EPS;
use crate::config::Activation;
use crate::cpu::{CpuDense, CpuEncoder, LayerParts};
use crate::transformer::{layer_norm, UNLOADED};

/// BART's learned positions start at row 2.
const POSITION_OFFSET: usize = 2;

fn linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    LinearConfig::new(d_in, d_out)
        .with_initializer(UNLOADED)
        .init(device)
}

/// `linear` on the packed CPU kernels, its burn weights dropped (so they are not held twice);
/// `None`, with the layer untouched, where the kernels do not run it (a GPU, fp16).
fn take(linear: &mut Linear) -> Option<CpuDense> {
    let dense = CpuDense::new(linear)?;
    let device = linear.weight.device();
    linear.weight = Param::from_tensor(Tensor::zeros([0, 0], &device));
    linear.bias = None;
    Some(dense)
}

/// Takes every layer of `linears` to the CPU kernels, or none.
fn take_all<const N: usize>(linears: [&mut Linear; N]) -> Option<Arc<[CpuDense; N]>> {
    if linears.iter().any(|l| CpuDense::new(l).is_none()) {
        return None;
    }
    let dense = linears.map(|l| take(l).expect("checked above"));
    Some(Arc::new(dense))
}

/// `linear`, or its CPU-kernel form once [`Bart::prepare_cpu`] took it.
fn apply(linear: &Linear, cpu: Option<&CpuDense>, x: Tensor<3>) -> Tensor<3> {
    match cpu {
        Some(dense) => dense.forward(x),
        None => linear.forward(x),
    }
}

/// Multi-head attention with separate projections (`BartAttention`).
#[derive(Module, Debug)]
pub struct Attention {
    /// Keys.
    pub k_proj: Linear,
    /// Values.
    pub v_proj: Linear,
    /// Queries.
    pub q_proj: Linear,
    /// Output.
    pub out_proj: Linear,
    /// Heads.
    #[module(skip)]
    pub heads: usize,
    /// k, v, q and out on the CPU kernels, after [`Bart::prepare_cpu`].
    #[module(skip)]
    pub cpu: Option<Arc<[CpuDense; 4]>>,
}

impl Attention {
    fn new(d: usize, heads: usize, device: &Device) -> Self {
        Attention {
            k_proj: linear(d, d, device),
            v_proj: linear(d, d, device),
            q_proj: linear(d, d, device),
            out_proj: linear(d, d, device),
            heads,
            cpu: None,
        }
    }

    fn prepare_cpu(&mut self) {
        self.cpu = take_all([
            &mut self.k_proj,
            &mut self.v_proj,
            &mut self.q_proj,
            &mut self.out_proj,
        ]);
    }

    /// Projection `i` (k, v, q, out) of `x`.
    fn project(&self, i: usize, x: Tensor<3>) -> Tensor<3> {
        let linear = [&self.k_proj, &self.v_proj, &self.q_proj, &self.out_proj][i];
        apply(linear, self.cpu.as_ref().map(|c| &c[i]), x)
    }

    /// `[b, s, d]` → `[b, heads, s, head_dim]`.
    fn split(&self, x: Tensor<3>) -> Tensor<4> {
        let [b, s, d] = x.dims();
        x.reshape([b, s, self.heads, d / self.heads])
            .swap_dims(1, 2)
    }

    /// Keys and values of `x`, split into heads.
    fn keys_values(&self, x: Tensor<3>) -> (Tensor<4>, Tensor<4>) {
        (
            self.split(self.project(0, x.clone())),
            self.split(self.project(1, x)),
        )
    }

    /// Attends from `x` to the given keys and values; `masked` marks keys to ignore
    /// (`[b, 1, 1, keys]`, true = padding).
    fn attend(
        &self,
        x: Tensor<3>,
        (k, v): (Tensor<4>, Tensor<4>),
        masked: Option<Tensor<4, Bool>>,
        causal: bool,
    ) -> Tensor<3> {
        let [b, s, d] = x.dims();
        let q = self.split(self.project(2, x));
        let keys = k.dims()[2];
        let mask = masked.map(|m| m.expand([b, self.heads, s, keys]));
        let options = AttentionModuleOptions {
            is_causal: causal,
            ..Default::default()
        };
        let out = attention(q, k, v, mask, None, options);
        self.project(3, out.swap_dims(1, 2).reshape([b, s, d]))
    }
}

/// An encoder layer (`BartEncoderLayer`), post-norm.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    /// Self-attention.
    pub self_attn: Attention,
    /// Norm after self-attention.
    pub self_attn_layer_norm: LayerNorm,
    /// MLP in.
    pub fc1: Linear,
    /// MLP out.
    pub fc2: Linear,
    /// Norm after the MLP.
    pub final_layer_norm: LayerNorm,
    /// fc1 and fc2 on the CPU kernels, after [`Bart::prepare_cpu`].
    #[module(skip)]
    pub cpu: Option<Arc<[CpuDense; 2]>>,
}

/// The MLP: `fc2(GELU(fc1(h)))`.
fn mlp(fc: [&Linear; 2], cpu: Option<&Arc<[CpuDense; 2]>>, h: Tensor<3>) -> Tensor<3> {
    let hidden = crate::fast::gelu(apply(fc[0], cpu.map(|c| &c[0]), h));
    apply(fc[1], cpu.map(|c| &c[1]), hidden)
}

impl EncoderLayer {
    /// `[b, s, d]` → `[b, s, d]`; `masked` marks padding keys.
    pub fn forward(&self, h: Tensor<3>, masked: Option<Tensor<4, Bool>>) -> Tensor<3> {
        let kv = self.self_attn.keys_values(h.clone());
        let a = self.self_attn.attend(h.clone(), kv, masked, false);
        let h = self.self_attn_layer_norm.forward(h + a);
        let m = mlp([&self.fc1, &self.fc2], self.cpu.as_ref(), h.clone());
        self.final_layer_norm.forward(h + m)
    }
}

/// The encoder (`BartEncoder`; its token embedding is the shared one).
#[derive(Module, Debug)]
pub struct Encoder {
    /// Learned positions (two extra rows first).
    pub embed_positions: Embedding,
    /// The layers.
    pub layers: Vec<EncoderLayer>,
    /// Norm of the embedded input.
    pub layernorm_embedding: LayerNorm,
}

/// A decoder layer (`BartDecoderLayer`), post-norm.
#[derive(Module, Debug)]
pub struct DecoderLayer {
    /// Causal self-attention.
    pub self_attn: Attention,
    /// Norm after self-attention.
    pub self_attn_layer_norm: LayerNorm,
    /// Attention to the encoder's output.
    pub encoder_attn: Attention,
    /// Norm after it.
    pub encoder_attn_layer_norm: LayerNorm,
    /// MLP in.
    pub fc1: Linear,
    /// MLP out.
    pub fc2: Linear,
    /// Norm after the MLP.
    pub final_layer_norm: LayerNorm,
    /// fc1 and fc2 on the CPU kernels, after [`Bart::prepare_cpu`].
    #[module(skip)]
    pub cpu: Option<Arc<[CpuDense; 2]>>,
}

/// The decoder (`BartDecoder`; its token embedding is the shared one).
#[derive(Module, Debug)]
pub struct Decoder {
    /// Learned positions (two extra rows first).
    pub embed_positions: Embedding,
    /// The layers.
    pub layers: Vec<DecoderLayer>,
    /// Norm of the embedded input.
    pub layernorm_embedding: LayerNorm,
}

/// The encoder-decoder with its shared token embedding (`BartModel`).
#[derive(Module, Debug)]
pub struct Bart {
    /// Token embeddings of both sides and the output head (tied).
    pub shared: Embedding,
    /// The encoder.
    pub encoder: Encoder,
    /// The decoder.
    pub decoder: Decoder,
    /// sqrt(d_model) when the config scales embeddings, else 1.
    #[module(skip)]
    pub embed_scale: f64,
    /// The output head (the shared embedding, transposed) on the CPU kernels, after
    /// [`Bart::prepare_cpu`]: a second copy of the table, packed, as the embedding still reads
    /// its rows.
    #[module(skip)]
    pub cpu_head: Option<Arc<CpuDense>>,
    /// The encoder's layers on the fused CPU kernels, after [`Bart::prepare_cpu`] (which
    /// empties `encoder.layers`).
    #[module(skip)]
    pub cpu_encoder: Option<Arc<CpuEncoder>>,
}

/// One decoder layer's cached keys and values, `[rows, heads, len, head_dim]`.
#[derive(Debug, Clone)]
struct LayerCache {
    own: Option<(Tensor<4>, Tensor<4>)>,
    cross: (Tensor<4>, Tensor<4>),
}

/// What the decoder remembers between steps, for every row (beam) it runs.
#[derive(Debug, Clone)]
pub struct Cache {
    layers: Vec<LayerCache>,
    /// Tokens decoded so far.
    len: usize,
    /// The encoder's padding, `[rows, 1, 1, encoder len]`.
    masked: Option<Tensor<4, Bool>>,
    /// Every row decodes against the same input, so reordering rows leaves the encoder's keys,
    /// values and padding as they are.
    shared: bool,
}

impl Cache {
    /// Keeps the rows `rows` (in that order), as beam search reorders its beams.
    pub fn select(&mut self, rows: &[usize]) {
        let device = match self.layers.first() {
            Some(l) => l.cross.0.device(),
            None => return,
        };
        let index = Tensor::<1, Int>::from_data(
            rows.iter()
                .map(|&r| r as i64)
                .collect::<Vec<_>>()
                .as_slice(),
            &device,
        );
        let pick = |t: Tensor<4>| t.select(0, index.clone());
        for layer in &mut self.layers {
            if let Some((k, v)) = layer.own.take() {
                layer.own = Some((pick(k), pick(v)));
            }
            if !self.shared {
                let (k, v) = layer.cross.clone();
                layer.cross = (pick(k), pick(v));
            }
        }
        if !self.shared {
            if let Some(m) = self.masked.take() {
                self.masked = Some(m.select(0, index));
            }
        }
    }
}

impl Bart {
    /// Builds the model with unloaded weights.
    pub fn new(cfg: &TextConfig, device: &Device) -> Self {
        let d = cfg.d_model;
        let table = |rows: usize| {
            EmbeddingConfig::new(rows, d)
                .with_initializer(UNLOADED)
                .init(device)
        };
        let ln = || layer_norm(d, LN_EPS, device);
        let positions = cfg.max_position_embeddings + POSITION_OFFSET;
        Bart {
            shared: table(cfg.vocab_size),
            encoder: Encoder {
                embed_positions: table(positions),
                layers: (0..cfg.encoder_layers)
                    .map(|_| EncoderLayer {
                        self_attn: Attention::new(d, cfg.encoder_attention_heads, device),
                        self_attn_layer_norm: ln(),
                        fc1: linear(d, cfg.encoder_ffn_dim, device),
                        fc2: linear(cfg.encoder_ffn_dim, d, device),
                        final_layer_norm: ln(),
                        cpu: None,
                    })
                    .collect(),
                layernorm_embedding: ln(),
            },
            decoder: Decoder {
                embed_positions: table(positions),
                layers: (0..cfg.decoder_layers)
                    .map(|_| DecoderLayer {
                        self_attn: Attention::new(d, cfg.decoder_attention_heads, device),
                        self_attn_layer_norm: ln(),
                        encoder_attn: Attention::new(d, cfg.decoder_attention_heads, device),
                        encoder_attn_layer_norm: ln(),
                        fc1: linear(d, cfg.decoder_ffn_dim, device),
                        fc2: linear(cfg.decoder_ffn_dim, d, device),
                        final_layer_norm: ln(),
                        cpu: None,
                    })
                    .collect(),
                layernorm_embedding: ln(),
            },
            embed_scale: if cfg.scale_embedding {
                (d as f64).sqrt()
            } else {
                1.0
            },
            cpu_head: None,
            cpu_encoder: None,
        }
    }

    /// Moves every linear layer's f32 weights on the CPU, and the output head, to the packed
    /// kernels of [`crate::cpu`]; call once the checkpoint is loaded. Elsewhere (a GPU, fp16)
    /// the layers stay burn's.
    pub fn prepare_cpu(&mut self) {
        let Some(first) = self.encoder.layers.first() else {
            return;
        };
        if CpuDense::new(&first.fc1).is_none() {
            return;
        }
        let heads = first.self_attn.heads;
        let parts = std::mem::take(&mut self.encoder.layers)
            .into_iter()
            .map(|l| LayerParts {
                q: l.self_attn.q_proj,
                k: l.self_attn.k_proj,
                v: l.self_attn.v_proj,
                out: l.self_attn.out_proj,
                norm1: l.self_attn_layer_norm,
                fc1: l.fc1,
                fc2: l.fc2,
                norm2: l.final_layer_norm,
            })
            .collect();
        // BART's GELU is the exact (erf) one.
        let settings = (LN_EPS, Activation::Gelu);
        self.cpu_encoder =
            CpuEncoder::from_parts(parts, heads, settings, true, false).map(Arc::new);
        for layer in &mut self.decoder.layers {
            layer.self_attn.prepare_cpu();
            layer.encoder_attn.prepare_cpu();
            layer.cpu = take_all([&mut layer.fc1, &mut layer.fc2]);
        }
        self.cpu_head = CpuDense::transposed(self.shared.weight.val()).map(Arc::new);
    }

    /// Most positions either side takes.
    pub fn max_positions(&self) -> usize {
        self.encoder.embed_positions.weight.dims()[0] - POSITION_OFFSET
    }

    /// Token embeddings, `ids: [b, s]` → `[b, s, d]`.
    pub fn embed(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let x = self.shared.forward(ids);
        if self.embed_scale == 1.0 {
            x
        } else {
            x * self.embed_scale
        }
    }

    fn positions(table: &Embedding, start: usize, len: usize) -> Tensor<3> {
        let d = table.weight.dims()[1];
        table
            .weight
            .val()
            .narrow(0, start + POSITION_OFFSET, len)
            .reshape([1, len, d])
    }

    /// Encodes embedded inputs `[b, s, d]`, every token real (one image's features and its
    /// prompt need no padding).
    pub fn encode(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, s, d] = x.dims();
        let h = x + Self::positions(&self.encoder.embed_positions, 0, s);
        let mut h = self.encoder.layernorm_embedding.forward(h);
        if let Some(cpu) = &self.cpu_encoder {
            let device = h.device();
            let mut data = h
                .into_data()
                .try_into_vec::<f32>()
                .expect("prepare_cpu checked the dtype is f32");
            cpu.forward(&mut data, b, s, false);
            return Tensor::from_data(burn::tensor::TensorData::new(data, [b, s, d]), &device);
        }
        for layer in &self.encoder.layers {
            h = layer.forward(h, None);
        }
        h
    }

    /// A cache for decoding against `encoded` (`[b, s, d]`), with nothing decoded yet. With
    /// one input (`b` = 1) the decoder may run `rows` rows against it (beam search's beams):
    /// the encoder's keys and values are computed once and shared by every row.
    pub fn start(&self, encoded: Tensor<3>, valid: Option<Tensor<2, Bool>>, rows: usize) -> Cache {
        let [b, s, _] = encoded.dims();
        debug_assert!(b == 1 || b == rows, "one input, or one per row");
        let shared = b == 1;
        let spread = |t: Tensor<4>| {
            if shared && rows > 1 {
                let [_, h, s, hd] = t.dims();
                t.expand([rows, h, s, hd])
            } else {
                t
            }
        };
        Cache {
            layers: self
                .decoder
                .layers
                .iter()
                .map(|l| {
                    let (k, v) = l.encoder_attn.keys_values(encoded.clone());
                    LayerCache {
                        own: None,
                        cross: (spread(k), spread(v)),
                    }
                })
                .collect(),
            len: 0,
            masked: valid.map(|v| {
                let m = v.bool_not().reshape([b, 1, 1, s]);
                if shared && rows > 1 {
                    m.expand([rows, 1, 1, s])
                } else {
                    m
                }
            }),
            shared,
        }
    }

    /// Decodes `ids: [rows, t]` after what `cache` holds, returning the final hidden states
    /// `[rows, t, d]`. Several tokens at once only from an empty cache (they attend causally).
    pub fn decode(&self, ids: Tensor<2, Int>, cache: &mut Cache) -> Tensor<3> {
        let [_, t] = ids.dims();
        let past = cache.len;
        debug_assert!(
            t == 1 || past == 0,
            "several tokens only from an empty cache"
        );
        let h = self.embed(ids) + Self::positions(&self.decoder.embed_positions, past, t);
        let mut h = self.decoder.layernorm_embedding.forward(h);
        for (layer, lc) in self.decoder.layers.iter().zip(&mut cache.layers) {
            let (k, v) = layer.self_attn.keys_values(h.clone());
            let (k, v) = match lc.own.take() {
                Some((pk, pv)) => (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2)),
                None => (k, v),
            };
            lc.own = Some((k.clone(), v.clone()));
            let a = layer.self_attn.attend(h.clone(), (k, v), None, t > 1);
            h = layer.self_attn_layer_norm.forward(h + a);
            let c =
                layer
                    .encoder_attn
                    .attend(h.clone(), lc.cross.clone(), cache.masked.clone(), false);
            h = layer.encoder_attn_layer_norm.forward(h + c);
            let m = mlp([&layer.fc1, &layer.fc2], layer.cpu.as_ref(), h.clone());
            h = layer.final_layer_norm.forward(h + m);
        }
        cache.len += t;
        h
    }

    /// The head: hidden states `[rows, t, d]` → logits `[rows, t, vocab]` (the shared
    /// embedding, transposed).
    pub fn logits(&self, h: Tensor<3>) -> Tensor<3> {
        if let Some(head) = &self.cpu_head {
            return head.forward(h);
        }
        let [rows, t, d] = h.dims();
        let w = self.shared.weight.val(); // [vocab, d]
        let v = w.dims()[0];
        h.reshape([rows * t, d])
            .matmul(w.transpose())
            .reshape([rows, t, v])
    }
}
