//! TF1 RNN cells: `tf.compat.v1.nn.dynamic_rnn` over `LSTMCell`/`BasicLSTMCell`,
//! `GRUCell` and `BasicRNNCell` (`tf.compat.v1.nn.rnn_cell`), converted to Keras
//! `LSTM`, `GRU(reset_after=False)` and `SimpleRNN` (see `harness/gen_tf1.py`'s
//! `tf1_rnn_*` cases).
//!
//! What `dynamic_rnn` leaves in a frozen graph: the batch-major input
//! transposed to time-major (`Transpose` by `ConcatV2([1, 0], Range(2, rank))`),
//! unstacked into a `TensorArrayV3` by `TensorArrayScatterV3` at `Range(0, T)`;
//! a lowered while loop (frame `rnn/while`) whose trip count is
//! `Minimum(T, Maximum(1, T))` of `T` read from the input's shape, that reads
//! step `t` with `TensorArrayReadV3`, runs the cell and writes the output with
//! `TensorArrayWriteV3`; after the loop `TensorArrayGatherV3` of `Range(0, T)`
//! and the transpose back to batch-major; the final state leaves through the
//! `Exit` of its loop variable. The initial state is `zero_state` (`Fill` 0).
//!
//! Each cell multiplies `ConcatV2([x_t, h], 1)` by ONE kernel of `in + units`
//! rows, so Keras's kernel is rows `:in` and its recurrent kernel rows `in:`:
//! - `LSTMCell`/`BasicLSTMCell`: `i, j, f, o = split(BiasAdd(MatMul), 4)`,
//!   `c' = c·σ(f + forget_bias) + σ(i)·tanh(j)`, `h' = tanh(c')·σ(o)`. Keras's
//!   `LSTM` blocks are `i, f, c, o`: TF1 blocks 0, 2, 1, 3, and `forget_bias`
//!   (the scalar `Add` on split output 2) folded into the f block of the bias.
//! - `GRUCell`: `r, u = split(σ([x, h]·Wg + bg), 2)`, `c = tanh([x, r·h]·Wc + bc)`,
//!   `h' = u·h + (1 − u)·c`. That is Keras's `GRU(reset_after=False)` with
//!   `z = u`: blocks `z, r, h` = `Wg`'s u block, `Wg`'s r block, `Wc`.
//! - `BasicRNNCell`: `h' = tanh([x, h]·W + b)` → `SimpleRNN`.
//! - contrib's `LSTMBlockCell`: the whole LSTM step in one `LSTMBlockCell`
//!   node (`x`, `cs_prev`, `h_prev` the step and the two states, `w` the
//!   combined kernel, gates i, c, f, o) → `LSTM`; its weights and refusals
//!   (peepholes, `cell_clip`) are [`super::block_lstm::cell_in_loop`]'s.
//!
//! The layer's output is the stacked steps (`return_sequences=True`, the
//! batch-major `Transpose` after the gather) or the final state h
//! (`return_sequences=False`, the `Exit` of h; for an LSTM, `state.h`).
//!
//! Refused by name (exit 3): `sequence_length` (its `Select`s), `time_major`
//! inputs, an `initial_state` other than zeros, the final state and the
//! outputs both used (two Keras outputs), the final c used, LSTMCell's
//! peepholes (`use_peepholes`), projection (`num_proj`) and `cell_clip`,
//! `MultiRNNCell` stacks (one loop, several cells), other activations (their
//! ops are not the cell's), `static_rnn` (no loop: its `Unpack` of the steps
//! has no rule), `bidirectional_dynamic_rnn` (`ReverseSequence`).
//!
//! Tests: the gate rearrangement worked out by hand for one unit (below); the
//! `fixtures/tf1_rnn_*` (`harness/gen_tf1.py`) verify and round-trip in both
//! Kerases; the refusals are `tests/data/tf1_rnn_*.pb` (`tests/recurrent.rs`).

