//! TF1 RNN cells: `tf.compat.v1.nn.dynamic_rnn` over `LSTMCell`/`BasicLSTMCell`,
//! `GRUCell` and `BasicRNNCell` (`tf.compat.v1.nn.rnn_cell`), or over a
//! `MultiRNNCell` of them, converted to Keras `LSTM`, `GRU(reset_after=False)`
//! and `SimpleRNN` (see `harness/gen_tf1.py`'s `tf1_rnn_*` and `tf1_multi_rnn_*`
//! cases). The recognition of one cell step ([`cell_step`]) and its weight
//! mapping ([`Step::keras`]) are shared with `static_rnn` (`static_rnn.rs`).
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
//! A step is followed forwards from its input `x`: the `ConcatV2([x, h])`
//! products, then the gates to the new state (c', h'), each op checked
//! against the equations above; the class comes from that structure. A
//! `MultiRNNCell` chains cells in one loop body (scopes
//! `rnn/multi_rnn_cell/cell_<k>/…`): cell k + 1 reads cell k's new h. It
//! becomes one layer per cell, named after each cell's scope; the lower ones
//! return their sequences, mapped to their new h at every step stacked
//! batch-major (a tensor no node of the graph holds: the oracle packs the
//! unrolled copies, [`crate::graph::stacked_steps`]).
//!
//! The (last) layer's output is the stacked steps (`return_sequences=True`, the
//! batch-major `Transpose` after the gather) or the final state h
//! (`return_sequences=False`, the `Exit` of h; for an LSTM, `state.h`).
//!
//! Refused by name (exit 3): `sequence_length` (its `Select`s), `time_major`
//! inputs, an `initial_state` other than zeros, the final state and the
//! outputs both used (two Keras outputs), the final c or a lower cell's final
//! state used, LSTMCell's peepholes (`use_peepholes`), projection (`num_proj`)
//! and `cell_clip`, other activations (their ops are not the cell's).
//!
//! `bidirectional_dynamic_rnn` without `sequence_length`: two such loops
//! (scopes `bidirectional_rnn/fw/fw/…` and `bidirectional_rnn/bw/bw/…`), the
//! backward one over `ReverseV2(x, [1])` (batch-major, before the
//! transpose): that loop is Keras's `go_backwards` (its steps, its final
//! state, in processing order); its outputs flipped back by `ReverseV2(…,
//! [1])` and concatenated with the forward ones, or the two final h
//! concatenated, are Keras's `Bidirectional(merge_mode="concat")`
//! ([`super::bidirectional`]). With `sequence_length` (`ReverseSequence`,
//! and the loops' `Select`s) it is refused.
//!
//! Tests: the gate rearrangement worked out by hand for one unit (below); the
//! `fixtures/tf1_rnn_*` and `tf1_multi_rnn_*` (`harness/gen_tf1.py`) verify and
//! round-trip in both Kerases; the refusals are `tests/data/tf1_rnn_*.pb`
//! (`tests/recurrent.rs`).

use super::ctx::Ctx;
use super::recurrent::{RnnCell, Stacked, const_through_enter, source, swaps_batch_and_time};
use crate::graph::pb::NodeDef;
use crate::graph::{Loop, NodeExt, TensorId, is_control_flow};
use crate::keras::{Activation, LayerKind, Weight};
use ndarray::{Array2, ArrayD, Axis, Ix1, Ix2, s};
use std::collections::HashSet;

/// Ops a TF1 `dynamic_rnn` loop over LSTMCells, GRUCells or BasicRNNCells holds.
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

/// The TF1 cell the op counts of a loop over ONE cell say it is: `(Keras
/// class, gate blocks)`; its refusals name peepholes and projections.
fn cell_class(count: impl Fn(&str) -> usize) -> Result<(&'static str, usize), String> {
    if count("Select") + count("SelectV2") > 0 {
        return Err(
            "dynamic_rnn with sequence_length (Select of the steps past each length) is not \
             converted"
                .into(),
        );
    }
    match (count("MatMul"), count("Sigmoid"), count("Tanh")) {
        (1, 3, 2) if count("Mul") == 3 => Ok(("LSTM", 4)),
        (1, 3, 2) => Err(format!(
            "an LSTMCell with peepholes (use_peepholes: Mul x{}, not 3) is not converted",
            count("Mul")
        )),
        (2, 3, 2) => Err("an LSTMCell with a projection (num_proj) is not converted".into()),
        (2, 1, 1) => Ok(("GRU", 3)),
        (1, 0, 1) => Ok(("SimpleRNN", 1)),
        (0, 0, 0) if count("LSTMBlockCell") == 1 => Ok(("LSTM", 4)),
        (m, s, t) => Err(format!(
            "MatMul x{m}, Sigmoid x{s}, Tanh x{t} are the ops of no TF1 LSTMCell (1, 3, 2), \
             GRUCell (2, 1, 1) or BasicRNNCell (1, 0, 1): another activation or a custom cell \
             is not converted"
        )),
    }
}

