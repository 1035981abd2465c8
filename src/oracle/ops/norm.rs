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
//! variance (`n / (n - 1)`, unchanged when `n = 1`), 4 the biased variance, and
//! V3's output 5 empty (shape `[0]`), as TensorFlow 2.21 gives them (unit tests).
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
        for (ix, output) in outputs.iter().enumerate().skip(1) {
            s.equals(&output.datum_type, f32::datum_type())?;
            s.equals(&output.rank, 1)?;
            if ix == 5 {
                s.equals(&output.shape[0], 0.to_dim())?;
            } else {
                s.equals(&output.shape[0], &inputs[0].shape[self.c_axis()])?;
            }
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
                    4 => var1,
                    _ => target.add_const(
                        format!("{prefix}.reserve_space_3"),
                        Tensor::zero::<f32>(&[0])?,
                    )?,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    //! Training-mode batch norm against TensorFlow. Expected values from TF 2.21 (CPU):
    //! ```python
    //! x = (np.arange(24, dtype=np.float32).reshape(2, 2, 3, 2) % 7) * 0.5 - 1.0  # NHWC
    //! x[..., 1] *= x[..., 1]
    //! tf.raw_ops.FusedBatchNormV3(x=x, scale=[1.5, -0.5], offset=[0.25, 2.0],
    //!     mean=np.zeros([0], np.float32), variance=np.zeros([0], np.float32), epsilon=0.01,
    //!     exponential_avg_factor=1.0, data_format="NHWC", is_training=True)
    //! ```
    //! (and the same with `np.transpose(x, (0, 3, 1, 2))`, `data_format="NCHW"`).
    use crate::oracle::{Oracle, OracleInput};
    use ndarray::{ArrayD, IxDyn};
    use tract_tensorflow::tfpb::tensorflow::{DataType, TensorProto};
    use tract_tensorflow::tfpb::{self};
    use tract_tensorflow::tract_hir::internal::*;

    /// TF's output 0 for the NHWC case, in NHWC order.
    const Y_NHWC: [f32; 24] = [
        -1.7887607, 2.3378325, -0.3496355, 2.3378325, 1.0894897, 1.4843612, 2.528615, 2.0177805,
        -1.069198, 2.4445162, 0.3699271, 2.0177805, 1.8090523, 0.7375736, -1.7887607, 2.3378325,
        -0.3496355, 2.3378325, 1.0894897, 1.4843612, 2.528615, 2.0177805, -1.069198, 2.4445162,
    ];

    fn x_nhwc() -> ArrayD<f32> {
        let mut x = ArrayD::from_shape_fn(IxDyn(&[2, 2, 3, 2]), |i| {
            let flat = ((i[0] * 2 + i[1]) * 3 + i[2]) * 2 + i[3];
            (flat % 7) as f32 * 0.5 - 1.0
        });
        x.index_axis_mut(ndarray::Axis(3), 1)
            .mapv_inplace(|v| v * v);
        x
    }

    fn konst(name: &str, t: Tensor) -> tfpb::tensorflow::NodeDef {
        let proto = TensorProto::try_from(&t).expect("tensor proto");
        tfpb::node()
            .name(name)
            .op("Const")
            .attr("dtype", DataType::DtFloat)
            .attr("value", proto)
    }

    fn graph(format: &str) -> Vec<u8> {
        tfpb::graph()
            .node(
                tfpb::node()
                    .name("x")
                    .op("Placeholder")
                    .attr("dtype", DataType::DtFloat),
            )
            .node(konst("scale", tensor1(&[1.5f32, -0.5])))
            .node(konst("offset", tensor1(&[0.25f32, 2.0])))
            .node(konst("empty", Tensor::zero::<f32>(&[0]).expect("empty")))
            .node(
                tfpb::node()
                    .name("bn")
                    .op("FusedBatchNormV3")
                    .input("x")
                    .input("scale")
                    .input("offset")
                    .input("empty")
                    .input("empty")
                    .attr("T", DataType::DtFloat)
                    .attr("U", DataType::DtFloat)
                    .attr("epsilon", 0.01f32)
                    .attr("exponential_avg_factor", 1.0f32)
                    .attr("data_format", format)
                    .attr("is_training", true),
            )
            .write_to_bytes()
            .expect("encode")
    }

    fn run(format: &str, x: &ArrayD<f32>, outputs: &[&str]) -> Vec<ArrayD<f32>> {
        let inputs = [OracleInput {
            name: "x".into(),
            shape: x.shape().to_vec(),
        }];
        let outputs: Vec<String> = outputs.iter().map(|s| s.to_string()).collect();
        let oracle = Oracle::from_bytes(&graph(format), "bn.pb", &inputs, &outputs).expect("load");
        oracle.run(std::slice::from_ref(x)).expect("run")
    }

    /// Tolerance 1e-5 absolute: values are O(1) and tract and TF only sum the 12 elements
    /// per channel in different orders (a few float32 ULPs); a wrong axis, a missing
    /// epsilon or the unbiased variance in the normalisation is off by > 1e-2.
    fn assert_close(got: &ArrayD<f32>, want: &[f32], what: &str) {
        let got: Vec<f32> = got.iter().copied().collect();
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= 1e-5, "{what}[{i}]: thaw {g} vs TF {w}");
        }
    }

    #[test]
    fn training_mode_nhwc_matches_tensorflow_on_every_output() {
        let outs = ["bn:0", "bn:1", "bn:2", "bn:3", "bn:4", "bn:5"];
        let got = run("NHWC", &x_nhwc(), &outs);
        assert_close(&got[0], &Y_NHWC, "y");
        assert_close(&got[1], &[0.41666666, 1.0416666], "batch_mean");
        assert_close(&got[2], &[1.1742425, 1.4867425], "batch_variance (Bessel)");
        assert_close(&got[3], &[0.41666666, 1.0416666], "reserve_space_1");
        assert_close(&got[4], &[1.076389, 1.3628472], "reserve_space_2");
        assert_eq!(got[5].shape(), &[0], "reserve_space_3 is empty in TF");
    }

    #[test]
    fn training_mode_nchw_normalises_over_n_h_w() {
        let x = x_nhwc().permuted_axes(IxDyn(&[0, 3, 1, 2]));
        let x = x.as_standard_layout().to_owned();
        let got = run("NCHW", &x, &["bn:0"]);
        let want = ArrayD::from_shape_vec(IxDyn(&[2, 2, 3, 2]), Y_NHWC.to_vec())
            .expect("shape")
            .permuted_axes(IxDyn(&[0, 3, 1, 2]));
        let want: Vec<f32> = want.iter().copied().collect();
        assert_close(&got[0], &want, "y (NCHW)");
    }
}
