//! Recurrent layers: the Keras class `LSTM`.
//!
//! Semantics (Keras 3.15 / tf-keras 2.21, `implementation` 2, no dropout,
//! zero initial state): for each step `t` of `x` (batch, steps, in),
//! `z = x_t · kernel + h · recurrent_kernel + bias`, split into four blocks
//! of `units` columns in gate order i, f, c, o;
//! `i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o)`,
//! `c = f * c + i * tanh(z_c)`, `h = o * tanh(c)`. The output is every `h`
//! (batch, steps, units) with `return_sequences`, else the last (batch, units).
//!
//! Not handled yet: other activations, `go_backwards`, `return_state`,
//! masking, initial states, stateful layers, GRU, SimpleRNN.

use ndarray::{Array2, ArrayD, Axis, Ix2, Ix3, s};

use super::{LayerError, input_error, weight};
use crate::keras::{Layer, LayerKind};

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

/// The Keras `LSTM` layer (weights `kernel`, `recurrent_kernel`, `bias`).
pub fn lstm_layer(layer: &Layer, x: &ArrayD<f32>) -> Result<ArrayD<f32>, LayerError> {
    let LayerKind::Lstm {
        units,
        return_sequences,
        use_bias,
    } = &layer.kind
    else {
        return Err(LayerError::Config("not an LSTM".into()));
    };
    let u = *units;
    let x3 = x
        .view()
        .into_dimensionality::<Ix3>()
        .map_err(|_| input_error(0, x, "LSTM needs rank 3 (batch, steps, features)"))?;
    let (batch, steps, features) = x3.dim();
    let kernel = weight(layer, "kernel", &[features, 4 * u])?
        .view()
        .into_dimensionality::<Ix2>()
        .map_err(|e| LayerError::Config(e.to_string()))?;
    let recurrent = weight(layer, "recurrent_kernel", &[u, 4 * u])?
        .view()
        .into_dimensionality::<Ix2>()
        .map_err(|e| LayerError::Config(e.to_string()))?;
    let bias = if *use_bias {
        Some(weight(layer, "bias", &[4 * u])?)
    } else {
        None
    };
    let mut h = Array2::<f32>::zeros((batch, u));
    let mut c = Array2::<f32>::zeros((batch, u));
    let mut seq = ndarray::Array3::<f32>::zeros((batch, steps, u));
    for t in 0..steps {
        let mut z = x3.index_axis(Axis(1), t).dot(&kernel) + h.dot(&recurrent);
        if let Some(b) = bias {
            for mut row in z.rows_mut() {
                row.iter_mut().zip(b.iter()).for_each(|(v, b)| *v += b);
            }
        }
        for n in 0..batch {
            for k in 0..u {
                let i = sigmoid(z[[n, k]]);
                let f = sigmoid(z[[n, u + k]]);
                let g = z[[n, 2 * u + k]].tanh();
                let o = sigmoid(z[[n, 3 * u + k]]);
                c[[n, k]] = f * c[[n, k]] + i * g;
                h[[n, k]] = o * c[[n, k]].tanh();
            }
        }
        seq.slice_mut(s![.., t, ..]).assign(&h);
    }
    Ok(if *return_sequences {
        seq.into_dyn()
    } else {
        h.into_dyn()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::Layer;

    fn lstm(units: usize, return_sequences: bool, weights: Vec<(&str, ArrayD<f32>)>) -> Layer {
        let mut l = Layer {
            name: "lstm".into(),
            kind: LayerKind::Lstm {
                units,
                return_sequences,
                use_bias: true,
            },
            inbound: vec!["x".into()],
            weights: vec![],
        };
        for (name, w) in weights {
            l.weights.push(crate::keras::Weight {
                name: name.into(),
                value: w,
            });
        }
        l
    }

    #[test]
    fn one_unit_steps_follow_the_gate_equations() {
        // units 1, one feature: kernel [wi, wf, wc, wo], recurrent [ri, rf, rc, ro].
        let k = ArrayD::from_shape_vec(vec![1, 4], vec![0.5, -0.25, 1.0, 0.75]).unwrap();
        let r = ArrayD::from_shape_vec(vec![1, 4], vec![0.1, 0.2, -0.3, 0.4]).unwrap();
        let b = ArrayD::from_shape_vec(vec![4], vec![0.0, 1.0, 0.1, -0.2]).unwrap();
        let x = ArrayD::from_shape_vec(vec![1, 2, 1], vec![1.0, -2.0]).unwrap();
        // By hand, in f64.
        let sg = |v: f64| 1.0 / (1.0 + (-v).exp());
        let (mut h, mut c) = (0.0f64, 0.0f64);
        let mut hs = vec![];
        for xt in [1.0f64, -2.0] {
            let i = sg(0.5 * xt + 0.1 * h);
            let f = sg(-0.25 * xt + 0.2 * h + 1.0);
            let g = (1.0 * xt - 0.3 * h + 0.1).tanh();
            let o = sg(0.75 * xt + 0.4 * h - 0.2);
            c = f * c + i * g;
            h = o * c.tanh();
            hs.push(h);
        }
        let layer = lstm(
            1,
            true,
            vec![
                ("kernel", k.clone()),
                ("recurrent_kernel", r.clone()),
                ("bias", b.clone()),
            ],
        );
        let y = lstm_layer(&layer, &x).unwrap();
        assert_eq!(y.shape(), &[1, 2, 1]);
        // f32 against f64 over two steps of O(1) values.
        assert!(
            (y[[0, 0, 0]] as f64 - hs[0]).abs() < 1e-6,
            "{y:?} vs {hs:?}"
        );
        assert!(
            (y[[0, 1, 0]] as f64 - hs[1]).abs() < 1e-6,
            "{y:?} vs {hs:?}"
        );
        let last = lstm_layer(
            &lstm(
                1,
                false,
                vec![("kernel", k), ("recurrent_kernel", r), ("bias", b)],
            ),
            &x,
        )
        .unwrap();
        assert_eq!(last.shape(), &[1, 1]);
        assert_eq!(last[[0, 0]], y[[0, 1, 0]]);
    }

    #[test]
    fn wrong_weights_and_ranks_are_errors() {
        let k = ArrayD::zeros(vec![3, 8]);
        let layer = lstm(
            2,
            false,
            vec![
                ("kernel", k),
                ("recurrent_kernel", ArrayD::zeros(vec![2, 4])),
            ],
        );
        let e = lstm_layer(&layer, &ArrayD::zeros(vec![1, 5, 3])).unwrap_err();
        assert!(e.to_string().contains("recurrent_kernel"), "{e}");
        let e = lstm_layer(&layer, &ArrayD::zeros(vec![1, 3])).unwrap_err();
        assert!(e.to_string().contains("rank 3"), "{e}");
    }
}
