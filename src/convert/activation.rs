//! Standalone activations → `Activation(...)`, `ReLU(max_value=6)` or `LeakyReLU`.
//!
//! Matches (Keras 3 and tf-keras freeze the same ops for these):
//! - `Relu`, `Sigmoid`, `Tanh`, `Softmax` (last axis), `Elu`, `Selu`,
//!   `Softplus`, `Softsign`, `Exp` → `Activation("relu" | … | "elu" | "selu" |
//!   "softplus" | "softsign" | "exponential")` (a Keras 3 `ELU()` layer with
//!   alpha 1 freezes to a bare `Elu` too and becomes `Activation("elu")`);
//! - `Relu6` → `ReLU(max_value=6)`, which both Kerases load (tf-keras has no
//!   `relu6` activation string);
//! - `LeakyRelu` (attr `alpha`, TF default 0.2) → `LeakyReLU(alpha)`;
//! - swish / silu as `tf.nn.silu` freezes it in both Kerases:
//!   `mul = beta * x; s = Sigmoid(mul); y = x * s; IdentityN(y, x, beta)` with
//!   `beta == 1` (the custom-gradient wrapper; IdentityN is a pass-through) →
//!   `Activation("swish")` (Keras 3 loads "swish" as its silu). The plain
//!   `x * sigmoid(x)` form without beta becomes `Activation("sigmoid")` +
//!   `Multiply`, which computes the same;
//! - exact gelu as `tf.nn.gelu(approximate=False)` freezes it in both Kerases:
//!   `h = 0.5 * x; n = Neg(x); a = n * 0.70710677; e = Erfc(a); y = h * e`
//!   → `Activation("gelu")`. It is anchored at whichever of `Neg` / `0.5 * x`
//!   comes first in topological order (both only depend on x).
//!
//! Activations in the same scope as a Conv2D/Dense are fused by those rules
//! instead; a Relu6 there (Keras 3's `activation="relu6"`) stays a separate
//! `ReLU` layer named `<layer>_relu6`.
//!
//! - PReLU (`Relu(x) + Neg(alpha) * Relu(Neg(x))`, both Kerases) → `PReLU`
//!   with `alpha` and `shared_axes`;
//! - `Pow(x, 2 | 3)` → `Multiply([x, x(, x)])`: with the generic scalar
//!   rules (`preprocess.rs`) this converts gelu `approximate=True`
//!   (`0.5x * (1 + tanh(0.79788456 * (x + 0.044715 * Pow(x, 3))))`, the same
//!   ops in both Kerases) into Multiply / Rescaling / Add / Activation("tanh")
//!   layers, one per TF op, which both Kerases load (neither has an activation
//!   string for the tanh form).
//!
//! - `clip_by_value(x, 0, hi)` (`Minimum`/`Maximum` with constants, either
//!   order) → `ReLU(max_value=hi)`; with the Rescaling rules this covers
//!   tf-keras's `Activation("hard_sigmoid")` (`clip(0.2x + 0.5, 0, 1)`).
//!
//! Keras 3's hard_sigmoid / hard_swish are in `preprocess.rs` (tf-keras's
//! `clip(0.2x + 0.5)` and Keras 3's `relu6(x + 3) / 6` share the name
//! hard_sigmoid, so they become Rescaling + ReLU(6) + Rescaling (+ Multiply)).
//!
//! Not handled yet: ELU with alpha != 1 (`Elu`/`Greater`/`SelectV2`), the `Erf`
//! form of exact gelu, swish with beta != 1.

use super::ctx::{Ctx, Emit, Match};
use super::rules::{CHAIN, CONSTANT, LAYER, RuleEntry};
use crate::graph::pb::NodeDef;
use crate::graph::{NodeExt, TensorId};
use crate::keras::{Activation, LayerKind};

fn act(activation: Activation) -> LayerKind {
    LayerKind::Activation { activation }
}

pub fn activation(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    let kind = match node.op.as_str() {
        "Relu" => act(Activation::Relu),
        "Relu6" => LayerKind::ReLU {
            max_value: Some(6.0),
            negative_slope: 0.0,
            threshold: 0.0,
        },
        "Sigmoid" => act(Activation::Sigmoid),
        "Tanh" => act(Activation::Tanh),
        "Softmax" => act(Activation::Softmax),
        "Elu" => act(Activation::Elu),
        "Selu" => act(Activation::Selu),
        "Softplus" => act(Activation::Softplus),
        "Softsign" => act(Activation::Softsign),
        "Exp" => act(Activation::Exponential),
        "LeakyRelu" => LayerKind::LeakyReLU {
            alpha: node.attr_float("alpha").unwrap_or(0.2),
        },
        other => return Err(format!("{other} is not an activation this rule knows")),
    };
    let mut name = ctx.layer_name(node);
    // Fused into the previous layer's scope but not expressible as its
    // `activation=` in both Keras versions: name it after that layer.
    let producer = ctx.graph.input_node(node, 0).map_err(|e| e.to_string())?;
    if producer.name.contains('/') && node.name.contains('/') && ctx.same_layer(producer, node) {
        name = format!("{name}_{}", node.op.to_lowercase());
    }
    Ok(Match::one(Emit {
        name,
        ..Emit::single(ctx, node, kind, vec![x])
    }))
}

