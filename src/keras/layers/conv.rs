//! Convolutions: `Conv2D`, `DepthwiseConv2D`, `SeparableConv2D`,
//! `Conv2DTranspose`, `Conv1D` (also read under Keras 2's `Convolution2D`,
//! `SeparableConvolution2D`, `Convolution2DTranspose`, `Convolution1D`).
//!
//! Dialect quirks handled:
//! * `DepthwiseConv2D` is written without `groups`: Keras 3's constructor
//!   rejects it (tf-keras writes `"groups": 1`, which Keras 3 cannot load);
//!   `Conv2DTranspose` is written without `groups` (neither Keras takes it).
//! * `Conv1D`'s sizes are written as one-element lists and read as an integer
//!   or a one-element list; its padding may be `causal`.
//!
//! Not handled yet (refused by name when read): `channels_first`,
//! `groups != 1` on depthwise / transposed / 1-D convolutions, dilated or
//! `output_padding` transposed convolutions.

use serde_json::{Value, json};

use super::shape::{Shape, conv_out, conv_out_2d, kernel_dim, rank3, rank4, wrong_kind};
use super::{Cfg, ClassInfo, ConfigOut, bad_shape, no_floats, with_bias};
use crate::keras::ir::{Layer, LayerKind};
use crate::keras::ir::{Padding, Padding1D, Weight};

pub(crate) static CONV2D: ClassInfo = ClassInfo {
    family: "conv",
    class: "Conv2D",
    written: "Conv2D",
    aliases: &["Convolution2D"],
    read: read_conv2d,
    write: write_conv2d,
    weight_names: kernel_bias,
    check_shapes: check_conv2d,
    floats: no_floats,
    output_shape: conv2d_shape,
};

pub(crate) static DEPTHWISE_CONV2D: ClassInfo = ClassInfo {
    family: "conv",
    class: "DepthwiseConv2D",
    written: "DepthwiseConv2D",
    aliases: &[],
    read: read_depthwise,
    write: write_depthwise,
    weight_names: depthwise_names,
    check_shapes: check_depthwise,
    floats: no_floats,
    output_shape: depthwise_shape,
};

pub(crate) static SEPARABLE_CONV2D: ClassInfo = ClassInfo {
    family: "conv",
    class: "SeparableConv2D",
    written: "SeparableConv2D",
    aliases: &["SeparableConvolution2D"],
    read: read_separable,
    write: write_separable,
    weight_names: separable_names,
    check_shapes: check_separable,
    floats: no_floats,
    output_shape: separable_shape,
};

pub(crate) static CONV2D_TRANSPOSE: ClassInfo = ClassInfo {
    family: "conv",
    class: "Conv2DTranspose",
    written: "Conv2DTranspose",
    aliases: &["Convolution2DTranspose"],
    read: read_transpose,
    write: write_transpose,
    weight_names: kernel_bias,
    check_shapes: check_transpose,
    floats: no_floats,
    output_shape: transpose_shape,
};

pub(crate) static CONV1D: ClassInfo = ClassInfo {
    family: "conv",
    class: "Conv1D",
    written: "Conv1D",
    aliases: &["Convolution1D"],
    read: read_conv1d,
    write: write_conv1d,
    weight_names: kernel_bias,
    check_shapes: check_conv1d,
    floats: no_floats,
    output_shape: conv1d_shape,
};

fn read_conv2d(c: &Cfg) -> Result<LayerKind, String> {
    c.channels_last()?;
    Ok(LayerKind::Conv2D {
        filters: c.usize("filters", None)?,
        kernel_size: c.pair("kernel_size", None)?,
        strides: c.pair("strides", Some([1, 1]))?,
        padding: c.padding()?,
        dilation_rate: c.pair("dilation_rate", Some([1, 1]))?,
        groups: c.usize("groups", Some(1))?,
        use_bias: c.bool("use_bias", true)?,
        activation: c.activation("activation")?,
    })
}

