//! `SpaceToBatchND` and `BatchToSpaceND`, which TensorFlow's `tf.function` tracing
//! (Keras 3 and tf-keras alike) wraps around every dilated `Conv2D` /
//! `DepthwiseConv2dNative` with SAME padding.
//!
//! Why thaw has its own: tract-tensorflow 0.23 registers both, but its declutter pass
//! that fuses `SpaceToBatch -> conv -> BatchToSpace` into one dilated conv miscomputes
//! the shapes ("Trying to substitute a 1,6,6,8,F32 by 1,2,2,8,F32 as output #0 of
//! BatchToSpaceND"), so no such graph can be optimised or even decluttered.
//!
//! Semantics (TF docs), for M block dims after the batch axis:
//! - SpaceToBatchND: pad the M spatial axes, reshape each `S` into `(S/b, b)`, move
//!   the M `b` axes in front of the batch, merge them into the batch.
//! - BatchToSpaceND: the inverse, then crop each spatial axis.
//!
//! Both are wired as tract-core `Pad`, `AxisOp::Reshape`, `AxisOp::Move` and `Slice`,
//! which tract optimises like any other layout op.
//!
//! Not handled: non-Const `block_shape`, `paddings` or `crops`.

use super::Builder;
use tract_tensorflow::tract_core::ops::array::{Pad, PadMode, Slice};
use tract_tensorflow::tract_hir::internal::*;

pub const BUILDERS: &[(&str, Builder)] = &[
    ("SpaceToBatchND", |_, _| {
        Ok(expand(SpaceBatch { to_batch: true }))
    }),
    ("BatchToSpaceND", |_, _| {
        Ok(expand(SpaceBatch { to_batch: false }))
    }),
];

#[derive(Debug, Clone)]
struct SpaceBatch {
    /// SpaceToBatchND if true, BatchToSpaceND otherwise.
    to_batch: bool,
}

fn ints(t: &Tensor) -> TractResult<Vec<usize>> {
    let v = t.cast_to::<i64>()?;
    v.try_as_plain_ram()?
        .as_slice::<i64>()?
        .iter()
        .map(|&x| usize::try_from(x).map_err(|_| format_err!("negative block size or padding {x}")))
        .collect()
}

impl SpaceBatch {
    /// The output shape for an input shape, block shape and paddings/crops.
    fn output_shape(
        &self,
        input: &[TDim],
        block: &[usize],
        pads: &[usize],
    ) -> TractResult<TVec<TDim>> {
        if pads.len() != 2 * block.len() || input.len() < block.len() + 1 {
            bail!(
                "block shape {block:?} and paddings {pads:?} do not fit an input of rank {}",
                input.len()
            );
        }
        let Some(prod) = crate::budget::product(block.iter().copied()) else {
            bail!("block shape {block:?} has more elements than a machine can count");
        };
        let mut out: TVec<TDim> = input.into();
        for (i, b) in block.iter().enumerate() {
            let d = &input[i + 1];
            out[i + 1] = if self.to_batch {
                (d.clone() + pads[2 * i] + pads[2 * i + 1]) / *b as u64
            } else {
                d.clone() * *b - pads[2 * i] - pads[2 * i + 1]
            };
        }
        out[0] = if self.to_batch {
            input[0].clone() * prod
        } else {
            input[0].clone() / prod as u64
        };
        Ok(out)
    }
}

