//! The converted mode's structural witness (issue 10): what numbers cannot
//! show on the seeded inputs, the graph's ops can. A capped ReLU that no
//! value reaches, or a relu on a layer whose values are never negative,
//! computes the same numbers as the graph on every sample drawn, so the
//! numeric checks pass; the op that computes the layer's tensor still says
//! which function it is.
//!
//! For every layer with an activation ([`crate::keras::LayerKind::activation_fn`],
//! canonical: `ReLU(max_value=6)` and a fused `relu6` compare equal), the op
//! producing its mapped tensor is read as a function, independently of the
//! conversion rules: `Relu`, `Relu6`, `LeakyRelu(alpha)`, `Sigmoid`, `Tanh`,
//! `Elu`, `Selu`, `Softplus`, `Softsign`, `Exp`, `Softmax` (last axis), and
//! the linear ops a layer without activation ends in (`BiasAdd`, `MatMul`,
//! `Conv2D`, `DepthwiseConv2dNative`, `Conv2DBackpropInput`). Any other op
//! (a composite such as gelu or swish, a reshape, an add) says nothing and is
//! skipped. A layer whose activation differs from its op's function is a
//! finding of kind `activation`: the verdict is `fail` unless
//! `--numeric-only`.
//!
//! Only for thaw's own conversion: with `--keras` the user's layers are
//! compared with that conversion field by field (`compare::findings`).

use crate::compare::diagnose::CauseKind;
use crate::compare::findings::Finding;
use crate::convert::Conversion;
use crate::graph::pb::NodeDef;
use crate::graph::{Graph, NodeExt};
use crate::keras::{ActFn, Activation};

/// The function the graph op `node` computes, when it is an activation or
/// ends a linear layer; `None` for anything else.
fn op_function(node: &NodeDef) -> Option<(ActFn, String)> {
    let f = match node.op.as_str() {
        "Relu" => ActFn::relu(None, 0.0, 0.0),
        "Relu6" => ActFn::relu(Some(6.0), 0.0, 0.0),
        "LeakyRelu" => ActFn::relu(None, node.attr_float("alpha").unwrap_or(0.2), 0.0),
        "Sigmoid" => ActFn::of(Activation::Sigmoid),
        "Tanh" => ActFn::of(Activation::Tanh),
        "Elu" => ActFn::of(Activation::Elu),
        "Selu" => ActFn::of(Activation::Selu),
        "Softplus" => ActFn::of(Activation::Softplus),
        "Softsign" => ActFn::of(Activation::Softsign),
        "Exp" => ActFn::of(Activation::Exponential),
        "Softmax" => ActFn::Softmax { axis: -1 },
        "BiasAdd" | "MatMul" | "Conv2D" | "DepthwiseConv2dNative" | "Conv2DBackpropInput" => {
            ActFn::Linear
        }
        _ => return None,
    };
    Some((f, node.op.clone()))
}

/// One finding per layer whose activation is not the function of the op
/// that computes its tensor.
pub(super) fn activation_findings(graph: &Graph, conv: &Conversion) -> Vec<Finding> {
    let mut out = Vec::new();
    for t in &conv.tensors {
        let Some(layer) = conv.model.layer(&t.layer) else {
            continue;
        };
        let Some(own) = layer.kind.activation_fn() else {
            continue;
        };
        let Some((graph_fn, op)) = graph.node(&t.tensor.node).and_then(op_function) else {
            continue;
        };
        if own == graph_fn {
            continue;
        }
        out.push(Finding {
            layer: layer.name.clone(),
            converted: layer.name.clone(),
            kind: CauseKind::Activation,
            field: "activation".into(),
            detail: format!(
                "the layer applies {}, but the graph computes its tensor '{}' with {op} ({}), \
                 whatever values the inputs reach",
                own.describe(),
                t.tensor,
                graph_fn.describe()
            ),
        });
    }
    out
}
