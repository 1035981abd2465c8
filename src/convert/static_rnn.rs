//! TF1 `tf.compat.v1.nn.static_rnn`: the RNN unrolled in the graph itself,
//! converted to ONE Keras `LSTM`, `GRU(reset_after=False)` or `SimpleRNN`
//! (see `harness/gen_tf1.py`'s `tf1_static_rnn_*` cases).
//!
//! What it leaves in a frozen graph: the batch-major input `[B, T, F]`
//! unstacked into its steps (`Unpack` along axis 1: `tf.unstack(x, axis=1)`,
//! the list `static_rnn` takes), then one copy of the cell's ops per step,
//! every copy multiplying `ConcatV2([x_t, h])` by the SAME kernel and bias
//! Consts, the first from `zero_state` (`Fill` 0), each next one from the new
//! state of the one before. The outputs are a Python list: the model uses
//! them stacked (`tf.stack(outputs, axis=1)`: a `Pack` along axis 1 →
//! `return_sequences=True`) or the last one, which is also the final state h
//! (`outputs[-1]`, `state`, `state.h` → `return_sequences=False`).
//!
//! Each step's cell is recognised by [`super::recurrent_tf1::cell_step`], the
//! recognition `dynamic_rnn` loops use (LSTMCell/BasicLSTMCell, GRUCell,
//! BasicRNNCell), and the weights mapped the same way. The rule (anchor: the
//! `Unpack`) checks that the T copies form one chain sharing one kernel, and
//! the layer stands for every node of them: nothing between the steps has a
//! Keras counterpart. The oracle needs nothing: tract runs the unrolled graph.
//!
//! Refused at the `Unpack`, with the reason (exit 3): a time-major list
//! (`Unpack` along axis 0), steps that do not chain (`sequence_length`'s
//! `Select`s between them), an `initial_state` other than zeros, steps with
//! different kernels, the final c or both the outputs and the final state used
//! (`return_state`), a step's output used on its own (other than the last),
//! outputs stacked time-major, a `MultiRNNCell`, and whatever the cell
//! recognition refuses (peepholes, projections, other activations).
//!
//! Tests: the `fixtures/tf1_static_rnn_*` verify and round-trip in both
//! Kerases; the refusals are `tests/data/tf1_static_rnn_*.pb`
//! (`tests/recurrent.rs`).

use super::ctx::{Ctx, Emit, Match};
use super::recurrent_tf1::{Step, cell_step, is_zeros};
use super::rules::{BLOCK, RuleEntry};
use crate::graph::pb::NodeDef;
use crate::graph::{NodeExt, TensorId};
use std::collections::HashSet;

/// The consumers of `t` outside `inside` (through pass-through nodes).
fn users_outside<'g>(ctx: &Ctx<'g>, t: &TensorId, inside: &HashSet<&str>) -> Vec<&'g NodeDef> {
    ctx.graph
        .consumers(t)
        .iter()
        .map(|&(c, _)| &ctx.graph.nodes()[c])
        .filter(|n| !inside.contains(n.name.as_str()))
        .collect()
}

