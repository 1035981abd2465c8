//! LayerNormalization, recovering gamma, beta and epsilon.
//!
//! Both Kerases freeze `LayerNormalization(axis=-1)` as moments + the
//! `tf.nn.batch_normalization` arithmetic, anchored here at the first `Mean`:
//!
//! ```text
//! mean = Mean(x, [-1] or [rank-1], keep_dims)           (moments/mean)
//! var  = Mean(SquaredDifference(x, StopGradient(mean)), same axes, keep_dims)
//! inv  = Rsqrt(var + eps) [* gamma]
//! tf-keras: out = x * inv + (beta - mean * inv)          (center)
//!           out = x * inv + Neg(mean * inv)              (no center)
//! Keras 3:  out = x * inv + (Neg(mean) * inv + beta)     (center)
//!           out = x * inv + Neg(mean) * inv              (no center)
//! ```
//!
//! `gamma`/`beta` are constants of the axis' length (Keras 3 reshapes them to
//! `(1, …, 1, C)`, which constant folding sees through).
//!
//! tf-keras with `epsilon >= 1.001e-5` (its default 1e-3 included) takes the
//! fused path instead, anchored here at the first `Reshape` ([`fused_layer_norm`]):
//!
//! ```text
//! r   = Reshape(x, Pack(1, Prod(Shape(x)[:axis]), Prod(Shape(x)[axis:]), 1))
//! bn  = FusedBatchNormV3(r, Fill(ones), Fill(zeros), [], [], NCHW,
//!                        is_training=True, epsilon)          (batch statistics)
//! out = Reshape(bn, Shape(x)) [* gamma] [+ beta]             (scale / center)
//! ```
//!
//! Not handled yet: normalisation over several axes (`axis=[1, 2, 3]`, which
//! the fused form collapses into `Prod(Shape(x)[axis:])` of length > 1: refused),
//! `rms_scaling=True`.

use super::ctx::{Ctx, Emit, Match, weight};
use super::rules::{BLOCK, RuleEntry};
use crate::graph::TensorId;
use crate::graph::pb::NodeDef;
use crate::keras::LayerKind;
use ndarray::ArrayD;

fn out(node: &NodeDef) -> TensorId {
    TensorId::new(node.name.clone(), 0)
}

/// The other operand of binary `node` when one operand is `t`.
fn other(ctx: &Ctx, node: &NodeDef, t: &TensorId) -> Option<TensorId> {
    let a = ctx.graph.input(node, 0).ok()?;
    let b = ctx.graph.input(node, 1).ok()?;
    if &a == t {
        Some(b)
    } else if &b == t {
        Some(a)
    } else {
        None
    }
}

/// The consumers of `t` (resolved through pass-through nodes).
fn consumers<'g>(ctx: &Ctx<'g>, t: &TensorId) -> Vec<&'g NodeDef> {
    ctx.graph
        .consumers(t)
        .into_iter()
        .map(|(i, _)| &ctx.graph.nodes()[i])
        .collect()
}

fn is_add(n: &NodeDef) -> bool {
    matches!(n.op.as_str(), "Add" | "AddV2")
}

/// A per-channel constant of length `c`.
fn channel_vector(name: &str, v: ArrayD<f32>, c: usize) -> Result<ArrayD<f32>, String> {
    if v.len() != c || v.shape().iter().rev().skip(1).any(|&d| d != 1) {
        return Err(format!(
            "{name} has shape {:?}, expected {c} values",
            v.shape()
        ));
    }
    v.into_shape_with_order(ndarray::IxDyn(&[c]))
        .map_err(|e| e.to_string())
}

/// Whether `node` is `Mean(x, last axis, keep_dims=true)` over a rank-`rank` input.
fn is_last_axis_mean(ctx: &Ctx, node: &NodeDef, rank: usize) -> bool {
    use crate::graph::NodeExt;
    node.op == "Mean"
        && node.attr_bool("keep_dims").unwrap_or(false)
        && ctx
            .const_ints(node, 1)
            .is_ok_and(|a| a.len() == 1 && (a[0] == -1 || a[0] == rank as i64 - 1))
}