/// The loop variable (its `Merge`) a tensor of the body is, through
/// `Identity` and the loop's `Switch`.
fn loop_var<'g>(ctx: &Ctx<'g>, t: &str) -> Option<&'g NodeDef> {
    let switch = source(ctx, t).filter(|n| n.op == "Switch")?;
    source(ctx, switch.data_inputs().first()?).filter(|n| n.op == "Merge")
}

/// Whether a loop variable starts from zeros (`zero_state`: `Fill(shape, 0)`
/// or a zero constant).
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
        match init.op.as_str() {
            "Fill" => init
                .data_inputs()
                .get(1)
                .and_then(|v| graph.const_value(&TensorId::parse(v)))
                .and_then(|v| v.ok())
                .is_some_and(|v| v.to_f32().iter().all(|&x| x == 0.0)),
            "Const" => graph
                .const_value(&TensorId::new(init.name.clone(), 0))
                .and_then(|v| v.ok())
                .is_some_and(|v| v.to_f32().iter().all(|&x| x == 0.0)),
            // The output array's flow (a float scalar carried round), not a state.
            "TensorArrayV3" => true,
            _ => false,
        }
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

/// The TF1 cells thaw converts, by the Keras class they become.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Class {
    /// `LSTMCell`/`BasicLSTMCell` → `LSTM`.
    Lstm,
    /// `GRUCell` → `GRU(reset_after=False)`.
    Gru,
    /// `BasicRNNCell` → `SimpleRNN`.
    Rnn,
}

/// One `MatMul(ConcatV2([x, second], 1), W)` (+ bias) of a cell step.
struct Product<'g> {
    concat: &'g NodeDef,
    mm: &'g NodeDef,
    /// The kernel's Const (through Identity and Enter).
    kernel: String,
    /// The bias add after the product (`None`: the cell has no bias).
    bias_add: Option<&'g NodeDef>,
    /// The concat's second operand (the state h, or GRU's `r·h`), resolved.
    second: TensorId,
}

impl Product<'_> {
    /// The node that yields the (biased) product.
    fn out(&self) -> TensorId {
        TensorId::new(self.bias_add.unwrap_or(self.mm).name.clone(), 0)
    }
}

/// One step of a TF1 cell as the graph computes it: a `dynamic_rnn` loop
/// body's, or one of `static_rnn`'s copies (one per step, sharing the
/// kernels), found forwards from the step's input by [`cell_step`]. The
/// Keras weights are read only when asked ([`Step::keras`]): `static_rnn`
/// finds T steps of one layer.
pub(super) struct Step<'g> {
    pub class: Class,
    /// LSTM and BasicRNN: one product; GRU: the gates', then the candidate's.
    products: Vec<Product<'g>>,
    /// LSTM: the scalar added to gate f before its sigmoid.
    forget_bias: f32,
    /// GRU: the slot of r in the gates' Split (u is the other).
    r: usize,
    /// The state the step reads: h (resolved), and c for an LSTM.
    pub h_in: TensorId,
    pub c_in: Option<TensorId>,
    /// The state the step writes: the new h (the step's output), and c.
    pub h_out: TensorId,
    pub c_out: Option<TensorId>,
    /// The step's nodes (constants aside).
    pub nodes: Vec<String>,
    /// contrib's `LSTMBlockCell`: the one node of the step, and its kernel's
    /// Const (`products` is empty then).
    block: Option<(&'g NodeDef, String)>,
}

/// `t` through pass-through nodes.
fn resolved(ctx: &Ctx, t: &str) -> TensorId {
    ctx.graph.resolve(&TensorId::parse(t))
}

/// Data input `k` of `n`, resolved.
fn input_of(ctx: &Ctx, n: &NodeDef, k: usize) -> Option<TensorId> {
    n.data_inputs().get(k).map(|t| resolved(ctx, t))
}

fn out0(n: &NodeDef) -> TensorId {
    TensorId::new(n.name.clone(), 0)
}

/// The consumers of `t` (through pass-through nodes).
fn users<'g>(ctx: &Ctx<'g>, t: &TensorId) -> Vec<&'g NodeDef> {
    ctx.graph
        .consumers(t)
        .iter()
        .map(|&(c, _)| &ctx.graph.nodes()[c])
        .collect()
}

