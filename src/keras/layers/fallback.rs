//! The fallback class `ThawTfOp`: one TF op with no Keras equivalent, run by
//! `tf.raw_ops` in a custom layer that the generated `thaw_fallbacks.py`
//! defines (`src/keras/pymodule.rs` owns its config keys, weight names
//! `const_<i>` and the Python; this file plugs it into the registry).
//!
//! Weight shapes are checked against the shapes recorded in its config.
//! Not handled yet: see `pymodule.rs`'s header for the ops it covers.

use super::shape::{Shape, wrong_kind};
use super::{Cfg, ClassInfo, ConfigOut, bad_shape, no_floats};
use crate::keras::ir::{Layer, LayerKind, TfArgValue, TfOp, Weight};
use crate::keras::pymodule;

pub(crate) static THAW_TF_OP: ClassInfo = ClassInfo {
    family: "fallback",
    class: "ThawTfOp",
    written: "ThawTfOp",
    aliases: &[],
    read: read_tf_op,
    write: write_tf_op,
    weight_names: tf_op_names,
    check_shapes: check_tf_op,
    floats: no_floats,
    output_shape: tf_op_shape,
};

fn read_tf_op(c: &Cfg) -> Result<LayerKind, String> {
    Ok(LayerKind::TfOp(
        pymodule::tf_op_from_config(c.e.config).map_err(|m| c.err(m))?,
    ))
}

fn write_tf_op(layer: &Layer, c: &mut ConfigOut) {
    if let LayerKind::TfOp(op) = &layer.kind {
        pymodule::put_config(op, &mut |k: &str, v| c.put(k, v));
    }
}

fn tf_op_names(kind: &LayerKind) -> Vec<&'static str> {
    match kind {
        LayerKind::TfOp(op) => pymodule::weight_names(op),
        _ => Vec::new(),
    }
}

fn check_tf_op(
    kind: &LayerKind,
    names: &[&'static str],
    shapes: &[&[usize]],
) -> Result<(), String> {
    let LayerKind::TfOp(op) = kind else {
        return Ok(());
    };
    for ((name, want), got) in names.iter().zip(op.weight_shapes()).zip(shapes) {
        if want != *got {
            return bad_shape(name, format!("{want:?} (its config's shape)"), got);
        }
    }
    Ok(())
}

/// How an op's arguments and output shape behave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// One tensor argument, same shape out.
    Unary,
    /// Two tensor arguments, broadcast NumPy-style.
    Binary,
    /// A tensor and a scalar int axis; same shape out (`exclusive`, `reverse`).
    Cumulative,
    /// A tensor and int axes; those axes removed or kept as 1 (`keep_dims`).
    Reduce,
    /// A 4-D NHWC tensor normalised across its channels: `LRN`
    /// (`depth_radius`, `bias`, `alpha`, `beta`); same shape out.
    Lrn,
}

/// One op thaw can fall back on: its `tf.raw_ops` argument names and family.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub op: &'static str,
    pub family: Family,
    pub args: &'static [&'static str],
}

const fn unary(op: &'static str) -> Spec {
    Spec {
        op,
        family: Family::Unary,
        args: &["x"],
    }
}

const fn binary(op: &'static str) -> Spec {
    Spec {
        op,
        family: Family::Binary,
        args: &["x", "y"],
    }
}

const fn reduce(op: &'static str) -> Spec {
    Spec {
        op,
        family: Family::Reduce,
        args: &["input", "axis"],
    }
}

