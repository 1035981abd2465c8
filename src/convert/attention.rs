//! `MultiHeadAttention` as Keras freezes it (self- or cross-attention on
//! `(batch, seq, features)` inputs, no mask).
//!
//! The whole layer is matched from its `Softmax` backwards and forwards; the
//! rule anchors at any of its projections (`Einsum` / `BatchMatMulV2`),
//! because in the topological order a projection is the layer's first node:
//!
//! ```text
//! projections  tf-keras: Einsum(x, W[c,n,h], "abc,cde->abde") + bias[n,h]
//!              Keras 3:  Reshape(BatchMatMulV2(x, Reshape(W, [c, -1])), [-1, T, n, h]) + bias
//! scores       tf-keras: Einsum(k, q * 1/sqrt(key_dim), "aecd,abcd->acbe")
//!              Keras 3:  Einsum(q, k, "BTNH,BSNH->BNTS") * 1/sqrt(key_dim)
//! Softmax (last axis), [dropout Identity]
//! context      Einsum(probs, v, "acbe,aecd->abcd" | "BNTS,BSNH->BTNH")
//! output       tf-keras: Einsum(ctx, Wo[n,h,e], "abcd,cde->abe") + bias[e]
//!              Keras 3:  BatchMatMulV2(Reshape(ctx, [-1, T, n*h]), Reshape(Wo, [-1, e])) + bias
//! ```
//!
//! Einsum equations are checked by the role of each letter (batch, query
//! position, key position, head, size), not by spelling, so any letters work.
//! The scale must be `1/sqrt(key_dim)` (what Keras uses).
//!
//! Not handled yet: attention masks (`attention_mask`, `use_causal_mask`:
//! extra `Add`/`Select` before the Softmax), `attention_axes` / inputs of rank
//! other than 3, `return_attention_scores`, a `key_dim` scale Keras 3 may
//! fold elsewhere.

use super::ctx::{Ctx, Emit, Match, weight};
use super::rules::{BLOCK, RuleEntry};
use crate::graph::pb::NodeDef;
use crate::graph::{NodeExt, TensorId};
use crate::keras::LayerKind;
use ndarray::ArrayD;
use std::collections::VecDeque;

fn out(node: &NodeDef) -> TensorId {
    TensorId::new(node.name.clone(), 0)
}

fn node<'g>(ctx: &Ctx<'g>, t: &TensorId) -> Result<&'g NodeDef, String> {
    ctx.graph
        .node(&t.node)
        .ok_or_else(|| format!("'{t}' is not a node"))
}

fn input(ctx: &Ctx, n: &NodeDef, k: usize) -> Result<TensorId, String> {
    ctx.graph.input(n, k).map_err(|e| e.to_string())
}

/// `"abc,cde->abde"` as ([operand letters], output letters).
fn equation(n: &NodeDef) -> Result<(Vec<Vec<char>>, Vec<char>), String> {
    let eq = n
        .attr_str("equation")
        .map_err(|e| format!("Einsum without equation: {e}"))?;
    let (ins, outs) = eq
        .split_once("->")
        .ok_or_else(|| format!("equation '{eq}' has no '->'"))?;
    let ins = ins.split(',').map(|s| s.trim().chars().collect()).collect();
    Ok((ins, outs.trim().chars().collect()))
}

fn distinct(letters: &[char]) -> bool {
    letters
        .iter()
        .enumerate()
        .all(|(i, c)| !letters[..i].contains(c))
}

/// One projection: `x` times `kernel (c, n, h)` plus `bias (n, h)`.
struct Proj {
    x: TensorId,
    kernel: ArrayD<f32>,
    bias: Option<ArrayD<f32>>,
    nodes: Vec<String>,
}

