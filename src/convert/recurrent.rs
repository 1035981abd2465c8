//! Recurrent layers: Keras `LSTM`, `GRU` (with or without `reset_after`) and
//! `SimpleRNN` are converted, in the lowered form and in the functional
//! `While` form (lowered at load, see below); every other loop (any other
//! `keras.layers.RNN` cell) is refused with one clear message per loop.
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
//!   Loading the graph lowers it into the first form (`graph::inline_calls`,
//!   `src/graph/lower_while.rs`, on the oracle's side too), so the rules
//!   below and the unroller only ever see lowered loops; a `While` left as
//!   such (one carrying `DT_RESOURCE` variables) is refused like any other
//!   loop.
//!
//! tract-tensorflow executes neither TF control flow nor TensorList ops. A
//! lowered loop with a constant trip count is unrolled for the oracle
//! (`graph::unroll`, a structural rewrite: body copied per step, TensorList
//! reads/writes as `GatherV2`/`Pack`), so the original graph runs; [`rnn`]
//! recognises the cell in such a loop by its op counts (LSTM: MatMul x2,
//! Sigmoid x3, Tanh x2, Split into 4; GRU: MatMul x2 (x3 without
//! `reset_after`), Sigmoid x2, Tanh; SimpleRNN: MatMul x2, Tanh), takes the
//! kernels and biases from the constants entering the frame (GRU's two bias
//! rows as tf-keras `Unpack`s or Keras 3 `Split`s them; the recurrent kernel
//! whole where the cell slices it; frozen with a fixed batch of 1, Keras 3
//! sums an LSTM's products as `BiasAdd(x·W, Squeeze(h·U))`, a sum and no
//! bias: `is_squeezed_sum`), `return_sequences` from whether the
//! stacked steps or the last step leave the layer, `go_backwards` from a
//! `ReverseV2` of the time axis between the time-major `Transpose` and the
//! `TensorListFromTensor` (the output stays in processing order, as in
//! Keras), and emits the class.
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
//! TF1 `tf.compat.v1.nn.dynamic_rnn` loops (TensorArray ops instead of
//! TensorLists, one kernel on `ConcatV2([x, h])`) are recognised by
//! [`super::recurrent_tf1`] and emitted by the same rule (a `MultiRNNCell`'s
//! loop as one layer per cell, [`RnnCell::below`]).
//!
//! A **masked** loop (`Embedding(mask_zero=True)` upstream) reads a second,
//! bool TensorList and keeps each state and the output through a
//! `SelectV2(Tile(mask step), new, old)` (see `loop_mask`); it converts to
//! the same class (the mask is Keras's, carried by the layers: see
//! [`crate::keras::layers::mask`]). Its mask must be one Keras makes
//! (`mask_zero`'s `NotEqual(ids, 0)`, `Masking`'s `Any(NotEqual(x, v))`), and
//! it may zero masked outputs
//! (`zero_output_for_mask=True`) only as half of a Bidirectional returning
//! sequences.
//!
//! `return_state`: the `Exit`s of the loop variables carrying the cell's
//! states (h: the one the recurrent kernel multiplies; an LSTM's c: the
//! other), read after the loop, are the layer's outputs 1 and on
//! ([`Emit::more_outputs`]); with only the states read (the stacked steps
//! dropped), output 0 is the last step, the final h.
//!
//! Not handled yet: other activations; the op-count check does
//! not prove the gate wiring (a custom cell with the same ops would convert as
//! one of the three and then fail verification on the numbers).

use super::Unsupported;
use super::bidirectional::Half;
use super::ctx::{Ctx, Emit, Match};
use super::rules::{BLOCK, RuleEntry};
use crate::graph::pb::NodeDef;
use crate::graph::{Loop, LoopForm, NodeExt, TensorId, is_control_flow};
use crate::keras::{Activation, LayerKind, Weight};
use ndarray::{ArrayD, Axis};
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
Keras LSTM, GRU and SimpleRNN loops in the lowered form and TF1 dynamic_rnn loops over \
LSTMCell, LSTMBlockCell, GRUCell or BasicRNNCell (or a MultiRNNCell of them) so far (While loops carrying resources, other cells and masks Keras did not \
make are not)";

/// Ops too common to be worth listing in a loop's op summary.
fn is_plumbing(op: &str) -> bool {
    matches!(op, "Const" | "Identity" | "NoOp")
}