/// The one consumer of `t` whose op is one of `ops` (others may exist: the
/// next step's, the loop's `NextIteration`).
fn user<'g>(ctx: &Ctx<'g>, t: &TensorId, ops: &[&str], what: &str) -> Result<&'g NodeDef, String> {
    match users(ctx, t)
        .into_iter()
        .filter(|n| ops.contains(&n.op.as_str()))
        .collect::<Vec<_>>()
        .as_slice()
    {
        [n] => Ok(n),
        [] => Err(format!("'{t}' does not feed {what}")),
        _ => Err(format!("'{t}' feeds more than one {}", ops.join("/"))),
    }
}

/// The other data input of a binary node, when one of them is `one`.
fn other_input(ctx: &Ctx, n: &NodeDef, one: &TensorId) -> Option<TensorId> {
    match (input_of(ctx, n, 0), input_of(ctx, n, 1)) {
        (Some(a), Some(b)) if a == *one => Some(b),
        (Some(a), Some(b)) if b == *one => Some(a),
        _ => None,
    }
}

/// Whether the binary node `n` takes exactly `a` and `b` (in either order).
fn takes(ctx: &Ctx, n: &NodeDef, a: &TensorId, b: &TensorId) -> bool {
    other_input(ctx, n, a).as_ref() == Some(b)
}

/// The products of a step whose input is `x`: every `ConcatV2([x, second], 1)`
/// consuming it, each multiplied by a constant kernel.
fn products<'g>(ctx: &Ctx<'g>, x: &TensorId) -> Result<Vec<Product<'g>>, String> {
    let graph = ctx.graph;
    let mut out = Vec::new();
    for (c, pos) in graph.consumers(x) {
        let concat = &graph.nodes()[c];
        if concat.op != "ConcatV2" || pos != 0 {
            continue;
        }
        let parts = concat.data_inputs();
        let axis = ctx.const_ints(concat, 2).ok();
        if parts.len() != 3 || !matches!(axis.as_deref(), Some([1] | [-1])) {
            return Err(format!(
                "ConcatV2 '{}' is not [step, state] on axis 1",
                concat.name
            ));
        }
        let mm = user(ctx, &out0(concat), &["MatMul"], "a MatMul")?;
        if mm.attr_bool("transpose_a").unwrap_or(false)
            || mm.attr_bool("transpose_b").unwrap_or(false)
        {
            return Err(format!("MatMul '{}' transposes an operand", mm.name));
        }
        if input_of(ctx, mm, 0) != Some(out0(concat)) {
            return Err(format!(
                "MatMul '{}' does not multiply the ConcatV2",
                mm.name
            ));
        }
        let kernel = mm
            .data_inputs()
            .get(1)
            .and_then(|t| kernel_const(ctx, t))
            .ok_or_else(|| format!("MatMul '{}': the kernel is not a constant", mm.name))?;
        // The bias: the one BiasAdd/Add of a 1-D constant consuming the product.
        let bias_add = match users(ctx, &out0(mm)).as_slice() {
            [n] if matches!(n.op.as_str(), "BiasAdd" | "Add" | "AddV2") => {
                let b = other_input(ctx, n, &out0(mm))
                    .and_then(|b| const_through_enter(ctx, &b))
                    .filter(|b| b.ndim() == 1);
                b.is_some().then_some(*n)
            }
            _ => None,
        };
        out.push(Product {
            concat,
            mm,
            kernel,
            bias_add,
            second: resolved(ctx, parts[1]),
        });
    }
    Ok(out)
}

