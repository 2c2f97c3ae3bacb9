//! The layers PP-OCRv4's detector and recogniser share, in their deployed (re-parameterised)
//! form, and the PPLCNetV3 backbone built from them (PaddleOCR `ppocr/modeling/backbones/
//! rec_lcnetv3.py`). Each is loaded by following the ONNX graph's data flow from its input, so
//! the loader reads like `forward`; batch norms and the learnable affine after a convolution
//! are folded into its weights at load.

use burn::tensor::activation::{hard_sigmoid, hard_swish, relu};
use burn::tensor::module::{adaptive_avg_pool2d, conv2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};

use super::onnx::{Graph, Node};
use crate::error::Result;

/// A loaded tensor on the model's device.
pub(crate) fn tensor<const D: usize>(
    values: Vec<f32>,
    dims: [usize; D],
    device: &Device,
) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, dims), device)
}

/// A 2-D convolution with its bias (batch norms and affines folded in).
#[derive(Debug, Clone)]
pub struct Conv {
    weight: Tensor<4>,
    bias: Tensor<1>,
    options: ConvOptions<2>,
}

/// A convolution's weights on the host, while folding.
pub(crate) struct ConvParts {
    /// `[out, in / groups, kh, kw]`.
    pub dims: [usize; 4],
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub groups: usize,
}

impl ConvParts {
    /// The ONNX `Conv` node `node` (bias optional), checked: symmetric padding, no dilation.
    pub fn read(g: &Graph, node: &Node) -> Result<Self> {
        g.expect(node, "expected a Conv", node.op == "Conv")?;
        let w = node
            .inputs
            .get(1)
            .and_then(|n| g.constant(n))
            .ok_or_else(|| g.error(format!("Conv {} has no constant weight", node.out())))?;
        let dims: [usize; 4] = w
            .dims
            .clone()
            .try_into()
            .map_err(|_| g.error(format!("Conv {} weight is not 4-D", node.out())))?;
        let weight = g.weight(node, 1, &dims)?;
        let bias = match node.inputs.get(2).filter(|n| !n.is_empty()) {
            Some(_) => g.weight(node, 2, &[dims[0]])?,
            None => vec![0.0; dims[0]],
        };
        let pads = node.ints("pads").unwrap_or(&[0, 0, 0, 0]);
        let strides = node.ints("strides").unwrap_or(&[1, 1]);
        let dilations = node.ints("dilations").unwrap_or(&[1, 1]);
        let groups = node.int("group").unwrap_or(1);
        g.expect(
            node,
            "padding must be symmetric",
            pads.len() == 4 && pads[0] == pads[2] && pads[1] == pads[3],
        )?;
        g.expect(
            node,
            "dilation must be 1",
            dilations.iter().all(|&d| d == 1),
        )?;
        g.expect(node, "strides must be 2-D", strides.len() == 2)?;
        let as_usize = |x: i64| {
            usize::try_from(x)
                .map_err(|_| g.error(format!("Conv {}: a negative attribute", node.out())))
        };
        Ok(ConvParts {
            dims,
            weight,
            bias,
            stride: [as_usize(strides[0])?, as_usize(strides[1])?],
            padding: [as_usize(pads[0])?, as_usize(pads[1])?],
            groups: as_usize(groups)?,
        })
    }

    /// `y = scale[o] * conv(x) + shift[o]` folded into the weights.
    pub fn scale_shift(&mut self, scale: &[f32], shift: &[f32]) {
        let per_out = self.weight.len() / self.dims[0];
        for o in 0..self.dims[0] {
            let (s, t) = (scale[o.min(scale.len() - 1)], shift[o.min(shift.len() - 1)]);
            for w in &mut self.weight[o * per_out..(o + 1) * per_out] {
                *w *= s;
            }
            self.bias[o] = self.bias[o] * s + t;
        }
    }

    /// Folds the `BatchNormalization` node `bn` (inputs: x, scale, bias, mean, var).
    pub fn fold_batch_norm(&mut self, g: &Graph, bn: &Node) -> Result<()> {
        let (scale, shift) = batch_norm(g, bn, self.dims[0])?;
        self.scale_shift(&scale, &shift);
        Ok(())
    }

    pub fn build(self, device: &Device) -> Conv {
        Conv {
            weight: tensor(self.weight, self.dims, device),
            bias: tensor(self.bias, [self.dims[0]], device),
            options: ConvOptions::new(self.stride, self.padding, [1, 1], self.groups),
        }
    }
}

