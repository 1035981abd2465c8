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
//!   `Multiply`, which computes the same.
//!
//! Activations in the same scope as a Conv2D/Dense are fused by those rules
//! instead; a Relu6 there (Keras 3's `activation="relu6"`) stays a separate
//! `ReLU` layer named `<layer>_relu6`.
//!
//! Not handled yet: PReLU, ELU with alpha != 1 (`Elu`/`Greater`/`SelectV2`),
//! gelu (`Erfc` form; tract lacks `Erfc`), hard_sigmoid (tf-keras's
//! `clip(0.2x + 0.5)` and Keras 3's `relu6(x + 3) / 6` share one name, so no
//! string is loadable with one meaning in both), hard_swish, swish with beta != 1.

use super::ctx::{Ctx, Emit, Match};
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
        kind,
        weights: vec![],
        inputs: vec![x],
        output: TensorId::new(node.name.clone(), 0),
        nodes: vec![node.name.clone()],
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
        nodes: vec![node.name.clone(), sig.name.clone(), mul.name.clone()],
    }))
}
