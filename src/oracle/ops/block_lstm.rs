//! TF1's fused LSTM ops: `BlockLSTM` and `BlockLSTMV2` (a whole time-major
//! sequence, what `tf.contrib.rnn.LSTMBlockFusedCell` froze to, e.g. in
//! Mozilla DeepSpeech) and `LSTMBlockCell` (one step, what
//! `tf.contrib.rnn.LSTMBlockCell` froze to inside a `dynamic_rnn` loop, which
//! `graph::unroll` copies per step). Semantics from TensorFlow's kernel
//! (`tensorflow/core/kernels/rnn/lstm_ops.cc`, `LSTMBlockCellFpropWithEigen`
//! and `BlockLSTMOp`):
//!
//! ```text
//! gates = [x, h_prev] · w + b           (w: [in + units, 4 units])
//! i  = σ(gates_i + wci·cs_prev)         (peephole terms only with use_peephole)
//! ci = tanh(gates_c)
//! f  = σ(gates_f + forget_bias + wcf·cs_prev)
//! cs = i·ci + f·cs_prev, clipped to ±cell_clip when cell_clip > 0
//! co = tanh(cs)
//! o  = σ(gates_o + wco·cs)
//! h  = o·co
//! ```
//!
//! The gate blocks are i, c, f, o (`ICFO`) for `BlockLSTM` and `LSTMBlockCell`,
//! i, f, c, o (`IFCO`) for `BlockLSTMV2`, which also has no `forget_bias`
//! (0). Attribute defaults as in `rnn_ops.cc`: `forget_bias` 1, `cell_clip`
//! 3 (V1; note: ON by default, contrib's wrappers pass -1) or 0 (V2),
//! `use_peephole` false. All seven outputs (i, cs, f, o, ci, co, h) are
//! computed. `BlockLSTM` steps `t >= seq_len_max` give zero cs and h (as in
//! TF); TF leaves the other five uninitialised there, thaw gives zeros.
//!
//! tract-tensorflow 0.23 has a `BlockLSTM` builder of its own, but it ignores
//! `cell_clip` (so differs from TF on the op's default of 3 once |cs| > 3) and
//! panics (`unimplemented!`) on `use_peephole`; it has neither `BlockLSTMV2`
//! nor `LSTMBlockCell`. thaw's builders replace it: tract-core ops (`EinSum`,
//! `Slice`, sigmoid, tanh, products, min/max), the sequence unrolled step by
//! step, so its time axis must have a fixed length when the graph is typed.
//!
//! Not handled (refused, naming the node): a time axis of unknown length, a
//! non-constant `seq_len_max`, types other than float32 (`T` half).

use super::Builder;
use tract_tensorflow::model::ParsingContext;
use tract_tensorflow::tfpb::tensorflow::NodeDef;
use tract_tensorflow::tract_core::ops::array::{Slice, TypedConcat};
use tract_tensorflow::tract_core::ops::einsum::EinSum;
use tract_tensorflow::tract_core::ops::{math, nn};
use tract_tensorflow::tract_hir::internal::*;

pub const BUILDERS: &[(&str, Builder)] = &[
    ("BlockLSTM", |c, n| fused(c, n, Layout::Icfo, true)),
    ("BlockLSTMV2", |c, n| fused(c, n, Layout::Ifco, true)),
    ("LSTMBlockCell", |c, n| fused(c, n, Layout::Icfo, false)),
];

/// The order of the four gate blocks in `w`'s columns and `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// i, c, f, o: `BlockLSTM`, `LSTMBlockCell` (and TF1's `LSTMCell`).
    Icfo,
    /// i, f, c, o: `BlockLSTMV2` (Keras's order).
    Ifco,
}

impl Layout {
    /// The blocks of (i, c, f, o) in this layout.
    pub fn blocks(self) -> [usize; 4] {
        match self {
            Layout::Icfo => [0, 1, 2, 3],
            Layout::Ifco => [0, 2, 1, 3],
        }
    }
}

/// The attributes of one fused LSTM node, with TF's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LstmAttrs {
    pub layout: Layout,
    pub forget_bias: f32,
    /// Active when > 0.
    pub cell_clip: f32,
    pub use_peephole: bool,
}