/// Recognises the TF1 cell step that reads `x` (see the module header): its
/// products on `ConcatV2([x, h])`, then the cell's gates followed forwards
/// to the new state.
pub(super) fn cell_step<'g>(ctx: &Ctx<'g>, x: &TensorId) -> Result<Step<'g>, String> {
    let x = ctx.graph.resolve(x);
    let block = users(ctx, &x)
        .into_iter()
        .find(|n| n.op == "LSTMBlockCell" && input_of(ctx, n, 0).as_ref() == Some(&x));
    if let Some(cell) = block {
        // contrib's LSTMBlockCell: x, cs_prev, h_prev, w, …; outputs 1 (cs) and 6 (h).
        let kernel = cell
            .data_inputs()
            .get(3)
            .and_then(|t| kernel_const(ctx, t))
            .ok_or_else(|| format!("LSTMBlockCell '{}': w is not a constant", cell.name))?;
        let (c_in, h_in) = match (input_of(ctx, cell, 1), input_of(ctx, cell, 2)) {
            (Some(c), Some(h)) => (c, h),
            _ => {
                return Err(format!(
                    "LSTMBlockCell '{}': fewer than 3 inputs",
                    cell.name
                ));
            }
        };
        return Ok(Step {
            class: Class::Lstm,
            products: Vec::new(),
            forget_bias: 0.0,
            r: 0,
            h_in,
            c_in: Some(c_in),
            h_out: TensorId::new(cell.name.clone(), 6),
            c_out: Some(TensorId::new(cell.name.clone(), 1)),
            nodes: vec![cell.name.clone()],
            block: Some((cell, kernel)),
        });
    }
    let products = products(ctx, &x)?;
    let names = |ns: &[&NodeDef]| -> Vec<String> { ns.iter().map(|n| n.name.clone()).collect() };
    let mut nodes = Vec::new();
    for p in &products {
        nodes.extend(names(&[p.concat, p.mm]));
        nodes.extend(p.bias_add.map(|b| b.name.clone()));
    }
    let ops =
        |t: &TensorId| -> Vec<String> { users(ctx, t).iter().map(|n| n.op.clone()).collect() };
    match products.as_slice() {
        [] => Err(format!("no ConcatV2(['{x}', h]) feeds a MatMul")),
        [p] if ops(&p.out()) == ["Split"] => {
            // LSTMCell: i, j, f, o = split(product, 4).
            let split = user(ctx, &p.out(), &["Split"], "a Split")?;
            if split.attr_int("num_split").ok() != Some(4)
                || input_of(ctx, split, 1) != Some(p.out())
            {
                return Err(format!(
                    "the LSTM cell's Split '{}' is not one into 4 gates",
                    split.name
                ));
            }
            let gate = |k: usize| TensorId::new(split.name.clone(), k);
            if ops(&gate(0)) != ["Sigmoid"]
                || ops(&gate(1)) != ["Tanh"]
                || ops(&gate(3)) != ["Sigmoid"]
            {
                return Err(format!(
                    "the LSTM cell's gates are not LSTMCell's σ(i), tanh(j), σ(o): {:?}, {:?}, \
                     {:?} (peepholes, use_peepholes, are not converted)",
                    ops(&gate(0)),
                    ops(&gate(1)),
                    ops(&gate(3))
                ));
            }
            let sig_i = user(ctx, &gate(0), &["Sigmoid"], "σ(i)")?;
            let tanh_j = user(ctx, &gate(1), &["Tanh"], "tanh(j)")?;
            let sig_o = user(ctx, &gate(3), &["Sigmoid"], "σ(o)")?;
            // f: σ(f + forget_bias), or σ(f) for a forget_bias of 0.
            let f_bad = || "the LSTM cell's gate f is not σ(f + forget_bias)".to_string();
            let (forget_bias, add_f, sig_f) = match users(ctx, &gate(2)).as_slice() {
                [n] if n.op == "Sigmoid" => (0.0, None, *n),
                [n] if matches!(n.op.as_str(), "Add" | "AddV2") => {
                    let fb = other_input(ctx, n, &gate(2))
                        .and_then(|t| ctx.graph.const_value(&t))
                        .and_then(|v| v.ok())
                        .map(|v| v.to_f32())
                        .filter(|v| v.len() == 1)
                        .ok_or_else(|| format!("'{}' adds no scalar forget_bias", n.name))?;
                    let sig = match users(ctx, &out0(n)).as_slice() {
                        [s] if s.op == "Sigmoid" => *s,
                        _ => return Err(f_bad()),
                    };
                    (fb.iter().next().copied().unwrap_or(0.0), Some(*n), sig)
                }
                _ => return Err(f_bad()),
            };
            // c' = σ(f')·c + σ(i)·tanh(j); h' = tanh(c')·σ(o).
            let ij = user(ctx, &out0(sig_i), &["Mul"], "σ(i)·tanh(j)")?;
            let fc = user(ctx, &out0(sig_f), &["Mul"], "σ(f)·c")?;
            let c_in = other_input(ctx, fc, &out0(sig_f)).ok_or("σ(f)·c without the state c")?;
            let c_out = user(ctx, &out0(ij), &["Add", "AddV2"], "the new c")?;
            let tanh_c = user(ctx, &out0(c_out), &["Tanh"], "tanh(c)")?;
            let h_out = user(ctx, &out0(tanh_c), &["Mul"], "the new h")?;
            if !takes(ctx, ij, &out0(sig_i), &out0(tanh_j))
                || !takes(ctx, c_out, &out0(fc), &out0(ij))
                || !takes(ctx, h_out, &out0(tanh_c), &out0(sig_o))
            {
                return Err(format!(
                    "the LSTM cell's new state ('{}', '{}') is not LSTMCell's \
                     c' = σ(f)·c + σ(i)·tanh(j), h' = tanh(c')·σ(o)",
                    c_out.name, h_out.name
                ));
            }
            nodes.extend(names(&[
                split, sig_i, tanh_j, sig_o, sig_f, ij, fc, c_out, tanh_c, h_out,
            ]));
            nodes.extend(add_f.map(|n| n.name.clone()));
            Ok(Step {
                class: Class::Lstm,
                forget_bias,
                r: 0,
                h_in: products[0].second.clone(),
                c_in: Some(c_in),
                h_out: out0(h_out),
                c_out: Some(out0(c_out)),
                nodes,
                products,
                block: None,
            })
        }
        [p] if ops(&p.out()) == ["Tanh"] => {
            // BasicRNNCell: h' = tanh([x, h]·W + b).
            let tanh = user(ctx, &p.out(), &["Tanh"], "tanh")?;
            nodes.push(tanh.name.clone());
            Ok(Step {
                class: Class::Rnn,
                forget_bias: 0.0,
                r: 0,
                h_in: p.second.clone(),
                c_in: None,
                h_out: out0(tanh),
                c_out: None,
                nodes,
                products,
                block: None,
            })
        }
        [a, b] => {
            // GRUCell: r, u = split(σ([x, h]·Wg + bg), 2); c = tanh([x, r·h]·Wc + bc);
            // h' = u·h + (1 − u)·c.
            let bad = |why: &str| format!("not a GRUCell's gates and candidate: {why}");
            let (gates, cand) = if ops(&a.out()) == ["Sigmoid"] {
                (a, b)
            } else {
                (b, a)
            };
            if ops(&gates.out()) != ["Sigmoid"] || ops(&cand.out()) != ["Tanh"] {
                return Err(bad("no σ of one product and tanh of the other"));
            }
            let sig = user(ctx, &gates.out(), &["Sigmoid"], "σ")?;
            let split = user(ctx, &out0(sig), &["Split"], "the gates' Split")?;
            if split.attr_int("num_split").ok() != Some(2) || users(ctx, &out0(sig)).len() != 1 {
                return Err(bad("the gates are not one Split into 2"));
            }
            let tanh = user(ctx, &cand.out(), &["Tanh"], "tanh")?;
            let h = gates.second.clone();
            let r_state = ctx
                .graph
                .node(&cand.second.node)
                .filter(|n| n.op == "Mul")
                .ok_or_else(|| bad("the candidate does not take r·h"))?;
            let slot = |t: &TensorId| (t.node == split.name && t.slot < 2).then_some(t.slot);
            let r = other_input(ctx, r_state, &h)
                .as_ref()
                .and_then(slot)
                .ok_or_else(|| bad("the candidate's r·h is not a gate of the Split times h"))?;
            let u = TensorId::new(split.name.clone(), 1 - r);
            let uh = users(ctx, &u)
                .into_iter()
                .find(|n| n.op == "Mul" && takes(ctx, n, &u, &h))
                .ok_or_else(|| bad("no u·h"))?;
            let one_minus_u = users(ctx, &u)
                .into_iter()
                .find(|n| {
                    n.op == "Sub"
                        && input_of(ctx, n, 1) == Some(u.clone())
                        && ctx
                            .const_f32(n, 0)
                            .is_ok_and(|v| v.len() == 1 && v.iter().all(|&x| x == 1.0))
                })
                .ok_or_else(|| bad("no 1 − u"))?;
            let uc = user(ctx, &out0(one_minus_u), &["Mul"], "(1 − u)·c")?;
            let h_out = user(ctx, &out0(uc), &["Add", "AddV2"], "the new h")?;
            if !takes(ctx, uc, &out0(one_minus_u), &out0(tanh))
                || !takes(ctx, h_out, &out0(uh), &out0(uc))
            {
                return Err(bad("the new state is not u·h + (1 − u)·c"));
            }
            nodes.extend(names(&[
                sig,
                split,
                r_state,
                tanh,
                uh,
                one_minus_u,
                uc,
                h_out,
            ]));
            let (gates, cand) = (gates.concat.name.clone(), cand.concat.name.clone());
            let mut products = products;
            products.sort_by_key(|p| p.concat.name != gates);
            debug_assert!(products[1].concat.name == cand);
            Ok(Step {
                class: Class::Gru,
                forget_bias: 0.0,
                r,
                h_in: h,
                c_in: None,
                h_out: out0(h_out),
                c_out: None,
                nodes,
                products,
                block: None,
            })
        }
        [p] => Err(format!(
            "the product '{}' feeds {:?}, not an LSTMCell's Split into 4 nor a BasicRNNCell's \
             Tanh (other activations and custom cells are not converted)",
            p.mm.name,
            ops(&p.out())
        )),
        more => Err(format!(
            "{} products read '{x}': no TF1 LSTMCell, GRUCell or BasicRNNCell",
            more.len()
        )),
    }
}

