//! Constant folding for what rules need to read: weights that reach an op
//! through small constant subgraphs (Keras 3's conv bias is
//! `Reshape(bias) → Squeeze`, TF1 weights go through `Identity`/`Cast`), and
//! integer shape computations (Keras 3's Flatten builds its target shape at
//! run time as `Pack(StridedSlice(Shape(x), 0, 1), N)`).
//!
//! The batch size is unknown when converting; shape folding represents it by
//! [`BATCH`]. Folding never panics on a hostile graph: depth is bounded and
//! every shape is checked.

use super::ctx::Shape;
use crate::graph::{Graph, NodeExt, Tensor, TensorId};
use ndarray::{ArrayD, Axis, IxDyn};
use std::collections::HashMap;

/// Stands for the (unknown) batch size in folded shapes.
pub const BATCH: i64 = i64::MIN;

/// Deep enough for any real weight subgraph; stops hostile recursion.
const MAX_DEPTH: usize = 64;

pub fn fold_f32(graph: &Graph, t: &TensorId) -> Option<ArrayD<f32>> {
    f32_at(graph, t, 0)
}

fn f32_at(graph: &Graph, t: &TensorId, depth: usize) -> Option<ArrayD<f32>> {
    if depth > MAX_DEPTH {
        return None;
    }
    let t = graph.resolve(t);
    if t.slot != 0 {
        return None;
    }
    let node = graph.node(&t.node)?;
    let input = |k: usize| {
        graph
            .input(node, k)
            .ok()
            .and_then(|i| f32_at(graph, &i, depth + 1))
    };
    let binary = |f: fn(&ArrayD<f32>, &ArrayD<f32>) -> Option<ArrayD<f32>>| {
        let (a, b) = (input(0)?, input(1)?);
        f(&a, &b)
    };
    match node.op.as_str() {
        "Const" => node.attr_tensor("value").ok().map(|t| t.to_f32()),
        "Cast" => input(0),
        "Reshape" => {
            let x = input(0)?;
            let target = ints_at(
                graph,
                &graph.input(node, 1).ok()?,
                &HashMap::new(),
                depth + 1,
            )?;
            reshape(x, &target)
        }
        "Squeeze" => {
            let x = input(0)?;
            let dims = node.attr_ints("squeeze_dims").unwrap_or_default();
            let rank = x.ndim() as i64;
            let keep: Vec<usize> = x
                .shape()
                .iter()
                .enumerate()
                .filter(|&(i, &d)| {
                    let listed = dims
                        .iter()
                        .any(|&a| (if a < 0 { a + rank } else { a }) == i as i64);
                    !(d == 1 && (dims.is_empty() || listed))
                })
                .map(|(_, &d)| d)
                .collect();
            x.into_shape_with_order(IxDyn(&keep)).ok()
        }
        "ExpandDims" => {
            let x = input(0)?;
            let axis = *ints_at(
                graph,
                &graph.input(node, 1).ok()?,
                &HashMap::new(),
                depth + 1,
            )?
            .first()?;
            let rank = x.ndim() as i64 + 1;
            let axis = if axis < 0 { axis + rank } else { axis };
            (0..rank)
                .contains(&axis)
                .then(|| x.insert_axis(Axis(axis as usize)))
        }
        "Neg" => input(0).map(|x| -x),
        "Rsqrt" => input(0).map(|x| x.mapv(|v| 1.0 / v.sqrt())),
        "Sqrt" => input(0).map(|x| x.mapv(f32::sqrt)),
        "Add" | "AddV2" => binary(|a, b| broadcast(a, b, |x, y| x + y)),
        "Sub" => binary(|a, b| broadcast(a, b, |x, y| x - y)),
        "Mul" => binary(|a, b| broadcast(a, b, |x, y| x * y)),
        "RealDiv" => binary(|a, b| broadcast(a, b, |x, y| x / y)),
        "Maximum" => binary(|a, b| broadcast(a, b, f32::max)),
        _ => None,
    }
}