/// `tf.nn.silu`: anchored at `beta * x` (the first node of the pattern in
/// topological order), then `Sigmoid`, then `x * sigmoid`.
pub fn swish(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let (x, k) = match (ctx.layer_input(node, 0), ctx.layer_input(node, 1)) {
        (Ok(x), Err(_)) => (x, 1),
        (Err(_), Ok(x)) => (x, 0),
        _ => return Err("not a layer output times a constant".into()),
    };
    let beta = ctx.const_f32(node, k)?;
    if beta.len() != 1 || beta.iter().any(|&b| b != 1.0) {
        return Err(format!(
            "beta {beta} is not the scalar 1 (swish with beta != 1)"
        ));
    }
    let scaled = TensorId::new(node.name.clone(), 0);
    let sig = ctx
        .sole_consumer(&scaled)
        .filter(|n| n.op == "Sigmoid")
        .ok_or("beta * x does not feed a lone Sigmoid")?;
    let mul = ctx
        .sole_consumer(&TensorId::new(sig.name.clone(), 0))
        .filter(|n| n.op == "Mul")
        .ok_or("the Sigmoid does not feed a lone Mul")?;
    let a = ctx.graph.input(mul, 0).map_err(|e| e.to_string())?;
    let b = ctx.graph.input(mul, 1).map_err(|e| e.to_string())?;
    let sig_out = TensorId::new(sig.name.clone(), 0);
    if !((a == x && b == sig_out) || (a == sig_out && b == x)) {
        return Err(format!("'{}' is not x * sigmoid(x)", mul.name));
    }
    Ok(Match::one(Emit {
        name: ctx.layer_name(node),
        kind: act(Activation::Swish),
        weights: vec![],
        inputs: vec![x],
        output: TensorId::new(mul.name.clone(), 0),
        more_outputs: Vec::new(),
        nodes: vec![node.name.clone(), sig.name.clone(), mul.name.clone()],
    }))
}

/// The scalar constant operand of a binary node and the index of the other.
fn scalar_operand(ctx: &Ctx, node: &NodeDef) -> Option<(f32, usize)> {
    (0..2).find_map(|k| {
        let c = ctx.const_f32(node, k).ok()?;
        (c.len() == 1).then(|| (c.iter().copied().next().unwrap_or(f32::NAN), 1 - k))
    })
}

