//! Array plumbing: `ExpandDims`, `ConcatV2`.
//!
//! Why thaw has its own:
//! - tract-tensorflow 0.23's `ExpandDims` infers the right shape but, when typing the
//!   model, resolves a negative axis against the INPUT rank instead of rank + 1:
//!   `expand_dims(x[1,5], -1)` becomes `[1,1,5]` and translation fails with
//!   "Output mismatch after rewiring expansion ... expected 1,5,1 got 1,1,5".
//! - its `ConcatV2` casts the axis `as usize`: Keras's default `axis=-1` becomes
//!   2^64-1 and shape inference loops over that many axes until memory runs out
//!   (the process is killed); an int64 axis is refused.
//!
//! Semantics: TF's `axis` is an int32/int64 Const; for ExpandDims a negative axis
//! counts from the end of the OUTPUT shape, for ConcatV2 from the end of the inputs'.
//!
//! Not handled: a non-Const axis.

use super::Builder;
use tract_tensorflow::model::ParsingContext;
use tract_tensorflow::tfpb::tensorflow::NodeDef;
use tract_tensorflow::tract_hir::internal::*;

pub const BUILDERS: &[(&str, Builder)] = &[
    ("ExpandDims", expand_dims),
    ("ConcatV2", |_, _| Ok(expand(ConcatV2))),
];

fn expand_dims(_ctx: &ParsingContext, _node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    Ok(expand(ExpandDims))
}

#[derive(Debug, Clone)]
struct ExpandDims;

/// The insertion point of `axis` for an input of `rank`.
fn resolve(axis: &Tensor, rank: usize) -> TractResult<usize> {
    let axis = axis.cast_to::<i64>()?;
    let axis = axis.try_as_plain_ram()?.as_slice::<i64>()?;
    let [axis] = axis else {
        bail!("axis must hold one value, found {axis:?}")
    };
    let out_rank = rank as i64 + 1;
    let resolved = if *axis < 0 { axis + out_rank } else { *axis };
    if !(0..out_rank).contains(&resolved) {
        bail!("axis {axis} is out of range for an input of rank {rank}");
    }
    Ok(resolved as usize)
}

impl Expansion for ExpandDims {
    fn name(&self) -> StaticName {
        "ThawExpandDims".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        let (data, output) = (&inputs[0], &outputs[0]);
        s.equals(&data.datum_type, &output.datum_type)?;
        s.equals(data.rank.bex() + 1, &output.rank)?;
        s.given_2(&inputs[1].value, &data.rank, move |s, axis, rank| {
            let index = resolve(&axis, rank as usize)?;
            s.equals(&output.shape[index], 1.to_dim())?;
            for i in 0..rank as usize {
                let o = if i < index { i } else { i + 1 };
                s.equals(&output.shape[o], &data.shape[i])?;
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
        let Some(axis) = target.outlet_fact(inputs[1])?.konst.clone() else {
            bail!("axis is not a constant");
        };
        let rank = target.outlet_fact(inputs[0])?.rank();
        target.wire_node(prefix, AxisOp::Add(resolve(&axis, rank)?), &[inputs[0]])
    }
}

/// `ConcatV2(values..., axis)`.
#[derive(Debug, Clone)]
struct ConcatV2;

/// A ConcatV2 axis for inputs of `rank`.
fn concat_axis(axis: &Tensor, rank: usize) -> TractResult<usize> {
    let axis = axis.cast_to::<i64>()?;
    let axis = axis.try_as_plain_ram()?.as_slice::<i64>()?;
    let [axis] = axis else {
        bail!("axis must hold one value, found {axis:?}")
    };
    let resolved = if *axis < 0 { axis + rank as i64 } else { *axis };
    if !(0..rank as i64).contains(&resolved) {
        bail!("axis {axis} is out of range for inputs of rank {rank}");
    }
    Ok(resolved as usize)
}

/// The type of a concatenation: the values' common type, or TDim when integers
/// are mixed with TDim (shape arithmetic).
fn concat_type(dts: &[DatumType]) -> TractResult<DatumType> {
    let first = *dts
        .first()
        .ok_or_else(|| format_err!("ConcatV2 without values"))?;
    if dts.iter().all(|d| *d == first) {
        Ok(first)
    } else if dts.iter().all(|d| *d == DatumType::TDim || d.is_integer()) {
        Ok(DatumType::TDim)
    } else {
        bail!("ConcatV2 of mixed types {dts:?}")
    }
}

impl Expansion for ConcatV2 {
    fn name(&self) -> StaticName {
        "ThawConcatV2".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_output_arity(outputs, 1)?;
        if inputs.len() < 2 {
            bail!("ConcatV2 needs at least one value and an axis");
        }
        let n = inputs.len() - 1;
        let values = &inputs[..n];
        let output = &outputs[0];
        // tf.tensordot concatenates a gathered `Shape` (TDim in tract) with an int32
        // constant: integer values mixed with TDim concatenate as TDim.
        s.given_all(values.iter().map(|v| &v.datum_type), move |s, dts| {
            let dt = concat_type(&dts)?;
            s.equals(&output.datum_type, dt)
        })?;
        s.equals_all(values.iter().map(|v| (&v.rank).bex()).collect())?;
        s.equals(&output.rank, &values[0].rank)?;
        s.given_2(&inputs[n].value, &values[0].rank, move |s, axis, rank| {
            let axis = concat_axis(&axis, rank as usize)?;
            for d in (0..rank as usize).filter(|d| *d != axis) {
                s.equals(&output.shape[d], &values[0].shape[d])?;
                s.equals_all(values.iter().map(|v| (&v.shape[d]).bex()).collect())?;
            }
            let mut sum = -1 * output.shape[axis].bex();
            for v in values {
                sum = sum + v.shape[axis].bex();
            }
            s.equals_zero(sum)
        })
    }

    fn wire(
        &self,
        prefix: &str,
        target: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let (axis, values) = inputs
            .split_last()
            .ok_or_else(|| format_err!("ConcatV2 without inputs"))?;
        let Some(axis) = target.outlet_fact(*axis)?.konst.clone() else {
            bail!("axis is not a constant");
        };
        let rank = target.outlet_fact(values[0])?.rank();
        let dts = values
            .iter()
            .map(|v| Ok(target.outlet_fact(*v)?.datum_type))
            .collect::<TractResult<Vec<_>>>()?;
        let dt = concat_type(&dts)?;
        let mut cast = Vec::with_capacity(values.len());
        for (k, (v, vdt)) in values.iter().zip(&dts).enumerate() {
            cast.push(if *vdt == dt {
                *v
            } else {
                let op = tract_tensorflow::tract_core::ops::cast::cast(dt);
                target.wire_node(format!("{prefix}.cast_{k}"), op, &[*v])?[0]
            });
        }
        let op =
            tract_tensorflow::tract_hir::ops::array::TypedConcat::new(concat_axis(&axis, rank)?);
        target.wire_node(prefix, op, &cast)
    }
}
