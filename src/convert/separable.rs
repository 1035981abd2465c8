//! Separable convolutions → `SeparableConv2D`.
//!
//! Keras 3 and tf-keras both call `tf.nn.separable_conv2d`, which freezes as
//! `DepthwiseConv2dNative(x, depthwise_kernel)` → `Conv2D(·, pointwise_kernel)`
//! (1x1, stride 1) in the same layer scope (`<layer>/separable_conv2d/depthwise`,
//! `<layer>/separable_conv2d`), followed by the bias (`BiasAdd`, or Keras 3's
//! `BiasAdd`/`Add` of a reshaped constant) and a fused activation, which
//! [`super::conv::tail`] follows like for Conv2D. With `dilation_rate > 1` the
//! depthwise step is wrapped as `SpaceToBatchND → DepthwiseConv2dNative (VALID)
//! → BatchToSpaceND`, which [`dilated`] matches.
//!
//! A `DepthwiseConv2D` layer followed by a separate 1x1 `Conv2D` layer
//! (MobileNet) is *not* fused: the two convolutions must sit in one layer scope
//! with nothing in between.
//!
//! Not handled yet: NCHW, `EXPLICIT` padding, a bias between the two
//! convolutions (Keras never puts one there).

use super::conv::{Dilated, dilated_core, padding, tail};
use super::ctx::{Ctx, Emit, Match, weight};
use super::rules::{CHAIN, RuleEntry};
use crate::graph::pb::NodeDef;
use crate::graph::{NodeExt, TensorId};
use crate::keras::{LayerKind, Padding};

/// A 4-entry `strides`/`dilations` attribute as `[h, w]` (dilations default to 1).
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

fn nhwc(node: &NodeDef) -> Result<(), String> {
    match node.attr_str("data_format") {
        Ok(f) if f != "NHWC" => Err(format!("data_format {f} is not supported (only NHWC)")),
        _ => Ok(()),
    }
}

/// The depthwise step's geometry as the Keras layer states it.
struct Depthwise {
    strides: [usize; 2],
    dilation_rate: [usize; 2],
    padding: Padding,
}

/// Builds the layer from the depthwise node `dw` (whose value, after any
/// BatchToSpaceND, is `dw_out`), given its geometry.
fn build(
    ctx: &Ctx,
    dw: &NodeDef,
    x: TensorId,
    dw_out: TensorId,
    geo: Depthwise,
    mut nodes: Vec<String>,
) -> Result<Match, String> {
    nhwc(dw)?;
    let dk = ctx.const_f32(dw, 1)?;
    let &[kh, kw, c, dm] = dk.shape() else {
        return Err(format!(
            "depthwise kernel has rank {}, expected 4",
            dk.ndim()
        ));
    };
    let in_ch = ctx
        .shape(&x)
        .and_then(|s| s.last().copied().flatten())
        .ok_or("the input's channel count is unknown")?;
    if c != in_ch {
        return Err(format!(
            "depthwise kernel expects {c} channels, the input has {in_ch}"
        ));
    }
    let pw = ctx
        .sole_consumer(&dw_out)
        .filter(|n| n.op == "Conv2D")
        .ok_or("the depthwise convolution is not followed by a Conv2D alone")?;
    if !ctx.same_layer(dw, pw) {
        return Err(format!(
            "the following Conv2D '{}' is another layer (not a separable conv)",
            pw.name
        ));
    }
    if ctx.graph.input(pw, 0).ok().as_ref() != Some(&dw_out) {
        return Err(format!(
            "the depthwise output is the kernel of '{}', not its input",
            pw.name
        ));
    }
    nhwc(pw)?;
    let pk = ctx.const_f32(pw, 1)?;
    let &[1, 1, pc, filters] = pk.shape() else {
        return Err(format!(
            "pointwise kernel {:?} is not 1x1 (kh, kw, in, out)",
            pk.shape()
        ));
    };
    if pc != c * dm {
        return Err(format!(
            "pointwise kernel expects {pc} channels, the depthwise step gives {}",
            c * dm
        ));
    }
    if spatial(pw, "strides")? != [1, 1] {
        return Err("the pointwise Conv2D has strides".into());
    }
    // 1x1, stride 1: SAME and VALID pad nothing and dilation has no effect.
    let t = tail(ctx, pw, TensorId::new(pw.name.clone(), 0), filters);
    let use_bias = t.bias.is_some();
    let kind = LayerKind::SeparableConv2D {
        filters,
        kernel_size: [kh, kw],
        strides: geo.strides,
        padding: geo.padding,
        depth_multiplier: dm,
        dilation_rate: geo.dilation_rate,
        use_bias,
        activation: t.activation,
    };
    let mut weights = vec![
        weight("depthwise_kernel", dk),
        weight("pointwise_kernel", pk),
    ];
    if let Some(b) = t.bias {
        weights.push(weight("bias", b));
    }
    nodes.push(pw.name.clone());
    nodes.extend(t.nodes);
    Ok(Match::one(Emit {
        name: ctx.layer_name(dw),
        kind,
        weights,
        inputs: vec![x],
        output: t.output,
        more_outputs: Vec::new(),
        nodes,
    }))
}

/// `DepthwiseConv2dNative → Conv2D 1x1 [→ bias] [→ activation]` in one scope.
pub fn separable(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    build(
        ctx,
        node,
        x,
        TensorId::new(node.name.clone(), 0),
        Depthwise {
            strides: spatial(node, "strides")?,
            dilation_rate: spatial(node, "dilations")?,
            padding: padding(node)?,
        },
        vec![node.name.clone()],
    )
}

/// The dilated form: `SpaceToBatchND → DepthwiseConv2dNative (VALID, stride 1)
/// → BatchToSpaceND → Conv2D 1x1 …`. SAME vs VALID is read back from the
/// leading paddings, as for a dilated DepthwiseConv2D.
pub fn dilated(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    let Dilated {
        conv: dwc,
        b2s,
        dilation,
        padding: pad,
    } = dilated_core(ctx, node, &["DepthwiseConv2dNative"])?;
    build(
        ctx,
        dwc,
        x,
        TensorId::new(b2s.name.clone(), 0),
        Depthwise {
            strides: [1, 1],
            dilation_rate: dilation,
            padding: pad,
        },
        vec![node.name.clone(), dwc.name.clone(), b2s.name.clone()],
    )
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[
    RuleEntry::new(
        "DepthwiseConv2dNative",
        "separable_conv2d",
        CHAIN + 40,
        separable,
    ),
    RuleEntry::new(
        "SpaceToBatchND",
        "separable_conv2d (dilated)",
        CHAIN + 40,
        dilated,
    ),
];
