//! Scalar arithmetic on one layer output → `Rescaling`, and the
//! `Normalization` layer's arithmetic → `Normalization`.
//!
//! Forms matched (Keras 3, tf-keras and TF1 freeze the same ops for these):
//! - `Rescaling(scale, offset)`: `mul = x * scale; add = mul + offset` in one
//!   layer scope (both Kerases always write both ops, offset 0 included) →
//!   `Rescaling(scale, offset)`;
//! - any other lone scalar arithmetic on a layer output (tf-keras's
//!   `tf.__operators__.add` / `tf.math.multiply` TFOpLambda layers, Keras 3's
//!   operator layers, TF1 code): `x * c` → `Rescaling(c, 0)`, `x + c` →
//!   `Rescaling(1, c)`, `x - c` → `Rescaling(1, -c)`, `c - x` →
//!   `Rescaling(-1, c)` (all exact: `x * 1`, `-x` and `x + (-c)` round like the
//!   TF op), `x / c` → `Rescaling(1 / c, 0)` (not bit-exact: `x * (1/c)` may
//!   differ from `x / c` in the last bit, ~1e-7 relative, far below every
//!   compare tolerance);
//! - hard_sigmoid / hard_swish as Keras 3's `Activation("hard_swish")` freezes
//!   them in one scope: `a = x + 3; r = Relu6(a); d = r / 6` (or `r * (1/6)`),
//!   then for hard_swish `y = x * d` → `Rescaling(1, 3)` `<scope>_plus3`,
//!   `ReLU(6)` `<scope>_relu6`, `Rescaling(1/6, 0)`, and `Multiply([x, d])`
//!   named `<scope>`. No single activation string works here: tf-keras has no
//!   `hard_swish`, and `hard_sigmoid` means `clip(0.2x + 0.5)` in tf-keras but
//!   `relu6(x + 3) / 6` in Keras 3; these four layers compute the same in both.
//!   The application's own `hard_sigmoid` (`ReLU(6)(x + 3) * (1/6)`, ops in
//!   other scopes) becomes the same layers through the generic rules above;
//! - `Normalization(axis=-1)` with `invert=False`:
//!   `sub = x - mean; y = sub / Maximum(Sqrt(variance), 1e-7)`, mean and the
//!   divisor constant → `Normalization(mean, variance)` with both kept in the
//!   config (how `Normalization(mean=..., variance=...)` stores them, and the one
//!   form both Kerases load without weights; an adapted layer computes the same).
//!
//! Not handled yet: per-channel (vector) Rescaling, `Normalization` over other
//! axes or with `invert=True`, arithmetic between a layer output and a
//! non-scalar constant that is not a BatchNormalization or Normalization.

use super::ctx::{Ctx, Emit, Match};
use super::rules::{CONSTANT, RuleEntry};
use crate::graph::TensorId;
use crate::graph::pb::NodeDef;
use crate::keras::LayerKind;

fn out(n: &NodeDef) -> TensorId {
    TensorId::new(n.name.clone(), 0)
}

/// `(x, c, x_index)` for a binary node of a layer output and a scalar constant.
fn layer_and_scalar(ctx: &Ctx, node: &NodeDef) -> Result<(TensorId, f32, usize), String> {
    for k in 0..2 {
        if let Ok(x) = ctx.layer_input(node, k)
            && let Ok(c) = ctx.const_f32(node, 1 - k)
        {
            return match c.iter().copied().collect::<Vec<_>>().as_slice() {
                [c] => Ok((x, *c, k)),
                _ => Err(format!(
                    "the constant operand has {} values, not 1",
                    c.len()
                )),
            };
        }
    }
    Err("not a layer output and a constant".into())
}

fn rescaling(scale: f32, offset: f32) -> LayerKind {
    LayerKind::Rescaling { scale, offset }
}

