//! Batch normalisation: `FusedBatchNorm` (TF1, 5 outputs), `FusedBatchNormV2`
//! (5 outputs) and `FusedBatchNormV3` (tf-keras, 6 outputs), in inference mode and
//! in training mode (`is_training = true`).
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
//! Training mode (`is_training = true`) is what a frozen tf-keras
//! `LayerNormalization` leaves when its epsilon allows the fused kernel
//! (>= 1.001e-5): `x` reshaped to NCHW `[1, rows, features, 1]`, scale = ones,
//! offset = zeros (built at run time by `Fill`), empty mean/variance. TensorFlow
//! then normalises with the batch statistics: per channel, mean and biased variance
//! over N, H, W (`y = (x - mean) / sqrt(var + epsilon) * scale + offset`), which is
//! what [`FusedBatchNormTraining`] computes (any `scale`/`offset` tensors, NHWC or
//! NCHW). Its side outputs follow TensorFlow's CPU kernel with
//! `exponential_avg_factor = 1`: 1 and 3 the batch mean, 2 the Bessel-corrected
//! variance (`n / (n - 1)`, unchanged when `n = 1`), 4 the biased variance; V3's
//! output 5 (a reserve space with no defined value) repeats the biased variance.
//!
//! Not handled: `exponential_avg_factor != 1` in training mode (only the side
//! outputs 1 and 2 would differ; refused), inference-mode non-Const parameters,
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
    let epsilon = node.get_attr_opt_float::<f32>("epsilon")?.unwrap_or(1e-4);
    let nchw = super::nchw(node)?;
    if node.get_attr_opt_bool("is_training")?.unwrap_or(true) {
        let factor = node
            .get_attr_opt_float::<f32>("exponential_avg_factor")?
            .unwrap_or(1.0);
        if factor != 1.0 {
            bail!(
                "is_training with exponential_avg_factor {factor}: thaw computes batch statistics only for factor 1"
            );
        }
        return Ok(expand(FusedBatchNormTraining {
            epsilon,
            nchw,
            outputs,
        }));
    }
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

/// `FusedBatchNorm*` with `is_training = true`: normalises with the statistics of
/// the batch itself (see the module header).
#[derive(Debug, Clone)]
struct FusedBatchNormTraining {
    epsilon: f32,
    nchw: bool,
    outputs: usize,
}

impl FusedBatchNormTraining {
    fn c_axis(&self) -> usize {
        if self.nchw { 1 } else { 3 }
    }

    /// The axes the statistics are taken over (all but the channel axis), ascending.
    fn stat_axes(&self) -> TVec<usize> {
        (0..4).filter(|&a| a != self.c_axis()).collect()
    }
}

impl Expansion for FusedBatchNormTraining {
    fn name(&self) -> StaticName {
        "ThawFusedBatchNormTraining".into()
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
        // scale and offset; inputs 3 and 4 (running mean/variance) are unused and
        // usually empty in training mode.
        for input in &inputs[1..3] {
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
        use tract_tensorflow::tract_core::ops::math;
        use tract_tensorflow::tract_core::ops::nn::{Reduce, Reducer};
        let axes = self.stat_axes();
        let x_fact = target.outlet_fact(inputs[0])?.clone();
        let mut n = 1usize;
        for &a in &axes {
            n *= x_fact.shape[a]
                .to_usize()
                .with_context(|| format!("batch norm input dimension {a} is not known"))?;
        }
        if n == 0 {
            bail!("batch norm input has no element per channel");
        }
        let scalar = |target: &mut TypedModel, name: &str, v: f32| -> TractResult<OutletId> {
            target.add_const(
                format!("{prefix}.{name}"),
                tensor0(v).broadcast_into_rank(4)?,
            )
        };
        let reduce = |reducer| Reduce {
            axes: axes.clone(),
            reducer,
        };
        // mean = sum / n, var = mean((x - mean)^2): both keep rank 4 (size 1 on `axes`).
        let sum = target.wire_node(format!("{prefix}.sum"), reduce(Reducer::Sum), &[inputs[0]])?[0];
        let inv_n = scalar(target, "inv_n", 1.0 / n as f32)?;
        let mean = target.wire_node(format!("{prefix}.mean"), math::mul(), &[sum, inv_n])?[0];
        let centered = target.wire_node(
            format!("{prefix}.centered"),
            math::sub(),
            &[inputs[0], mean],
        )?[0];
        let var = target.wire_node(
            format!("{prefix}.var"),
            reduce(Reducer::MeanOfSquares),
            &[centered],
        )?[0];
        let eps = scalar(target, "eps", self.epsilon)?;
        let var_eps = target.wire_node(format!("{prefix}.var_eps"), math::add(), &[var, eps])?[0];
        let inv = target.wire_node(format!("{prefix}.rsqrt"), math::rsqrt(), &[var_eps])?[0];
        let mut y = target.wire_node(format!("{prefix}.norm"), math::mul(), &[centered, inv])?[0];
        // scale and offset: (C) -> rank 4 with C on the channel axis.
        let per_channel = |target: &mut TypedModel, ix: usize, name: &str| {
            let mut w = inputs[ix];
            for &a in &axes {
                w = target.wire_node(
                    format!("{prefix}.{name}.add_axis{a}"),
                    AxisOp::Add(a),
                    &[w],
                )?[0];
            }
            TractResult::Ok(w)
        };
        let scale = per_channel(target, 1, "scale")?;
        let offset = per_channel(target, 2, "offset")?;
        y = target.wire_node(format!("{prefix}.scaled"), math::mul(), &[y, scale])?[0];
        y = target.wire_node(format!("{prefix}.shifted"), math::add(), &[y, offset])?[0];
        // Side outputs: rank-1 statistics.
        let squeeze = |target: &mut TypedModel, w: OutletId, name: &str| {
            let mut w = w;
            for &a in axes.iter().rev() {
                w = target.wire_node(format!("{prefix}.{name}.rm_axis{a}"), AxisOp::Rm(a), &[w])?
                    [0];
            }
            TractResult::Ok(w)
        };
        let mut out = tvec!(y);
        if self.outputs > 1 {
            let mean1 = squeeze(target, mean, "batch_mean")?;
            let var1 = squeeze(target, var, "batch_var")?;
            let adjust = if n > 1 {
                n as f32 / (n - 1) as f32
            } else {
                1.0
            };
            let adjust = target.add_const(format!("{prefix}.bessel"), tensor1(&[adjust]))?;
            let unbiased =
                target.wire_node(format!("{prefix}.unbiased"), math::mul(), &[var1, adjust])?[0];
            for ix in 1..self.outputs {
                out.push(match ix {
                    1 | 3 => mean1,
                    2 => unbiased,
                    _ => var1,
                });
            }
        }
        Ok(out)
    }
}
