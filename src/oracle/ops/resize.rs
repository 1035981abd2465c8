//! `ResizeBilinear` and `ResizeNearestNeighbor` (NHWC images, constant `size`), as
//! tf-keras's `UpSampling2D`, Keras 3's bilinear `UpSampling2D` and `tf.image.resize`
//! freeze them.
//!
//! Why thaw has its own: tract-tensorflow 0.23 registers neither op.
//!
//! Semantics (TensorFlow's `image_resizer_state.h` / `resize_*_op.cc`), per axis with
//! `scale = (in-1)/(out-1)` when `align_corners` and `out > 1`, else `in/out`:
//! - bilinear: source `(o + 0.5) * scale - 0.5` with `half_pixel_centers`, else
//!   `o * scale`; rows `max(floor(src), 0)` and `min(ceil(src), in-1)`, weight of
//!   the upper row `src - floor(src)`;
//! - nearest: source `(o + 0.5) * scale` with `half_pixel_centers`, else
//!   `o * scale`; index `round(src)` with `align_corners`, else `floor(src)`,
//!   clamped to `[0, in-1]`.
//!
//! Both are separable linear maps, so each becomes two tract `EinSum`s with constant
//! `(out, in)` interpolation matrices: `out = A_h · x · A_wᵀ`. Nearest is exact (one
//! 1.0 per row); bilinear sums the same two or four weighted terms as TF, in a
//! different order (a few f32 ULPs). A 0 weight times an infinite input gives NaN
//! where TF gives the finite neighbour: irrelevant for finite verification inputs.
//!
//! Not handled: non-constant `size` once input shapes are fixed, `ResizeBicubic`,
//! `ResizeArea`, `ScaleAndTranslate` (antialiased `tf.image.resize`).

use super::Builder;
use tract_tensorflow::model::ParsingContext;
use tract_tensorflow::tfpb::tensorflow::NodeDef;
use tract_tensorflow::tract_core::ndarray::Array2;
use tract_tensorflow::tract_core::ops::einsum::EinSum;
use tract_tensorflow::tract_hir::internal::*;