fn write_conv2d(layer: &Layer, c: &mut ConfigOut) {
    let LayerKind::Conv2D {
        filters,
        kernel_size,
        strides,
        padding,
        dilation_rate,
        groups,
        use_bias,
        activation,
    } = &layer.kind
    else {
        return;
    };
    c.put("filters", json!(filters));
    c.put("kernel_size", json!(kernel_size));
    c.put("strides", json!(strides));
    c.put("padding", json!(padding.keras_name()));
    c.put("data_format", json!("channels_last"));
    c.put("dilation_rate", json!(dilation_rate));
    c.put("groups", json!(groups));
    c.put("activation", json!(activation.keras_name()));
    c.put("use_bias", json!(use_bias));
}

/// `kernel` then `bias` (Conv2D, Conv2DTranspose, Conv1D).
fn kernel_bias(kind: &LayerKind) -> Vec<&'static str> {
    let use_bias = match kind {
        LayerKind::Conv2D { use_bias, .. }
        | LayerKind::Conv2DTranspose { use_bias, .. }
        | LayerKind::Conv1D { use_bias, .. } => *use_bias,
        _ => false,
    };
    with_bias(&["kernel"], use_bias)
}

fn check_conv2d(kind: &LayerKind, _: &[&'static str], shapes: &[&[usize]]) -> Result<(), String> {
    let LayerKind::Conv2D {
        filters,
        kernel_size,
        groups,
        ..
    } = kind
    else {
        return Ok(());
    };
    let k = shapes[0];
    if k.len() != 4 || k[0] != kernel_size[0] || k[1] != kernel_size[1] || k[3] != *filters {
        return bad_shape(
            "kernel",
            format!(
                "[{}, {}, in/groups, {filters}]",
                kernel_size[0], kernel_size[1]
            ),
            k,
        );
    }
    if *groups == 0 || filters % groups != 0 {
        return Err(format!(
            "filters {filters} is not a multiple of groups {groups}"
        ));
    }
    if let Some(b) = shapes.get(1)
        && *b != [*filters]
    {
        return bad_shape("bias", format!("[{filters}]"), b);
    }
    Ok(())
}

fn read_depthwise(c: &Cfg) -> Result<LayerKind, String> {
    c.channels_last()?;
    if c.usize("groups", Some(1))? != 1 {
        return Err(c.err("groups != 1 not supported"));
    }
    Ok(LayerKind::DepthwiseConv2D {
        kernel_size: c.pair("kernel_size", None)?,
        strides: c.pair("strides", Some([1, 1]))?,
        padding: c.padding()?,
        depth_multiplier: c.usize("depth_multiplier", Some(1))?,
        dilation_rate: c.pair("dilation_rate", Some([1, 1]))?,
        use_bias: c.bool("use_bias", true)?,
        activation: c.activation("activation")?,
    })
}

fn write_depthwise(layer: &Layer, c: &mut ConfigOut) {
    let LayerKind::DepthwiseConv2D {
        kernel_size,
        strides,
        padding,
        depth_multiplier,
        dilation_rate,
        use_bias,
        activation,
    } = &layer.kind
    else {
        return;
    };
    // No "groups": Keras 3's DepthwiseConv2D rejects it (tf-keras writes it).
    c.put("kernel_size", json!(kernel_size));
    c.put("strides", json!(strides));
    c.put("padding", json!(padding.keras_name()));
    c.put("data_format", json!("channels_last"));
    c.put("dilation_rate", json!(dilation_rate));
    c.put("depth_multiplier", json!(depth_multiplier));
    c.put("activation", json!(activation.keras_name()));
    c.put("use_bias", json!(use_bias));
}

fn depthwise_names(kind: &LayerKind) -> Vec<&'static str> {
    let use_bias = matches!(kind, LayerKind::DepthwiseConv2D { use_bias: true, .. });
    with_bias(&["depthwise_kernel"], use_bias)
}

