//! TF1's fused LSTM ops → Keras `LSTM`:
//! - `BlockLSTM` / `BlockLSTMV2`, what `tf.contrib.rnn.LSTMBlockFusedCell`
//!   froze to (Mozilla DeepSpeech's output_graph.pb holds one): the whole
//!   time-major sequence in one node (`harness/gen_tf1.py`'s
//!   `tf1_block_lstm*` fixtures);
//! - `LSTMBlockCell`, what `tf.contrib.rnn.LSTMBlockCell` froze to: one node
//!   per step inside a `dynamic_rnn` loop, recognised with the other TF1 cells
//!   by [`super::recurrent_tf1`] through [`cell_in_loop`]
//!   (`fixtures/tf1_lstm_block_cell`).
//!
//! The op (TensorFlow's `lstm_ops.cc`): `gates = [x, h]·w + b` with `w`
//! `[in + units, 4·units]` (rows `:in` are Keras's kernel, rows `in:` its
//! recurrent kernel), gate blocks i, c, f, o (`BlockLSTM`, `LSTMBlockCell`)
//! or i, f, c, o (`BlockLSTMV2`, Keras's order), `f = σ(gates_f + forget_bias)`
//! (V2 has no `forget_bias`: 0), `cs = i·tanh(gates_c) + f·cs_prev`,
//! `h = σ(gates_o)·tanh(cs)`: Keras's LSTM with the blocks reordered and
//! `forget_bias` added to the f block of the bias ([`lstm_weights`], shared
//! with TF1's `LSTMCell`).
//!
//! The sequence form matched (anchor: the time-major `Transpose`):
//! `Transpose(x, [1, 0, 2])` of a batch-major layer output → `BlockLSTM*`
//! with zero `cs_prev`/`h_prev` (`zeros(stack([batch, units]))`) and
//! `seq_len_max` the sequence length → output `h` (slot 6) either transposed
//! back (`return_sequences=True`) or its last step (`return_sequences=False`:
//! contrib's `Squeeze(Slice(h, [T-1, 0, 0], [1, -1, -1]), [0])`, or `h[-1]`,
//! a `StridedSlice` shrinking axis 0). The layer is named after the op's
//! scope (`lstm_fused_cell/BlockLSTM` → `lstm_fused_cell`).
//!
//! Refused by name (exit 3, the reason at the fused node): `use_peephole`
//! with non-zero peephole weights, an active `cell_clip` (> 0: note that the
//! ops' own default is 3 for `BlockLSTM` and `LSTMBlockCell`; contrib's
//! wrappers pass -1), an initial state other than zeros, a `seq_len_max`
//! other than the (fixed) sequence length (contrib's `sequence_length`), the
//! other six outputs used (the final `cs` of `return_state`, the gates), a
//! time-major model (no `Transpose` from a batch-major input: DeepSpeech's
//! own graph reshapes its time-major dense stack straight into the op, which
//! no Keras layer order reproduces), and anything but float32.

use super::ctx::{Ctx, Emit, Match};
use super::recurrent::{const_through_enter, source, swaps_batch_and_time};
use super::recurrent_tf1::{ICFO, IFCO, is_zeros, lstm_weights, recurrent_weights};
use super::rules::{BLOCK, LAYER, RuleEntry};
use crate::graph::pb::NodeDef;
use crate::graph::{NodeExt, TensorId};
use crate::keras::{Activation, LayerKind, Weight};
use ndarray::{Array1, Array2, ArrayD, Ix1, Ix2};

/// Output slots of the fused ops: i, cs, f, o, ci, co, h.
const OUTPUTS: [&str; 7] = ["i", "cs", "f", "o", "ci", "co", "h"];
const H: usize = 6;

/// A float attribute, TF's `default` when absent; a damaged one is an error.
fn float_attr(node: &NodeDef, name: &str, default: f32) -> Result<f32, String> {
    match node.attr.get(name) {
        None => Ok(default),
        Some(_) => node.attr_float(name).map_err(|e| e.to_string()),
    }
}