/// Rule (anchor `Unpack`): the steps of a batch-major sequence, each read by
/// one copy of a TF1 cell, the copies chained and sharing one kernel → one
/// Keras recurrent layer.
pub(super) fn static_rnn(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let graph = ctx.graph;
    let input = ctx.layer_input(node, 0)?;
    let rank = ctx.shape(&input).map(|s| s.len());
    if rank != Some(3) {
        return Err(format!(
            "unpacks a tensor of rank {rank:?}, not a [batch, steps, features] sequence"
        ));
    }
    match node.attr_int("axis").unwrap_or(0) {
        1 | -2 => {}
        0 | -3 => {
            return Err(
                "unpacks axis 0: a time-major list of steps (time-major inputs are not converted)"
                    .into(),
            );
        }
        a => return Err(format!("unpacks axis {a}, not the steps (axis 1)")),
    }
    let t_len = node
        .attr_int("num")
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n > 0)
        .ok_or("an Unpack without a positive 'num'")?;
    let x = |t: usize| TensorId::new(node.name.clone(), t);
    let feeds: Vec<&str> = graph
        .consumers(&x(0))
        .iter()
        .map(|&(c, _)| graph.nodes()[c].op.as_str())
        .collect();
    if !graph
        .consumers(&x(0))
        .iter()
        .any(|&(c, pos)| pos == 0 && graph.nodes()[c].op == "ConcatV2")
    {
        return Err(format!(
            "step 0 ('{}') feeds {feeds:?}, not the ConcatV2([x, h]) of a TF1 cell (static_rnn \
             with sequence_length, whose steps pass through conditionals, and custom cells are \
             not converted)",
            x(0)
        ));
    }

    // The steps: each a cell reading x_t and the state the one before wrote.
    let mut steps: Vec<Step> = Vec::with_capacity(t_len);
    for t in 0..t_len {
        let step = cell_step(ctx, &x(t)).map_err(|why| format!("step {t}: {why}"))?;
        let own: HashSet<&str> = step.nodes.iter().map(String::as_str).collect();
        // zero_state reads the batch size from the first step's Shape.
        let others = users_outside(ctx, &x(t), &own);
        if let Some(u) = others.iter().find(|n| n.op != "Shape") {
            return Err(format!(
                "step {t} ('{}') also feeds '{}', outside its cell",
                x(t),
                u.name
            ));
        }
        match steps.last() {
            None => {
                for s in std::iter::once(&step.h_in).chain(&step.c_in) {
                    if !is_zeros(ctx, s) {
                        return Err(format!(
                            "the initial state '{s}' is not zeros (an initial_state is not \
                             converted)"
                        ));
                    }
                }
            }
            Some(prev) => {
                if step.h_in != prev.h_out || step.c_in != prev.c_out {
                    return Err(format!(
                        "step {t} does not read the state step {} wrote ('{}'), but '{}' \
                         (sequence_length's Select between the steps is not converted)",
                        t - 1,
                        prev.h_out,
                        step.h_in
                    ));
                }
                if step.class != prev.class || step.kernels() != prev.kernels() {
                    return Err(format!(
                        "step {t} multiplies by {:?}, step {} by {:?}: not one cell",
                        step.kernels(),
                        t - 1,
                        prev.kernels()
                    ));
                }
            }
        }
        steps.push(step);
    }

    // The output: all the new h stacked along axis 1, or the last one.
    let inside = |t: usize| -> HashSet<&str> {
        steps[t..(t + 2).min(t_len)]
            .iter()
            .flat_map(|s| s.nodes.iter().map(String::as_str))
            .collect()
    };
    let outs: Vec<TensorId> = steps.iter().map(|s| s.h_out.clone()).collect();
    let stacked = users_outside(ctx, &outs[0], &inside(0))
        .into_iter()
        .find(|n| {
            n.op == "Pack"
                && n.data_inputs().len() == t_len
                && n.data_inputs()
                    .iter()
                    .zip(&outs)
                    .all(|(i, o)| graph.resolve(&TensorId::parse(i)) == *o)
        });
    if let Some(p) = stacked
        && !matches!(p.attr_int("axis").unwrap_or(0), 1 | -2)
    {
        return Err(format!(
            "the outputs are stacked by '{}' along axis {}, not batch-major (axis 1)",
            p.name,
            p.attr_int("axis").unwrap_or(0)
        ));
    }
    let mut last_used = false;
    for (t, s) in steps.iter().enumerate() {
        if let Some(c) = &s.c_out
            && let Some(u) = users_outside(ctx, c, &inside(t)).first()
        {
            return Err(format!(
                "step {t}'s cell state c ('{c}') is used by '{}' (the final c, return_state, \
                 is not converted)",
                u.name
            ));
        }
        let others: Vec<&NodeDef> = users_outside(ctx, &s.h_out, &inside(t))
            .into_iter()
            .filter(|n| stacked.is_none_or(|p| p.name != n.name))
            .collect();
        if t + 1 == t_len {
            // A graph output has no consumer at all.
            last_used = !others.is_empty() || graph.consumers(&s.h_out).is_empty();
        } else if let Some(u) = others.first() {
            let why = if u.op == "ConcatV2" {
                "a MultiRNNCell in static_rnn is not converted"
            } else {
                "only all the outputs stacked, or the last, are converted"
            };
            return Err(format!(
                "step {t}'s output '{}' is used by '{}' ({why})",
                s.h_out, u.name
            ));
        }
    }
    let (return_sequences, output) = match (stacked, last_used) {
        (Some(_), true) => {
            return Err(
                "both the stacked outputs and the final state are used (two Keras outputs, \
                 return_state, are not converted)"
                    .into(),
            );
        }
        (Some(p), false) => (true, TensorId::new(p.name.clone(), 0)),
        (None, true) => (false, outs[t_len - 1].clone()),
        (None, false) => return Err("neither the stacked outputs nor the last one is used".into()),
    };
    let (kind, weights) = steps[0].keras(ctx, return_sequences)?;
    let mut nodes = vec![node.name.clone()];
    nodes.extend(steps.iter().flat_map(|s| s.nodes.iter().cloned()));
    nodes.extend(stacked.map(|p| p.name.clone()));
    Ok(Match::one(Emit {
        name: steps[0].name().unwrap_or_else(|| ctx.layer_name(node)),
        kind,
        weights,
        inputs: vec![input],
        output,
        more_outputs: Vec::new(),
        nodes,
    }))
}