fn check_depthwise(
    kind: &LayerKind,
    _: &[&'static str],
    shapes: &[&[usize]],
) -> Result<(), String> {
    let LayerKind::DepthwiseConv2D {
        kernel_size,
        depth_multiplier,
        ..
    } = kind
    else {
        return Ok(());
    };
    let k = shapes[0];
    if k.len() != 4 || k[0] != kernel_size[0] || k[1] != kernel_size[1] || k[3] != *depth_multiplier
    {
        return bad_shape(
            "depthwise_kernel",
            format!(
                "[{}, {}, in, {depth_multiplier}]",
                kernel_size[0], kernel_size[1]
            ),
            k,
        );
    }
    if let Some(b) = shapes.get(1)
        && *b != [k[2] * k[3]]
    {
        return bad_shape("bias", format!("[{}]", k[2] * k[3]), b);
    }
    Ok(())
}

fn read_separable(c: &Cfg) -> Result<LayerKind, String> {
    c.channels_last()?;
    Ok(LayerKind::SeparableConv2D {
        filters: c.usize("filters", None)?,
        kernel_size: c.pair("kernel_size", None)?,
        strides: c.pair("strides", Some([1, 1]))?,
        padding: c.padding()?,
        depth_multiplier: c.usize("depth_multiplier", Some(1))?,
        dilation_rate: c.pair("dilation_rate", Some([1, 1]))?,
        use_bias: c.bool("use_bias", true)?,
        activation: c.activation("activation")?,
    })
}

fn write_separable(layer: &Layer, c: &mut ConfigOut) {
    let LayerKind::SeparableConv2D {
        filters,
        kernel_size,
        strides,
        padding,
        depth_multiplier,
        dilation_rate,
        use_bias,
        activation,
    } = &layer.kind
    else {
        return;
    };
    c.put("filters", json!(filters));
    c.put("kernel_size", json!(kernel_size));
    c.put("strides", json!(strides));
    c.put("padding", json!(padding.keras_name()));
    c.put("data_format", json!("channels_last"));
    c.put("dilation_rate", json!(dilation_rate));
    c.put("depth_multiplier", json!(depth_multiplier));
    c.put("activation", json!(activation.keras_name()));
    c.put("use_bias", json!(use_bias));
}

fn separable_names(kind: &LayerKind) -> Vec<&'static str> {
    let use_bias = matches!(kind, LayerKind::SeparableConv2D { use_bias: true, .. });
    with_bias(&["depthwise_kernel", "pointwise_kernel"], use_bias)
}