/// The gate blocks (TF's, in Keras's i, f, c, o order) and `forget_bias` of
/// a fused node, after refusing what Keras's LSTM cannot express.
/// `peepholes`: the node's wci, wcf, wco inputs (constants).
fn keras_compatible(
    node: &NodeDef,
    peepholes: impl Fn(usize) -> Option<ArrayD<f32>>,
) -> Result<([usize; 4], f32), String> {
    let what = format!("{} '{}'", node.op, node.name);
    if let Some(a) = node.attr.get("T")
        && !matches!(a.value, Some(crate::graph::pb::attr_value::Value::Type(t))
            if t == crate::graph::pb::DataType::DtFloat as i32)
    {
        return Err(format!("{what}: only float32 is converted"));
    }
    let v2 = node.op == "BlockLSTMV2";
    let (blocks, forget_bias) = if v2 {
        (IFCO, 0.0)
    } else {
        (ICFO, float_attr(node, "forget_bias", 1.0)?)
    };
    let clip = float_attr(node, "cell_clip", if v2 { 0.0 } else { 3.0 })?;
    if clip > 0.0 {
        return Err(format!(
            "{what}: cell_clip {clip} clips the cell state to ±{clip}, which Keras's LSTM does \
             not (the op's default is 3 for BlockLSTM and LSTMBlockCell; contrib's wrappers pass \
             -1, off); not converted"
        ));
    }
    let peephole = match node.attr.get("use_peephole") {
        None => false,
        Some(_) => node.attr_bool("use_peephole").map_err(|e| e.to_string())?,
    };
    if peephole {
        for (k, name) in ["wci", "wcf", "wco"].iter().enumerate() {
            match peepholes(k) {
                Some(p) if p.iter().all(|&v| v == 0.0) => {}
                Some(_) => {
                    return Err(format!(
                        "{what}: use_peephole with non-zero peephole weights ({name}): Keras's \
                         LSTM has no peepholes; not converted"
                    ));
                }
                None => {
                    return Err(format!(
                        "{what}: use_peephole with peephole weights ({name}) that are not \
                         constants; not converted"
                    ));
                }
            }
        }
    }
    Ok((blocks, forget_bias))
}

/// Keras's LSTM `(kernel, recurrent_kernel, bias)`, units and input width
/// from the op's `w` and `b` (see the module header).
type KerasLstm = (Array2<f32>, Array2<f32>, Option<Array1<f32>>, usize, usize);

fn keras_arrays(
    what: &str,
    w: ArrayD<f32>,
    b: ArrayD<f32>,
    blocks: [usize; 4],
    forget_bias: f32,
) -> Result<KerasLstm, String> {
    let w: Array2<f32> = w
        .into_dimensionality::<Ix2>()
        .map_err(|e| format!("{what}: w is not 2-D ({e})"))?;
    let b: Array1<f32> = b
        .into_dimensionality::<Ix1>()
        .map_err(|e| format!("{what}: b is not 1-D ({e})"))?;
    let units = w.ncols() / 4;
    if units == 0 || !w.ncols().is_multiple_of(4) || w.nrows() <= units || b.len() != 4 * units {
        return Err(format!(
            "{what}: w of shape {:?} and b of shape {:?} are not [in + u, 4u] and [4u]",
            w.shape(),
            b.shape()
        ));
    }
    let input = w.nrows() - units;
    let (k, rk, bias) = lstm_weights(input, &w, Some(&b), forget_bias, blocks);
    Ok((k, rk, bias, units, input))
}

/// Keras's LSTM `(kernel, recurrent_kernel, bias, units)`.
pub(super) type CellWeights = (Array2<f32>, Array2<f32>, Option<Array1<f32>>, usize);