/// The projection whose output is `t`.
fn projection(ctx: &Ctx, t: &TensorId) -> Result<Proj, String> {
    let mut n = node(ctx, t)?;
    let mut nodes = Vec::new();
    let mut bias = None;
    if matches!(n.op.as_str(), "Add" | "AddV2" | "BiasAdd") {
        let (b, k) = match ctx.const_f32(n, 1) {
            Ok(b) => (b, 0),
            Err(_) => (ctx.const_f32(n, 0)?, 1),
        };
        nodes.push(n.name.clone());
        bias = Some(b);
        n = node(ctx, &input(ctx, n, k)?)?;
    }
    let (x, kernel) = match n.op.as_str() {
        "Einsum" => {
            let (ins, o) = equation(n)?;
            let ok = matches!(ins.as_slice(), [x, w] if x.len() == 3 && w.len() == 3
                && o.len() == 4 && x[2] == w[0] && o == [x[0], x[1], w[1], w[2]]
                && distinct(&o) && !o.contains(&x[2]));
            if !ok {
                return Err(format!("projection {} is not x[b,t,c] W[c,n,h]", n.name));
            }
            nodes.push(n.name.clone());
            (input(ctx, n, 0)?, ctx.const_f32(n, 1)?)
        }
        // Keras 3: Reshape(BatchMatMulV2(x, Reshape(W3, [c, -1])), [-1, T, n, h]).
        "Reshape" => {
            let mm = node(ctx, &input(ctx, n, 0)?)?;
            if !matches!(mm.op.as_str(), "BatchMatMulV2" | "BatchMatMul" | "MatMul")
                || mm.attr_bool("adj_x").unwrap_or(false)
                || mm.attr_bool("adj_y").unwrap_or(false)
                || mm.attr_bool("transpose_b").unwrap_or(false)
            {
                return Err(format!("projection {} is not Reshape(x · W)", n.name));
            }
            let w_node = ctx.graph.input_node(mm, 1).map_err(|e| e.to_string())?;
            let kernel = if w_node.op == "Reshape" {
                ctx.const_f32(w_node, 0)?
            } else {
                return Err("projection weight is not a reshaped 3-D kernel".into());
            };
            if kernel.ndim() != 3 {
                return Err(format!("projection kernel has rank {}", kernel.ndim()));
            }
            let dims = ctx.const_ints(n, 1)?;
            let (nh, h) = (kernel.shape()[1], kernel.shape()[2]);
            if dims.len() != 4 || dims[2] != nh as i64 || dims[3] != h as i64 {
                return Err(format!(
                    "projection reshape to {dims:?} is not (.., {nh}, {h})"
                ));
            }
            nodes.extend([n.name.clone(), mm.name.clone()]);
            (input(ctx, mm, 0)?, kernel)
        }
        other => return Err(format!("projection is a {other}")),
    };
    if kernel.ndim() != 3 {
        return Err(format!("projection kernel has rank {}", kernel.ndim()));
    }
    if !ctx.is_layer_output(&x) {
        return Err(format!("projection input '{x}' is not a layer output"));
    }
    let bias = match bias {
        Some(b) => {
            let shape = [kernel.shape()[1], kernel.shape()[2]];
            if b.len() != shape[0] * shape[1] {
                return Err(format!("projection bias has shape {:?}", b.shape()));
            }
            Some(
                b.into_shape_with_order(ndarray::IxDyn(&shape))
                    .map_err(|e| e.to_string())?,
            )
        }
        None => None,
    };
    Ok(Proj {
        x,
        kernel,
        bias,
        nodes,
    })
}

/// A scalar `Mul` found by [`strip_scale`]: the factor and the node.
type Scale<'g> = Option<(f32, &'g NodeDef)>;

/// `t` or, if `t` is `y * scalar`, (`y`, scalar, the Mul).
fn strip_scale<'g>(ctx: &Ctx<'g>, t: &TensorId) -> Result<(TensorId, Scale<'g>), String> {
    let n = node(ctx, t)?;
    if n.op != "Mul" {
        return Ok((t.clone(), None));
    }
    for k in 0..2 {
        if let Ok(c) = ctx.const_f32(n, k)
            && c.len() == 1
        {
            let s = c.iter().next().copied().unwrap_or(f32::NAN);
            return Ok((input(ctx, n, 1 - k)?, Some((s, n))));
        }
    }
    Ok((t.clone(), None))
}

/// The Softmax of the attention layer `anchor` belongs to (searching forward).
fn find_softmax<'g>(ctx: &Ctx<'g>, anchor: &NodeDef) -> Option<&'g NodeDef> {
    let mut queue = VecDeque::from([(out(anchor), 0)]);
    while let Some((t, depth)) = queue.pop_front() {
        for (i, _) in ctx.graph.consumers(&t) {
            let n = &ctx.graph.nodes()[i];
            if !ctx.same_layer(anchor, n) {
                continue;
            }
            if n.op == "Softmax" {
                return Some(n);
            }
            // The value projection reaches the context Einsum, whose other operand is the Softmax.
            for k in 0..n.data_inputs().len() {
                if let Ok(p) = ctx.graph.input_node(n, k)
                    && p.op == "Softmax"
                    && ctx.same_layer(anchor, p)
                {
                    return Some(p);
                }
            }
            if depth < 6 {
                queue.push_back((out(n), depth + 1));
            }
        }
    }
    None
}