impl Step<'_> {
    /// The kernel Consts the step multiplies by (its identity: every step of
    /// one layer shares them).
    pub fn kernels(&self) -> Vec<&str> {
        let block = self.block.iter().map(|(_, k)| k.as_str());
        self.products
            .iter()
            .map(|p| p.kernel.as_str())
            .chain(block)
            .collect()
    }

    /// The layer's name: the cell's variable scope (`rnn/lstm_cell/kernel` →
    /// `rnn.lstm_cell`; GRUCell's kernels sit in its `gates/` and
    /// `candidate/` sub-scopes).
    pub fn name(&self) -> Option<String> {
        let (scope, _) = self.kernels().first()?.rsplit_once('/')?;
        let scope = scope
            .strip_suffix("/gates")
            .or_else(|| scope.strip_suffix("/candidate"))
            .unwrap_or(scope);
        Some(scope.replace('/', ".")).filter(|s| !s.is_empty())
    }

    /// The Keras layer this cell is, its weights read from the constants.
    pub fn keras(
        &self,
        ctx: &Ctx,
        return_sequences: bool,
    ) -> Result<(LayerKind, Vec<Weight>), String> {
        let kernel = |p: &Product| -> Result<Array2<f32>, String> {
            let w = const_through_enter(ctx, &TensorId::new(p.kernel.clone(), 0))
                .ok_or_else(|| format!("MatMul '{}': the kernel is not a constant", p.mm.name))?;
            as2(&w)
        };
        let bias = |p: &Product, width: usize| -> Result<Option<ndarray::Array1<f32>>, String> {
            let Some(add) = p.bias_add else {
                return Ok(None);
            };
            let b = other_input(ctx, add, &out0(p.mm))
                .and_then(|b| const_through_enter(ctx, &b))
                .ok_or_else(|| format!("'{}': the bias is not a constant", add.name))?;
            if b.shape() != [width] {
                return Err(format!(
                    "MatMul '{}': a bias of shape {:?}, not ({width})",
                    p.mm.name,
                    b.shape()
                ));
            }
            as1(&b).map(Some)
        };
        let shape_err = |p: &Product, w: &Array2<f32>, what: &str| {
            format!(
                "MatMul '{}': a kernel of shape {:?} is not a {what}",
                p.mm.name,
                w.shape()
            )
        };
        let (k, rk, b, units) = match (self.class, &self.block) {
            (_, Some((cell, _))) => super::block_lstm::cell_in_loop(ctx, cell)?,
            (Class::Lstm, None) => {
                let p = &self.products[0];
                let w = kernel(p)?;
                let units = w.ncols() / 4;
                if units == 0 || w.ncols() % 4 != 0 || w.nrows() <= units {
                    return Err(shape_err(p, &w, "LSTMCell's [in + u, 4u]"));
                }
                let b = bias(p, 4 * units)?;
                let (k, rk, b) =
                    lstm_weights(w.nrows() - units, &w, b.as_ref(), self.forget_bias, ICFO);
                (k, rk, b, units)
            }
            (Class::Gru, None) => {
                let (gates, cand) = (&self.products[0], &self.products[1]);
                let (wg, wc) = (kernel(gates)?, kernel(cand)?);
                let units = wc.ncols();
                if units == 0 || wc.nrows() <= units || wg.dim() != (wc.nrows(), 2 * units) {
                    return Err(format!(
                        "kernels of shapes {:?} and {:?} are not GRUCell's [in + u, 2u] and \
                         [in + u, u]",
                        wg.shape(),
                        wc.shape()
                    ));
                }
                let (r, u) = (self.r, 1 - self.r);
                let (k, rk) = split_kernel(
                    wc.nrows() - units,
                    &[(&wg, units, &[u, r]), (&wc, units, &[0])],
                );
                let b = match (bias(gates, 2 * units)?, bias(cand, units)?) {
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
                (k, rk, b, units)
            }
            (Class::Rnn, None) => {
                let p = &self.products[0];
                let w = kernel(p)?;
                let units = w.ncols();
                if units == 0 || w.nrows() <= units {
                    return Err(shape_err(p, &w, "BasicRNNCell's [in + u, u]"));
                }
                let (k, rk) = split_kernel(w.nrows() - units, &[(&w, units, &[0])]);
                (k, rk, bias(p, units)?, units)
            }
        };
        let use_bias = b.is_some();
        let weights = recurrent_weights(k, rk, b);
        let kind = match self.class {
            Class::Lstm => LayerKind::Lstm {
                units,
                return_sequences,
                use_bias,
                go_backwards: false,
                activation: Activation::Tanh,
                recurrent_activation: Activation::Sigmoid,
            },
            Class::Gru => LayerKind::Gru {
                units,
                return_sequences,
                use_bias,
                reset_after: false,
                go_backwards: false,
                activation: Activation::Tanh,
                recurrent_activation: Activation::Sigmoid,
            },
            Class::Rnn => LayerKind::SimpleRnn {
                units,
                return_sequences,
                use_bias,
                go_backwards: false,
                activation: Activation::Tanh,
            },
        };
        Ok((kind, weights))
    }
}

