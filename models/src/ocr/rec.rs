//! PP-OCRv4's text recogniser (`ch_PP-OCRv4_rec_infer`): PPLCNetV3 ×0.95 in recognition mode,
//! the SVTR neck (`EncoderWithSVTR`: convs, two pre-norm transformer blocks, a shortcut from
//! the pooled backbone) and the CTC head (PaddleOCR `ppocr/modeling/necks/rnn.py`,
//! `heads/rec_ctc_head.py`).
//!
//! Input `[n, 3, 48, w]` (BGR, `(x/255 − 0.5)/0.5`, right-padded with zeros); output per-step
//! class probabilities `[n, t, classes]` with `t ≈ w / 8`; class 0 is CTC's blank.

use burn::tensor::activation::{silu, softmax};
use burn::tensor::module::{attention, avg_pool2d};
use burn::tensor::ops::{AttentionModuleOptions, AvgPoolOptions};
use burn::tensor::{Device, Tensor};

use super::layers::{tensor, Conv, ConvParts, LcNet};
use super::onnx::{Graph, Node};
use crate::error::Result;

/// The input height the recogniser was trained for.
pub const HEIGHT: usize = 48;

/// A conv with its batch norm folded in, then Swish.
#[derive(Debug, Clone)]
struct ConvSwish {
    conv: Conv,
}

impl ConvSwish {
    fn read(g: &Graph, node: &Node, device: &Device) -> Result<(Self, String)> {
        let mut parts = ConvParts::read(g, node)?;
        let bn = g.consumer(node.out(), "BatchNormalization")?;
        parts.fold_batch_norm(g, bn)?;
        let out = read_swish(g, bn.out())?;
        Ok((
            ConvSwish {
                conv: parts.build(device),
            },
            out,
        ))
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        silu(self.conv.forward(x))
    }
}

/// Skips the decomposed Swish `x * sigmoid(1.0 * x)`; returns its output name.
fn read_swish(g: &Graph, tensor: &str) -> Result<String> {
    let beta = g.consumer_where(tensor, "Mul", |n| {
        g.const_operand(n).and_then(|(c, _)| c.scalar()).is_some()
    })?;
    let scale = g.const_operand(beta).and_then(|(c, _)| c.scalar());
    g.expect(beta, "Swish with beta 1", scale == Some(1.0))?;
    let sig = g.consumer(beta.out(), "Sigmoid")?;
    let mul = g.consumer_where(sig.out(), "Mul", |n| n.inputs.iter().any(|i| i == tensor))?;
    Ok(mul.out().to_string())
}

/// `x @ weight + bias`, the weight stored `[in, out]` as in the ONNX graph.
#[derive(Debug, Clone)]
struct Dense {
    weight: Tensor<2>,
    bias: Tensor<1>,
}

impl Dense {
    /// Reads `MatMul(tensor, W) → Add(b)`; returns the output name.
    fn read(g: &Graph, node: &Node, device: &Device) -> Result<(Self, String)> {
        let dims = node
            .inputs
            .get(1)
            .and_then(|n| g.constant(n))
            .map(|c| c.dims.clone())
            .unwrap_or_default();
        g.expect(node, "a constant [in, out] weight", dims.len() == 2)?;
        let weight = g.weight(node, 1, &dims)?;
        let add = g.consumer(node.out(), "Add")?;
        let bias = g.const_operand(add).map(|(c, _)| c);
        let bias = bias
            .filter(|c| c.dims == [dims[1]])
            .and_then(|c| c.floats());
        let bias = bias
            .ok_or_else(|| g.error(format!("MatMul {} has no [{}] bias", node.out(), dims[1])))?;
        Ok((
            Dense {
                weight: tensor(weight, [dims[0], dims[1]], device),
                bias: tensor(bias.to_vec(), [dims[1]], device),
            },
            add.out().to_string(),
        ))
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, s, d] = x.dims();
        let out = self.weight.dims()[1];
        let y = x.reshape([b * s, d]).matmul(self.weight.clone()) + self.bias.clone().unsqueeze();
        y.reshape([b, s, out])
    }
}

/// Layer norm over the last axis, decomposed in the graph as mean / centre / square / mean /
/// add ε / sqrt / divide / scale / shift.
#[derive(Debug, Clone)]
struct Norm {
    gamma: Tensor<1>,
    beta: Tensor<1>,
    eps: f64,
}

