//! Normalisation: `BatchNormalization`, `LayerNormalization`.
//!
//! Dialect: `axis` is written as an integer and read as an integer or a
//! one-element list (tf-keras writes `[3]`); `momentum` (training only) is
//! written as both Kerases' default 0.99. Weights `gamma` (if `scale`), `beta`
//! (if `center`), then BatchNormalization's `moving_mean`, `moving_variance`,
//! all of one length; `epsilon` must be finite.
//!
//! Not handled yet (refused when read): `renorm`, `rms_scaling`, more than one
//! LayerNormalization axis.

use serde_json::{Value, json};

use super::shape::same_shape;
use super::{Cfg, ClassInfo, ConfigOut, bad_shape, num_f32};
use crate::keras::ir::{Layer, LayerKind};

pub(crate) static BATCH_NORMALIZATION: ClassInfo = ClassInfo {
    family: "norm",
    class: "BatchNormalization",
    written: "BatchNormalization",
    aliases: &[],
    read: read_batch_norm,
    write: write_batch_norm,
    weight_names: norm_names,
    check_shapes: check_same_length,
    floats: epsilon,
    output_shape: same_shape,
};

pub(crate) static LAYER_NORMALIZATION: ClassInfo = ClassInfo {
    family: "norm",
    class: "LayerNormalization",
    written: "LayerNormalization",
    aliases: &[],
    read: read_layer_norm,
    write: write_layer_norm,
    weight_names: norm_names,
    check_shapes: check_same_length,
    floats: epsilon,
    output_shape: same_shape,
};

fn read_batch_norm(c: &Cfg) -> Result<LayerKind, String> {
    c.refuse_if_set(&["renorm"])?;
    Ok(LayerKind::BatchNormalization {
        axis: c.i64("axis", -1)?,
        epsilon: c.f32("epsilon", 1e-3)?,
        center: c.bool("center", true)?,
        scale: c.bool("scale", true)?,
    })
}

fn write_batch_norm(layer: &Layer, c: &mut ConfigOut) {
    let LayerKind::BatchNormalization {
        axis,
        epsilon,
        center,
        scale,
    } = &layer.kind
    else {
        return;
    };
    c.put("axis", json!(axis));
    // momentum only matters for training; both frameworks default to 0.99.
    c.put("momentum", json!(0.99));
    c.put("epsilon", num_f32(*epsilon));
    c.put("center", json!(center));
    c.put("scale", json!(scale));
}

fn read_layer_norm(c: &Cfg) -> Result<LayerKind, String> {
    c.refuse_if_set(&["rms_scaling"])?;
    let axis = match c.get("axis") {
        Some(Value::Array(a)) if a.len() == 1 => a[0].as_i64(),
        Some(v) => v.as_i64(),
        None => Some(-1),
    }
    .ok_or_else(|| c.err("axis must be one integer"))?;
    Ok(LayerKind::LayerNormalization {
        axis,
        epsilon: c.f32("epsilon", 1e-3)?,
        center: c.bool("center", true)?,
        scale: c.bool("scale", true)?,
    })
}

fn write_layer_norm(layer: &Layer, c: &mut ConfigOut) {
    let LayerKind::LayerNormalization {
        axis,
        epsilon,
        center,
        scale,
    } = &layer.kind
    else {
        return;
    };
    c.put("axis", json!(axis));
    c.put("epsilon", num_f32(*epsilon));
    c.put("center", json!(center));
    c.put("scale", json!(scale));
}

/// `gamma` (if scale), `beta` (if center), then BatchNormalization's moving statistics.
fn norm_names(kind: &LayerKind) -> Vec<&'static str> {
    let (center, scale, moving) = match kind {
        LayerKind::BatchNormalization { center, scale, .. } => (*center, *scale, true),
        LayerKind::LayerNormalization { center, scale, .. } => (*center, *scale, false),
        _ => return Vec::new(),
    };
    let mut v = Vec::new();
    if scale {
        v.push("gamma");
    }
    if center {
        v.push("beta");
    }
    if moving {
        v.extend(["moving_mean", "moving_variance"]);
    }
    v
}

/// Every weight is a vector as long as the first one.
fn check_same_length(
    _: &LayerKind,
    names: &[&'static str],
    shapes: &[&[usize]],
) -> Result<(), String> {
    let Some(first) = shapes.first() else {
        return Ok(());
    };
    let n = first.first().copied().unwrap_or(0);
    for (name, s) in names.iter().zip(shapes) {
        if *s != [n] {
            return bad_shape(name, format!("[{n}] like the first one"), s);
        }
    }
    Ok(())
}

fn epsilon(kind: &LayerKind) -> Vec<(&'static str, f32)> {
    match kind {
        LayerKind::BatchNormalization { epsilon, .. }
        | LayerKind::LayerNormalization { epsilon, .. } => vec![("epsilon", *epsilon)],
        _ => Vec::new(),
    }
}
