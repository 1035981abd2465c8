//! `Conv2DBackpropInput`: the transposed convolution Keras's `Conv2DTranspose`
//! freezes to (Keras 3 and tf-keras alike; TF1's `conv2d_transpose` too).
//!
//! Why thaw has its own: tract-tensorflow 0.23 registers no builder for it.
//!
//! Semantics (TF docs): inputs `input_sizes` (the 4-D output shape, often computed
//! at run time as `Pack(StridedSlice(Shape(x)), H, W, C)` for the dynamic batch),
//! `filter` `(kh, kw, out_channels, in_channels)` and `out_backprop` (the data,
//! NHWC). The result is the gradient of a forward `Conv2D` with that filter,
//! strides, dilations and padding over an input of `input_sizes`: each input
//! pixel spreads `x · filter` over the output; the forward padding (SAME: TF's
//! `max((in-1)*s + (k-1)*d + 1 - out, 0)`, half before, the odd one after;
//! EXPLICIT: `explicit_paddings`; VALID: none) crops the front, and the output
//! is cut or zero-extended at the end to exactly `input_sizes`.
//!
//! Wired as tract-core's `Deconv` (the ONNX ConvTranspose kernel), with the filter's
//! last two axes swapped into tract's HWIO (I = the data's channels), explicit
//! padding and tract's "adjustments" for the tail a forward stride leaves.
//!
//! Not handled: NCHW, non-constant `input_sizes` once shapes are known (the oracle
//! always fixes input shapes, so the `Shape`-derived batch folds), quantised types.

use super::Builder;
use tract_tensorflow::model::ParsingContext;
use tract_tensorflow::tfpb::tensorflow::NodeDef;
use tract_tensorflow::tract_core::ops::cnn::{Deconv, KernelFormat, PaddingSpec, PoolSpec};
use tract_tensorflow::tract_core::ops::nn::DataFormat;
use tract_tensorflow::tract_hir::internal::*;

pub const BUILDERS: &[(&str, Builder)] = &[("Conv2DBackpropInput", conv2d_backprop_input)];

/// How the forward convolution pads, per the node's attributes.
#[derive(Debug, Clone, PartialEq)]
enum Pad {
    Valid,
    Same,
    /// (before, after) for H and W.
    Explicit([(usize, usize); 2]),
}

#[derive(Debug, Clone)]
struct BackpropInput {
    strides: [usize; 2],
    dilations: [usize; 2],
    pad: Pad,
}

fn hw_list(node: &NodeDef, attr: &str) -> TractResult<[usize; 2]> {
    let v: Vec<usize> = node
        .get_attr_opt_list_int(attr)?
        .unwrap_or_else(|| vec![1; 4]);
    match v.as_slice() {
        [1, h, w, 1] if *h > 0 && *w > 0 => Ok([*h, *w]),
        _ => bail!("{attr} must be [1, h, w, 1] (NHWC), found {v:?}"),
    }
}

fn conv2d_backprop_input(
    _ctx: &ParsingContext,
    node: &NodeDef,
) -> TractResult<Box<dyn InferenceOp>> {
    if super::nchw(node)? {
        bail!("NCHW Conv2DBackpropInput is not supported");
    }
    let pad = match node.get_attr_raw_str("padding")? {
        b"VALID" => Pad::Valid,
        b"SAME" => Pad::Same,
        b"EXPLICIT" => {
            let p: Vec<usize> = node.get_attr_list_int("explicit_paddings")?;
            if p.len() != 8 {
                bail!("explicit_paddings must have 8 entries, found {p:?}");
            }
            Pad::Explicit([(p[2], p[3]), (p[4], p[5])])
        }
        other => bail!("unsupported padding {}", String::from_utf8_lossy(other)),
    };
    Ok(expand(BackpropInput {
        strides: hw_list(node, "strides")?,
        dilations: hw_list(node, "dilations")?,
        pad,
    }))
}

fn sizes(t: &Tensor) -> TractResult<Vec<usize>> {
    let v = t.cast_to::<i64>()?;
    v.try_as_plain_ram()?
        .as_slice::<i64>()?
        .iter()
        .map(|&x| usize::try_from(x).map_err(|_| format_err!("negative size {x} in input_sizes")))
        .collect()
}