/// The refusals of every top-level loop of the graph, in graph order.
pub(super) fn refuse_loops(ctx: &Ctx) -> Vec<Refusal> {
    let graph = ctx.graph;
    let mut taken: HashSet<usize> = HashSet::new();
    let mut out = Vec::new();
    // The rule's anchors: one layer scope can hold several loops (TF1's
    // `bidirectional_rnn/fw`, `…/bw`), the first loop's group taking them all.
    let mut anchors: HashSet<String> = HashSet::new();
    for lp in graph.loops() {
        let Some(anchor) = graph.node(&lp.node) else {
            continue;
        };
        let layer = ctx.layer_name(anchor);
        let recognised = recognise(ctx, &lp);
        let why = match &recognised {
            Err(why) => {
                log::debug!("loop '{}' is no recognised cell: {why}", lp.frame);
                why.clone()
            }
            Ok(_) => String::new(),
        };
        if let Ok(cell) = recognised {
            let group = loop_group(ctx, &lp, &mut taken);
            out.push(Refusal {
                unsupported: None,
                nodes: group
                    .iter()
                    .map(|&i| graph.nodes()[i].name.clone())
                    .collect(),
            });
            anchors.extend(cell.anchors(ctx));
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
                reason: reason(&layer, &lp, &ops, &why),
            }),
            nodes: group
                .iter()
                .map(|&i| graph.nodes()[i].name.clone())
                .collect(),
        });
    }
    for r in &mut out {
        r.nodes.retain(|n| !anchors.contains(n));
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

/// `why`: why [`recognise`] did not take a lowered loop (said in the message;
/// a functional loop's is always its form).
fn reason(layer: &str, lp: &Loop, ops: &BTreeMap<&str, usize>, why: &str) -> String {
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
    let cell = match lp.form {
        LoopForm::Lowered if !why.is_empty() => format!("; not converted: {why}"),
        _ => String::new(),
    };
    format!(
        "recurrent layer '{layer}' (LSTM/GRU/SimpleRNN or another RNN) is {what}{nested}: {WHY}{cell}; \
         ops involved: {}",
        listed.join(", ")
    )
}

/// A lowered loop recognised as a Keras `LSTM`, `GRU` or `SimpleRNN` cell.
pub(super) struct RnnCell {
    /// The time-major `Transpose` of the layer input (the rule's anchor).
    pub transpose: String,
    /// `go_backwards`: the `ReverseV2` of the time-major sequence (Keras), or
    /// of the batch-major layer input before the `Transpose` (TF1's
    /// `bidirectional_dynamic_rnn`, see [`Self::layer_input`]).
    pub reverse: Option<String>,
    pub kind: LayerKind,
    pub weights: Vec<Weight>,
    /// The TF tensor equal to the layer's output: the batch-major
    /// `Transpose` of the stacked steps, or the last step's `StridedSlice`
    /// (TF1: the `Exit` of the final state h).
    pub output: TensorId,
    /// The `Exit`s of the final states, in Keras's order (h, then an
    /// LSTM's c): the layer's outputs 1 and on with `return_state` (empty
    /// where not found: TF1 loops, whose states are not converted).
    pub states: Vec<TensorId>,
    /// The layer's name when the loop's scope does not give it (TF1: the
    /// cell's variable scope, `rnn/lstm_cell` → `rnn.lstm_cell`).
    pub name: Option<String>,
    /// A masked loop that writes zeros at masked steps instead of repeating
    /// the previous output (`zero_output_for_mask=True`, which Keras sets only
    /// inside a `Bidirectional` returning sequences): checked by the rule.
    pub zero_output: bool,
    /// The loop reads a mask (see `loop_mask`).
    pub masked: bool,
    /// The layers below this one that the same loop computes (a TF1
    /// `MultiRNNCell`: one per lower cell, first to last), each feeding the next.
    pub below: Vec<Stacked>,
}

impl RnnCell {
    /// The `ReverseV2` feeding the `Transpose` (TF1 reverses the batch-major
    /// input before it; Keras the time-major sequence after it).
    fn reverse_before<'g>(&self, ctx: &Ctx<'g>) -> Option<&'g NodeDef> {
        let graph = ctx.graph;
        let fed = graph.resolve(&graph.input(graph.node(&self.transpose)?, 0).ok()?);
        graph
            .node(self.reverse.as_deref()?)
            .filter(|r| r.name == fed.node)
    }

    /// The layer input: the `Transpose`'s, or that of the `ReverseV2` feeding it.
    pub fn layer_input(&self, ctx: &Ctx) -> Result<TensorId, String> {
        match self.reverse_before(ctx) {
            Some(rev) => ctx.layer_input(rev, 0),
            None => ctx.layer_input(
                ctx.graph
                    .node(&self.transpose)
                    .ok_or("a loop's Transpose is missing")?,
                0,
            ),
        }
    }

    /// The nodes [`rnn`] may be anchored on: the `Transpose`, and the
    /// `ReverseV2` feeding it (first in graph order).
    fn anchors(&self, ctx: &Ctx) -> Vec<String> {
        let mut a = vec![self.transpose.clone()];
        a.extend(self.reverse_before(ctx).map(|r| r.name.clone()));
        a
    }
}

/// A lower cell of a TF1 `MultiRNNCell` loop: a layer of its own, returning
/// its sequence (see [`super::recurrent_tf1`]).
pub(super) struct Stacked {
    /// The cell's variable scope (`rnn/multi_rnn_cell/cell_0/lstm_cell`, dots for slashes).
    pub name: Option<String>,
    pub kind: LayerKind,
    pub weights: Vec<Weight>,
    /// The cell's new h at every step, stacked batch-major: a tensor the
    /// oracle makes after unrolling ([`crate::graph::stacked_steps`]).
    pub output: TensorId,
    /// The cell's TF nodes (in the loop body).
    pub nodes: Vec<String>,
}

/// Ops a lowered LSTM, GRU or SimpleRNN loop may hold (plumbing, counters,
/// the cell; Keras 3's GRU slices its recurrent product and its bias rows,
/// tf-keras's GRU without `reset_after` splits with `SplitV`).
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
                | "Split"
                | "SplitV"
                | "Squeeze"
                | "StridedSlice"
                | "Sigmoid"
                | "Tanh"
                | "Mul"
                | "TensorListGetItem"
                | "TensorListSetItem"
                // A masked loop: the mask step tiled to each state's width,
                // each state and the output kept where the step is masked.
                | "Tile"
                | "SelectV2"
        )
}

/// A Const reached from `t` through Identity and `Enter` nodes, and through
/// loop variables that each iteration passes on unchanged (tf-keras carries
/// the kernels that way: `Enter` → `Merge` → `Switch` → `Identity` →
/// `NextIteration` back into the same `Merge`); also one row of a constant
/// taken by `Unpack` (tf-keras's GRU bias) or by `Split` then `Squeeze`
/// (Keras 3's).
pub(super) fn const_through_enter(ctx: &Ctx, t: &TensorId) -> Option<ArrayD<f32>> {
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
            "Unpack" => {
                let whole =
                    const_through_enter(ctx, &TensorId::parse(node.data_inputs().first()?))?;
                let axis = usize::try_from(node.attr_int("axis").unwrap_or(0)).ok()?;
                if axis >= whole.ndim() || t.slot >= whole.shape()[axis] {
                    return None;
                }
                return Some(whole.index_axis(Axis(axis), t.slot).to_owned());
            }
            "Squeeze" => {
                let split = graph.node(&TensorId::parse(node.data_inputs().first()?).node)?;
                let slot = TensorId::parse(node.data_inputs().first()?).slot;
                if split.op != "Split" {
                    return None;
                }
                let axis =
                    usize::try_from(ctx.const_ints(split, 0).ok()?.first().copied()?).ok()?;
                let whole =
                    const_through_enter(ctx, &TensorId::parse(split.data_inputs().get(1)?))?;
                let parts = usize::try_from(split.attr_int("num_split").ok()?).ok()?;
                // Only the unit slices Keras takes (each part one row, squeezed away).
                if axis >= whole.ndim() || whole.shape()[axis] != parts || slot >= parts {
                    return None;
                }
                return Some(whole.index_axis(Axis(axis), slot).to_owned());
            }
            "Const" => return Some(graph.const_value(&t)?.ok()?.to_f32()),
            _ => return None,
        }
    }
    None
}

