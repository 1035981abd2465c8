//! Transposed convolutions → `Conv2DTranspose`.
//!
//! Matches `Conv2DBackpropInput(input_sizes, filter, x)` as Keras 3 and tf-keras
//! freeze `Conv2DTranspose` (and TF1's `tf.nn.conv2d_transpose`):
//! - `input_sizes` a constant, or `Pack(StridedSlice(Shape(x)), H, W, C)` with
//!   the dynamic batch (Keras 3 names it `conv_transpose/input_sizes`, tf-keras
//!   `stack`); it folds with the batch as [`super::consts::BATCH`];
//! - `filter` `(kh, kw, filters, in)`, which is Keras's own kernel layout, copied
//!   as is;
//! - NHWC, any strides, SAME or VALID, dilations 1;
//! - bias and fused activation after it as for `Conv2D` (tf-keras: `BiasAdd(b)`,
//!   Keras 3: `BiasAdd(Squeeze(Reshape(b)))`).
//!
//! The requested output size must be the one Keras's `Conv2DTranspose` computes
//! without `output_padding` (`in*s` for same, `in*s + max(k-s, 0)` for valid);
//! any other size (TF1 graphs may ask for `in*s - 1`) is refused with that reason.
//!
//! Not handled yet: `output_padding` (a different output size), dilations > 1,
//! NCHW, `Conv3DBackpropInputV2`, the Conv1DTranspose `ExpandDims` form.

use super::consts::BATCH;
use super::conv::tail;
use super::ctx::{Ctx, Emit, Match, weight};
use super::rules::{LAYER, RuleEntry};
use crate::graph::pb::NodeDef;
use crate::graph::{NodeExt, TensorId};
use crate::keras::{LayerKind, Padding};

/// The H and W entries of a `[1, h, w, 1]` attribute (absent → 1s).
fn hw(node: &NodeDef, attr: &str) -> Result<[usize; 2], String> {
    let v = node.attr_ints(attr).unwrap_or_else(|_| vec![1; 4]);
    match v.as_slice() {
        [1, h, w, 1] if *h > 0 && *w > 0 => Ok([*h as usize, *w as usize]),
        _ => Err(format!("{attr} {v:?} must be [1, h, w, 1]")),
    }
}

/// Keras's `deconv_output_length` without output_padding, dilation 1.
fn keras_out(input: usize, kernel: usize, stride: usize, padding: Padding) -> Option<usize> {
    let base = input.checked_mul(stride)?;
    match padding {
        Padding::Same => Some(base),
        Padding::Valid => base.checked_add(kernel.saturating_sub(stride)),
    }
}

pub fn conv2d_transpose(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    if let Ok(f) = node.attr_str("data_format")
        && f != "NHWC"
    {
        return Err(format!("data_format {f} is not supported (only NHWC)"));
    }
    let x = ctx.layer_input(node, 2)?;
    let kernel = ctx.const_f32(node, 1)?;
    let &[kh, kw, filters, ci] = kernel.shape() else {
        return Err(format!("filter has rank {}, expected 4", kernel.ndim()));
    };
    let strides = hw(node, "strides")?;
    if hw(node, "dilations")? != [1, 1] {
        return Err("dilations > 1 are not supported".into());
    }
    let padding = match node
        .attr_str("padding")
        .map_err(|e| e.to_string())?
        .as_str()
    {
        "SAME" => Padding::Same,
        "VALID" => Padding::Valid,
        other => return Err(format!("padding {other} is not supported")),
    };
    let shape = ctx.shape(&x).ok_or("the input's shape is unknown")?;
    let [_, Some(h), Some(w), Some(c)] = shape.as_slice() else {
        return Err(format!(
            "the input's shape {shape:?} is not a known NHWC shape"
        ));
    };
    if *c != ci {
        return Err(format!(
            "filter expects {ci} input channels, the input has {c}"
        ));
    }
    let sizes = ctx.const_shape(node, 0)?;
    let want = [
        keras_out(*h, kh, strides[0], padding),
        keras_out(*w, kw, strides[1], padding),
    ];
    match sizes.as_slice() {
        [_, oh, ow, oc]
            if want == [usize::try_from(*oh).ok(), usize::try_from(*ow).ok()]
                && usize::try_from(*oc).ok() == Some(filters) => {}
        _ => {
            let batch = |v: i64| {
                if v == BATCH {
                    "batch".to_string()
                } else {
                    v.to_string()
                }
            };
            return Err(format!(
                "output size [{}] is not Keras's Conv2DTranspose output {want:?} \
                 (output_padding is not supported)",
                sizes
                    .iter()
                    .map(|&v| batch(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let t = tail(ctx, node, TensorId::new(node.name.clone(), 0), filters);
    let use_bias = t.bias.is_some();
    let mut weights = vec![weight("kernel", kernel)];
    if let Some(b) = t.bias {
        weights.push(weight("bias", b));
    }
    let mut nodes = vec![node.name.clone()];
    nodes.extend(t.nodes);
    Ok(Match::one(Emit {
        name: ctx.layer_name(node),
        kind: LayerKind::Conv2DTranspose {
            filters,
            kernel_size: [kh, kw],
            strides,
            padding,
            use_bias,
            activation: t.activation,
        },
        weights,
        inputs: vec![x],
        output: t.output,
        more_outputs: Vec::new(),
        nodes,
    }))
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[RuleEntry::new(
    "Conv2DBackpropInput",
    "conv2d_transpose",
    LAYER,
    conv2d_transpose,
)];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keras_output_lengths() {
        assert_eq!(keras_out(16, 3, 2, Padding::Same), Some(32));
        assert_eq!(keras_out(16, 3, 2, Padding::Valid), Some(33));
        assert_eq!(keras_out(16, 2, 2, Padding::Valid), Some(32));
        assert_eq!(keras_out(16, 1, 2, Padding::Valid), Some(32));
        assert_eq!(keras_out(usize::MAX, 3, 2, Padding::Same), None);
    }
}
