//! Pooling: `MaxPooling2D`, `AveragePooling2D`, `GlobalAveragePooling2D`,
//! `GlobalMaxPooling2D` and their 1-D forms (`MaxPooling1D`, `AveragePooling1D`,
//! `GlobalAveragePooling1D`, `GlobalMaxPooling1D`); also read under the short
//! aliases `MaxPool2D`, `AvgPool2D`, `GlobalAvgPool2D`, `GlobalMaxPool2D`,
//! `MaxPool1D`, `AvgPool1D`, `GlobalAvgPool1D`, `GlobalMaxPool1D`.
//!
//! Dialect: 1-D sizes are written as one-element lists and read as an integer
//! or a one-element list; `strides` defaults to `pool_size` when absent or null.
//! No weights.
//!
//! Not handled yet (refused when read): `channels_first`.

use serde_json::{Value, json};

use super::shape::{Shape, conv_out, rank3, rank4, wrong_kind};
use super::{Cfg, ClassInfo, ConfigOut, no_floats, no_shape_check, no_weights};
use crate::keras::ir::Weight;
use crate::keras::ir::{Layer, LayerKind};

/// A pooling class: no weights, no floats.
macro_rules! pool_class {
    ($class:literal, $alias:literal, $read:ident, $write:ident, $shape:ident) => {
        ClassInfo {
            family: "pool",
            class: $class,
            written: $class,
            aliases: &[$alias],
            read: $read,
            write: $write,
            weight_names: no_weights,
            check_shapes: no_shape_check,
            floats: no_floats,
            output_shape: $shape,
        }
    };
}

pub(crate) static MAX_POOLING2D: ClassInfo = pool_class!(
    "MaxPooling2D",
    "MaxPool2D",
    read_pool2d,
    write_pool2d,
    pool2d_shape
);
pub(crate) static AVERAGE_POOLING2D: ClassInfo = pool_class!(
    "AveragePooling2D",
    "AvgPool2D",
    read_pool2d,
    write_pool2d,
    pool2d_shape
);
pub(crate) static GLOBAL_AVERAGE_POOLING2D: ClassInfo = pool_class!(
    "GlobalAveragePooling2D",
    "GlobalAvgPool2D",
    read_global_avg2d,
    write_global,
    global2d_shape
);
pub(crate) static GLOBAL_MAX_POOLING2D: ClassInfo = pool_class!(
    "GlobalMaxPooling2D",
    "GlobalMaxPool2D",
    read_global_max2d,
    write_global,
    global2d_shape
);
pub(crate) static MAX_POOLING1D: ClassInfo = pool_class!(
    "MaxPooling1D",
    "MaxPool1D",
    read_pool1d,
    write_pool1d,
    pool1d_shape
);
pub(crate) static AVERAGE_POOLING1D: ClassInfo = pool_class!(
    "AveragePooling1D",
    "AvgPool1D",
    read_pool1d,
    write_pool1d,
    pool1d_shape
);
pub(crate) static GLOBAL_AVERAGE_POOLING1D: ClassInfo = pool_class!(
    "GlobalAveragePooling1D",
    "GlobalAvgPool1D",
    read_global_avg1d,
    write_global,
    global1d_shape
);
pub(crate) static GLOBAL_MAX_POOLING1D: ClassInfo = pool_class!(
    "GlobalMaxPooling1D",
    "GlobalMaxPool1D",
    read_global_max1d,
    write_global,
    global1d_shape
);

/// MaxPooling2D / AveragePooling2D (by the class name's prefix).
fn read_pool2d(c: &Cfg) -> Result<LayerKind, String> {
    c.channels_last()?;
    let pool_size = c.pair("pool_size", Some([2, 2]))?;
    let strides = c.pair("strides", Some(pool_size))?;
    let padding = c.padding()?;
    Ok(if c.e.class.starts_with("Max") {
        LayerKind::MaxPooling2D {
            pool_size,
            strides,
            padding,
        }
    } else {
        LayerKind::AveragePooling2D {
            pool_size,
            strides,
            padding,
        }
    })
}

fn write_pool2d(layer: &Layer, c: &mut ConfigOut) {
    let (LayerKind::MaxPooling2D {
        pool_size,
        strides,
        padding,
    }
    | LayerKind::AveragePooling2D {
        pool_size,
        strides,
        padding,
    }) = &layer.kind
    else {
        return;
    };
    c.put("pool_size", json!(pool_size));
    c.put("strides", json!(strides));
    c.put("padding", json!(padding.keras_name()));
    c.put("data_format", json!("channels_last"));
}

fn read_global_avg2d(c: &Cfg) -> Result<LayerKind, String> {
    c.channels_last()?;
    Ok(LayerKind::GlobalAveragePooling2D {
        keepdims: c.bool("keepdims", false)?,
    })
}

