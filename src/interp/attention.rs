//! Attention: the Keras class `MultiHeadAttention`.
//!
//! Semantics (Keras 3.15 / tf-keras 2.21, inference, no mask), for inputs of
//! rank 3 `(batch, seq, features)` and the default `attention_axes` (the
//! sequence axis):
//!
//! ```text
//! q[b,t,n,h] = Σc query[b,t,c] · Wq[c,n,h] + bq[n,h]      (same for k from key, v from value)
//! q         *= 1 / sqrt(key_dim)                           (Keras scales the query)
//! s[b,n,t,u] = Σh q[b,t,n,h] · k[b,u,n,h];  p = softmax over u
//! o[b,t,n,h] = Σu p[b,n,t,u] · v[b,u,n,h]
//! y[b,t,e]   = Σn,h o[b,t,n,h] · Wo[n,h,e] + bo[e]
//! ```
//!
//! Inputs in `inbound` order: `query, value` or `query, value, key`
//! (`key` defaults to `value`). Weights as Keras stores them: `query/kernel`
//! `(dq, heads, key_dim)`, `query/bias` `(heads, key_dim)`, `key/…`, `value/…`
//! (`value_dim`), `attention_output/kernel` `(heads, value_dim, out)`,
//! `attention_output/bias` `(out)`; no biases when `use_bias` is false.
//!
//! Not handled yet: masks (`attention_mask`, `use_causal_mask`), inputs of rank
//! other than 3, `attention_axes`, returning the attention scores.

use ndarray::{Array2, Array4, ArrayD, Axis, Ix2, IxDyn, s};

use super::{LayerError, expect_rank, input_error, weight};
use crate::keras::{Layer, LayerKind};

/// `x (B, T, C)` times `kernel (C, N, H)` (+ `bias (N, H)`) → `(B, T, N, H)`.
fn project(
    layer: &Layer,
    prefix: &str,
    x: &ArrayD<f32>,
    index: usize,
    heads: usize,
    size: usize,
    use_bias: bool,
) -> Result<Array4<f32>, LayerError> {
    expect_rank(index, x, 3)?;
    let (b, t, c) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let kernel = weight(layer, &format!("{prefix}/kernel"), &[c, heads, size])?;
    let x2 = as_matrix(x, b * t, c)?;
    let k2 = as_matrix(kernel, c, heads * size)?;
    let mut y = x2.dot(&k2);
    if use_bias {
        let bias = weight(layer, &format!("{prefix}/bias"), &[heads, size])?;
        let b1 = bias
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(heads * size)
            .map_err(|e| LayerError::Config(format!("{prefix}/bias: {e}")))?;
        y += &b1;
    }
    y.into_shape_with_order((b, t, heads, size))
        .map_err(|e| LayerError::Config(format!("{prefix} projection: {e}")))
}

fn as_matrix(a: &ArrayD<f32>, rows: usize, cols: usize) -> Result<Array2<f32>, LayerError> {
    a.as_standard_layout()
        .into_owned()
        .into_shape_with_order(IxDyn(&[rows, cols]))
        .and_then(|m| m.into_dimensionality::<Ix2>())
        .map_err(|e| LayerError::Config(format!("cannot view {:?} as a matrix: {e}", a.shape())))
}

