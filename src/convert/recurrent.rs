//! Recurrent layers (LSTM, GRU, SimpleRNN, any `keras.layers.RNN`): refused,
//! one clear message per loop.
//!
//! What Keras 3 and tf-keras leave when such a model is frozen with
//! `convert_variables_to_constants_v2` (see `harness/gen_recurrent.py`):
//! - the default, **lowered** form: a TF1 while loop, one frame per layer
//!   (`model/lstm/PartitionedCall/while` from tf-keras, `model_1/lstm_1/while`
//!   from Keras 3): `Enter`/`Merge`/`Switch`/`NextIteration`/`Exit`/`LoopCond`
//!   around the cell's `MatMul`/`BiasAdd`/`Sigmoid`/`Tanh`, the time steps read
//!   and written through `TensorListFromTensor`/`TensorListGetItem`/
//!   `TensorListSetItem`/`TensorListStack` on `DT_VARIANT` tensors, and one
//!   `unused_control_flow_input*` Placeholder per loop variable that nothing
//!   reads (not model inputs: see `Graph::is_unused_control_flow_input`);
//! - with `lower_control_flow=False`, the **functional** form: one
//!   `While`/`StatelessWhile` node whose `cond`/`body` are library functions.
//!
//! Neither can be verified: tract-tensorflow executes neither TF control flow
//! nor TensorList ops, so the original graph cannot be run, and thaw has no
//! rule that turns a loop back into a Keras RNN layer. So every top-level loop
//! ([`Graph::loops`](crate::graph::Graph::loops)) becomes ONE
//! [`Unsupported`] entry that names the Keras layer (its name scope), the loop
//! (frame or While node), why, and the ops involved, counted once. The loop's
//! nodes, the rest of its layer scope (the time-major `Transpose`, the initial
//! state, the final `StridedSlice`) and the `TensorList*` ops next to the loop
//! are taken by the refusal, so no per-node lines follow; layers before the
//! loop still convert; layers after it are blocked (their input is missing)
//! and not listed.
//!
//! Not handled yet: converting the loop (what it would take is in the
//! project notes: match the lowered frame or the While body against the Keras
//! cells, emit LSTM/GRU/SimpleRNN with their kernels, and run the original
//! side through tract's `Scan`, which tract's ONNX front end builds for ONNX
//! `Loop`/`Scan` but its TensorFlow front end does not).

use super::Unsupported;
use super::ctx::Ctx;
use crate::graph::{Loop, LoopForm, NodeExt, TensorId};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// One refused loop: the entry to report and the TF nodes it accounts for.
pub(super) struct Refusal {
    pub unsupported: Unsupported,
    pub nodes: Vec<String>,
}

/// Why a loop cannot be verified (shared by every refusal).
pub const WHY: &str = "tract cannot execute TensorFlow control flow (Enter/Merge/Switch/\
NextIteration/Exit/LoopCond, While) nor TensorList ops on DT_VARIANT tensors, so thaw can \
neither run the original graph nor verify the layer; thaw does not convert recurrent layers \
(LSTM, GRU, SimpleRNN) yet";

/// Ops too common to be worth listing in a loop's op summary.
fn is_plumbing(op: &str) -> bool {
    matches!(op, "Const" | "Identity" | "NoOp")
}

/// The refusals of every top-level loop of the graph, in graph order.
pub(super) fn refuse_loops(ctx: &Ctx) -> Vec<Refusal> {
    let graph = ctx.graph;
    let mut taken: HashSet<usize> = HashSet::new();
    let mut out = Vec::new();
    for lp in graph.loops() {
        let Some(anchor) = graph.node(&lp.node) else {
            continue;
        };
        let layer = ctx.layer_name(anchor);
        let mut group: BTreeSet<usize> = lp.members.iter().copied().collect();
        // The rest of the layer's scope: the cell's state set-up, the
        // transposes to and from time-major, the last step's slice.
        if let Some(scope) = ctx.layer_scope(anchor) {
            let func = format!("Func/{scope}");
            for (i, n) in graph.nodes().iter().enumerate() {
                if n.op != "Placeholder"
                    && (n.name.starts_with(&scope) || n.name.starts_with(&func))
                {
                    group.insert(i);
                }
            }
        }
        // TensorList ops feeding or fed by the loop, wherever they sit.
        let members: HashSet<usize> = group.iter().copied().collect();
        for (i, n) in graph.nodes().iter().enumerate() {
            if !n.op.starts_with("TensorList") {
                continue;
            }
            let feeds_loop = graph
                .consumers(&TensorId::new(n.name.clone(), 0))
                .iter()
                .any(|(c, _)| members.contains(c));
            let fed_by_loop = n
                .data_inputs()
                .iter()
                .filter_map(|s| graph.index_of(&graph.resolve(&TensorId::parse(s)).node))
                .any(|p| members.contains(&p));
            if feeds_loop || fed_by_loop {
                group.insert(i);
            }
        }
        group.retain(|i| !taken.contains(i));
        taken.extend(group.iter().copied());
        let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
        for &i in &group {
            *ops.entry(graph.nodes()[i].op.as_str()).or_default() += 1;
        }
        // A functional loop's cell lives in its body function.
        if let LoopForm::Functional { .. } = lp.form {
            for (op, n) in &lp.ops {
                *ops.entry(op.as_str()).or_default() += n;
            }
        }
        out.push(Refusal {
            unsupported: Unsupported {
                node: lp.node.clone(),
                op: lp.op.clone(),
                reason: reason(&layer, &lp, &ops),
            },
            nodes: group
                .iter()
                .map(|&i| graph.nodes()[i].name.clone())
                .collect(),
        });
    }
    out
}