pub fn layer_norm(ctx: &Ctx, mean: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(mean, 0)?;
    let shape = ctx.shape(&x).ok_or("input shape unknown")?;
    let rank = shape.len();
    let c = shape
        .last()
        .copied()
        .flatten()
        .ok_or("the input's last dimension is unknown")?;
    if rank < 2 || !is_last_axis_mean(ctx, mean, rank) {
        return Err("not a keep_dims Mean over the last axis".into());
    }
    let mean_t = out(mean);
    let mut nodes = vec![mean.name.clone()];
    // var = Mean(SquaredDifference(x, StopGradient(mean)))
    let sqd = consumers(ctx, &mean_t)
        .into_iter()
        .find(|n| n.op == "SquaredDifference")
        .ok_or("the mean does not feed a SquaredDifference")?;
    if other(ctx, sqd, &mean_t).as_ref() != Some(&x) {
        return Err("SquaredDifference is not (x - mean)^2".into());
    }
    let var = ctx
        .sole_consumer(&out(sqd))
        .filter(|n| is_last_axis_mean(ctx, n, rank))
        .ok_or("(x - mean)^2 is not averaged over the last axis")?;
    let add = ctx
        .sole_consumer(&out(var))
        .filter(|n| is_add(n))
        .ok_or("the variance is not followed by + epsilon")?;
    let eps_t = other(ctx, add, &out(var)).ok_or("Add does not take the variance")?;
    let eps = super::consts::fold_f32(ctx.graph, &eps_t)
        .filter(|e| e.len() == 1)
        .and_then(|e| e.iter().next().copied())
        .ok_or("epsilon is not a scalar constant")?;
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(format!("epsilon {eps} is not a valid epsilon"));
    }
    let rsqrt = ctx
        .sole_consumer(&out(add))
        .filter(|n| n.op == "Rsqrt")
        .ok_or("var + eps is not followed by Rsqrt")?;
    nodes.extend([
        sqd.name.clone(),
        var.name.clone(),
        add.name.clone(),
        rsqrt.name.clone(),
    ]);
    // inv = Rsqrt [* gamma]
    let (inv, gamma) = match ctx.sole_consumer(&out(rsqrt)) {
        Some(m) if m.op == "Mul" => {
            match other(ctx, m, &out(rsqrt)).and_then(|g| super::consts::fold_f32(ctx.graph, &g)) {
                Some(g) => {
                    nodes.push(m.name.clone());
                    (out(m), Some(channel_vector("gamma", g, c)?))
                }
                None => (out(rsqrt), None),
            }
        }
        _ => (out(rsqrt), None),
    };
    // x * inv
    let inv_users = consumers(ctx, &inv);
    let x_mul = inv_users
        .iter()
        .find(|n| n.op == "Mul" && other(ctx, n, &inv).as_ref() == Some(&x))
        .ok_or("no x * inv")?;
    let out_add = ctx
        .sole_consumer(&out(x_mul))
        .filter(|n| is_add(n))
        .ok_or("x * inv is not followed by an Add")?;
    let shift = other(ctx, out_add, &out(x_mul)).ok_or("Add does not take x * inv")?;
    let shift_node = ctx.graph.node(&shift.node).ok_or("shift is not a node")?;
    nodes.extend([
        x_mul.name.clone(),
        out_add.name.clone(),
        shift_node.name.clone(),
    ]);
    // The product of the mean and inv: mean * inv (tf-keras) or Neg(mean) * inv (Keras 3).
    let is_mean_product = |n: &NodeDef| -> Option<Vec<String>> {
        if n.op != "Mul" {
            return None;
        }
        let m = other(ctx, n, &inv)?;
        if m == mean_t {
            return Some(vec![n.name.clone()]);
        }
        let neg = ctx.graph.node(&m.node).filter(|p| p.op == "Neg")?;
        (ctx.graph.input(neg, 0).ok()? == mean_t).then(|| vec![n.name.clone(), neg.name.clone()])
    };
    let input_node = |n: &NodeDef, k: usize| ctx.graph.input_node(n, k).ok();
    let beta = match shift_node.op.as_str() {
        // tf-keras, center: beta - mean * inv
        "Sub" => {
            let prod = input_node(shift_node, 1).ok_or("Sub has no second input")?;
            let names = is_mean_product(prod).ok_or("shift is not beta - mean * inv")?;
            nodes.extend(names);
            Some(ctx.const_f32(shift_node, 0)?)
        }
        // tf-keras, no center: Neg(mean * inv)
        "Neg" => {
            let prod = input_node(shift_node, 0).ok_or("Neg has no input")?;
            nodes.extend(is_mean_product(prod).ok_or("shift is not -(mean * inv)")?);
            None
        }
        // Keras 3, center: Neg(mean) * inv + beta
        "Add" | "AddV2" => {
            let (a, b) = (input_node(shift_node, 0), input_node(shift_node, 1));
            let (prod, k) = match (a.and_then(is_mean_product), b.and_then(is_mean_product)) {
                (Some(names), _) => (names, 1),
                (None, Some(names)) => (names, 0),
                _ => return Err("shift is not -mean * inv + beta".into()),
            };
            nodes.extend(prod);
            Some(ctx.const_f32(shift_node, k)?)
        }
        // Keras 3, no center: Neg(mean) * inv
        "Mul" => {
            let names = is_mean_product(shift_node).ok_or("shift is not -mean * inv")?;
            nodes.extend(names.into_iter().skip(1));
            None
        }
        other => {
            return Err(format!(
                "shift is a {other}, not a LayerNormalization shift"
            ));
        }
    };
    let mut weights = Vec::new();
    let (scale, center) = (gamma.is_some(), beta.is_some());
    if let Some(g) = gamma {
        weights.push(weight("gamma", g));
    }
    if let Some(b) = beta {
        weights.push(weight("beta", channel_vector("beta", b, c)?));
    }
    nodes.sort();
    nodes.dedup();
    Ok(Match::one(Emit {
        name: ctx.layer_name(mean),
        kind: LayerKind::LayerNormalization {
            axis: -1,
            epsilon: eps,
            center,
            scale,
        },
        weights,
        inputs: vec![x],
        output: out(out_add),
        more_outputs: Vec::new(),
        nodes,
    }))
}

