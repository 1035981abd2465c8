//! Shape-only layers: `Flatten`, `Reshape`, `Permute`, `RepeatVector`,
//! `ZeroPadding2D`, `Cropping2D`, `UpSampling2D` (nearest or bilinear).
//!
//! Dialect quirks handled: ZeroPadding2D's `padding` and Cropping2D's
//! `cropping` are read as `n`, `[h, w]` or `[[top, bottom], [left, right]]`
//! (written in the last form); ZeroPadding2D defaults to 1, Cropping2D to 0.
//! No weights, no floats.
//!
//! Not handled yet (refused when read): `channels_first`, UpSampling2D
//! interpolations other than nearest and bilinear.

use serde_json::{Value, json};

use super::shape::{Shape, rank4, wrong_kind};
use super::{Cfg, ClassInfo, ConfigOut, no_floats, no_shape_check, no_weights};
use crate::keras::ir::Weight;
use crate::keras::ir::{Interpolation, Layer, LayerKind};

/// A reshape-family class: no weights, no floats.
macro_rules! reshape_class {
    ($class:literal, $read:ident, $write:ident, $shape:ident) => {
        ClassInfo {
            family: "reshape",
            class: $class,
            written: $class,
            aliases: &[],
            read: $read,
            write: $write,
            weight_names: no_weights,
            check_shapes: no_shape_check,
            floats: no_floats,
            output_shape: $shape,
        }
    };
}

pub(crate) static FLATTEN: ClassInfo =
    reshape_class!("Flatten", read_flatten, write_flatten, flatten_shape);
pub(crate) static RESHAPE: ClassInfo =
    reshape_class!("Reshape", read_reshape, write_reshape, reshape_shape);
pub(crate) static PERMUTE: ClassInfo =
    reshape_class!("Permute", read_permute, write_permute, permute_shape);
pub(crate) static REPEAT_VECTOR: ClassInfo = reshape_class!(
    "RepeatVector",
    read_repeat_vector,
    write_repeat_vector,
    repeat_vector_shape
);
pub(crate) static ZERO_PADDING2D: ClassInfo = reshape_class!(
    "ZeroPadding2D",
    read_zero_padding,
    write_zero_padding,
    zero_padding_shape
);
pub(crate) static CROPPING2D: ClassInfo =
    reshape_class!("Cropping2D", read_cropping, write_cropping, cropping_shape);
pub(crate) static UPSAMPLING2D: ClassInfo = reshape_class!(
    "UpSampling2D",
    read_upsampling,
    write_upsampling,
    upsampling_shape
);

fn read_flatten(c: &Cfg) -> Result<LayerKind, String> {
    c.channels_last()?;
    Ok(LayerKind::Flatten)
}

fn write_flatten(_: &Layer, c: &mut ConfigOut) {
    c.put("data_format", json!("channels_last"));
}

fn read_reshape(c: &Cfg) -> Result<LayerKind, String> {
    let v = c
        .get("target_shape")
        .ok_or_else(|| c.err("missing 'target_shape'"))?;
    let dims = v
        .as_array()
        .and_then(|a| a.iter().map(Value::as_i64).collect::<Option<Vec<_>>>())
        .ok_or_else(|| c.err(format!("target_shape = {v} is not a list of integers")))?;
    Ok(LayerKind::Reshape { target_shape: dims })
}

fn write_reshape(layer: &Layer, c: &mut ConfigOut) {
    if let LayerKind::Reshape { target_shape } = &layer.kind {
        c.put("target_shape", json!(target_shape));
    }
}

fn read_permute(c: &Cfg) -> Result<LayerKind, String> {
    let v = c.get("dims").ok_or_else(|| c.err("missing 'dims'"))?;
    let dims = v
        .as_array()
        .and_then(|a| {
            a.iter()
                .map(|d| d.as_u64().map(|d| d as usize))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| c.err(format!("dims = {v} is not a list of axes")))?;
    Ok(LayerKind::Permute { dims })
}

fn write_permute(layer: &Layer, c: &mut ConfigOut) {
    if let LayerKind::Permute { dims } = &layer.kind {
        c.put("dims", json!(dims));
    }
}

fn read_repeat_vector(c: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::RepeatVector {
        n: c.usize("n", None)?,
    })
}

