//! Merges: `Add`/`AddV2`/`AddN` of layer outputs → `Add`; `ConcatV2` →
//! `Concatenate` (axis written as Keras writes it: -1 for the last axis).
//!
//! An `Add` with a constant operand is not a merge (a bias, or Rescaling):
//! the conv/dense rules take biases; the rest is refused here.
//!
//! Not handled yet: Subtract, Multiply, Maximum, Minimum, Average, broadcasting adds.

use super::ctx::{Ctx, Emit, Match};
use crate::graph::NodeExt;
use crate::graph::TensorId;
use crate::graph::pb::NodeDef;
use crate::keras::LayerKind;

pub fn add(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let n = node.data_inputs().len();
    let inputs = (0..n)
        .map(|k| ctx.layer_input(node, k))
        .collect::<Result<Vec<_>, _>>()?;
    if inputs.len() < 2 {
        return Err("fewer than two inputs".into());
    }
    let shapes: Vec<_> = inputs.iter().map(|t| ctx.shape(t)).collect();
    if shapes.windows(2).any(|w| w[0] != w[1]) {
        return Err(format!(
            "operand shapes differ ({shapes:?}); Keras's Add does not broadcast"
        ));
    }
    Ok(Match::one(Emit {
        name: ctx.layer_name(node),
        kind: LayerKind::Add,
        weights: vec![],
        inputs,
        output: TensorId::new(node.name.clone(), 0),
        nodes: vec![node.name.clone()],
    }))
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
    Ok(Match::one(Emit {
        name: ctx.layer_name(node),
        kind: LayerKind::Concatenate { axis },
        weights: vec![],
        inputs,
        output: TensorId::new(node.name.clone(), 0),
        nodes: vec![node.name.clone()],
    }))
}
