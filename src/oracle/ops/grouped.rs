//! Grouped `Conv2D`: TensorFlow runs a `Conv2D` whose kernel has fewer input
//! channels than its input as a grouped convolution (`groups = C_in / I`,
//! Keras's `Conv2D(groups=...)`), but nothing in the node says so: the group
//! count only follows from the two input shapes.
//!
//! Why thaw has this: tract's hir `Conv` takes `group` as a build-time
//! parameter and otherwise requires `C_in == I`, so tract-tensorflow's (and
//! thaw's) `Conv2D` builder refuses a grouped graph at analysis time. [`TfConv2D`]
//! wraps the `Conv` the builder made and picks the group count when it is wired,
//! once the input and kernel shapes are known; `groups = 1` is the ordinary
//! convolution, so every `Conv2D` goes through it. tract's grouped HWIO kernel
//! layout differs from TF's (see [`TfConv2D::wire`]), so a grouped kernel is
//! transposed to OIHW, where tract's grouping is TF's.
//!
//! Not handled: a kernel whose shape is unknown at wiring time (TF requires a
//! constant-shaped filter anyway).

use tract_tensorflow::tract_hir::internal::*;
use tract_tensorflow::tract_hir::ops::cnn::Conv;
use tract_tensorflow::tract_hir::tract_core::ops::cnn::KernelFormat;

/// A TF `Conv2D` whose group count is `C_in / kernel_in`.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct TfConv2D(pub Conv);

impl Expansion for TfConv2D {
    fn name(&self) -> StaticName {
        "ThawTfConv2D".into()
    }

    fn validation(&self) -> Validation {
        Validation::Rounding
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].rank, 4)?;
        s.equals(&inputs[1].rank, 4)?;
        s.equals(&outputs[0].rank, 4)?;
        s.equals(&inputs[0].datum_type, &inputs[1].datum_type)?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        s.given_2(
            &inputs[0].shape,
            &inputs[1].shape,
            move |s, ishape, kshape| {
                let Some(kshape) = kshape
                    .iter()
                    .map(|d| d.to_usize().ok())
                    .collect::<Option<TVec<_>>>()
                else {
                    return Ok(());
                };
                // The output has the kernel's total output channels whatever the group count.
                let oshape = self.0.output_shape(&ishape, &kshape)?;
                s.equals(&outputs[0].shape, oshape)
            },
        )
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let input = model.outlet_fact(inputs[0])?.clone();
        let kernel = model.outlet_fact(inputs[1])?.clone();
        let kshape = kernel
            .shape
            .as_concrete()
            .context("Conv2D: the filter's shape must be known")?;
        let ki = *self.0.kernel_fmt.i(kshape);
        let c = self
            .0
            .data_format
            .shape(input.shape.to_tvec())?
            .c_dim()
            .to_usize()
            .context("Conv2D: the input's channel count must be known")?;
        if ki == 0 || !c.is_multiple_of(ki) {
            bail!("Conv2D: the filter's {ki} input channels do not divide the input's {c}");
        }
        let groups = c / ki;
        let out = *self.0.kernel_fmt.o(kshape);
        if !out.is_multiple_of(groups) {
            bail!("Conv2D: {out} filters do not split into {groups} groups");
        }
        if groups == 1 {
            return self.0.wire(prefix, model, inputs);
        }
        // tract's HWIO means (h, w, C_in, O/groups) when grouped, TF's is
        // (h, w, C_in/groups, O). tract's OIHW is TF's grouping (groups split O,
        // I is per group): transpose the kernel (h, w, i, o) -> (o, i, h, w).
        let mut k = inputs[1];
        for (ix, op) in [AxisOp::Move(3, 0), AxisOp::Move(3, 1)]
            .into_iter()
            .enumerate()
        {
            k = model.wire_node(format!("{prefix}.kernel_oihw_{ix}"), op, &[k])?[0];
        }
        let conv = Conv {
            kernel_fmt: KernelFormat::OIHW,
            ..self.0.clone()
        };
        conv.group(groups).wire(prefix, model, &[inputs[0], k])
    }
}