/// This family's conversion rules (see [`super::rules`]).
pub(super) const RULES: &[RuleEntry] = &[RuleEntry::new(
    "Unpack",
    "static_rnn (TF1 cell unrolled)",
    BLOCK,
    static_rnn,
)];

#[cfg(test)]
mod tests {
    use crate::convert::{ConvertOptions, convert};
    use crate::graph::Graph;
    use std::path::Path;

    fn graph(case: &str) -> Graph {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/{case}/model.pb"));
        Graph::load(&path).expect("fixture loads")
    }

    /// The layer stands for every node of the T copies of the cell (nothing
    /// between the steps is left for another rule), the Unpack and the Pack
    /// of the outputs; the zero state and the weights are constants.
    #[test]
    fn the_layer_stands_for_every_node_of_the_unrolled_cell() {
        let g = graph("tf1_static_rnn_lstm");
        let conv = convert(&g, &ConvertOptions::default()).expect("converts");
        assert!(conv.unsupported.is_empty(), "{:?}", conv.unsupported);
        let lstm = conv
            .tensors
            .iter()
            .find(|t| t.class_name == "LSTM")
            .expect("one LSTM");
        assert_eq!(lstm.layer, "rnn.lstm_cell");
        assert_eq!(lstm.tensor.to_string(), "stack:0");
        let cell_ops: Vec<&str> = g
            .nodes()
            .iter()
            .filter(|n| n.name.starts_with("rnn/lstm_cell/"))
            .filter(|n| !matches!(n.op.as_str(), "Const" | "Identity"))
            .map(|n| n.name.as_str())
            .collect();
        // 5 steps of 14 nodes: concat, MatMul, BiasAdd, Split, the forget
        // bias Add, 3 Sigmoid, 2 Tanh, 3 Mul, the new c's Add.
        assert_eq!(cell_ops.len(), 5 * 14, "{cell_ops:?}");
        for n in cell_ops.iter().chain(&["unstack", "stack"]) {
            assert!(lstm.nodes.iter().any(|m| m == n), "{n} not in the layer");
        }
        let lstm_layer = conv.model.layer("rnn.lstm_cell").expect("layer");
        let shapes: Vec<&[usize]> = lstm_layer.weights.iter().map(|w| w.value.shape()).collect();
        // Input 3 features, 4 units: Keras's i, f, c, o blocks side by side.
        assert_eq!(shapes, [&[3, 16][..], &[4, 16][..], &[16][..]]);
    }

    /// A MultiRNNCell in a dynamic_rnn loop: one layer per cell, the lower
    /// one mapped to its new h stacked over the steps (a tensor the oracle
    /// makes), feeding the upper one.
    #[test]
    fn a_multi_rnn_cell_loop_is_one_layer_per_cell() {
        let g = graph("tf1_multi_rnn_lstm");
        let conv = convert(&g, &ConvertOptions::default()).expect("converts");
        assert!(conv.unsupported.is_empty(), "{:?}", conv.unsupported);
        let cells: Vec<(&str, String)> = conv
            .tensors
            .iter()
            .filter(|t| t.class_name == "LSTM")
            .map(|t| (t.layer.as_str(), t.tensor.to_string()))
            .collect();
        let lower = "rnn/while/rnn/multi_rnn_cell/cell_0/lstm_cell/mul_2";
        assert_eq!(
            cells,
            [
                (
                    "rnn.multi_rnn_cell.cell_0.lstm_cell",
                    format!("{}:0", crate::graph::stacked_steps(lower))
                ),
                (
                    "rnn.multi_rnn_cell.cell_1.lstm_cell",
                    "rnn/while/Exit_6:0".into()
                ),
            ]
        );
        let upper = conv
            .model
            .layer("rnn.multi_rnn_cell.cell_1.lstm_cell")
            .unwrap();
        assert_eq!(upper.inbound, ["rnn.multi_rnn_cell.cell_0.lstm_cell"]);
    }
}
