//! Element-wise math and running sums that tract-tensorflow 0.23 does not
//! register, needed to run the original ops behind thaw's fallback custom
//! layers (`ThawTfOp`): `Sin Cos Tan Asin Acos Atan Sinh Cosh Asinh Acosh Atanh
//! Floor Round Rint Sign Reciprocal Expm1 Log1p Atan2 SquaredDifference
//! FloorDiv Cumsum`.
//!
//! - Most are tract-core's own element-wise kernels. `Round` and `Rint` are
//!   tract's `round_half_to_even` (TF rounds half to even; tract's `round` does
//!   not). `Sign` is tract's (0 for 0).
//! - `Expm1`, `Log1p`, `Atan2(y, x)`, `SquaredDifference` and float `FloorDiv`
//!   (`floor(x / y)`) are thaw's f32 kernels, using Rust's `exp_m1`, `ln_1p`,
//!   `atan2`; the binary ones broadcast like every tract binary op.
//! - `Cumsum` is tract-core's `CumSum` with the Const `axis` resolved
//!   (negative counts from the end) and TF's `exclusive`/`reverse`.
//!
//! Not handled: integer or f16/f64 inputs of the thaw kernels, `Cumprod`, a
//! non-Const Cumsum axis.

use super::Builder;
use tract_tensorflow::model::ParsingContext;
use tract_tensorflow::tfpb::tensorflow::NodeDef;
use tract_tensorflow::tract_hir::internal::*;
use tract_tensorflow::tract_hir::ops::binary::BinIntoHir;
use tract_tensorflow::tract_hir::ops::math;
use tract_tensorflow::tract_hir::tract_core::ops::array::CumSum;
use tract_tensorflow::tract_hir::tract_core::{bin_to_super_type, element_wise, tract_linalg};

pub const BUILDERS: &[(&str, Builder)] = &[
    ("Sin", |_, _| Ok(math::sin().into_hir())),
    ("Cos", |_, _| Ok(math::cos().into_hir())),
    ("Tan", |_, _| Ok(math::tan().into_hir())),
    ("Asin", |_, _| Ok(math::asin().into_hir())),
    ("Acos", |_, _| Ok(math::acos().into_hir())),
    ("Atan", |_, _| Ok(math::atan().into_hir())),
    ("Sinh", |_, _| Ok(math::sinh().into_hir())),
    ("Cosh", |_, _| Ok(math::cosh().into_hir())),
    ("Asinh", |_, _| Ok(math::asinh().into_hir())),
    ("Acosh", |_, _| Ok(math::acosh().into_hir())),
    ("Atanh", |_, _| Ok(math::atanh().into_hir())),
    ("Floor", |_, _| Ok(math::floor().into_hir())),
    ("Round", |_, _| Ok(math::round_half_to_even().into_hir())),
    ("Rint", |_, _| Ok(math::round_half_to_even().into_hir())),
    ("Sign", |_, _| Ok(math::sign().into_hir())),
    ("Reciprocal", |_, _| Ok(math::recip().into_hir())),
    ("Expm1", |_, _| Ok(thaw_expm1().into_hir())),
    ("Log1p", |_, _| Ok(thaw_log1p().into_hir())),
    ("Atan2", |_, _| Ok(ThawAtan2.into_hir())),
    ("SquaredDifference", |_, _| {
        Ok(ThawSquaredDifference.into_hir())
    }),
    ("FloorDiv", |_, _| Ok(ThawFloorDiv.into_hir())),
    ("Cumsum", cumsum),
];

element_wise!(thaw_expm1, ThawExpm1, [f32] => |_, xs| {
    xs.iter_mut().for_each(|x| *x = x.exp_m1());
    Ok(())
});

element_wise!(thaw_log1p, ThawLog1p, [f32] => |_, xs| {
    xs.iter_mut().for_each(|x| *x = x.ln_1p());
    Ok(())
});

// TF's Atan2 takes (y, x).
bin_to_super_type!(thaw_atan2, ThawAtan2, [f32] => |c, y, x| *c = y.atan2(*x));
bin_to_super_type!(thaw_squared_difference, ThawSquaredDifference,
    [f32] => |c, a, b| *c = (*a - *b) * (*a - *b));
bin_to_super_type!(thaw_floor_div, ThawFloorDiv, [f32] => |c, a, b| *c = (*a / *b).floor());

fn cumsum(_ctx: &ParsingContext, node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    Ok(expand(Cumsum {
        exclusive: node.get_attr_opt_bool("exclusive")?.unwrap_or(false),
        reverse: node.get_attr_opt_bool("reverse")?.unwrap_or(false),
    }))
}

/// `Cumsum(x, axis)` with a Const axis.
#[derive(Debug, Clone)]
struct Cumsum {
    exclusive: bool,
    reverse: bool,
}

impl Expansion for Cumsum {
    fn name(&self) -> StaticName {
        "ThawCumsum".into()
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
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let Some(axis) = model.outlet_fact(inputs[1])?.konst.clone() else {
            bail!("Cumsum axis is not a constant");
        };
        let axis = axis.cast_to::<i64>()?;
        let axis = axis.try_as_plain_ram()?.as_slice::<i64>()?;
        let [axis] = axis else {
            bail!("Cumsum axis must hold one value, found {axis:?}")
        };
        let rank = model.outlet_fact(inputs[0])?.rank() as i64;
        let resolved = if *axis < 0 { axis + rank } else { *axis };
        if !(0..rank).contains(&resolved) {
            bail!("Cumsum axis {axis} is out of range for rank {rank}");
        }
        model.wire_node(
            prefix,
            CumSum {
                axis: resolved as usize,
                exclusive: self.exclusive,
                reverse: self.reverse,
            },
            &[inputs[0]],
        )
    }
}