/// A batch norm as per-channel `(scale, shift)`.
pub(crate) fn batch_norm(g: &Graph, bn: &Node, channels: usize) -> Result<(Vec<f32>, Vec<f32>)> {
    g.expect(
        bn,
        "expected BatchNormalization",
        bn.op == "BatchNormalization",
    )?;
    let eps = bn.float("epsilon").unwrap_or(1e-5);
    let gamma = g.weight(bn, 1, &[channels])?;
    let beta = g.weight(bn, 2, &[channels])?;
    let mean = g.weight(bn, 3, &[channels])?;
    let var = g.weight(bn, 4, &[channels])?;
    let scale: Vec<f32> = gamma
        .iter()
        .zip(&var)
        .map(|(g, v)| g / (v + eps).sqrt())
        .collect();
    let shift = beta
        .iter()
        .zip(&mean)
        .zip(&scale)
        .map(|((b, m), s)| b - m * s)
        .collect();
    Ok((scale, shift))
}

impl Conv {
    /// `[n, in, h, w]` → `[n, out, h', w']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv2d(
            x,
            self.weight.clone(),
            Some(self.bias.clone()),
            self.options.clone(),
        )
    }
}

/// A scalar affine `y = scale * x + bias` (PaddleOCR's `LearnableAffineBlock`).
#[derive(Debug, Clone, Copy)]
pub struct Affine {
    scale: f32,
    bias: f32,
}

impl Affine {
    /// Reads the `Mul(scalar)` then `Add(scalar)` that follow `tensor`; returns the output name.
    pub(crate) fn read(g: &Graph, tensor: &str) -> Result<(Self, String)> {
        let mul = g.consumer_where(tensor, "Mul", |n| is_scalar_op(g, n))?;
        let add = g.consumer_where(mul.out(), "Add", |n| is_scalar_op(g, n))?;
        let scalar = |n: &Node| {
            g.const_operand(n)
                .and_then(|(c, _)| c.scalar())
                .unwrap_or(0.0)
        };
        Ok((
            Affine {
                scale: scalar(mul),
                bias: scalar(add),
            },
            add.out().to_string(),
        ))
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        x * self.scale + self.bias
    }
}

fn is_scalar_op(g: &Graph, n: &Node) -> bool {
    g.const_operand(n).and_then(|(c, _)| c.scalar()).is_some()
}

/// Skips the decomposed HardSwish `x * clip(x + 3, 0, 6) / 6` that reads `tensor`, checking
/// its constants; returns the output name.
pub(crate) fn read_hard_swish(g: &Graph, tensor: &str) -> Result<String> {
    let add = g.consumer_where(tensor, "Add", |n| {
        g.const_operand(n).and_then(|(c, _)| c.scalar()) == Some(3.0)
    })?;
    let clip = g.consumer(add.out(), "Clip")?;
    let bounds: Vec<_> = clip.inputs[1..]
        .iter()
        .map(|n| g.constant(n).and_then(|c| c.scalar()))
        .collect();
    g.expect(
        clip,
        "HardSwish clips to [0, 6]",
        bounds == [Some(0.0), Some(6.0)],
    )?;
    let mul = g.consumer(clip.out(), "Mul")?;
    g.expect(
        mul,
        "HardSwish multiplies by its input",
        mul.inputs.iter().any(|i| i == tensor),
    )?;
    let div = g.consumer_where(mul.out(), "Div", |n| {
        g.const_operand(n).and_then(|(c, _)| c.scalar()) == Some(6.0)
    })?;
    Ok(div.out().to_string())
}

/// Whether the decomposed HardSwish reads `tensor`.
pub(crate) fn has_hard_swish(g: &Graph, tensor: &str) -> bool {
    g.consumers(tensor)
        .any(|n| n.op == "Add" && g.const_operand(n).and_then(|(c, _)| c.scalar()) == Some(3.0))
}

/// Squeeze-and-excitation: `x * hard_sigmoid(expand(relu(reduce(mean(x)))))`, the slope
/// differing between the backbone (1/6) and the detector's neck (0.2).
#[derive(Debug, Clone)]
pub struct SqueezeExcite {
    reduce: Conv,
    expand: Conv,
    slope: f64,
}

impl SqueezeExcite {
    /// Reads the SE block that starts at the `GlobalAveragePool` reading `tensor`; returns the
    /// output of its final `Mul` by `tensor`.
    pub(crate) fn read(g: &Graph, tensor: &str, device: &Device) -> Result<(Self, String)> {
        let pool = g.consumer(tensor, "GlobalAveragePool")?;
        let reduce = g.consumer(pool.out(), "Conv")?;
        let act = g.consumer(reduce.out(), "Relu")?;
        let expand = g.consumer(act.out(), "Conv")?;
        let gate = g.consumer(expand.out(), "HardSigmoid")?;
        let beta = gate.float("beta").unwrap_or(0.5);
        g.expect(
            gate,
            "HardSigmoid beta must be 0.5",
            (beta - 0.5).abs() < 1e-6,
        )?;
        let mul = g.consumer_where(gate.out(), "Mul", |n| n.inputs.iter().any(|i| i == tensor))?;
        Ok((
            SqueezeExcite {
                reduce: ConvParts::read(g, reduce)?.build(device),
                expand: ConvParts::read(g, expand)?.build(device),
                slope: f64::from(gate.float("alpha").unwrap_or(0.2)),
            },
            mul.out().to_string(),
        ))
    }

