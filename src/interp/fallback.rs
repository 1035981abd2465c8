//! thaw's fallback custom layer `ThawTfOp`: one TensorFlow op with no Keras
//! equivalent, computed with **TensorFlow's** semantics for that op (the layer's
//! config names the op; it knows nothing of the graph it came from).
//!
//! Covers the ops `convert::fallback::SPECS` lists:
//! - unary: `Abs Acos Acosh Asin Asinh Atan Atanh Ceil Cos Cosh Erf Exp Expm1
//!   Floor Log Log1p Neg Reciprocal Rint Round Rsqrt Sign Sin Sinh Sqrt Square Tan
//!   Tanh`. `Round`/`Rint` round half to even (TF's rule, not Rust's `round`);
//!   `Sign(0) = 0`; `Erf` is libm's `erff`;
//! - binary, NumPy broadcasting: `Add AddV2 Sub Mul RealDiv Div Maximum Minimum
//!   Pow SquaredDifference FloorDiv FloorMod Atan2(y, x)`. Float `FloorDiv` is
//!   `floor(x / y)`; `FloorMod` takes the divisor's sign, as TF and Python do;
//! - `Cumsum`/`Cumprod` along one axis with `exclusive` and `reverse` (conversion
//!   does not emit `Cumprod` yet: tract has no kernel to verify it against);
//! - `Sum Prod Mean Max Min` over a list of axes with `keep_dims`. Sums and
//!   products accumulate in f64 (TF's f32 tree reduction may differ by a few ULP).
//!
//! - `LRN` (4-D NHWC, `depth_radius`, `bias`, `alpha`, `beta`), sums of squares
//!   and the power in f64.
//!
//! Not handled: anything else (an error naming the op, never a panic).

use super::LayerError;
use crate::keras::{Layer, TfArgValue, TfAttr, TfOp};
use ndarray::{ArrayD, Axis, IxDyn};

