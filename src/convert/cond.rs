//! Why a conditional is still in the graph. Conditionals whose predicate is a
//! constant (`PlaceholderWithDefault` defaults included, `--set` bindings) are
//! cut before conversion (`graph::resolve_conditionals`); a `Switch`, `If` or
//! `StatelessIf` that reaches conversion has a predicate computed at run time,
//! which a Keras layer graph cannot express. It is reported as unsupported with
//! its predicate and the placeholders that predicate comes from.

use crate::graph::pb::NodeDef;
use crate::graph::{Graph, predicate_sources};

/// The refusal reason for a conditional node, `None` for any other op.
pub fn refusal(graph: &Graph, node: &NodeDef) -> Option<String> {
    if !matches!(node.op.as_str(), "Switch" | "If" | "StatelessIf") {
        return None;
    }
    let (pred, from) = predicate_sources(graph.graph_def(), node);
    let origin = if from.is_empty() {
        "is not a constant".to_string()
    } else {
        format!("depends on input(s) {}", from.join(", "))
    };
    Some(format!(
        "conditional with a run-time predicate: '{pred}' {origin}; thaw cuts conditionals \
         only when the predicate is constant (give a scalar placeholder a value with \
         --set NAME=VALUE)"
    ))
}