/// Softmax of each row, in place (max subtracted first, as TF does).
fn softmax_rows(m: &mut Array2<f32>) {
    for mut row in m.rows_mut() {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        row.mapv_inplace(|v| (v - max).exp());
        let sum: f32 = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
}

/// The Keras `MultiHeadAttention` layer; `inputs` are `[query, value]` or `[query, value, key]`.
pub fn mha_layer(layer: &Layer, inputs: &[&ArrayD<f32>]) -> Result<ArrayD<f32>, LayerError> {
    let LayerKind::MultiHeadAttention {
        num_heads,
        key_dim,
        value_dim,
        use_bias,
        output_shape,
    } = &layer.kind
    else {
        return Err(LayerError::Config("not a MultiHeadAttention".into()));
    };
    let (query, value, key) = match inputs {
        [q, v] => (*q, *v, *v),
        [q, v, k] => (*q, *v, *k),
        _ => {
            return Err(LayerError::InputCount {
                expected: "2 (query, value) or 3 (query, value, key)".into(),
                got: inputs.len(),
            });
        }
    };
    let (n, hk, hv) = (*num_heads, *key_dim, *value_dim);
    let mut q = project(layer, "query", query, 0, n, hk, *use_bias)?;
    let k = project(layer, "key", key, inputs.len() - 1, n, hk, *use_bias)?;
    let v = project(layer, "value", value, 1, n, hv, *use_bias)?;
    if k.shape()[..2] != v.shape()[..2] || k.shape()[0] != q.shape()[0] {
        return Err(input_error(
            1,
            value,
            format!(
                "key {:?} and value {:?} must share batch and sequence with query {:?}",
                key.shape(),
                value.shape(),
                query.shape()
            ),
        ));
    }
    let scale = 1.0 / (hk as f32).sqrt();
    q.mapv_inplace(|x| x * scale);
    let (b, t) = (q.shape()[0], q.shape()[1]);
    let mut o = Array4::<f32>::zeros((b, t, n, hv));
    for bi in 0..b {
        for ni in 0..n {
            let qh = q.slice(s![bi, .., ni, ..]);
            let kh = k.slice(s![bi, .., ni, ..]);
            let vh = v.slice(s![bi, .., ni, ..]);
            let mut p = qh.dot(&kh.t());
            softmax_rows(&mut p);
            o.slice_mut(s![bi, .., ni, ..]).assign(&p.dot(&vh));
        }
    }
    let q_features = query.shape()[2];
    let e = output_shape.unwrap_or(q_features);
    let wo = weight(layer, "attention_output/kernel", &[n, hv, e])?;
    let o2 = o
        .into_shape_with_order((b * t, n * hv))
        .map_err(|err| LayerError::Config(format!("attention output: {err}")))?;
    let mut y = o2.dot(&as_matrix(wo, n * hv, e)?);
    if *use_bias {
        let bo = weight(layer, "attention_output/bias", &[e])?;
        y += &bo
            .view()
            .insert_axis(Axis(0))
            .into_dimensionality::<Ix2>()
            .map_err(|err| LayerError::Config(format!("attention_output/bias: {err}")))?;
    }
    y.into_shape_with_order(IxDyn(&[b, t, e]))
        .map_err(|err| LayerError::Config(format!("output reshape: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::Weight;

    fn w(name: &str, shape: &[usize], v: Vec<f32>) -> Weight {
        Weight {
            name: name.into(),
            value: ArrayD::from_shape_vec(IxDyn(shape), v).unwrap(),
        }
    }

    /// One head, key_dim 1, features 1: every projection is a scalar multiply
    /// so the attention can be computed by hand.
    fn tiny(use_bias: bool) -> Layer {
        let mut weights = vec![w("query/kernel", &[1, 1, 1], vec![2.0])];
        if use_bias {
            weights.push(w("query/bias", &[1, 1], vec![0.0]));
        }
        weights.push(w("key/kernel", &[1, 1, 1], vec![1.0]));
        if use_bias {
            weights.push(w("key/bias", &[1, 1], vec![0.0]));
        }
        weights.push(w("value/kernel", &[1, 1, 1], vec![3.0]));
        if use_bias {
            weights.push(w("value/bias", &[1, 1], vec![1.0]));
        }
        weights.push(w("attention_output/kernel", &[1, 1, 1], vec![0.5]));
        if use_bias {
            weights.push(w("attention_output/bias", &[1], vec![-1.0]));
        }
        Layer {
            name: "mha".into(),
            kind: LayerKind::MultiHeadAttention {
                num_heads: 1,
                key_dim: 1,
                value_dim: 1,
                use_bias,
                output_shape: None,
            },
            inbound: vec!["x".into(), "x".into()],
            weights,
        }
    }

    #[test]
    fn single_head_by_hand() {
        // x = [0, 1] over 2 positions. q = 2x = [0, 2] (scale 1/sqrt(1) = 1), k = x = [0, 1],
        // v = 3x + 1 = [1, 4].
        // t=0: scores [0, 0] -> p [.5, .5] -> o = 2.5;  t=1: scores [0, 2] -> p = [1, e^2]/(1+e^2)
        // -> o = (1 + 4e^2)/(1+e^2). y = 0.5 o - 1.
        let l = tiny(true);
        let x = ArrayD::from_shape_vec(IxDyn(&[1, 2, 1]), vec![0.0, 1.0]).unwrap();
        let y = mha_layer(&l, &[&x, &x]).unwrap();
        assert_eq!(y.shape(), &[1, 2, 1]);
        let e2 = 1f32.exp().powi(2);
        let want = [0.5 * 2.5 - 1.0, 0.5 * (1.0 + 4.0 * e2) / (1.0 + e2) - 1.0];
        for (got, want) in y.iter().zip(want) {
            // f32 softmax and two dots: a few ulp.
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }

    #[test]
    fn key_defaults_to_value_and_a_separate_key_changes_the_weights() {
        let l = tiny(false);
        let q = ArrayD::from_shape_vec(IxDyn(&[1, 1, 1]), vec![1.0]).unwrap();
        let v = ArrayD::from_shape_vec(IxDyn(&[1, 2, 1]), vec![0.0, 1.0]).unwrap();
        let k = ArrayD::from_shape_vec(IxDyn(&[1, 2, 1]), vec![1.0, 0.0]).unwrap();
        // q = 2. Key = value: scores [0, 2]; key given: scores [2, 0]. v = 3 * value = [0, 3].
        let y_vv = mha_layer(&l, &[&q, &v]).unwrap();
        let y_vk = mha_layer(&l, &[&q, &v, &k]).unwrap();
        let e2 = 1f32.exp().powi(2);
        let p_hi = e2 / (1.0 + e2);
        assert!((y_vv[[0, 0, 0]] - 0.5 * 3.0 * p_hi).abs() < 1e-6);
        assert!((y_vk[[0, 0, 0]] - 0.5 * 3.0 * (1.0 - p_hi)).abs() < 1e-6);
    }

    #[test]
    fn two_heads_are_independent_and_summed_by_the_output_kernel() {
        // Two heads, key_dim 1, features 2: head 0 reads feature 0, head 1 feature 1; values
        // are constant per head, so each head outputs its value whatever the softmax weights.
        let eye = vec![1.0, 0.0, 0.0, 1.0];
        let l = Layer {
            name: "mha".into(),
            kind: LayerKind::MultiHeadAttention {
                num_heads: 2,
                key_dim: 1,
                value_dim: 1,
                use_bias: false,
                output_shape: Some(1),
            },
            inbound: vec!["x".into(), "x".into()],
            weights: vec![
                w("query/kernel", &[2, 2, 1], eye.clone()),
                w("key/kernel", &[2, 2, 1], eye.clone()),
                w("value/kernel", &[2, 2, 1], vec![0.0; 4]),
                w("attention_output/kernel", &[2, 1, 1], vec![10.0, 100.0]),
            ],
        };
        let x =
            ArrayD::from_shape_vec(IxDyn(&[1, 3, 2]), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let y = mha_layer(&l, &[&x, &x]).unwrap();
        assert_eq!(y.shape(), &[1, 3, 1]);
        assert!(y.iter().all(|&v| v == 0.0));
        // Now value = 1 on head 1 only: every position outputs 100 * 1.
        let mut l2 = l.clone();
        l2.weights[2] = w("value/kernel", &[2, 2, 1], vec![0.0, 0.0, 0.0, 0.0]);
        l2.weights.push(w("unused", &[1], vec![0.0]));
        let x1 =
            ArrayD::from_shape_vec(IxDyn(&[1, 3, 2]), vec![0.0, 1.0, 0.0, 1.0, 0.0, 1.0]).unwrap();
        l2.weights[2] = w("value/kernel", &[2, 2, 1], vec![0.0, 0.0, 0.0, 1.0]);
        let y2 = mha_layer(&l2, &[&x1, &x1]).unwrap();
        for v in y2.iter() {
            assert!((v - 100.0).abs() < 1e-4, "{v}");
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let l = tiny(true);
        let x = ArrayD::from_shape_vec(IxDyn(&[1, 2]), vec![0.0, 1.0]).unwrap();
        assert!(mha_layer(&l, &[&x, &x]).is_err());
        assert!(matches!(
            mha_layer(&l, &[&x]),
            Err(LayerError::InputCount { .. })
        ));
        let x2 = ArrayD::from_shape_vec(IxDyn(&[1, 1, 2]), vec![0.0, 1.0]).unwrap();
        assert!(matches!(
            mha_layer(&l, &[&x2, &x2]),
            Err(LayerError::WeightShape { .. })
        ));
    }
}
