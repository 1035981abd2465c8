//! Merges: `Add`/`AddV2`/`AddN` of layer outputs → `Add`, or `Average` when a
//! `RealDiv` by the input count follows in the same scope (how Keras 3 and
//! tf-keras freeze `Average` of 2 tensors); `Mul` → `Multiply`,
//! `Sub` → `Subtract`, `Maximum` → `Maximum`, `Minimum` → `Minimum` (Keras 3
//! and tf-keras freeze each merge as that one op on the two layer outputs, in
//! argument order); `ConcatV2` → `Concatenate` (axis written as Keras writes
//! it: -1 for the last axis).
//!
//! An `Add` with a constant operand is not a merge (a bias, or Rescaling):
//! the conv/dense rules take biases; the rest is refused here.
//!
//! Not handled yet: merges of 3+ tensors other than AddN (frozen as chains of
//! binary ops, they become chains of 2-input merges; an Average of 3+ is then
//! refused at its `RealDiv`), merges of different ranks.
//! (Scalar arithmetic, Rescaling, is in `preprocess.rs`.) Size-1 axes broadcast as in Keras.

use super::ctx::{Ctx, Emit, Match, Shape};
use super::rules::{GENERIC, RuleEntry};
use crate::graph::NodeExt;
use crate::graph::TensorId;
use crate::graph::pb::NodeDef;
use crate::keras::LayerKind;

pub fn add(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let mut m = elementwise(ctx, node, LayerKind::Add)?;
    // Keras's Average: `add(a, b) / 2` in the same layer scope.
    let n = m.layers[0].inputs.len();
    if let Some(div) = ctx.sole_consumer(&TensorId::new(node.name.clone(), 0))
        && div.op == "RealDiv"
        && ctx.same_layer(node, div)
        && ctx.graph.input(div, 0).is_ok_and(|t| t.node == node.name)
        && ctx
            .const_f32(div, 1)
            .is_ok_and(|d| d.len() == 1 && d.iter().all(|&d| d == n as f32))
    {
        let e = &mut m.layers[0];
        e.kind = LayerKind::Average;
        e.output = TensorId::new(div.name.clone(), 0);
        e.nodes.push(div.name.clone());
    }
    Ok(m)
}

/// `Mul`/`Sub`/`Maximum`/`Minimum` of two layer outputs.
pub fn binary(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let kind = match node.op.as_str() {
        "Mul" => LayerKind::Multiply,
        "Sub" => LayerKind::Subtract,
        "Maximum" => LayerKind::Maximum,
        "Minimum" => LayerKind::Minimum,
        other => return Err(format!("{other} is not a merge this rule knows")),
    };
    elementwise(ctx, node, kind)
}

fn elementwise(ctx: &Ctx, node: &NodeDef, kind: LayerKind) -> Result<Match, String> {
    let n = node.data_inputs().len();
    let inputs = (0..n)
        .map(|k| ctx.layer_input(node, k))
        .collect::<Result<Vec<_>, _>>()?;
    if inputs.len() < 2 {
        return Err("fewer than two inputs".into());
    }
    let shapes: Vec<_> = inputs.iter().map(|t| ctx.shape(t)).collect();
    if shapes.windows(2).any(|w| !broadcastable(w[0], w[1])) {
        return Err(format!(
            "operand shapes ({shapes:?}) differ beyond Keras {}'s broadcasting of size-1 axes",
            kind.class_name()
        ));
    }
    Ok(Match::one(Emit::single(ctx, node, kind, inputs)))
}

/// Keras merges broadcast an axis of size 1 against any size (same rank; the
/// batch axis must agree), as squeeze-and-excitation's `x * se` needs.
fn broadcastable(a: Option<&Shape>, b: Option<&Shape>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .enumerate()
                    .all(|(ax, (p, q))| p == q || (ax > 0 && (*p == Some(1) || *q == Some(1))))
        }
        _ => a == b,
    }
}

pub fn concat(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let n = node.data_inputs().len();
    if n < 2 {
        return Err("no axis input".into());
    }
    let inputs = (0..n - 1)
        .map(|k| ctx.layer_input(node, k))
        .collect::<Result<Vec<_>, _>>()?;
    let rank = ctx.shape(&inputs[0]).map_or(0, Vec::len) as i64;
    let axis = *ctx.const_ints(node, n - 1)?.first().ok_or("empty axis")?;
    let axis = if axis < 0 { axis + rank } else { axis };
    if axis < 1 || axis >= rank {
        return Err(format!(
            "concatenates along axis {axis} of a rank-{rank} tensor"
        ));
    }
    let axis = if axis == rank - 1 { -1 } else { axis };
    Ok(Match::one(Emit::single(
        ctx,
        node,
        LayerKind::Concatenate { axis },
        inputs,
    )))
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[
    RuleEntry::new("Mul", "multiply", GENERIC, binary),
    RuleEntry::new("Sub", "subtract", GENERIC, binary),
    RuleEntry::new("Maximum", "maximum", GENERIC, binary),
    RuleEntry::new("Minimum", "minimum", GENERIC, binary),
    RuleEntry::new("Add", "add", GENERIC, add),
    RuleEntry::new("AddV2", "add", GENERIC, add),
    RuleEntry::new("AddN", "add", GENERIC, add),
    RuleEntry::new("ConcatV2", "concatenate", GENERIC, concat),
];
