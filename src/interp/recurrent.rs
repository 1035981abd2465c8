//! Recurrent layers: the Keras classes `LSTM`, `GRU` and `SimpleRNN`.
//!
//! Semantics (Keras 3.15 / tf-keras 2.21, `implementation` 2, no dropout,
//! zero initial state), for each step `t` of `x` (batch, steps, in), `h` the
//! previous output:
//! - LSTM: `z = x_t · kernel + h · recurrent_kernel + bias`, split into four
//!   blocks of `units` columns in gate order i, f, c, o;
//!   `i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o)`,
//!   `c = f * c + i * tanh(z_c)`, `h = o * tanh(c)`;
//!   where `tanh` stands for the layer's `activation` and `sigmoid` for its
//!   `recurrent_activation` (Keras's defaults) here and below;
//! - GRU, blocks z, r, h of `kernel`, `recurrent_kernel` (and `bias`):
//!   `x_* = x_t · kernel_* + b_*` (input bias, row 0 with `reset_after`);
//!   with `reset_after` `r_* = h · recurrent_kernel_* + rb_*` (recurrent bias,
//!   row 1), `z = sigmoid(x_z + r_z)`, `r = sigmoid(x_r + r_r)`,
//!   `hh = tanh(x_h + r * r_h)`; without, `z`, `r` likewise without `rb`
//!   and `hh = tanh(x_h + (r * h) · recurrent_kernel_h)`; then
//!   `h = z * h + (1 - z) * hh`;
//! - SimpleRNN: `h = tanh(x_t · kernel + bias + h · recurrent_kernel)`.
//!
//! The output is every `h` (batch, steps, units) with `return_sequences`,
//! else the last (batch, units). With `go_backwards` the steps are read last
//! to first (`x_t` is `x[:, steps - 1 - t]`) and the outputs stay in that
//! processing order: Keras reverses the input, never the output.
//!
//! A mask ([`StepMask`], Keras's `rnn(mask=...)`; the mask is read in the same
//! order as the steps): at a masked step of a sample every state keeps its
//! previous value and the output repeats the previous output, zeros before
//! the first (`zero_output_for_mask=False`, every RNN's default), or is zeros
//! (`True`, which `Bidirectional` sets on its layers when they return
//! sequences); the last output is the last step's output.
//!
//! With `return_state` the final states follow the output (LSTM h, c; GRU and
//! SimpleRNN h): the layer's outputs 1 and on.
//!
//! Not handled yet: a softmax `activation` (not elementwise), initial
//! states, stateful layers.

use ndarray::{Array1, Array2, ArrayD, ArrayView2, ArrayView3, Axis, Ix1, Ix2, Ix3, s};

/// Keras's mask on a recurrent layer's steps (see the module header).
#[derive(Clone, Copy, Debug)]
pub struct StepMask<'a> {
    /// (batch, steps): whether each input step of each sample is real.
    pub keep: ArrayView2<'a, bool>,
    /// `zero_output_for_mask`: a masked step's output is zeros.
    pub zero_output: bool,
}

use super::{LayerError, input_error, weight};
use crate::keras::{Activation, Layer, LayerKind};

/// The per-element function of a recurrent layer's `key` activation.
fn elementwise(a: Activation, key: &str) -> Result<impl Fn(f32) -> f32 + Copy, LayerError> {
    super::activation::elementwise(a)
        .ok_or_else(|| LayerError::Config(format!("{key} {} is not elementwise", a.keras_name())))
}

/// The Keras `LSTM` layer (weights `kernel`, `recurrent_kernel`, `bias`).
pub fn lstm_layer(
    layer: &Layer,
    x: &ArrayD<f32>,
    mask: Option<StepMask>,
) -> Result<Vec<ArrayD<f32>>, LayerError> {
    let LayerKind::Lstm {
        units,
        return_sequences,
        return_state,
        use_bias,
        go_backwards,
        activation,
        recurrent_activation,
    } = &layer.kind
    else {
        return Err(LayerError::Config("not an LSTM".into()));
    };
    let u = *units;
    let act = elementwise(*activation, "activation")?;
    let gate = elementwise(*recurrent_activation, "recurrent_activation")?;
    let x3 = x
        .view()
        .into_dimensionality::<Ix3>()
        .map_err(|_| input_error(0, x, "LSTM needs rank 3 (batch, steps, features)"))?;
    let features = x3.dim().2;
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
    run_cell(
        x3,
        u,
        2,
        *return_sequences,
        *return_state,
        *go_backwards,
        mask,
        |xt, states| {
            let (h, c) = (&states[0], &states[1]);
            let mut z = xt.dot(&kernel) + h.dot(&recurrent);
            if let Some(b) = bias {
                for mut row in z.rows_mut() {
                    row.iter_mut().zip(b.iter()).for_each(|(v, b)| *v += b);
                }
            }
            let (mut h2, mut c2) = (h.clone(), c.clone());
            for n in 0..z.nrows() {
                for k in 0..u {
                    let i = gate(z[[n, k]]);
                    let f = gate(z[[n, u + k]]);
                    let g = act(z[[n, 2 * u + k]]);
                    let o = gate(z[[n, 3 * u + k]]);
                    c2[[n, k]] = f * c[[n, k]] + i * g;
                    h2[[n, k]] = o * act(c2[[n, k]]);
                }
            }
            vec![h2, c2]
        },
    )
}

