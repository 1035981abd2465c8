//! Keras `Bidirectional` around an `LSTM`, `GRU` or `SimpleRNN`: two loops
//! [`super::recurrent::recognise`] takes as cells of one class, one forwards
//! and one with `go_backwards`, reading the same input, in one layer scope
//! (`model/bi/forward_lstm/…` and `model/bi/backward_lstm/…` in tf-keras,
//! `functional_1/bi_1/forward_lstm_1/…` in Keras 3), whose outputs meet in
//! one merge node:
//! - with `return_sequences`, the backward output is first flipped back by
//!   `ReverseV2(y_rev, [1])`; without, the two last steps meet directly;
//! - `merge_mode` `concat`: `ConcatV2([y, y_rev], -1)` (forward first);
//!   `sum`: `AddV2(y, y_rev)`; `mul`: `Mul(y, y_rev)`; `ave`: `AddV2` then
//!   `RealDiv` by the constant 2 (both Kerases write `(y + y_rev) / 2`).
//!
//! TF1's `bidirectional_dynamic_rnn` meets the same way (`ConcatV2`, the
//! backward outputs flipped back by `ReverseV2(…, [1])`), its backward loop
//! reading `ReverseV2(x, [1])` before its transpose instead
//! ([`super::recurrent_tf1`]); both loops read `x`.
//!
//! Emitted as one `Bidirectional` layer whose output is the merge's (or the
//! division's) and whose weights are the forward cell's then the backward
//! cell's (`forward/kernel`, …, `backward/kernel`, …).
//!
//! Not handled yet: `merge_mode=None` (two outputs: the loops stay two
//! unconverted halves of one layer scope and the graph output is reported as
//! not converted), `return_state`. A masked pair (see [`super::recurrent`])
//! must zero its masked outputs exactly when it returns sequences, as Keras
//! sets `zero_output_for_mask` on both halves.

use super::ctx::{Ctx, Emit, Match};
use super::recurrent::RnnCell;
use crate::graph::pb::NodeDef;
use crate::graph::{NodeExt, TensorId};
use crate::keras::{LayerKind, MergeMode, Weight};

/// One recognised cell with the names of its loop's nodes.
pub(super) struct Half<'a> {
    pub cell: &'a RnnCell,
    pub nodes: &'a [String],
}

/// The one node consuming `t` (through Identity nodes), if exactly one does.
fn sole_consumer<'g>(ctx: &Ctx<'g>, t: &TensorId) -> Option<&'g NodeDef> {
    match ctx.graph.consumers(t).as_slice() {
        [(c, _)] => Some(&ctx.graph.nodes()[*c]),
        _ => None,
    }
}

fn out(n: &NodeDef) -> TensorId {
    TensorId::new(n.name.clone(), 0)
}

/// What follows a cell's output on its way to the merge: the `ReverseV2`
/// (axis 1) of a backward sequence, if any, and the merge node.
fn towards_merge<'g>(ctx: &Ctx<'g>, t: &TensorId) -> Option<(Option<&'g NodeDef>, &'g NodeDef)> {
    let next = sole_consumer(ctx, t)?;
    if next.op == "ReverseV2" {
        if ctx.const_ints(next, 1).ok()? != [1] {
            return None;
        }
        return Some((Some(next), sole_consumer(ctx, &out(next))?));
    }
    Some((None, next))
}

/// `kind` with `go_backwards` set to `back`.
pub(super) fn with_direction(kind: &LayerKind, back: bool) -> LayerKind {
    let mut k = kind.clone();
    if let LayerKind::Lstm { go_backwards, .. }
    | LayerKind::Gru { go_backwards, .. }
    | LayerKind::SimpleRnn { go_backwards, .. } = &mut k
    {
        *go_backwards = back;
    }
    k
}

fn returns_sequences(kind: &LayerKind) -> bool {
    matches!(
        kind,
        LayerKind::Lstm {
            return_sequences: true,
            ..
        } | LayerKind::Gru {
            return_sequences: true,
            ..
        } | LayerKind::SimpleRnn {
            return_sequences: true,
            ..
        }
    )
}

