//! PP-OCRv4's text detector (`ch_PP-OCRv4_det_infer`): PPLCNetV3 ×0.75 with its per-stage
//! 1×1 projections, the RSE-FPN neck (96 channels) and the DB head's shrink map (PaddleOCR
//! `det_mv3_db`-style `DBHead`, probability branch only).
//!
//! Input `[n, 3, h, w]` (BGR, `(x/255 − 0.5)/0.5`, h and w multiples of 32); output the
//! probability that each pixel lies in text, `[n, 1, h, w]`.

use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::module::{conv_transpose2d, interpolate};
use burn::tensor::ops::{ConvTransposeOptions, InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};

use super::layers::{batch_norm, tensor, Conv, ConvParts, LcNet, SqueezeExcite};
use super::onnx::{Graph, Node};
use crate::error::Result;

/// A convolution followed by a residual squeeze-and-excitation (`RSELayer`, shortcut on):
/// `y = conv(x); y + se(y)`.
#[derive(Debug, Clone)]
struct ResidualSe {
    conv: Conv,
    se: SqueezeExcite,
}

impl ResidualSe {
    fn read(g: &Graph, node: &Node, device: &Device) -> Result<(Self, String)> {
        let conv = ConvParts::read(g, node)?.build(device);
        let (se, gated) = SqueezeExcite::read(g, node.out(), device)?;
        let add = g.consumer_where(&gated, "Add", |n| n.inputs.iter().any(|i| i == node.out()))?;
        Ok((ResidualSe { conv, se }, add.out().to_string()))
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.conv.forward(x);
        y.clone() + self.se.forward(y)
    }
}

/// A 2×2 stride-2 transposed convolution with its bias and the batch norm after it folded in.
#[derive(Debug, Clone)]
struct Upsample {
    weight: Tensor<4>,
    bias: Tensor<1>,
}

impl Upsample {
    /// Reads `ConvTranspose → Add(bias) [→ BatchNormalization]`; returns the output name.
    fn read(g: &Graph, input: &str, with_bn: bool, device: &Device) -> Result<(Self, String)> {
        let node = g.consumer(input, "ConvTranspose")?;
        let dims = g
            .constant(&node.inputs[1])
            .map(|c| c.dims.clone())
            .unwrap_or_default();
        g.expect(
            node,
            "a [in, out, 2, 2] kernel",
            dims.len() == 4 && dims[2] == 2 && dims[3] == 2,
        )?;
        g.expect(node, "stride 2", node.ints("strides") == Some(&[2, 2]))?;
        g.expect(
            node,
            "no padding",
            node.ints("pads").is_none_or(|p| p.iter().all(|&x| x == 0)),
        )?;
        g.expect(node, "one group", node.int("group").unwrap_or(1) == 1)?;
        let (cin, cout) = (dims[0], dims[1]);
        let mut weight = g.weight(node, 1, &dims)?;
        let add = g.consumer(node.out(), "Add")?;
        let bias = g.const_operand(add).map(|(c, _)| c);
        let bias = bias
            .filter(|c| c.dims == [1, cout, 1, 1])
            .and_then(|c| c.floats());
        let mut bias = bias
            .ok_or_else(|| {
                g.error(format!(
                    "ConvTranspose {} is not followed by a [1, {cout}, 1, 1] bias",
                    node.out()
                ))
            })?
            .to_vec();
        let mut out = add.out().to_string();
        if with_bn {
            let bn = g.consumer(&out, "BatchNormalization")?;
            let (scale, shift) = batch_norm(g, bn, cout)?;
            for i in 0..cin {
                for o in 0..cout {
                    for w in &mut weight[(i * cout + o) * 4..(i * cout + o + 1) * 4] {
                        *w *= scale[o];
                    }
                }
            }
            for o in 0..cout {
                bias[o] = bias[o] * scale[o] + shift[o];
            }
            out = bn.out().to_string();
        }
        Ok((
            Upsample {
                weight: tensor(weight, [cin, cout, 2, 2], device),
                bias: tensor(bias, [cout], device),
            },
            out,
        ))
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let options = ConvTransposeOptions::new([2, 2], [0, 0], [0, 0], [1, 1], 1);
        conv_transpose2d(x, self.weight.clone(), Some(self.bias.clone()), options)
    }
}

/// Nearest-neighbour upsampling by an integer factor (ONNX `Resize`, `asymmetric`/`floor`).
fn upsample(x: Tensor<4>, factor: usize) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Nearest)
            .with_output_size([h * factor, w * factor]),
    )
}

