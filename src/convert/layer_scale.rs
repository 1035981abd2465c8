//! ConvNeXt's `LayerScale` (a custom layer of `keras.applications.convnext`,
//! in neither Keras's nor tf-keras's public layer set): `x * gamma` with a
//! learned per-channel vector `gamma`, frozen as `Mul(x, const[C])`
//! (tf-keras reads `gamma` through `mul/ReadVariableOp`, Keras 3 its
//! `variable` the same way).
//!
//! Emitted as a native layer that computes exactly the same product and loads
//! in both Kerases: `DepthwiseConv2D(kernel_size=1, use_bias=False)` with
//! `depthwise_kernel[0, 0, c, 0] = gamma[c]` (one multiply per element, no
//! sum, so not even the rounding differs).
//!
//! Registered after every other `Mul` rule (BatchNormalization arithmetic,
//! swish, gelu, Multiply of two layers, scalar Rescaling): only a product of a
//! rank-4 layer output and a constant of its channel count lands here.
//!
//! Not handled yet: rank-3 inputs (`(batch, seq, C)`: Keras 3 has
//! `DepthwiseConv1D`, tf-keras does not), a constant that varies over H or W.

use super::ctx::{Ctx, Emit, Match, weight};
use super::rules::{CONSTANT, RuleEntry};
use crate::graph::pb::NodeDef;
use crate::keras::{Activation, LayerKind, Padding};

pub fn layer_scale(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let (x, k) = match (ctx.layer_input(node, 0), ctx.layer_input(node, 1)) {
        (Ok(x), Err(_)) => (x, 1),
        (Err(_), Ok(x)) => (x, 0),
        _ => return Err("not a layer output times a constant".into()),
    };
    let c = match ctx.shape(&x).map(Vec::as_slice) {
        Some([_, _, _, Some(c)]) => *c,
        Some(s) => return Err(format!("input shape {s:?} is not (batch, H, W, C)")),
        None => return Err("input shape unknown".into()),
    };
    let gamma = ctx.const_f32(node, k)?;
    if gamma.len() != c || gamma.shape().iter().rev().skip(1).any(|&d| d != 1) {
        return Err(format!(
            "constant of shape {:?} is not one value per channel ({c})",
            gamma.shape()
        ));
    }
    let kernel = gamma
        .into_shape_with_order(ndarray::IxDyn(&[1, 1, c, 1]))
        .map_err(|e| e.to_string())?;
    let mut e = Emit::single(
        ctx,
        node,
        LayerKind::DepthwiseConv2D {
            kernel_size: [1, 1],
            strides: [1, 1],
            padding: Padding::Valid,
            depth_multiplier: 1,
            dilation_rate: [1, 1],
            use_bias: false,
            activation: Activation::Linear,
        },
        vec![x],
    );
    e.weights = vec![weight("depthwise_kernel", kernel)];
    Ok(Match::one(e))
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[RuleEntry::new(
    "Mul",
    "layer_scale (x * per-channel constant)",
    CONSTANT + 10,
    layer_scale,
)];
