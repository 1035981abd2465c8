//! `Dense` on inputs of rank 3 or more (Transformer feed-forward layers,
//! ConvNeXt's pointwise convolutions): Dense works on the last axis only.
//!
//! Forms matched (Keras 3 and tf-keras both freeze `tf.tensordot`):
//! - **Tensordot**, anchored at the `Transpose`:
//!   `Transpose(x, identity perm) → Reshape(·, [prod(leading), in]) →
//!   MatMul(·, W) → Reshape(·, leading + [units])`, the shapes computed at run
//!   time from `Shape(x)` (GatherV2/Prod/Pack/ConcatV2 nodes, skipped as
//!   shape arithmetic); with a static batch the `Transpose` may be missing and
//!   the match anchors at the first `Reshape`;
//! - **batched MatMul**: `BatchMatMulV2(x, W)` with a constant 2-D `W`.
//!
//! Then the same bias/activation tail as the convolutions (`BiasAdd`, fused
//! activation in the layer's scope).
//!
//! Not handled yet: `Einsum`-form Dense (`EinsumDense` is a different class),
//! tensordot over an axis other than the last, `adj_x`.

use super::conv::tail;
use super::ctx::{Ctx, Emit, Match, weight};
use super::rules::{CHAIN, RuleEntry};
use crate::graph::pb::NodeDef;
use crate::graph::{NodeExt, TensorId};
use crate::keras::LayerKind;
use ndarray::ArrayD;

fn out(node: &NodeDef) -> TensorId {
    TensorId::new(node.name.clone(), 0)
}

/// Checks `x` has rank >= 3 with `inputs` features on its last axis.
fn check_input(ctx: &Ctx, x: &TensorId, inputs: usize) -> Result<usize, String> {
    match ctx.shape(x) {
        Some(s) if s.len() >= 3 && s.last().copied().flatten() == Some(inputs) => Ok(s.len()),
        Some(s) => Err(format!(
            "input shape {s:?} is not (batch, ..., {inputs}) of rank >= 3"
        )),
        None => Err("input shape unknown".into()),
    }
}

/// The kernel in Keras's `(in, units)` layout from a 2-D constant operand.
fn kernel(ctx: &Ctx, mm: &NodeDef, transpose: bool) -> Result<ArrayD<f32>, String> {
    let w = ctx.const_f32(mm, 1)?;
    if w.ndim() != 2 {
        return Err(format!("weight has rank {}, expected 2", w.ndim()));
    }
    Ok(if transpose {
        w.t().as_standard_layout().into_owned()
    } else {
        w
    })
}

fn emit(
    ctx: &Ctx,
    anchor: &NodeDef,
    x: TensorId,
    w: ArrayD<f32>,
    output: TensorId,
    mut nodes: Vec<String>,
) -> Result<Match, String> {
    let units = w.shape()[1];
    let t = tail(ctx, anchor, output, units);
    let mut weights = vec![weight("kernel", w)];
    let use_bias = t.bias.is_some();
    if let Some(b) = t.bias {
        weights.push(weight("bias", b));
    }
    nodes.extend(t.nodes);
    Ok(Match::one(Emit {
        name: ctx.layer_name(anchor),
        kind: LayerKind::Dense {
            units,
            use_bias,
            activation: t.activation,
        },
        weights,
        inputs: vec![x],
        output: t.output,
        more_outputs: Vec::new(),
        nodes,
    }))
}

/// The Tensordot form, anchored at its `Transpose` or (static shapes) first `Reshape`.
pub fn tensordot(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    let mut nodes = vec![node.name.clone()];
    let flat = match node.op.as_str() {
        "Transpose" => {
            let perm = ctx.const_ints(node, 1)?;
            if perm.iter().enumerate().any(|(i, &p)| p != i as i64) {
                return Err(format!("perm {perm:?} is not the identity"));
            }
            let r = ctx
                .sole_consumer(&out(node))
                .filter(|n| n.op == "Reshape")
                .ok_or("the Transpose is not followed by a Reshape")?;
            nodes.push(r.name.clone());
            r
        }
        _ => node,
    };
    let mm = ctx
        .sole_consumer(&out(flat))
        .filter(|n| n.op == "MatMul" && ctx.graph.input(n, 0).ok() == Some(out(flat)))
        .ok_or("the Reshape does not feed a MatMul's first operand")?;
    if mm.attr_bool("transpose_a").unwrap_or(false) {
        return Err("transpose_a is set".into());
    }
    let w = kernel(ctx, mm, mm.attr_bool("transpose_b").unwrap_or(false))?;
    let rank = check_input(ctx, &x, w.shape()[0])?;
    // Flattened to (-1, in): when the target shape folds, it must say so.
    if let Ok(dims) = ctx.const_ints(flat, 1)
        && (dims.len() != 2 || dims[1] != w.shape()[0] as i64)
    {
        return Err(format!(
            "the Reshape to {dims:?} is not a flatten to (-1, in)"
        ));
    }
    let back = ctx
        .sole_consumer(&out(mm))
        .filter(|n| n.op == "Reshape")
        .ok_or("the MatMul is not followed by a Reshape back")?;
    // Restored to leading + [units]: when the target shape folds, check its rank and last dim.
    if let Ok(dims) = ctx.const_ints(back, 1)
        && (dims.len() != rank || dims.last() != Some(&(w.shape()[1] as i64)))
    {
        return Err(format!(
            "the Reshape back to {dims:?} does not restore rank {rank}"
        ));
    }
    nodes.extend([mm.name.clone(), back.name.clone()]);
    emit(ctx, mm, x, w, out(back), nodes)
}

/// `BatchMatMulV2(x, W)` with a constant 2-D `W` on a rank >= 3 input.
pub fn batch_matmul(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    if node.attr_bool("adj_x").unwrap_or(false) {
        return Err("adj_x is set".into());
    }
    let w = kernel(ctx, node, node.attr_bool("adj_y").unwrap_or(false))?;
    check_input(ctx, &x, w.shape()[0])?;
    emit(ctx, node, x, w, out(node), vec![node.name.clone()])
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[
    RuleEntry::new(
        "BatchMatMulV2",
        "dense (batched MatMul, rank >= 3)",
        CHAIN + 10,
        batch_matmul,
    ),
    RuleEntry::new("Transpose", "dense (Tensordot form)", CHAIN + 10, tensordot),
    RuleEntry::new(
        "Reshape",
        "dense (Tensordot form, static shape)",
        CHAIN + 10,
        tensordot,
    ),
];