/// The detector.
#[derive(Debug, Clone)]
pub struct Detector {
    backbone: LcNet,
    /// Per-stage 1×1 convs after the backbone (`layer_list`: to 12, 18, 42, 360 channels).
    projections: Vec<Conv>,
    /// `ins_conv`: each level to the neck's width, with residual SE.
    lateral: Vec<ResidualSe>,
    /// `inp_conv`: each merged level to a quarter of the width, with residual SE.
    smooth: Vec<ResidualSe>,
    /// Head: 3×3 conv (+ batch norm) → ReLU.
    head_conv: Conv,
    /// Head: transposed conv (+ bias, batch norm) → ReLU.
    head_up1: Upsample,
    /// Head: transposed conv (+ bias) → sigmoid.
    head_up2: Upsample,
}

impl Detector {
    /// Loads the detector from its ONNX graph.
    pub fn load(g: &Graph, device: &Device) -> Result<Self> {
        let input = g
            .inputs
            .first()
            .ok_or_else(|| g.error("the detector graph has no input"))?;
        let (backbone, stages) = LcNet::read(g, input, device)?;
        // The neck reads stages 2..5 (strides 4, 8, 16, 32) through the projections.
        let mut projections = Vec::new();
        let mut lateral = Vec::new();
        let mut laterals = Vec::new();
        for stage in &stages[1..] {
            let proj = g.consumer_where(stage, "Conv", |n| n.int("group").unwrap_or(1) == 1)?;
            projections.push(ConvParts::read(g, proj)?.build(device));
            let ins = g.consumer(proj.out(), "Conv")?;
            let (layer, out) = ResidualSe::read(g, ins, device)?;
            lateral.push(layer);
            laterals.push(out);
        }
        // Top-down: out4 = in4 + up(in5), out3 = in3 + up(out4), out2 = in2 + up(out3).
        let mut merged = vec![laterals[3].clone()];
        for level in (0..3).rev() {
            let up = g.consumer(merged.last().map(String::as_str).unwrap_or(""), "Resize")?;
            let add = g.consumer_where(up.out(), "Add", |n| {
                n.inputs.iter().any(|i| *i == laterals[level])
            })?;
            merged.push(add.out().to_string());
        }
        merged.reverse(); // [out2, out3, out4, in5]
        let mut smooth = Vec::new();
        let mut smoothed = Vec::new();
        for level in &merged {
            let conv = g.consumer(level, "Conv")?;
            let (layer, out) = ResidualSe::read(g, conv, device)?;
            smooth.push(layer);
            smoothed.push(out);
        }
        // Concat [p5 ×8, p4 ×4, p3 ×2, p2], then the head.
        let concat = g.downstream(&smoothed[0], "Concat", |_| true)?;
        let head = g.consumer(concat.out(), "Conv")?;
        let mut head_parts = ConvParts::read(g, head)?;
        let bn = g.consumer(head.out(), "BatchNormalization")?;
        head_parts.fold_batch_norm(g, bn)?;
        let act = g.consumer(bn.out(), "Relu")?;
        let (head_up1, out) = Upsample::read(g, act.out(), true, device)?;
        let act = g.consumer(&out, "Relu")?;
        let (head_up2, out) = Upsample::read(g, act.out(), false, device)?;
        g.consumer(&out, "Sigmoid")?;
        Ok(Detector {
            backbone,
            projections,
            lateral,
            smooth,
            head_conv: head_parts.build(device),
            head_up1,
            head_up2,
        })
    }

    /// `[n, 3, h, w]` → `[n, 1, h, w]` text probabilities (h, w multiples of 32).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let stages = self.backbone.forward(x);
        // in2 … in5: strides 4, 8, 16, 32.
        let lateral = |level: usize| {
            let stage = stages[level + 1].clone();
            self.lateral[level].forward(self.projections[level].forward(stage))
        };
        let in5 = lateral(3);
        let out4 = lateral(2) + upsample(in5.clone(), 2);
        let out3 = lateral(1) + upsample(out4.clone(), 2);
        let out2 = lateral(0) + upsample(out3.clone(), 2);
        let p2 = self.smooth[0].forward(out2);
        let p3 = self.smooth[1].forward(out3);
        let p4 = self.smooth[2].forward(out4);
        let p5 = self.smooth[3].forward(in5);
        let fused = Tensor::cat(
            vec![upsample(p5, 8), upsample(p4, 4), upsample(p3, 2), p2],
            1,
        );
        let y = relu(self.head_conv.forward(fused));
        let y = relu(self.head_up1.forward(y));
        sigmoid(self.head_up2.forward(y))
    }
}
