//! Convolutions → `Conv2D`, `DepthwiseConv2D`, and `Pad` → `ZeroPadding2D`.
//!
//! Matches, in every form Keras 3, tf-keras and TF1 code freeze them:
//! - `Conv2D` (NHWC, strides, dilations, SAME/VALID) with its bias as
//!   `BiasAdd(conv, b)` (tf-keras, TF1), `BiasAdd(conv, Squeeze(Reshape(b)))`
//!   (Keras 3) or `Add(conv, b)`, and an activation (Relu/Sigmoid/Tanh/Softmax/
//!   Elu/Selu/Softplus/Softsign/Exp) fused when it sits in the same layer scope
//!   (Conv2D, DepthwiseConv2D and Dense share this). Multi-node activations
//!   (swish, gelu) stay separate `Activation` layers named after the scope.
//!   The kernel is HWIO, which is Keras's own layout, so it is copied as is.
//!   A grouped convolution shows as
//!   a kernel with fewer input channels than the input: `groups = C_in / I`.
//! - `DepthwiseConv2dNative` (kernel `(kh, kw, C, M)`, Keras's layout too).
//! - dilated convolutions frozen as `SpaceToBatchND → Conv2D → BatchToSpaceND`
//!   (how TensorFlow runs `dilation_rate > 1`); SAME vs VALID is read back from
//!   the leading paddings.
//! - `Pad`/`PadV2` with constant zero padding of H and W only → `ZeroPadding2D`
//!   (so an explicit Pad in front of a VALID conv round-trips exactly).
//!
//! Not handled yet: NCHW data format, `EXPLICIT` padding attribute, Conv3D,
//! padding of batch/channels. (`Conv2DBackpropInput` → Conv2DTranspose is in
//! `conv_transpose.rs`.)

use super::ctx::{Ctx, Emit, Match, weight};
use super::rules::{CHAIN, LAYER, RuleEntry};
use crate::graph::pb::NodeDef;
use crate::graph::{NodeExt, TensorId};
use crate::keras::{Activation, LayerKind, Padding};
use ndarray::ArrayD;

/// What follows a linear op in the same Keras layer: bias and activation.
pub(super) struct Tail {
    pub bias: Option<ArrayD<f32>>,
    pub activation: Activation,
    pub output: TensorId,
    pub nodes: Vec<String>,
}

/// Follows `out` through a bias add (constant of `channels` values) and an
/// activation in `anchor`'s layer scope.
pub(super) fn tail(ctx: &Ctx, anchor: &NodeDef, mut out: TensorId, channels: usize) -> Tail {
    let mut t = Tail {
        bias: None,
        activation: Activation::Linear,
        output: out.clone(),
        nodes: Vec::new(),
    };
    if let Some(next) = ctx.sole_consumer(&out)
        && matches!(next.op.as_str(), "BiasAdd" | "Add" | "AddV2")
    {
        let data_fmt_ok = next.attr_str("data_format").map_or(true, |f| f == "NHWC");
        let (x_pos, b_pos) = if ctx.graph.input(next, 0).ok().as_ref() == Some(&out) {
            (0, 1)
        } else {
            (1, 0)
        };
        if data_fmt_ok
            && (next.op != "BiasAdd" || x_pos == 0)
            && ctx.graph.input(next, x_pos).ok().as_ref() == Some(&out)
        {
            match ctx.const_f32(next, b_pos) {
                Ok(b) if b.len() == channels && b.shape().iter().rev().skip(1).all(|&d| d == 1) => {
                    t.bias = Some(
                        b.into_shape_with_order(channels)
                            .map(|b| b.into_dyn())
                            .unwrap_or_else(|e| {
                                // Unreachable: the length was just checked.
                                log::debug!("bias reshape: {e}");
                                ArrayD::zeros(ndarray::IxDyn(&[channels]))
                            }),
                    );
                    out = TensorId::new(next.name.clone(), 0);
                    t.nodes.push(next.name.clone());
                }
                Ok(b) => log::debug!(
                    "{}: not a bias of {channels} channels (shape {:?})",
                    next.name,
                    b.shape()
                ),
                Err(why) => log::debug!("{}: not a bias: {why}", next.name),
            }
        }
    }
    if let Some(next) = ctx.sole_consumer(&out)
        && ctx.same_layer(anchor, next)
    {
        let act = match next.op.as_str() {
            "Relu" => Some(Activation::Relu),
            "Sigmoid" => Some(Activation::Sigmoid),
            "Tanh" => Some(Activation::Tanh),
            "Softmax" => Some(Activation::Softmax),
            "Elu" => Some(Activation::Elu),
            "Selu" => Some(Activation::Selu),
            "Softplus" => Some(Activation::Softplus),
            "Softsign" => Some(Activation::Softsign),
            "Exp" => Some(Activation::Exponential),
            _ => None,
        };
        if let Some(a) = act {
            t.activation = a;
            out = TensorId::new(next.name.clone(), 0);
            t.nodes.push(next.name.clone());
        }
    }
    t.output = out;
    t
}