use super::ctx::Ctx;
use super::recurrent::{RnnCell, bias_after, kernel_of, source, swaps_batch_and_time};
use crate::graph::pb::NodeDef;
use crate::graph::{Loop, NodeExt, TensorId, is_control_flow};
use crate::keras::{Activation, LayerKind, Weight};
use ndarray::{Array2, ArrayD, Axis, Ix1, Ix2, s};
use std::collections::HashSet;

/// Ops a TF1 `dynamic_rnn` loop over one LSTMCell, GRUCell or BasicRNNCell holds.
fn cell_op(op: &str) -> bool {
    is_control_flow(op)
        || matches!(
            op,
            "Const"
                | "Identity"
                | "NoOp"
                | "AddV2"
                | "Add"
                | "Sub"
                | "Less"
                | "LogicalAnd"
                | "MatMul"
                | "BiasAdd"
                | "ConcatV2"
                | "Split"
                | "Sigmoid"
                | "Tanh"
                | "Mul"
                | "TensorArrayReadV3"
                | "TensorArrayWriteV3"
                // contrib's LSTMBlockCell: the whole cell in one node.
                | "LSTMBlockCell"
        )
}

/// The TF1 cell a loop's op counts say it is: `(Keras class, gate blocks)`.
fn cell_class(count: impl Fn(&str) -> usize) -> Result<(&'static str, usize), String> {
    if count("Select") + count("SelectV2") > 0 {
        return Err(
            "dynamic_rnn with sequence_length (Select of the steps past each length) is not \
             converted"
                .into(),
        );
    }
    match (count("MatMul"), count("Sigmoid"), count("Tanh")) {
        (0, 0, 0) if count("LSTMBlockCell") == 1 => Ok(("LSTMBlockCell", 4)),
        (1, 3, 2) if count("Mul") == 3 => Ok(("LSTM", 4)),
        (1, 3, 2) => Err(format!(
            "an LSTMCell with peepholes (use_peepholes: Mul x{}, not 3) is not converted",
            count("Mul")
        )),
        (2, 3, 2) => Err("an LSTMCell with a projection (num_proj) is not converted".into()),
        (2, 1, 1) => Ok(("GRU", 3)),
        (1, 0, 1) => Ok(("SimpleRNN", 1)),
        (m, s, t) => Err(format!(
            "MatMul x{m}, Sigmoid x{s}, Tanh x{t} are the ops of no TF1 LSTMCell (1, 3, 2), \
             GRUCell (2, 1, 1) or BasicRNNCell (1, 0, 1): a MultiRNNCell stack, another \
             activation or a custom cell is not converted"
        )),
    }
}

/// One `MatMul(ConcatV2([x_t, second], 1), W)` of the cell.
struct Product<'g> {
    mm: &'g NodeDef,
    /// The combined kernel, `in + units` rows.
    w: ArrayD<f32>,
    /// The concat's second operand (the state h, or GRU's `r·h`).
    second: String,
}

/// The loop variable (its `Merge`) a tensor of the body is, through
/// `Identity` and the loop's `Switch`.
fn loop_var<'g>(ctx: &Ctx<'g>, t: &str) -> Option<&'g NodeDef> {
    let switch = source(ctx, t).filter(|n| n.op == "Switch")?;
    source(ctx, switch.data_inputs().first()?).filter(|n| n.op == "Merge")
}

/// Whether a node makes zeros (`zero_state`, `tf.zeros`: `Fill(shape, 0)`
/// or a zero constant).
pub(super) fn is_zeros(ctx: &Ctx, node: &NodeDef) -> bool {
    let graph = ctx.graph;
    let zero = |t: TensorId| {
        graph
            .const_value(&t)
            .and_then(|v| v.ok())
            .is_some_and(|v| v.to_f32().iter().all(|&x| x == 0.0))
    };
    match node.op.as_str() {
        "Fill" => node
            .data_inputs()
            .get(1)
            .is_some_and(|v| zero(TensorId::parse(v))),
        "Const" => zero(TensorId::new(node.name.clone(), 0)),
        _ => false,
    }
}