/// The fused tf-keras form (see the module header), anchored at the `Reshape`
/// that collapses `x` to NCHW `[1, rows, C, 1]`.
pub fn fused_layer_norm(ctx: &Ctx, reshape: &NodeDef) -> Result<Match, String> {
    use crate::graph::NodeExt;
    let x = ctx.layer_input(reshape, 0)?;
    let shape = ctx.shape(&x).ok_or("input shape unknown")?;
    let rank = shape.len();
    let c = shape
        .last()
        .copied()
        .flatten()
        .ok_or("the input's last dimension is unknown")?;
    if rank < 2 {
        return Err("input has rank < 2".into());
    }
    // Reshape target: Pack(1, Prod(leading dims), Prod(normalised dims), 1).
    let pack = ctx
        .graph
        .input_node(reshape, 1)
        .ok()
        .filter(|n| n.op == "Pack" && n.data_inputs().len() == 4)
        .ok_or("the target shape is not Pack(1, rows, features, 1)")?;
    let ones = |k: usize| ctx.const_ints(pack, k).is_ok_and(|v| v == [1]);
    if !(ones(0) && ones(3)) {
        return Err("the target shape is not [1, rows, features, 1]".into());
    }
    let prod_dims = |k: usize| -> Result<Vec<i64>, String> {
        let prod = ctx
            .graph
            .input_node(pack, k)
            .ok()
            .filter(|n| n.op == "Prod")
            .ok_or(format!(
                "target dimension {k} is not a Prod of x's dimensions"
            ))?;
        ctx.const_ints(prod, 0)
    };
    let (lead, norm) = (prod_dims(1)?, prod_dims(2)?);
    if lead.len() + norm.len() != rank {
        return Err("the target shape does not split x's dimensions in two".into());
    }
    if norm.len() != 1 {
        return Err(format!(
            "normalises over {} axes; only the last axis is supported",
            norm.len()
        ));
    }
    if norm[0] != c as i64 {
        return Err(format!("normalises {} features, x has {c}", norm[0]));
    }
    // FusedBatchNorm in training mode, NCHW, scale = ones, offset = zeros.
    let bn = ctx
        .sole_consumer(&out(reshape))
        .filter(|n| n.op.starts_with("FusedBatchNorm"))
        .ok_or("the reshaped input does not feed a FusedBatchNorm")?;
    if !bn.attr_bool("is_training").unwrap_or(true) {
        return Err("FusedBatchNorm is not in training mode (not a layer normalisation)".into());
    }
    if bn.attr_str("data_format").ok().as_deref() != Some("NCHW") {
        return Err("FusedBatchNorm is not NCHW".into());
    }
    let filled = |k: usize, value: f32| -> bool {
        let Ok(t) = ctx.graph.input(bn, k) else {
            return false;
        };
        if let Some(v) = super::consts::fold_f32(ctx.graph, &t) {
            return v.iter().all(|&e| e == value);
        }
        ctx.graph
            .node(&t.node)
            .filter(|n| n.op == "Fill")
            .and_then(|n| ctx.const_f32(n, 1).ok())
            .is_some_and(|v| v.len() == 1 && v.iter().all(|&e| e == value))
    };
    if !filled(1, 1.0) || !filled(2, 0.0) {
        return Err("FusedBatchNorm's scale/offset are not ones/zeros".into());
    }
    let eps = bn.attr_float("epsilon").unwrap_or(1e-4);
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(format!("epsilon {eps} is not a valid epsilon"));
    }
    // Back to x's shape.
    let back = ctx
        .sole_consumer(&out(bn))
        .filter(|n| n.op == "Reshape")
        .ok_or("FusedBatchNorm is not followed by a Reshape")?;
    let back_shape = ctx.graph.input_node(back, 1).ok();
    if !back_shape
        .is_some_and(|n| n.op == "Shape" && ctx.graph.input(n, 0).ok().as_ref() == Some(&x))
    {
        return Err("the Reshape after FusedBatchNorm does not restore Shape(x)".into());
    }
    let mut nodes = vec![reshape.name.clone(), bn.name.clone(), back.name.clone()];
    let mut output = out(back);
    // [* gamma] [+ beta]: constants of C values in the same layer scope.
    let mut affine = |ops: &[&str], name: &str| -> Result<Option<ArrayD<f32>>, String> {
        let Some(n) = ctx
            .sole_consumer(&output)
            .filter(|n| ops.contains(&n.op.as_str()) && ctx.same_layer(n, reshape))
        else {
            return Ok(None);
        };
        let Some(v) = other(ctx, n, &output).and_then(|t| super::consts::fold_f32(ctx.graph, &t))
        else {
            return Ok(None);
        };
        let v = channel_vector(name, v, c)?;
        nodes.push(n.name.clone());
        output = out(n);
        Ok(Some(v))
    };
    let gamma = affine(&["Mul"], "gamma")?;
    let beta = affine(&["Add", "AddV2"], "beta")?;
    let (scale, center) = (gamma.is_some(), beta.is_some());
    let weights = gamma
        .map(|g| weight("gamma", g))
        .into_iter()
        .chain(beta.map(|b| weight("beta", b)))
        .collect();
    Ok(Match::one(Emit {
        name: ctx.layer_name(reshape),
        kind: LayerKind::LayerNormalization {
            axis: -1,
            epsilon: eps,
            center,
            scale,
        },
        weights,
        inputs: vec![x],
        output,
        more_outputs: Vec::new(),
        nodes,
    }))
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[
    RuleEntry::new("Mean", "layer_normalization", BLOCK, layer_norm),
    RuleEntry::new(
        "Reshape",
        "layer_normalization (tf-keras fused form)",
        BLOCK,
        fused_layer_norm,
    ),
];

