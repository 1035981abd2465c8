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
//! `merge_mode=None`: no merge, the two loops in one layer scope (a
//! Bidirectional's; two separate layers never share a scope), the forward
//! output and the flipped backward one are outputs 0 and 1. With
//! `return_state` either half's states read after the loops make the
//! wrapper return them all: the forward half's, then the backward half's.
//!
//! A masked pair (see [`super::recurrent`])
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

/// `kind` with `return_state` set to `state`.
fn with_state(kind: &LayerKind, state: bool) -> LayerKind {
    let mut k = kind.clone();
    if let LayerKind::Lstm { return_state, .. }
    | LayerKind::Gru { return_state, .. }
    | LayerKind::SimpleRnn { return_state, .. } = &mut k
    {
        *return_state = state;
    }
    k
}

/// Two halves found to be one Bidirectional: the forward and the backward
/// half (indices into the halves), the `ReverseV2` flipping each back (only
/// the backward one may have one, checked by [`pair`]), the merge node and
/// its mode (none for `merge_mode=None`), and how to name it in messages.
struct Joined<'g> {
    name: String,
    fwd: usize,
    bwd: usize,
    fwd_rev: Option<String>,
    bwd_rev: Option<String>,
    mode: MergeMode,
    merge: Option<&'g NodeDef>,
}

/// The pair whose outputs meet in one merge node, if `halves[this]` feeds one.
fn merged<'g>(ctx: &Ctx<'g>, halves: &[Half], this: usize) -> Result<Option<Joined<'g>>, String> {
    let graph = ctx.graph;
    let Some((_, merge)) = towards_merge(ctx, &halves[this].cell.output) else {
        return Ok(None);
    };
    let mode = match merge.op.as_str() {
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
    Ok(Some(Joined {
        name,
        fwd,
        bwd,
        fwd_rev,
        bwd_rev,
        mode,
        merge: Some(merge),
    }))
}

/// `merge_mode=None`: `halves[this]` and one other half of the same layer
/// scope (the wrapper's: `model/bi/forward_lstm`, `model/bi/backward_lstm`)
/// running the other way, their outputs used apart; the backward sequence
/// flipped back by a `ReverseV2` of the steps as Keras does. Two separate
/// layers never share a scope.
fn separate<'g>(ctx: &Ctx<'g>, halves: &[Half], this: usize) -> Result<Option<Joined<'g>>, String> {
    let graph = ctx.graph;
    let scope = |i: usize| {
        graph
            .node(&halves[i].cell.transpose)
            .map(|t| ctx.layer_name(t))
    };
    let Some(own) = scope(this) else {
        return Ok(None);
    };
    let back = |i: usize| crate::keras::layers::recurrent::go_backwards(&halves[i].cell.kind);
    let partners: Vec<usize> = (0..halves.len())
        .filter(|&i| i != this && scope(i).as_ref() == Some(&own) && back(i) != back(this))
        .collect();
    let [other] = partners[..] else {
        return Ok(None);
    };
    let (fwd, bwd) = if back(this) {
        (other, this)
    } else {
        (this, other)
    };
    let name = format!("the two recurrent loops of layer '{own}'");
    // The flip back of a backward sequence: the ReverseV2 (steps) reading it.
    let flip = |i: usize| {
        graph
            .consumers(&halves[i].cell.output)
            .iter()
            .map(|&(c, _)| &graph.nodes()[c])
            .find(|n| n.op == "ReverseV2" && ctx.const_ints(n, 1).is_ok_and(|a| a == [1]))
            .map(|n| n.name.clone())
    };
    // Only Keras's own form is one layer: the same cell both ways on the same
    // input, a backward sequence flipped back. Anything else in one scope is
    // two layers (each converted on its own), not a malformed Bidirectional.
    let (f, b) = (&halves[fwd].cell, &halves[bwd].cell);
    let same_cell =
        with_state(&with_direction(&b.kind, false), false) == with_state(&f.kind, false);
    let same_input =
        f.layer_input(ctx).ok().is_some() && f.layer_input(ctx).ok() == b.layer_input(ctx).ok();
    if !same_cell || !same_input || (returns_sequences(&f.kind) && flip(bwd).is_none()) {
        return Ok(None);
    }
    Ok(Some(Joined {
        name,
        fwd,
        bwd,
        // A flip of the forward sequence is the model's own, downstream.
        fwd_rev: None,
        bwd_rev: flip(bwd),
        mode: MergeMode::Separate,
        merge: None,
    }))
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
    let joined = match merged(ctx, halves, this)? {
        Some(j) => j,
        None => match separate(ctx, halves, this)? {
            Some(j) => j,
            None => return Ok(None),
        },
    };
    let Joined {
        name,
        fwd,
        bwd,
        fwd_rev,
        bwd_rev,
        mut mode,
        merge,
    } = joined;
    let (f, bk) = (&halves[fwd], &halves[bwd]);
    // The wrapper returns states when either half's are used (the halves'
    // kinds say so only for the half whose states are used).
    let return_state = [f, bk]
        .iter()
        .any(|h| crate::keras::layers::recurrent::return_state(&h.cell.kind));
    if with_state(&with_direction(&bk.cell.kind, false), return_state)
        != with_state(&f.cell.kind, return_state)
    {
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
    let (output, mut more_outputs, mut tail) = match merge {
        Some(merge) => (out(merge), Vec::new(), vec![merge.name.clone()]),
        // merge_mode=None: the forward output, then the backward one (flipped
        // back with return_sequences).
        None => {
            let back = match &bwd_rev {
                Some(r) => TensorId::new(r.clone(), 0),
                None => bk.cell.output.clone(),
            };
            (f.cell.output.clone(), vec![back], Vec::new())
        }
    };
    let mut output = output;
    if let Some(merge) = merge
        && mode == MergeMode::Concat
    {
        let axis = ctx.const_ints(merge, 2)?;
        let last: i64 = if sequences { 2 } else { 1 };
        if axis != [-1] && axis != [last] {
            return Err(format!("{name} is along axis {axis:?}, not the last"));
        }
    }
    // ave: (y + y_rev) / 2.
    if let Some(merge) = merge
        && mode == MergeMode::Sum
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
    // return_state: each direction's final states, forward first.
    if return_state
        && let Some((dir, _)) = [("forward", f), ("backward", bk)]
            .into_iter()
            .find(|(_, h)| h.cell.states.is_empty())
    {
        return Err(format!(
            "{name} returns states, but the {dir} direction's final states are not in the graph \
             (it keeps only the states it uses): return_state is converted when every state of \
             both directions leaves its loop"
        ));
    }
    if return_state {
        more_outputs.extend(f.cell.states.iter().cloned());
        more_outputs.extend(bk.cell.states.iter().cloned());
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
            layer: Box::new(with_state(&f.cell.kind, return_state)),
            merge_mode: mode,
        },
        weights,
        inputs: vec![input],
        output,
        more_outputs,
        nodes,
    })))
}
