//! BatchNormalization, recovering gamma, beta, moving mean, moving variance
//! and epsilon (not just the folded scale/shift, so the Keras model can be
//! fine-tuned and the report can name a wrong epsilon).
//!
//! Forms matched:
//! - `FusedBatchNorm` (TF1) and `FusedBatchNormV3` (tf-keras):
//!   inputs `(x, gamma, beta, mean, var)`, `epsilon` attribute,
//!   `is_training = false`, NHWC;
//! - the arithmetic that `tf.nn.batch_normalization` leaves (Keras 3 and TF1
//!   `tf.nn.batch_normalization`), anchored at `mul_1 = x * m`:
//!   `m = Rsqrt(var + eps) [* gamma]`, then `add_1 = mul_1 + (beta - mean * m)`
//!   or, without center, `mul_1 + Neg(mean * m)` (TF1) or `mul_1 + Neg(mean) * m`
//!   (Keras 3);
//! - BatchNormalization without scale (InceptionV3's `scale=False`): the
//!   arithmetic form has no `* gamma`; the fused form gets a plain `Const` of
//!   ones as gamma (tf-keras/TF1 pass `constant(1.0)` where there is no
//!   variable), and without center a plain `Const` of zeros as beta; those
//!   become `scale=False` / `center=False`. A gamma read from a variable
//!   (`Identity` of `ReadVariableOp`) stays a weight even if it is all ones.
//!
//! Not handled yet: NCHW, BN over a non-last axis, the moments of a
//! training-mode graph.

use super::ctx::{Ctx, Emit, Match, weight};
use super::rules::{CHAIN, LAYER, RuleEntry};
use crate::graph::pb::NodeDef;
use crate::graph::{NodeExt, TensorId};
use crate::keras::LayerKind;
use ndarray::ArrayD;

fn channels_of(ctx: &Ctx, x: &TensorId) -> Result<usize, String> {
    ctx.shape(x)
        .and_then(|s| s.last().copied().flatten())
        .ok_or_else(|| "the input's channel count is unknown".to_string())
}

fn vector(name: &str, v: ArrayD<f32>, c: usize) -> Result<ArrayD<f32>, String> {
    if v.len() != c {
        return Err(format!("{name} has {} values for {c} channels", v.len()));
    }
    v.into_shape_with_order(ndarray::IxDyn(&[c]))
        .map_err(|e| e.to_string())
}

struct Bn {
    gamma: Option<ArrayD<f32>>,
    beta: Option<ArrayD<f32>>,
    mean: ArrayD<f32>,
    var: ArrayD<f32>,
    epsilon: f32,
}

fn emit(
    ctx: &Ctx,
    node: &NodeDef,
    x: TensorId,
    bn: Bn,
    output: TensorId,
    nodes: Vec<String>,
) -> Result<Match, String> {
    let c = channels_of(ctx, &x)?;
    if !(bn.epsilon.is_finite() && bn.epsilon >= 0.0) {
        return Err(format!(
            "epsilon {} is not a valid BatchNormalization epsilon",
            bn.epsilon
        ));
    }
    let mut weights = Vec::new();
    let (scale, center) = (bn.gamma.is_some(), bn.beta.is_some());
    if let Some(g) = bn.gamma {
        weights.push(weight("gamma", vector("gamma", g, c)?));
    }
    if let Some(b) = bn.beta {
        weights.push(weight("beta", vector("beta", b, c)?));
    }
    weights.push(weight("moving_mean", vector("moving mean", bn.mean, c)?));
    weights.push(weight(
        "moving_variance",
        vector("moving variance", bn.var, c)?,
    ));
    Ok(Match::one(Emit {
        name: ctx.layer_name(node),
        kind: LayerKind::BatchNormalization {
            axis: -1,
            epsilon: bn.epsilon,
            center,
            scale,
        },
        weights,
        inputs: vec![x],
        output,
        more_outputs: Vec::new(),
        nodes,
    }))
}

pub fn fused(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    if node.attr_bool("is_training").unwrap_or(true) {
        return Err("is_training is set (a training-mode graph)".into());
    }
    if node.attr_str("data_format").is_ok_and(|f| f != "NHWC") {
        return Err("only NHWC is supported".into());
    }
    let gamma = ctx.const_f32(node, 1)?;
    let beta = ctx.const_f32(node, 2)?;
    let bn = Bn {
        gamma: (!literal_fill(ctx, node, 1, &gamma, 1.0)).then_some(gamma),
        beta: (!literal_fill(ctx, node, 2, &beta, 0.0)).then_some(beta),
        mean: ctx.const_f32(node, 3)?,
        var: ctx.const_f32(node, 4)?,
        epsilon: node.attr_float("epsilon").unwrap_or(1e-4),
    };
    emit(
        ctx,
        node,
        x,
        bn,
        TensorId::new(node.name.clone(), 0),
        vec![node.name.clone()],
    )
}

/// Whether input `k` of `node` is a plain `Const` (not a variable read) whose
/// every value is `fill`: what tf-keras and TF1 pass for a missing gamma/beta.
fn literal_fill(ctx: &Ctx, node: &NodeDef, k: usize, v: &ArrayD<f32>, fill: f32) -> bool {
    let direct = node
        .data_inputs()
        .get(k)
        .map(|i| TensorId::parse(i).node)
        .and_then(|n| ctx.graph.node(&n))
        .is_some_and(|n| n.op == "Const");
    direct && v.iter().all(|&x| x == fill)
}