/// Lone scalar arithmetic (see the module header), with a following
/// `+ offset` in the same scope folded into the same `Rescaling`.
pub fn scalar(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let (x, c, xk) = layer_and_scalar(ctx, node)?;
    let (scale, offset) = match (node.op.as_str(), xk) {
        ("Mul", _) => (c, 0.0),
        ("Add" | "AddV2", _) => (1.0, c),
        ("Sub", 0) => (1.0, -c),
        ("Sub", _) => (-1.0, c),
        ("RealDiv", 0) if c != 0.0 => (1.0 / c, 0.0),
        ("RealDiv", 0) => return Err("division by the constant 0".into()),
        ("RealDiv", _) => return Err("a constant divided by a layer output".into()),
        (other, _) => return Err(format!("{other} is not scalar arithmetic this rule knows")),
    };
    if !(scale.is_finite() && offset.is_finite()) {
        return Err(format!("scale {scale} / offset {offset} is not finite"));
    }
    let mut emit = Emit::single(ctx, node, rescaling(scale, offset), vec![x]);
    // Keras's Rescaling: `x * scale + offset`, both ops in the layer's scope.
    if node.op == "Mul"
        && let Some(add) = ctx.sole_consumer(&out(node))
        && matches!(add.op.as_str(), "Add" | "AddV2")
        && ctx.same_layer(node, add)
        && let Ok((t, o, _)) = layer_and_scalar_after(ctx, add, &out(node))
        && t == out(node)
        && o.is_finite()
    {
        emit.kind = rescaling(scale, o);
        emit.output = out(add);
        emit.nodes.push(add.name.clone());
    }
    Ok(Match::one(emit))
}

/// Like [`layer_and_scalar`] for a node whose tensor operand `t` is not yet a
/// layer output (it is the pending `x * scale`).
fn layer_and_scalar_after(
    ctx: &Ctx,
    node: &NodeDef,
    t: &TensorId,
) -> Result<(TensorId, f32, usize), String> {
    for k in 0..2 {
        let a = ctx.graph.input(node, k).map_err(|e| e.to_string())?;
        if &a == t {
            let c = ctx.const_f32(node, 1 - k)?;
            return match c.iter().copied().collect::<Vec<_>>().as_slice() {
                [c] => Ok((a, *c, k)),
                _ => Err("not a scalar".into()),
            };
        }
    }
    Err(format!("does not read '{t}'"))
}

/// Keras 3's `Activation("hard_swish")` (and a hard_sigmoid in one scope),
/// anchored at `x + 3`.
pub fn hard_swish(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let (x, three, _) = layer_and_scalar(ctx, node)?;
    if three != 3.0 {
        return Err(format!("adds {three}, not 3"));
    }
    let relu6 = ctx
        .sole_consumer(&out(node))
        .filter(|n| n.op == "Relu6" && ctx.same_layer(n, node))
        .ok_or("x + 3 does not feed a lone Relu6 in its scope")?;
    let div = ctx
        .sole_consumer(&out(relu6))
        .filter(|n| ctx.same_layer(n, node))
        .ok_or("Relu6 does not feed a lone op in its scope")?;
    let (_, c, ck) = layer_and_scalar_after(ctx, div, &out(relu6))?;
    let sixth = match (div.op.as_str(), ck) {
        ("RealDiv", 0) if c == 6.0 => 1.0 / 6.0,
        // 1/6 as f32, with one rounding of slack for how the literal was written.
        ("Mul", _) if (c - 1.0 / 6.0).abs() <= 1e-7 => c,
        _ => return Err(format!("'{}' is not relu6(x + 3) / 6", div.name)),
    };
    let scope = ctx.layer_name(node);
    let mut layers = vec![
        Emit {
            name: format!("{scope}_plus3"),
            ..Emit::single(ctx, node, rescaling(1.0, 3.0), vec![x.clone()])
        },
        Emit {
            name: format!("{scope}_relu6"),
            ..Emit::single(
                ctx,
                relu6,
                LayerKind::ReLU {
                    max_value: Some(6.0),
                    negative_slope: 0.0,
                    threshold: 0.0,
                },
                vec![out(node)],
            )
        },
        Emit {
            name: scope.clone(),
            ..Emit::single(ctx, div, rescaling(sixth, 0.0), vec![out(relu6)])
        },
    ];
    // hard_swish: `x * hard_sigmoid(x)` in the same scope.
    if let Some(mul) = ctx.sole_consumer(&out(div))
        && mul.op == "Mul"
        && ctx.same_layer(mul, node)
    {
        let ins = [
            ctx.graph.input(mul, 0).map_err(|e| e.to_string())?,
            ctx.graph.input(mul, 1).map_err(|e| e.to_string())?,
        ];
        if ins.contains(&x) && ins.contains(&out(div)) {
            layers[2].name = format!("{scope}_div6");
            let inputs = if ins[0] == x {
                vec![x, out(div)]
            } else {
                vec![out(div), x]
            };
            layers.push(Emit {
                name: scope,
                ..Emit::single(ctx, mul, LayerKind::Multiply, inputs)
            });
        }
    }
    Ok(Match { layers })
}