fn broadcast(a: &ArrayD<f32>, b: &ArrayD<f32>, f: fn(f32, f32) -> f32) -> Option<ArrayD<f32>> {
    let rank = a.ndim().max(b.ndim());
    let pad = |s: &[usize]| -> Vec<usize> {
        std::iter::repeat_n(1, rank - s.len())
            .chain(s.iter().copied())
            .collect()
    };
    let (sa, sb) = (pad(a.shape()), pad(b.shape()));
    let mut out = Vec::with_capacity(rank);
    for (&x, &y) in sa.iter().zip(&sb) {
        out.push(match (x, y) {
            _ if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        });
    }
    let a = a.broadcast(IxDyn(&out))?;
    let b = b.broadcast(IxDyn(&out))?;
    let mut r = a.to_owned();
    r.zip_mut_with(&b, |x, &y| *x = f(*x, y));
    Some(r)
}

fn reshape(x: ArrayD<f32>, target: &[i64]) -> Option<ArrayD<f32>> {
    let n = x.len();
    // Checked: the target comes from the file (found by the convert fuzz
    // campaign: dims whose product overflows i64).
    let known = target
        .iter()
        .filter(|&&d| d >= 0)
        .try_fold(1i64, |a, &d| a.checked_mul(d))?;
    let mut dims = Vec::with_capacity(target.len());
    for &d in target {
        dims.push(match d {
            -1 if known > 0 => n / known as usize,
            d if d >= 0 => d as usize,
            _ => return None,
        });
    }
    x.as_standard_layout()
        .into_owned()
        .into_shape_with_order(IxDyn(&dims))
        .ok()
}

/// Folds an integer tensor (flattened), with the batch size as [`BATCH`].
pub fn fold_ints(
    graph: &Graph,
    t: &TensorId,
    shapes: &HashMap<TensorId, Shape>,
) -> Option<Vec<i64>> {
    ints_at(graph, t, shapes, 0)
}