fn nhwc(node: &NodeDef) -> Result<(), String> {
    match node.attr_str("data_format") {
        Ok(f) if f != "NHWC" => Err(format!("data_format {f} is not supported (only NHWC)")),
        _ => Ok(()),
    }
}

fn spatial(node: &NodeDef, attr: &str) -> Result<[usize; 2], String> {
    let v = match node.attr_ints(attr) {
        Ok(v) => v,
        Err(_) if attr == "dilations" => return Ok([1, 1]),
        Err(e) => return Err(e.to_string()),
    };
    match v.as_slice() {
        [1, h, w, 1] if *h > 0 && *w > 0 => Ok([*h as usize, *w as usize]),
        _ => Err(format!("{attr} {v:?} must be [1, h, w, 1]")),
    }
}

pub(super) fn padding(node: &NodeDef) -> Result<Padding, String> {
    match node
        .attr_str("padding")
        .map_err(|e| e.to_string())?
        .as_str()
    {
        "SAME" => Ok(Padding::Same),
        "VALID" => Ok(Padding::Valid),
        other => Err(format!("padding {other} is not supported")),
    }
}

struct Linear {
    kind: LayerKind,
    weights: Vec<crate::keras::Weight>,
    output: TensorId,
    nodes: Vec<String>,
}

/// Builds the Keras conv layer for a TF conv node, given where its output
/// really is (after BatchToSpaceND for the dilated form) and the dilation.
fn conv_layer(
    ctx: &Ctx,
    node: &NodeDef,
    x: &TensorId,
    out: TensorId,
    dilation: Option<([usize; 2], Padding)>,
) -> Result<Linear, String> {
    nhwc(node)?;
    let kernel = ctx.const_f32(node, 1)?;
    let &[kh, kw, ci, co] = kernel.shape() else {
        return Err(format!("kernel has rank {}, expected 4", kernel.ndim()));
    };
    let strides = spatial(node, "strides")?;
    let (dilation_rate, padding) = match dilation {
        Some(d) => d,
        None => (spatial(node, "dilations")?, padding(node)?),
    };
    let in_ch = ctx
        .shape(x)
        .and_then(|s| s.last().copied().flatten())
        .ok_or("the input's channel count is unknown")?;
    let depthwise = node.op == "DepthwiseConv2dNative";
    let t = tail(ctx, node, out, if depthwise { ci * co } else { co });
    let use_bias = t.bias.is_some();
    let (kind, kname) = if depthwise {
        if ci != in_ch {
            return Err(format!(
                "depthwise kernel expects {ci} channels, the input has {in_ch}"
            ));
        }
        (
            LayerKind::DepthwiseConv2D {
                kernel_size: [kh, kw],
                strides,
                padding,
                depth_multiplier: co,
                dilation_rate,
                use_bias,
                activation: t.activation,
            },
            "depthwise_kernel",
        )
    } else {
        // in_ch == 0 (a zero-channel input; found by the convert fuzz
        // campaign) would divide by zero in the group count.
        if ci == 0 || in_ch == 0 || in_ch % ci != 0 || co % (in_ch / ci) != 0 {
            return Err(format!(
                "kernel input depth {ci} does not divide the input's {in_ch} channels"
            ));
        }
        (
            LayerKind::Conv2D {
                filters: co,
                kernel_size: [kh, kw],
                strides,
                padding,
                dilation_rate,
                groups: in_ch / ci,
                use_bias,
                activation: t.activation,
            },
            "kernel",
        )
    };
    let mut weights = vec![weight(kname, kernel)];
    if let Some(b) = t.bias {
        weights.push(weight("bias", b));
    }
    let mut nodes = vec![node.name.clone()];
    nodes.extend(t.nodes);
    Ok(Linear {
        kind,
        weights,
        output: t.output,
        nodes,
    })
}

fn emit(ctx: &Ctx, node: &NodeDef, x: TensorId, l: Linear) -> Match {
    Match::one(Emit {
        name: ctx.layer_name(node),
        kind: l.kind,
        weights: l.weights,
        inputs: vec![x],
        output: l.output,
        more_outputs: Vec::new(),
        nodes: l.nodes,
    })
}

pub fn conv2d(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    let l = conv_layer(ctx, node, &x, TensorId::new(node.name.clone(), 0), None)?;
    Ok(emit(ctx, node, x, l))
}

pub fn depthwise(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    conv2d(ctx, node)
}