/// One resolved argument.
enum Arg<'a> {
    Tensor(&'a ArrayD<f32>),
    Ints(&'a [i64]),
}

/// Runs the fallback layer on its inputs (in `inbound` order).
pub fn run(layer: &Layer, op: &TfOp, inputs: &[&ArrayD<f32>]) -> Result<ArrayD<f32>, LayerError> {
    if inputs.len() != op.input_count() {
        return Err(LayerError::InputCount {
            expected: op.input_count().to_string(),
            got: inputs.len(),
        });
    }
    let args = op
        .args
        .iter()
        .map(|a| resolve(layer, &a.name, &a.value, inputs))
        .collect::<Result<Vec<_>, _>>()?;
    let tensor = |k: usize| match args.get(k) {
        Some(Arg::Tensor(t)) => Ok(*t),
        _ => Err(LayerError::Config(format!(
            "{}: argument {k} must be a tensor",
            op.op
        ))),
    };
    let ints = |k: usize| match args.get(k) {
        Some(Arg::Ints(v)) => Ok(*v),
        _ => Err(LayerError::Config(format!(
            "{}: argument {k} must be an integer constant",
            op.op
        ))),
    };
    if let Some(f) = unary(&op.op) {
        return Ok(tensor(0)?.mapv(f));
    }
    if let Some(f) = binary(&op.op) {
        return broadcast_zip(tensor(0)?, tensor(1)?, f);
    }
    match op.op.as_str() {
        "Cumsum" | "Cumprod" => {
            let axis = match ints(1)? {
                [a] => *a,
                other => {
                    return Err(LayerError::Config(format!(
                        "{}: axis must be a scalar, got {other:?}",
                        op.op
                    )));
                }
            };
            cumulative(
                tensor(0)?,
                axis,
                op.op == "Cumprod",
                op.attr_bool("exclusive", false),
                op.attr_bool("reverse", false),
            )
        }
        "Sum" | "Prod" | "Mean" | "Max" | "Min" => reduce(
            tensor(0)?,
            ints(1)?,
            &op.op,
            op.attr_bool("keep_dims", false),
        ),
        "LRN" => lrn(
            tensor(0)?,
            attr_int(op, "depth_radius", 5),
            attr_float(op, "bias", 1.0),
            attr_float(op, "alpha", 1.0),
            attr_float(op, "beta", 0.5),
        ),
        other => Err(LayerError::Config(format!(
            "no fallback implementation for TF op {other}"
        ))),
    }
}

/// The integer attribute `name` (an `Int`), `default` when absent.
fn attr_int(op: &TfOp, name: &str, default: i64) -> i64 {
    op.attrs
        .iter()
        .find_map(|(k, v)| match v {
            TfAttr::Int(i) if k == name => Some(*i),
            _ => None,
        })
        .unwrap_or(default)
}

/// The float attribute `name` (a `Float`, or an `Int` read back from JSON
/// such as `"bias": 1`), `default` when absent.
fn attr_float(op: &TfOp, name: &str, default: f32) -> f32 {
    op.attrs
        .iter()
        .find_map(|(k, v)| match v {
            TfAttr::Float(f) if k == name => Some(*f),
            TfAttr::Int(i) if k == name => Some(*i as f32),
            _ => None,
        })
        .unwrap_or(default)
}

/// TF's `LRN` on a 4-D NHWC tensor: `x / (bias + alpha * sqr_sum) ** beta`,
/// `sqr_sum` the sum of squares over channels `[c - r, c + r]` (clipped to the
/// valid range). Sums in f64.
fn lrn(
    x: &ArrayD<f32>,
    radius: i64,
    bias: f32,
    alpha: f32,
    beta: f32,
) -> Result<ArrayD<f32>, LayerError> {
    if x.ndim() != 4 {
        return Err(LayerError::InputShape {
            index: 0,
            shape: x.shape().to_vec(),
            message: "LRN needs a 4-D NHWC input".into(),
        });
    }
    let r = usize::try_from(radius)
        .map_err(|_| LayerError::Config(format!("LRN: depth_radius {radius} is negative")))?;
    let mut out = x.clone();
    for (mut o, i) in out.lanes_mut(Axis(3)).into_iter().zip(x.lanes(Axis(3))) {
        let n = i.len();
        for c in 0..n {
            let lo = c.saturating_sub(r);
            let hi = (c + r).min(n - 1);
            let sq: f64 = (lo..=hi).map(|k| f64::from(i[k]) * f64::from(i[k])).sum();
            let d = (f64::from(bias) + f64::from(alpha) * sq).powf(f64::from(beta));
            o[c] = (f64::from(i[c]) / d) as f32;
        }
    }
    Ok(out)
}

fn resolve<'a>(
    layer: &'a Layer,
    name: &str,
    value: &'a TfArgValue,
    inputs: &[&'a ArrayD<f32>],
) -> Result<Arg<'a>, LayerError> {
    Ok(match value {
        TfArgValue::Input(k) => Arg::Tensor(inputs.get(*k).ok_or_else(|| {
            LayerError::Config(format!(
                "argument '{name}' reads input {k}, which is missing"
            ))
        })?),
        TfArgValue::Weight { index, shape } => {
            let w = format!("const_{index}");
            let v = layer
                .weight(&w)
                .ok_or_else(|| LayerError::MissingWeight(w.clone()))?;
            if v.shape() != shape.as_slice() {
                return Err(LayerError::WeightShape {
                    weight: w,
                    got: v.shape().to_vec(),
                    expected: shape.clone(),
                });
            }
            Arg::Tensor(v)
        }
        TfArgValue::Ints { values, .. } => Arg::Ints(values),
    })
}

/// Round half to even, as TF's `Round` and `Rint`.
fn round_half_even(x: f32) -> f32 {
    x.round_ties_even()
}