/// The `LSTMBlockCell` of a TF1 `dynamic_rnn` loop: Keras's LSTM weights and
/// units, checked as [`keras_compatible`] (its constants enter the loop
/// through `Enter`). The caller checks that it reads the step, the states
/// (zeros, carried round) and the output.
pub(super) fn cell_in_loop(ctx: &Ctx, cell: &NodeDef) -> Result<CellWeights, String> {
    let what = format!("LSTMBlockCell '{}'", cell.name);
    let inputs = cell.data_inputs();
    if inputs.len() != 8 {
        return Err(format!("{what}: {} inputs, not 8", inputs.len()));
    }
    let konst = |k: usize| const_through_enter(ctx, &TensorId::parse(inputs[k]));
    let (blocks, forget_bias) = keras_compatible(cell, |k| konst(4 + k))?;
    let w = konst(3).ok_or_else(|| format!("{what}: w is not a constant"))?;
    let b = konst(7).ok_or_else(|| format!("{what}: b is not a constant"))?;
    let (k, rk, bias, units, _) = keras_arrays(&what, w, b, blocks, forget_bias)?;
    Ok((k, rk, bias, units))
}

/// What the sequence form gives: the layer, and the nodes it stands for.
struct Sequence {
    kind: LayerKind,
    weights: Vec<Weight>,
    output: TensorId,
    nodes: Vec<String>,
}

/// Whether `node` is `h[-1]` of a rank-3 time-major `h` of `steps` steps:
/// a `StridedSlice` of begin `[-1]` (or `[steps - 1]`), stride 1, shrinking
/// axis 0, no other mask.
fn last_step_strided(ctx: &Ctx, node: &NodeDef, steps: Option<usize>) -> bool {
    let mask = |m: &str| node.attr_int(m).unwrap_or(0);
    node.op == "StridedSlice"
        && ctx
            .const_ints(node, 1)
            .is_ok_and(|b| b == [-1] || steps.is_some_and(|t| b == [t as i64 - 1]))
        && ctx.const_ints(node, 3).is_ok_and(|s| s == [1])
        && mask("shrink_axis_mask") == 1
        && mask("begin_mask") & 1 == 0
        && mask("ellipsis_mask") == 0
        && mask("new_axis_mask") == 0
}

/// The users of a tensor, pass-through nodes (Identity) seen through.
fn users<'g>(ctx: &Ctx<'g>, t: &TensorId) -> Vec<&'g NodeDef> {
    ctx.graph
        .consumers(t)
        .iter()
        .map(|&(c, _)| &ctx.graph.nodes()[c])
        .collect()
}