/// Every op with a fallback implementation (the interpreter implements each).
pub const SPECS: &[Spec] = &[
    unary("Abs"),
    unary("Acos"),
    unary("Acosh"),
    unary("Asin"),
    unary("Asinh"),
    unary("Atan"),
    unary("Atanh"),
    unary("Ceil"),
    unary("Cos"),
    unary("Cosh"),
    unary("Erf"),
    unary("Exp"),
    unary("Expm1"),
    unary("Floor"),
    unary("Log"),
    unary("Log1p"),
    unary("Neg"),
    unary("Reciprocal"),
    unary("Rint"),
    unary("Round"),
    unary("Rsqrt"),
    unary("Sign"),
    unary("Sin"),
    unary("Sinh"),
    unary("Sqrt"),
    unary("Square"),
    unary("Tan"),
    unary("Tanh"),
    binary("Add"),
    binary("AddV2"),
    binary("Sub"),
    binary("Mul"),
    binary("RealDiv"),
    binary("Div"),
    binary("Maximum"),
    binary("Minimum"),
    binary("Pow"),
    binary("SquaredDifference"),
    binary("FloorDiv"),
    binary("FloorMod"),
    Spec {
        op: "Atan2",
        family: Family::Binary,
        args: &["y", "x"],
    },
    Spec {
        op: "Cumsum",
        family: Family::Cumulative,
        args: &["x", "axis"],
    },
    Spec {
        op: "LRN",
        family: Family::Lrn,
        args: &["input"],
    },
    reduce("Sum"),
    reduce("Prod"),
    reduce("Mean"),
    reduce("Max"),
    reduce("Min"),
];

/// The fallback spec of a TF op, if thaw has one.
pub fn spec(op: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.op == op)
}

/// TF ops with a fallback implementation (sorted).
pub fn fallback_ops() -> Vec<&'static str> {
    let mut v: Vec<_> = SPECS.iter().map(|s| s.op).collect();
    v.sort_unstable();
    v
}

/// Output shape of a `ThawTfOp` layer: its op family's rule.
fn tf_op_shape(
    kind: &LayerKind,
    _: &[Weight],
    _: &Shape,
    inputs: &[Shape],
) -> Result<Shape, String> {
    let LayerKind::TfOp(op) = kind else {
        return Err(wrong_kind(kind));
    };
    tf_op_output_shape(op, inputs)
}

/// NumPy broadcast of two Keras shapes (`None` = unknown, e.g. the batch).
fn broadcast(a: &[Option<usize>], b: &[Option<usize>]) -> Result<Shape, String> {
    let n = a.len().max(b.len());
    let pad = |s: &[Option<usize>]| -> Vec<Option<usize>> {
        std::iter::repeat_n(Some(1), n - s.len())
            .chain(s.iter().copied())
            .collect()
    };
    let (a, b) = (pad(a), pad(b));
    a.iter()
        .zip(&b)
        .map(|(&x, &y)| match (x, y) {
            (Some(1), d) | (d, Some(1)) => Ok(d),
            (None, d) | (d, None) => Ok(d),
            (Some(x), Some(y)) if x == y => Ok(Some(x)),
            (Some(x), Some(y)) => Err(format!("cannot broadcast {x} against {y}")),
        })
        .collect()
}

