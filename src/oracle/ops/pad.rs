//! Padding: `Pad` and `PadV2` (constant value) with int32 OR int64 paddings, and
//! `MirrorPad` in REFLECT mode.
//!
//! Why thaw has its own: tract-tensorflow 0.23's `Pad` requires its paddings to type
//! as TDim, which int32/int64 Const paddings do not ("type inference" failure on every
//! Keras ZeroPadding2D); `PadV2` and `MirrorPad` are not registered.
//!
//! Semantics: paddings are a Const `[rank, 2]` tensor of (before, after) per axis;
//! the model is rewritten to tract-core's `Pad` op.
//!
//! Not handled: non-Const paddings, negative paddings, MirrorPad SYMMETRIC mode
//! (tract-core has no such mode), non-Const PadV2 constant value.

use super::Builder;
use tract_tensorflow::model::ParsingContext;
use tract_tensorflow::tfpb::tensorflow::NodeDef;
use tract_tensorflow::tract_core::ops::array::{Pad as CorePad, PadMode};
use tract_tensorflow::tract_hir::internal::*;

pub const BUILDERS: &[(&str, Builder)] =
    &[("Pad", pad), ("PadV2", pad_v2), ("MirrorPad", mirror_pad)];

fn pad(_ctx: &ParsingContext, _node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    Ok(expand(Pad {
        mode: Mode::Zero,
        inputs: 2,
    }))
}

fn pad_v2(_ctx: &ParsingContext, _node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    Ok(expand(Pad {
        mode: Mode::Value,
        inputs: 3,
    }))
}

fn mirror_pad(_ctx: &ParsingContext, node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    match node.get_attr_raw_str("mode")? {
        b"REFLECT" => Ok(expand(Pad {
            mode: Mode::Reflect,
            inputs: 2,
        })),
        other => bail!(
            "MirrorPad mode {} is not supported (only REFLECT)",
            String::from_utf8_lossy(other)
        ),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `Pad`: zeros.
    Zero,
    /// `PadV2`: the scalar of input 2.
    Value,
    /// `MirrorPad` REFLECT: mirror without repeating the border.
    Reflect,
}

#[derive(Debug, Clone)]
struct Pad {
    mode: Mode,
    inputs: usize,
}

impl Expansion for Pad {
    fn name(&self) -> StaticName {
        "ThawPad".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, self.inputs)?;
        check_output_arity(outputs, 1)?;
        let (input, paddings, output) = (&inputs[0], &inputs[1], &outputs[0]);
        s.equals(&output.datum_type, &input.datum_type)?;
        s.equals(&input.rank, &output.rank)?;
        s.equals(&paddings.rank, 2)?;
        s.equals(&paddings.shape[0], input.rank.bex().to_dim())?;
        s.equals(&paddings.shape[1], 2.to_dim())?;
        s.given_2(&input.shape, &paddings.value, move |s, shape, paddings| {
            let pads = read_pads(&paddings)?;
            for (d, (dim, (before, after))) in shape.iter().zip(pads).enumerate() {
                s.equals(&output.shape[d], dim.clone() + before + after)?;
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
        let Some(paddings) = target.outlet_fact(inputs[1])?.konst.clone() else {
            bail!("paddings are not a constant");
        };
        let pads = read_pads(&paddings)?;
        let dt = target.outlet_fact(inputs[0])?.datum_type;
        let mode = match self.mode {
            Mode::Zero => PadMode::Constant(Tensor::zero_scalar_dt(dt)?.into_arc_tensor()),
            Mode::Value => {
                let Some(value) = target.outlet_fact(inputs[2])?.konst.clone() else {
                    bail!("PadV2 constant_values is not a constant");
                };
                PadMode::Constant(value.cast_to_dt(dt)?.into_owned().into_arc_tensor())
            }
            Mode::Reflect => PadMode::Reflect,
        };
        target.wire_node(prefix, CorePad { pads, mode }, &[inputs[0]])
    }
}

/// Reads a `[rank, 2]` int32/int64 paddings tensor as (before, after) pairs.
fn read_pads(paddings: &Tensor) -> TractResult<Vec<(usize, usize)>> {
    let p = paddings.cast_to::<i64>()?;
    let p = p.try_as_plain_ram()?.as_slice::<i64>()?.to_vec();
    p.chunks(2)
        .map(|pair| match pair {
            [b, a] if *b >= 0 && *a >= 0 => Ok((*b as usize, *a as usize)),
            _ => bail!("paddings must be non-negative (before, after) pairs, found {pair:?}"),
        })
        .collect()
}
