//! Activation layers: `Activation`, `ReLU`, `Softmax`, `LeakyReLU`, `PReLU`.
//!
//! Dialect quirks handled:
//! * `LeakyReLU` is written with `alpha` (tf-keras's key; Keras 3 reads it as
//!   its `negative_slope`) and read from either (both default to 0.3).
//! * Activations are read as strings or Keras 3 serialized functions (see
//!   `Cfg::activation`); `hard_sigmoid` is deliberately not one thaw writes:
//!   tf-keras computes `clip(0.2x + 0.5)`, Keras 3 `relu6(x + 3) / 6`.
//! * `PReLU`'s `shared_axes` is written as null when empty.
//!
//! ReLU's and LeakyReLU's floats must be finite. Not handled yet: the shape of
//! PReLU's `alpha` weight is not checked against the config (it depends on
//! the input shape); activations outside [`crate::keras::ir::Activation`].

use serde_json::{Value, json};

use super::shape::same_shape;
use super::{Cfg, ClassInfo, ConfigOut, no_floats, no_shape_check, no_weights, num_f32};
use crate::keras::ir::{Layer, LayerKind};

pub(crate) static ACTIVATION: ClassInfo = ClassInfo {
    family: "activation",
    class: "Activation",
    written: "Activation",
    aliases: &[],
    read: read_activation,
    write: write_activation,
    weight_names: no_weights,
    check_shapes: no_shape_check,
    floats: no_floats,
    output_shape: same_shape,
};

pub(crate) static RELU: ClassInfo = ClassInfo {
    family: "activation",
    class: "ReLU",
    written: "ReLU",
    aliases: &[],
    read: read_relu,
    write: write_relu,
    weight_names: no_weights,
    check_shapes: no_shape_check,
    floats: relu_floats,
    output_shape: same_shape,
};

pub(crate) static SOFTMAX: ClassInfo = ClassInfo {
    family: "activation",
    class: "Softmax",
    written: "Softmax",
    aliases: &[],
    read: read_softmax,
    write: write_softmax,
    weight_names: no_weights,
    check_shapes: no_shape_check,
    floats: no_floats,
    output_shape: same_shape,
};

pub(crate) static LEAKY_RELU: ClassInfo = ClassInfo {
    family: "activation",
    class: "LeakyReLU",
    written: "LeakyReLU",
    aliases: &[],
    read: read_leaky_relu,
    write: write_leaky_relu,
    weight_names: no_weights,
    check_shapes: no_shape_check,
    floats: leaky_relu_floats,
    output_shape: same_shape,
};

pub(crate) static PRELU: ClassInfo = ClassInfo {
    family: "activation",
    class: "PReLU",
    written: "PReLU",
    aliases: &[],
    read: read_prelu,
    write: write_prelu,
    weight_names: prelu_names,
    check_shapes: no_shape_check,
    floats: no_floats,
    output_shape: same_shape,
};

fn read_activation(c: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::Activation {
        activation: c.activation("activation")?,
    })
}

fn write_activation(layer: &Layer, c: &mut ConfigOut) {
    if let LayerKind::Activation { activation } = &layer.kind {
        c.put("activation", json!(activation.keras_name()));
    }
}

fn read_relu(c: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::ReLU {
        max_value: match c.get("max_value") {
            None => None,
            Some(_) => Some(c.f32("max_value", 0.0)?),
        },
        negative_slope: c.f32("negative_slope", 0.0)?,
        threshold: c.f32("threshold", 0.0)?,
    })
}

fn write_relu(layer: &Layer, c: &mut ConfigOut) {
    let LayerKind::ReLU {
        max_value,
        negative_slope,
        threshold,
    } = &layer.kind
    else {
        return;
    };
    c.put("max_value", max_value.map_or(Value::Null, num_f32));
    c.put("negative_slope", num_f32(*negative_slope));
    c.put("threshold", num_f32(*threshold));
}

fn relu_floats(kind: &LayerKind) -> Vec<(&'static str, f32)> {
    let LayerKind::ReLU {
        max_value,
        negative_slope,
        threshold,
    } = kind
    else {
        return Vec::new();
    };
    let mut v = vec![
        ("negative_slope", *negative_slope),
        ("threshold", *threshold),
    ];
    if let Some(m) = max_value {
        v.push(("max_value", *m));
    }
    v
}

fn read_softmax(c: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::Softmax {
        axis: c.i64("axis", -1)?,
    })
}

fn write_softmax(layer: &Layer, c: &mut ConfigOut) {
    if let LayerKind::Softmax { axis } = &layer.kind {
        c.put("axis", json!(axis));
    }
}

/// tf-keras writes `alpha`, Keras 3 `negative_slope`; both default to 0.3.
fn read_leaky_relu(c: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::LeakyReLU {
        alpha: if c.get("negative_slope").is_some() {
            c.f32("negative_slope", 0.3)?
        } else {
            c.f32("alpha", 0.3)?
        },
    })
}

/// tf-keras only knows `alpha`; Keras 3 reads it as `negative_slope`.
fn write_leaky_relu(layer: &Layer, c: &mut ConfigOut) {
    if let LayerKind::LeakyReLU { alpha } = &layer.kind {
        c.put("alpha", num_f32(*alpha));
    }
}

fn leaky_relu_floats(kind: &LayerKind) -> Vec<(&'static str, f32)> {
    match kind {
        LayerKind::LeakyReLU { alpha } => vec![("alpha", *alpha)],
        _ => Vec::new(),
    }
}

fn read_prelu(c: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::PReLU {
        shared_axes: match c.get("shared_axes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Number(n)) => vec![n.as_i64().ok_or_else(|| c.err("bad shared_axes"))?],
            Some(v) => v
                .as_array()
                .and_then(|a| a.iter().map(Value::as_i64).collect::<Option<Vec<_>>>())
                .ok_or_else(|| c.err(format!("shared_axes = {v} is not a list of integers")))?,
        },
    })
}

fn write_prelu(layer: &Layer, c: &mut ConfigOut) {
    let LayerKind::PReLU { shared_axes } = &layer.kind else {
        return;
    };
    c.put(
        "shared_axes",
        if shared_axes.is_empty() {
            Value::Null
        } else {
            json!(shared_axes)
        },
    );
}

fn prelu_names(_: &LayerKind) -> Vec<&'static str> {
    vec!["alpha"]
}