/// Keras output shape of a fallback layer (batch first).
pub(crate) fn tf_op_output_shape(op: &TfOp, inputs: &[Shape]) -> Result<Shape, String> {
    let spec = spec(&op.op).ok_or_else(|| format!("no fallback layer for op {}", op.op))?;
    if inputs.len() != op.input_count() {
        return Err(format!(
            "has {} inputs, its config reads {}",
            inputs.len(),
            op.input_count()
        ));
    }
    let shape_of = |a: &TfArgValue| -> Result<Shape, String> {
        match a {
            TfArgValue::Input(k) => inputs
                .get(*k)
                .cloned()
                .ok_or_else(|| format!("argument reads input {k}, which does not exist")),
            TfArgValue::Weight { shape, .. } => Ok(shape.iter().map(|&d| Some(d)).collect()),
            TfArgValue::Ints { shape, .. } => Ok(shape.iter().map(|&d| Some(d)).collect()),
        }
    };
    let arg = |k: usize| -> Result<Shape, String> {
        let name = spec.args[k];
        shape_of(
            op.arg(name)
                .ok_or_else(|| format!("missing argument '{name}'"))?,
        )
    };
    match spec.family {
        Family::Unary | Family::Cumulative => arg(0),
        Family::Lrn => {
            let x = arg(0)?;
            if x.len() != 4 {
                return Err(format!("LRN needs a 4-D NHWC input, got rank {}", x.len()));
            }
            Ok(x)
        }
        Family::Binary => broadcast(&arg(0)?, &arg(1)?),
        Family::Reduce => {
            let x = arg(0)?;
            let axes = match op.arg("axis") {
                Some(TfArgValue::Ints { values, .. }) => values.clone(),
                _ => return Err("axis is not an integer constant".into()),
            };
            let rank = x.len() as i64;
            let mut drop = vec![false; x.len()];
            for a in axes {
                let p = if a < 0 { a + rank } else { a };
                let p = usize::try_from(p)
                    .ok()
                    .filter(|&p| p < x.len())
                    .ok_or_else(|| format!("axis {a} is out of range for rank {rank}"))?;
                drop[p] = true;
            }
            let keep = op.attr_bool("keep_dims", false);
            Ok(x.iter()
                .zip(&drop)
                .filter_map(|(&d, &r)| match (r, keep) {
                    (false, _) => Some(d),
                    (true, true) => Some(Some(1)),
                    (true, false) => None,
                })
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::ir::{TfArg, TfAttr};

    fn op(name: &str, args: Vec<(&str, TfArgValue)>, keep: bool) -> TfOp {
        TfOp {
            op: name.into(),
            args: args
                .into_iter()
                .map(|(n, v)| TfArg {
                    name: n.into(),
                    value: v,
                })
                .collect(),
            attrs: vec![("keep_dims".into(), TfAttr::Bool(keep))],
        }
    }

    #[test]
    fn binary_shapes_broadcast_like_numpy() {
        let o = op(
            "Atan2",
            vec![
                ("y", TfArgValue::Input(0)),
                (
                    "x",
                    TfArgValue::Weight {
                        index: 0,
                        shape: vec![4, 1],
                    },
                ),
            ],
            false,
        );
        let s = tf_op_output_shape(&o, &[vec![None, Some(1), Some(3)]]).unwrap();
        assert_eq!(s, vec![None, Some(4), Some(3)]);
        let bad = tf_op_output_shape(&o, &[vec![None, Some(2), Some(3)]]);
        assert!(bad.unwrap_err().contains("cannot broadcast 2 against 4"));
    }

    #[test]
    fn reductions_drop_or_keep_axes() {
        let axes = |v: Vec<i64>| TfArgValue::Ints {
            shape: vec![v.len()],
            values: v,
        };
        let x = vec![None, Some(5), Some(6), Some(7)];
        let o = op(
            "Sum",
            vec![("input", TfArgValue::Input(0)), ("axis", axes(vec![1, -1]))],
            false,
        );
        assert_eq!(
            tf_op_output_shape(&o, std::slice::from_ref(&x)).unwrap(),
            vec![None, Some(6)]
        );
        let o = op(
            "Mean",
            vec![("input", TfArgValue::Input(0)), ("axis", axes(vec![2]))],
            true,
        );
        assert_eq!(
            tf_op_output_shape(&o, std::slice::from_ref(&x)).unwrap(),
            vec![None, Some(5), Some(1), Some(7)]
        );
        let o = op(
            "Max",
            vec![("input", TfArgValue::Input(0)), ("axis", axes(vec![4]))],
            true,
        );
        assert!(tf_op_output_shape(&o, &[x]).is_err());
    }

    #[test]
    fn every_spec_is_unique_and_names_its_arguments() {
        let ops = fallback_ops();
        let mut dedup = ops.clone();
        dedup.dedup();
        assert_eq!(ops, dedup);
        for s in SPECS {
            let want = match s.family {
                Family::Unary | Family::Lrn => 1,
                _ => 2,
            };
            assert_eq!(s.args.len(), want, "{}", s.op);
        }
    }
}