/// Whether a loop variable starts from zeros (see [`is_zeros`]).
fn starts_at_zero(ctx: &Ctx, merge: &NodeDef) -> bool {
    let graph = ctx.graph;
    merge.data_inputs().iter().any(|i| {
        let Some(enter) = graph
            .node(&TensorId::parse(i).node)
            .filter(|n| n.op == "Enter")
        else {
            return false;
        };
        let Some(init) = enter.data_inputs().first().and_then(|t| source(ctx, t)) else {
            return false;
        };
        // The output array's flow (a float scalar carried round) is not a state.
        init.op == "TensorArrayV3" || is_zeros(ctx, init)
    })
}

/// Column blocks `blocks` (each `units` wide) of a 2-D matrix, side by side.
fn columns(w: &Array2<f32>, units: usize, blocks: &[usize]) -> Array2<f32> {
    let views: Vec<_> = blocks
        .iter()
        .map(|&b| w.slice(s![.., b * units..(b + 1) * units]))
        .collect();
    ndarray::concatenate(Axis(1), &views).expect("blocks of one matrix")
}

/// Keras's `(kernel, recurrent_kernel)` from TF1 combined kernels: rows `:in`
/// and `in:` of each, the column blocks picked in Keras's order. `parts`:
/// (combined kernel, its block width, the blocks to take).
pub(super) fn split_kernel(
    input: usize,
    parts: &[(&Array2<f32>, usize, &[usize])],
) -> (Array2<f32>, Array2<f32>) {
    let picked: Vec<Array2<f32>> = parts
        .iter()
        .map(|(w, units, blocks)| columns(w, *units, blocks))
        .collect();
    let views: Vec<_> = picked.iter().map(|p| p.view()).collect();
    let whole = ndarray::concatenate(Axis(1), &views).expect("same rows");
    (
        whole.slice(s![..input, ..]).to_owned(),
        whole.slice(s![input.., ..]).to_owned(),
    )
}

/// TF's gate blocks i, j (or c), f, o (`LSTMCell`, `BlockLSTM`,
/// `LSTMBlockCell`) picked in Keras's order i, f, c, o.
pub(super) const ICFO: [usize; 4] = [0, 2, 1, 3];
/// TF's gate blocks already in Keras's order i, f, c, o (`BlockLSTMV2`).
pub(super) const IFCO: [usize; 4] = [0, 1, 2, 3];

/// Keras's LSTM `(kernel, recurrent_kernel, bias)` from a TF1 combined
/// kernel `[in + u, 4u]` and bias whose gate blocks `order` lists in Keras's
/// order i, f, c, o ([`ICFO`] for LSTMCell's i, j, f, o), `forget_bias`
/// added to f's bias.
pub(super) fn lstm_weights(
    input: usize,
    w: &Array2<f32>,
    bias: Option<&ndarray::Array1<f32>>,
    forget_bias: f32,
    order: [usize; 4],
) -> (Array2<f32>, Array2<f32>, Option<ndarray::Array1<f32>>) {
    let units = w.ncols() / 4;
    let (k, rk) = split_kernel(input, &[(w, units, &order)]);
    let b = bias.map(|b| {
        let mut out = ndarray::Array1::<f32>::zeros(4 * units);
        for (to, &from) in order.iter().enumerate() {
            out.slice_mut(s![to * units..(to + 1) * units])
                .assign(&b.slice(s![from * units..(from + 1) * units]));
        }
        out.slice_mut(s![units..2 * units])
            .mapv_inplace(|v| v + forget_bias);
        out
    });
    (k, rk, b)
}

fn as2(a: &ArrayD<f32>) -> Result<Array2<f32>, String> {
    a.clone()
        .into_dimensionality::<Ix2>()
        .map_err(|_| format!("a kernel of shape {:?}, not 2-D", a.shape()))
}

fn as1(a: &ArrayD<f32>) -> Result<ndarray::Array1<f32>, String> {
    a.clone()
        .into_dimensionality::<Ix1>()
        .map_err(|_| format!("a bias of shape {:?}, not 1-D", a.shape()))
}

/// The Split output slot `t` is, if it is one of `split`'s.
fn split_slot(ctx: &Ctx, t: &str, split: &NodeDef) -> Option<usize> {
    let id = ctx.graph.resolve(&TensorId::parse(t));
    (id.node == split.name).then_some(id.slot)
}