    /// `[n, c, h, w]` → `[n, c, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let s = adaptive_avg_pool2d(x.clone(), [1, 1]);
        let s = self.expand.forward(relu(self.reduce.forward(s)));
        x * hard_sigmoid(s, self.slope, 0.5)
    }
}

/// A re-parameterised convolution with learnable affines (`LearnableRepLayer` after
/// `rep()`): conv → affine (folded), then, unless the layer is skipped it, HardSwish → affine.
#[derive(Debug, Clone)]
pub struct RepConv {
    conv: Conv,
    act: Option<Affine>,
}

impl RepConv {
    fn read(g: &Graph, node: &Node, device: &Device) -> Result<(Self, String)> {
        let mut parts = ConvParts::read(g, node)?;
        let (affine, out) = Affine::read(g, node.out())?;
        parts.scale_shift(&[affine.scale], &[affine.bias]);
        let (act, out) = if has_hard_swish(g, &out) {
            let swished = read_hard_swish(g, &out)?;
            let (after, out) = Affine::read(g, &swished)?;
            (Some(after), out)
        } else {
            (None, out)
        };
        Ok((
            RepConv {
                conv: parts.build(device),
                act,
            },
            out,
        ))
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.conv.forward(x);
        match &self.act {
            Some(affine) => affine.forward(hard_swish(y)),
            None => y,
        }
    }
}

/// One PPLCNetV3 block (`LCNetV3Block`): depthwise conv, optional SE, pointwise conv.
#[derive(Debug, Clone)]
pub struct Block {
    depthwise: RepConv,
    se: Option<SqueezeExcite>,
    pointwise: RepConv,
}

impl Block {
    fn read(g: &Graph, tensor: &str, device: &Device) -> Result<(Self, String)> {
        let dw = g.consumer_where(tensor, "Conv", |n| n.int("group").unwrap_or(1) > 1)?;
        let (depthwise, out) = RepConv::read(g, dw, device)?;
        let (se, out) = if g.has_consumer(&out, "GlobalAveragePool") {
            let (se, out) = SqueezeExcite::read(g, &out, device)?;
            (Some(se), out)
        } else {
            (None, out)
        };
        let pw = g.consumer_where(&out, "Conv", |n| n.int("group").unwrap_or(1) == 1)?;
        let (pointwise, out) = RepConv::read(g, pw, device)?;
        Ok((
            Block {
                depthwise,
                se,
                pointwise,
            },
            out,
        ))
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.depthwise.forward(x);
        let x = match &self.se {
            Some(se) => se.forward(x),
            None => x,
        };
        self.pointwise.forward(x)
    }
}

/// PPLCNetV3: a stem (conv + batch norm) and blocks in stages of 1, 2, 2, 5 and 4.
#[derive(Debug, Clone)]
pub struct LcNet {
    stem: Conv,
    blocks: Vec<Block>,
}

/// Blocks per stage (`blocks2` … `blocks6` in PaddleOCR's config).
pub const STAGES: [usize; 5] = [1, 2, 2, 5, 4];

impl LcNet {
    /// Reads the backbone starting at the graph input `input`; returns it and the output
    /// tensor name of each stage.
    pub(crate) fn read(g: &Graph, input: &str, device: &Device) -> Result<(Self, Vec<String>)> {
        let stem = g.consumer(input, "Conv")?;
        let mut parts = ConvParts::read(g, stem)?;
        let bn = g.consumer(stem.out(), "BatchNormalization")?;
        parts.fold_batch_norm(g, bn)?;
        let mut out = bn.out().to_string();
        let mut blocks = Vec::new();
        let mut stage_outputs = Vec::new();
        for count in STAGES {
            for _ in 0..count {
                let (block, next) = Block::read(g, &out, device)?;
                blocks.push(block);
                out = next;
            }
            stage_outputs.push(out.clone());
        }
        Ok((
            LcNet {
                stem: parts.build(device),
                blocks,
            },
            stage_outputs,
        ))
    }

    /// `[n, 3, h, w]` → the last stage's output.
    pub fn forward_last(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.stem.forward(x);
        self.blocks.iter().fold(x, |x, block| block.forward(x))
    }

    /// `[n, 3, h, w]` → each stage's output.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut x = self.stem.forward(x);
        let mut outputs = Vec::with_capacity(STAGES.len());
        let mut i = 0;
        for count in STAGES {
            for block in &self.blocks[i..i + count] {
                x = block.forward(x);
            }
            i += count;
            outputs.push(x.clone());
        }
        outputs
    }
}