/// A MatMul's kernel: a constant, or the constant a `StridedSlice` takes its
/// columns from (Keras's GRU without `reset_after` multiplies the state by
/// `recurrent_kernel[:, :2u]` and the reset state by `[:, 2u:]`).
pub(super) fn kernel_of(ctx: &Ctx, t: &str) -> Option<ArrayD<f32>> {
    let t = TensorId::parse(t);
    if let Some(w) = const_through_enter(ctx, &t) {
        return Some(w);
    }
    let node = source(ctx, &t.to_string())?;
    if node.op != "StridedSlice" {
        return None;
    }
    const_through_enter(ctx, &TensorId::parse(node.data_inputs().first()?))
}

/// The node `t` comes from, through Identity nodes.
pub(super) fn source<'g>(ctx: &Ctx<'g>, t: &str) -> Option<&'g NodeDef> {
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
pub(super) fn swaps_batch_and_time(ctx: &Ctx, node: &NodeDef) -> bool {
    node.op == "Transpose" && ctx.const_ints(node, 1).is_ok_and(|p| p == [1, 0, 2])
}

/// The constant 1-D bias a loop member adds to the output of `mm`: the
/// other operand of a `BiasAdd`/`AddV2`/`Add` consuming it.
pub(super) fn bias_after(ctx: &Ctx, lp: &Loop, mm: &NodeDef) -> Option<ArrayD<f32>> {
    let graph = ctx.graph;
    let members: HashSet<usize> = lp.members.iter().copied().collect();
    graph
        .consumers(&TensorId::new(mm.name.clone(), 0))
        .iter()
        .filter(|(c, _)| members.contains(c))
        .map(|&(c, _)| &graph.nodes()[c])
        .filter(|n| matches!(n.op.as_str(), "BiasAdd" | "AddV2" | "Add"))
        .find_map(|n| {
            let inputs = n.data_inputs();
            inputs
                .iter()
                .filter(|i| TensorId::parse(i).node != mm.name)
                .find_map(|i| const_through_enter(ctx, &TensorId::parse(i)))
                .filter(|b| b.ndim() == 1)
        })
}

/// Whether a `BiasAdd` is a sum of two loop tensors rather than a bias:
/// Keras 3's `ops.add(a, b)` takes its `bias_add` path when `b`'s static
/// shape squeezes to one vector of `a`'s width, so with a fixed batch of 1 a
/// cell's `x·W + h·U` freezes as `BiasAdd(x·W, Squeeze(h·U))`. The bias
/// operand is then a `Squeeze` of the leading (batch) axis, or of every unit
/// axis, of a tensor that is no constant; `BiasAdd` only takes a vector, so
/// whenever the graph runs that axis had size 1 and the node is `a + b`.
fn is_squeezed_sum(ctx: &Ctx, node: &NodeDef) -> bool {
    let Some(squeeze) = node
        .data_inputs()
        .get(1)
        .and_then(|t| source(ctx, t))
        .filter(|n| n.op == "Squeeze")
    else {
        return false;
    };
    let dims = squeeze.attr_ints("squeeze_dims").unwrap_or_default();
    let Some(input) = squeeze.data_inputs().first().map(|t| TensorId::parse(t)) else {
        return false;
    };
    dims.iter().all(|&d| d == 0 || d == -2) && const_through_enter(ctx, &input).is_none()
}

/// Which cell a loop's op counts say it is: `(class, gate blocks)`.
fn cell_class(count: impl Fn(&str) -> usize) -> Result<(&'static str, usize), String> {
    match (count("MatMul"), count("Sigmoid"), count("Tanh")) {
        (2, 3, 2) => Ok(("LSTM", 4)),
        (2, 2, 1) => Ok(("GRU", 3)),
        (3, 2, 1) => Ok(("GRU without reset_after", 3)),
        (2, 0, 1) => Ok(("SimpleRNN", 1)),
        (m, s, t) => Err(format!(
            "MatMul x{m}, Sigmoid x{s}, Tanh x{t} are the ops of no LSTM (2, 3, 2), GRU \
             (2 or 3, 2, 1) or SimpleRNN (2, 0, 1) cell"
        )),
    }
}