/// Exact gelu (see the module header), anchored at its `Neg` or `0.5 * x`.
pub fn gelu(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = match node.op.as_str() {
        "Neg" => ctx.layer_input(node, 0)?,
        "Mul" => match scalar_operand(ctx, node) {
            Some((h, k)) if h == 0.5 => ctx.layer_input(node, k)?,
            _ => return Err("not 0.5 * x".into()),
        },
        other => return Err(format!("{other} does not start a gelu")),
    };
    let consumers: Vec<&NodeDef> = ctx
        .graph
        .consumers(&x)
        .into_iter()
        .map(|(c, _)| &ctx.graph.nodes()[c])
        .collect();
    let out = |n: &NodeDef| TensorId::new(n.name.clone(), 0);
    let neg = consumers
        .iter()
        .find(|n| n.op == "Neg" && ctx.same_layer(n, node))
        .ok_or("x has no Neg consumer in this scope")?;
    let half = consumers
        .iter()
        .find(|n| {
            n.op == "Mul"
                && ctx.same_layer(n, node)
                && scalar_operand(ctx, n).is_some_and(|(h, _)| h == 0.5)
        })
        .ok_or("x has no 0.5 * x consumer in this scope")?;
    let scaled = ctx
        .sole_consumer(&out(neg))
        .filter(|n| n.op == "Mul")
        .ok_or("Neg does not feed a lone Mul")?;
    // 1/sqrt(2) as TF casts it to f32; 1e-6 allows another rounding of the literal.
    match scalar_operand(ctx, scaled) {
        Some((c, _)) if (c - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6 => {}
        _ => return Err(format!("'{}' is not -x * (1/sqrt 2)", scaled.name)),
    }
    let erfc = ctx
        .sole_consumer(&out(scaled))
        .filter(|n| n.op == "Erfc")
        .ok_or("-x / sqrt 2 does not feed a lone Erfc")?;
    let y = ctx
        .sole_consumer(&out(erfc))
        .filter(|n| n.op == "Mul")
        .ok_or("Erfc does not feed a lone Mul")?;
    let ins = [
        ctx.graph.input(y, 0).map_err(|e| e.to_string())?,
        ctx.graph.input(y, 1).map_err(|e| e.to_string())?,
    ];
    if !ins.contains(&out(half)) || !ins.contains(&out(erfc)) {
        return Err(format!("'{}' is not (0.5 * x) * erfc(..)", y.name));
    }
    let mut name = ctx.layer_name(node);
    // `activation="gelu"` of a Conv2D/Dense: the gelu sits in that layer's scope.
    if let Some(producer) = ctx.graph.node(&x.node)
        && ctx.same_layer(producer, node)
    {
        name = format!("{name}_gelu");
    }
    Ok(Match::one(Emit {
        name,
        kind: act(Activation::Gelu),
        weights: vec![],
        inputs: vec![x],
        output: out(y),
        more_outputs: Vec::new(),
        nodes: [*neg, *half, scaled, erfc, y]
            .iter()
            .map(|n| n.name.clone())
            .collect(),
    }))
}

/// PReLU as both Kerases freeze it: `pos = Relu(x); n = Neg(x); r = Relu(n);
/// mul = Neg(alpha) * r; y = pos + mul`, one scope, anchored at whichever of
/// `Neg(x)` / `Relu(x)` comes first. `shared_axes` are the axes where alpha
/// has size 1 and the input does not.
pub fn prelu(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    let out = |n: &NodeDef| TensorId::new(n.name.clone(), 0);
    let consumers: Vec<&NodeDef> = ctx
        .graph
        .consumers(&x)
        .into_iter()
        .map(|(c, _)| &ctx.graph.nodes()[c])
        .filter(|n| ctx.same_layer(n, node))
        .collect();
    let neg = consumers
        .iter()
        .find(|n| n.op == "Neg")
        .ok_or("x has no Neg consumer in this scope")?;
    let pos = consumers
        .iter()
        .find(|n| n.op == "Relu")
        .ok_or("x has no Relu consumer in this scope")?;
    let relu_neg = ctx
        .sole_consumer(&out(neg))
        .filter(|n| n.op == "Relu")
        .ok_or("Neg(x) does not feed a lone Relu")?;
    let mul = ctx
        .sole_consumer(&out(relu_neg))
        .filter(|n| n.op == "Mul" && ctx.same_layer(n, node))
        .ok_or("Relu(-x) does not feed a lone Mul in this scope")?;
    let k = (0..2)
        .find(|&k| ctx.graph.input(mul, k).is_ok_and(|t| t == out(relu_neg)))
        .ok_or("the Mul does not read Relu(-x)")?;
    let neg_alpha = ctx.const_f32(mul, 1 - k)?;
    let add = ctx
        .sole_consumer(&out(mul))
        .filter(|n| matches!(n.op.as_str(), "Add" | "AddV2") && ctx.same_layer(n, node))
        .ok_or("-alpha * relu(-x) does not feed a lone Add in this scope")?;
    let ins = [
        ctx.graph.input(add, 0).map_err(|e| e.to_string())?,
        ctx.graph.input(add, 1).map_err(|e| e.to_string())?,
    ];
    if !ins.contains(&out(pos)) || !ins.contains(&out(mul)) {
        return Err(format!(
            "'{}' is not relu(x) + (-alpha * relu(-x))",
            add.name
        ));
    }
    // alpha has the input's shape without the batch axis (leading 1s may be
    // left out of the frozen constant); size 1 where shared.
    let shape = ctx.shape(&x).ok_or("the input's shape is unknown")?;
    let dims: Vec<usize> = shape[1..]
        .iter()
        .map(|d| d.ok_or("the input has an unknown dimension"))
        .collect::<Result<_, _>>()?;
    let a = neg_alpha.shape();
    if a.len() > dims.len() {
        return Err(format!("alpha {a:?} has a higher rank than the input"));
    }
    let mut alpha_shape = vec![1; dims.len() - a.len()];
    alpha_shape.extend_from_slice(a);
    let mut shared_axes = Vec::new();
    for (i, (&ad, &d)) in alpha_shape.iter().zip(&dims).enumerate() {
        if ad == 1 && d != 1 {
            shared_axes.push(i as i64 + 1);
        } else if ad != d {
            return Err(format!("alpha {a:?} does not fit the input {dims:?}"));
        }
    }
    let alpha = (-neg_alpha)
        .into_shape_with_order(ndarray::IxDyn(&alpha_shape))
        .map_err(|e| e.to_string())?;
    Ok(Match::one(Emit {
        name: ctx.layer_name(node),
        kind: LayerKind::PReLU { shared_axes },
        weights: vec![super::ctx::weight("alpha", alpha)],
        inputs: vec![x],
        output: out(add),
        more_outputs: Vec::new(),
        nodes: [*neg, *pos, relu_neg, mul, add]
            .iter()
            .map(|n| n.name.clone())
            .collect(),
    }))
}

/// `Pow(x, 2)` / `Pow(x, 3)` (tanh-approximate gelu's cube) → `Multiply` of x
/// with itself (`x * x * x` may differ from TF's `pow` in the last bit).
pub fn pow(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    let e = ctx.const_f32(node, 1)?;
    let n = match e.iter().copied().collect::<Vec<_>>().as_slice() {
        [2.0] => 2,
        [3.0] => 3,
        _ => return Err(format!("exponent {e} is not the scalar 2 or 3")),
    };
    Ok(Match::one(Emit::single(
        ctx,
        node,
        LayerKind::Multiply,
        vec![x; n],
    )))
}

/// `clip(x, 0, hi)` as `tf.clip_by_value` freezes it (`Minimum(x, hi)` then
/// `Maximum(., 0)`, or the other order) → `ReLU(max_value=hi)`, which is
/// exactly `min(max(x, 0), hi)`. tf-keras's `hard_sigmoid`
/// (`clip(0.2x + 0.5, 0, 1)`) becomes `Rescaling(0.2, 0.5)` + `ReLU(max_value=1)`.
pub fn clip(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    let scalar = |n: &NodeDef, k: usize| -> Option<f32> {
        let c = ctx.const_f32(n, k).ok()?;
        (c.len() == 1).then(|| c.iter().copied().next()).flatten()
    };
    let first = scalar(node, 1).ok_or("the bound is not a scalar constant")?;
    let second_node = ctx
        .sole_consumer(&TensorId::new(node.name.clone(), 0))
        .filter(|n| {
            let want = if node.op == "Minimum" {
                "Maximum"
            } else {
                "Minimum"
            };
            n.op == want
                && ctx.same_layer(n, node)
                && ctx.graph.input(n, 0).is_ok_and(|t| t.node == node.name)
        })
        .ok_or("not followed by the other bound in the same scope")?;
    let second = scalar(second_node, 1).ok_or("the other bound is not a scalar constant")?;
    let (lo, hi) = if node.op == "Minimum" {
        (second, first)
    } else {
        (first, second)
    };
    if lo != 0.0 || !(hi.is_finite() && hi > 0.0) {
        return Err(format!(
            "clip to [{lo}, {hi}] is not a ReLU (needs [0, max > 0])"
        ));
    }
    let mut name = ctx.layer_name(node);
    if let Some(producer) = ctx.graph.node(&x.node)
        && ctx.same_layer(producer, node)
    {
        name = format!("{name}_clip");
    }
    Ok(Match::one(Emit {
        name,
        kind: LayerKind::ReLU {
            max_value: Some(hi),
            negative_slope: 0.0,
            threshold: 0.0,
        },
        weights: vec![],
        inputs: vec![x],
        output: TensorId::new(second_node.name.clone(), 0),
        more_outputs: Vec::new(),
        nodes: vec![node.name.clone(), second_node.name.clone()],
    }))
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[
    RuleEntry::new("Neg", "prelu", CHAIN + 80, prelu),
    RuleEntry::new("Relu", "prelu", CHAIN + 80, prelu),
    RuleEntry::new("Relu", "activation", LAYER, activation),
    RuleEntry::new("Relu6", "relu6", LAYER, activation),
    RuleEntry::new("Sigmoid", "activation", LAYER, activation),
    RuleEntry::new("Tanh", "activation", LAYER, activation),
    RuleEntry::new("Softmax", "activation", LAYER, activation),
    RuleEntry::new("Elu", "activation", LAYER, activation),
    RuleEntry::new("Selu", "activation", LAYER, activation),
    RuleEntry::new("Softplus", "activation", LAYER, activation),
    RuleEntry::new("Softsign", "activation", LAYER, activation),
    RuleEntry::new("Exp", "activation", LAYER, activation),
    RuleEntry::new("LeakyRelu", "leaky_relu", LAYER, activation),
    RuleEntry::new("Mul", "swish (tf.nn.silu form)", CHAIN + 81, swish),
    RuleEntry::new("Mul", "gelu (exact, Erfc form)", CHAIN + 82, gelu),
    RuleEntry::new("Neg", "gelu (exact, Erfc form)", CHAIN + 82, gelu),
    RuleEntry::new("Pow", "multiply (x ** 2, x ** 3)", LAYER, pow),
    RuleEntry::new(
        "Minimum",
        "relu (clip_by_value to [0, max])",
        CONSTANT,
        clip,
    ),
    RuleEntry::new(
        "Maximum",
        "relu (clip_by_value to [0, max])",
        CONSTANT,
        clip,
    ),
];
