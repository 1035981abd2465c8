//! Criterion benchmarks of `thaw verify`'s stages on a committed fixture:
//! load + convert, writing the `.h5`, loading the graph into tract (the
//! oracle), running the oracle, and running the reference interpreter, plus
//! the whole `verify`. Set `THAW_BENCH_MODEL=path/to/model.pb` to bench
//! another graph (e.g. a MobileNetV2 from `harness/gen_zoo.py`).
//!
//! Run: `cargo bench --bench pipeline`. The baseline to compare against is
//! TensorFlow's own `import tensorflow` (see the README's "Speed" section).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;
use thaw::compare::Tolerance;
use thaw::convert::ConvertOptions;
use thaw::oracle::{Oracle, OracleInput};
use thaw::verify::{VerifyOptions, load_and_convert, random_inputs, verify};

fn model() -> PathBuf {
    std::env::var_os("THAW_BENCH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("fixtures/k3_inverted_residual/model.pb"))
}

fn stages(c: &mut Criterion) {
    let path = model();
    let opts = ConvertOptions::default();
    let (_, conv) = load_and_convert(&path, &opts).expect("the bench model converts");
    let inputs = random_inputs(&conv.model, 4, 0, [-1.0, 1.0]).unwrap();
    let oracle_inputs: Vec<OracleInput> = conv
        .model
        .inputs
        .iter()
        .zip(&inputs)
        .map(|(i, a)| OracleInput {
            name: i.name.clone(),
            shape: a.shape().to_vec(),
        })
        .collect();
    let outputs: Vec<String> = conv
        .tensors
        .iter()
        .filter(|t| t.class_name != "InputLayer")
        .map(|t| t.tensor.to_string())
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");

    c.bench_function("load_and_convert", |b| {
        b.iter(|| load_and_convert(black_box(&path), &opts).map(|_| ()))
    });
    c.bench_function("write_h5", |b| {
        b.iter(|| thaw::keras::h5::write(&dir.path().join("m.h5"), black_box(&conv.model)))
    });
    c.bench_function("oracle_load_all_layer_tensors", |b| {
        b.iter(|| Oracle::load(black_box(&path), &oracle_inputs, &outputs).map(|_| ()))
    });
    let oracle = Oracle::load(&path, &oracle_inputs, &outputs).expect("oracle loads");
    c.bench_function("oracle_run_4_samples", |b| {
        b.iter(|| oracle.run(black_box(&inputs)))
    });
    c.bench_function("interp_run_4_samples", |b| {
        b.iter(|| thaw::interp::run(&conv.model, black_box(&inputs)))
    });
    let vopts = VerifyOptions {
        model: path.clone(),
        out_dir: dir.path().join("verify"),
        convert: opts.clone(),
        samples: 4,
        seed: 0,
        input_range: [-1.0, 1.0],
        tolerance: Tolerance::default(),
    };
    c.bench_function("verify_whole", |b| {
        b.iter(|| verify(black_box(&vopts)).map(|_| ()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = stages
}
criterion_main!(benches);