#[cfg(test)]
mod tests {
    use crate::convert::{ConvertOptions, convert};
    use crate::graph::Graph;
    use crate::keras::{LayerKind, Model};
    use std::path::Path;

    fn conversion(rel: &str) -> crate::convert::Conversion {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
        let graph = Graph::load(&path).expect("graph loads");
        convert(&graph, &ConvertOptions::default()).expect("converts")
    }

    /// (center, scale, epsilon) of layer `name`, with its weight names and lengths.
    fn ln(m: &Model, name: &str) -> (bool, bool, f32, Vec<(String, usize)>) {
        let layer = m.layer(name).unwrap_or_else(|| panic!("no layer {name}"));
        let LayerKind::LayerNormalization {
            axis: -1,
            epsilon,
            center,
            scale,
        } = layer.kind
        else {
            panic!("{name} is {:?}", layer.kind);
        };
        let weights = layer
            .weights
            .iter()
            .map(|w| (w.name.clone(), w.value.len()))
            .collect();
        (center, scale, epsilon, weights)
    }

    /// Issue 3: tf-keras LayerNormalization(center=False) / (scale=False) froze to the
    /// fused Reshape + FusedBatchNormV3 + Reshape form and stopped conversion (exit 3 on
    /// `model/ln_noc/Reshape`). Expected values: `build_layer_norm_forms` in
    /// harness/gen_fixtures.py; the Keras 3 fixture (moments form) must give the same.
    #[test]
    fn every_center_scale_form_is_recovered_in_both_kerases() {
        let w = |names: &[(&str, usize)]| -> Vec<(String, usize)> {
            names.iter().map(|(n, k)| (n.to_string(), *k)).collect()
        };
        for case in ["tk_layer_norm_forms", "k3_layer_norm_forms"] {
            let c = conversion(&format!("fixtures/{case}/model.pb"));
            assert!(c.unsupported.is_empty(), "{case}: {:?}", c.unsupported);
            let m = &c.model;
            let expected = [
                ("ln_noc", false, true, 1e-3, w(&[("gamma", 8)])),
                ("ln_nos", true, false, 1e-2, w(&[("beta", 8)])),
                ("ln_none", false, false, 1e-3, w(&[])),
                ("ln_def", true, true, 1e-3, w(&[("gamma", 8), ("beta", 8)])),
                ("ln_small_eps", false, true, 1e-6, w(&[("gamma", 8)])),
                ("ln_image", true, false, 1e-3, w(&[("beta", 3)])),
            ];
            for (name, center, scale, eps, weights) in expected {
                // epsilon is read back from a float32 attribute/constant: exact.
                assert_eq!(ln(m, name), (center, scale, eps, weights), "{case} {name}");
            }
        }
    }