/// A recurrent layer's Keras weights, in Keras's order: `kernel`,
/// `recurrent_kernel`, then `bias` when the layer has one.
pub(super) fn recurrent_weights(
    k: Array2<f32>,
    rk: Array2<f32>,
    bias: Option<ndarray::Array1<f32>>,
) -> Vec<Weight> {
    let mut weights = vec![
        Weight {
            name: "kernel".into(),
            value: k.into_dyn(),
        },
        Weight {
            name: "recurrent_kernel".into(),
            value: rk.into_dyn(),
        },
    ];
    weights.extend(bias.map(|b| Weight {
        name: "bias".into(),
        value: b.into_dyn(),
    }));
    weights
}

/// Whether a tensor is a zero state (`zero_state`'s `Fill(shape, 0)` or a
/// constant of zeros), through pass-through nodes.
pub(super) fn is_zeros(ctx: &Ctx, t: &TensorId) -> bool {
    let graph = ctx.graph;
    let t = graph.resolve(t);
    let Some(n) = graph.node(&t.node) else {
        return false;
    };
    let zero = |v: Option<Result<crate::graph::Tensor, _>>| {
        v.and_then(|v| v.ok())
            .is_some_and(|v| v.to_f32().iter().all(|&x| x == 0.0))
    };
    match n.op.as_str() {
        "Fill" => zero(graph.const_input(n, 1)),
        "Const" => zero(graph.const_value(&t)),
        _ => false,
    }
}