impl LstmAttrs {
    /// Reads `node`'s attributes (`BlockLSTMV2` has no `forget_bias`: 0).
    pub fn of(node: &NodeDef, layout: Layout) -> TractResult<LstmAttrs> {
        let v2 = layout == Layout::Ifco;
        Ok(LstmAttrs {
            layout,
            forget_bias: if v2 {
                0.0
            } else {
                node.get_attr_opt_float::<f32>("forget_bias")?
                    .unwrap_or(1.0)
            },
            cell_clip: node
                .get_attr_opt_float::<f32>("cell_clip")?
                .unwrap_or(if v2 { 0.0 } else { 3.0 }),
            use_peephole: node.get_attr_opt_bool("use_peephole")?.unwrap_or(false),
        })
    }
}

fn fused(
    _ctx: &ParsingContext,
    node: &NodeDef,
    layout: Layout,
    sequence: bool,
) -> TractResult<Box<dyn InferenceOp>> {
    if let Some(t) = node.get_attr_opt_datum_type("T")?
        && t != f32::datum_type()
    {
        bail!(
            "Node {} ({}): T is {t:?}, only float32 is supported",
            node.name,
            node.op
        );
    }
    Ok(expand(FusedLstm {
        attrs: LstmAttrs::of(node, layout)?,
        sequence,
    }))
}

#[derive(Debug, Clone)]
struct FusedLstm {
    attrs: LstmAttrs,
    /// `BlockLSTM*` (inputs led by `seq_len_max`, x time-major [T, B, in])
    /// rather than `LSTMBlockCell` (x [B, in]).
    sequence: bool,
}

impl FusedLstm {
    fn op(&self) -> &'static str {
        match (self.sequence, self.attrs.layout) {
            (false, _) => "LSTMBlockCell",
            (true, Layout::Icfo) => "BlockLSTM",
            (true, Layout::Ifco) => "BlockLSTMV2",
        }
    }
}

/// The per-node constants and weights one step reads.
struct Wired {
    w: OutletId,
    /// `b` as [1, 4 units].
    b: OutletId,
    /// wci, wcf, wco as [1, units] (peepholes only).
    peep: Option<[OutletId; 3]>,
    /// `forget_bias` as [1, 1].
    forget_bias: OutletId,
    /// ±cell_clip as [1, 1] (when active).
    clip: Option<(OutletId, OutletId)>,
    units: usize,
}

impl FusedLstm {
    /// One step: (x [B, in], cs_prev [B, u], h_prev [B, u]) → i, cs, f, o, ci, co, h.
    fn step(
        &self,
        p: &str,
        model: &mut TypedModel,
        k: &Wired,
        x: OutletId,
        cs_prev: OutletId,
        h_prev: OutletId,
    ) -> TractResult<[OutletId; 7]> {
        let u = k.units;
        let mut wire =
            |name: &str, op: Box<dyn TypedOp>, inputs: &[OutletId]| -> TractResult<OutletId> {
                Ok(model.wire_node(format!("{p}.{name}"), op, inputs)?[0])
            };
        let xh = wire("xh", Box::new(TypedConcat { axis: 1 }), &[x, h_prev])?;
        let mm = wire(
            "matmul",
            Box::new(EinSum::new("mk,kn->mn".parse()?, f32::datum_type())),
            &[xh, k.w],
        )?;
        let gates = wire("gates", Box::new(math::add()), &[mm, k.b])?;
        let [bi, bc, bf, bo] = self.attrs.layout.blocks();
        let block = |b: usize| Slice::new(1, b * u, (b + 1) * u);
        let gi = wire("gate_i", Box::new(block(bi)), &[gates])?;
        let gc = wire("gate_c", Box::new(block(bc)), &[gates])?;
        let gf = wire("gate_f", Box::new(block(bf)), &[gates])?;
        let go = wire("gate_o", Box::new(block(bo)), &[gates])?;
        let (gi, gf) = match k.peep {
            Some([wci, wcf, _]) => {
                let pi = wire("peep_i", Box::new(math::mul()), &[cs_prev, wci])?;
                let pf = wire("peep_f", Box::new(math::mul()), &[cs_prev, wcf])?;
                (
                    wire("gate_i_peep", Box::new(math::add()), &[gi, pi])?,
                    wire("gate_f_peep", Box::new(math::add()), &[gf, pf])?,
                )
            }
            None => (gi, gf),
        };
        let i = wire("i", Box::new(nn::sigmoid()), &[gi])?;
        let ci = wire("ci", Box::new(math::tanh()), &[gc])?;
        let gf = wire("gate_f_bias", Box::new(math::add()), &[gf, k.forget_bias])?;
        let f = wire("f", Box::new(nn::sigmoid()), &[gf])?;
        let ici = wire("i_ci", Box::new(math::mul()), &[i, ci])?;
        let fcs = wire("f_cs", Box::new(math::mul()), &[f, cs_prev])?;
        let mut cs = wire("cs", Box::new(math::add()), &[ici, fcs])?;
        if let Some((hi, lo)) = k.clip {
            cs = wire("cs_clip_hi", Box::new(math::min()), &[cs, hi])?;
            cs = wire("cs_clip", Box::new(math::max()), &[cs, lo])?;
        }
        let co = wire("co", Box::new(math::tanh()), &[cs])?;
        let go = match k.peep {
            Some([_, _, wco]) => {
                let po = wire("peep_o", Box::new(math::mul()), &[cs, wco])?;
                wire("gate_o_peep", Box::new(math::add()), &[go, po])?
            }
            None => go,
        };
        let o = wire("o", Box::new(nn::sigmoid()), &[go])?;
        let h = wire("h", Box::new(math::mul()), &[o, co])?;
        Ok([i, cs, f, o, ci, co, h])
    }
}