impl Norm {
    fn read(g: &Graph, tensor: &str, device: &Device) -> Result<(Self, String)> {
        g.consumer(tensor, "ReduceMean")?;
        let centre = g.consumer(tensor, "Sub")?;
        let square = g.consumer(centre.out(), "Pow")?;
        let var = g.consumer(square.out(), "ReduceMean")?;
        let eps = g.consumer(var.out(), "Add")?;
        let eps_value = g.const_operand(eps).and_then(|(c, _)| c.scalar());
        let eps_value = eps_value.ok_or_else(|| g.error("layer norm ε is not a constant"))?;
        let sqrt = g.consumer(eps.out(), "Sqrt")?;
        let div = g.consumer(sqrt.out(), "Div")?;
        let scale = g.consumer(div.out(), "Mul")?;
        let shift = g.consumer(scale.out(), "Add")?;
        let vector = |n: &Node| {
            g.const_operand(n)
                .and_then(|(c, _)| c.floats().filter(|_| c.dims.len() == 1))
                .map(<[f32]>::to_vec)
                .ok_or_else(|| g.error(format!("layer norm {} lacks a vector constant", n.out())))
        };
        let (gamma, beta) = (vector(scale)?, vector(shift)?);
        let dim = gamma.len();
        Ok((
            Norm {
                gamma: self::tensor(gamma, [dim], device),
                beta: self::tensor(beta, [dim], device),
                eps: f64::from(eps_value),
            },
            shift.out().to_string(),
        ))
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let mean = x.clone().mean_dim(2);
        let centred = x - mean;
        let var = centred.clone().powi_scalar(2).mean_dim(2);
        let y = centred / (var + self.eps).sqrt();
        y * self.gamma.clone().unsqueeze() + self.beta.clone().unsqueeze()
    }
}

/// One SVTR block: `x + attn(norm1(x))`, then `x + mlp(norm2(x))`.
#[derive(Debug, Clone)]
struct SvtrBlock {
    norm1: Norm,
    qkv: Dense,
    heads: usize,
    scale: f64,
    proj: Dense,
    norm2: Norm,
    fc1: Dense,
    fc2: Dense,
}

impl SvtrBlock {
    /// Reads a block on the residual stream `input` whose first norm is `norm1` (already
    /// read, output `normed`); returns the block's output.
    fn read(
        g: &Graph,
        input: &str,
        norm1: Norm,
        normed: &str,
        device: &Device,
    ) -> Result<(Self, String)> {
        let qkv_node = g.consumer(normed, "MatMul")?;
        let (qkv, qkv_out) = Dense::read(g, qkv_node, device)?;
        let dim = qkv.weight.dims()[0];
        g.expect(
            qkv_node,
            "qkv is three times the width",
            qkv.weight.dims()[1] == 3 * dim,
        )?;
        // The query scale is the head width's −½ power: it gives the number of heads.
        let scale_mul = g.downstream(&qkv_out, "Mul", |n| {
            g.const_operand(n).and_then(|(c, _)| c.scalar()).is_some()
        })?;
        let scale = g
            .const_operand(scale_mul)
            .and_then(|(c, _)| c.scalar())
            .unwrap_or(1.0);
        let head_dim = (1.0 / (scale * scale)).round() as usize;
        g.expect(
            scale_mul,
            "a query scale of 1/sqrt(head width) dividing the width",
            head_dim > 0 && dim % head_dim == 0,
        )?;
        let proj_node = g.downstream(&qkv_out, "MatMul", |n| {
            n.inputs.get(1).is_some_and(|w| g.constant(w).is_some())
        })?;
        let (proj, proj_out) = Dense::read(g, proj_node, device)?;
        let residual =
            g.consumer_where(&proj_out, "Add", |n| n.inputs.iter().any(|i| *i == input))?;
        let (norm2, normed2) = Norm::read(g, residual.out(), device)?;
        let (fc1, hidden) = Dense::read(g, g.consumer(&normed2, "MatMul")?, device)?;
        let hidden = read_swish(g, &hidden)?;
        let (fc2, mlp_out) = Dense::read(g, g.consumer(&hidden, "MatMul")?, device)?;
        let residual2 = g.consumer_where(&mlp_out, "Add", |n| {
            n.inputs.iter().any(|i| i == residual.out())
        })?;
        Ok((
            SvtrBlock {
                norm1,
                qkv,
                heads: dim / head_dim,
                scale: f64::from(scale),
                proj,
                norm2,
                fc1,
                fc2,
            },
            residual2.out().to_string(),
        ))
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let head_dim = d / self.heads;
        // [b, t, 3d] → [3, b, heads, t, head_dim]
        let qkv = self
            .qkv
            .forward(self.norm1.forward(x.clone()))
            .reshape([b, t, 3, self.heads, head_dim])
            .permute([2, 0, 3, 1, 4]);
        let part = |i: usize| {
            qkv.clone()
                .narrow(0, i, 1)
                .reshape([b, self.heads, t, head_dim])
        };
        let options = AttentionModuleOptions {
            scale: Some(self.scale),
            ..Default::default()
        };
        let attended = attention(part(0), part(1), part(2), None, None, options);
        let x = x + self
            .proj
            .forward(attended.swap_dims(1, 2).reshape([b, t, d]));
        let h = self
            .fc2
            .forward(silu(self.fc1.forward(self.norm2.forward(x.clone()))));
        x + h
    }
}