/// Recognises a lowered loop as a Keras LSTM, GRU or SimpleRNN: the cell's
/// ops (counted: MatMul, Sigmoid, Tanh; nothing else but plumbing and the
/// cell's adds, products and slices), its kernels and biases (Consts through
/// Enter), its time-major input and its output. The counts do not prove the
/// wiring: a custom cell with the same ops converts and then fails
/// verification on the numbers.
pub(super) fn recognise(ctx: &Ctx, lp: &Loop) -> Result<RnnCell, String> {
    let graph = ctx.graph;
    if lp.form != LoopForm::Lowered || !lp.nested.is_empty() {
        return Err("not a single lowered loop".into());
    }
    // TF1's dynamic_rnn: TensorArrays instead of TensorLists.
    if lp.ops.contains_key("TensorArrayReadV3") {
        return super::recurrent_tf1::recognise(ctx, lp);
    }
    let count = |op: &str| lp.ops.get(op).copied().unwrap_or(0);
    if let Some(op) = lp.ops.keys().find(|op| !cell_op(op)) {
        return Err(format!(
            "op {op} is not part of an LSTM, GRU or SimpleRNN cell"
        ));
    }
    let (class, gates) = cell_class(count)?;
    let nodes = || lp.members.iter().map(|&i| &graph.nodes()[i]);
    if class == "LSTM" {
        let split = nodes().find(|n| n.op == "Split").ok_or("no Split")?;
        if count("Split") != 1 || split.attr_int("num_split").ok() != Some(4) {
            return Err("the LSTM cell's Split is not one into 4 gates".into());
        }
    }
    // The input kernel multiplies the step read from the list; the
    // recurrent kernel (all or a slice of it) multiplies the state.
    let (mut kernel, mut recurrent) = (None, Vec::new());
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
        let w = kernel_of(ctx, b)
            .ok_or_else(|| format!("MatMul '{}': the kernel is not a constant", mm.name))?;
        if source(ctx, a).is_some_and(|n| n.op == "TensorListGetItem") {
            if kernel.is_some() {
                return Err("two MatMuls read the step".into());
            }
            kernel = Some((w, mm));
        } else {
            recurrent.push((w, mm));
        }
    }
    let Some((kernel, kernel_mm)) = kernel else {
        return Err("no MatMul reads the step from the list".into());
    };
    // All recurrent MatMuls use (slices of) one recurrent kernel.
    let Some((rk, rk_mm)) = recurrent.first().cloned() else {
        return Err("no MatMul multiplies the state".into());
    };
    if recurrent.iter().any(|(w, _)| *w != rk) {
        return Err("the state is multiplied by two different kernels".into());
    }
    let g = kernel.shape().get(1).copied().unwrap_or(0);
    let units = g / gates;
    if kernel.ndim() != 2 || g == 0 || g % gates != 0 || rk.shape() != [units, g] {
        return Err(format!(
            "kernels of shapes {:?} and {:?} are not a {class}'s (in, {gates}u) and (u, {gates}u)",
            kernel.shape(),
            rk.shape()
        ));
    }
    let mut weights = vec![
        Weight {
            name: "kernel".into(),
            value: kernel,
        },
        Weight {
            name: "recurrent_kernel".into(),
            value: rk,
        },
    ];
    let bias = match class {
        // One BiasAdd after the two products are summed (the sum itself may
        // be a BiasAdd of a squeezed product: see `is_squeezed_sum`).
        "LSTM" => {
            let mut biases = nodes().filter(|n| n.op == "BiasAdd" && !is_squeezed_sum(ctx, n));
            let first = biases.next();
            if biases.next().is_some() {
                return Err("an LSTM cell with more than one BiasAdd".into());
            }
            match first {
                Some(ba) => Some(
                    ba.data_inputs()
                        .get(1)
                        .and_then(|t| const_through_enter(ctx, &TensorId::parse(t)))
                        .filter(|b| b.shape() == [g])
                        .ok_or_else(|| {
                            format!("BiasAdd '{}': the bias is not a constant of {g}", ba.name)
                        })?,
                ),
                None => None,
            }
        }
        // An input bias after the input product, and a recurrent one after
        // the recurrent product: the (2, 3u) bias of `reset_after`.
        "GRU" => match (bias_after(ctx, lp, kernel_mm), bias_after(ctx, lp, rk_mm)) {
            (Some(bi), Some(br)) if bi.shape() == [g] && br.shape() == [g] => Some(
                ndarray::stack(Axis(0), &[bi.view(), br.view()])
                    .map_err(|e| e.to_string())?
                    .into_dyn(),
            ),
            (None, None) => None,
            _ => return Err("the GRU's input and recurrent biases are not both (3u)".into()),
        },
        _ => match bias_after(ctx, lp, kernel_mm) {
            Some(b) if b.shape() == [g] => Some(b),
            Some(b) => return Err(format!("a {class} bias of shape {:?}", b.shape())),
            None => None,
        },
    };
    let use_bias = bias.is_some();
    if let Some(value) = bias {
        weights.push(Weight {
            name: "bias".into(),
            value,
        });
    }
    // The input: Transpose(x, [1, 0, 2]) → TensorListFromTensor → Enter; a
    // masked loop has a second, bool list: the mask (see `loop_mask`).
    let lists: Vec<&NodeDef> = nodes()
        .filter(|n| n.op == "Enter")
        .filter_map(|e| source(ctx, e.data_inputs().first()?))
        .filter(|n| n.op == "TensorListFromTensor")
        .collect();
    let is_bool = |n: &&NodeDef| {
        n.attr_type("element_dtype")
            .is_ok_and(|t| t == crate::graph::pb::DataType::DtBool)
    };
    let from = *lists
        .iter()
        .find(|n| !is_bool(n))
        .ok_or("no TensorListFromTensor enters the loop")?;
    let (masked, zero_output) = match lists.iter().filter(|n| is_bool(n)).collect::<Vec<_>>()[..] {
        [] => (false, false),
        [m] => (true, loop_mask(ctx, lp, m, class)?),
        _ => return Err("more than one mask list enters the loop".into()),
    };
    if !masked && (count("SelectV2") > 0 || count("Tile") > 0) {
        return Err("SelectV2/Tile in a loop with no mask".into());
    }
    let mut entering = from.data_inputs().first().and_then(|t| source(ctx, t));
    // go_backwards: ReverseV2(time-major sequence, [0]) between the two.
    let mut reverse = None;
    if let Some(rev) = entering.filter(|n| n.op == "ReverseV2") {
        let axes = ctx.const_ints(rev, 1)?;
        if axes != [0] {
            return Err(format!(
                "ReverseV2 '{}' before the loop reverses axes {axes:?}, not the time axis [0]",
                rev.name
            ));
        }
        reverse = Some(rev.name.clone());
        entering = rev.data_inputs().first().and_then(|t| source(ctx, t));
    }
    let go_backwards = reverse.is_some();
    let transpose = entering
        .filter(|t| swaps_batch_and_time(ctx, t))
        .ok_or("the sequence does not enter the loop through a time-major Transpose")?;
    // The output: TensorListStack of an Exit, then Transpose back
    // (return_sequences) or the last step's StridedSlice.
    let exits: HashSet<&str> = nodes()
        .filter(|n| n.op == "Exit")
        .map(|n| n.name.as_str())
        .collect();
    let stack = graph.nodes().iter().find(|n| {
        n.op == "TensorListStack"
            && n.data_inputs()
                .first()
                .and_then(|t| source(ctx, t))
                .is_some_and(|s| exits.contains(s.name.as_str()))
    });
    zero_initial_states(ctx, lp)?;
    // The final states, when the graph kept their Exits (tf-keras prunes
    // those of unused states); used after the loop: `return_state`.
    // A graph output (`--output-tensor W:k` naming a While's output, lowered
    // to its Exit) counts as a use.
    let used = |t: &TensorId| used_outside(ctx, lp, t) || ctx.is_graph_output(t);
    let states = match final_states(ctx, lp, rk_mm, if class == "LSTM" { 2 } else { 1 }) {
        Ok(states) => states,
        // A state read after the loop whose sibling's Exit the graph dropped
        // (tf-keras prunes unused ones: `_, _, c = LSTM(return_state=True)`).
        Err(why) => {
            let float_exit_used = nodes().filter(|n| n.op == "Exit").any(|e| {
                let t = TensorId::new(e.name.clone(), 0);
                e.attr_type("T")
                    .is_ok_and(|d| d == crate::graph::pb::DataType::DtFloat)
                    && used(&t)
            });
            if float_exit_used {
                return Err(format!(
                    "a final state is read after the loop, but {why} (the graph keeps only \
                     the states it uses): return_state is converted when the layer's every \
                     state leaves the loop"
                ));
            }
            Vec::new()
        }
    };
    let return_state = states.iter().any(used);
    let (return_sequences, output) = match stack {
        Some(stack) => {
            let users: Vec<&NodeDef> = graph
                .consumers(&TensorId::new(stack.name.clone(), 0))
                .iter()
                .map(|&(c, _)| &graph.nodes()[c])
                .collect();
            if let Some(t) = users.iter().find(|n| swaps_batch_and_time(ctx, n)) {
                (true, TensorId::new(t.name.clone(), 0))
            } else if let Some(s) = users
                .iter()
                .find(|n| n.op == "StridedSlice" && ctx.const_ints(n, 1).is_ok_and(|b| b == [-1]))
            {
                (false, TensorId::new(s.name.clone(), 0))
            } else {
                return Err(
                    "the stacked steps are neither transposed back nor sliced at the last step"
                        .into(),
                );
            }
        }
        // Only the states are used (`_, h = GRU(return_state=True)(x)`): the
        // output Keras returns is the last step's, the final h itself.
        None if return_state => (false, states[0].clone()),
        None => return Err("no TensorListStack of the loop's output".into()),
    };
    let kind = match class {
        "LSTM" => LayerKind::Lstm {
            units,
            return_sequences,
            return_state,
            use_bias,
            go_backwards,
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
        },
        "SimpleRNN" => LayerKind::SimpleRnn {
            units,
            return_sequences,
            return_state,
            use_bias,
            go_backwards,
            activation: Activation::Tanh,
        },
        // The `_` arm above read the (3u) input bias of a GRU without
        // reset_after; with it, the (2, 3u) rows.
        _ => {
            let reset_after = class == "GRU";
            LayerKind::Gru {
                units,
                return_sequences,
                return_state,
                use_bias,
                reset_after,
                go_backwards,
                activation: Activation::Tanh,
                recurrent_activation: Activation::Sigmoid,
            }
        }
    };
    Ok(RnnCell {
        transpose: transpose.name.clone(),
        reverse,
        kind,
        weights,
        output,
        states,
        name: None,
        zero_output,
        masked,
        below: Vec::new(),
    })
}