/// The Bidirectional layer `halves[this]` is one half of, with its partner
/// among `halves` (every recognised cell of the graph); `Ok(None)` when it
/// feeds no merge with another cell (a plain recurrent layer), `Err` when it
/// does but not in Keras's form. `input`: the layer input of `halves[this]`.
pub(super) fn pair(
    ctx: &Ctx,
    halves: &[Half],
    this: usize,
    input: TensorId,
) -> Result<Option<Match>, String> {
    let graph = ctx.graph;
    let Some((_, merge)) = towards_merge(ctx, &halves[this].cell.output) else {
        return Ok(None);
    };
    let mut mode = match merge.op.as_str() {
        "ConcatV2" => MergeMode::Concat,
        "AddV2" | "Add" => MergeMode::Sum,
        "Mul" => MergeMode::Mul,
        _ => return Ok(None),
    };
    let inputs = merge.data_inputs();
    if inputs.len() != if mode == MergeMode::Concat { 3 } else { 2 } {
        return Ok(None);
    }
    // The cell feeding each merge operand, and the flip back on the way.
    let feeding = |k: usize| -> Option<(usize, Option<String>)> {
        let mut t = graph.resolve(&TensorId::parse(inputs.get(k)?));
        let mut reverse = None;
        if let Some(n) = graph.node(&t.node).filter(|n| n.op == "ReverseV2") {
            reverse = Some(n.name.clone());
            t = graph.resolve(&TensorId::parse(n.data_inputs().first()?));
        }
        let i = halves
            .iter()
            .position(|h| graph.resolve(&h.cell.output) == t)?;
        Some((i, reverse))
    };
    let (Some((a, a_rev)), Some((b, b_rev))) = (feeding(0), feeding(1)) else {
        return Ok(None);
    };
    if a == b || (a != this && b != this) {
        return Ok(None);
    }
    let name = format!("the {} merge '{}'", merge.op, merge.name);
    let back = |i: usize| crate::keras::layers::recurrent::go_backwards(&halves[i].cell.kind);
    let ((fwd, fwd_rev), (bwd, bwd_rev)) = match (back(a), back(b)) {
        (false, true) => ((a, a_rev), (b, b_rev)),
        (true, false) if mode != MergeMode::Concat => ((b, b_rev), (a, a_rev)),
        (true, false) => return Err(format!("{name} puts the backward layer first")),
        _ => {
            return Err(format!(
                "{name} joins two recurrent layers that run the same way: not a Bidirectional"
            ));
        }
    };
    let (f, bk) = (&halves[fwd], &halves[bwd]);
    if with_direction(&bk.cell.kind, false) != f.cell.kind {
        return Err(format!(
            "{name} joins two different recurrent layers ({:?} and {:?}): not a Bidirectional",
            f.cell.kind, bk.cell.kind
        ));
    }
    let sequences = returns_sequences(&f.cell.kind);
    if [f, bk]
        .iter()
        .any(|h| h.cell.zero_output != (h.cell.masked && sequences))
    {
        return Err(format!(
            "{name}: a masked Bidirectional zeroes the output of masked steps exactly when it \
             returns sequences (Keras sets zero_output_for_mask = return_sequences)"
        ));
    }
    if fwd_rev.is_some() || bwd_rev.is_some() != sequences {
        return Err(format!(
            "{name}: with return_sequences {sequences} Keras flips {} the backward output \
             back along the steps (and never the forward one)",
            if sequences { "only" } else { "neither" }
        ));
    }
    for h in [f, bk] {
        if h.cell.layer_input(ctx)? != input {
            return Err(format!("{name} joins recurrent layers of different inputs"));
        }
    }
    if mode == MergeMode::Concat {
        let axis = ctx.const_ints(merge, 2)?;
        let last: i64 = if sequences { 2 } else { 1 };
        if axis != [-1] && axis != [last] {
            return Err(format!("{name} is along axis {axis:?}, not the last"));
        }
    }
    // ave: (y + y_rev) / 2.
    let mut output = out(merge);
    let mut tail = vec![merge.name.clone()];
    if mode == MergeMode::Sum
        && let Some(div) = sole_consumer(ctx, &output)
        && div.op == "RealDiv"
        && ctx.same_layer(div, merge)
        && ctx
            .const_f32(div, 1)
            .is_ok_and(|c| c.len() == 1 && c.iter().all(|v| *v == 2.0))
    {
        mode = MergeMode::Ave;
        output = out(div);
        tail.push(div.name.clone());
    }
    let mut weights: Vec<Weight> = Vec::new();
    for (prefix, h) in [("forward", f), ("backward", bk)] {
        weights.extend(h.cell.weights.iter().map(|w| Weight {
            name: format!("{prefix}/{}", w.name),
            value: w.value.clone(),
        }));
    }
    let mut nodes: Vec<String> = Vec::new();
    for h in [f, bk] {
        nodes.push(h.cell.transpose.clone());
        nodes.extend(h.nodes.iter().cloned());
    }
    nodes.extend(bwd_rev);
    nodes.extend(tail);
    let anchor = graph
        .node(&halves[this].cell.transpose)
        .ok_or("the anchor Transpose is missing")?;
    Ok(Some(Match::one(Emit {
        name: ctx.layer_name(anchor),
        kind: LayerKind::Bidirectional {
            layer: Box::new(f.cell.kind.clone()),
            merge_mode: mode,
        },
        weights,
        inputs: vec![input],
        output,
        more_outputs: Vec::new(),
        nodes,
    })))
}