/// A dilated convolution as TF writes it: `SpaceToBatchND` (the anchor) →
/// one of `ops` (stride 1, VALID) → `BatchToSpaceND`.
pub(super) struct Dilated<'g> {
    /// The convolution between the two reshuffles.
    pub conv: &'g NodeDef,
    pub b2s: &'g NodeDef,
    pub dilation: [usize; 2],
    /// SAME or VALID, read back from the leading paddings.
    pub padding: Padding,
}

/// Matches the dilated-convolution core anchored at the `SpaceToBatchND`
/// `node`; shared by Conv2D, DepthwiseConv2D and SeparableConv2D.
pub(super) fn dilated_core<'g>(
    ctx: &Ctx<'g>,
    node: &NodeDef,
    ops: &[&str],
) -> Result<Dilated<'g>, String> {
    let block = ctx.const_ints(node, 1)?;
    let pads = ctx.const_ints(node, 2)?;
    let [dh, dw] = block[..] else {
        return Err(format!("block_shape {block:?} is not 2-D"));
    };
    if pads.len() != 4 || dh < 1 || dw < 1 {
        return Err(format!("paddings {pads:?} are not [[t, b], [l, r]]"));
    }
    let conv = ctx
        .sole_consumer(&TensorId::new(node.name.clone(), 0))
        .filter(|c| ops.contains(&c.op.as_str()))
        .ok_or_else(|| format!("not followed by {}", ops.join(" or ")))?;
    if spatial(conv, "strides")? != [1, 1] || padding(conv)? != Padding::Valid {
        return Err(format!("the inner {} is not stride 1 VALID", conv.op));
    }
    let b2s = ctx
        .sole_consumer(&TensorId::new(conv.name.clone(), 0))
        .filter(|c| c.op == "BatchToSpaceND")
        .ok_or_else(|| format!("the {} is not followed by BatchToSpaceND", conv.op))?;
    let kernel = ctx.const_f32(conv, 1)?;
    let (kh, kw) = match kernel.shape() {
        [kh, kw, _, _] => (*kh as i64, *kw as i64),
        _ => return Err(format!("the {} kernel is not rank 4", conv.op)),
    };
    let same = (kh - 1) * dh / 2 == pads[0] && (kw - 1) * dw / 2 == pads[2];
    let valid = pads[0] == 0 && pads[2] == 0;
    let padding = match (valid, same) {
        (true, _) => Padding::Valid,
        (false, true) => Padding::Same,
        _ => return Err(format!("paddings {pads:?} match neither SAME nor VALID")),
    };
    Ok(Dilated {
        conv,
        b2s,
        dilation: [dh as usize, dw as usize],
        padding,
    })
}

/// `SpaceToBatchND → Conv2D|DepthwiseConv2dNative (VALID) → BatchToSpaceND`.
pub fn space_to_batch_conv(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    let Dilated {
        conv,
        b2s,
        dilation,
        padding: pad,
    } = dilated_core(ctx, node, &["Conv2D", "DepthwiseConv2dNative"])?;
    let mut l = conv_layer(
        ctx,
        conv,
        &x,
        TensorId::new(b2s.name.clone(), 0),
        Some((dilation, pad)),
    )?;
    l.nodes.extend([node.name.clone(), b2s.name.clone()]);
    Ok(emit(ctx, conv, x, l))
}

/// Constant zero padding of H and W → `ZeroPadding2D`.
pub fn zero_padding(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    if node.op == "PadV2" {
        let v = ctx.const_f32(node, 2)?;
        if v.iter().any(|&v| v != 0.0) {
            return Err("pads with a non-zero constant".into());
        }
    }
    let p = ctx.const_ints(node, 1)?;
    if p.len() != 8 || p[0] != 0 || p[1] != 0 || p[6] != 0 || p[7] != 0 {
        return Err(format!(
            "paddings {p:?} pad more than H and W of an NHWC tensor"
        ));
    }
    if p.iter().any(|&v| v < 0) {
        return Err(format!("negative paddings {p:?}"));
    }
    let u = |i: usize| p[i] as usize;
    let kind = LayerKind::ZeroPadding2D {
        padding: [[u(2), u(3)], [u(4), u(5)]],
    };
    Ok(Match::one(Emit::single(ctx, node, kind, vec![x])))
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[
    RuleEntry::new("Conv2D", "conv2d", LAYER, conv2d),
    RuleEntry::new(
        "DepthwiseConv2dNative",
        "depthwise_conv2d",
        LAYER,
        depthwise,
    ),
    RuleEntry::new(
        "SpaceToBatchND",
        "dilated_conv (SpaceToBatchND form)",
        CHAIN + 50,
        space_to_batch_conv,
    ),
    RuleEntry::new("Pad", "zero_padding2d", LAYER, zero_padding),
    RuleEntry::new("PadV2", "zero_padding2d", LAYER, zero_padding),
];
