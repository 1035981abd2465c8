//! Recurrent layers: Keras `LSTM` in the lowered form is converted; every
//! other loop (GRU, SimpleRNN, any `keras.layers.RNN`, the functional `While`
//! form) is refused with one clear message per loop.
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
//! tract-tensorflow executes neither TF control flow nor TensorList ops. A
//! lowered loop with a constant trip count is unrolled for the oracle
//! (`graph::unroll`, a structural rewrite: body copied per step, TensorList
//! reads/writes as `GatherV2`/`Pack`), so the original graph runs; [`lstm`]
//! recognises an LSTM cell in such a loop (MatMul x2, BiasAdd, Split into 4,
//! Sigmoid x3, Tanh x2; kernels from the constants entering the frame;
//! `return_sequences` from whether the stacked steps or the last step leave
//! the layer) and emits `LSTM`.
//!
//! Every other top-level loop ([`Graph::loops`](crate::graph::Graph::loops))
//! becomes ONE [`Unsupported`] entry that names the Keras layer (its name
//! scope), the loop (frame or While node), why, and the ops involved, counted
//! once. The loop's nodes, the rest of its layer scope (the time-major
//! `Transpose`, the initial state, the final `StridedSlice`) and the
//! `TensorList*` ops next to the loop are taken by the refusal, so no per-node
//! lines follow; layers before the loop still convert; layers after it are
//! blocked (their input is missing) and not listed.
//!
//! Not handled yet: GRU and SimpleRNN cells (the same unrolling serves them;
//! rules and interpreter cells are missing), the functional `While` form,
//! go_backwards, masking, `return_state`, other activations; the op-count
//! check does not prove the gate wiring (a custom cell with the same ops would
//! convert as LSTM and then fail verification on the numbers).

use super::Unsupported;
use super::ctx::{Ctx, Emit, Match};
use super::rules::{BLOCK, RuleEntry};
use crate::graph::pb::NodeDef;
use crate::graph::{Loop, LoopForm, NodeExt, TensorId, is_control_flow};
use crate::keras::{LayerKind, Weight};
use ndarray::ArrayD;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// One refused loop: the entry to report and the TF nodes it accounts for.
/// A loop [`lstm`] converts has no entry: its nodes (all but the anchor
/// `Transpose`, which the rule takes) are only set aside.
pub(super) struct Refusal {
    pub unsupported: Option<Unsupported>,
    pub nodes: Vec<String>,
}

/// Why a loop cannot be verified (shared by every refusal).
pub const WHY: &str = "tract cannot execute TensorFlow control flow (Enter/Merge/Switch/\
NextIteration/Exit/LoopCond, While) nor TensorList ops on DT_VARIANT tensors, so thaw can \
neither run the original graph nor verify the layer; thaw converts (and unrolls for tract) only \
Keras LSTM loops in the lowered form so far (GRU, SimpleRNN, While loops are not)";

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
        let recognised = recognise(ctx, &lp);
        if let Err(why) = &recognised {
            log::debug!("loop '{}' is not an LSTM: {why}", lp.frame);
        }
        if let Ok(cell) = recognised {
            let group = loop_group(ctx, &lp, &mut taken);
            out.push(Refusal {
                unsupported: None,
                nodes: group
                    .iter()
                    .map(|&i| graph.nodes()[i].name.clone())
                    .filter(|n| *n != cell.transpose)
                    .collect(),
            });
            continue;
        }
        let group = loop_group(ctx, &lp, &mut taken);
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
            unsupported: Some(Unsupported {
                node: lp.node.clone(),
                op: lp.op.clone(),
                reason: reason(&layer, &lp, &ops),
            }),
            nodes: group
                .iter()
                .map(|&i| graph.nodes()[i].name.clone())
                .collect(),
        });
    }
    out
}

