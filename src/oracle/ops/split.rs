//! `Split(split_dim, value)`: `num_split` equal parts of `value` along
//! `split_dim` (what Keras's LSTM cell does to its 4 gates). tract-tensorflow
//! 0.23 has no builder for it; thaw's wires one tract `Slice` per part.
//!
//! Semantics (TF): `split_dim` is a scalar int Const, negative counts from the
//! end; the axis length must divide evenly by `num_split`.
//!
//! `SplitV(value, size_splits, split_dim)` (tf-keras's GRU cell without
//! `reset_after`): parts of the given sizes, one of which may be -1 (the
//! rest). `Unpack(value)` (tf-keras's GRU bias, unstacked into the input and
//! the recurrent rows): the `num` slices along `axis`, that axis removed.
//! Neither has a builder in tract-tensorflow 0.23 either.
//!
//! Not handled: a non-Const `split_dim` or `size_splits`.

use super::Builder;
use tract_tensorflow::model::ParsingContext;
use tract_tensorflow::tfpb::tensorflow::NodeDef;
use tract_tensorflow::tract_hir::internal::*;

pub const BUILDERS: &[(&str, Builder)] =
    &[("Split", split), ("SplitV", split_v), ("Unpack", unpack)];

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

fn split_v(_ctx: &ParsingContext, node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    let parts: i32 = node.get_attr_int("num_split")?;
    if parts < 1 {
        bail!("num_split must be at least 1, found {parts}");
    }
    Ok(expand(SplitV {
        parts: parts as usize,
    }))
}

#[derive(Debug, Clone)]
struct SplitV {
    parts: usize,
}

/// The part sizes of `size_splits` for an axis of `len` (one -1 takes the rest).
fn part_sizes(sizes: &Tensor, len: usize, parts: usize) -> TractResult<Vec<usize>> {
    let sizes = sizes.cast_to::<i64>()?;
    let sizes = sizes.try_as_plain_ram()?.as_slice::<i64>()?.to_vec();
    if sizes.len() != parts {
        bail!("size_splits has {} sizes for {parts} parts", sizes.len());
    }
    let known: i64 = sizes.iter().filter(|v| **v >= 0).sum();
    let free = sizes.iter().filter(|v| **v < 0).count();
    let rest = len as i64 - known;
    if free > 1 || rest < 0 || (free == 0 && rest != 0) {
        bail!("size_splits {sizes:?} do not split an axis of length {len}");
    }
    Ok(sizes
        .iter()
        .map(|&v| if v < 0 { rest as usize } else { v as usize })
        .collect())
}

impl Expansion for SplitV {
    fn name(&self) -> StaticName {
        "ThawSplitV".into()
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
        check_input_arity(inputs, 3)?;
        check_output_arity(outputs, self.parts)?;
        let data = &inputs[0];
        for out in outputs {
            s.equals(&data.datum_type, &out.datum_type)?;
            s.equals(&data.rank, &out.rank)?;
        }
        s.given_3(
            &inputs[2].value,
            &inputs[1].value,
            &data.shape,
            move |s, axis, sizes, shape| {
                let axis = resolve(&axis, shape.len())?;
                let len = shape[axis]
                    .to_usize()
                    .map_err(|_| format_err!("SplitV of an axis of unknown length"))?;
                for (out, size) in outputs.iter().zip(part_sizes(&sizes, len, self.parts)?) {
                    let mut part = shape.clone();
                    part[axis] = size.to_dim();
                    s.equals(&out.shape, part)?;
                }
                Ok(())
            },
        )
    }

    fn wire(
        &self,
        prefix: &str,
        target: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let (Some(sizes), Some(axis)) = (
            target.outlet_fact(inputs[1])?.konst.clone(),
            target.outlet_fact(inputs[2])?.konst.clone(),
        ) else {
            bail!("size_splits or split_dim is not a constant");
        };
        let fact = target.outlet_fact(inputs[0])?.clone();
        let axis = resolve(&axis, fact.rank())?;
        let len = fact.shape[axis].to_usize()?;
        let mut outs = tvec![];
        let mut start = 0;
        for (k, size) in part_sizes(&sizes, len, self.parts)?.into_iter().enumerate() {
            let slice =
                tract_tensorflow::tract_core::ops::array::Slice::new(axis, start, start + size);
            outs.extend(target.wire_node(format!("{prefix}.{k}"), slice, &[inputs[0]])?);
            start += size;
        }
        Ok(outs)
    }
}

fn unpack(_ctx: &ParsingContext, node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    let num: i32 = node.get_attr_int("num")?;
    let axis: i32 = node.get_attr_opt_int("axis")?.unwrap_or(0);
    if num < 1 {
        bail!("num must be at least 1, found {num}");
    }
    Ok(expand(Unpack {
        num: num as usize,
        axis: axis as i64,
    }))
}

#[derive(Debug, Clone)]
struct Unpack {
    num: usize,
    axis: i64,
}

impl Expansion for Unpack {
    fn name(&self) -> StaticName {
        "ThawUnpack".into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.num)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, self.num)?;
        let data = &inputs[0];
        for out in outputs {
            s.equals(&data.datum_type, &out.datum_type)?;
            s.equals(&data.rank, out.rank.bex() + 1)?;
        }
        s.given(&data.shape, move |s, shape| {
            let axis = resolve(&tensor0(self.axis), shape.len())?;
            if shape[axis].to_usize().ok() != Some(self.num) {
                bail!(
                    "Unpack of {} parts along an axis of length {:?}",
                    self.num,
                    shape[axis]
                );
            }
            let mut part = shape.clone();
            part.remove(axis);
            for out in outputs {
                s.equals(&out.shape, part.clone())?;
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
        use tract_tensorflow::tract_core::ops::change_axes::AxisOp;
        let fact = target.outlet_fact(inputs[0])?.clone();
        let axis = resolve(&tensor0(self.axis), fact.rank())?;
        let mut outs = tvec![];
        for k in 0..self.num {
            let slice = tract_tensorflow::tract_core::ops::array::Slice::new(axis, k, k + 1);
            let part = target.wire_node(format!("{prefix}.{k}"), slice, &[inputs[0]])?;
            outs.extend(target.wire_node(format!("{prefix}.{k}.rm"), AxisOp::Rm(axis), &part)?);
        }
        Ok(outs)
    }
}