fn read_global_max2d(c: &Cfg) -> Result<LayerKind, String> {
    c.channels_last()?;
    Ok(LayerKind::GlobalMaxPooling2D {
        keepdims: c.bool("keepdims", false)?,
    })
}

/// The four global poolings.
fn write_global(layer: &Layer, c: &mut ConfigOut) {
    let (LayerKind::GlobalAveragePooling2D { keepdims }
    | LayerKind::GlobalMaxPooling2D { keepdims }
    | LayerKind::GlobalAveragePooling1D { keepdims }
    | LayerKind::GlobalMaxPooling1D { keepdims }) = &layer.kind
    else {
        return;
    };
    c.put("data_format", json!("channels_last"));
    c.put("keepdims", json!(keepdims));
}

/// MaxPooling1D / AveragePooling1D (by the class name's prefix).
fn read_pool1d(c: &Cfg) -> Result<LayerKind, String> {
    c.channels_last()?;
    let pool_size = c.one("pool_size", Some(2))?;
    let strides = match c.get("strides") {
        None | Some(Value::Null) => pool_size,
        Some(_) => c.one("strides", None)?,
    };
    let padding = c.padding()?;
    Ok(if c.e.class.starts_with("Max") {
        LayerKind::MaxPooling1D {
            pool_size,
            strides,
            padding,
        }
    } else {
        LayerKind::AveragePooling1D {
            pool_size,
            strides,
            padding,
        }
    })
}

fn write_pool1d(layer: &Layer, c: &mut ConfigOut) {
    let (LayerKind::MaxPooling1D {
        pool_size,
        strides,
        padding,
    }
    | LayerKind::AveragePooling1D {
        pool_size,
        strides,
        padding,
    }) = &layer.kind
    else {
        return;
    };
    c.put("pool_size", json!([pool_size]));
    c.put("strides", json!([strides]));
    c.put("padding", json!(padding.keras_name()));
    c.put("data_format", json!("channels_last"));
}

fn read_global_avg1d(c: &Cfg) -> Result<LayerKind, String> {
    c.channels_last()?;
    Ok(LayerKind::GlobalAveragePooling1D {
        keepdims: c.bool("keepdims", false)?,
    })
}

fn read_global_max1d(c: &Cfg) -> Result<LayerKind, String> {
    c.channels_last()?;
    Ok(LayerKind::GlobalMaxPooling1D {
        keepdims: c.bool("keepdims", false)?,
    })
}

/// Output shape of `MaxPooling2D` / `AveragePooling2D`: NHWC, spatial sizes by
/// TF's window rule, channels kept.
fn pool2d_shape(
    kind: &LayerKind,
    _: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    let (LayerKind::MaxPooling2D {
        pool_size,
        strides,
        padding,
    }
    | LayerKind::AveragePooling2D {
        pool_size,
        strides,
        padding,
    }) = kind
    else {
        return Err(wrong_kind(kind));
    };
    rank4(first)?;
    Ok(vec![
        first[0],
        conv_out(first[1], pool_size[0], strides[0], 1, *padding)?,
        conv_out(first[2], pool_size[1], strides[1], 1, *padding)?,
        first[3],
    ])
}

/// Output shape of the global 2-D poolings: (batch, channels), or
/// (batch, 1, 1, channels) with `keepdims`.
fn global2d_shape(
    kind: &LayerKind,
    _: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    let (LayerKind::GlobalAveragePooling2D { keepdims }
    | LayerKind::GlobalMaxPooling2D { keepdims }) = kind
    else {
        return Err(wrong_kind(kind));
    };
    rank4(first)?;
    Ok(if *keepdims {
        vec![first[0], Some(1), Some(1), first[3]]
    } else {
        vec![first[0], first[3]]
    })
}

/// Output shape of `MaxPooling1D` / `AveragePooling1D`: (batch, steps, channels).
fn pool1d_shape(
    kind: &LayerKind,
    _: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    let (LayerKind::MaxPooling1D {
        pool_size,
        strides,
        padding,
    }
    | LayerKind::AveragePooling1D {
        pool_size,
        strides,
        padding,
    }) = kind
    else {
        return Err(wrong_kind(kind));
    };
    rank3(first)?;
    Ok(vec![
        first[0],
        conv_out(first[1], *pool_size, *strides, 1, *padding)?,
        first[2],
    ])
}

/// Output shape of the global 1-D poolings: (batch, channels), or
/// (batch, 1, channels) with `keepdims`.
fn global1d_shape(
    kind: &LayerKind,
    _: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    let (LayerKind::GlobalAveragePooling1D { keepdims }
    | LayerKind::GlobalMaxPooling1D { keepdims }) = kind
    else {
        return Err(wrong_kind(kind));
    };
    rank3(first)?;
    Ok(if *keepdims {
        vec![first[0], Some(1), first[2]]
    } else {
        vec![first[0], first[2]]
    })
}