impl Expansion for SpaceBatch {
    fn name(&self) -> StaticName {
        if self.to_batch {
            "ThawSpaceToBatchND".into()
        } else {
            "ThawBatchToSpaceND".into()
        }
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 3)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].rank, &outputs[0].rank)?;
        s.given_3(
            &inputs[0].shape,
            &inputs[1].value,
            &inputs[2].value,
            move |s, shape, block, pads| {
                let out = self.output_shape(&shape, &ints(&block)?, &ints(&pads)?)?;
                s.equals(&outputs[0].shape, ShapeFactoid::from(out))
            },
        )
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let konst = |ix: usize, what: &str| -> TractResult<Vec<usize>> {
            match &model.outlet_fact(inputs[ix])?.konst {
                Some(k) => ints(k),
                None => bail!("{what} is not a constant"),
            }
        };
        let block = konst(1, "block_shape")?;
        let pads = konst(2, if self.to_batch { "paddings" } else { "crops" })?;
        let shape: TVec<TDim> = model.outlet_fact(inputs[0])?.shape.to_tvec();
        self.output_shape(&shape, &block, &pads)?;
        let m = block.len();
        let Some(prod) = crate::budget::product(block.iter().copied()) else {
            bail!("block shape {block:?} has more elements than a machine can count");
        };
        let mut wire = inputs[0];
        let mut n = 0;
        let mut node = |model: &mut TypedModel,
                        op: Box<dyn TypedOp>,
                        wire: OutletId|
         -> TractResult<OutletId> {
            n += 1;
            Ok(model.wire_node(format!("{prefix}.{n}"), op, &[wire])?[0])
        };
        if self.to_batch {
            // Pad the spatial axes.
            let mut p = vec![(0, 0); shape.len()];
            for i in 0..m {
                p[i + 1] = (pads[2 * i], pads[2 * i + 1]);
            }
            let dt = model.outlet_fact(wire)?.datum_type;
            let mode = PadMode::Constant(Tensor::zero_scalar_dt(dt)?.into_arc_tensor());
            wire = node(model, Box::new(Pad { pads: p, mode }), wire)?;
            // [N, S1.., R..] -> [N, S1/b1, b1, ..., SM/bM, bM, R..]; spatial axis i is at 1 + 2i.
            for i in (0..m).rev() {
                let d = model.outlet_fact(wire)?.shape[i + 1].clone();
                let to = tvec!(d / block[i] as u64, block[i].to_dim());
                wire = node(
                    model,
                    Box::new(AxisOp::Reshape(
                        i + 1,
                        tvec!(model.outlet_fact(wire)?.shape[i + 1].clone()),
                        to,
                    )),
                    wire,
                )?;
            }
            // Bring every b_i (at 2 + 2i, shifting as we go) to the front, in order.
            for i in 0..m {
                wire = node(model, Box::new(AxisOp::Move(2 + 2 * i, i)), wire)?;
            }
            // [b1..bM, N, ...] -> [b1*..*bM*N, ...]
            let from: TVec<TDim> = model
                .outlet_fact(wire)?
                .shape
                .iter()
                .take(m + 1)
                .cloned()
                .collect();
            let merged = from.iter().cloned().product::<TDim>();
            wire = node(
                model,
                Box::new(AxisOp::Reshape(0, from, tvec!(merged))),
                wire,
            )?;
        } else {
            // [B, S1.., R..] -> [b1..bM, N, S1.., R..]
            let b0 = model.outlet_fact(wire)?.shape[0].clone();
            let mut to: TVec<TDim> = block.iter().map(|b| b.to_dim()).collect();
            to.push(b0.clone() / prod as u64);
            wire = node(model, Box::new(AxisOp::Reshape(0, tvec!(b0), to)), wire)?;
            // Move each b_i after its spatial axis: target layout [N, S1, b1, S2, b2, ...].
            // After the moves below the batch is back at 0 and S_i at 1 + 2i.
            for i in 0..m {
                // b_{i} is currently at 0 (the earlier ones were moved out); S_i at m - i + 1 + 2i.
                let s_pos = (m - i) + 1 + 2 * i;
                wire = node(model, Box::new(AxisOp::Move(0, s_pos)), wire)?;
            }
            for i in (0..m).rev() {
                let f = model.outlet_fact(wire)?;
                let from = tvec!(f.shape[1 + 2 * i].clone(), f.shape[2 + 2 * i].clone());
                let to = tvec!(from[0].clone() * from[1].clone());
                wire = node(model, Box::new(AxisOp::Reshape(1 + 2 * i, from, to)), wire)?;
            }
            for i in 0..m {
                let (start, end) = (pads[2 * i], pads[2 * i + 1]);
                if start + end > 0 {
                    let d = model.outlet_fact(wire)?.shape[i + 1].clone();
                    wire = node(model, Box::new(Slice::new(i + 1, start, d - end)), wire)?;
                }
            }
        }
        Ok(tvec!(wire))
    }
}