/// Names of the seven outputs, in TF's order.
const OUTPUTS: [&str; 7] = ["i", "cs", "f", "o", "ci", "co", "h"];

impl Expansion for FusedLstm {
    fn name(&self) -> StaticName {
        format!("Thaw{}", self.op()).into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        let off = usize::from(self.sequence);
        check_input_arity(inputs, 8 + off)?;
        check_output_arity(outputs, 7)?;
        let x = &inputs[off];
        let cs_prev = &inputs[off + 1];
        if self.sequence {
            s.equals(&inputs[0].rank, 0)?;
            s.equals(&x.rank, 3)?;
        } else {
            s.equals(&x.rank, 2)?;
        }
        for k in 1..8 {
            s.equals(&inputs[off + k].datum_type, &x.datum_type)?;
        }
        s.equals(&cs_prev.rank, 2)?;
        s.equals(&inputs[off + 2].rank, 2)?;
        s.equals(&inputs[off + 3].rank, 2)?;
        for k in 4..8 {
            s.equals(&inputs[off + k].rank, 1)?;
        }
        for out in outputs {
            s.equals(&out.datum_type, &x.datum_type)?;
            if self.sequence {
                s.equals(&out.rank, 3)?;
                s.equals(&out.shape[0], &x.shape[0])?;
                s.equals(&out.shape[1], &x.shape[1])?;
                s.equals(&out.shape[2], &cs_prev.shape[1])?;
            } else {
                s.equals(&out.rank, 2)?;
                s.equals(&out.shape[0], &x.shape[0])?;
                s.equals(&out.shape[1], &cs_prev.shape[1])?;
            }
        }
        Ok(())
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(7)
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let op = self.op();
        let off = usize::from(self.sequence);
        let w_fact = model.outlet_fact(inputs[off + 3])?.clone();
        let units = w_fact
            .shape
            .get(1)
            .and_then(|d| d.to_usize().ok())
            .filter(|c| c % 4 == 0 && *c > 0)
            .map(|c| c / 4)
            .with_context(|| {
                format!(
                    "{op} '{prefix}': w of shape {:?} has no 4·units columns",
                    w_fact.shape
                )
            })?;
        let row = |model: &mut TypedModel, name: &str, t: OutletId| -> TractResult<OutletId> {
            Ok(model.wire_node(format!("{prefix}.{name}"), AxisOp::Add(0), &[t])?[0])
        };
        let b = row(model, "b_row", inputs[off + 7])?;
        let peep = if self.attrs.use_peephole {
            Some([
                row(model, "wci_row", inputs[off + 4])?,
                row(model, "wcf_row", inputs[off + 5])?,
                row(model, "wco_row", inputs[off + 6])?,
            ])
        } else {
            None
        };
        let scalar = |model: &mut TypedModel, name: &str, v: f32| {
            model.add_const(
                format!("{prefix}.{name}"),
                tensor0(v).broadcast_into_rank(2)?,
            )
        };
        let forget_bias = scalar(model, "forget_bias", self.attrs.forget_bias)?;
        let clip = if self.attrs.cell_clip > 0.0 {
            Some((
                scalar(model, "cell_clip", self.attrs.cell_clip)?,
                scalar(model, "neg_cell_clip", -self.attrs.cell_clip)?,
            ))
        } else {
            None
        };
        let k = Wired {
            w: inputs[off + 3],
            b,
            peep,
            forget_bias,
            clip,
            units,
        };
        if !self.sequence {
            let out = self.step(prefix, model, &k, inputs[0], inputs[1], inputs[2])?;
            return Ok(out.into_iter().collect());
        }

        // The sequence, unrolled: step t reads x[t] and the previous step's cs and h.
        let x_fact = model.outlet_fact(inputs[1])?.clone();
        let steps = x_fact.shape[0].to_usize().map_err(|_| {
            format_err!(
                "{op} '{prefix}': the time axis of x has no fixed length ({}); thaw's oracle \
                 unrolls the steps and needs it (give the input a fixed sequence length)",
                x_fact.shape[0]
            )
        })?;
        let seq_len_max = model
            .outlet_fact(inputs[0])?
            .konst
            .clone()
            .with_context(|| format!("{op} '{prefix}': seq_len_max is not a constant"))?;
        let live = *seq_len_max
            .cast_to::<i64>()?
            .try_as_plain_ram()?
            .to_scalar::<i64>()?;
        if !(0..=steps as i64).contains(&live) || steps == 0 {
            bail!("{op} '{prefix}': seq_len_max {live} is not between 0 and {steps} (and T > 0)");
        }
        let zero = model.add_const(
            format!("{prefix}.zero"),
            tensor0(0f32).broadcast_into_rank(3)?,
        )?;
        let (mut cs, mut h) = (inputs[2], inputs[3]);
        let mut per_output: Vec<Vec<OutletId>> =
            (0..7).map(|_| Vec::with_capacity(steps)).collect();
        for t in 0..steps {
            let p = format!("{prefix}.t{t}");
            let xt = model.wire_node(format!("{p}.x"), Slice::new(0, t, t + 1), &[inputs[1]])?[0];
            let xt = model.wire_node(format!("{p}.x_step"), AxisOp::Rm(0), &[xt])?[0];
            let out = self.step(&p, model, &k, xt, cs, h)?;
            (cs, h) = (out[1], out[6]);
            for (j, o) in out.into_iter().enumerate() {
                let name = OUTPUTS[j];
                let mut o = model.wire_node(format!("{p}.{name}_t"), AxisOp::Add(0), &[o])?[0];
                if t as i64 >= live {
                    // Past seq_len_max: TF zeroes cs and h (and leaves the rest unset).
                    o = model.wire_node(format!("{p}.{name}_past"), math::mul(), &[o, zero])?[0];
                }
                per_output[j].push(o);
            }
        }
        let mut outs = TVec::new();
        for (j, parts) in per_output.into_iter().enumerate() {
            let name = OUTPUTS[j];
            outs.push(
                model.wire_node(format!("{prefix}.{name}"), TypedConcat { axis: 0 }, &parts)?[0],
            );
        }
        Ok(outs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_gates_are_keras_order_and_v1_are_icfo() {
        // (i, c, f, o) blocks: V1 reads c from block 1 and f from block 2, V2 the other way.
        assert_eq!(Layout::Icfo.blocks(), [0, 1, 2, 3]);
        assert_eq!(Layout::Ifco.blocks(), [0, 2, 1, 3]);
    }

    #[test]
    fn attribute_defaults_follow_rnn_ops_cc() {
        let node = NodeDef {
            name: "lstm".into(),
            op: "BlockLSTM".into(),
            ..NodeDef::default()
        };
        let v1 = LstmAttrs::of(&node, Layout::Icfo).unwrap();
        assert_eq!(
            (v1.forget_bias, v1.cell_clip, v1.use_peephole),
            (1.0, 3.0, false)
        );
        let v2 = LstmAttrs::of(&node, Layout::Ifco).unwrap();
        assert_eq!((v2.forget_bias, v2.cell_clip), (0.0, 0.0));
    }
}