/// Each `SelectV2` keeps its value by the loop's mask step, tiled: its
/// condition is a `Tile` (a loop member) of a `TensorListGetItem`.
fn check_kept_by_mask(ctx: &Ctx, lp: &Loop, selects: &[&NodeDef]) -> Result<(), String> {
    let graph = ctx.graph;
    let members: HashSet<usize> = lp.members.iter().copied().collect();
    for sel in selects {
        let cond = sel
            .data_inputs()
            .first()
            .and_then(|c| source(ctx, c))
            .filter(|n| {
                n.op == "Tile"
                    && graph
                        .index_of(&n.name)
                        .is_some_and(|i| members.contains(&i))
            })
            .ok_or_else(|| format!("SelectV2 '{}' does not keep by a tiled mask step", sel.name))?;
        let step = cond.data_inputs().first().and_then(|c| source(ctx, c));
        if step.is_none_or(|n| n.op != "TensorListGetItem") {
            return Err(format!("Tile '{}' is not of a mask step", cond.name));
        }
    }
    Ok(())
}

/// A masked loop's mask: the bool list `list` holds
/// `Transpose(ExpandDims(mask, -1), [1, 0, 2])` (reversed along the steps
/// for `go_backwards`), and each of the cell's states (LSTM: h and c; GRU,
/// SimpleRNN: h) and its output is a `SelectV2(Tile(mask step), new, old)`.
/// The output's `old` is the previous step's output, carried round the loop
/// (Keras's `zero_output_for_mask=False`, every RNN's default), or zeros
/// entering the loop (`True`): which one is returned. The mask itself must be one Keras
/// makes ([`keras_mask`]; a mask passed by hand, `layer(x, mask=m)`, has no
/// place in a saved model's config).
/// The `Exit`s of a cell's `n` states, h first: the loop variables of float
/// values that change from step to step (not the step counters, the
/// TensorLists, nor the kernels tf-keras carries round unchanged); h is the
/// one the recurrent kernel multiplies (`rk_mm`), an LSTM's c the other.
fn final_states(ctx: &Ctx, lp: &Loop, rk_mm: &NodeDef, n: usize) -> Result<Vec<TensorId>, String> {
    let graph = ctx.graph;
    let members = || lp.members.iter().map(|&i| &graph.nodes()[i]);
    // Each state's Merge, and the Exit of that Merge's Switch.
    let mut states: Vec<(&NodeDef, &NodeDef)> = Vec::new();
    for exit in members().filter(|n| n.op == "Exit") {
        let Some(merge) = source(
            ctx,
            exit.data_inputs().first().ok_or("an Exit without input")?,
        )
        .filter(|s| s.op == "Switch")
        .and_then(|s| graph.node(&TensorId::parse(s.data_inputs().first()?).node))
        .filter(|m| m.op == "Merge") else {
            continue;
        };
        if carries_state(ctx, merge) {
            states.push((merge, exit));
        }
    }
    // A masked loop also carries its previous output (repeated at masked
    // steps): the variable whose next value is what the loop writes to its
    // output list. It is no state (an unmasked loop's h is written too, but
    // is then the only candidate per state).
    if states.len() == n + 1 {
        let written = members()
            .find(|m| m.op == "TensorListSetItem")
            .and_then(|w| source(ctx, w.data_inputs().get(2)?));
        let next_value = |merge: &NodeDef| {
            merge
                .data_inputs()
                .iter()
                .filter_map(|i| graph.node(&TensorId::parse(i).node))
                .find(|n| n.op == "NextIteration")
                .and_then(|n| source(ctx, n.data_inputs().first()?))
                .map(|v| v.name.clone())
        };
        if let Some(w) = written {
            states.retain(|(m, _)| next_value(m).as_deref() != Some(w.name.as_str()));
        }
    }
    if states.len() != n {
        return Err(format!(
            "{} state(s) carried round the loop, not the cell's {n}",
            states.len()
        ));
    }
    // h: the state the recurrent kernel multiplies (through Switch/Identity).
    let h_merge = rk_mm
        .data_inputs()
        .first()
        .and_then(|a| source(ctx, a))
        .filter(|s| s.op == "Switch")
        .and_then(|s| s.data_inputs().first().map(|m| TensorId::parse(m).node))
        .ok_or("the recurrent MatMul does not read a state")?;
    let h = states
        .iter()
        .position(|(m, _)| m.name == h_merge)
        .ok_or("the recurrent MatMul does not read a state")?;
    states.swap(0, h);
    Ok(states
        .iter()
        .map(|(_, e)| TensorId::new(e.name.clone(), 0))
        .collect())
}