/// `x` as (batch, steps, features).
fn sequence<'a>(x: &'a ArrayD<f32>, class: &str) -> Result<ArrayView3<'a, f32>, LayerError> {
    x.view().into_dimensionality::<Ix3>().map_err(|_| {
        input_error(
            0,
            x,
            format!("{class} needs rank 3 (batch, steps, features)"),
        )
    })
}

fn matrix<'a>(
    layer: &'a Layer,
    name: &str,
    shape: &[usize],
) -> Result<ArrayView2<'a, f32>, LayerError> {
    weight(layer, name, shape)?
        .view()
        .into_dimensionality::<Ix2>()
        .map_err(|e| LayerError::Config(e.to_string()))
}

/// Adds `b` to every row of `z`.
fn add_rows(z: &mut Array2<f32>, b: ndarray::ArrayView1<f32>) {
    for mut row in z.rows_mut() {
        row += &b;
    }
}

/// The input step read at processing step `t` of `steps`.
fn source_step(t: usize, steps: usize, go_backwards: bool) -> usize {
    if go_backwards { steps - 1 - t } else { t }
}

/// Runs `step(x_t, states) -> new states` over the steps (last to first
/// with `go_backwards`), `n_states` states of (batch, units) starting at
/// zeros, `states[0]` the output `h`; with a mask, a masked sample keeps its
/// states and its output (see the module header). The layer's outputs: every
/// output in processing order, or the last; then, with `return_state`, the
/// final states (LSTM: h, c), as Keras returns them.
#[allow(clippy::too_many_arguments)]
fn run_cell(
    x3: ArrayView3<f32>,
    units: usize,
    n_states: usize,
    return_sequences: bool,
    return_state: bool,
    go_backwards: bool,
    mask: Option<StepMask>,
    mut step: impl FnMut(ArrayView2<f32>, &[Array2<f32>]) -> Vec<Array2<f32>>,
) -> Result<Vec<ArrayD<f32>>, LayerError> {
    let (batch, steps, _) = x3.dim();
    if let Some(m) = mask
        && m.keep.dim() != (batch, steps)
    {
        return Err(LayerError::Config(format!(
            "the mask has shape {:?}, the input (batch, steps) ({batch}, {steps})",
            m.keep.shape()
        )));
    }
    let mut states = vec![Array2::<f32>::zeros((batch, units)); n_states];
    let mut out = Array2::<f32>::zeros((batch, units));
    let mut seq = ndarray::Array3::<f32>::zeros((batch, steps, units));
    for t in 0..steps {
        let source = source_step(t, steps, go_backwards);
        let mut next = step(x3.index_axis(Axis(1), source), &states);
        out = next[0].clone();
        if let Some(m) = mask {
            for n in 0..batch {
                if m.keep[[n, source]] {
                    continue;
                }
                for (new, old) in next.iter_mut().zip(&states) {
                    new.row_mut(n).assign(&old.row(n));
                }
                // The previous output is the previous h, unless outputs are zeroed.
                if m.zero_output {
                    out.row_mut(n).fill(0.0);
                } else {
                    out.row_mut(n).assign(&states[0].row(n));
                }
            }
        }
        states = next;
        seq.slice_mut(s![.., t, ..]).assign(&out);
    }
    let output = if return_sequences {
        seq.into_dyn()
    } else {
        out.into_dyn()
    };
    let mut outputs = vec![output];
    if return_state {
        outputs.extend(states.into_iter().map(Array2::into_dyn));
    }
    Ok(outputs)
}