fn check_separable(
    kind: &LayerKind,
    _: &[&'static str],
    shapes: &[&[usize]],
) -> Result<(), String> {
    let LayerKind::SeparableConv2D {
        filters,
        kernel_size,
        depth_multiplier,
        ..
    } = kind
    else {
        return Ok(());
    };
    let (d, p) = (shapes[0], shapes[1]);
    if d.len() != 4 || d[0] != kernel_size[0] || d[1] != kernel_size[1] || d[3] != *depth_multiplier
    {
        return bad_shape(
            "depthwise_kernel",
            format!(
                "[{}, {}, in, {depth_multiplier}]",
                kernel_size[0], kernel_size[1]
            ),
            d,
        );
    }
    if *p != [1, 1, d[2] * d[3], *filters] {
        return bad_shape(
            "pointwise_kernel",
            format!("[1, 1, {}, {filters}]", d[2] * d[3]),
            p,
        );
    }
    if let Some(b) = shapes.get(2)
        && *b != [*filters]
    {
        return bad_shape("bias", format!("[{filters}]"), b);
    }
    Ok(())
}

fn read_transpose(c: &Cfg) -> Result<LayerKind, String> {
    c.channels_last()?;
    if c.pair("dilation_rate", Some([1, 1]))? != [1, 1] {
        return Err(c.err("dilation_rate != 1 not supported"));
    }
    if !matches!(c.get("output_padding"), None | Some(Value::Null)) {
        return Err(c.err("output_padding not supported"));
    }
    if c.usize("groups", Some(1))? != 1 {
        return Err(c.err("groups != 1 not supported"));
    }
    Ok(LayerKind::Conv2DTranspose {
        filters: c.usize("filters", None)?,
        kernel_size: c.pair("kernel_size", None)?,
        strides: c.pair("strides", Some([1, 1]))?,
        padding: c.padding()?,
        use_bias: c.bool("use_bias", true)?,
        activation: c.activation("activation")?,
    })
}

fn write_transpose(layer: &Layer, c: &mut ConfigOut) {
    let LayerKind::Conv2DTranspose {
        filters,
        kernel_size,
        strides,
        padding,
        use_bias,
        activation,
    } = &layer.kind
    else {
        return;
    };
    // No "groups": neither Kerases' Conv2DTranspose takes it.
    c.put("filters", json!(filters));
    c.put("kernel_size", json!(kernel_size));
    c.put("strides", json!(strides));
    c.put("padding", json!(padding.keras_name()));
    c.put("output_padding", Value::Null);
    c.put("data_format", json!("channels_last"));
    c.put("dilation_rate", json!([1, 1]));
    c.put("activation", json!(activation.keras_name()));
    c.put("use_bias", json!(use_bias));
}

fn check_transpose(
    kind: &LayerKind,
    _: &[&'static str],
    shapes: &[&[usize]],
) -> Result<(), String> {
    let LayerKind::Conv2DTranspose {
        filters,
        kernel_size,
        ..
    } = kind
    else {
        return Ok(());
    };
    let k = shapes[0];
    if k.len() != 4 || k[0] != kernel_size[0] || k[1] != kernel_size[1] || k[2] != *filters {
        return bad_shape(
            "kernel",
            format!("[{}, {}, {filters}, in]", kernel_size[0], kernel_size[1]),
            k,
        );
    }
    if let Some(b) = shapes.get(1)
        && *b != [*filters]
    {
        return bad_shape("bias", format!("[{filters}]"), b);
    }
    Ok(())
}

fn read_conv1d(c: &Cfg) -> Result<LayerKind, String> {
    c.channels_last()?;
    if c.usize("groups", Some(1))? != 1 {
        return Err(c.err("groups != 1 not supported"));
    }
    Ok(LayerKind::Conv1D {
        filters: c.usize("filters", None)?,
        kernel_size: c.one("kernel_size", None)?,
        strides: c.one("strides", Some(1))?,
        padding: c.padding1d()?,
        dilation_rate: c.one("dilation_rate", Some(1))?,
        use_bias: c.bool("use_bias", true)?,
        activation: c.activation("activation")?,
    })
}

fn write_conv1d(layer: &Layer, c: &mut ConfigOut) {
    let LayerKind::Conv1D {
        filters,
        kernel_size,
        strides,
        padding,
        dilation_rate,
        use_bias,
        activation,
    } = &layer.kind
    else {
        return;
    };
    c.put("filters", json!(filters));
    c.put("kernel_size", json!([kernel_size]));
    c.put("strides", json!([strides]));
    c.put("padding", json!(padding.keras_name()));
    c.put("data_format", json!("channels_last"));
    c.put("dilation_rate", json!([dilation_rate]));
    c.put("groups", json!(1));
    c.put("activation", json!(activation.keras_name()));
    c.put("use_bias", json!(use_bias));
}

fn check_conv1d(kind: &LayerKind, _: &[&'static str], shapes: &[&[usize]]) -> Result<(), String> {
    let LayerKind::Conv1D {
        filters,
        kernel_size,
        ..
    } = kind
    else {
        return Ok(());
    };
    let k = shapes[0];
    if k.len() != 3 || k[0] != *kernel_size || k[2] != *filters {
        return bad_shape("kernel", format!("[{kernel_size}, in, {filters}]"), k);
    }
    if let Some(b) = shapes.get(1)
        && *b != [*filters]
    {
        return bad_shape("bias", format!("[{filters}]"), b);
    }
    Ok(())
}

/// Output shape: NHWC, spatial sizes by TF's window rule, the kernel's filters.
fn conv2d_shape(
    kind: &LayerKind,
    weights: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    let LayerKind::Conv2D {
        kernel_size,
        strides,
        padding,
        dilation_rate,
        ..
    } = kind
    else {
        return Err(wrong_kind(kind));
    };
    rank4(first)?;
    let filters = kernel_dim(weights, "kernel", 3)?;
    let [h, w] = conv_out_2d(first, *kernel_size, *strides, *dilation_rate, *padding)?;
    Ok(vec![first[0], h, w, Some(filters)])
}

/// Output shape: NHWC, channels times `depth_multiplier`.
fn depthwise_shape(
    kind: &LayerKind,
    _: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    let LayerKind::DepthwiseConv2D {
        kernel_size,
        strides,
        padding,
        depth_multiplier,
        dilation_rate,
        ..
    } = kind
    else {
        return Err(wrong_kind(kind));
    };
    rank4(first)?;
    let [h, w] = conv_out_2d(first, *kernel_size, *strides, *dilation_rate, *padding)?;
    Ok(vec![first[0], h, w, first[3].map(|c| c * depth_multiplier)])
}

/// Output shape: NHWC with the config's `filters`.
fn separable_shape(
    kind: &LayerKind,
    _: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    let LayerKind::SeparableConv2D {
        filters,
        kernel_size,
        strides,
        padding,
        dilation_rate,
        ..
    } = kind
    else {
        return Err(wrong_kind(kind));
    };
    rank4(first)?;
    let [h, w] = conv_out_2d(first, *kernel_size, *strides, *dilation_rate, *padding)?;
    Ok(vec![first[0], h, w, Some(*filters)])
}

/// Output shape: `len * stride` (SAME) or `len * stride + max(k - s, 0)`
/// (VALID), the kernel's filters (its axis 2).
fn transpose_shape(
    kind: &LayerKind,
    weights: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    let LayerKind::Conv2DTranspose {
        kernel_size,
        strides,
        padding,
        ..
    } = kind
    else {
        return Err(wrong_kind(kind));
    };
    rank4(first)?;
    let filters = kernel_dim(weights, "kernel", 2)?;
    let out = |len: Option<usize>, k: usize, s: usize| -> Result<Option<usize>, String> {
        if k == 0 || s == 0 {
            return Err(format!("kernel {k} and stride {s} must be >= 1"));
        }
        let Some(len) = len else { return Ok(None) };
        let base = len.checked_mul(s);
        match padding {
            Padding::Same => base,
            Padding::Valid => base.and_then(|b| b.checked_add(k.saturating_sub(s))),
        }
        .map(Some)
        .ok_or_else(|| format!("output of {len} x stride {s} overflows"))
    };
    Ok(vec![
        first[0],
        out(first[1], kernel_size[0], strides[0])?,
        out(first[2], kernel_size[1], strides[1])?,
        Some(filters),
    ])
}

/// Output shape: (batch, steps, filters); causal pads `(k-1)*d` in front, then valid.
fn conv1d_shape(
    kind: &LayerKind,
    weights: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    let LayerKind::Conv1D {
        kernel_size,
        strides,
        padding,
        dilation_rate,
        ..
    } = kind
    else {
        return Err(wrong_kind(kind));
    };
    rank3(first)?;
    let filters = kernel_dim(weights, "kernel", 2)?;
    let (len, pad) = match padding {
        Padding1D::Valid => (first[1], Padding::Valid),
        Padding1D::Same => (first[1], Padding::Same),
        // Causal: (k-1)*d zeros in front, then valid.
        Padding1D::Causal => (
            first[1].map(|l| l + kernel_size.saturating_sub(1) * dilation_rate),
            Padding::Valid,
        ),
    };
    Ok(vec![
        first[0],
        conv_out(len, *kernel_size, *strides, *dilation_rate, pad)?,
        Some(filters),
    ])
}