/// Whether a loop variable's `Merge` carries a cell state: a float value
/// that changes from step to step (not a step counter, a TensorList, nor a
/// kernel tf-keras carries round unchanged). A masked loop's previous output
/// is one too ([`final_states`] sets it apart).
fn carries_state(ctx: &Ctx, merge: &NodeDef) -> bool {
    merge
        .attr_type("T")
        .is_ok_and(|t| t == crate::graph::pb::DataType::DtFloat)
        && invariant_source(ctx, merge).is_none()
}

/// Every state the loop carries (a float loop variable that changes from
/// step to step) starts from zeros: a `Fill` of 0 (a dynamic batch), a
/// constant of zeros (a fixed one), a `ZerosLike` (a masked loop's previous
/// output). A layer called with `initial_state=` (a decoder started from an
/// encoder's states) starts from another tensor: not converted, said here.
fn zero_initial_states(ctx: &Ctx, lp: &Loop) -> Result<(), String> {
    let graph = ctx.graph;
    for merge in lp.members.iter().map(|&i| &graph.nodes()[i]) {
        if merge.op != "Merge" || !carries_state(ctx, merge) {
            continue;
        }
        let start = merge
            .data_inputs()
            .iter()
            .filter_map(|i| graph.node(&TensorId::parse(i).node))
            .find(|n| n.op == "Enter")
            .and_then(|e| source(ctx, e.data_inputs().first()?));
        let Some(start) = start else { continue };
        let zeros = match start.op.as_str() {
            "Fill" => ctx
                .const_f32(start, 1)
                .is_ok_and(|v| v.iter().all(|&z| z == 0.0)),
            "ZerosLike" => true,
            _ => const_through_enter(ctx, &TensorId::new(start.name.clone(), 0))
                .is_some_and(|v| v.iter().all(|&z| z == 0.0)),
        };
        if !zeros {
            return Err(format!(
                "the state '{}' starts from '{}' ({}), not zeros: a layer called with an \
                 initial_state (a decoder started from an encoder's states) is not converted",
                merge.name, start.name, start.op
            ));
        }
    }
    Ok(())
}

/// Whether a node outside the loop reads `t` (through Identity nodes).
fn used_outside(ctx: &Ctx, lp: &Loop, t: &TensorId) -> bool {
    let members: HashSet<usize> = lp.members.iter().copied().collect();
    ctx.graph
        .consumers(t)
        .iter()
        .any(|(c, _)| !members.contains(c))
}