/// Recognises the sequence form anchored on the fused node `lstm` fed by
/// `transpose` (see the module header).
fn sequence(ctx: &Ctx, transpose: &NodeDef, lstm: &NodeDef) -> Result<Sequence, String> {
    let graph = ctx.graph;
    let what = format!("{} '{}'", lstm.op, lstm.name);
    let inputs = lstm.data_inputs();
    if inputs.len() != 9 {
        return Err(format!("{what}: {} inputs, not 9", inputs.len()));
    }
    if source(ctx, inputs[1]).map(|n| n.name.as_str()) != Some(transpose.name.as_str()) {
        return Err(format!(
            "{what}: x is not the batch-major input transposed to time-major"
        ));
    }
    let konst = |k: usize| ctx.const_f32(lstm, k).ok();
    let (blocks, forget_bias) = keras_compatible(lstm, |k| konst(5 + k))?;
    let w = konst(4).ok_or_else(|| format!("{what}: w is not a constant"))?;
    let b = konst(8).ok_or_else(|| format!("{what}: b is not a constant"))?;
    let (k, rk, bias, units, input) = keras_arrays(&what, w, b, blocks, forget_bias)?;
    let weights = recurrent_weights(k, rk, bias);

    // The sequence (batch-major [B, T, in]) and seq_len_max = T.
    let x = ctx.layer_input(transpose, 0)?;
    let shape = ctx.shape(&x).cloned().unwrap_or_default();
    if shape.len() != 3 || shape[2].is_some_and(|f| f != input) {
        return Err(format!(
            "{what}: the sequence has shape {shape:?}, not (batch, steps, {input})"
        ));
    }
    let steps = shape[1];
    match (ctx.const_ints(lstm, 0), steps) {
        (Ok(n), Some(t)) if n == [t as i64] => {}
        (Ok(n), t) => {
            return Err(format!(
                "{what}: seq_len_max {n:?} is not the sequence length ({}): a sequence_length \
                 is not converted",
                t.map_or("unknown".into(), |t| t.to_string())
            ));
        }
        (Err(_), _) => {
            return Err(format!(
                "{what}: seq_len_max is not a constant (a sequence_length, or a sequence of \
                 unknown length, is not converted)"
            ));
        }
    }
    // Zero initial state (cs_prev, h_prev).
    for (k, name) in [(2, "cs_prev"), (3, "h_prev")] {
        if !is_zeros(ctx, &TensorId::parse(inputs[k])) {
            return Err(format!(
                "{what}: {name} is not zeros (an initial state is not converted)"
            ));
        }
    }
    // Only h is used: transposed back, or its last step.
    for (slot, name) in OUTPUTS.iter().enumerate().filter(|&(s, _)| s != H) {
        if !graph
            .consumers(&TensorId::new(lstm.name.clone(), slot))
            .is_empty()
        {
            return Err(format!(
                "{what}: output {slot} ({name}) is used; only h converts (Keras's LSTM returns \
                 neither the cell state nor the gates)"
            ));
        }
    }
    let h_users = users(ctx, &TensorId::new(lstm.name.clone(), H));
    let [user] = h_users.as_slice() else {
        return Err(format!(
            "{what}: h has {} consumers, not one (transposed back, or its last step)",
            h_users.len()
        ));
    };
    let (return_sequences, out_nodes): (bool, Vec<&NodeDef>) = if swaps_batch_and_time(ctx, user) {
        (true, vec![*user])
    } else if last_step_strided(ctx, user, steps) {
        (false, vec![*user])
    } else if user.op == "Slice" {
        // contrib: Squeeze(Slice(h, [T - 1, 0, 0], [1, -1, -1]), [0]).
        let begin = ctx.const_ints(user, 1).unwrap_or_default();
        let size = ctx.const_ints(user, 2).unwrap_or_default();
        let last = steps.is_some_and(|t| begin == [t as i64 - 1, 0, 0]);
        let squeeze = users(ctx, &TensorId::new(user.name.clone(), 0));
        match squeeze.as_slice() {
            [sq] if last
                && size == [1, -1, -1]
                && sq.op == "Squeeze"
                && sq.attr_ints("squeeze_dims").is_ok_and(|d| d == [0]) =>
            {
                (false, vec![*user, *sq])
            }
            _ => {
                return Err(format!(
                    "{what}: h's Slice '{}' is not its last step squeezed",
                    user.name
                ));
            }
        }
    } else {
        return Err(format!(
            "{what}: h is neither transposed back to batch-major nor sliced at its last step \
             ('{}' is a {})",
            user.name, user.op
        ));
    };
    let last = out_nodes.last().expect("one node at least");
    let mut nodes = vec![transpose.name.clone(), lstm.name.clone()];
    nodes.extend(out_nodes.iter().map(|n| n.name.clone()));
    Ok(Sequence {
        kind: LayerKind::Lstm {
            units,
            return_sequences,
            return_state: false,
            use_bias: true,
            go_backwards: false,
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
        },
        weights,
        output: TensorId::new(last.name.clone(), 0),
        nodes,
    })
}

fn is_fused(op: &str) -> bool {
    matches!(op, "BlockLSTM" | "BlockLSTMV2")
}