/// The recogniser.
#[derive(Debug, Clone)]
pub struct Recognizer {
    backbone: LcNet,
    pool: [usize; 2],
    conv1: ConvSwish,
    conv2: ConvSwish,
    blocks: Vec<SvtrBlock>,
    norm: Norm,
    conv3: ConvSwish,
    conv4: ConvSwish,
    conv1x1: ConvSwish,
    head: Dense,
}

impl Recognizer {
    /// Loads the recogniser from its ONNX graph.
    pub fn load(g: &Graph, device: &Device) -> Result<Self> {
        let input = g
            .inputs
            .first()
            .ok_or_else(|| g.error("the recogniser graph has no input"))?;
        let (backbone, stages) = LcNet::read(g, input, device)?;
        let last = stages.last().map(String::as_str).unwrap_or("");
        let pool_node = g.consumer(last, "AveragePool")?;
        let kernel = pool_node.ints("kernel_shape").unwrap_or(&[]);
        g.expect(
            pool_node,
            "stride equal to the kernel, no padding",
            node_pool_ok(pool_node),
        )?;
        let pool = [kernel[0] as usize, kernel[1] as usize];
        let (conv1, h) = ConvSwish::read(g, g.consumer(pool_node.out(), "Conv")?, device)?;
        let (conv2, h) = ConvSwish::read(g, g.consumer(&h, "Conv")?, device)?;
        let mut stream = g.downstream(&h, "ReduceMean", |_| true)?.inputs[0].clone();
        let mut blocks = Vec::new();
        let (norm, normed) = loop {
            let (norm, normed) = Norm::read(g, &stream, device)?;
            if !g.has_consumer(&normed, "MatMul") {
                break (norm, normed);
            }
            let (block, out) = SvtrBlock::read(g, &stream, norm, &normed, device)?;
            blocks.push(block);
            stream = out;
        };
        let (conv3, h) = ConvSwish::read(g, g.downstream(&normed, "Conv", |_| true)?, device)?;
        let concat = g.consumer(&h, "Concat")?;
        g.expect(
            concat,
            "the shortcut first, then the neck",
            concat.inputs == [pool_node.out(), h.as_str()],
        )?;
        let (conv4, h) = ConvSwish::read(g, g.consumer(concat.out(), "Conv")?, device)?;
        let (conv1x1, h) = ConvSwish::read(g, g.consumer(&h, "Conv")?, device)?;
        let (head, logits) = Dense::read(g, g.downstream(&h, "MatMul", |_| true)?, device)?;
        g.consumer(&logits, "Softmax")?;
        Ok(Recognizer {
            backbone,
            pool,
            conv1,
            conv2,
            blocks,
            norm,
            conv3,
            conv4,
            conv1x1,
            head,
        })
    }

    /// The number of classes (blank, the character list, space).
    pub fn classes(&self) -> usize {
        self.head.weight.dims()[1]
    }

    /// `[n, 3, 48, w]` → `[n, t, classes]` probabilities.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<3> {
        let z = avg_pool2d(
            self.backbone.forward_last(x),
            AvgPoolOptions::new(self.pool).with_stride(self.pool),
        );
        let h = self.conv2.forward(self.conv1.forward(z.clone()));
        let [n, c, one, t] = h.dims();
        let mut s = h.reshape([n, c, one * t]).swap_dims(1, 2);
        for block in &self.blocks {
            s = block.forward(s);
        }
        let h = self.norm.forward(s).swap_dims(1, 2).reshape([n, c, 1, t]);
        let h = self.conv3.forward(h);
        let h = self
            .conv1x1
            .forward(self.conv4.forward(Tensor::cat(vec![z, h], 1)));
        let [n, c, _, t] = h.dims();
        let logits = self.head.forward(h.reshape([n, c, t]).swap_dims(1, 2));
        softmax(logits, 2)
    }
}

fn node_pool_ok(node: &Node) -> bool {
    let kernel = node.ints("kernel_shape");
    kernel.is_some_and(|k| k.len() == 2 && k.iter().all(|&x| x > 0))
        && node.ints("strides") == kernel
        && node.ints("pads").is_none_or(|p| p.iter().all(|&x| x == 0))
        && node.int("ceil_mode").unwrap_or(0) == 0
}