fn loop_mask(ctx: &Ctx, lp: &Loop, list: &NodeDef, class: &str) -> Result<bool, String> {
    let graph = ctx.graph;
    let mut t = source(
        ctx,
        list.data_inputs()
            .first()
            .ok_or("mask list without input")?,
    )
    .ok_or("mask list input missing")?;
    if t.op == "ReverseV2" {
        if ctx.const_ints(t, 1)? != [0] {
            return Err(format!("mask ReverseV2 '{}' not of the steps", t.name));
        }
        t = source(
            ctx,
            t.data_inputs().first().ok_or("ReverseV2 without input")?,
        )
        .ok_or("ReverseV2 input missing")?;
    }
    if !swaps_batch_and_time(ctx, t) {
        return Err("the mask does not enter the loop time-major".into());
    }
    let expand = source(
        ctx,
        t.data_inputs().first().ok_or("Transpose without input")?,
    )
    .filter(|n| n.op == "ExpandDims")
    .ok_or("the mask is not expanded to (batch, steps, 1)")?;
    if !ctx
        .const_ints(expand, 1)
        .is_ok_and(|d| d == [-1] || d == [2])
    {
        return Err(format!(
            "mask ExpandDims '{}' not on the last axis",
            expand.name
        ));
    }
    let mask = ctx.graph.input(expand, 0).map_err(|e| e.to_string())?;
    if !source(ctx, &mask.to_string()).is_some_and(|m| keras_mask(ctx, m)) {
        return Err(format!(
            "the loop's mask '{mask}' is neither an Embedding(mask_zero=True) mask \
             (NotEqual(ids, 0)) nor a Masking layer's (Any(NotEqual(x, v)) over the features)"
        ));
    }
    // Every SelectV2 keeps by the tiled mask step; one per state, plus the output.
    let selects: Vec<&NodeDef> = lp
        .members
        .iter()
        .map(|&i| &graph.nodes()[i])
        .filter(|n| n.op == "SelectV2")
        .collect();
    let states = if class == "LSTM" { 2 } else { 1 };
    // A loop whose output is never read writes none (tf-keras prunes the
    // list when only the final states are used): then only the states keep.
    let writes_output = lp
        .members
        .iter()
        .any(|&i| graph.nodes()[i].op == "TensorListSetItem");
    if !writes_output && selects.len() == states {
        check_kept_by_mask(ctx, lp, &selects)?;
        return Ok(false);
    }
    if selects.len() != states + 1 {
        return Err(format!(
            "{} SelectV2 in a masked {class} loop, not {}",
            selects.len(),
            states + 1
        ));
    }
    check_kept_by_mask(ctx, lp, &selects)?;
    // The output's select is the one the step's output list is written from.
    let out_select = lp
        .members
        .iter()
        .map(|&i| &graph.nodes()[i])
        .filter(|n| n.op == "TensorListSetItem")
        .find_map(|w| w.data_inputs().get(2).and_then(|v| source(ctx, v)))
        .filter(|n| n.op == "SelectV2")
        .ok_or("the masked output is not a SelectV2")?;
    let old = out_select
        .data_inputs()
        .get(2)
        .and_then(|o| source(ctx, o))
        .ok_or("the masked output's previous value is missing")?;
    if carried_from(ctx, old, &out_select.name) {
        return Ok(false);
    }
    let zeros = const_through_enter(ctx, &TensorId::new(old.name.clone(), 0))
        .is_some_and(|z| z.iter().all(|&v| v == 0.0))
        || invariant_source(ctx, old).is_some_and(|n| n.op == "ZerosLike");
    if zeros {
        return Ok(true);
    }
    Err(format!(
        "the masked output '{}' keeps neither the previous output nor zeros",
        out_select.name
    ))
}

/// The node outside the loop that a loop-invariant read comes from: through
/// `Identity`, `Switch`, a `Merge` whose `NextIteration` passes its own
/// `Switch` back, and `Enter`.
fn invariant_source<'g>(ctx: &Ctx<'g>, node: &'g NodeDef) -> Option<&'g NodeDef> {
    let graph = ctx.graph;
    let mut node = node;
    for _ in 0..64 {
        let first = || node.data_inputs().first().map(|i| TensorId::parse(i).node);
        node = match node.op.as_str() {
            "Identity" | "Switch" | "Enter" => graph.node(&first()?)?,
            "Merge" => {
                let inputs = node.data_inputs();
                let enter = inputs.iter().find_map(|i| {
                    graph
                        .node(&TensorId::parse(i).node)
                        .filter(|n| n.op == "Enter")
                })?;
                let invariant = inputs.iter().any(|i| {
                    graph
                        .node(&TensorId::parse(i).node)
                        .filter(|n| n.op == "NextIteration")
                        .and_then(|n| source(ctx, n.data_inputs().first()?))
                        .is_some_and(|b| {
                            b.op == "Switch"
                                && b.data_inputs().first().map(|i| TensorId::parse(i).node)
                                    == Some(node.name.clone())
                        })
                });
                if !invariant {
                    return None;
                }
                enter
            }
            _ => return Some(node),
        };
    }
    None
}

/// Whether `m` computes a mask Keras makes: `Embedding(mask_zero)`'s
/// `NotEqual(ids, 0)`, or `Masking`'s `Any(NotEqual(x, v), -1)` (Keras 3) or
/// `Squeeze(Any(NotEqual(x, v), -1, keep_dims), -1)` (tf-keras).
fn keras_mask(ctx: &Ctx, m: &NodeDef) -> bool {
    let scalar = |n: &NodeDef| ctx.const_f32(n, 1).is_ok_and(|c| c.len() == 1);
    let input = |n: &NodeDef| n.data_inputs().first().and_then(|i| source(ctx, i));
    let last_axis = |a: &NodeDef| ctx.const_ints(a, 1).is_ok_and(|ax| ax == [-1] || ax == [2]);
    let any_of_not_equal = |a: &NodeDef| {
        a.op == "Any"
            && last_axis(a)
            && input(a).is_some_and(|ne| ne.op == "NotEqual" && scalar(ne))
    };
    match m.op.as_str() {
        "NotEqual" => ctx
            .const_f32(m, 1)
            .is_ok_and(|z| z.len() == 1 && z.iter().all(|&v| v == 0.0)),
        "Any" => any_of_not_equal(m),
        "Squeeze" => {
            m.attr_ints("squeeze_dims")
                .is_ok_and(|d| d == [-1] || d == [2])
                && input(m).is_some_and(any_of_not_equal)
        }
        _ => false,
    }
}

/// Whether `node` (a loop body's read of a loop variable: a `Switch` of its
/// `Merge`) is the variable that `next` feeds back through `NextIteration`.
fn carried_from(ctx: &Ctx, node: &NodeDef, next: &str) -> bool {
    let graph = ctx.graph;
    let switch = if node.op == "Switch" {
        node
    } else {
        return false;
    };
    let Some(merge) = switch
        .data_inputs()
        .first()
        .and_then(|m| graph.node(&TensorId::parse(m).node))
        .filter(|m| m.op == "Merge")
    else {
        return false;
    };
    merge.data_inputs().iter().any(|i| {
        graph
            .node(&TensorId::parse(i).node)
            .filter(|n| n.op == "NextIteration")
            .and_then(|n| n.data_inputs().first().and_then(|v| source(ctx, v)))
            .is_some_and(|v| v.name == next)
    })
}

