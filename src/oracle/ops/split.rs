//! `Split(split_dim, value)`: `num_split` equal parts of `value` along
//! `split_dim` (what Keras's LSTM cell does to its 4 gates). tract-tensorflow
//! 0.23 has no builder for it; thaw's wires one tract `Slice` per part.
//!
//! Semantics (TF): `split_dim` is a scalar int Const, negative counts from the
//! end; the axis length must divide evenly by `num_split`.
//!
//! Not handled: a non-Const `split_dim`, `SplitV` (uneven sizes).

use super::Builder;
use tract_tensorflow::model::ParsingContext;
use tract_tensorflow::tfpb::tensorflow::NodeDef;
use tract_tensorflow::tract_hir::internal::*;

pub const BUILDERS: &[(&str, Builder)] = &[("Split", split)];

fn split(_ctx: &ParsingContext, node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    let parts: i32 = node.get_attr_int("num_split")?;
    if parts < 1 {
        bail!("num_split must be at least 1, found {parts}");
    }
    Ok(expand(Split {
        parts: parts as usize,
    }))
}

#[derive(Debug, Clone)]
struct Split {
    parts: usize,
}

/// `split_dim` resolved against an input of `rank`.
fn resolve(axis: &Tensor, rank: usize) -> TractResult<usize> {
    let axis = axis.cast_to_scalar::<i64>()?;
    let resolved = if axis < 0 { axis + rank as i64 } else { axis };
    if !(0..rank as i64).contains(&resolved) {
        bail!("split_dim {axis} is out of range for an input of rank {rank}");
    }
    Ok(resolved as usize)
}

impl Expansion for Split {
    fn name(&self) -> StaticName {
        "ThawSplit".into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.parts)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, self.parts)?;
        let data = &inputs[1];
        for out in outputs {
            s.equals(&data.datum_type, &out.datum_type)?;
            s.equals(&data.rank, &out.rank)?;
        }
        s.given_2(&inputs[0].value, &data.shape, move |s, axis, shape| {
            let axis = resolve(&axis, shape.len())?;
            let len = shape[axis]
                .to_usize()
                .map_err(|_| format_err!("Split of an axis of unknown length"))?;
            if len % self.parts != 0 {
                bail!(
                    "axis of length {len} does not split into {} equal parts",
                    self.parts
                );
            }
            for out in outputs {
                let mut part = shape.clone();
                part[axis] = (len / self.parts).to_dim();
                s.equals(&out.shape, part)?;
            }
            Ok(())
        })
    }

    fn wire(
        &self,
        prefix: &str,
        target: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let Some(axis) = target.outlet_fact(inputs[0])?.konst.clone() else {
            bail!("split_dim is not a constant");
        };
        let fact = target.outlet_fact(inputs[1])?.clone();
        let axis = resolve(&axis, fact.rank())?;
        let len = fact.shape[axis].to_usize()?;
        if len % self.parts != 0 {
            bail!(
                "axis of length {len} does not split into {} equal parts",
                self.parts
            );
        }
        let size = len / self.parts;
        let mut outs = tvec![];
        for k in 0..self.parts {
            let slice = tract_tensorflow::tract_core::ops::array::Slice::new(
                axis,
                k * size,
                (k + 1) * size,
            );
            outs.extend(target.wire_node(format!("{prefix}.{k}"), slice, &[inputs[1]])?);
        }
        Ok(outs)
    }
}
