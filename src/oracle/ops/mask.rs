//! What Keras's masks leave in a frozen graph: `NotEqual` (`Embedding(mask_zero)`'s
//! `ids != 0`, `Masking`'s `x != mask_value`), `Any` (`Masking`: a step is kept
//! when any feature differs) and `ZerosLike` (a masked recurrent layer's first
//! "previous output", zeros shaped like a step's output). tract-tensorflow 0.23
//! registers none of them.
//!
//! - `NotEqual` is tract's `CompNE`, broadcasting like every tract comparison.
//! - `Any(x, reduction_indices, keep_dims)` is tract-core's `Reduce` with the
//!   `Any` reducer over the Const axes (negative counts from the end), the
//!   reduced axes then removed unless `keep_dims`.
//! - `ZerosLike` of a float tensor is tract's `ConstantLike(0)`.
//!
//! Not handled: a non-Const `Any` axis; `ZerosLike` of a non-float tensor
//! (refused, naming the node).

use super::Builder;
use tract_tensorflow::model::ParsingContext;
use tract_tensorflow::tfpb::tensorflow::NodeDef;
use tract_tensorflow::tract_hir::internal::*;
use tract_tensorflow::tract_hir::ops::array::ConstantLike;
use tract_tensorflow::tract_hir::ops::binary::BinIntoHir;
use tract_tensorflow::tract_hir::ops::logic::CompNE;

pub const BUILDERS: &[(&str, Builder)] = &[
    ("NotEqual", |_, _| Ok(CompNE.into_hir())),
    ("Any", any),
    ("ZerosLike", zeros_like),
];

fn zeros_like(_ctx: &ParsingContext, node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    if node
        .get_attr_datum_type("T")
        .is_ok_and(|t| t != f32::datum_type())
    {
        bail!("ZerosLike of a non-float tensor is not supported");
    }
    Ok(Box::new(ConstantLike::new(0.0)))
}

fn any(_ctx: &ParsingContext, node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    let keep_dims = node.get_attr_opt_bool("keep_dims")?.unwrap_or(false);
    Ok(expand(Any { keep_dims }))
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct Any {
    keep_dims: bool,
}

/// The reduced axes, resolved against `rank`, sorted and deduplicated.
fn axes(t: &Tensor, rank: usize) -> TractResult<Vec<usize>> {
    let v = t.cast_to::<i64>()?;
    let mut out = Vec::new();
    for &a in v.try_as_plain_ram()?.as_slice::<i64>()? {
        let r = if a < 0 { a + rank as i64 } else { a };
        if !(0..rank as i64).contains(&r) {
            bail!("Any axis {a} is out of range for an input of rank {rank}");
        }
        if !out.contains(&(r as usize)) {
            out.push(r as usize);
        }
    }
    out.sort_unstable();
    Ok(out)
}

impl Expansion for Any {
    fn name(&self) -> StaticName {
        "ThawAny".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, bool::datum_type())?;
        s.equals(&outputs[0].datum_type, bool::datum_type())?;
        let keep = self.keep_dims;
        s.given_2(
            &inputs[0].shape,
            &inputs[1].value,
            move |s, shape, axes_t| {
                let axes = axes(&axes_t, shape.len())?;
                let out: TVec<TDim> = shape
                    .iter()
                    .enumerate()
                    .filter_map(|(i, d)| match (axes.contains(&i), keep) {
                        (false, _) => Some(d.clone()),
                        (true, true) => Some(1.to_dim()),
                        (true, false) => None,
                    })
                    .collect();
                s.equals(&outputs[0].shape, out)
            },
        )
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        use tract_tensorflow::tract_core::ops::nn::{Reduce, Reducer};
        let Some(axes_t) = model.outlet_fact(inputs[1])?.konst.clone() else {
            bail!("Any's reduction_indices are not a constant");
        };
        let rank = model.outlet_fact(inputs[0])?.rank();
        let axes = axes(&axes_t, rank)?;
        let mut y = model.wire_node(
            format!("{prefix}.any"),
            Reduce {
                axes: axes.iter().copied().collect(),
                reducer: Reducer::Any,
            },
            &[inputs[0]],
        )?[0];
        if !self.keep_dims {
            for &a in axes.iter().rev() {
                y = model.wire_node(format!("{prefix}.rm{a}"), AxisOp::Rm(a), &[y])?[0];
            }
        }
        Ok(tvec!(y))
    }
}