impl BackpropInput {
    /// Explicit (before, after) padding and adjustment for one axis: `input` is the
    /// data's length, `output` the requested one.
    fn axis(
        &self,
        ax: usize,
        input: usize,
        output: usize,
        kernel: usize,
    ) -> TractResult<(usize, usize, usize)> {
        let (s, d) = (self.strides[ax], self.dilations[ax]);
        let eff = (kernel - 1) * d + 1;
        let full = (input.max(1) - 1) * s + eff;
        let (before, after) = match &self.pad {
            Pad::Valid => (0, 0),
            Pad::Same => {
                let total = (output.div_ceil(s).max(1) - 1) * s + eff;
                let total = total.saturating_sub(output);
                (total / 2, total - total / 2)
            }
            Pad::Explicit(p) => p[ax],
        };
        // tract: out = full - before - after + adjustment.
        let adj = (output + before + after).checked_sub(full).ok_or_else(|| {
            format_err!(
                "output size {output} is too small for input {input}, kernel {kernel}, \
                     stride {s}, padding ({before}, {after})"
            )
        })?;
        // A forward convolution over `output` gives back `input` only if the tail it
        // skips is shorter than a stride.
        if adj >= s {
            bail!("output size {output} does not fit input {input} (stride {s}, kernel {kernel})");
        }
        Ok((before, after, adj))
    }
}

impl Expansion for BackpropInput {
    fn name(&self) -> StaticName {
        "ThawConv2DBackpropInput".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 3)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[2].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[2].rank, 4)?;
        s.equals(&inputs[1].rank, 4)?;
        s.equals(&outputs[0].rank, 4)?;
        s.equals(&inputs[1].shape[3], &inputs[2].shape[3])?;
        s.equals(&inputs[1].shape[2], &outputs[0].shape[3])?;
        s.equals(&inputs[2].shape[0], &outputs[0].shape[0])?;
        s.given(&inputs[0].value, move |s, v| {
            let v = v.cast_to::<TDim>()?;
            let dims: TVec<TDim> = v.try_as_plain_ram()?.as_slice::<TDim>()?.into();
            if dims.len() != 4 {
                bail!("input_sizes must have 4 entries, found {dims:?}");
            }
            s.equals(&outputs[0].shape[1], dims[1].clone())?;
            s.equals(&outputs[0].shape[2], dims[2].clone())
        })
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let out_size = match &model.outlet_fact(inputs[0])?.konst {
            Some(k) => sizes(k)?,
            None => bail!("input_sizes is not a constant once the input shape is fixed"),
        };
        let filter = model.outlet_fact(inputs[1])?.clone();
        let x = model.outlet_fact(inputs[2])?.clone();
        let fshape: TVec<usize> = filter
            .shape
            .as_concrete()
            .ok_or_else(|| format_err!("the filter's shape is not known"))?
            .into();
        let &[kh, kw, co, ci] = fshape.as_slice() else {
            bail!("filter must be 4-D (kh, kw, out, in), found {fshape:?}");
        };
        let xs: Vec<usize> = x
            .shape
            .iter()
            .map(|d| d.to_usize().ok())
            .collect::<Option<_>>()
            .ok_or_else(|| format_err!("the data's shape {:?} must be known", x.shape))?;
        if out_size.len() != 4 || xs.len() != 4 || out_size[3] != co || xs[3] != ci {
            bail!(
                "input_sizes {out_size:?}, filter {fshape:?} and data {xs:?} do not fit together"
            );
        }
        let (bh, ah, jh) = self.axis(0, xs[1], out_size[1], kh)?;
        let (bw, aw, jw) = self.axis(1, xs[2], out_size[2], kw)?;
        // TF (kh, kw, out, in) -> tract HWIO with I = the data's channels.
        let kernel = model.wire_node(
            format!("{prefix}.kernel_hwio"),
            AxisOp::Move(3, 2),
            &[inputs[1]],
        )?[0];
        let bias = model.add_const(
            format!("{prefix}.bias"),
            Tensor::zero_dt(x.datum_type, &[co])?,
        )?;
        let pool_spec = PoolSpec {
            data_format: DataFormat::NHWC,
            kernel_shape: tvec!(kh, kw),
            padding: PaddingSpec::Explicit(tvec!(bh, bw), tvec!(ah, aw)),
            dilations: Some(tvec!(self.dilations[0], self.dilations[1])),
            strides: Some(tvec!(self.strides[0], self.strides[1])),
            input_channels: ci,
            output_channels: co,
        };
        let op = Deconv::new(pool_spec, KernelFormat::HWIO, tvec!(jh, jw), 1);
        model.wire_node(prefix, op, &[inputs[2], kernel, bias])
    }
}
