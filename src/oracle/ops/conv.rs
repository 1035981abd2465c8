//! Convolutions: `Conv2D` and `DepthwiseConv2dNative` with strides, dilations and
//! VALID / SAME / EXPLICIT padding, NHWC or NCHW.
//!
//! Why thaw has its own: tract-tensorflow 0.23's `Conv2D` builder ignores the
//! `dilations` attribute (a dilated conv silently computes an undilated one) and both
//! builders refuse `padding = "EXPLICIT"` ("unsupported Padding EXPLICIT").
//!
//! Semantics: TF's SAME is tract's `SameUpper` (extra pad after); EXPLICIT reads the
//! `explicit_paddings` attribute, (before, after) per axis in `data_format` order.
//! `Conv2D` becomes tract's hir `Conv` (HWIO kernel); the depthwise op reuses
//! tract-tensorflow's own `DepthwiseConv2d` expansion, only with thaw's padding.
//!
//! Grouped Conv2D (input channels a multiple of the kernel's) goes through
//! [`super::grouped::TfConv2D`].
//!
//! Not handled: `Conv2DBackpropInput` (transposed conv), `Conv3D`.

use super::Builder;
use tract_tensorflow::model::ParsingContext;
use tract_tensorflow::ops::nn::dw_conv2d::DepthwiseConv2d;
use tract_tensorflow::tfpb::tensorflow::NodeDef;
use tract_tensorflow::tract_hir::internal::*;
use tract_tensorflow::tract_hir::ops::cnn::{Conv, PaddingSpec};
use tract_tensorflow::tract_hir::ops::nn::DataFormat;

pub const BUILDERS: &[(&str, Builder)] =
    &[("Conv2D", conv2d), ("DepthwiseConv2dNative", depthwise)];

/// The spatial (H, W) axes of a 4-D tensor in the node's data format.
fn hw_axes(node: &NodeDef) -> TractResult<[usize; 2]> {
    Ok(if super::nchw(node)? { [2, 3] } else { [1, 2] })
}

/// A 4-entry list attribute (`strides`, `dilations`), checked to be 1 on N and C.
fn list4(node: &NodeDef, attr: &str) -> TractResult<Vec<usize>> {
    let v: Vec<usize> = node
        .get_attr_opt_list_int(attr)?
        .unwrap_or_else(|| vec![1; 4]);
    let [n, c] = if super::nchw(node)? { [0, 1] } else { [0, 3] };
    if v.len() != 4 || v[n] != 1 || v[c] != 1 {
        bail!("{attr} must have 4 entries with 1 on batch and channels, found {v:?}");
    }
    Ok(v)
}

/// TF's padding attribute as tract's padding spec.
fn padding(node: &NodeDef) -> TractResult<PaddingSpec> {
    match node.get_attr_raw_str("padding")? {
        b"VALID" => Ok(PaddingSpec::Valid),
        b"SAME" => Ok(PaddingSpec::SameUpper),
        b"EXPLICIT" => {
            let p: Vec<usize> = node.get_attr_list_int("explicit_paddings")?;
            if p.len() != 8 {
                bail!("explicit_paddings must have 8 entries, found {p:?}");
            }
            let [h, w] = hw_axes(node)?;
            Ok(PaddingSpec::Explicit(
                tvec!(p[2 * h], p[2 * w]),
                tvec!(p[2 * h + 1], p[2 * w + 1]),
            ))
        }
        other => bail!("unsupported padding {}", String::from_utf8_lossy(other)),
    }
}

fn conv2d(_ctx: &ParsingContext, node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    let [h, w] = hw_axes(node)?;
    let strides = list4(node, "strides")?;
    let dilations = list4(node, "dilations")?;
    let mut op = Conv::default()
        .hwio()
        .padding(padding(node)?)
        .strides(tvec!(strides[h], strides[w]))
        .dilations(tvec!(dilations[h], dilations[w]));
    if !super::nchw(node)? {
        op = op.nhwc();
    }
    // The group count (C_in / kernel_in) is only known once shapes are: see grouped.rs.
    Ok(expand(super::grouped::TfConv2D(op)))
}

fn depthwise(_ctx: &ParsingContext, node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    let format = if super::nchw(node)? {
        DataFormat::NCHW
    } else {
        DataFormat::NHWC
    };
    let strides = list4(node, "strides")?.into();
    let dilations = list4(node, "dilations")?.into();
    Ok(expand(DepthwiseConv2d::new(
        format,
        padding(node)?,
        strides,
        dilations,
    )))
}
