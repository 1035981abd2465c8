//! Oracle tests: every committed test graph (`testdata/`, made by `testdata/gen.py`)
//! and every project fixture (`fixtures/<case>/`) is run with all its recorded
//! tensors as outputs and compared with TensorFlow's values.

use super::*;
use ndarray::IxDyn;
use ndarray_npy::NpzReader;
use std::path::{Path, PathBuf};

/// TensorFlow's recorded values of one graph, as `gen.py` and the fixture harness write them.
struct Recorded {
    inputs: Vec<(String, ArrayD<f32>)>,
    tensors: Vec<(String, ArrayD<f32>)>,
}

fn read_npz(path: &Path) -> Recorded {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut npz = NpzReader::new(file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut names = npz.names().expect("npz names");
    names.sort();
    let mut rec = Recorded {
        inputs: vec![],
        tensors: vec![],
    };
    for key in names {
        let arr: ArrayD<f32> = match npz.by_name::<ndarray::OwnedRepr<f32>, IxDyn>(&key) {
            Ok(a) => a,
            Err(e) => panic!("{}: {key}: {e}", path.display()),
        };
        let key = key.strip_suffix(".npy").unwrap_or(&key).to_string();
        if let Some(name) = key.strip_prefix("input:") {
            rec.inputs.push((name.to_string(), arr));
        } else if let Some(name) = key.strip_prefix("tensor:") {
            rec.tensors.push((name.to_string(), arr));
        } else if let Some(name) = key.strip_prefix("output:") {
            rec.tensors.push((name.to_string(), arr));
        }
    }
    rec
}

/// Loads `pb` with every recorded tensor as an output, runs it on the recorded inputs
/// and returns the mismatches (empty when tract agrees with TensorFlow).
///
/// Tolerance: |tract - tf| <= 1e-4 + 1e-3 * |tf|. Both run f32 kernels that sum in
/// different orders (tract's im2col/matmul vs TF's oneDNN), so values differ by a few
/// ULPs per accumulation; 1e-3 relative leaves room for that through ~20 layers while
/// any real semantic error (wrong padding, axis, epsilon) is orders of magnitude larger.
fn check_graph(pb: &Path, npz: &Path) -> Result<(Stage, usize), String> {
    let rec = read_npz(npz);
    let inputs: Vec<OracleInput> = rec
        .inputs
        .iter()
        .map(|(n, a)| OracleInput {
            name: n.clone(),
            shape: a.shape().to_vec(),
        })
        .collect();
    let names: Vec<String> = rec.tensors.iter().map(|(n, _)| n.clone()).collect();
    let oracle = Oracle::load(pb, &inputs, &names).map_err(|e| e.to_string())?;
    let arrays: Vec<ArrayD<f32>> = rec.inputs.iter().map(|(_, a)| a.clone()).collect();
    let got = oracle.run(&arrays).map_err(|e| e.to_string())?;
    let mut bad = vec![];
    for ((name, want), got) in rec.tensors.iter().zip(&got) {
        if want.shape() != got.shape() {
            bad.push(format!(
                "{name}: shape {:?} vs TF {:?}",
                got.shape(),
                want.shape()
            ));
            continue;
        }
        let worst = want
            .iter()
            .zip(got.iter())
            .map(|(w, g)| ((g - w).abs() - (1e-4 + 1e-3 * w.abs()), *w, *g))
            .fold((f32::NEG_INFINITY, 0.0, 0.0), |a, b| {
                if b.0 > a.0 || b.0.is_nan() { b } else { a }
            });
        let within = worst.0 <= 0.0; // false for NaN, which must fail too
        if !within {
            bad.push(format!("{name}: tract {} vs TF {}", worst.2, worst.1));
        }
    }
    if bad.is_empty() {
        Ok((oracle.stage(), names.len()))
    } else {
        Err(bad.join("\n  "))
    }
}

fn testdata(case: &str) -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/oracle/testdata");
    (
        dir.join(format!("{case}.pb")),
        dir.join(format!("{case}.npz")),
    )
}