/// The operand of a binary node that is not `t`, as (index, tensor).
fn other_operand(ctx: &Ctx, node: &NodeDef, t: &TensorId) -> Option<TensorId> {
    let a = ctx.graph.input(node, 0).ok()?;
    let b = ctx.graph.input(node, 1).ok()?;
    if &a == t {
        Some(b)
    } else if &b == t {
        Some(a)
    } else {
        None
    }
}

fn node_of<'a>(ctx: &Ctx<'a>, t: &TensorId) -> Option<&'a NodeDef> {
    ctx.graph.node(&t.node)
}

pub fn arithmetic(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    // mul_1 = x * m
    let (x, m) = match (ctx.layer_input(node, 0), ctx.layer_input(node, 1)) {
        (Ok(x), Err(_)) => (
            x.clone(),
            ctx.graph.input(node, 1).map_err(|e| e.to_string())?,
        ),
        (Err(_), Ok(x)) => (
            x.clone(),
            ctx.graph.input(node, 0).map_err(|e| e.to_string())?,
        ),
        _ => return Err("not a layer output times a constant".into()),
    };
    let m_node = node_of(ctx, &m).ok_or("scale is not a node")?;
    // m = Rsqrt(var + eps) * gamma, or Rsqrt(var + eps) without scale.
    let (rsqrt, gamma) = match m_node.op.as_str() {
        "Rsqrt" => (m_node, None),
        "Mul" => {
            let a = ctx.graph.input_node(m_node, 0).map_err(|e| e.to_string())?;
            let b = ctx.graph.input_node(m_node, 1).map_err(|e| e.to_string())?;
            let (r, g) = if a.op == "Rsqrt" {
                (a, 1)
            } else if b.op == "Rsqrt" {
                (b, 0)
            } else {
                return Err("scale is not Rsqrt(var + eps) * gamma".into());
            };
            (r, Some(ctx.const_f32(m_node, g)?))
        }
        _ => return Err("scale is not Rsqrt(var + eps) [* gamma]".into()),
    };
    let add = ctx.graph.input_node(rsqrt, 0).map_err(|e| e.to_string())?;
    if !matches!(add.op.as_str(), "Add" | "AddV2") {
        return Err("Rsqrt's input is not var + eps".into());
    }
    let (p, q) = (ctx.const_f32(add, 0)?, ctx.const_f32(add, 1)?);
    let (var, eps) = if q.len() == 1 {
        (p, q)
    } else if p.len() == 1 {
        (q, p)
    } else {
        return Err("no scalar epsilon in var + eps".into());
    };
    let epsilon = eps.iter().next().copied().ok_or("empty epsilon")?;
    // add_1 = mul_1 + (beta - mean * m)   or   mul_1 + Neg(mean * m)
    let mul_1 = TensorId::new(node.name.clone(), 0);
    let add_1 = ctx
        .sole_consumer(&mul_1)
        .filter(|n| matches!(n.op.as_str(), "Add" | "AddV2"))
        .ok_or("x * scale is not followed by an Add")?;
    let shift = other_operand(ctx, add_1, &mul_1).ok_or("Add does not take x * scale")?;
    let shift_node = node_of(ctx, &shift).ok_or("shift is not a node")?;
    // Keras 3 without center: `mul_2 = Neg(mean) * m`, the shift itself.
    if shift_node.op == "Mul"
        && let Some(neg_mean) = other_operand(ctx, shift_node, &m)
        && let Some(neg_mean) = super::consts::fold_f32(ctx.graph, &neg_mean)
    {
        let bn = Bn {
            gamma,
            beta: None,
            mean: -neg_mean,
            var,
            epsilon,
        };
        let nodes = vec![node.name.clone(), add_1.name.clone()];
        return emit(
            ctx,
            node,
            x,
            bn,
            TensorId::new(add_1.name.clone(), 0),
            nodes,
        );
    }
    let (beta, mean_mul) = match shift_node.op.as_str() {
        "Sub" => (
            Some(ctx.const_f32(shift_node, 0)?),
            ctx.graph
                .input_node(shift_node, 1)
                .map_err(|e| e.to_string())?,
        ),
        "Neg" => (
            None,
            ctx.graph
                .input_node(shift_node, 0)
                .map_err(|e| e.to_string())?,
        ),
        _ => return Err("shift is not beta - mean * scale".into()),
    };
    if mean_mul.op != "Mul" {
        return Err("shift does not hold mean * scale".into());
    }
    let mean_t =
        other_operand(ctx, mean_mul, &m).ok_or("shift's product does not use the same scale")?;
    let mean =
        super::consts::fold_f32(ctx.graph, &mean_t).ok_or("moving mean is not a constant")?;
    let bn = Bn {
        gamma,
        beta,
        mean,
        var,
        epsilon,
    };
    let nodes = vec![node.name.clone(), add_1.name.clone()];
    emit(
        ctx,
        node,
        x,
        bn,
        TensorId::new(add_1.name.clone(), 0),
        nodes,
    )
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[
    RuleEntry::new("FusedBatchNorm", "batch_norm (fused)", LAYER, fused),
    RuleEntry::new("FusedBatchNormV3", "batch_norm (fused)", LAYER, fused),
    RuleEntry::new(
        "Mul",
        "batch_norm (Keras 3 arithmetic form)",
        CHAIN + 70,
        arithmetic,
    ),
];
