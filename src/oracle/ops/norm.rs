//! Batch normalisation in inference mode: `FusedBatchNorm` (TF1, 5 outputs),
//! `FusedBatchNormV2` (5 outputs) and `FusedBatchNormV3` (tf-keras, 6 outputs).
//!
//! Why thaw has its own: tract registers only `FusedBatchNorm`, with ONE output and
//! NHWC only; V2/V3 are missing. A node with the wrong output count breaks graph
//! translation as soon as anything names one of its side outputs.
//!
//! Semantics: `y = (x - mean) * scale / sqrt(variance + epsilon) + offset`, folded into
//! one per-channel multiply-add (as tract's own FusedBatchNorm does), for NHWC and
//! NCHW. Side outputs 1..=4 echo the running mean/variance (1, 3: mean; 2, 4:
//! variance) and output 5 (V3's reserve space) the variance: in inference mode
//! TensorFlow gives them no defined value, thaw only needs them to exist.
//!
//! Not handled: `is_training = true` (batch statistics), non-Const parameters,
//! non-f32 `x` — all refused with an error naming the node.

use super::Builder;
use tract_tensorflow::model::ParsingContext;
use tract_tensorflow::tfpb::tensorflow::NodeDef;
use tract_tensorflow::tract_hir::internal::*;

pub const BUILDERS: &[(&str, Builder)] = &[
    ("FusedBatchNorm", |c, n| build(c, n, 5)),
    ("FusedBatchNormV2", |c, n| build(c, n, 5)),
    ("FusedBatchNormV3", |c, n| build(c, n, 6)),
];

fn build(
    _ctx: &ParsingContext,
    node: &NodeDef,
    outputs: usize,
) -> TractResult<Box<dyn InferenceOp>> {
    if node.get_attr_opt_bool("is_training")?.unwrap_or(true) {
        bail!("is_training is true: thaw runs batch normalisation in inference mode only");
    }
    let epsilon = node.get_attr_opt_float::<f32>("epsilon")?.unwrap_or(1e-4);
    let nchw = super::nchw(node)?;
    Ok(expand(FusedBatchNorm {
        epsilon,
        nchw,
        outputs,
    }))
}

#[derive(Debug, Clone)]
struct FusedBatchNorm {
    epsilon: f32,
    nchw: bool,
    outputs: usize,
}

impl FusedBatchNorm {
    fn c_axis(&self) -> usize {
        if self.nchw { 1 } else { 3 }
    }
}

impl Expansion for FusedBatchNorm {
    fn name(&self) -> StaticName {
        "ThawFusedBatchNorm".into()
    }

    fn validation(&self) -> Validation {
        Validation::Rounding
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.outputs)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 5)?;
        check_output_arity(outputs, self.outputs)?;
        s.equals(&inputs[0].datum_type, f32::datum_type())?;
        s.equals(&inputs[0].rank, 4)?;
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&outputs[0].shape, &inputs[0].shape)?;
        for input in &inputs[1..5] {
            s.equals(&input.datum_type, f32::datum_type())?;
            s.equals(&input.rank, 1)?;
            s.equals(&input.shape[0], &inputs[0].shape[self.c_axis()])?;
        }
        for output in &outputs[1..] {
            s.equals(&output.datum_type, f32::datum_type())?;
            s.equals(&output.rank, 1)?;
            s.equals(&output.shape[0], &inputs[0].shape[self.c_axis()])?;
        }
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        target: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let konst = |ix: usize| -> TractResult<Vec<f32>> {
            let fact = target.outlet_fact(inputs[ix])?;
            let Some(k) = &fact.konst else {
                bail!("batch norm parameter {ix} is not a constant");
            };
            Ok(k.cast_to::<f32>()?
                .try_as_plain_ram()?
                .as_slice::<f32>()?
                .to_vec())
        };
        let (scale, offset, mean, variance) = (konst(1)?, konst(2)?, konst(3)?, konst(4)?);
        let slope: Vec<f32> = variance
            .iter()
            .zip(&scale)
            .map(|(v, s)| s / (v + self.epsilon).sqrt())
            .collect();
        let inter: Vec<f32> = offset
            .iter()
            .zip(&mean)
            .zip(&slope)
            .map(|((o, m), s)| o - m * s)
            .collect();
        let mut shape = tvec!(1, 1, 1, 1);
        shape[self.c_axis()] = slope.len();
        let slope = target.add_const(
            format!("{prefix}.slope"),
            tensor1(&slope).into_shape(&shape)?,
        )?;
        let inter = target.add_const(
            format!("{prefix}.inter"),
            tensor1(&inter).into_shape(&shape)?,
        )?;
        let y = target.wire_node(
            format!("{prefix}.mul"),
            tract_tensorflow::tract_hir::ops::math::mul(),
            &[inputs[0], slope],
        )?[0];
        let y = target.wire_node(
            format!("{prefix}.add"),
            tract_tensorflow::tract_hir::ops::math::add(),
            &[y, inter],
        )?[0];
        let mut out = tvec!(y);
        for ix in 1..self.outputs {
            out.push(if ix % 2 == 1 { inputs[3] } else { inputs[4] });
        }
        Ok(out)
    }
}