/// The fused node a time-major `Transpose` feeds, if it feeds one; its other
/// consumers may only read its shape.
fn fed_lstm<'g>(ctx: &Ctx<'g>, transpose: &NodeDef) -> Result<&'g NodeDef, String> {
    let consumers = users(ctx, &TensorId::new(transpose.name.clone(), 0));
    let lstm = consumers
        .iter()
        .find(|n| is_fused(&n.op))
        .ok_or("does not feed a BlockLSTM")?;
    if let Some(other) = consumers
        .iter()
        .find(|n| !is_fused(&n.op) && n.op != "Shape")
    {
        return Err(format!(
            "the time-major sequence also feeds '{}' ({})",
            other.name, other.op
        ));
    }
    Ok(lstm)
}

/// The layer name: the fused node's scope, `/` as `.`.
fn scope_name(ctx: &Ctx, lstm: &NodeDef) -> String {
    match lstm.name.rsplit_once('/') {
        Some((scope, _)) if !scope.is_empty() => scope.replace('/', "."),
        _ => ctx.layer_name(lstm),
    }
}

/// Rule (anchor `Transpose`): batch-major → time-major `Transpose` → `BlockLSTM*`
/// → h transposed back or its last step = one Keras `LSTM`.
fn block_lstm(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    if !swaps_batch_and_time(ctx, node) {
        return Err("not a [1, 0, 2] Transpose".into());
    }
    let lstm = fed_lstm(ctx, node)?;
    let input = ctx.layer_input(node, 0)?;
    let seq = sequence(ctx, node, lstm)?;
    Ok(Match::one(Emit {
        name: scope_name(ctx, lstm),
        kind: seq.kind,
        weights: seq.weights,
        inputs: vec![input],
        output: seq.output,
        more_outputs: Vec::new(),
        nodes: seq.nodes,
    }))
}

/// Rule (anchor `BlockLSTM`/`BlockLSTMV2`): never matches; says why the
/// sequence rule did not take the node (it runs only when it did not).
fn block_lstm_refused(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let transpose = node
        .data_inputs()
        .get(1)
        .and_then(|t| source(ctx, t))
        .filter(|t| swaps_batch_and_time(ctx, t))
        .ok_or(
            "x is not a batch-major sequence transposed to time-major (Transpose [1, 0, 2]); a \
             time-major model is not converted",
        )?;
    fed_lstm(ctx, transpose)?;
    ctx.layer_input(transpose, 0)?;
    sequence(ctx, transpose, node)?;
    Err("the time-major Transpose before it was taken by another layer".into())
}

