//! Embedding lookups: `GatherV2`, and `SelectV2` (Keras 3 wraps negative ids
//! with `SelectV2(Less(ids, 0), AddV2(ids, n), ids)` in front of the gather).
//!
//! Why thaw has its own:
//! - tract-tensorflow 0.23's `GatherV2` declares int32 indices in its inference
//!   rules, but the tract-core `Gather` it wires wants int64, so every
//!   int32-indexed gather (all of them, in Keras graphs) fails to type
//!   ("Gather: Condition failed: inputs[1].datum_type == i64 (I32 vs I64)").
//!   thaw's builder accepts int32 or int64 ids and casts them to int64 first.
//! - `SelectV2` is not registered; it is tract-hir's `Iff` (where), which
//!   broadcasts its three inputs as SelectV2 does.
//!
//! Semantics kept from tract: a negative index in `[-n, 0)` counts from the
//! end of the gathered axis (TensorFlow on CPU refuses it instead; Keras 3
//! graphs never pass one, their `SelectV2` has already wrapped it).
//!
//! Not handled: `batch_dims != 0` (refused, naming the node), a non-Const
//! axis, TF1's `Gather` (no axis input) and `ResourceGather` (freezing turns
//! both into `GatherV2`).

use super::Builder;
use tract_tensorflow::model::ParsingContext;
use tract_tensorflow::tfpb::tensorflow::NodeDef;
use tract_tensorflow::tract_core::ops::cast::cast;
use tract_tensorflow::tract_hir::internal::*;
use tract_tensorflow::tract_hir::ops::logic::Iff;

pub const BUILDERS: &[(&str, Builder)] = &[
    ("GatherV2", gather_v2),
    ("SelectV2", |_, _| Ok(expand(Iff))),
];

fn gather_v2(_ctx: &ParsingContext, node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    if let Some(b) = node.get_attr_opt_int::<i64>("batch_dims")?
        && b != 0
    {
        bail!("GatherV2 with batch_dims {b} is not supported");
    }
    Ok(expand(GatherV2))
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct GatherV2;

impl Expansion for GatherV2 {
    fn name(&self) -> StaticName {
        "ThawGatherV2".into()
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
        s.equals(&inputs[2].rank, 0)?;
        s.given_3(
            &inputs[0].shape,
            &inputs[1].shape,
            &inputs[2].value,
            move |s, data, indices, axis| {
                let axis = axis.cast_to_scalar::<i64>()?;
                let op = tract_tensorflow::tract_hir::ops::array::Gather::new(axis);
                let shape = op
                    .to_type_op(data.len())
                    .compute_output_shape(&data, &indices)?;
                s.equals(&outputs[0].shape, shape)
            },
        )
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let Some(axis) = model.outlet_fact(inputs[2])?.konst.clone() else {
            bail!("GatherV2's axis is not a constant");
        };
        let axis = axis.cast_to_scalar::<i64>()?;
        let rank = model.outlet_fact(inputs[0])?.rank();
        let ids = if model.outlet_fact(inputs[1])?.datum_type == i64::datum_type() {
            inputs[1]
        } else {
            model.wire_node(
                format!("{prefix}.ids_i64"),
                cast(i64::datum_type()),
                &[inputs[1]],
            )?[0]
        };
        let op = tract_tensorflow::tract_hir::ops::array::Gather::new(axis).to_type_op(rank);
        model.wire_node(prefix, op, &[inputs[0], ids])
    }
}