fn unary(op: &str) -> Option<fn(f32) -> f32> {
    Some(match op {
        "Abs" => f32::abs,
        "Acos" => f32::acos,
        "Acosh" => f32::acosh,
        "Asin" => f32::asin,
        "Asinh" => f32::asinh,
        "Atan" => f32::atan,
        "Atanh" => f32::atanh,
        "Ceil" => f32::ceil,
        "Cos" => f32::cos,
        "Cosh" => f32::cosh,
        "Erf" => libm::erff,
        "Exp" => f32::exp,
        "Expm1" => f32::exp_m1,
        "Floor" => f32::floor,
        "Log" => f32::ln,
        "Log1p" => f32::ln_1p,
        "Neg" => |x| -x,
        "Reciprocal" => f32::recip,
        "Rint" | "Round" => round_half_even,
        "Rsqrt" => |x| 1.0 / x.sqrt(),
        "Sign" => |x| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                // 0 stays 0 (TF), NaN stays NaN.
                x
            }
        },
        "Sin" => f32::sin,
        "Sinh" => f32::sinh,
        "Sqrt" => f32::sqrt,
        "Square" => |x| x * x,
        "Tan" => f32::tan,
        "Tanh" => f32::tanh,
        _ => return None,
    })
}

/// TF's float `FloorMod`: `fmod`, moved into the divisor's sign.
fn floor_mod(x: f32, y: f32) -> f32 {
    let r = x % y;
    if r != 0.0 && ((y < 0.0) != (r < 0.0)) {
        r + y
    } else {
        r
    }
}

fn binary(op: &str) -> Option<fn(f32, f32) -> f32> {
    Some(match op {
        "Add" | "AddV2" => |x, y| x + y,
        "Sub" => |x, y| x - y,
        "Mul" => |x, y| x * y,
        "RealDiv" | "Div" => |x, y| x / y,
        "Maximum" => |x: f32, y: f32| if x.is_nan() || x > y { x } else { y },
        "Minimum" => |x: f32, y: f32| if x.is_nan() || x < y { x } else { y },
        "Pow" => f32::powf,
        "SquaredDifference" => |x, y| (x - y) * (x - y),
        "FloorDiv" => |x: f32, y: f32| (x / y).floor(),
        "FloorMod" => floor_mod,
        // Atan2's arguments are (y, x).
        "Atan2" => f32::atan2,
        _ => return None,
    })
}

/// NumPy broadcasting of `a` and `b`, then `f` element-wise.
fn broadcast_zip(
    a: &ArrayD<f32>,
    b: &ArrayD<f32>,
    f: fn(f32, f32) -> f32,
) -> Result<ArrayD<f32>, LayerError> {
    let n = a.ndim().max(b.ndim());
    let padded = |s: &[usize]| -> Vec<usize> {
        std::iter::repeat_n(1, n - s.len())
            .chain(s.iter().copied())
            .collect()
    };
    let (sa, sb) = (padded(a.shape()), padded(b.shape()));
    let mut shape = Vec::with_capacity(n);
    for (&x, &y) in sa.iter().zip(&sb) {
        shape.push(match (x, y) {
            (1, d) | (d, 1) => d,
            (x, y) if x == y => x,
            _ => {
                return Err(LayerError::InputShape {
                    index: 1,
                    shape: b.shape().to_vec(),
                    message: format!("cannot broadcast against {:?}", a.shape()),
                });
            }
        });
    }
    let err = |i: usize, s: &[usize]| LayerError::InputShape {
        index: i,
        shape: s.to_vec(),
        message: format!("cannot broadcast to {shape:?}"),
    };
    let av = a
        .broadcast(IxDyn(&shape))
        .ok_or_else(|| err(0, a.shape()))?;
    let bv = b
        .broadcast(IxDyn(&shape))
        .ok_or_else(|| err(1, b.shape()))?;
    let mut out = av.to_owned();
    out.zip_mut_with(&bv, |x, &y| *x = f(*x, y));
    Ok(out)
}

fn axis_index(axis: i64, rank: usize) -> Result<usize, LayerError> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    usize::try_from(a)
        .ok()
        .filter(|&a| a < rank)
        .ok_or_else(|| LayerError::Config(format!("axis {axis} is out of range for rank {rank}")))
}

