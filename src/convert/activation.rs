//! Standalone activations → `Activation(...)` or `ReLU(max_value=6)`.
//!
//! `Relu`, `Sigmoid`, `Tanh`, `Softmax` (last axis) become `Activation`
//! layers; `Relu6` becomes `ReLU(max_value=6)`, which both Keras 3 and
//! tf-keras load (tf-keras has no `relu6` activation string). Activations in
//! the same scope as a Conv2D/Dense are fused by those rules instead; a Relu6
//! there (Keras 3's `activation="relu6"`) stays a separate `ReLU` layer named
//! `<layer>_relu6`.
//!
//! Not handled yet: elu, selu, LeakyRelu, PReLU, gelu, swish and friends.

use super::ctx::{Ctx, Emit, Match};
use crate::graph::TensorId;
use crate::graph::pb::NodeDef;
use crate::keras::{Activation, LayerKind};

pub fn activation(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    let kind = match node.op.as_str() {
        "Relu" => LayerKind::Activation {
            activation: Activation::Relu,
        },
        "Relu6" => LayerKind::ReLU {
            max_value: Some(6.0),
            negative_slope: 0.0,
            threshold: 0.0,
        },
        "Sigmoid" => LayerKind::Activation {
            activation: Activation::Sigmoid,
        },
        "Tanh" => LayerKind::Activation {
            activation: Activation::Tanh,
        },
        "Softmax" => LayerKind::Activation {
            activation: Activation::Softmax,
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