fn write_repeat_vector(layer: &Layer, c: &mut ConfigOut) {
    if let LayerKind::RepeatVector { n } = &layer.kind {
        c.put("n", json!(n));
    }
}

fn read_zero_padding(c: &Cfg) -> Result<LayerKind, String> {
    c.channels_last()?;
    Ok(LayerKind::ZeroPadding2D {
        padding: zero_padding_like(c, "padding")?,
    })
}

fn write_zero_padding(layer: &Layer, c: &mut ConfigOut) {
    if let LayerKind::ZeroPadding2D { padding } = &layer.kind {
        c.put("padding", json!(padding));
        c.put("data_format", json!("channels_last"));
    }
}

fn read_cropping(c: &Cfg) -> Result<LayerKind, String> {
    c.channels_last()?;
    // Same spellings as ZeroPadding2D's `padding`: n, [h, w] or [[t, b], [l, r]].
    Ok(LayerKind::Cropping2D {
        cropping: zero_padding_like(c, "cropping")?,
    })
}

fn write_cropping(layer: &Layer, c: &mut ConfigOut) {
    if let LayerKind::Cropping2D { cropping } = &layer.kind {
        c.put("cropping", json!(cropping));
        c.put("data_format", json!("channels_last"));
    }
}

fn read_upsampling(c: &Cfg) -> Result<LayerKind, String> {
    c.channels_last()?;
    Ok(LayerKind::UpSampling2D {
        size: c.pair("size", Some([2, 2]))?,
        interpolation: match c.get("interpolation").and_then(Value::as_str) {
            None | Some("nearest") => Interpolation::Nearest,
            Some("bilinear") => Interpolation::Bilinear,
            Some(other) => {
                return Err(c.err(format!(
                    "interpolation '{other}' not supported (nearest, bilinear)"
                )));
            }
        },
    })
}

fn write_upsampling(layer: &Layer, c: &mut ConfigOut) {
    let LayerKind::UpSampling2D {
        size,
        interpolation,
    } = &layer.kind
    else {
        return;
    };
    c.put("size", json!(size));
    c.put("data_format", json!("channels_last"));
    c.put("interpolation", json!(interpolation.keras_name()));
}

/// `key` (ZeroPadding2D's `padding`, Cropping2D's `cropping`) given as n, [h, w]
/// or [[top, bottom], [left, right]]; ZeroPadding2D defaults to 1, Cropping2D to 0.
fn zero_padding_like(c: &Cfg, key: &str) -> Result<[[usize; 2]; 2], String> {
    let default = if key == "padding" { 1 } else { 0 };
    let v = c.get(key).cloned().unwrap_or(json!(default));
    let bad = || {
        c.err(format!(
            "{key} = {v} is not n, [h, w] or [[top, bottom], [left, right]]"
        ))
    };
    if let Some(n) = v.as_u64() {
        let n = n as usize;
        return Ok([[n, n], [n, n]]);
    }
    let a = v.as_array().filter(|a| a.len() == 2).ok_or_else(bad)?;
    let mut out = [[0usize; 2]; 2];
    for (i, item) in a.iter().enumerate() {
        out[i] = if let Some(n) = item.as_u64() {
            [n as usize, n as usize]
        } else {
            match item.as_array().map(Vec::as_slice) {
                Some([x, y]) => [
                    x.as_u64().ok_or_else(bad)? as usize,
                    y.as_u64().ok_or_else(bad)? as usize,
                ],
                _ => return Err(bad()),
            }
        };
    }
    Ok(out)
}

/// Output shape: (batch, product of the other sizes).
fn flatten_shape(_: &LayerKind, _: &[Weight], first: &Shape, _: &[Shape]) -> Result<Shape, String> {
    let rest = crate::budget::product_known(first.iter().skip(1).copied());
    Ok(vec![first[0], rest])
}

