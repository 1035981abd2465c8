//! Keras LSTM layers, lowered to TF1 while loops (fixtures `k3_lstm_seq`,
//! `tk_lstm_seq`: LSTM(4, return_sequences=True) → LSTM(4) → Dense(2) on a
//! (5, 3) sequence, made by `harness/gen_fixtures.py`).
//!
//! The oracle unrolls the loops (`graph::unroll_loops_with`) and runs them
//! with tract: every tensor TensorFlow recorded outside the loops (the
//! stacked sequence, the last step, the final states, the head) must match.
//!
//! Tolerance: |tract - tf| <= 1e-5 + 1e-4 * |tf|: the same float32 ops in the
//! same order, except that tract and TF's kernels may sum MatMul products
//! and evaluate sigmoid/tanh differently in the last bits over 5 steps.

use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use std::collections::BTreeMap;
use std::path::PathBuf;
use thaw::oracle::{Oracle, OracleInput};

/// The fixtures' folder (`THAW_LSTM_FIXTURES` to check freshly generated ones).
fn case_dir(case: &str) -> PathBuf {
    std::env::var_os("THAW_LSTM_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("fixtures"))
        .join(case)
}

fn read_npz(path: &std::path::Path) -> BTreeMap<String, ArrayD<f32>> {
    let mut npz = NpzReader::new(std::fs::File::open(path).expect("io.npz opens")).expect("npz");
    let names = npz.names().expect("npz names");
    names
        .into_iter()
        .filter_map(|n| {
            let v: ArrayD<f32> = npz.by_name(&n).ok()?;
            Some((n.trim_end_matches(".npy").to_string(), v))
        })
        .collect()
}

fn check_oracle(case: &str) {
    let dir = case_dir(case);
    let io = read_npz(&dir.join("io.npz"));
    let input = io["input:seq"].clone();
    let wanted: Vec<String> = io
        .keys()
        .filter_map(|k| k.strip_prefix("tensor:"))
        .filter(|t| *t != "seq:0")
        .map(str::to_string)
        .collect();
    // The loops' outputs are among them: the stacked sequence and the last step.
    assert!(
        wanted.iter().any(|t| t.contains("TensorListStack")),
        "{case}"
    );
    let oracle = Oracle::load(
        &dir.join("model.pb"),
        &[OracleInput {
            name: "seq".into(),
            shape: input.shape().to_vec(),
        }],
        &wanted,
    )
    .unwrap_or_else(|e| panic!("{case}: {e}"));
    let got = oracle
        .run(&[input])
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    for (name, value) in wanted.iter().zip(&got) {
        let tf = &io[&format!("tensor:{name}")];
        assert_eq!(value.shape(), tf.shape(), "{case}: {name}");
        let worst = value
            .iter()
            .zip(tf.iter())
            .map(|(a, b)| (a - b).abs() - 1e-4 * b.abs())
            .fold(f32::MIN, f32::max);
        assert!(worst <= 1e-5, "{case}: {name} differs by {worst}");
    }
}

#[test]
fn oracle_runs_keras3_lstm_loops_unrolled() {
    check_oracle("k3_lstm_seq");
}

#[test]
fn oracle_runs_tf_keras_lstm_loops_unrolled() {
    check_oracle("tk_lstm_seq");
}

/// The converted model holds two Keras LSTMs (sequences, then last step),
/// and thaw's `.h5` reads back as the same layers and weights.
fn check_conversion(case: &str) {
    use thaw::convert::{ConvertOptions, convert};
    use thaw::keras::{Activation, LayerKind};
    let dir = case_dir(case);
    let graph = thaw::graph::Graph::load(&dir.join("model.pb")).expect("graph loads");
    let conv = convert(&graph, &ConvertOptions::default()).expect("converts");
    assert!(
        conv.unsupported.is_empty(),
        "{case}: {:?}",
        conv.unsupported
    );
    let kinds: Vec<&LayerKind> = conv
        .model
        .layers
        .iter()
        .filter(|l| matches!(l.kind, LayerKind::Lstm { .. }))
        .map(|l| &l.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            &LayerKind::Lstm {
                units: 4,
                return_sequences: true,
                return_state: false,
                use_bias: true,
                go_backwards: false,
                activation: Activation::Tanh,
                recurrent_activation: Activation::Sigmoid,
            },
            &LayerKind::Lstm {
                units: 4,
                return_sequences: false,
                return_state: false,
                use_bias: true,
                go_backwards: false,
                activation: Activation::Tanh,
                recurrent_activation: Activation::Sigmoid,
            }
        ],
        "{case}"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let h5 = tmp.path().join("m.h5");
    thaw::keras::h5::write(&h5, &conv.model).expect("writes");
    let back = thaw::keras::h5::read(&h5).expect("reads back");
    for (a, b) in conv.model.layers.iter().zip(&back.layers) {
        assert_eq!(a.kind, b.kind, "{case}: {}", a.name);
        assert_eq!(a.weights, b.weights, "{case}: {}", a.name);
    }
}

#[test]
fn keras3_lstms_convert_and_round_trip_through_h5() {
    check_conversion("k3_lstm_seq");
}

#[test]
fn tf_keras_lstms_convert_and_round_trip_through_h5() {
    check_conversion("tk_lstm_seq");
}