/// `(x - mean) / Maximum(Sqrt(variance), eps)`, anchored at the `Sub`.
pub fn normalization(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    let mean = ctx.const_f32(node, 1)?;
    let div = ctx
        .sole_consumer(&out(node))
        .filter(|n| n.op == "RealDiv" && ctx.same_layer(n, node))
        .ok_or("x - mean does not feed a lone RealDiv in its scope")?;
    if ctx.graph.input(div, 0).map_err(|e| e.to_string())? != out(node) {
        return Err("the RealDiv does not divide x - mean".into());
    }
    let max = ctx.graph.input_node(div, 1).map_err(|e| e.to_string())?;
    if max.op != "Maximum" {
        return Err("the divisor is not Maximum(Sqrt(variance), eps)".into());
    }
    let (sqrt, eps) = (0..2)
        .find_map(|k| {
            let s = ctx.graph.input_node(max, k).ok()?;
            (s.op == "Sqrt").then(|| (s, ctx.const_f32(max, 1 - k)))
        })
        .ok_or("the divisor has no Sqrt(variance)")?;
    let eps = eps?;
    // keras.backend.epsilon() is 1e-7 in both Kerases; another epsilon is not this layer.
    if eps.len() != 1 || eps.iter().any(|&e| e != 1e-7) {
        return Err(format!("epsilon {eps} is not Keras's 1e-7"));
    }
    let variance = ctx.const_f32(sqrt, 0)?;
    let channels = ctx
        .shape(&x)
        .and_then(|s| s.last().copied().flatten())
        .ok_or("the input's last axis is unknown")?;
    let flat = |name: &str, v: ndarray::ArrayD<f32>| -> Result<Vec<f32>, String> {
        let v: Vec<f32> = v.iter().copied().collect();
        match v.len() {
            1 => Ok(vec![v[0]; channels]),
            n if n == channels => Ok(v),
            n => Err(format!("{name} has {n} values for {channels} channels")),
        }
    };
    // A broadcast mean (1, 1, 1, C) is the last axis only if every other dim is 1.
    if mean.shape().iter().rev().skip(1).any(|&d| d != 1)
        || variance.shape().iter().rev().skip(1).any(|&d| d != 1)
    {
        return Err("mean/variance vary along more than the last axis".into());
    }
    let kind = LayerKind::Normalization {
        axis: -1,
        mean: flat("mean", mean)?,
        variance: flat("variance", variance)?,
    };
    Ok(Match::one(Emit {
        output: out(div),
        nodes: vec![node.name.clone(), div.name.clone()],
        ..Emit::single(ctx, node, kind, vec![x])
    }))
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[
    RuleEntry::new("Mul", "rescaling (x * c [+ o])", CONSTANT, scalar),
    RuleEntry::new("Sub", "normalization", CONSTANT - 50, normalization),
    RuleEntry::new("Sub", "rescaling (x - c, c - x)", CONSTANT, scalar),
    RuleEntry::new("RealDiv", "rescaling (x / c)", CONSTANT, scalar),
    RuleEntry::new(
        "Add",
        "hard_swish (x + 3, Relu6, / 6, * x)",
        CONSTANT - 50,
        hard_swish,
    ),
    RuleEntry::new(
        "AddV2",
        "hard_swish (x + 3, Relu6, / 6, * x)",
        CONSTANT - 50,
        hard_swish,
    ),
    RuleEntry::new("Add", "rescaling (x + c)", CONSTANT, scalar),
    RuleEntry::new("AddV2", "rescaling (x + c)", CONSTANT, scalar),
];

#[cfg(test)]
mod tests {
    use crate::convert::{ConvertOptions, convert};
    use crate::graph::Graph;
    use crate::keras::{Layer, LayerKind, Model};
    use std::path::Path;

    /// Converts a committed fixture (`harness/gen_fixtures.py`, builder
    /// `build_preprocess`, which is where every expected value below comes from).
    fn model(case: &str) -> Model {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/{case}/model.pb"));
        let graph = Graph::load(&path).expect("fixture loads");
        let c = convert(&graph, &ConvertOptions::default()).expect("converts");
        assert!(c.unsupported.is_empty(), "{case}: {:?}", c.unsupported);
        c.model
    }

    fn layer<'m>(m: &'m Model, name: &str) -> &'m Layer {
        m.layer(name).unwrap_or_else(|| panic!("no layer {name}"))
    }

    #[test]
    fn rescaling_and_normalization_configs_are_recovered() {
        for case in ["k3_preprocess", "tk_preprocess"] {
            let m = model(case);
            // Rescaling(2.0, -0.5): the Mul and the AddV2 are one layer.
            assert_eq!(
                layer(&m, "rescaling").kind,
                LayerKind::Rescaling {
                    scale: 2.0,
                    offset: -0.5
                },
                "{case}"
            );
            // Normalization(mean=[0.1, -0.2, 0.3], variance=[0.5, 2.0, 1.5]).
            let LayerKind::Normalization { mean, variance, .. } = &layer(&m, "norm_config").kind
            else {
                panic!("{case}: norm_config is not a Normalization");
            };
            assert_eq!(mean, &[0.1, -0.2, 0.3], "{case}");
            // variance comes back through Sqrt's input, bit for bit.
            assert_eq!(variance, &[0.5, 2.0, 1.5], "{case}");
            // The adapted layer's variance is random in [0.5, 2] (tfcommon.random_weight).
            let LayerKind::Normalization { variance, .. } = &layer(&m, "norm_adapted").kind else {
                panic!("{case}: norm_adapted is not a Normalization");
            };
            assert!(variance.iter().all(|v| (0.5..=2.0).contains(v)), "{case}");
            // (x - 0.25) / 4 at the end: two Rescalings.
            let last = m.layers.last().expect("layers");
            assert_eq!(
                last.kind,
                LayerKind::Rescaling {
                    scale: 0.25,
                    offset: 0.0
                },
                "{case}"
            );
        }
    }

    #[test]
    fn batch_norm_without_scale_or_center_and_prelu() {
        for case in ["k3_preprocess", "tk_preprocess"] {
            let m = model(case);
            assert!(matches!(
                layer(&m, "bn_no_scale").kind,
                LayerKind::BatchNormalization {
                    scale: false,
                    center: true,
                    ..
                }
            ));
            assert!(matches!(
                layer(&m, "bn_no_center").kind,
                LayerKind::BatchNormalization {
                    scale: true,
                    center: false,
                    ..
                }
            ));
            let shared = layer(&m, "prelu_shared");
            assert_eq!(
                shared.kind,
                LayerKind::PReLU {
                    shared_axes: vec![1, 2]
                }
            );
            // alpha: (1, 1, 8) for a (6, 6, 8) input shared over H and W, in [0.05, 0.5].
            let alpha = shared.weight("alpha").expect("alpha");
            assert_eq!(alpha.shape(), &[1, 1, 8]);
            assert!(alpha.iter().all(|a| (0.05..=0.5).contains(a)), "{case}");
            let full = layer(&m, "prelu_full");
            assert_eq!(
                full.kind,
                LayerKind::PReLU {
                    shared_axes: vec![]
                }
            );
            assert_eq!(full.weight("alpha").expect("alpha").shape(), &[6, 6, 6]);
        }
    }

    #[test]
    fn keras3_hard_swish_becomes_four_layers_named_after_its_scope() {
        let m = model("k3_preprocess");
        assert_eq!(
            layer(&m, "hard_swish_plus3").kind,
            LayerKind::Rescaling {
                scale: 1.0,
                offset: 3.0
            }
        );
        assert!(matches!(
            layer(&m, "hard_swish_relu6").kind,
            LayerKind::ReLU {
                max_value: Some(6.0),
                ..
            }
        ));
        assert_eq!(
            layer(&m, "hard_swish_div6").kind,
            LayerKind::Rescaling {
                scale: 1.0 / 6.0,
                offset: 0.0
            }
        );
        // Activation("hard_sigmoid") in Keras 3 is relu6(x + 3) / 6, in one scope.
        assert_eq!(
            layer(&m, "hard_sigmoid").kind,
            LayerKind::Rescaling {
                scale: 1.0 / 6.0,
                offset: 0.0
            }
        );
        assert!(m.layer("hard_sigmoid_relu6").is_some());
        let mul = layer(&m, "hard_swish");
        assert_eq!(mul.kind, LayerKind::Multiply);
        assert_eq!(mul.inbound, vec!["prelu_shared", "hard_swish_div6"]);
    }

    #[test]
    fn tf_keras_hard_sigmoid_is_rescaling_and_clip() {
        // tf-keras's hard_sigmoid: clip(0.2x + 0.5, 0, 1).
        let m = model("tk_preprocess");
        assert_eq!(
            layer(&m, "hard_sigmoid").kind,
            LayerKind::Rescaling {
                scale: 0.2,
                offset: 0.5
            }
        );
        assert_eq!(
            layer(&m, "hard_sigmoid_clip").kind,
            LayerKind::ReLU {
                max_value: Some(1.0),
                negative_slope: 0.0,
                threshold: 0.0
            }
        );
    }
}