/// The TF nodes a loop's layer accounts for (not already `taken` by an
/// earlier loop): the loop's, the rest of its layer scope, the TensorList ops
/// next to it.
fn loop_group(ctx: &Ctx, lp: &Loop, taken: &mut HashSet<usize>) -> BTreeSet<usize> {
    let graph = ctx.graph;
    let mut group: BTreeSet<usize> = lp.members.iter().copied().collect();
    if let Some(anchor) = graph.node(&lp.node) {
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
    }
    group.retain(|i| !taken.contains(i));
    taken.extend(group.iter().copied());
    group
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

/// A lowered loop recognised as a Keras `LSTM` cell.
pub(super) struct LstmCell {
    /// The time-major `Transpose` of the layer input (the rule's anchor).
    pub transpose: String,
    pub kind: LayerKind,
    pub weights: Vec<Weight>,
    /// The TF tensor equal to the layer's output: the batch-major
    /// `Transpose` of the stacked steps, or the last step's `StridedSlice`.
    pub output: TensorId,
}

/// Ops a lowered LSTM loop may hold (plumbing, counters, the cell).
fn lstm_op(op: &str) -> bool {
    is_control_flow(op)
        || matches!(
            op,
            "Const"
                | "Identity"
                | "NoOp"
                | "AddV2"
                | "Add"
                | "Less"
                | "LogicalAnd"
                | "MatMul"
                | "BiasAdd"
                | "Split"
                | "Sigmoid"
                | "Tanh"
                | "Mul"
                | "TensorListGetItem"
                | "TensorListSetItem"
        )
}

/// A Const reached from `t` through Identity and `Enter` nodes, and through
/// loop variables that each iteration passes on unchanged (tf-keras carries
/// the kernels that way: `Enter` → `Merge` → `Switch` → `Identity` →
/// `NextIteration` back into the same `Merge`).
fn const_through_enter(ctx: &Ctx, t: &TensorId) -> Option<ArrayD<f32>> {
    let graph = ctx.graph;
    let mut t = t.clone();
    for _ in 0..64 {
        let node = graph.node(&t.node)?;
        match node.op.as_str() {
            "Identity" | "Enter" | "Switch" => t = TensorId::parse(node.data_inputs().first()?),
            "Merge" => {
                let inputs = node.data_inputs();
                let enter = inputs.iter().find(|i| {
                    graph
                        .node(&TensorId::parse(i).node)
                        .is_some_and(|n| n.op == "Enter")
                })?;
                let next = inputs.iter().find_map(|i| {
                    graph
                        .node(&TensorId::parse(i).node)
                        .filter(|n| n.op == "NextIteration")
                })?;
                // Invariant: what goes round is this Merge's own Switch output.
                let back = source(ctx, next.data_inputs().first()?)?;
                let back_to = back.data_inputs().first().map(|i| TensorId::parse(i).node);
                if back.op != "Switch" || back_to.as_deref() != Some(node.name.as_str()) {
                    return None;
                }
                t = TensorId::parse(enter);
            }
            "Const" => return Some(graph.const_value(&t)?.ok()?.to_f32()),
            _ => return None,
        }
    }
    None
}

/// The node `t` comes from, through Identity nodes.
fn source<'g>(ctx: &Ctx<'g>, t: &str) -> Option<&'g NodeDef> {
    let graph = ctx.graph;
    let mut t = TensorId::parse(t);
    for _ in 0..64 {
        let node = graph.node(&t.node)?;
        if node.op != "Identity" {
            return Some(node);
        }
        t = TensorId::parse(node.data_inputs().first()?);
    }
    None
}

/// Whether a Transpose swaps the first two axes of a rank-3 tensor.
fn swaps_batch_and_time(ctx: &Ctx, node: &NodeDef) -> bool {
    node.op == "Transpose" && ctx.const_ints(node, 1).is_ok_and(|p| p == [1, 0, 2])
}

