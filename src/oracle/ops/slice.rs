//! `Slice(x, begin, size)` (TF1's `tf.slice`, e.g. a crop of H and W).
//!
//! Why thaw has its own: tract-tensorflow 0.23 builds `Slice` as a `StridedSlice`
//! that reads `size` as the *end* index, which is wrong whenever `begin` is not 0
//! (`begin 1, size 6` slices `1..6`, TF `1..7`) and whenever `size` is -1 (read as
//! "end - 1", where TF means "to the end").
//!
//! Semantics (TF docs): along axis i, `x[begin[i] .. begin[i] + size[i]]`, or
//! `x[begin[i] ..]` when `size[i] == -1`. Wired as one tract-core `Slice` per
//! axis that is not kept whole.
//!
//! Not handled: non-Const `begin` or `size`.

use super::Builder;
use tract_tensorflow::tract_core::ops::array::Slice;
use tract_tensorflow::tract_core::ops::identity::Identity;
use tract_tensorflow::tract_hir::internal::*;

pub const BUILDERS: &[(&str, Builder)] = &[("Slice", |_, _| Ok(expand(TfSlice)))];

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct TfSlice;

fn ints(t: &Tensor) -> TractResult<Vec<i64>> {
    let v = t.cast_to::<i64>()?;
    Ok(v.try_as_plain_ram()?.as_slice::<i64>()?.to_vec())
}

/// `(start, end)` per axis of `shape`, checked against the known dimensions.
fn bounds(shape: &[TDim], begin: &[i64], size: &[i64]) -> TractResult<Vec<(TDim, TDim)>> {
    if begin.len() != shape.len() || size.len() != shape.len() {
        bail!(
            "Slice: begin {begin:?} and size {size:?} do not fit an input of rank {}",
            shape.len()
        );
    }
    shape
        .iter()
        .zip(begin.iter().zip(size))
        .map(|(d, (&b, &s))| {
            if b < 0 || s < -1 {
                bail!("Slice: begin {b} / size {s} out of range");
            }
            let end = if s == -1 {
                d.clone()
            } else {
                TDim::from(b + s)
            };
            if let (Ok(n), Ok(e)) = (d.to_i64(), end.to_i64())
                && (e > n || b > e)
            {
                bail!("Slice: {b}..{e} is outside an axis of {n}");
            }
            Ok((TDim::from(b), end))
        })
        .collect()
}

impl Expansion for TfSlice {
    fn name(&self) -> StaticName {
        "ThawTfSlice".into()
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
            move |s, shape, begin, size| {
                let out: TVec<TDim> = bounds(&shape, &ints(&begin)?, &ints(&size)?)?
                    .into_iter()
                    .map(|(b, e)| e - b)
                    .collect();
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
        let konst = |ix: usize, what: &str| -> TractResult<Vec<i64>> {
            match &model.outlet_fact(inputs[ix])?.konst {
                Some(k) => ints(k),
                None => bail!("Slice: {what} is not a constant"),
            }
        };
        let (begin, size) = (konst(1, "begin")?, konst(2, "size")?);
        let shape = model.outlet_fact(inputs[0])?.shape.to_tvec();
        let mut wire = inputs[0];
        for (axis, (start, end)) in bounds(&shape, &begin, &size)?.into_iter().enumerate() {
            if start == TDim::from(0) && end == shape[axis] {
                continue;
            }
            wire = model.wire_node(
                format!("{prefix}.axis{axis}"),
                Slice::new(axis, start, end),
                &[wire],
            )?[0];
        }
        // An identity slice still needs a node of its own name.
        if wire == inputs[0] {
            wire = model.wire_node(format!("{prefix}.identity"), Identity, &[wire])?[0];
        }
        Ok(tvec!(wire))
    }
}
