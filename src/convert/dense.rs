//! `MatMul` (+ bias, + fused activation) → `Dense`.
//!
//! Matches `MatMul(x, W)` with a constant `W` (tf-keras reads it through
//! `MatMul/ReadVariableOp`, Keras 3 through `Cast/ReadVariableOp`, TF1
//! through `w/read`), `transpose_b` handled by transposing the kernel into
//! Keras's `(in, units)` layout; then the same bias/activation tail as the
//! convolutions.
//!
//! Not handled yet: `transpose_a`, MatMul of two layer outputs. (Dense on
//! rank-3+ inputs, the `Tensordot` and `BatchMatMulV2` forms, is in
//! `dense_nd.rs`.)

use super::conv::tail;
use super::ctx::{Ctx, Emit, Match, weight};
use super::rules::{LAYER, RuleEntry};
use crate::graph::pb::NodeDef;
use crate::graph::{NodeExt, TensorId};
use crate::keras::LayerKind;

pub fn dense(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    if node.attr_bool("transpose_a").unwrap_or(false) {
        return Err("transpose_a is set".into());
    }
    let mut w = ctx.const_f32(node, 1)?;
    if w.ndim() != 2 {
        return Err(format!("weight has rank {}, expected 2", w.ndim()));
    }
    if node.attr_bool("transpose_b").unwrap_or(false) {
        w = w.t().as_standard_layout().into_owned();
    }
    let (inputs, units) = (w.shape()[0], w.shape()[1]);
    match ctx.shape(&x).map(Vec::as_slice) {
        Some([_, Some(d)]) if *d == inputs => {}
        Some(s) => {
            return Err(format!(
                "input shape {s:?} does not fit a ({inputs}, {units}) kernel"
            ));
        }
        None => return Err("input shape unknown".into()),
    }
    let t = tail(ctx, node, TensorId::new(node.name.clone(), 0), units);
    let mut weights = vec![weight("kernel", w)];
    let use_bias = t.bias.is_some();
    if let Some(b) = t.bias {
        weights.push(weight("bias", b));
    }
    let mut nodes = vec![node.name.clone()];
    nodes.extend(t.nodes);
    Ok(Match::one(Emit {
        name: ctx.layer_name(node),
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

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[RuleEntry::new("MatMul", "dense", LAYER, dense)];