fn reason(layer: &str, lp: &Loop, ops: &BTreeMap<&str, usize>) -> String {
    let what = match &lp.form {
        LoopForm::Lowered => format!(
            "a TF while loop lowered to TF1 control flow (frame '{}')",
            lp.frame
        ),
        LoopForm::Functional { body, .. } => format!(
            "a TF while loop ({} node '{}', body function '{}')",
            lp.op, lp.node, body
        ),
    };
    let nested = if lp.nested.is_empty() {
        String::new()
    } else {
        format!(", with nested loop(s) {}", lp.nested.join(", "))
    };
    let listed: Vec<String> = ops
        .iter()
        .filter(|(op, _)| !is_plumbing(op))
        .map(|(op, n)| {
            if *n > 1 {
                format!("{op} x{n}")
            } else {
                op.to_string()
            }
        })
        .collect();
    format!(
        "recurrent layer '{layer}' (LSTM/GRU/SimpleRNN or another RNN) is {what}{nested}: {WHY}; \
         ops involved: {}",
        listed.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use crate::convert::{ConvertOptions, convert};
    use crate::graph::{Graph, parse_graph_def};

    /// A Dense before a tiny lowered loop in scope `model/rnn`, a Dense
    /// after it, and a placeholder the lowering left behind.
    const G: &str = r#"
node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } attr { key: "shape" value { shape { dim { size: -1 } dim { size: 2 } } } } }
node { name: "unused_control_flow_input" op: "Placeholder" attr { key: "dtype" value { type: DT_VARIANT } } }
node { name: "model/dense/w" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } } attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 2 } dim { size: 2 } } float_val: 1 float_val: 2 float_val: 3 float_val: 4 } } } }
node { name: "model/dense/MatMul" op: "MatMul" input: "x" input: "model/dense/w" }
node { name: "model/rnn/list" op: "TensorListFromTensor" input: "model/dense/MatMul" }
node { name: "model/rnn/while/Enter" op: "Enter" input: "model/rnn/list" attr { key: "frame_name" value { s: "model/rnn/while" } } }
node { name: "model/rnn/while/Merge" op: "Merge" input: "model/rnn/while/Enter" input: "model/rnn/while/NextIteration" }
node { name: "model/rnn/while/LoopCond" op: "LoopCond" input: "model/rnn/while/Merge" }
node { name: "model/rnn/while/Switch" op: "Switch" input: "model/rnn/while/Merge" input: "model/rnn/while/LoopCond" }
node { name: "model/rnn/while/Tanh" op: "Tanh" input: "model/rnn/while/Switch:1" }
node { name: "model/rnn/while/NextIteration" op: "NextIteration" input: "model/rnn/while/Tanh" }
node { name: "model/rnn/while/Exit" op: "Exit" input: "model/rnn/while/Switch" }
node { name: "model/rnn/stack" op: "TensorListStack" input: "model/rnn/while/Exit" }
node { name: "model/head/MatMul" op: "MatMul" input: "model/rnn/stack" input: "model/dense/w" }
node { name: "Identity" op: "Identity" input: "model/head/MatMul" }
"#;

    #[test]
    fn one_refusal_per_loop_naming_the_layer_and_the_frame() {
        let g = Graph::new(parse_graph_def(G.as_bytes(), true, "t.pbtxt").unwrap()).unwrap();
        let conv = convert(&g, &ConvertOptions::default()).unwrap();
        // The leftover placeholder is not an input; the Dense before the loop converts.
        let inputs: Vec<&str> = conv.model.inputs.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(inputs, ["x"]);
        assert!(conv.tensors.iter().any(|t| t.class_name == "Dense"));
        assert_eq!(conv.unsupported.len(), 1, "{:?}", conv.unsupported);
        let u = &conv.unsupported[0];
        assert_eq!(
            (u.node.as_str(), u.op.as_str()),
            ("model/rnn/while/LoopCond", "LoopCond")
        );
        for part in [
            "recurrent layer 'rnn'",
            "frame 'model/rnn/while'",
            "tract cannot execute TensorFlow control flow",
            "Enter, Exit, LoopCond, Merge, NextIteration, Switch, Tanh, TensorListFromTensor, TensorListStack",
        ] {
            assert!(u.reason.contains(part), "'{part}' not in: {}", u.reason);
        }
    }
}
