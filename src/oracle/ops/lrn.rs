//! `LRN` (local response normalisation across channels, `tf.nn.lrn`), which
//! tract-tensorflow 0.23 does not register. It runs the original op behind
//! thaw's `ThawTfOp` fallback layer for LRN.
//!
//! Written as tract-core ops, a different formulation from the interpreter's
//! loop over channel windows: `sqr_sum = Square(x) · B` with `B[k, c] = 1` when
//! `|k - c| <= depth_radius` (an `EinSum` over the channel axis), then
//! `x * (bias + alpha * sqr_sum) ^ -beta`. Attributes default as in TF
//! (`depth_radius` 5, `bias` 1, `alpha` 1, `beta` 0.5).
//!
//! Not handled: inputs other than 4-D NHWC float32, a channel count unknown
//! when the graph is typed.

use super::Builder;
use tract_tensorflow::model::ParsingContext;
use tract_tensorflow::tfpb::tensorflow::NodeDef;
use tract_tensorflow::tract_core::ops::einsum::EinSum;
use tract_tensorflow::tract_hir::internal::*;
use tract_tensorflow::tract_hir::ops::math;

pub const BUILDERS: &[(&str, Builder)] = &[("LRN", lrn)];

fn lrn(_ctx: &ParsingContext, node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    Ok(expand(Lrn {
        radius: node.get_attr_opt_int::<i64>("depth_radius")?.unwrap_or(5),
        bias: node.get_attr_opt_float::<f32>("bias")?.unwrap_or(1.0),
        alpha: node.get_attr_opt_float::<f32>("alpha")?.unwrap_or(1.0),
        beta: node.get_attr_opt_float::<f32>("beta")?.unwrap_or(0.5),
    }))
}

#[derive(Debug, Clone)]
struct Lrn {
    radius: i64,
    bias: f32,
    alpha: f32,
    beta: f32,
}

impl Expansion for Lrn {
    fn name(&self) -> StaticName {
        "ThawLrn".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].rank, 4)?;
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
        let fact = model.outlet_fact(inputs[0])?.clone();
        if fact.datum_type != f32::datum_type() || fact.rank() != 4 {
            bail!("LRN needs a 4-D float32 input, got {fact:?}");
        }
        let c = fact.shape[3]
            .to_usize()
            .context("LRN: the channel count is not known")?;
        if self.radius < 0 {
            bail!("LRN: depth_radius {} is negative", self.radius);
        }
        let r = self.radius as usize;
        let band: Vec<f32> = (0..c * c)
            .map(|i| {
                if (i / c).abs_diff(i % c) <= r {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let band = model.add_const(
            format!("{prefix}.band"),
            tensor1(&band).into_shape(&[c, c])?,
        )?;
        let x = inputs[0];
        let sq = model.wire_node(format!("{prefix}.square"), math::square(), &[x])?[0];
        let axes: AxesMapping = "nhwk,kc->nhwc".parse()?;
        let sum = model.wire_node(
            format!("{prefix}.sqr_sum"),
            EinSum::new(axes, f32::datum_type()),
            &[sq, band],
        )?[0];
        let scalar = |model: &mut TypedModel, name: &str, v: f32| {
            model.add_const(
                format!("{prefix}.{name}"),
                tensor0(v).broadcast_into_rank(4)?,
            )
        };
        let alpha = scalar(model, "alpha", self.alpha)?;
        let bias = scalar(model, "bias", self.bias)?;
        let neg_beta = scalar(model, "neg_beta", -self.beta)?;
        let scaled = model.wire_node(format!("{prefix}.scaled"), math::mul(), &[sum, alpha])?[0];
        let base = model.wire_node(format!("{prefix}.base"), math::add(), &[scaled, bias])?[0];
        let factor = model.wire_node(format!("{prefix}.pow"), math::pow(), &[base, neg_beta])?[0];
        model.wire_node(prefix, math::mul(), &[x, factor])
    }
}