/// This family's conversion rules (see [`super::rules`]).
pub(super) const RULES: &[RuleEntry] = &[
    RuleEntry::new("Transpose", "block_lstm", BLOCK + 1, block_lstm),
    RuleEntry::new(
        "BlockLSTM",
        "block_lstm (refusal reasons)",
        LAYER,
        block_lstm_refused,
    ),
    RuleEntry::new(
        "BlockLSTMV2",
        "block_lstm (refusal reasons)",
        LAYER,
        block_lstm_refused,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::pb::{AttrValue, attr_value::Value};
    use ndarray::{arr1, arr2};

    fn sigmoid(x: f32) -> f32 {
        1.0 / (1.0 + (-x).exp())
    }

    fn node(op: &str, attrs: &[(&str, Value)]) -> NodeDef {
        NodeDef {
            name: "scope/op".into(),
            op: op.into(),
            attr: attrs
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        AttrValue {
                            value: Some(v.clone()),
                        },
                    )
                })
                .collect(),
            ..NodeDef::default()
        }
    }

    /// One unit, one input: BlockLSTMV2's step (gates i, f, c, o, no
    /// forget_bias) by hand from lstm_ops.cc against Keras's LSTM step on the
    /// weights thaw writes; read as BlockLSTM's i, c, f, o it would differ.
    #[test]
    fn one_unit_block_lstm_v2_is_keras_lstm_in_its_own_gate_order() {
        let w = arr2(&[[0.3f32, -0.6, 0.9, 0.2], [0.5, 0.4, -0.7, 0.8]]);
        let b = arr1(&[0.1f32, -0.2, 0.3, 0.05]);
        let (x, h, c) = (0.7f32, -0.3f32, 0.4f32);
        let g = |col: usize| x * w[[0, col]] + h * w[[1, col]] + b[col];
        // lstm_ops.cc, IFCO: f at block 1, c at block 2, forget_bias 0.
        let cs_tf = sigmoid(g(0)) * g(2).tanh() + sigmoid(g(1)) * c;
        let h_tf = sigmoid(g(3)) * cs_tf.tanh();
        let keras_step = |blocks: [usize; 4]| {
            let (k, rk, kb, units, input) =
                keras_arrays("t", w.clone().into_dyn(), b.clone().into_dyn(), blocks, 0.0).unwrap();
            assert_eq!((units, input), (1, 1));
            let kb = kb.unwrap();
            let z = |blk: usize| x * k[[0, blk]] + h * rk[[0, blk]] + kb[blk];
            let cs = sigmoid(z(1)) * c + sigmoid(z(0)) * z(2).tanh();
            (cs, sigmoid(z(3)) * cs.tanh())
        };
        let (cs_k, h_k) = keras_step(IFCO);
        assert!((cs_tf - cs_k).abs() < 1e-6, "{cs_tf} vs {cs_k}");
        assert!((h_tf - h_k).abs() < 1e-6, "{h_tf} vs {h_k}");
        let (_, h_wrong) = keras_step(ICFO);
        assert!(
            (h_tf - h_wrong).abs() > 1e-3,
            "the gate order is not tested"
        );
    }

    #[test]
    fn attributes_follow_tf_defaults_and_refuse_what_keras_lacks() {
        let zeros = |_| Some(ndarray::ArrayD::<f32>::zeros(ndarray::IxDyn(&[4])));
        // BlockLSTM's own default cell_clip is 3: on, refused.
        let err = keras_compatible(&node("BlockLSTM", &[]), zeros).unwrap_err();
        assert!(err.contains("cell_clip 3"), "{err}");
        let off = [("cell_clip", Value::F(-1.0))];
        assert_eq!(
            keras_compatible(&node("BlockLSTM", &off), zeros).unwrap(),
            (ICFO, 1.0)
        );
        let fb = [("cell_clip", Value::F(0.0)), ("forget_bias", Value::F(0.5))];
        assert_eq!(
            keras_compatible(&node("LSTMBlockCell", &fb), zeros).unwrap(),
            (ICFO, 0.5)
        );
        // V2: no forget_bias, cell_clip 0 (off) by default, Keras's gate order.
        assert_eq!(
            keras_compatible(&node("BlockLSTMV2", &[]), zeros).unwrap(),
            (IFCO, 0.0)
        );
        // Peepholes: all-zero weights convert, others are refused by name.
        let peep = [("use_peephole", Value::B(true))];
        assert!(keras_compatible(&node("BlockLSTMV2", &peep), zeros).is_ok());
        let wcf = |k: usize| Some(ndarray::ArrayD::from_elem(ndarray::IxDyn(&[4]), k as f32));
        let err = keras_compatible(&node("BlockLSTMV2", &peep), wcf).unwrap_err();
        assert!(err.contains("non-zero peephole weights (wcf)"), "{err}");
        let err = keras_compatible(&node("BlockLSTMV2", &peep), |_| None).unwrap_err();
        assert!(err.contains("not constants"), "{err}");
        // A half-precision op is named, not converted.
        let half = [("T", Value::Type(crate::graph::pb::DataType::DtHalf as i32))];
        let err = keras_compatible(&node("BlockLSTMV2", &half), zeros).unwrap_err();
        assert!(err.contains("only float32"), "{err}");
    }
}