pub fn mha(ctx: &Ctx, anchor: &NodeDef) -> Result<Match, String> {
    let softmax = find_softmax(ctx, anchor).ok_or("no Softmax of an attention layer downstream")?;
    let mut nodes = vec![softmax.name.clone()];
    // Scores, maybe scaled after the product (Keras 3).
    let (scores_t, post_scale) = strip_scale(ctx, &input(ctx, softmax, 0)?)?;
    let scores = node(ctx, &scores_t)?;
    if scores.op != "Einsum" {
        return Err(format!(
            "attention scores come from a {}, not an Einsum",
            scores.op
        ));
    }
    nodes.push(scores.name.clone());
    let (ins, s) = equation(scores)?;
    // s = [b, n, t, u]; query [b, t, n, h]; key [b, u, n, h].
    let role = |op: &[char], seq: char| {
        op.len() == 4
            && s.len() == 4
            && op[0] == s[0]
            && op[1] == seq
            && op[2] == s[1]
            && !s.contains(&op[3])
    };
    let q_first = match ins.as_slice() {
        [a, b] if distinct(&s) && role(a, s[2]) && role(b, s[3]) && a[3] == b[3] => true,
        [a, b] if distinct(&s) && role(b, s[2]) && role(a, s[3]) && a[3] == b[3] => false,
        _ => return Err(format!("scores Einsum {} is not q·k per head", scores.name)),
    };
    let (qk, kk) = if q_first { (0, 1) } else { (1, 0) };
    let (q_t, pre_scale) = strip_scale(ctx, &input(ctx, scores, qk)?)?;
    let scale = match (pre_scale, post_scale) {
        (Some((v, n)), None) | (None, Some((v, n))) => {
            nodes.push(n.name.clone());
            v
        }
        _ => return Err("no single 1/sqrt(key_dim) scale".into()),
    };
    let q = projection(ctx, &q_t)?;
    let k = projection(ctx, &input(ctx, scores, kk)?)?;
    // Context: Einsum(probs, v) with probs [b,n,t,u], v [b,u,n,h] -> [b,t,n,h].
    let probs = out(softmax);
    let combine = ctx
        .graph
        .consumers(&probs)
        .into_iter()
        .map(|(i, _)| &ctx.graph.nodes()[i])
        .find(|n| n.op == "Einsum")
        .ok_or("the Softmax does not feed an Einsum")?;
    if input(ctx, combine, 0)? != probs {
        return Err(
            "the attention probabilities are not the context Einsum's first operand".into(),
        );
    }
    let (cins, co) = equation(combine)?;
    let ok = matches!(cins.as_slice(), [p, v] if p.len() == 4 && v.len() == 4 && co.len() == 4
        && distinct(p) && !p.contains(&v[3])
        && v[..3] == [p[0], p[3], p[1]] && co == [p[0], p[2], p[1], v[3]]);
    if !ok {
        return Err(format!(
            "context Einsum {} is not probs·v per head",
            combine.name
        ));
    }
    nodes.push(combine.name.clone());
    let v = projection(ctx, &input(ctx, combine, 1)?)?;
    // Output projection.
    let ctx_t = out(combine);
    let first = ctx
        .sole_consumer(&ctx_t)
        .ok_or("the context has several consumers")?;
    let (wo, mut y) = match first.op.as_str() {
        "Einsum" => {
            let (ins, o) = equation(first)?;
            let ok = matches!(ins.as_slice(), [c, w] if c.len() == 4 && w.len() == 3
                && w[..2] == c[2..] && o == [c[0], c[1], w[2]] && distinct(c));
            if !ok || input(ctx, first, 0)? != ctx_t {
                return Err(format!(
                    "output Einsum {} is not ctx[b,t,n,h] W[n,h,e]",
                    first.name
                ));
            }
            nodes.push(first.name.clone());
            (ctx.const_f32(first, 1)?, out(first))
        }
        "Reshape" => {
            let mm = ctx
                .sole_consumer(&out(first))
                .filter(|n| matches!(n.op.as_str(), "BatchMatMulV2" | "BatchMatMul"))
                .ok_or("the flattened context does not feed a BatchMatMul")?;
            if mm.attr_bool("adj_x").unwrap_or(false) || mm.attr_bool("adj_y").unwrap_or(false) {
                return Err("output BatchMatMul transposes an operand".into());
            }
            let w_node = ctx.graph.input_node(mm, 1).map_err(|e| e.to_string())?;
            if w_node.op != "Reshape" {
                return Err("output kernel is not a reshaped 3-D kernel".into());
            }
            let dims = ctx.const_ints(first, 1)?;
            let w = ctx.const_f32(w_node, 0)?;
            if w.ndim() != 3 || dims.len() != 3 || dims[2] != (w.shape()[0] * w.shape()[1]) as i64 {
                return Err(format!(
                    "context reshape to {dims:?} does not fit the output kernel"
                ));
            }
            nodes.extend([first.name.clone(), mm.name.clone()]);
            (w, out(mm))
        }
        other => {
            return Err(format!(
                "the context feeds a {other}, not an output projection"
            ));
        }
    };
    if wo.ndim() != 3 {
        return Err(format!("output kernel has rank {}", wo.ndim()));
    }
    let e = wo.shape()[2];
    let mut bo = None;
    if let Some(add) = ctx.sole_consumer(&y)
        && matches!(add.op.as_str(), "Add" | "AddV2" | "BiasAdd")
        && ctx.same_layer(anchor, add)
    {
        let kb = if input(ctx, add, 0)? == y { 1 } else { 0 };
        if let Ok(b) = ctx.const_f32(add, kb)
            && b.len() == e
        {
            bo = Some(
                b.into_shape_with_order(ndarray::IxDyn(&[e]))
                    .map_err(|e| e.to_string())?,
            );
            nodes.push(add.name.clone());
            y = out(add);
        }
    }
    // Shapes and the scale.
    let (n, hk, hv) = (
        q.kernel.shape()[1],
        q.kernel.shape()[2],
        v.kernel.shape()[2],
    );
    if k.kernel.shape()[1..] != [n, hk] || v.kernel.shape()[1] != n || wo.shape()[..2] != [n, hv] {
        return Err(format!(
            "projection kernels disagree: q {:?}, k {:?}, v {:?}, out {:?}",
            q.kernel.shape(),
            k.kernel.shape(),
            v.kernel.shape(),
            wo.shape()
        ));
    }
    let want = 1.0 / (hk as f32).sqrt();
    // Keras computes 1/sqrt(key_dim) in float32 (or float64 then casts): a few ulp at most.
    if (scale - want).abs() > 1e-6 * want {
        return Err(format!(
            "scale {scale} is not 1/sqrt(key_dim = {hk}) = {want}"
        ));
    }
    let use_bias = q.bias.is_some();
    if [&k.bias, &v.bias].iter().any(|b| b.is_some() != use_bias) || bo.is_some() != use_bias {
        return Err("some projections have a bias and others not".into());
    }
    let q_features = ctx
        .shape(&q.x)
        .filter(|s| s.len() == 3)
        .and_then(|s| s[2])
        .ok_or("the query is not (batch, seq, features) with known features")?;
    let mut weights = Vec::new();
    for (prefix, p) in [("query", &q), ("key", &k), ("value", &v)] {
        let (kn, bn) = match prefix {
            "query" => ("query/kernel", "query/bias"),
            "key" => ("key/kernel", "key/bias"),
            _ => ("value/kernel", "value/bias"),
        };
        weights.push(weight(kn, p.kernel.clone()));
        if let Some(b) = &p.bias {
            weights.push(weight(bn, b.clone()));
        }
        nodes.extend(p.nodes.iter().cloned());
    }
    weights.push(weight("attention_output/kernel", wo));
    if let Some(b) = bo {
        weights.push(weight("attention_output/bias", b));
    }
    let mut inputs = vec![q.x.clone(), v.x.clone()];
    if k.x != v.x {
        inputs.push(k.x.clone());
    }
    if !nodes.contains(&anchor.name) {
        return Err(format!(
            "{} is not one of the attention's projections",
            anchor.name
        ));
    }
    nodes.sort();
    nodes.dedup();
    Ok(Match::one(Emit {
        name: ctx.layer_name(softmax),
        kind: LayerKind::MultiHeadAttention {
            num_heads: n,
            key_dim: hk,
            value_dim: hv,
            use_bias,
            output_shape: (e != q_features).then_some(e),
        },
        weights,
        inputs,
        output: y,
        more_outputs: Vec::new(),
        nodes,
    }))
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[
    RuleEntry::new("Einsum", "multi_head_attention", BLOCK, mha),
    RuleEntry::new("BatchMatMulV2", "multi_head_attention", BLOCK, mha),
];