/// Whether a loop variable (its `Merge`) is fed back, through its
/// `NextIteration`, from `t`.
fn carried_from(ctx: &Ctx, merge: &NodeDef, t: &TensorId) -> bool {
    merge.data_inputs().iter().any(|i| {
        ctx.graph
            .node(&TensorId::parse(i).node)
            .filter(|n| n.op == "NextIteration")
            .and_then(|n| input_of(ctx, n, 0))
            .as_ref()
            == Some(t)
    })
}

/// Loop members that belong to no cell: the loop's plumbing (control flow,
/// its integer counters and bounds, the arrays' reads and writes).
fn plumbing(n: &NodeDef) -> bool {
    let int = n
        .attr_type("T")
        .is_ok_and(|t| t == crate::graph::pb::DataType::DtInt32);
    is_control_flow(&n.op)
        || matches!(
            n.op.as_str(),
            "Const"
                | "Identity"
                | "NoOp"
                | "Less"
                | "LogicalAnd"
                | "TensorArrayReadV3"
                | "TensorArrayWriteV3"
        )
        || (matches!(n.op.as_str(), "Add" | "AddV2") && int)
}

/// Recognises a `dynamic_rnn` loop over one TF1 cell, or over a
/// `MultiRNNCell` of several chained (see the module header).
pub(super) fn recognise(ctx: &Ctx, lp: &Loop) -> Result<RnnCell, String> {
    let graph = ctx.graph;
    let count = |op: &str| lp.ops.get(op).copied().unwrap_or(0);
    if count("Select") + count("SelectV2") > 0 {
        return Err(
            "dynamic_rnn with sequence_length (Select of the steps past each length) is not \
             converted"
                .into(),
        );
    }
    // What the op counts say of a loop over one cell: its refusals name
    // peepholes and projections better than the cell's structure can.
    let one_cell = cell_class(count).map(|_| ());
    if let Some(op) = lp.ops.keys().find(|op| !cell_op(op)) {
        return Err(format!(
            "op {op} is not part of a TF1 LSTMCell, GRUCell or BasicRNNCell loop (cell_clip \
             and custom cells are not converted)"
        ));
    }
    let members: HashSet<usize> = lp.members.iter().copied().collect();
    let nodes = || lp.members.iter().map(|&i| &graph.nodes()[i]);

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

    // The cells: the first reads the step, each next one (a MultiRNNCell)
    // the new h of the one before.
    let single = |why: String| match &one_cell {
        Err(counts) if count("MatMul") <= 2 => counts.clone(),
        _ => why,
    };
    let mut cells: Vec<Step> = Vec::new();
    let mut x = out0(read);
    while cells.is_empty()
        || graph
            .consumers(&x)
            .iter()
            .any(|&(c, pos)| pos == 0 && graph.nodes()[c].op == "ConcatV2" && members.contains(&c))
    {
        let cell = cell_step(ctx, &x).map_err(|why| {
            single(format!(
                "cell {} of the loop (reading '{x}'): {why}",
                cells.len()
            ))
        })?;
        x = cell.h_out.clone();
        cells.push(cell);
        if cells.len() > lp.members.len() {
            return Err("the cells do not end".into());
        }
    }
    if cells.len() == 1 {
        one_cell.clone()?;
    }
    let covered: HashSet<&str> = cells
        .iter()
        .flat_map(|c| c.nodes.iter().map(String::as_str))
        .collect();
    if let Some(n) = nodes().find(|n| !covered.contains(n.name.as_str()) && !plumbing(n)) {
        return Err(single(format!(
            "{} ('{}') is part of no LSTMCell, GRUCell or BasicRNNCell of the loop (a \
             projection, num_proj, or a custom cell is not converted)",
            n.op, n.name
        )));
    }
    // Each cell's state: loop variables carried round from its new state.
    for (k, cell) in cells.iter().enumerate() {
        let states = [
            (&cell.h_in, Some(&cell.h_out)),
            (
                cell.c_in.as_ref().unwrap_or(&cell.h_in),
                cell.c_out.as_ref(),
            ),
        ];
        for (state, new) in states {
            let Some(new) = new else { continue };
            let carried =
                loop_var(ctx, &state.to_string()).is_some_and(|m| carried_from(ctx, m, new));
            if !carried {
                return Err(format!(
                    "cell {k}'s state '{state}' is not a loop variable carried round from its \
                     new state '{new}'"
                ));
            }
        }
    }

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

    // The output: the gathered steps transposed back, or the last cell's final h.
    let last = cells.last().expect("one cell at least");
    if let Some(w) = nodes().find(|n| n.op == "TensorArrayWriteV3")
        && input_of(ctx, w, 2).as_ref() != Some(&last.h_out)
    {
        return Err(format!(
            "the loop writes '{}' as its output, not the new h of its last cell",
            w.data_inputs().get(2).copied().unwrap_or("?")
        ));
    }
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
    let state =
        loop_var(ctx, &last.h_in.to_string()).ok_or("the last cell's h is no loop variable")?;
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
                 LSTM, the states of a MultiRNNCell's lower cells, return_state, are not \
                 converted)",
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

    // A MultiRNNCell: every cell below the last returns its sequence, the
    // value of its new h at every step (stacked after unrolling).
    let mut below = Vec::new();
    for cell in &cells[..cells.len() - 1] {
        let (kind, weights) = cell.keras(ctx, true)?;
        below.push(Stacked {
            name: cell.name(),
            kind,
            weights,
            output: TensorId::new(crate::graph::stacked_steps(&cell.h_out.node), 0),
            nodes: cell.nodes.clone(),
        });
    }
    let (mut kind, weights) = last.keras(ctx, return_sequences)?;
    // bidirectional_dynamic_rnn's backward loop: its input reversed along
    // the steps (batch-major `ReverseV2(x, [1])`) before the transpose, which
    // is Keras's go_backwards (outputs in processing order, as Keras's).
    let reverse = input_of(ctx, transpose, 0)
        .and_then(|t| graph.node(&t.node))
        .filter(|n| n.op == "ReverseV2");
    if let Some(rev) = reverse {
        let axes = ctx.const_ints(rev, 1)?;
        if axes != [1] {
            return Err(format!(
                "ReverseV2 '{}' before the loop reverses axes {axes:?}, not the time axis [1]",
                rev.name
            ));
        }
        if !below.is_empty() {
            return Err(
                "a MultiRNNCell over a reversed sequence (bidirectional_dynamic_rnn's backward \
                 direction) is not converted"
                    .into(),
            );
        }
        kind = super::bidirectional::with_direction(&kind, true);
    }
    Ok(RnnCell {
        transpose: transpose.name.clone(),
        reverse: reverse.map(|n| n.name.clone()),
        kind,
        weights,
        output: TensorId::new(output, 0),
        final_output: None,
        name: last.name(),
        zero_output: false,
        masked: false,
        below,
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
