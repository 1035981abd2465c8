//! `ReverseV2(tensor, axis)`: `tensor` with the order of its elements reversed
//! along every axis listed in `axis` (a 1-D int Const, negative counts from the
//! end). Keras's recurrent layers with `go_backwards=True` reverse the
//! time-major sequence (`ReverseV2(transpose, [0])`) before the loop, and
//! `Bidirectional` reverses the backward layer's output sequence back
//! (`ReverseV2(y, [1])`). tract-tensorflow 0.23 has no builder for it; thaw's
//! wires, per reversed axis of length `n`, `n` one-element tract `Slice`s
//! concatenated last to first (the same values, no arithmetic).
//!
//! Not handled: a non-Const `axis`, reversing an axis of unknown length
//! (refused, naming the node).

use super::Builder;
use tract_tensorflow::tract_core::ops::array::{Slice, TypedConcat};
use tract_tensorflow::tract_core::ops::identity::Identity;
use tract_tensorflow::tract_hir::internal::*;

pub const BUILDERS: &[(&str, Builder)] = &[("ReverseV2", |_, _| Ok(expand(ReverseV2)))];

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct ReverseV2;

/// The reversed axes, resolved against `rank`, sorted and deduplicated
/// (TensorFlow rejects a repeated axis; reversing twice would undo it).
fn axes(t: &Tensor, rank: usize) -> TractResult<Vec<usize>> {
    let v = t.cast_to::<i64>()?;
    let mut out = Vec::new();
    for &a in v.try_as_plain_ram()?.as_slice::<i64>()? {
        let r = if a < 0 { a + rank as i64 } else { a };
        if !(0..rank as i64).contains(&r) {
            bail!("ReverseV2 axis {a} is out of range for an input of rank {rank}");
        }
        if out.contains(&(r as usize)) {
            bail!("ReverseV2 axis {a} is listed twice");
        }
        out.push(r as usize);
    }
    out.sort_unstable();
    Ok(out)
}

impl Expansion for ReverseV2 {
    fn name(&self) -> StaticName {
        "ThawReverseV2".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        s.equals(&inputs[1].rank, 1)?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let Some(axis) = model.outlet_fact(inputs[1])?.konst.clone() else {
            bail!("ReverseV2 axis is not a constant");
        };
        let fact = model.outlet_fact(inputs[0])?.clone();
        let mut x = inputs[0];
        for a in axes(&axis, fact.rank())? {
            let n = fact.shape[a].to_usize().map_err(|_| {
                format_err!("ReverseV2 of axis {a}, whose length is unknown, is not supported")
            })?;
            if n < 2 {
                continue;
            }
            let mut parts = Vec::with_capacity(n);
            for k in (0..n).rev() {
                parts.push(
                    model.wire_node(
                        format!("{prefix}.axis{a}.{k}"),
                        Slice::new(a, k, k + 1),
                        &[x],
                    )?[0],
                );
            }
            x = model.wire_node(format!("{prefix}.axis{a}"), TypedConcat { axis: a }, &parts)?[0];
        }
        if x == inputs[0] {
            // Nothing to reverse: an identity, which still needs a node of its own name.
            x = model.wire_node(prefix, Identity, &[x])?[0];
        } else {
            model.node_mut(x.node).name = prefix.to_string();
        }
        Ok(tvec!(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_resolve_negatives_and_refuse_repeats_and_range() {
        assert_eq!(axes(&tensor1(&[-1i32, 0]), 3).unwrap(), [0, 2]);
        assert!(axes(&tensor1(&[1i64, -2]), 3).is_err());
        assert!(axes(&tensor1(&[3i32]), 3).is_err());
    }
}