pub const BUILDERS: &[(&str, Builder)] = &[
    ("ResizeBilinear", |c, n| resize(c, n, Method::Bilinear)),
    ("ResizeNearestNeighbor", |c, n| {
        resize(c, n, Method::Nearest)
    }),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Method {
    Bilinear,
    Nearest,
}

#[derive(Debug, Clone)]
struct Resize {
    method: Method,
    align_corners: bool,
    half_pixel_centers: bool,
}

fn resize(
    _ctx: &ParsingContext,
    node: &NodeDef,
    method: Method,
) -> TractResult<Box<dyn InferenceOp>> {
    let align_corners = node.get_attr_opt_bool("align_corners")?.unwrap_or(false);
    let half_pixel_centers = node
        .get_attr_opt_bool("half_pixel_centers")?
        .unwrap_or(false);
    if align_corners && half_pixel_centers {
        // TF refuses this combination too.
        bail!("align_corners and half_pixel_centers cannot both be true");
    }
    Ok(expand(Resize {
        method,
        align_corners,
        half_pixel_centers,
    }))
}

fn out_size(t: &Tensor) -> TractResult<[usize; 2]> {
    let v = t.cast_to::<i64>()?;
    match v.try_as_plain_ram()?.as_slice::<i64>()? {
        [h, w] if *h > 0 && *w > 0 => Ok([*h as usize, *w as usize]),
        other => bail!("size must be 2 positive integers, found {other:?}"),
    }
}

impl Resize {
    /// The `(out, in)` interpolation matrix of one axis, in f32 as TF computes it.
    pub(crate) fn matrix(&self, input: usize, out: usize) -> Array2<f32> {
        let mut m = Array2::<f32>::zeros((out, input));
        if input == 0 {
            return m;
        }
        let scale = if self.align_corners && out > 1 {
            (input - 1) as f32 / (out - 1) as f32
        } else {
            input as f32 / out as f32
        };
        let last = (input - 1) as f32;
        for o in 0..out {
            let o_f = o as f32;
            match self.method {
                Method::Bilinear => {
                    let src = if self.half_pixel_centers {
                        (o_f + 0.5) * scale - 0.5
                    } else {
                        o_f * scale
                    };
                    let floor = src.floor();
                    let lo = floor.max(0.0).min(last) as usize;
                    let hi = src.ceil().max(0.0).min(last) as usize;
                    let frac = src - floor;
                    m[[o, lo]] += 1.0 - frac;
                    m[[o, hi]] += frac;
                }
                Method::Nearest => {
                    let src = if self.half_pixel_centers {
                        (o_f + 0.5) * scale
                    } else {
                        o_f * scale
                    };
                    let idx = if self.align_corners {
                        src.round()
                    } else {
                        src.floor()
                    };
                    m[[o, idx.max(0.0).min(last) as usize]] = 1.0;
                }
            }
        }
        m
    }
}

impl Expansion for Resize {
    fn name(&self) -> StaticName {
        match self.method {
            Method::Bilinear => "ThawResizeBilinear".into(),
            Method::Nearest => "ThawResizeNearestNeighbor".into(),
        }
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        match self.method {
            // TF's ResizeBilinear always returns float32.
            Method::Bilinear => s.equals(&outputs[0].datum_type, f32::datum_type())?,
            Method::Nearest => s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?,
        }
        s.equals(&inputs[0].rank, 4)?;
        s.equals(&outputs[0].rank, 4)?;
        s.equals(&inputs[0].shape[0], &outputs[0].shape[0])?;
        s.equals(&inputs[0].shape[3], &outputs[0].shape[3])?;
        s.given(&inputs[1].value, move |s, size| {
            let [h, w] = out_size(&size)?;
            s.equals(&outputs[0].shape[1], h.to_dim())?;
            s.equals(&outputs[0].shape[2], w.to_dim())
        })
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let [oh, ow] = match &model.outlet_fact(inputs[1])?.konst {
            Some(k) => out_size(k)?,
            None => bail!("size is not a constant"),
        };
        let fact = model.outlet_fact(inputs[0])?.clone();
        if fact.rank() != 4 {
            bail!("images must be 4-D NHWC, found {:?}", fact.shape);
        }
        let h = fact.shape[1]
            .to_usize()
            .context("the image height must be known")?;
        let w = fact.shape[2]
            .to_usize()
            .context("the image width must be known")?;
        let mut x = inputs[0];
        if fact.datum_type != f32::datum_type() {
            x = model.wire_node(
                format!("{prefix}.to_f32"),
                tract_tensorflow::tract_core::ops::cast::cast(f32::datum_type()),
                &[x],
            )?[0];
        }
        let ah = model.add_const(format!("{prefix}.rows"), self.matrix(h, oh).into_tensor())?;
        let aw = model.add_const(format!("{prefix}.cols"), self.matrix(w, ow).into_tensor())?;
        let einsum = |expr: &str| -> TractResult<EinSum> {
            Ok(EinSum {
                axes: expr.parse()?,
                operating_dt: f32::datum_type(),
                q_params: None,
            })
        };
        let y = model.wire_node(
            format!("{prefix}.rows_mix"),
            einsum("oh,nhwc->nowc")?,
            &[ah, x],
        )?;
        let mut y = model.wire_node(
            format!("{prefix}.cols_mix"),
            einsum("pw,nowc->nopc")?,
            &[aw, y[0]],
        )?;
        if self.method == Method::Nearest && fact.datum_type != f32::datum_type() {
            y = model.wire_node(
                format!("{prefix}.back"),
                tract_tensorflow::tract_core::ops::cast::cast(fact.datum_type),
                &y,
            )?;
        }
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(method: Method, align_corners: bool, half_pixel_centers: bool) -> Resize {
        Resize {
            method,
            align_corners,
            half_pixel_centers,
        }
    }

    #[test]
    fn bilinear_matrices_follow_tf() {
        // Half-pixel, 2 → 4: sources -0.25, 0.25, 0.75, 1.25 (clamped at both ends).
        let m = op(Method::Bilinear, false, true).matrix(2, 4);
        assert_eq!(
            m.as_slice().unwrap(),
            &[1.0, 0.0, 0.75, 0.25, 0.25, 0.75, 0.0, 1.0]
        );
        // align_corners, 2 → 3: scale 1/2, sources 0, 0.5, 1.
        let m = op(Method::Bilinear, true, false).matrix(2, 3);
        assert_eq!(m.as_slice().unwrap(), &[1.0, 0.0, 0.5, 0.5, 0.0, 1.0]);
        // Legacy (neither), 2 → 4: sources 0, 0.5, 1, 1.5 → the last clamps to row 1.
        let m = op(Method::Bilinear, false, false).matrix(2, 4);
        assert_eq!(
            m.as_slice().unwrap(),
            &[1.0, 0.0, 0.5, 0.5, 0.0, 1.0, 0.0, 1.0]
        );
    }

    #[test]
    fn nearest_matrices_follow_tf() {
        // Half-pixel, 3 → 6: (o + 0.5) / 2 floored = 0, 0, 1, 1, 2, 2.
        let m = op(Method::Nearest, false, true).matrix(3, 6);
        let idx: Vec<usize> = m
            .rows()
            .into_iter()
            .map(|r| r.iter().position(|&v| v == 1.0).unwrap())
            .collect();
        assert_eq!(idx, vec![0, 0, 1, 1, 2, 2]);
        // align_corners, 3 → 5: scale 0.5, roundf (half away from zero) of 0, .5, 1, 1.5, 2
        // → 0, 1, 1, 2, 2.
        let m = op(Method::Nearest, true, false).matrix(3, 5);
        let idx: Vec<usize> = m
            .rows()
            .into_iter()
            .map(|r| r.iter().position(|&v| v == 1.0).unwrap())
            .collect();
        assert_eq!(idx, vec![0, 1, 1, 2, 2]);
    }
}