/// The Keras `GRU` layer (weights `kernel`, `recurrent_kernel`, `bias`).
pub fn gru_layer(
    layer: &Layer,
    x: &ArrayD<f32>,
    mask: Option<StepMask>,
) -> Result<Vec<ArrayD<f32>>, LayerError> {
    let LayerKind::Gru {
        units,
        return_sequences,
        return_state,
        use_bias,
        reset_after,
        go_backwards,
        activation,
        recurrent_activation,
    } = &layer.kind
    else {
        return Err(LayerError::Config("not a GRU".into()));
    };
    let act = elementwise(*activation, "activation")?;
    let gate = elementwise(*recurrent_activation, "recurrent_activation")?;
    let (u, reset_after) = (*units, *reset_after);
    let x3 = sequence(x, "GRU")?;
    let features = x3.dim().2;
    let kernel = matrix(layer, "kernel", &[features, 3 * u])?;
    let recurrent = matrix(layer, "recurrent_kernel", &[u, 3 * u])?;
    // (input bias, recurrent bias), zeros when absent.
    let (b_in, b_rec): (Array1<f32>, Array1<f32>) = match (*use_bias, reset_after) {
        (false, _) => (Array1::zeros(3 * u), Array1::zeros(3 * u)),
        (true, true) => {
            let b = matrix(layer, "bias", &[2, 3 * u])?;
            (b.row(0).to_owned(), b.row(1).to_owned())
        }
        (true, false) => {
            let b = weight(layer, "bias", &[3 * u])?
                .view()
                .into_dimensionality::<Ix1>()
                .map_err(|e| LayerError::Config(e.to_string()))?;
            (b.to_owned(), Array1::zeros(3 * u))
        }
    };
    let (rk_zr, rk_h) = (
        recurrent.slice(s![.., ..2 * u]),
        recurrent.slice(s![.., 2 * u..]),
    );
    run_cell(
        x3,
        u,
        1,
        *return_sequences,
        *return_state,
        *go_backwards,
        mask,
        |xt, states| {
            let h = &states[0];
            let mut zx = xt.dot(&kernel);
            add_rows(&mut zx, b_in.view());
            // The recurrent contributions to z and r, and to the candidate.
            let (mut rzr, rh_after) = if reset_after {
                let mut r = h.dot(&recurrent);
                add_rows(&mut r, b_rec.view());
                (
                    r.slice(s![.., ..2 * u]).to_owned(),
                    Some(r.slice(s![.., 2 * u..]).to_owned()),
                )
            } else {
                (h.dot(&rk_zr), None)
            };
            rzr += &zx.slice(s![.., ..2 * u]);
            let z = rzr.slice(s![.., ..u]).mapv(gate);
            let r = rzr.slice(s![.., u..]).mapv(gate);
            let inner = match rh_after {
                Some(rh) => &r * &rh,
                None => (&r * h).dot(&rk_h),
            };
            let hh = (&zx.slice(s![.., 2 * u..]) + &inner).mapv(act);
            vec![&z * h + &(z.mapv(|v| 1.0 - v) * &hh)]
        },
    )
}