/// TF's `Cumsum`/`Cumprod`, accumulated in f64.
fn cumulative(
    x: &ArrayD<f32>,
    axis: i64,
    product: bool,
    exclusive: bool,
    reverse: bool,
) -> Result<ArrayD<f32>, LayerError> {
    let ax = Axis(axis_index(axis, x.ndim())?);
    let mut out = x.clone();
    for mut lane in out.lanes_mut(ax) {
        let n = lane.len();
        let mut acc: f64 = if product { 1.0 } else { 0.0 };
        for i in 0..n {
            let k = if reverse { n - 1 - i } else { i };
            let v = f64::from(lane[k]);
            if exclusive {
                lane[k] = acc as f32;
            }
            acc = if product { acc * v } else { acc + v };
            if !exclusive {
                lane[k] = acc as f32;
            }
        }
    }
    Ok(out)
}

/// TF's reductions over `axes` (duplicates allowed, as TF allows them).
fn reduce(
    x: &ArrayD<f32>,
    axes: &[i64],
    op: &str,
    keep_dims: bool,
) -> Result<ArrayD<f32>, LayerError> {
    let mut idx = axes
        .iter()
        .map(|&a| axis_index(a, x.ndim()))
        .collect::<Result<Vec<_>, _>>()?;
    idx.sort_unstable();
    idx.dedup();
    let mut y = x.clone();
    // Highest axis first, so the lower indices stay valid.
    for &a in idx.iter().rev() {
        y = y.map_axis(Axis(a), |lane| match op {
            "Sum" => lane.iter().map(|&v| f64::from(v)).sum::<f64>() as f32,
            "Mean" => (lane.iter().map(|&v| f64::from(v)).sum::<f64>() / lane.len() as f64) as f32,
            "Prod" => lane.iter().map(|&v| f64::from(v)).product::<f64>() as f32,
            "Max" => lane.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            _ => lane.iter().copied().fold(f32::INFINITY, f32::min),
        });
    }
    if keep_dims {
        for &a in &idx {
            y.insert_axis_inplace(Axis(a));
        }
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::{LayerKind, TfArg, TfAttr, Weight};
    use ndarray::arr1;

    fn layer(op: &str, args: Vec<(&str, TfArgValue)>, attrs: Vec<(&str, bool)>) -> Layer {
        let op = TfOp {
            op: op.into(),
            args: args
                .into_iter()
                .map(|(n, v)| TfArg {
                    name: n.into(),
                    value: v,
                })
                .collect(),
            attrs: attrs
                .into_iter()
                .map(|(k, v)| (k.to_string(), TfAttr::Bool(v)))
                .collect(),
        };
        Layer {
            name: "f".into(),
            kind: LayerKind::TfOp(op),
            inbound: vec![],
            weights: vec![],
        }
    }

    fn run_l(l: &Layer, inputs: &[&ArrayD<f32>]) -> Result<ArrayD<f32>, LayerError> {
        match &l.kind {
            LayerKind::TfOp(op) => run(l, op, inputs),
            _ => unreachable!(),
        }
    }

    fn v(x: &[f32]) -> ArrayD<f32> {
        arr1(x).into_dyn()
    }

    #[test]
    fn unary_ops_follow_tf_rounding_and_sign() {
        let x = v(&[-2.5, -0.5, 0.0, 0.5, 1.5, 2.5]);
        let round = layer("Round", vec![("x", TfArgValue::Input(0))], vec![]);
        // TF rounds half to even: tf.math.round([-2.5,-0.5,0,0.5,1.5,2.5]).
        assert_eq!(
            run_l(&round, &[&x]).unwrap(),
            v(&[-2.0, -0.0, 0.0, 0.0, 2.0, 2.0])
        );
        let sign = layer("Sign", vec![("x", TfArgValue::Input(0))], vec![]);
        assert_eq!(
            run_l(&sign, &[&x]).unwrap(),
            v(&[-1.0, -1.0, 0.0, 1.0, 1.0, 1.0])
        );
        let sin = layer("Sin", vec![("x", TfArgValue::Input(0))], vec![]);
        let y = run_l(&sin, &[&v(&[std::f32::consts::FRAC_PI_2, 0.0])]).unwrap();
        assert_eq!(y, v(&[1.0, 0.0]));
    }

    #[test]
    fn binary_ops_broadcast_constants_stored_as_weights() {
        let mut l = layer(
            "Atan2",
            vec![
                ("y", TfArgValue::Input(0)),
                (
                    "x",
                    TfArgValue::Weight {
                        index: 0,
                        shape: vec![2, 1],
                    },
                ),
            ],
            vec![],
        );
        l.weights.push(Weight {
            name: "const_0".into(),
            value: ArrayD::from_shape_vec(IxDyn(&[2, 1]), vec![1.0, -1.0]).unwrap(),
        });
        let y = run_l(&l, &[&v(&[1.0, 0.0])]).unwrap();
        // atan2(1, 1) = pi/4, atan2(0, 1) = 0, atan2(1, -1) = 3pi/4, atan2(0, -1) = pi.
        let pi = std::f32::consts::PI;
        assert_eq!(y.shape(), &[2, 2]);
        assert_eq!(
            y.iter().copied().collect::<Vec<_>>(),
            vec![pi / 4.0, 0.0, 3.0 * pi / 4.0, pi]
        );
        // A weight of the wrong shape is an error, not a panic.
        l.weights[0].value = v(&[1.0, 2.0, 3.0]);
        assert!(matches!(
            run_l(&l, &[&v(&[1.0])]),
            Err(LayerError::WeightShape { .. })
        ));
    }

    #[test]
    fn floor_mod_takes_the_divisor_sign() {
        // Python: -7 % 3 == 2, 7 % -3 == -2, 7.5 // 2 == 3.
        assert_eq!(floor_mod(-7.0, 3.0), 2.0);
        assert_eq!(floor_mod(7.0, -3.0), -2.0);
        assert_eq!(floor_mod(6.0, 3.0), 0.0);
        let fd = layer(
            "FloorDiv",
            vec![("x", TfArgValue::Input(0)), ("y", TfArgValue::Input(1))],
            vec![],
        );
        assert_eq!(
            run_l(&fd, &[&v(&[7.5, -7.5]), &v(&[2.0])]).unwrap(),
            v(&[3.0, -4.0])
        );
    }

    #[test]
    fn cumsum_exclusive_reverse() {
        let x = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let axis = || TfArgValue::Ints {
            values: vec![-1],
            shape: vec![],
        };
        let c = |ex, rev| {
            layer(
                "Cumsum",
                vec![("x", TfArgValue::Input(0)), ("axis", axis())],
                vec![("exclusive", ex), ("reverse", rev)],
            )
        };
        let flat = |l: &Layer| run_l(l, &[&x]).unwrap().iter().copied().collect::<Vec<_>>();
        // tf.math.cumsum([[1,2,3],[4,5,6]], axis=-1, exclusive=.., reverse=..)
        assert_eq!(flat(&c(false, false)), vec![1.0, 3.0, 6.0, 4.0, 9.0, 15.0]);
        assert_eq!(flat(&c(true, false)), vec![0.0, 1.0, 3.0, 0.0, 4.0, 9.0]);
        assert_eq!(flat(&c(false, true)), vec![6.0, 5.0, 3.0, 15.0, 11.0, 6.0]);
        assert_eq!(flat(&c(true, true)), vec![5.0, 3.0, 0.0, 11.0, 6.0, 0.0]);
    }

    #[test]
    fn reductions_with_and_without_keep_dims() {
        let x = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let r = |op, axes: Vec<i64>, keep| {
            let l = layer(
                op,
                vec![
                    ("input", TfArgValue::Input(0)),
                    (
                        "axis",
                        TfArgValue::Ints {
                            shape: vec![axes.len()],
                            values: axes,
                        },
                    ),
                ],
                vec![("keep_dims", keep)],
            );
            run_l(&l, &[&x]).unwrap()
        };
        assert_eq!(r("Sum", vec![1], false), v(&[6.0, 15.0]));
        assert_eq!(r("Mean", vec![0], true).shape(), &[1, 3]);
        assert_eq!(
            r("Mean", vec![0], true).iter().copied().collect::<Vec<_>>(),
            vec![2.5, 3.5, 4.5]
        );
        assert_eq!(
            r("Max", vec![0, -1], false),
            ArrayD::from_elem(IxDyn(&[]), 6.0)
        );
        assert_eq!(r("Prod", vec![1], false), v(&[6.0, 120.0]));
        assert_eq!(r("Min", vec![1, 0], true).shape(), &[1, 1]);
    }

    #[test]
    fn unknown_ops_and_bad_axes_are_errors() {
        let l = layer("Frobnicate", vec![("x", TfArgValue::Input(0))], vec![]);
        assert!(run_l(&l, &[&v(&[1.0])]).is_err());
        let l = layer(
            "Cumsum",
            vec![
                ("x", TfArgValue::Input(0)),
                (
                    "axis",
                    TfArgValue::Ints {
                        values: vec![3],
                        shape: vec![],
                    },
                ),
            ],
            vec![],
        );
        assert!(run_l(&l, &[&v(&[1.0])]).is_err());
        assert!(run_l(&l, &[]).is_err());
    }

    #[test]
    // The expected values are pasted as TensorFlow printed them (9 digits).
    #[allow(clippy::excessive_precision)]
    fn lrn_matches_tensorflow() {
        // Expected values: harness/lrn_values.py (tf.nn.local_response_normalization,
        // TensorFlow 2.21) on the same input.
        let x = ArrayD::from_shape_vec(
            IxDyn(&[1, 1, 2, 7]),
            (0..14)
                .map(|i| ((f64::from(i) * 0.37) % 2.0 - 1.0) as f32)
                .collect(),
        )
        .unwrap();
        let defaults: [f32; 14] = [
            -5.39988637e-01,
            -3.13518196e-01,
            -1.29388466e-01,
            5.47412746e-02,
            2.38871008e-01,
            4.23000753e-01,
            -4.47515249e-01,
            -2.38828659e-01,
            -2.31589451e-02,
            1.91061318e-01,
            4.05281544e-01,
            -5.38445473e-01,
            -3.24225247e-01,
            -1.13241769e-01,
        ];
        let tuned: [f32; 14] = [
            -6.08496189e-01,
            -3.82815331e-01,
            -1.53899118e-01,
            6.72076717e-02,
            2.86236614e-01,
            5.10781825e-01,
            -4.69365597e-01,
            -2.90438294e-01,
            -2.65103970e-02,
            1.96954519e-01,
            4.11038816e-01,
            -5.44019341e-01,
            -3.31564069e-01,
            -1.19083822e-01,
        ];
        let mk = |attrs: Vec<(String, TfAttr)>| Layer {
            name: "lrn".into(),
            kind: LayerKind::TfOp(TfOp {
                op: "LRN".into(),
                args: vec![TfArg {
                    name: "input".into(),
                    value: TfArgValue::Input(0),
                }],
                attrs,
            }),
            inbound: vec![],
            weights: vec![],
        };
        let cases = [
            (mk(vec![]), defaults),
            (
                mk(vec![
                    ("depth_radius".into(), TfAttr::Int(2)),
                    ("bias".into(), TfAttr::Float(1.5)),
                    ("alpha".into(), TfAttr::Float(0.3)),
                    ("beta".into(), TfAttr::Float(0.75)),
                ]),
                tuned,
            ),
        ];
        for (l, want) in cases {
            let y = run_l(&l, &[&x]).unwrap();
            assert_eq!(y.shape(), &[1, 1, 2, 7]);
            for (got, want) in y.iter().zip(want) {
                // float32 against TF's float32 kernel: a few ULP.
                assert!((got - want).abs() <= 1e-6, "{got} vs {want}");
            }
        }
        // Not 4-D: an error, not a panic.
        assert!(run_l(&cases_rank_error(), &[&v(&[1.0])]).is_err());
    }

    fn cases_rank_error() -> Layer {
        layer("LRN", vec![("input", TfArgValue::Input(0))], vec![])
    }
}