/// Recognises a `dynamic_rnn` loop over one TF1 cell (see the module header).
pub(super) fn recognise(ctx: &Ctx, lp: &Loop) -> Result<RnnCell, String> {
    let graph = ctx.graph;
    let count = |op: &str| lp.ops.get(op).copied().unwrap_or(0);
    let (class, _) = cell_class(count)?;
    if let Some(op) = lp.ops.keys().find(|op| !cell_op(op)) {
        return Err(format!(
            "op {op} is not part of a TF1 LSTMCell, GRUCell or BasicRNNCell loop (cell_clip, \
             MultiRNNCell and custom cells are not converted)"
        ));
    }
    let members: HashSet<usize> = lp.members.iter().copied().collect();
    let nodes = || lp.members.iter().map(|&i| &graph.nodes()[i]);
    let in_loop = |n: &NodeDef| {
        graph
            .index_of(&n.name)
            .is_some_and(|i| members.contains(&i))
    };
    let consumers = |t: TensorId| -> Vec<&NodeDef> {
        graph
            .consumers(&t)
            .iter()
            .filter(|(c, _)| members.contains(c))
            .map(|&(c, _)| &graph.nodes()[c])
            .collect()
    };

    // The step: TensorArrayReadV3 of the array a scatter filled from the
    // batch-major input transposed to time-major.
    let reads: Vec<&NodeDef> = nodes().filter(|n| n.op == "TensorArrayReadV3").collect();
    let [read] = reads.as_slice() else {
        return Err(format!("{} TensorArrayReadV3 in one loop", reads.len()));
    };
    let scatter = read
        .data_inputs()
        .get(2)
        .and_then(|t| source(ctx, t))
        .filter(|n| n.op == "Enter")
        .and_then(|e| source(ctx, e.data_inputs().first()?))
        .filter(|n| n.op == "TensorArrayScatterV3")
        .ok_or("the step is not read from an array a TensorArrayScatterV3 filled")?;
    let transpose = scatter
        .data_inputs()
        .get(2)
        .and_then(|t| source(ctx, t))
        .filter(|t| swaps_batch_and_time(ctx, t))
        .ok_or(
            "the sequence is not scattered from a batch-major input transposed to time-major \
             (time_major=True inputs are not converted)",
        )?;

    // Every product: MatMul(ConcatV2([step, second], 1), W).
    let mut products = Vec::new();
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
        let concat = source(ctx, a)
            .filter(|n| n.op == "ConcatV2" && in_loop(n))
            .ok_or_else(|| format!("MatMul '{}' does not multiply a ConcatV2", mm.name))?;
        let parts = concat.data_inputs();
        let axis = ctx.const_ints(concat, 2).ok();
        let [x, second, _] = parts.as_slice() else {
            return Err(format!(
                "ConcatV2 '{}' of {} inputs, not [x, h]",
                concat.name,
                parts.len() - 1
            ));
        };
        if !matches!(axis.as_deref(), Some([1] | [-1]))
            || source(ctx, x).map(|n| n.name.as_str()) != Some(read.name.as_str())
        {
            return Err(format!(
                "ConcatV2 '{}' is not [step, state] on axis 1",
                concat.name
            ));
        }
        let w = kernel_of(ctx, b)
            .ok_or_else(|| format!("MatMul '{}': the kernel is not a constant", mm.name))?;
        products.push(Product {
            mm,
            w,
            second: second.to_string(),
        });
    }
    // contrib's LSTMBlockCell: the whole cell is one node, its h_prev the state h.
    let block_cell = nodes().find(|n| n.op == "LSTMBlockCell");
    // The state h: the second operand of the product whose concat takes a
    // loop variable (GRU's candidate takes r·h instead).
    let state = match block_cell {
        Some(c) => c.data_inputs().get(2).and_then(|t| loop_var(ctx, t)),
        None => products.iter().find_map(|p| loop_var(ctx, &p.second)),
    }
    .ok_or("no product of the cell takes the state h")?;
    let bias_of = |p: &Product, width: usize| -> Result<Option<ndarray::Array1<f32>>, String> {
        match bias_after(ctx, lp, p.mm) {
            Some(b) if b.shape() == [width] => Ok(Some(as1(&b)?)),
            Some(b) => Err(format!(
                "MatMul '{}': a bias of shape {:?}, not ({width})",
                p.mm.name,
                b.shape()
            )),
            None => Ok(None),
        }
    };
    let shape_err = |p: &Product, what: &str| {
        format!(
            "MatMul '{}': a kernel of shape {:?} is not a {what}",
            p.mm.name,
            p.w.shape()
        )
    };

    let (kernel, recurrent, bias, units, kind_of): (_, _, _, usize, &str) = match class {
        "LSTMBlockCell" => {
            let cell = block_cell.ok_or("no LSTMBlockCell in the loop")?;
            if cell
                .data_inputs()
                .get(1)
                .and_then(|t| loop_var(ctx, t))
                .is_none()
            {
                return Err(format!(
                    "LSTMBlockCell '{}': cs_prev is not a state carried round the loop",
                    cell.name
                ));
            }
            let (k, rk, b, units) = super::block_lstm::cell_in_loop(ctx, cell, read)?;
            (k, rk, b, units, "LSTM")
        }
        "LSTM" => {
            let p = &products[0];
            let w = as2(&p.w)?;
            let units = w.ncols() / 4;
            if units == 0 || w.ncols() % 4 != 0 || w.nrows() <= units {
                return Err(shape_err(p, "LSTMCell's [in + u, 4u]"));
            }
            let input = w.nrows() - units;
            let bias = bias_of(p, 4 * units)?;
            // The gates: Split into 4 of the (biased) product, i j f o.
            let split = nodes()
                .find(|n| n.op == "Split")
                .filter(|n| n.attr_int("num_split").ok() == Some(4))
                .ok_or("the LSTM cell's Split is not one into 4 gates")?;
            let gate = |k: usize| consumers(TensorId::new(split.name.clone(), k));
            let ops = |k: usize| -> Vec<String> { gate(k).iter().map(|n| n.op.clone()).collect() };
            // f: Sigmoid(f + forget_bias) (or Sigmoid(f) for a forget_bias of 0).
            let f_users = gate(2);
            let forget_bias = match f_users.as_slice() {
                [n] if n.op == "Sigmoid" => 0.0,
                [n] if matches!(n.op.as_str(), "Add" | "AddV2") => {
                    let other = n
                        .data_inputs()
                        .iter()
                        .find(|i| split_slot(ctx, i, split) != Some(2))
                        .and_then(|i| graph.const_value(&TensorId::parse(i)))
                        .and_then(|v| v.ok())
                        .map(|v| v.to_f32())
                        .filter(|v| v.len() == 1)
                        .ok_or_else(|| format!("'{}' adds no scalar forget_bias", n.name))?;
                    other.iter().next().copied().unwrap_or(0.0)
                }
                _ => return Err("the LSTM cell's gate f is not σ(f + forget_bias)".into()),
            };
            if ops(0) != ["Sigmoid"] || ops(1) != ["Tanh"] || ops(3) != ["Sigmoid"] {
                return Err(format!(
                    "the LSTM cell's gates are not LSTMCell's σ(i), tanh(j), σ(o): {:?}, {:?}, {:?}",
                    ops(0),
                    ops(1),
                    ops(3)
                ));
            }
            let (k, rk, b) = lstm_weights(input, &w, bias.as_ref(), forget_bias, ICFO);
            (k, rk, b, units, "LSTM")
        }
        "GRU" => {
            // gates: [in + u, 2u] (+ bg) → σ → Split(r, u); candidate: [in + u, u].
            let (mut gates, mut cand) = (None, None);
            for p in &products {
                if loop_var(ctx, &p.second).is_some() {
                    gates = Some(p);
                } else {
                    cand = Some(p);
                }
            }
            let (Some(gates), Some(cand)) = (gates, cand) else {
                return Err("the GRU cell's gate and candidate products are not told apart".into());
            };
            let (wg, wc) = (as2(&gates.w)?, as2(&cand.w)?);
            let units = wc.ncols();
            if units == 0 || wc.nrows() <= units || wg.dim() != (wc.nrows(), 2 * units) {
                return Err(format!(
                    "kernels of shapes {:?} and {:?} are not GRUCell's [in + u, 2u] and [in + u, u]",
                    wg.shape(),
                    wc.shape()
                ));
            }
            let input = wc.nrows() - units;
            // r is the Split output multiplying the state into the candidate's concat.
            let split = nodes()
                .find(|n| n.op == "Split")
                .filter(|n| n.attr_int("num_split").ok() == Some(2))
                .ok_or("the GRU cell's gates are not one Split into 2")?;
            let r_state = source(ctx, &cand.second)
                .filter(|n| n.op == "Mul")
                .ok_or("the GRU candidate does not take r·h")?;
            let r = r_state
                .data_inputs()
                .iter()
                // A slot past the Split's 2 outputs (a damaged graph) is no gate.
                .find_map(|i| split_slot(ctx, i, split).filter(|&r| r < 2))
                .ok_or("the GRU candidate's r·h does not take a gate of the Split")?;
            let u = 1 - r.min(1);
            let (k, rk) = split_kernel(input, &[(&wg, units, &[u, r]), (&wc, units, &[0])]);
            let bias = match (bias_of(gates, 2 * units)?, bias_of(cand, units)?) {
                (Some(bg), Some(bc)) => {
                    let parts = [
                        bg.slice(s![u * units..(u + 1) * units]),
                        bg.slice(s![r * units..(r + 1) * units]),
                        bc.view(),
                    ];
                    Some(ndarray::concatenate(Axis(0), &parts).expect("1-D"))
                }
                (None, None) => None,
                _ => return Err("only one of the GRU cell's products has a bias".into()),
            };
            (k, rk, bias, units, "GRU")
        }
        _ => {
            let p = &products[0];
            let w = as2(&p.w)?;
            let units = w.ncols();
            if units == 0 || w.nrows() <= units {
                return Err(shape_err(p, "BasicRNNCell's [in + u, u]"));
            }
            let (k, rk) = split_kernel(w.nrows() - units, &[(&w, units, &[0])]);
            (k, rk, bias_of(p, units)?, units, "SimpleRNN")
        }
    };

    // Every state starts from zeros (no initial_state).
    for m in nodes().filter(|n| n.op == "Merge") {
        let float = m
            .attr
            .get("T")
            .and_then(|a| a.value.as_ref())
            .is_some_and(|v| {
                matches!(v, crate::graph::pb::attr_value::Value::Type(t)
                    if *t == crate::graph::pb::DataType::DtFloat as i32)
            });
        if float && !starts_at_zero(ctx, m) {
            return Err(format!(
                "loop variable '{}' does not start from zeros (an initial_state is not converted)",
                m.name
            ));
        }
    }

    // The output: the gathered steps transposed back, or the final h.
    let exit_of = |merge: &NodeDef| -> Option<&NodeDef> {
        nodes().find(|n| {
            n.op == "Exit"
                && n.data_inputs()
                    .first()
                    .and_then(|t| source(ctx, t))
                    .filter(|s| s.op == "Switch")
                    .and_then(|s| s.data_inputs().first().map(|i| TensorId::parse(i).node))
                    .as_deref()
                    == Some(merge.name.as_str())
        })
    };
    // Read by any node (an Identity naming a graph output counts).
    let used = |n: &NodeDef| {
        graph.nodes().iter().any(|c| {
            c.data_inputs()
                .iter()
                .any(|i| TensorId::parse(i).node == n.name)
        })
    };
    let h_exit = exit_of(state).filter(|e| used(e));
    let exits: HashSet<&str> = nodes()
        .filter(|n| n.op == "Exit")
        .map(|n| n.name.as_str())
        .collect();
    let gather = graph.nodes().iter().find(|n| {
        n.op == "TensorArrayGatherV3"
            && n.data_inputs()
                .get(2)
                .and_then(|t| source(ctx, t))
                .is_some_and(|s| exits.contains(s.name.as_str()))
    });
    let back = gather.and_then(|g| {
        graph
            .consumers(&TensorId::new(g.name.clone(), 0))
            .iter()
            .map(|&(c, _)| &graph.nodes()[c])
            .find(|n| swaps_batch_and_time(ctx, n))
    });
    for e in nodes().filter(|n| n.op == "Exit" && used(n)) {
        let carries_array = gather.is_some_and(|g| {
            g.data_inputs()
                .get(2)
                .and_then(|t| source(ctx, t))
                .is_some_and(|s| s.name == e.name)
        });
        if !carries_array && Some(e.name.as_str()) != h_exit.map(|h| h.name.as_str()) {
            return Err(format!(
                "the final state leaves the loop through '{}', not only h (the final c of an \
                 LSTM, return_state, is not converted)",
                e.name
            ));
        }
    }
    let (return_sequences, output) = match (back, h_exit) {
        (Some(_), Some(_)) => {
            return Err(
                "both the outputs and the final state of dynamic_rnn are used (two Keras outputs, \
                 return_state, are not converted)"
                    .into(),
            );
        }
        (Some(t), None) => (true, t.name.clone()),
        (None, Some(h)) => (false, h.name.clone()),
        (None, None) => {
            return Err(
                "neither the stacked outputs (transposed back) nor the final state h leave the loop"
                    .into(),
            );
        }
    };

    let use_bias = bias.is_some();
    let mut weights = vec![
        Weight {
            name: "kernel".into(),
            value: kernel.into_dyn(),
        },
        Weight {
            name: "recurrent_kernel".into(),
            value: recurrent.into_dyn(),
        },
    ];
    if let Some(b) = bias {
        weights.push(Weight {
            name: "bias".into(),
            value: b.into_dyn(),
        });
    }
    let kind = match kind_of {
        "LSTM" => LayerKind::Lstm {
            units,
            return_sequences,
            use_bias,
            go_backwards: false,
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
        },
        "GRU" => LayerKind::Gru {
            units,
            return_sequences,
            use_bias,
            reset_after: false,
            go_backwards: false,
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
        },
        _ => LayerKind::SimpleRnn {
            units,
            return_sequences,
            use_bias,
            go_backwards: false,
            activation: Activation::Tanh,
        },
    };
    // The name: the cell's variable scope (`rnn/lstm_cell/kernel` → `rnn.lstm_cell`;
    // GRUCell's kernels sit in its `gates/` and `candidate/` sub-scopes).
    let kernel = match block_cell {
        Some(c) => c.data_inputs().get(3).copied(),
        None => products
            .first()
            .and_then(|p| p.mm.data_inputs().get(1).copied()),
    };
    let name = kernel
        .and_then(|t| kernel_const(ctx, t))
        .and_then(|k| k.rsplit_once('/').map(|(scope, _)| scope.to_string()))
        .map(|scope| {
            let scope = scope
                .strip_suffix("/gates")
                .or_else(|| scope.strip_suffix("/candidate"))
                .unwrap_or(&scope);
            scope.replace('/', ".")
        })
        .filter(|s| !s.is_empty());
    Ok(RnnCell {
        transpose: transpose.name.clone(),
        reverse: None,
        kind,
        weights,
        output: TensorId::new(output, 0),
        name,
        zero_output: false,
        masked: false,
    })
}