/// The Keras `SimpleRNN` layer (weights `kernel`, `recurrent_kernel`, `bias`).
pub fn simple_rnn_layer(
    layer: &Layer,
    x: &ArrayD<f32>,
    mask: Option<StepMask>,
) -> Result<Vec<ArrayD<f32>>, LayerError> {
    let LayerKind::SimpleRnn {
        units,
        return_sequences,
        return_state,
        use_bias,
        go_backwards,
        activation,
    } = &layer.kind
    else {
        return Err(LayerError::Config("not a SimpleRNN".into()));
    };
    let act = elementwise(*activation, "activation")?;
    let u = *units;
    let x3 = sequence(x, "SimpleRNN")?;
    let features = x3.dim().2;
    let kernel = matrix(layer, "kernel", &[features, u])?;
    let recurrent = matrix(layer, "recurrent_kernel", &[u, u])?;
    let bias = if *use_bias {
        Some(
            weight(layer, "bias", &[u])?
                .view()
                .into_dimensionality::<Ix1>()
                .map_err(|e| LayerError::Config(e.to_string()))?,
        )
    } else {
        None
    };
    run_cell(
        x3,
        u,
        1,
        *return_sequences,
        *return_state,
        *go_backwards,
        mask,
        |xt, states| {
            let mut z = xt.dot(&kernel);
            if let Some(b) = bias {
                add_rows(&mut z, b);
            }
            vec![(z + states[0].dot(&recurrent)).mapv(act)]
        },
    )
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
                return_state: false,
                use_bias: true,
                go_backwards: false,
                activation: Activation::Tanh,
                recurrent_activation: Activation::Sigmoid,
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
        let y = lstm_layer(&layer, &x, None).unwrap().remove(0);
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
            None,
        )
        .unwrap()
        .remove(0);
        assert_eq!(last.shape(), &[1, 1]);
        assert_eq!(last[[0, 0]], y[[0, 1, 0]]);
        // return_state: the sequence, then the final h and c (by hand above).
        let mut with_state = layer.clone();
        if let LayerKind::Lstm { return_state, .. } = &mut with_state.kind {
            *return_state = true;
        }
        let outs = lstm_layer(&with_state, &x, None).unwrap();
        assert_eq!(outs.len(), 3);
        assert_eq!(outs[0], y);
        for (state, want) in [(&outs[1], h), (&outs[2], c)] {
            assert_eq!(state.shape(), &[1, 1]);
            assert!(
                (state[[0, 0]] as f64 - want).abs() < 1e-6,
                "{state:?} vs {want}"
            );
        }
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
        let e = lstm_layer(&layer, &ArrayD::zeros(vec![1, 5, 3]), None).unwrap_err();
        assert!(e.to_string().contains("recurrent_kernel"), "{e}");
        let e = lstm_layer(&layer, &ArrayD::zeros(vec![1, 3]), None).unwrap_err();
        assert!(e.to_string().contains("rank 3"), "{e}");
    }

    fn with_weights(
        name: &str,
        kind: LayerKind,
        weights: Vec<(&str, Vec<usize>, Vec<f32>)>,
    ) -> Layer {
        Layer {
            name: name.into(),
            kind,
            inbound: vec!["x".into()],
            weights: weights
                .into_iter()
                .map(|(n, shape, v)| crate::keras::Weight {
                    name: n.into(),
                    value: ArrayD::from_shape_vec(shape, v).unwrap(),
                })
                .collect(),
        }
    }

    /// One unit, one feature: kernel [kz, kr, kh], recurrent [uz, ur, uh],
    /// the GRU equations written out in f64 for both `reset_after` forms.
    #[test]
    fn gru_one_unit_steps_follow_the_gate_equations() {
        let (k, r) = ([0.5f32, -0.7, 1.2], [0.3f32, 0.9, -0.6]);
        let (bi, br) = ([0.1f32, -0.2, 0.05], [-0.3f32, 0.4, 0.25]);
        let xs = [1.0f32, -2.0, 0.5];
        let sg = |v: f64| 1.0 / (1.0 + (-v).exp());
        let f = |v: f32| v as f64;
        for reset_after in [true, false] {
            let mut h = 0.0f64;
            let mut hs = vec![];
            for &xt in &xs {
                let xt = f(xt);
                let xz = f(k[0]) * xt + f(bi[0]);
                let xr = f(k[1]) * xt + f(bi[1]);
                let xh = f(k[2]) * xt + f(bi[2]);
                let (z, rr, hh);
                if reset_after {
                    z = sg(xz + f(r[0]) * h + f(br[0]));
                    rr = sg(xr + f(r[1]) * h + f(br[1]));
                    hh = (xh + rr * (f(r[2]) * h + f(br[2]))).tanh();
                } else {
                    z = sg(xz + f(r[0]) * h);
                    rr = sg(xr + f(r[1]) * h);
                    hh = (xh + (rr * h) * f(r[2])).tanh();
                }
                h = z * h + (1.0 - z) * hh;
                hs.push(h);
            }
            let (bias_shape, bias) = if reset_after {
                (vec![2, 3], bi.iter().chain(&br).copied().collect())
            } else {
                (vec![3], bi.to_vec())
            };
            let kind = |return_sequences| LayerKind::Gru {
                units: 1,
                return_sequences,
                return_state: false,
                use_bias: true,
                reset_after,
                go_backwards: false,
                activation: Activation::Tanh,
                recurrent_activation: Activation::Sigmoid,
            };
            let weights = || {
                vec![
                    ("kernel", vec![1, 3], k.to_vec()),
                    ("recurrent_kernel", vec![1, 3], r.to_vec()),
                    ("bias", bias_shape.clone(), bias.clone()),
                ]
            };
            let x = ArrayD::from_shape_vec(vec![1, 3, 1], xs.to_vec()).unwrap();
            let y = gru_layer(&with_weights("gru", kind(true), weights()), &x, None)
                .unwrap()
                .remove(0);
            assert_eq!(y.shape(), &[1, 3, 1]);
            for (t, want) in hs.iter().enumerate() {
                // f32 against f64 over three steps of O(1) values.
                assert!(
                    (f(y[[0, t, 0]]) - want).abs() < 1e-6,
                    "reset_after {reset_after}: {y:?} vs {hs:?}"
                );
            }
            let last = gru_layer(&with_weights("gru", kind(false), weights()), &x, None)
                .unwrap()
                .remove(0);
            assert_eq!(last.shape(), &[1, 1]);
            assert_eq!(last[[0, 0]], y[[0, 2, 0]]);
        }
    }

    /// Two units: the z, r, h blocks are read by column, and the reset gate
    /// of one unit multiplies its own recurrent candidate only.
    #[test]
    fn gru_two_units_use_the_column_blocks_in_z_r_h_order() {
        // kernel (1, 6): z0 z1 r0 r1 h0 h1; recurrent (2, 6) zero but for h.
        let k = vec![0.2f32, -0.4, 0.6, 0.1, 0.9, -0.5];
        let mut rk = vec![0.0f32; 12];
        rk[4] = 0.7; // h0 <- h_prev0
        rk[6 + 5] = -0.8; // h1 <- h_prev1
        let layer = with_weights(
            "gru",
            LayerKind::Gru {
                units: 2,
                return_sequences: true,
                return_state: false,
                use_bias: false,
                reset_after: true,
                go_backwards: false,
                activation: Activation::Tanh,
                recurrent_activation: Activation::Sigmoid,
            },
            vec![
                ("kernel", vec![1, 6], k.clone()),
                ("recurrent_kernel", vec![2, 6], rk),
            ],
        );
        let x = ArrayD::from_shape_vec(vec![1, 2, 1], vec![1.0, 1.0]).unwrap();
        let y = gru_layer(&layer, &x, None).unwrap().remove(0);
        let sg = |v: f64| 1.0 / (1.0 + (-v).exp());
        let mut h = [0.0f64; 2];
        for t in 0..2 {
            let old = h;
            for (j, rec) in [(0, 0.7f64 * old[0]), (1, -0.8 * old[1])] {
                let z = sg(k[j] as f64);
                let r = sg(k[2 + j] as f64);
                let hh = (k[4 + j] as f64 + r * rec).tanh();
                h[j] = z * old[j] + (1.0 - z) * hh;
            }
            for j in 0..2 {
                assert!(
                    (y[[0, t, j]] as f64 - h[j]).abs() < 1e-6,
                    "{y:?} at {t},{j}: {h:?}"
                );
            }
        }
    }

    #[test]
    fn simple_rnn_steps_are_tanh_of_input_and_state() {
        // Two units, two features.
        let k = vec![0.5f32, -0.3, 0.2, 0.8];
        let r = vec![0.4f32, 0.1, -0.6, 0.3];
        let b = vec![0.05f32, -0.1];
        let xs = [[1.0f32, 0.5], [-1.0, 2.0]];
        let layer = with_weights(
            "rnn",
            LayerKind::SimpleRnn {
                units: 2,
                return_sequences: true,
                return_state: false,
                use_bias: true,
                go_backwards: false,
                activation: Activation::Tanh,
            },
            vec![
                ("kernel", vec![2, 2], k.clone()),
                ("recurrent_kernel", vec![2, 2], r.clone()),
                ("bias", vec![2], b.clone()),
            ],
        );
        let x = ArrayD::from_shape_vec(vec![1, 2, 2], xs.concat()).unwrap();
        let y = simple_rnn_layer(&layer, &x, None).unwrap().remove(0);
        let mut h = [0.0f64; 2];
        for (t, xt) in xs.iter().enumerate() {
            let old = h;
            for j in 0..2 {
                let mut v = b[j] as f64;
                for i in 0..2 {
                    v += xt[i] as f64 * k[i * 2 + j] as f64 + old[i] * r[i * 2 + j] as f64;
                }
                h[j] = v.tanh();
                assert!((y[[0, t, j]] as f64 - h[j]).abs() < 1e-6, "{y:?}");
            }
        }
    }

    #[test]
    fn gru_and_simple_rnn_check_weight_shapes() {
        let gru = with_weights(
            "gru",
            LayerKind::Gru {
                units: 2,
                return_sequences: false,
                return_state: false,
                use_bias: true,
                reset_after: true,
                go_backwards: false,
                activation: Activation::Tanh,
                recurrent_activation: Activation::Sigmoid,
            },
            vec![
                ("kernel", vec![3, 6], vec![0.0; 18]),
                ("recurrent_kernel", vec![2, 6], vec![0.0; 12]),
                ("bias", vec![6], vec![0.0; 6]),
            ],
        );
        let e = gru_layer(&gru, &ArrayD::zeros(vec![1, 4, 3]), None).unwrap_err();
        assert!(e.to_string().contains("bias"), "{e}");
        let rnn = with_weights(
            "rnn",
            LayerKind::SimpleRnn {
                units: 2,
                return_sequences: false,
                return_state: false,
                use_bias: false,
                go_backwards: false,
                activation: Activation::Tanh,
            },
            vec![
                ("kernel", vec![3, 2], vec![0.0; 6]),
                ("recurrent_kernel", vec![2, 2], vec![0.0; 4]),
            ],
        );
        let e = simple_rnn_layer(&rnn, &ArrayD::zeros(vec![4, 3]), None).unwrap_err();
        assert!(e.to_string().contains("rank 3"), "{e}");
        assert_eq!(
            simple_rnn_layer(&rnn, &ArrayD::zeros(vec![2, 4, 3]), None)
                .unwrap()
                .remove(0)
                .shape(),
            &[2, 2]
        );
    }

    /// `go_backwards`: the steps are read last to first and the outputs kept
    /// in that order. The LSTM equations of `one_unit_steps_follow_the_gate_equations`
    /// written out in f64 over the reversed steps, for one unit.
    #[test]
    fn lstm_go_backwards_reads_the_steps_last_to_first() {
        let k = ArrayD::from_shape_vec(vec![1, 4], vec![0.5, -0.25, 1.0, 0.75]).unwrap();
        let r = ArrayD::from_shape_vec(vec![1, 4], vec![0.1, 0.2, -0.3, 0.4]).unwrap();
        let b = ArrayD::from_shape_vec(vec![4], vec![0.0, 1.0, 0.1, -0.2]).unwrap();
        let xs = [1.0f64, -2.0, 0.5];
        let x =
            ArrayD::from_shape_vec(vec![1, 3, 1], xs.iter().map(|v| *v as f32).collect()).unwrap();
        let sg = |v: f64| 1.0 / (1.0 + (-v).exp());
        let (mut h, mut c) = (0.0f64, 0.0f64);
        let mut hs = vec![];
        for xt in xs.iter().rev() {
            let i = sg(0.5 * xt + 0.1 * h);
            let f = sg(-0.25 * xt + 0.2 * h + 1.0);
            let g = (1.0 * xt - 0.3 * h + 0.1).tanh();
            let o = sg(0.75 * xt + 0.4 * h - 0.2);
            c = f * c + i * g;
            h = o * c.tanh();
            hs.push(h);
        }
        let mut layer = lstm(
            1,
            true,
            vec![("kernel", k), ("recurrent_kernel", r), ("bias", b)],
        );
        layer.kind = LayerKind::Lstm {
            units: 1,
            return_sequences: true,
            return_state: false,
            use_bias: true,
            go_backwards: true,
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
        };
        let y = lstm_layer(&layer, &x, None).unwrap().remove(0);
        for (t, want) in hs.iter().enumerate() {
            // f32 against f64 over three steps of O(1) values.
            assert!((y[[0, t, 0]] as f64 - want).abs() < 1e-6, "{y:?} vs {hs:?}");
        }
    }

    /// A one-unit, one-feature GRU (reset_after, no bias; kernel [kz, kr,
    /// kh], recurrent [uz, ur, uh]) against the recurrence by hand in f64,
    /// `steps` in the order the layer processes them, gates through `gate`
    /// (the f64 twin of `recurrent_activation`).
    fn check_one_unit_gru(
        x: &ArrayD<f32>,
        steps: impl Iterator<Item = f32>,
        go_backwards: bool,
        recurrent_activation: Activation,
        gate: impl Fn(f64) -> f64,
    ) {
        let (k, rk) = ([0.5f32, -0.7, 1.2], [0.3f32, 0.9, -0.6]);
        let f = |v: f32| v as f64;
        let mut h = 0.0f64;
        let mut want = vec![];
        for xt in steps {
            let xt = f(xt);
            let z = gate(f(k[0]) * xt + f(rk[0]) * h);
            let r = gate(f(k[1]) * xt + f(rk[1]) * h);
            let hh = (f(k[2]) * xt + r * (f(rk[2]) * h)).tanh();
            h = z * h + (1.0 - z) * hh;
            want.push(h);
        }
        let gru = with_weights(
            "gru",
            LayerKind::Gru {
                units: 1,
                return_sequences: true,
                return_state: false,
                use_bias: false,
                reset_after: true,
                go_backwards,
                activation: Activation::Tanh,
                recurrent_activation,
            },
            vec![
                ("kernel", vec![1, 3], k.to_vec()),
                ("recurrent_kernel", vec![1, 3], rk.to_vec()),
            ],
        );
        let y = gru_layer(&gru, x, None).unwrap().remove(0);
        for (t, w) in want.iter().enumerate() {
            assert!((f(y[[0, t, 0]]) - w).abs() < 1e-6, "GRU {y:?} vs {want:?}");
        }
    }

    /// `go_backwards` for GRU and SimpleRNN (one unit, one feature), by hand
    /// in f64 over the reversed steps; the last output is the first step's.
    #[test]
    fn gru_and_simple_rnn_go_backwards_read_the_steps_last_to_first() {
        let xs = [0.3f32, -1.0, 0.8, 0.1];
        let x = ArrayD::from_shape_vec(vec![1, 4, 1], xs.to_vec()).unwrap();
        let f = |v: f32| v as f64;
        let sg = |v: f64| 1.0 / (1.0 + (-v).exp());
        check_one_unit_gru(&x, xs.iter().rev().copied(), true, Activation::Sigmoid, sg);
        // SimpleRNN: h = tanh(0.7 x + 0.1 - 0.4 h).
        let mut h = 0.0f64;
        for &xt in xs.iter().rev() {
            h = (0.7 * f(xt) + f(0.1) - 0.4 * h).tanh();
        }
        let rnn = with_weights(
            "rnn",
            LayerKind::SimpleRnn {
                units: 1,
                return_sequences: false,
                return_state: false,
                use_bias: true,
                go_backwards: true,
                activation: Activation::Tanh,
            },
            vec![
                ("kernel", vec![1, 1], vec![0.7]),
                ("recurrent_kernel", vec![1, 1], vec![-0.4]),
                ("bias", vec![1], vec![0.1]),
            ],
        );
        let y = simple_rnn_layer(&rnn, &x, None).unwrap().remove(0);
        assert_eq!(y.shape(), &[1, 1]);
        assert!((f(y[[0, 0]]) - h).abs() < 1e-6, "SimpleRNN {y:?} vs {h}");
    }

    /// `activation` and `recurrent_activation` replace tanh and sigmoid
    /// everywhere they appear: an LSTM with relu (candidate and output) and a
    /// GRU with softsign gates (one unit, one feature), by hand in f64.
    #[test]
    fn lstm_relu_and_gru_softsign_gates_follow_their_activations() {
        let xs = [0.9f32, -0.4, 1.3];
        let x = ArrayD::from_shape_vec(vec![1, 3, 1], xs.to_vec()).unwrap();
        let f = |v: f32| v as f64;
        let sg = |v: f64| 1.0 / (1.0 + (-v).exp());
        let relu = |v: f64| v.max(0.0);
        // LSTM: kernel [wi, wf, wc, wo], recurrent [ri, rf, rc, ro], bias.
        let (k, r, b) = (
            [0.5f32, -0.25, 1.0, 0.75],
            [0.1f32, 0.2, -0.3, 0.4],
            [0.0f32, 1.0, 0.1, -0.2],
        );
        let (mut h, mut c) = (0.0f64, 0.0f64);
        let mut want = vec![];
        for &xt in &xs {
            let z = |j: usize| f(k[j]) * f(xt) + f(r[j]) * h + f(b[j]);
            let (i, fg, g, o) = (sg(z(0)), sg(z(1)), relu(z(2)), sg(z(3)));
            c = fg * c + i * g;
            h = o * relu(c);
            want.push(h);
        }
        let lstm = with_weights(
            "lstm",
            LayerKind::Lstm {
                units: 1,
                return_sequences: true,
                return_state: false,
                use_bias: true,
                go_backwards: false,
                activation: Activation::Relu,
                recurrent_activation: Activation::Sigmoid,
            },
            vec![
                ("kernel", vec![1, 4], k.to_vec()),
                ("recurrent_kernel", vec![1, 4], r.to_vec()),
                ("bias", vec![4], b.to_vec()),
            ],
        );
        let y = lstm_layer(&lstm, &x, None).unwrap().remove(0);
        // The relu candidate makes c grow: the steps differ from tanh's.
        for (t, w) in want.iter().enumerate() {
            assert!((f(y[[0, t, 0]]) - w).abs() < 1e-6, "LSTM {y:?} vs {want:?}");
        }
        let mut tanh_lstm = lstm.clone();
        if let LayerKind::Lstm { activation, .. } = &mut tanh_lstm.kind {
            *activation = Activation::Tanh;
        }
        let y_tanh = lstm_layer(&tanh_lstm, &x, None).unwrap().remove(0);
        assert!(
            (y_tanh[[0, 2, 0]] - y[[0, 2, 0]]).abs() > 1e-3,
            "{y_tanh:?} vs {y:?}"
        );
        // GRU with softsign gates.
        let softsign = |v: f64| v / (1.0 + v.abs());
        check_one_unit_gru(
            &x,
            xs.iter().copied(),
            false,
            Activation::Softsign,
            softsign,
        );
        // SimpleRNN relu: h = relu(0.7 x + 0.1 - 0.4 h).
        let mut h = 0.0f64;
        for &xt in &xs {
            h = relu(0.7 * f(xt) + f(0.1) - 0.4 * h);
        }
        let rnn = with_weights(
            "rnn",
            LayerKind::SimpleRnn {
                units: 1,
                return_sequences: false,
                return_state: false,
                use_bias: true,
                go_backwards: false,
                activation: Activation::Relu,
            },
            vec![
                ("kernel", vec![1, 1], vec![0.7]),
                ("recurrent_kernel", vec![1, 1], vec![-0.4]),
                ("bias", vec![1], vec![0.1]),
            ],
        );
        let y = simple_rnn_layer(&rnn, &x, None).unwrap().remove(0);
        assert!((f(y[[0, 0]]) - h).abs() < 1e-6, "SimpleRNN {y:?} vs {h}");
    }

    /// A softmax (not elementwise) activation is refused, not run.
    #[test]
    fn softmax_activation_is_refused() {
        let zeros = |shape: Vec<usize>| ArrayD::zeros(shape);
        let mut lstm = lstm(
            1,
            false,
            vec![
                ("kernel", zeros(vec![1, 4])),
                ("recurrent_kernel", zeros(vec![1, 4])),
                ("bias", zeros(vec![4])),
            ],
        );
        if let LayerKind::Lstm { activation, .. } = &mut lstm.kind {
            *activation = Activation::Softmax;
        }
        let err = lstm_layer(&lstm, &zeros(vec![1, 2, 1]), None).unwrap_err();
        assert!(err.to_string().contains("softmax"), "{err}");
    }

    /// Masks by hand: SimpleRNN(1), `h = tanh(0.8 x - 0.5 h)`, three steps,
    /// the middle one masked. The state skips it (step 2 starts from `h0`);
    /// the output repeats `h0` there, or is 0 with `zero_output`; read
    /// backwards, the mask goes with its step.
    #[test]
    fn masked_steps_keep_the_state_and_repeat_or_zero_the_output() {
        let xs = [0.5f64, -1.0, 0.25];
        let x =
            ArrayD::from_shape_vec(vec![1, 3, 1], xs.iter().map(|v| *v as f32).collect()).unwrap();
        let step = |x: f64, h: f64| (0.8 * x - 0.5 * h).tanh();
        let rnn = |go_backwards| {
            with_weights(
                "rnn",
                LayerKind::SimpleRnn {
                    units: 1,
                    return_sequences: true,
                    return_state: false,
                    use_bias: false,
                    go_backwards,
                    activation: Activation::Tanh,
                },
                vec![
                    ("kernel", vec![1, 1], vec![0.8]),
                    ("recurrent_kernel", vec![1, 1], vec![-0.5]),
                ],
            )
        };
        let keep = ndarray::arr2(&[[true, false, true]]);
        let mask = |zero_output| {
            Some(StepMask {
                keep: keep.view(),
                zero_output,
            })
        };
        let seq = |y: ArrayD<f32>| y.iter().map(|v| *v as f64).collect::<Vec<f64>>();
        let close = |got: Vec<f64>, want: [f64; 3]| {
            assert!(
                got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-6),
                "{got:?} vs {want:?}"
            );
        };
        let h0 = step(xs[0], 0.0);
        let h2 = step(xs[2], h0);
        close(
            seq(simple_rnn_layer(&rnn(false), &x, mask(false))
                .unwrap()
                .remove(0)),
            [h0, h0, h2],
        );
        close(
            seq(simple_rnn_layer(&rnn(false), &x, mask(true))
                .unwrap()
                .remove(0)),
            [h0, 0.0, h2],
        );
        // Backwards: steps 2, 1 (masked), 0 in that order.
        let b0 = step(xs[2], 0.0);
        let b2 = step(xs[0], b0);
        close(
            seq(simple_rnn_layer(&rnn(true), &x, mask(false))
                .unwrap()
                .remove(0)),
            [b0, b0, b2],
        );
        // Unmasked, the middle step counts.
        let u1 = step(xs[1], h0);
        close(
            seq(simple_rnn_layer(&rnn(false), &x, None).unwrap().remove(0)),
            [h0, u1, step(xs[2], u1)],
        );
    }

    /// An LSTM keeps both states at a masked step: a fully masked sample
    /// stays at zeros, and a sample masked only at the end returns the
    /// output of its last real step (the same as running the real steps alone).
    #[test]
    fn masked_lstm_keeps_h_and_c() {
        let w = |shape: Vec<usize>, seed: f32| {
            let n: usize = shape.iter().product();
            ArrayD::from_shape_vec(
                shape,
                (0..n).map(|i| ((i as f32 + seed) * 0.37).sin()).collect(),
            )
            .unwrap()
        };
        let layer = lstm(
            2,
            false,
            vec![
                ("kernel", w(vec![3, 8], 1.0)),
                ("recurrent_kernel", w(vec![2, 8], 2.0)),
                ("bias", w(vec![8], 3.0)),
            ],
        );
        let x = w(vec![2, 4, 3], 4.0);
        let keep = ndarray::arr2(&[[false, false, false, false], [true, true, false, false]]);
        let mask = Some(StepMask {
            keep: keep.view(),
            zero_output: false,
        });
        let y = lstm_layer(&layer, &x, mask).unwrap().remove(0);
        assert!(y.index_axis(Axis(0), 0).iter().all(|v| *v == 0.0), "{y:?}");
        let first_two = x.slice(s![1..2, ..2, ..]).to_owned().into_dyn();
        let alone = lstm_layer(&layer, &first_two, None).unwrap().remove(0);
        assert_eq!(y.slice(s![1, ..]), alone.slice(s![0, ..]));
        // The mask must match the input's (batch, steps).
        let short = ndarray::arr2(&[[true, true]]);
        let bad = Some(StepMask {
            keep: short.view(),
            zero_output: false,
        });
        assert!(lstm_layer(&layer, &x, bad).is_err());
    }
}
