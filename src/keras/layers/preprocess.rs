//! Preprocessing layers: `Rescaling`, `Normalization`.
//!
//! Dialect: Normalization's `mean`/`variance` are written in the config (no
//! weights): both Kerases build from them, as for
//! `Normalization(mean=..., variance=...)`; its `axis` is written as a
//! one-element list. All their floats must be finite.
//!
//! Not handled yet (refused when read): `invert=True`, more than one
//! Normalization axis, statistics adapted and stored as weights.

use serde_json::{Value, json};

use super::shape::same_shape;
use super::{Cfg, ClassInfo, ConfigOut, no_shape_check, no_weights, num_f32};
use crate::keras::ir::{Layer, LayerKind};

pub(crate) static RESCALING: ClassInfo = ClassInfo {
    family: "preprocess",
    class: "Rescaling",
    written: "Rescaling",
    aliases: &[],
    read: read_rescaling,
    write: write_rescaling,
    weight_names: no_weights,
    check_shapes: no_shape_check,
    floats: rescaling_floats,
    output_shape: same_shape,
};

pub(crate) static NORMALIZATION: ClassInfo = ClassInfo {
    family: "preprocess",
    class: "Normalization",
    written: "Normalization",
    aliases: &[],
    read: normalization_from_config,
    write: write_normalization,
    weight_names: no_weights,
    check_shapes: no_shape_check,
    floats: normalization_floats,
    output_shape: same_shape,
};

fn read_rescaling(c: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::Rescaling {
        scale: c.f32("scale", 1.0)?,
        offset: c.f32("offset", 0.0)?,
    })
}

fn write_rescaling(layer: &Layer, c: &mut ConfigOut) {
    if let LayerKind::Rescaling { scale, offset } = &layer.kind {
        c.put("scale", num_f32(*scale));
        c.put("offset", num_f32(*offset));
    }
}

fn rescaling_floats(kind: &LayerKind) -> Vec<(&'static str, f32)> {
    match kind {
        LayerKind::Rescaling { scale, offset } => vec![("scale", *scale), ("offset", *offset)],
        _ => Vec::new(),
    }
}

fn write_normalization(layer: &Layer, c: &mut ConfigOut) {
    let LayerKind::Normalization {
        axis,
        mean,
        variance,
    } = &layer.kind
    else {
        return;
    };
    // mean/variance in the config (no weights): both Kerases build
    // from them, as for `Normalization(mean=..., variance=...)`.
    c.put("axis", json!([axis]));
    c.put("invert", json!(false));
    c.put(
        "mean",
        Value::Array(mean.iter().map(|v| num_f32(*v)).collect()),
    );
    c.put(
        "variance",
        Value::Array(variance.iter().map(|v| num_f32(*v)).collect()),
    );
}

fn normalization_floats(kind: &LayerKind) -> Vec<(&'static str, f32)> {
    match kind {
        LayerKind::Normalization { mean, variance, .. } => mean
            .iter()
            .map(|v| ("mean", *v))
            .chain(variance.iter().map(|v| ("variance", *v)))
            .collect(),
        _ => Vec::new(),
    }
}

/// `Normalization` with `mean`/`variance` in its config (a layer whose
/// statistics are weights needs them read from the file: not supported yet).
fn normalization_from_config(c: &Cfg) -> Result<LayerKind, String> {
    if c.bool("invert", false)? {
        return Err(c.err("invert=True not supported"));
    }
    let axis = match c.get("axis") {
        None => -1,
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| c.err("bad axis"))?,
        Some(Value::Array(a)) if a.len() == 1 => a[0].as_i64().ok_or_else(|| c.err("bad axis"))?,
        Some(v) => return Err(c.err(format!("axis = {v}: only one axis is supported"))),
    };
    let list = |key: &str| -> Result<Vec<f32>, String> {
        match c.get(key) {
            Some(Value::Number(n)) => Ok(vec![n.as_f64().unwrap_or(f64::NAN) as f32]),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_f64().map(|f| f as f32))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| c.err(format!("'{key}' is not a flat list of numbers"))),
            _ => Err(c.err(format!(
                "'{key}' is not in the config (adapted statistics stored as weights are not supported yet)"
            ))),
        }
    };
    Ok(LayerKind::Normalization {
        axis,
        mean: list("mean")?,
        variance: list("variance")?,
    })
}
