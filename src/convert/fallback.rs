//! Fallback custom layers: a float32 TF op that no rule converts, but whose
//! semantics thaw knows, becomes one `ThawTfOp` layer ([`LayerKind::TfOp`])
//! instead of stopping the conversion. The layer carries the TF op name, what
//! feeds each argument (a layer input, a float constant stored as a weight, or
//! an integer constant such as an axis kept in the config) and the attributes
//! that change the result. `keras::pymodule` writes the Python class that runs
//! it with `tf.raw_ops.<op>`; `interp::fallback` implements it in Rust.
//!
//! Covered ([`SPECS`]):
//! - element-wise unary math: `Abs Acos Acosh Asin Asinh Atan Atanh Ceil Cos Cosh
//!   Erf Exp Expm1 Floor Log Log1p Neg Reciprocal Rint Round Rsqrt Sign Sin Sinh
//!   Sqrt Square Tan Tanh`;
//! - element-wise binary math with NumPy broadcasting, either operand a layer
//!   output or a float constant: `Add AddV2 Sub Mul RealDiv Div Maximum Minimum
//!   Pow SquaredDifference FloorDiv FloorMod Atan2`;
//! - running sums along a constant axis: `Cumsum` (`exclusive`, `reverse`);
//! - reductions over constant axes: `Sum Prod Mean Max Min` (`keep_dims`);
//! - local response normalisation across channels: `LRN` (AlexNet/CaffeNet-era
//!   and CIFAR `tf.nn.lrn`; `depth_radius`, `bias`, `alpha`, `beta`; 4-D NHWC).
//!
//! A fallback is only tried once every rule for the node has refused, so a
//! pattern that has a native Keras layer never becomes one; the report lists
//! every fallback layer (`fallback_layers[]`) so a missing rule is visible.
//!
//! Every op here also needs a tract kernel (`oracle/ops/fallback_math.rs` adds
//! the ones tract-tensorflow lacks), which is why `Cumprod` is not here yet.
//!
//! Not handled (stay unsupported): non-float32 ops (integer or boolean maths),
//! ops with more than one output, float constants of more than 4 operands per op,
//! ops whose shape-like operands (axes) are not constants.

use super::ctx::{Ctx, Emit, Match, Shape};
use crate::graph::NodeExt;
use crate::graph::TensorId;
use crate::graph::pb::NodeDef;
use crate::keras::{LayerKind, TfArg, TfArgValue, TfAttr, TfOp, Weight};

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

/// Most float constants one fallback layer stores as weights.
const MAX_WEIGHTS: usize = 4;