fn ints_at(
    graph: &Graph,
    t: &TensorId,
    shapes: &HashMap<TensorId, Shape>,
    depth: usize,
) -> Option<Vec<i64>> {
    if depth > MAX_DEPTH {
        return None;
    }
    let t = graph.resolve(t);
    let node = graph.node(&t.node)?;
    let input = |k: usize| {
        graph
            .input(node, k)
            .ok()
            .and_then(|i| ints_at(graph, &i, shapes, depth + 1))
    };
    match node.op.as_str() {
        "Const" => {
            let v: Tensor = node.attr_tensor("value").ok()?;
            Some(v.to_i64()?.iter().copied().collect())
        }
        "Cast" => input(0),
        "Shape" => {
            let x = graph.input(node, 0).ok()?;
            let shape = shapes.get(&x)?;
            shape
                .iter()
                .enumerate()
                .map(|(i, d)| match d {
                    Some(d) => Some(*d as i64),
                    None if i == 0 => Some(BATCH),
                    None => None,
                })
                .collect()
        }
        "Pack" => {
            let n = node.data_inputs().len();
            (0..n)
                .map(|k| input(k).filter(|v| v.len() == 1).map(|v| v[0]))
                .collect()
        }
        // TF1's computed transpose permutations: ConcatV2([1, 0], Range(2, rank, 1)).
        "Range" => {
            let scalar = |k: usize| input(k).filter(|v| v.len() == 1).map(|v| v[0]);
            let (start, limit, delta) = (scalar(0)?, scalar(1)?, scalar(2)?);
            if delta == 0 {
                return None;
            }
            let n = (limit - start + delta - delta.signum()) / delta;
            if !(0..=1 << 16).contains(&n) {
                return None;
            }
            Some((0..n).map(|k| start + k * delta).collect())
        }
        "ConcatV2" => {
            let n = node.data_inputs().len();
            let mut out = Vec::new();
            for k in 0..n.saturating_sub(1) {
                out.extend(input(k)?);
            }
            Some(out)
        }
        "StridedSlice" => {
            let x = input(0)?;
            let (b, e, s) = (input(1)?, input(2)?, input(3)?);
            if b.len() != 1 || e.len() != 1 || s.len() != 1 || s[0] != 1 {
                return None;
            }
            let mask = |name: &str| node.attr_int(name).unwrap_or(0) & 1 == 1;
            let len = x.len() as i64;
            let norm = |i: i64| (if i < 0 { i + len } else { i }).clamp(0, len);
            let begin = if mask("begin_mask") { 0 } else { norm(b[0]) };
            if mask("shrink_axis_mask") {
                return x.get(begin as usize).map(|&v| vec![v]);
            }
            let end = if mask("end_mask") { len } else { norm(e[0]) };
            Some(x.get(begin as usize..end.max(begin) as usize)?.to_vec())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::parse_graph_def;

    fn graph(text: &str) -> Graph {
        Graph::new(parse_graph_def(text.as_bytes(), true, "t.pbtxt").unwrap()).unwrap()
    }

    #[test]
    fn keras3_bias_reshape_squeeze_folds() {
        // Keras 3: BiasAdd(conv, Squeeze(Reshape(bias, [1,1,1,C]))).
        let g = graph(
            r#"
node { name: "b" op: "Const" attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 3 } } float_val: 1 float_val: 2 float_val: 3 } } } }
node { name: "b/read" op: "Identity" input: "b" }
node { name: "s" op: "Const" attr { key: "value" value { tensor { dtype: DT_INT32 tensor_shape { dim { size: 4 } } int_val: 1 int_val: 1 int_val: 1 int_val: 3 } } } }
node { name: "r" op: "Reshape" input: "b/read" input: "s" }
node { name: "q" op: "Squeeze" input: "r" }
"#,
        );
        let v = fold_f32(&g, &TensorId::new("q", 0)).unwrap();
        assert_eq!(v.shape(), &[3]);
        assert_eq!(v.as_slice().unwrap(), &[1.0, 2.0, 3.0]);
    }

    #[test]
    fn keras3_flatten_target_shape_folds_with_batch() {
        let g = graph(
            r#"
node { name: "x" op: "Placeholder" }
node { name: "sh" op: "Shape" input: "x" }
node { name: "b0" op: "Const" attr { key: "value" value { tensor { dtype: DT_INT32 tensor_shape { dim { size: 1 } } int_val: 0 } } } }
node { name: "b1" op: "Const" attr { key: "value" value { tensor { dtype: DT_INT32 tensor_shape { dim { size: 1 } } int_val: 1 } } } }
node { name: "ss" op: "StridedSlice" input: "sh" input: "b0" input: "b1" input: "b1" attr { key: "shrink_axis_mask" value { i: 1 } } }
node { name: "n" op: "Const" attr { key: "value" value { tensor { dtype: DT_INT32 int_val: 48 } } } }
node { name: "p" op: "Pack" input: "ss" input: "n" }
"#,
        );
        let mut shapes = HashMap::new();
        shapes.insert(TensorId::new("x", 0), vec![None, Some(4), Some(4), Some(3)]);
        assert_eq!(
            fold_ints(&g, &TensorId::new("p", 0), &shapes),
            Some(vec![BATCH, 48])
        );
        // Without a known shape for x, nothing is invented.
        assert_eq!(fold_ints(&g, &TensorId::new("p", 0), &HashMap::new()), None);
    }

    #[test]
    fn batchnorm_arithmetic_folds() {
        // rsqrt(var + eps) * gamma, as tf.nn.batch_normalization computes it.
        let g = graph(
            r#"
node { name: "var" op: "Const" attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 2 } } float_val: 3 float_val: 0.999 } } } }
node { name: "eps" op: "Const" attr { key: "value" value { tensor { dtype: DT_FLOAT float_val: 0.001 } } } }
node { name: "gamma" op: "Const" attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 2 } } float_val: 2 float_val: 4 } } } }
node { name: "add" op: "AddV2" input: "var" input: "eps" }
node { name: "rs" op: "Rsqrt" input: "add" }
node { name: "mul" op: "Mul" input: "rs" input: "gamma" }
"#,
        );
        let v = fold_f32(&g, &TensorId::new("mul", 0)).unwrap();
        approx::assert_abs_diff_eq!(v[[0]], 2.0 / 3.001f32.sqrt(), epsilon = 1e-6);
        approx::assert_abs_diff_eq!(v[[1]], 4.0, epsilon = 1e-6);
    }
}