/// Output shape: (batch, target shape), a `-1` entry filled from the volume,
/// refused when the volumes differ.
fn reshape_shape(
    kind: &LayerKind,
    _: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    let LayerKind::Reshape { target_shape } = kind else {
        return Err(wrong_kind(kind));
    };
    let total = crate::budget::product_known(first.iter().skip(1).copied());
    let known = crate::budget::product(
        target_shape
            .iter()
            .filter(|&&d| d >= 0)
            .map(|&d| d as usize),
    )
    .ok_or_else(|| {
        format!("target shape {target_shape:?} holds more elements than a machine can count")
    })?;
    let mut s = vec![first[0]];
    for &d in target_shape {
        s.push(if d >= 0 {
            Some(d as usize)
        } else {
            total.map(|t| t / known.max(1))
        });
    }
    if let Some(t) = total {
        let prod = crate::budget::product_known(s.iter().skip(1).copied());
        if prod != Some(t) {
            return Err(format!("cannot reshape {t} elements to {target_shape:?}"));
        }
    }
    Ok(s)
}

/// Output shape: the non-batch axes in `dims` order (1-based).
fn permute_shape(
    kind: &LayerKind,
    _: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    let LayerKind::Permute { dims } = kind else {
        return Err(wrong_kind(kind));
    };
    let mut sorted = dims.clone();
    sorted.sort_unstable();
    if first.len() != dims.len() + 1 || !sorted.iter().enumerate().all(|(i, &d)| d == i + 1) {
        return Err(format!(
            "dims {dims:?} is not a permutation of the {} non-batch axes",
            first.len().saturating_sub(1)
        ));
    }
    Ok(std::iter::once(first[0])
        .chain(dims.iter().map(|&d| first[d]))
        .collect())
}

/// Output shape: (batch, n, features) from (batch, features).
fn repeat_vector_shape(
    kind: &LayerKind,
    _: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    let LayerKind::RepeatVector { n } = kind else {
        return Err(wrong_kind(kind));
    };
    if first.len() != 2 {
        return Err(format!(
            "expects (batch, features), got rank {}",
            first.len()
        ));
    }
    Ok(vec![first[0], Some(*n), first[1]])
}

/// Output shape: NHWC, the padding added to height and width.
fn zero_padding_shape(
    kind: &LayerKind,
    _: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    let LayerKind::ZeroPadding2D { padding } = kind else {
        return Err(wrong_kind(kind));
    };
    rank4(first)?;
    Ok(vec![
        first[0],
        first[1].map(|h| h + padding[0][0] + padding[0][1]),
        first[2].map(|w| w + padding[1][0] + padding[1][1]),
        first[3],
    ])
}

/// Output shape: NHWC, the cropping taken off height and width (refused when
/// nothing would be left).
fn cropping_shape(
    kind: &LayerKind,
    _: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    let LayerKind::Cropping2D { cropping } = kind else {
        return Err(wrong_kind(kind));
    };
    rank4(first)?;
    let crop = |len: Option<usize>, [a, b]: [usize; 2]| match len {
        None => Ok(None),
        Some(n) => a
            .checked_add(b)
            .filter(|&s| s < n)
            .map(|s| Some(n - s))
            .ok_or_else(|| format!("cropping {cropping:?} leaves nothing of {n}")),
    };
    Ok(vec![
        first[0],
        crop(first[1], cropping[0])?,
        crop(first[2], cropping[1])?,
        first[3],
    ])
}

/// Output shape: NHWC, height and width times `size`.
fn upsampling_shape(
    kind: &LayerKind,
    _: &[Weight],
    first: &Shape,
    _: &[Shape],
) -> Result<Shape, String> {
    let LayerKind::UpSampling2D { size, .. } = kind else {
        return Err(wrong_kind(kind));
    };
    rank4(first)?;
    if size.contains(&0) {
        return Err(format!("size {size:?} must be >= 1"));
    }
    let up = |d: Option<usize>, f: usize| {
        d.map(|d| d.checked_mul(f))
            .map(|v| v.ok_or("size overflows"))
            .transpose()
    };
    Ok(vec![
        first[0],
        up(first[1], size[0])?,
        up(first[2], size[1])?,
        first[3],
    ])
}