/// Emits `node` as one `ThawTfOp` layer, or says why it cannot.
pub fn fallback(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let spec = spec(&node.op).ok_or_else(|| format!("no fallback layer for op {}", node.op))?;
    match node.attr_type("T").map(|t| t.as_str_name()) {
        Ok("DT_FLOAT") => {}
        Ok(other) => return Err(format!("fallback layers compute float32 only, not {other}")),
        Err(e) => return Err(e.to_string()),
    }
    let n_inputs = node.data_inputs().len();
    if n_inputs != spec.args.len() {
        return Err(format!(
            "{} has {n_inputs} inputs, expected {}",
            node.op,
            spec.args.len()
        ));
    }
    let mut args = Vec::new();
    let mut inputs: Vec<TensorId> = Vec::new();
    let mut weights: Vec<Weight> = Vec::new();
    for (k, name) in spec.args.iter().enumerate() {
        let axis_arg = matches!(spec.family, Family::Cumulative | Family::Reduce) && k == 1;
        let value = if axis_arg {
            let values = ctx.const_ints(node, k)?;
            let t = ctx.graph.input(node, k).map_err(|e| e.to_string())?;
            // A scalar axis folds to one value; TF also accepts a vector for
            // reductions (Cumsum needs a scalar).
            let scalar = spec.family == Family::Cumulative
                || ctx
                    .graph
                    .node(&t.node)
                    .filter(|n| n.op == "Const")
                    .and_then(|n| n.attr_tensor("value").ok())
                    .is_some_and(|v| v.shape().is_empty());
            if spec.family == Family::Cumulative && values.len() != 1 {
                return Err(format!("axis must be a scalar, got {values:?}"));
            }
            let shape = if scalar { vec![] } else { vec![values.len()] };
            TfArgValue::Ints { values, shape }
        } else {
            let t = ctx.graph.input(node, k).map_err(|e| e.to_string())?;
            if ctx.is_layer_output(&t) {
                inputs.push(t);
                TfArgValue::Input(inputs.len() - 1)
            } else {
                let value = ctx.const_f32(node, k)?;
                if weights.len() == MAX_WEIGHTS {
                    return Err(format!("more than {MAX_WEIGHTS} constant operands"));
                }
                let index = weights.len();
                let shape = value.shape().to_vec();
                weights.push(super::ctx::weight(&format!("const_{index}"), value));
                TfArgValue::Weight { index, shape }
            }
        };
        args.push(TfArg {
            name: (*name).to_string(),
            value,
        });
    }
    if inputs.is_empty() {
        return Err("no input is a converted layer's output".into());
    }
    let attrs = match spec.family {
        Family::Cumulative => vec![
            (
                "exclusive".to_string(),
                TfAttr::Bool(node.attr_bool("exclusive").unwrap_or(false)),
            ),
            (
                "reverse".to_string(),
                TfAttr::Bool(node.attr_bool("reverse").unwrap_or(false)),
            ),
        ],
        Family::Reduce => vec![(
            "keep_dims".to_string(),
            TfAttr::Bool(node.attr_bool("keep_dims").unwrap_or(false)),
        )],
        // TF's defaults when the attribute is absent.
        Family::Lrn => vec![
            (
                "depth_radius".to_string(),
                TfAttr::Int(node.attr_int("depth_radius").unwrap_or(5)),
            ),
            (
                "bias".to_string(),
                TfAttr::Float(node.attr_float("bias").unwrap_or(1.0)),
            ),
            (
                "alpha".to_string(),
                TfAttr::Float(node.attr_float("alpha").unwrap_or(1.0)),
            ),
            (
                "beta".to_string(),
                TfAttr::Float(node.attr_float("beta").unwrap_or(0.5)),
            ),
        ],
        Family::Unary | Family::Binary => vec![],
    };
    let kind = LayerKind::TfOp(TfOp {
        op: node.op.clone(),
        args,
        attrs,
    });
    let mut emit = Emit::single(ctx, node, kind, inputs);
    emit.weights = weights;
    Ok(Match::one(emit))
}

/// A fallback layer of a conversion: its name, the TF op and the TF node it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FallbackLayer {
    pub layer: String,
    pub op: String,
    pub node: String,
}

/// Every fallback layer of `conv`, in model order.
pub fn fallback_layers(conv: &super::Conversion) -> Vec<FallbackLayer> {
    conv.model
        .layers
        .iter()
        .filter_map(|l| match &l.kind {
            LayerKind::TfOp(op) => Some(FallbackLayer {
                layer: l.name.clone(),
                op: op.op.clone(),
                node: conv
                    .tensors
                    .iter()
                    .find(|t| t.layer == l.name)
                    .and_then(|t| t.nodes.first().cloned())
                    .unwrap_or_default(),
            }),
            _ => None,
        })
        .collect()
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
pub fn output_shape(op: &TfOp, inputs: &[Shape]) -> Result<Shape, String> {
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
        let s = output_shape(&o, &[vec![None, Some(1), Some(3)]]).unwrap();
        assert_eq!(s, vec![None, Some(4), Some(3)]);
        let bad = output_shape(&o, &[vec![None, Some(2), Some(3)]]);
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
        assert_eq!(output_shape(&o, &[x.clone()]).unwrap(), vec![None, Some(6)]);
        let o = op(
            "Mean",
            vec![("input", TfArgValue::Input(0)), ("axis", axes(vec![2]))],
            true,
        );
        assert_eq!(
            output_shape(&o, &[x.clone()]).unwrap(),
            vec![None, Some(5), Some(1), Some(7)]
        );
        let o = op(
            "Max",
            vec![("input", TfArgValue::Input(0)), ("axis", axes(vec![4]))],
            true,
        );
        assert!(output_shape(&o, &[x]).is_err());
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