/// The name of the Const a kernel tensor comes from (through Identity and Enter).
fn kernel_const(ctx: &Ctx, t: &str) -> Option<String> {
    let mut t = TensorId::parse(t);
    for _ in 0..16 {
        let node = ctx.graph.node(&t.node)?;
        match node.op.as_str() {
            "Const" => return Some(node.name.clone()),
            "Identity" | "Enter" => t = TensorId::parse(node.data_inputs().first()?),
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, arr2};

    fn sigmoid(x: f32) -> f32 {
        1.0 / (1.0 + (-x).exp())
    }

    /// One unit, one input feature: TF1's LSTMCell step worked out by hand
    /// against Keras's LSTM step on the rearranged weights.
    #[test]
    fn one_unit_lstm_cell_is_keras_lstm_with_gates_reordered_and_forget_bias_folded() {
        // Combined kernel [x; h] x [i, j, f, o] and bias, forget_bias 1.
        let w = arr2(&[[0.1f32, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8]]);
        let b = arr1(&[0.01f32, 0.02, 0.03, 0.04]);
        let (k, rk, kb) = lstm_weights(1, &w, Some(&b), 1.0, ICFO);
        // Keras blocks i, f, c, o: TF1 i, f, j, o; the forget bias in f.
        assert_eq!(k, arr2(&[[0.1f32, 0.3, 0.2, 0.4]]));
        assert_eq!(rk, arr2(&[[0.5f32, 0.7, 0.6, 0.8]]));
        let kb = kb.expect("bias");
        let want = arr1(&[0.01f32, 1.0 + 0.03, 0.02, 0.04]);
        assert!(
            kb.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-7),
            "{kb}"
        );

        let (x, h, c) = (0.9f32, -0.4f32, 0.25f32);
        // TF1 (by hand from LSTMCell.call): z = [x, h]·W + b, i j f o = z.
        let z = |col: usize| x * w[[0, col]] + h * w[[1, col]] + b[col];
        let c_tf = c * sigmoid(z(2) + 1.0) + sigmoid(z(0)) * z(1).tanh();
        let h_tf = c_tf.tanh() * sigmoid(z(3));
        // Keras LSTM: i = σ(x·Ki + h·Ri + bi), f = σ(...), c = f·c + i·tanh(...), h = o·tanh(c).
        let g = |blk: usize| x * k[[0, blk]] + h * rk[[0, blk]] + kb[blk];
        let c_k = sigmoid(g(1)) * c + sigmoid(g(0)) * g(2).tanh();
        let h_k = sigmoid(g(3)) * c_k.tanh();
        assert!((c_tf - c_k).abs() < 1e-6, "{c_tf} vs {c_k}");
        assert!((h_tf - h_k).abs() < 1e-6, "{h_tf} vs {h_k}");
    }

    /// One unit: TF1's GRUCell (r, u = split; candidate on [x, r·h]) against
    /// Keras's GRU(reset_after=False) on the rearranged weights (z = u).
    #[test]
    fn one_unit_gru_cell_is_keras_gru_v1_with_z_from_u() {
        let wg = arr2(&[[0.3f32, -0.2], [0.4, 0.9]]); // [x; h] x [r, u]
        let bg = arr1(&[0.1f32, -0.3]);
        let wc = arr2(&[[0.7f32], [-0.5]]); // [x; r·h] x [c]
        let bc = arr1(&[0.05f32]);
        let (k, rk) = split_kernel(1, &[(&wg, 1, &[1, 0]), (&wc, 1, &[0])]);
        assert_eq!(k, arr2(&[[-0.2f32, 0.3, 0.7]]));
        assert_eq!(rk, arr2(&[[0.9f32, 0.4, -0.5]]));
        let kb = arr1(&[bg[1], bg[0], bc[0]]);

        let (x, h) = (0.6f32, -0.8f32);
        let r = sigmoid(x * wg[[0, 0]] + h * wg[[1, 0]] + bg[0]);
        let u = sigmoid(x * wg[[0, 1]] + h * wg[[1, 1]] + bg[1]);
        let c = (x * wc[[0, 0]] + (r * h) * wc[[1, 0]] + bc[0]).tanh();
        let h_tf = u * h + (1.0 - u) * c;
        // Keras GRU, reset_after=False: z, r, hh = blocks 0, 1, 2.
        let z = sigmoid(x * k[[0, 0]] + h * rk[[0, 0]] + kb[0]);
        let rr = sigmoid(x * k[[0, 1]] + h * rk[[0, 1]] + kb[1]);
        let hh = (x * k[[0, 2]] + (rr * h) * rk[[0, 2]] + kb[2]).tanh();
        let h_k = z * h + (1.0 - z) * hh;
        assert!((h_tf - h_k).abs() < 1e-6, "{h_tf} vs {h_k}");
    }
}