/// Rule (anchor `Transpose`): the time-major transpose feeding a lowered loop
/// recognised as an LSTM, GRU or SimpleRNN cell → one Keras layer of that
/// class standing for the whole loop and its layer scope.
pub(super) fn rnn(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let graph = ctx.graph;
    // Directly, or through the ReverseV2 of go_backwards; or TF1's ReverseV2
    // feeding the Transpose.
    let feeds_list = graph
        .consumers(&TensorId::new(node.name.clone(), 0))
        .iter()
        .any(|&(c, _)| {
            matches!(
                graph.nodes()[c].op.as_str(),
                "TensorListFromTensor" | "ReverseV2" | "TensorArrayScatterV3" | "Transpose"
            )
        });
    if !feeds_list {
        return Err("does not feed a TensorList".into());
    }
    // Every recognised cell, with the nodes its loop stands for (the
    // go_backwards ReverseV2, the loop's own).
    let cells: Vec<(Loop, RnnCell)> = graph
        .loops()
        .into_iter()
        .filter_map(|lp| recognise(ctx, &lp).ok().map(|c| (lp, c)))
        .collect();
    let Some(this) = cells
        .iter()
        .position(|(_, c)| c.anchors(ctx).contains(&node.name))
    else {
        return Err("not the input of a loop recognised as an LSTM, GRU or SimpleRNN cell".into());
    };
    let input = cells[this].1.layer_input(ctx)?;
    let node_lists: Vec<Vec<String>> = cells
        .iter()
        .map(|(lp, c)| {
            c.reverse
                .iter()
                .cloned()
                .chain(lp.members.iter().map(|&i| graph.nodes()[i].name.clone()))
                .collect()
        })
        .collect();
    let halves: Vec<Half> = cells
        .iter()
        .zip(&node_lists)
        .map(|((_, cell), nodes)| Half { cell, nodes })
        .collect();
    // One half of a Bidirectional: the whole wrapper is one layer.
    if let Some(m) = super::bidirectional::pair(ctx, &halves, this, input.clone())? {
        return Ok(m);
    }
    let (lp, cell) = &cells[this];
    if cell.zero_output {
        return Err(
            "a masked loop that zeroes the output of masked steps (zero_output_for_mask=True) \
             outside a Bidirectional is not supported"
                .into(),
        );
    }
    let anchor = graph.node(&lp.node).ok_or("loop anchor missing")?;
    let name = cell.name.clone().unwrap_or_else(|| ctx.layer_name(anchor));
    // A MultiRNNCell's lower cells first, each a layer feeding the next.
    let mut layers = Vec::new();
    let mut input = input;
    for lower in &cell.below {
        layers.push(Emit {
            name: lower.name.clone().unwrap_or_else(|| name.clone()),
            kind: lower.kind.clone(),
            weights: lower.weights.clone(),
            inputs: vec![input],
            output: lower.output.clone(),
            more_outputs: Vec::new(),
            nodes: lower.nodes.clone(),
        });
        input = lower.output.clone();
    }
    let lower: HashSet<&String> = cell.below.iter().flat_map(|l| &l.nodes).collect();
    let mut nodes = vec![cell.transpose.clone()];
    nodes.extend(
        node_lists[this]
            .iter()
            .filter(|n| !lower.contains(n))
            .cloned(),
    );
    layers.push(Emit {
        name,
        kind: cell.kind.clone(),
        weights: cell.weights.clone(),
        inputs: vec![input],
        output: cell.output.clone(),
        more_outputs: if crate::keras::layers::recurrent::return_state(&cell.kind) {
            cell.states.clone()
        } else {
            Vec::new()
        },
        nodes,
    });
    Ok(Match { layers })
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[
    RuleEntry::new("Transpose", "rnn", BLOCK, rnn),
    RuleEntry::new("ReverseV2", "rnn", BLOCK, rnn),
];

#[cfg(test)]
mod tests {
    use crate::convert::{ConvertOptions, convert};
    use crate::graph::{Graph, NodeExt, TensorId, parse_graph_def};

    /// Regression: a Keras 3 LSTM frozen with a fixed batch of 1
    /// (`tests/data/k3_lstm_while_b1.pb`, harness/gen_recurrent.py) sums its
    /// products as `BiasAdd(x·W, Squeeze(h·U))` before the bias's own
    /// `BiasAdd`; it was refused as "an LSTM cell with more than one BiasAdd".
    #[test]
    fn a_batch_1_lstm_summing_its_products_with_bias_add_is_an_lstm() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/k3_lstm_while_b1.pb");
        let g = Graph::load(&path).unwrap();
        let squeezed_sums = g
            .nodes()
            .iter()
            .filter(|n| n.op == "BiasAdd")
            .filter(|n| {
                let b = TensorId::parse(n.data_inputs()[1]);
                g.node(&b.node).is_some_and(|s| s.op == "Squeeze")
            })
            .count();
        assert_eq!(squeezed_sums, 1, "the graph holds the batch-1 sum");
        let conv = convert(&g, &ConvertOptions::default()).unwrap();
        assert!(conv.unsupported.is_empty(), "{:?}", conv.unsupported);
        let lstm = conv
            .model
            .layers
            .iter()
            .find(|l| l.kind.class_name() == "LSTM")
            .expect("an LSTM layer");
        let konst = |name: &str| {
            g.const_value(&TensorId::new(name, 0))
                .unwrap()
                .unwrap()
                .to_f32()
        };
        let scope = "model_1/lstm_1/lstm_cell_1";
        for (weight, node) in [
            ("kernel", "Cast/ReadVariableOp/resource"),
            ("recurrent_kernel", "Cast_1/ReadVariableOp/resource"),
            ("bias", "BiasAdd_1/ReadVariableOp/resource"),
        ] {
            assert_eq!(
                lstm.weight(weight),
                Some(&konst(&format!("{scope}/{node}"))),
                "{weight}"
            );
        }
    }

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