    /// The fused form's layer ends at the last op it covers: the Reshape back to x's
    /// shape when there is neither gamma nor beta, the Mul or the Add otherwise.
    #[test]
    fn fused_form_maps_each_layer_to_its_last_tensor() {
        let c = conversion("fixtures/tk_layer_norm_forms/model.pb");
        for (layer, tensor) in [
            ("ln_noc", "model/ln_noc/mul:0"),
            ("ln_nos", "model/ln_nos/add:0"),
            ("ln_none", "model/ln_none/Reshape_1:0"),
            ("ln_def", "model/ln_def/add:0"),
        ] {
            let t = c.tensor_of(layer).map(|t| t.to_string());
            assert_eq!(t.as_deref(), Some(tensor), "{layer}");
        }
    }

    /// LayerNormalization over two axes (the fused form with Prod(Shape(x)[1:]) of two
    /// dimensions) has no single-axis IR form: refused, saying why.
    #[test]
    fn fused_form_over_two_axes_is_refused_with_the_reason() {
        let c = conversion("src/convert/testdata/tk_layer_norm_two_axes.pbtxt");
        let refusal = c
            .unsupported
            .iter()
            .find(|u| u.node == "model/ln_two_axes/Reshape")
            .unwrap_or_else(|| panic!("not refused: {:?}", c.unsupported));
        assert!(
            refusal.reason.contains("normalises over 2 axes"),
            "{}",
            refusal.reason
        );
    }
}