/// Recognises a lowered loop as a Keras LSTM: the cell's ops (MatMul x2,
/// BiasAdd, Split into 4, Sigmoid x3, Tanh x2, nothing else but plumbing),
/// its kernels (Const through Enter), its time-major input and its output.
pub(super) fn recognise(ctx: &Ctx, lp: &Loop) -> Result<LstmCell, String> {
    let graph = ctx.graph;
    if lp.form != LoopForm::Lowered || !lp.nested.is_empty() {
        return Err("not a single lowered loop".into());
    }
    let count = |op: &str| lp.ops.get(op).copied().unwrap_or(0);
    if let Some(op) = lp.ops.keys().find(|op| !lstm_op(op)) {
        return Err(format!("op {op} is not part of an LSTM cell"));
    }
    let bias_adds = count("BiasAdd");
    if (
        count("MatMul"),
        count("Split"),
        count("Sigmoid"),
        count("Tanh"),
    ) != (2, 1, 3, 2)
        || bias_adds > 1
    {
        return Err("not the ops of an LSTM cell (MatMul x2, Split, Sigmoid x3, Tanh x2)".into());
    }
    let nodes = || lp.members.iter().map(|&i| &graph.nodes()[i]);
    let split = nodes().find(|n| n.op == "Split").ok_or("no Split")?;
    if split.attr_int("num_split").ok() != Some(4) {
        return Err("the cell's Split is not into 4 gates".into());
    }
    // The input kernel multiplies the step read from the list; the
    // recurrent kernel multiplies the state.
    let (mut kernel, mut recurrent) = (None, None);
    for mm in nodes().filter(|n| n.op == "MatMul") {
        if mm.attr_bool("transpose_a").unwrap_or(false)
            || mm.attr_bool("transpose_b").unwrap_or(false)
        {
            return Err(format!("MatMul '{}' transposes an operand", mm.name));
        }
        let inputs = mm.data_inputs();
        let [a, b] = inputs.as_slice() else {
            return Err(format!("MatMul '{}' without 2 inputs", mm.name));
        };
        let w = const_through_enter(ctx, &TensorId::parse(b))
            .ok_or_else(|| format!("MatMul '{}': the kernel is not a constant", mm.name))?;
        if source(ctx, a).is_some_and(|n| n.op == "TensorListGetItem") {
            kernel = Some(w);
        } else {
            recurrent = Some(w);
        }
    }
    let (Some(kernel), Some(recurrent)) = (kernel, recurrent) else {
        return Err("cannot tell the input kernel from the recurrent kernel".into());
    };
    let g = kernel.shape().get(1).copied().unwrap_or(0);
    let units = g / 4;
    if kernel.ndim() != 2 || g == 0 || g % 4 != 0 || recurrent.shape() != [units, g] {
        return Err(format!(
            "kernels of shapes {:?} and {:?} are not an LSTM's (in, 4u) and (u, 4u)",
            kernel.shape(),
            recurrent.shape()
        ));
    }
    let mut weights = vec![
        Weight {
            name: "kernel".into(),
            value: kernel,
        },
        Weight {
            name: "recurrent_kernel".into(),
            value: recurrent,
        },
    ];
    if let Some(ba) = nodes().find(|n| n.op == "BiasAdd") {
        let b = ba
            .data_inputs()
            .get(1)
            .and_then(|t| const_through_enter(ctx, &TensorId::parse(t)))
            .filter(|b| b.shape() == [g])
            .ok_or_else(|| format!("BiasAdd '{}': the bias is not a constant of {g}", ba.name))?;
        weights.push(Weight {
            name: "bias".into(),
            value: b,
        });
    }
    // The input: Transpose(x, [1, 0, 2]) → TensorListFromTensor → Enter.
    let from = nodes()
        .filter(|n| n.op == "Enter")
        .filter_map(|e| source(ctx, e.data_inputs().first()?))
        .find(|n| n.op == "TensorListFromTensor")
        .ok_or("no TensorListFromTensor enters the loop")?;
    let transpose = from
        .data_inputs()
        .first()
        .and_then(|t| source(ctx, t))
        .filter(|t| swaps_batch_and_time(ctx, t))
        .ok_or("the sequence does not enter the loop through a time-major Transpose")?;
    // The output: TensorListStack of an Exit, then Transpose back
    // (return_sequences) or the last step's StridedSlice.
    let exits: HashSet<&str> = nodes()
        .filter(|n| n.op == "Exit")
        .map(|n| n.name.as_str())
        .collect();
    let stack = graph
        .nodes()
        .iter()
        .find(|n| {
            n.op == "TensorListStack"
                && n.data_inputs()
                    .first()
                    .and_then(|t| source(ctx, t))
                    .is_some_and(|s| exits.contains(s.name.as_str()))
        })
        .ok_or("no TensorListStack of the loop's output")?;
    let users: Vec<&NodeDef> = graph
        .consumers(&TensorId::new(stack.name.clone(), 0))
        .iter()
        .map(|&(c, _)| &graph.nodes()[c])
        .collect();
    let (return_sequences, output) =
        if let Some(t) = users.iter().find(|n| swaps_batch_and_time(ctx, n)) {
            (true, t)
        } else if let Some(s) = users
            .iter()
            .find(|n| n.op == "StridedSlice" && ctx.const_ints(n, 1).is_ok_and(|b| b == [-1]))
        {
            (false, s)
        } else {
            return Err(
                "the stacked steps are neither transposed back nor sliced at the last step".into(),
            );
        };
    Ok(LstmCell {
        transpose: transpose.name.clone(),
        kind: LayerKind::Lstm {
            units,
            return_sequences,
            use_bias: bias_adds == 1,
        },
        weights,
        output: TensorId::new(output.name.clone(), 0),
    })
}

/// Rule (anchor `Transpose`): the time-major transpose feeding a lowered loop
/// recognised as an LSTM cell → one Keras `LSTM` layer standing for the whole
/// loop and its layer scope.
pub(super) fn lstm(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let graph = ctx.graph;
    let feeds_list = graph
        .consumers(&TensorId::new(node.name.clone(), 0))
        .iter()
        .any(|&(c, _)| graph.nodes()[c].op == "TensorListFromTensor");
    if !feeds_list {
        return Err("does not feed a TensorList".into());
    }
    for lp in graph.loops() {
        let Ok(cell) = recognise(ctx, &lp) else {
            continue;
        };
        if cell.transpose != node.name {
            continue;
        }
        let input = ctx.layer_input(node, 0)?;
        let anchor = graph.node(&lp.node).ok_or("loop anchor missing")?;
        let mut nodes = vec![node.name.clone()];
        nodes.extend(lp.members.iter().map(|&i| graph.nodes()[i].name.clone()));
        return Ok(Match::one(Emit {
            name: ctx.layer_name(anchor),
            kind: cell.kind,
            weights: cell.weights,
            inputs: vec![input],
            output: cell.output,
            nodes,
        }));
    }
    Err("not the input of a loop recognised as an LSTM cell".into())
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[RuleEntry::new("Transpose", "lstm", BLOCK, lstm)];

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