fn check_case(case: &str) {
    let _ = env_logger::builder().is_test(true).try_init();
    let (pb, npz) = testdata(case);
    match check_graph(&pb, &npz) {
        Ok((stage, n)) => {
            eprintln!("{case}: {n} tensors match TensorFlow ({stage:?})");
            assert_eq!(stage, Stage::Optimized, "{case}: tract's optimiser failed");
        }
        Err(e) => panic!("{case}:\n  {e}"),
    }
}

#[test]
fn keras3_graph_matches_tensorflow() {
    check_case("keras3");
}

#[test]
fn tfkeras_graph_matches_tensorflow() {
    check_case("tfkeras");
}

/// thaw's fused LSTM builders (`ops/block_lstm.rs`) on what conversion refuses
/// but the oracle must get right: peepholes, an active cell_clip (TF clipped
/// 72% of block_v1's cs), a non-zero initial state, BlockLSTMV2's gate order,
/// `seq_len_max` < T (cs and h zero past it), one LSTMBlockCell step.
#[test]
fn fused_lstm_ops_match_tensorflow_with_peepholes_clip_and_short_sequences() {
    check_case("fused_lstm");
}

#[test]
fn tf1_graph_matches_tensorflow() {
    check_case("tf1");
}

/// Every project fixture (`fixtures/<case>/model.pb` + `io.npz`, written by the
/// harness with TensorFlow): all recorded tensors must match. Failures are collected
/// so that one run lists every broken case.
#[test]
fn every_fixture_matches_tensorflow() {
    let _ = env_logger::builder().is_test(true).try_init();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let Ok(dir) = std::fs::read_dir(&root) else {
        eprintln!("no fixtures/ folder: nothing to check");
        return;
    };
    let mut cases: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
    cases.sort();
    let mut failures = vec![];
    let mut checked = 0;
    for case in cases {
        let (pb, npz) = (case.join("model.pb"), case.join("io.npz"));
        if !pb.exists() || !npz.exists() {
            continue;
        }
        checked += 1;
        match check_graph(&pb, &npz) {
            Ok((stage, n)) => {
                eprintln!("{}: {n} tensors match ({stage:?})", case.display());
                if stage != Stage::Optimized {
                    failures.push(format!(
                        "{}: tract's optimiser failed ({stage:?})",
                        case.display()
                    ));
                }
            }
            Err(e) => failures.push(format!("{}:\n  {e}", case.display())),
        }
    }
    eprintln!("{checked} fixture(s) checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// TF1's fused LSTM ops (`BlockLSTM`, `BlockLSTMV2`, `LSTMBlockCell` in an
/// unrolled `dynamic_rnn` loop; thaw's builders in `ops/block_lstm.rs`): all
/// seven outputs of the sequence ops, recorded by TensorFlow in the
/// fixtures' io.npz, match. Also covered by [`every_fixture_matches_tensorflow`];
/// this one runs alone (`cargo test --lib block_lstm`).
#[test]
fn block_lstm_fixtures_match_tensorflow() {
    let _ = env_logger::builder().is_test(true).try_init();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    for case in [
        "tf1_block_lstm",
        "tf1_block_lstm_b2",
        "tf1_block_lstm_v2",
        "tf1_lstm_block_cell",
    ] {
        let dir = root.join(case);
        match check_graph(&dir.join("model.pb"), &dir.join("io.npz")) {
            Ok((stage, n)) => {
                eprintln!("{case}: {n} tensors match ({stage:?})");
                assert_eq!(stage, Stage::Optimized, "{case}: tract's optimiser failed");
                let rec = read_npz(&dir.join("io.npz"));
                let fused = rec
                    .tensors
                    .iter()
                    .filter(|(n, _)| n.contains("BlockLSTM") || n.contains("LSTMBlockCell"))
                    .count();
                if case.starts_with("tf1_block_lstm") {
                    assert_eq!(fused, 7, "{case}: the seven outputs are not all recorded");
                }
            }
            Err(e) => panic!("{case}:\n  {e}"),
        }
    }
}

/// Real architectures too big to commit, generated into ~/.cache/thaw/oracle by
/// `testdata/gen_mobilenet.py` (MobileNetV2 from Keras 3 and tf-keras) or by hand: every
/// `<name>.pb` there with its `<name>.npz` is checked against TensorFlow, and load /
/// first-run / per-run times are printed. Ignored: the files are not in the repository.
#[test]
#[ignore]
fn cached_real_architectures_match_tensorflow() {
    let _ = env_logger::builder().is_test(true).try_init();
    let Some(home) = std::env::var_os("HOME") else {
        panic!("HOME is not set")
    };
    let dir = Path::new(&home).join(".cache/thaw/oracle");
    let mut pbs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (run testdata/gen_mobilenet.py)", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pb"))
        .collect();
    pbs.sort();
    let mut failures = vec![];
    for pb in pbs {
        let npz = pb.with_extension("npz");
        let name = pb.display().to_string();
        let rec = read_npz(&npz);
        let inputs: Vec<OracleInput> = rec
            .inputs
            .iter()
            .map(|(n, a)| OracleInput {
                name: n.clone(),
                shape: a.shape().to_vec(),
            })
            .collect();
        let arrays: Vec<ArrayD<f32>> = rec.inputs.iter().map(|(_, a)| a.clone()).collect();
        let all: Vec<String> = rec.tensors.iter().map(|(n, _)| n.clone()).collect();
        let t = std::time::Instant::now();
        let oracle = match Oracle::load(&pb, &inputs, &all) {
            Ok(o) => o,
            Err(e) => {
                failures.push(e.to_string());
                continue;
            }
        };
        let load = t.elapsed();
        let t = std::time::Instant::now();
        let first = oracle.run(&arrays).map(|_| t.elapsed());
        let t = std::time::Instant::now();
        let runs: Result<Vec<_>, _> = (0..10).map(|_| oracle.run(&arrays)).collect();
        let per_run = t.elapsed() / 10;
        eprintln!(
            "{name}: {} outputs, {:?}: load {load:?}, first run {first:?}, per run {per_run:?} ({})",
            all.len(),
            oracle.stage(),
            if runs.is_ok() { "ok" } else { "FAILED" }
        );
        match check_graph(&pb, &npz) {
            Ok((stage, n)) => eprintln!("{name}: {n} tensors match TensorFlow ({stage:?})"),
            Err(e) => failures.push(format!("{name}:\n  {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

mod small_graphs {
    //! Hand-built GraphDefs (tract-tensorflow's `tfpb` builder) for the error paths and
    //! for the multi-output pass-through; expected values are computed in the test.
    use super::*;
    use tract_tensorflow::tfpb::{self, tensorflow::DataType};

    /// x[1,3] -> IdentityN(x, Square(x)) -> add = idn:0 + idn:1; two unknown ops hang
    /// off x (`foo` -> `bar`) and a NoOp sits aside, as Keras 3 graphs have.
    fn graph() -> Vec<u8> {
        tfpb::graph()
            .node(
                tfpb::node()
                    .name("x")
                    .op("Placeholder")
                    .attr("dtype", DataType::DtFloat),
            )
            .node(
                tfpb::node()
                    .name("sq")
                    .op("Square")
                    .input("x")
                    .attr("T", DataType::DtFloat),
            )
            .node(
                tfpb::node()
                    .name("idn")
                    .op("IdentityN")
                    .input("x")
                    .input("sq"),
            )
            .node(
                tfpb::node()
                    .name("add")
                    .op("AddV2")
                    .input("idn")
                    .input("idn:1"),
            )
            .node(tfpb::node().name("foo").op("FooBar").input("x"))
            .node(
                tfpb::node()
                    .name("bar")
                    .op("BazQux")
                    .input("foo")
                    .input("add"),
            )
            .node(tfpb::node().name("noop").op("NoOp").input("^add"))
            .write_to_bytes()
            .expect("encode")
    }

    fn x_input() -> Vec<OracleInput> {
        vec![OracleInput {
            name: "x".into(),
            shape: vec![1, 3],
        }]
    }

    fn load(outputs: &[&str]) -> Result<Oracle, OracleError> {
        let outputs: Vec<String> = outputs.iter().map(|s| s.to_string()).collect();
        Oracle::from_bytes(&graph(), "small.pb", &x_input(), &outputs)
    }

    #[test]
    fn identity_n_forwards_every_input_to_its_own_output() {
        let oracle = load(&["idn:1", "add", "idn:0"]).expect("load");
        let x = ndarray::arr2(&[[1.0f32, -2.0, 3.0]]).into_dyn();
        let got = oracle.run(std::slice::from_ref(&x)).expect("run");
        assert_eq!(got[0], x.mapv(|v| v * v));
        assert_eq!(got[1], x.mapv(|v| v + v * v));
        assert_eq!(got[2], x);
    }

    #[test]
    fn samples_beyond_the_loaded_batch_run_in_chunks_of_it() {
        // Loaded for batch 1: three samples run as three runs, joined on axis 0.
        let oracle = load(&["add", "idn:0"]).expect("load");
        let x =
            ndarray::arr2(&[[1.0f32, -2.0, 3.0], [0.5, 4.0, -1.0], [2.0, 0.0, -3.0]]).into_dyn();
        let got = oracle.run(std::slice::from_ref(&x)).expect("run");
        assert_eq!(got[0], x.mapv(|v| v + v * v));
        assert_eq!(got[1], x);
        // Same non-batch dims are required even when the count divides.
        let err = oracle.run(&[ArrayD::zeros(IxDyn(&[2, 4]))]).unwrap_err();
        assert!(matches!(&err, OracleError::InputShape { .. }), "{err:?}");
    }

    #[test]
    fn a_sample_count_that_does_not_divide_the_batch_is_refused() {
        let outputs = vec!["add".to_string()];
        let two = [OracleInput {
            name: "x".into(),
            shape: vec![2, 3],
        }];
        let oracle = Oracle::from_bytes(&graph(), "small.pb", &two, &outputs).expect("load");
        let err = oracle.run(&[ArrayD::zeros(IxDyn(&[3, 3]))]).unwrap_err();
        assert!(
            matches!(&err, OracleError::InputShape { got, .. } if got == &[3, 3]),
            "{err:?}"
        );
        let ok = oracle
            .run(&[ArrayD::ones(IxDyn(&[4, 3]))])
            .expect("4 = 2 x 2");
        assert_eq!(ok[0], ArrayD::from_elem(IxDyn(&[4, 3]), 2.0f32));
    }

    #[test]
    fn unsupported_ops_in_the_cone_are_reported_together() {
        match load(&["bar"]) {
            Err(OracleError::UnsupportedOps { origin, ops }) => {
                assert_eq!(origin, "small.pb");
                let names: Vec<&str> = ops.iter().map(|(n, _)| n.as_str()).collect();
                assert_eq!(names, ["foo", "bar"]);
            }
            other => panic!("expected UnsupportedOps, got {other:?}"),
        }
    }

    #[test]
    fn bad_output_names_name_the_file_and_node() {
        let err = load(&["nope:0"]).unwrap_err();
        assert!(
            matches!(&err, OracleError::NoSuchNode { node, .. } if node == "nope"),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("small.pb:"), "{err}");
        let err = load(&["idn:2"]).unwrap_err();
        assert!(
            matches!(&err, OracleError::NoSuchOutput { arity: 2, .. }),
            "{err:?}"
        );
        let err = load(&["^add"]).unwrap_err();
        assert!(matches!(&err, OracleError::BadTensorName { .. }), "{err:?}");
    }

    #[test]
    fn inputs_must_be_placeholders_and_runs_must_match_them() {
        let err = Oracle::from_bytes(
            &graph(),
            "small.pb",
            &[OracleInput {
                name: "sq".into(),
                shape: vec![1, 3],
            }],
            &["add".to_string()],
        )
        .unwrap_err();
        assert!(
            matches!(&err, OracleError::NotPlaceholder { op, .. } if op == "Square"),
            "{err:?}"
        );
        let oracle = load(&["add"]).expect("load");
        let err = oracle.run(&[ArrayD::zeros(IxDyn(&[1, 4]))]).unwrap_err();
        assert!(matches!(&err, OracleError::InputShape { .. }), "{err:?}");
        let err = oracle.run(&[]).unwrap_err();
        assert!(
            matches!(
                &err,
                OracleError::InputCount {
                    expected: 1,
                    got: 0,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn garbage_is_not_a_graph() {
        let err = Oracle::from_bytes(&[0xff; 16], "junk.pb", &x_input(), &["add".to_string()])
            .unwrap_err();
        assert!(matches!(&err, OracleError::Decode { .. }), "{err:?}");
        let err = Oracle::load(Path::new("/nonexistent/model.pb"), &x_input(), &[]).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/model.pb"), "{err}");
    }

    /// A convolution whose output is exposed, followed by a per-channel `Mul` (a batch
    /// normalisation's scale), exposed too: tract's own declutter fuses the `Mul` into a
    /// second, scaled copy of the convolution, so the plan would compute it twice and
    /// hold two packed kernels. With thaw's pass lists the plan holds one matrix
    /// product, and both values are still the graph's.
    #[test]
    fn an_exposed_convolution_is_not_copied_to_absorb_its_successor() {
        use tract_tensorflow::tfpb::tensorflow::TensorProto;
        let kernel: Vec<f32> = (0..2 * 2 * 3 * 4).map(|i| (i % 5) as f32 - 2.0).collect();
        let kernel =
            tract_tensorflow::prelude::Tensor::from_shape(&[2, 2, 3, 4], &kernel).expect("kernel");
        let scale = tract_tensorflow::prelude::tensor1(&[0.5f32, -1.0, 2.0, 3.0]);
        let konst = |name: &str, t: &Tensor| {
            tfpb::node()
                .name(name)
                .op("Const")
                .attr("dtype", DataType::DtFloat)
                .attr("value", TensorProto::try_from(t).expect("proto"))
        };
        let bytes = tfpb::graph()
            .node(
                tfpb::node()
                    .name("x")
                    .op("Placeholder")
                    .attr("dtype", DataType::DtFloat),
            )
            .node(konst("k", &kernel))
            .node(konst("scale", &scale))
            .node(
                tfpb::node()
                    .name("conv")
                    .op("Conv2D")
                    .input("x")
                    .input("k")
                    .attr("T", DataType::DtFloat)
                    .attr("strides", vec![1i64, 1, 1, 1])
                    .attr("padding", "VALID")
                    .attr("data_format", "NHWC"),
            )
            .node(
                tfpb::node()
                    .name("bn")
                    .op("Mul")
                    .input("conv")
                    .input("scale")
                    .attr("T", DataType::DtFloat),
            )
            .write_to_bytes()
            .expect("encode");
        let inputs = vec![OracleInput {
            name: "x".into(),
            shape: vec![1, 5, 5, 3],
        }];
        let outputs = vec!["conv".to_string(), "bn".to_string()];
        let oracle = Oracle::from_bytes(&bytes, "conv_bn.pb", &inputs, &outputs).expect("load");
        assert_eq!(oracle.stage(), Stage::Optimized);
        let products = oracle
            .plan
            .model()
            .nodes()
            .iter()
            .filter(|n| n.op.name().contains("MatMul") && !n.op.name().contains("Pack"))
            .count();
        assert_eq!(products, 1, "{:#?}", oracle.plan.model());
        let x = ArrayD::from_shape_fn(vec![1, 5, 5, 3], |i| {
            ((i[1] * 7 + i[2] * 3 + i[3]) % 11) as f32 - 5.0
        });
        let got = oracle.run(std::slice::from_ref(&x)).expect("run");
        // The convolution by hand (VALID, stride 1: 4x4 positions).
        let k = kernel.to_plain_array_view::<f32>().expect("f32");
        let conv = ArrayD::from_shape_fn(vec![1, 4, 4, 4], |o| {
            let mut sum = 0.0f32;
            for (dy, dx, c) in itertools_product(2, 2, 3) {
                sum += x[[0, o[1] + dy, o[2] + dx, c]] * k[[dy, dx, c, o[3]]];
            }
            sum
        });
        let scale = [0.5f32, -1.0, 2.0, 3.0];
        let bn = ArrayD::from_shape_fn(vec![1, 4, 4, 4], |o| {
            conv[[0, o[1], o[2], o[3]]] * scale[o[3]]
        });
        assert_eq!(got[0], conv);
        assert_eq!(got[1], bn);
    }

    /// When tract's optimiser fails, the graph is prepared again, decluttered only,
    /// then typed only; any other error ends the attempts.
    #[test]
    fn an_optimiser_failure_prepares_again_with_less() {
        let failing = |step| OracleError::Tract {
            origin: "g.pb".into(),
            step,
            message: "boom".into(),
        };
        let mut tried = vec![];
        let err = Oracle::prepared("g.pb", |ceiling| {
            tried.push(ceiling);
            Err(failing(if ceiling == Stage::Typed {
                "run"
            } else {
                OPTIMISE
            }))
        })
        .unwrap_err();
        assert_eq!(tried, [Stage::Optimized, Stage::Decluttered, Stage::Typed]);
        assert!(
            matches!(err, OracleError::Tract { step: "run", .. }),
            "{err:?}"
        );
        let mut tried = vec![];
        let err = Oracle::prepared("g.pb", |ceiling| {
            tried.push(ceiling);
            Err(failing("parse the graph"))
        })
        .unwrap_err();
        assert_eq!(tried, [Stage::Optimized]);
        assert!(!err.is_optimiser_failure());
    }

    fn itertools_product(
        a: usize,
        b: usize,
        c: usize,
    ) -> impl Iterator<Item = (usize, usize, usize)> {
        (0..a).flat_map(move |i| (0..b).flat_map(move |j| (0..c).map(move |k| (i, j, k))))
    }

    /// `ReverseV2` (thaw's builder): x[2,3,4] reversed along axes [0, -1] and along [1]
    /// against the same reversal done with ndarray's negative-step slices.
    #[test]
    fn reverse_v2_reverses_the_listed_axes() {
        use tract_tensorflow::tfpb::tensorflow::TensorProto;
        let konst = |name: &str, axes: &[i32]| {
            let t = tract_tensorflow::prelude::tensor1(axes);
            tfpb::node()
                .name(name)
                .op("Const")
                .attr("dtype", DataType::DtInt32)
                .attr("value", TensorProto::try_from(&t).expect("proto"))
        };
        let bytes = tfpb::graph()
            .node(
                tfpb::node()
                    .name("x")
                    .op("Placeholder")
                    .attr("dtype", DataType::DtFloat),
            )
            .node(konst("ends", &[0, -1]))
            .node(konst("mid", &[1]))
            .node(
                tfpb::node()
                    .name("rev_ends")
                    .op("ReverseV2")
                    .input("x")
                    .input("ends"),
            )
            .node(
                tfpb::node()
                    .name("rev_mid")
                    .op("ReverseV2")
                    .input("x")
                    .input("mid"),
            )
            .write_to_bytes()
            .expect("encode");
        let inputs = vec![OracleInput {
            name: "x".into(),
            shape: vec![2, 3, 4],
        }];
        let outputs = vec!["rev_ends".to_string(), "rev_mid".to_string()];
        let oracle = Oracle::from_bytes(&bytes, "rev.pb", &inputs, &outputs).expect("load");
        let x = ArrayD::from_shape_fn(vec![2, 3, 4], |i| (i[0] * 100 + i[1] * 10 + i[2]) as f32);
        let got = oracle.run(std::slice::from_ref(&x)).expect("run");
        use ndarray::s;
        assert_eq!(got[0], x.slice(s![..;-1, .., ..;-1]).to_owned().into_dyn());
        assert_eq!(got[1], x.slice(s![.., ..;-1, ..]).to_owned().into_dyn());
    }

    /// A hand-written TF1 TensorArray loop (`tests/data/tf1_ta_loop.pbtxt`: the running
    /// sum of the time-major x along time, gathered after the loop, and its last row
    /// leaving through the final state's Exit), its trip count read from x's shape:
    /// unrolled by the oracle (the bound asked of tract for the loaded shape) and run.
    #[test]
    fn tf1_tensor_array_loop_runs_unrolled() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tf1_ta_loop.pbtxt");
        let def = crate::graph::load_graph_def(&path).expect("loads");
        let bytes = prost::Message::encode_to_vec(&def);
        let inputs = vec![OracleInput {
            name: "x".into(),
            shape: vec![3, 2],
        }];
        let outputs = vec!["rnn/stack".to_string(), "rnn/while/Exit_2".to_string()];
        let oracle = Oracle::from_bytes(&bytes, "ta.pb", &inputs, &outputs).expect("load");
        let x = ndarray::arr2(&[[1.0f32, -2.0], [3.0, 0.5], [-4.0, 8.0]]).into_dyn();
        let got = oracle.run(std::slice::from_ref(&x)).expect("run");
        let sums = ndarray::arr2(&[[1.0f32, -2.0], [4.0, -1.5], [0.0, 6.5]]).into_dyn();
        assert_eq!(got[0], sums);
        assert_eq!(got[1], ndarray::arr1(&[0.0f32, 6.5]).into_dyn());
    }

    /// A functional `StatelessWhile` (tests/data/while_counter.pbtxt: four
    /// rounds of `a = 2a + 1` on x, TensorFlow gives 16x + 15, with a counter
    /// and an invariant bound) is lowered by `inline_calls`, then unrolled, and
    /// runs; its loop node's outputs are read through the exits.
    #[test]
    fn functional_while_loop_runs_lowered_and_unrolled() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/while_counter.pbtxt");
        let def = crate::graph::load_graph_def(&path).expect("loads");
        assert!(def.node.iter().any(|n| n.op == "StatelessWhile"));
        let bytes = prost::Message::encode_to_vec(&def);
        let inputs = vec![OracleInput {
            name: "x".into(),
            shape: vec![2],
        }];
        let outputs = vec!["out".to_string()];
        let oracle = Oracle::from_bytes(&bytes, "while.pb", &inputs, &outputs).expect("load");
        let x = ndarray::arr1(&[1.0f32, -0.5]).into_dyn();
        let got = oracle.run(std::slice::from_ref(&x)).expect("run");
        assert_eq!(got[0], ndarray::arr1(&[31.0f32, 7.0]).into_dyn());
    }

    #[test]
    fn thaw_ops_lists_the_registered_builders() {
        let ops = thaw_ops();
        for op in [
            "Const",
            "ConcatV2",
            "FusedBatchNormV3",
            "IdentityN",
            "Pad",
            "Softmax",
            "SpaceToBatchND",
        ] {
            assert!(ops.contains(&op), "{op} missing from {ops:?}");
        }
        assert!(
            ops.windows(2).all(|w| w[0] < w[1]),
            "not sorted or duplicated: {ops:?}"
        );
        let tf = framework();
        assert!(ops.iter().all(|op| tf.op_register.0.contains_key(*op)));
    }
}
