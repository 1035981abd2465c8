//! Recurrent layers (issue 3, "Nothing silently dropped", and issue 13):
//! LSTM, GRU and SimpleRNN frozen by Keras 3 and tf-keras hold a TF while
//! loop that tract cannot run.
//!
//! - Lowered loops (the default freezing) of LSTM, GRU (with and without
//!   `reset_after`) and SimpleRNN, forwards and with `go_backwards`, with a
//!   dynamic batch and a fixed one (`k3_lstm_b1`, `tk_gru_b2`), convert
//!   and verify, every layer passing, each loop one Keras layer of its class
//!   (see also `tests/lstm.rs`).
//! - The functional `While` form (`lower_control_flow=False`: `k3_lstm_while`,
//!   `tk_gru_while`, `k3_lstm_gru_while`, `k3_bidi_while`, all with a dynamic
//!   batch, and `k3_lstm_while_b1`, `tk_gru_while_b2`, `k3_bidi_while_b2`,
//!   `k3_gru_v1_while_b1` frozen with a fixed batch of 1 or 2) is lowered at load into the form
//!   above and verifies the same way.
//! - `--output-tensor W:k` naming an output of a `While` (a `NoOp` once
//!   lowered) is its k-th `Exit`; a recurrent layer's final h so named is the
//!   layer's output (verifies), other outputs (an LSTM's c, a slot past the
//!   last) are refused naming the flag or the `Exit`.
//! - A `While` loading does not lower (one carrying a `DT_RESOURCE` variable,
//!   made from `k3_lstm_while` in the test) is refused: `thaw inspect`,
//!   `convert` and `verify` exit 3 with ONE message per loop naming the Keras
//!   layer, the loop and why; the `unused_control_flow_input*` placeholders
//!   the freezing leaves are not inputs (they used to make `verify` exit 2
//!   with "inputs of type DT_VARIANT are not supported"); nothing half-written.
//!
//! The graphs are `tests/data/<case>.pb`, made by `harness/gen_recurrent.py`
//! (TF 2.21, Keras 3.15.1, tf-keras 2.21; each is Input(5, 3) → Dense "proj"
//! → recurrent layer(s) → Dense "head").

use assert_cmd::Command;
use std::path::Path;

fn thaw() -> Command {
    Command::cargo_bin("thaw").expect("the thaw binary is built by cargo test")
}

/// Refused: case, the Keras layer scope(s) in loop order, the loop form.
/// `k3_lstm_while_resource` is `k3_lstm_while` with its kernel's loop variable
/// typed `DT_RESOURCE` (a variable handle, as in a graph not frozen), which
/// loading does not lower (see [`refused`]).
const CASES: &[(&str, &[&str], &str)] = &[("k3_lstm_while_resource", &["lstm"], "While")];

/// Frozen with `lower_control_flow=False`: `While`/`StatelessWhile` nodes (one
/// per loop) that loading lowers to the form above (`src/graph/lower_while.rs`).
const FUNCTIONAL: &[&str] = &[
    "k3_lstm_while",
    "tk_gru_while",
    "k3_lstm_gru_while",
    "k3_bidi_while",
    // Fixed batch (1, 2): TensorFlow folds the batch into the loop's shapes.
    "k3_lstm_while_b1",
    "tk_gru_while_b2",
    "k3_bidi_while_b2",
    // GRU(reset_after=False): its body holds a slice nothing reads.
    "k3_gru_v1_while_b1",
];

/// Converted and verified: case, then (layer, class) of each loop in order.
const CONVERTED: &[(&str, &[(&str, &str)])] = &[
    ("k3_lstm", &[("lstm", "LSTM")]),
    ("tk_lstm", &[("lstm", "LSTM")]),
    ("k3_gru", &[("gru", "GRU")]),
    ("tk_gru", &[("gru", "GRU")]),
    ("k3_gru_v1", &[("gru", "GRU")]),
    ("tk_gru_v1", &[("gru", "GRU")]),
    ("k3_simplernn", &[("simplernn", "SimpleRNN")]),
    ("tk_simplernn", &[("simplernn", "SimpleRNN")]),
    ("tk_lstm_gru", &[("lstm", "LSTM"), ("gru", "GRU")]),
    // go_backwards: a ReverseV2 of the time axis before the loop (issue 13).
    ("k3_gru_back", &[("gru", "GRU")]),
    ("tk_lstm_back", &[("lstm", "LSTM")]),
    // A fixed batch (1, 2); Keras 3 with batch 1 sums the LSTM's products
    // as BiasAdd(x·W, Squeeze(h·U)).
    ("k3_lstm_b1", &[("lstm", "LSTM")]),
    ("tk_gru_b2", &[("gru", "GRU")]),
    // The functional While form ([`FUNCTIONAL`]), lowered at load.
    ("k3_lstm_while", &[("lstm", "LSTM")]),
    ("tk_gru_while", &[("gru", "GRU")]),
    ("k3_lstm_gru_while", &[("lstm", "LSTM"), ("gru", "GRU")]),
    (
        "k3_bidi_while",
        &[("bi_lstm", "Bidirectional"), ("bi_gru", "Bidirectional")],
    ),
    // The While form frozen with a fixed batch (1, 2).
    ("k3_lstm_while_b1", &[("lstm", "LSTM")]),
    ("tk_gru_while_b2", &[("gru", "GRU")]),
    (
        "k3_bidi_while_b2",
        &[("bi_lstm", "Bidirectional"), ("bi_gru", "Bidirectional")],
    ),
    ("k3_gru_v1_while_b1", &[("gru", "GRU")]),
    // return_state with a state unused (Keras 3 keeps every state's Exit):
    // one row per output.
    (
        "k3_lstm_state_c",
        &[("enc", "LSTM"), ("enc:1", "LSTM"), ("enc:2", "LSTM")],
    ),
    (
        "k3_bidi_state_half",
        &[
            ("bi", "Bidirectional"),
            ("bi:1", "Bidirectional"),
            ("bi:2", "Bidirectional"),
            ("cat", "Concatenate"),
        ],
    ),
];

/// A report's layer rows as (name, class).
fn rows(layers: &[serde_json::Value]) -> Vec<(&str, &str)> {
    layers
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap(),
                l["class_name"].as_str().unwrap(),
            )
        })
        .collect()
}

/// `thaw verify PATH [EXTRA…] --out <temp dir>`: asserts its exit code (the
/// message shows stdout and stderr) and returns the folder (alive while the
/// guard is) and its `report.json`.
fn verify_report(path: &str, extra: &[&str], code: i32) -> (tempfile::TempDir, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let o = thaw()
        .arg("verify")
        .arg(path)
        .args(extra)
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{path}: {text}");
    let report =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    (dir, report)
}

fn model(case: &str) -> String {
    format!("tests/data/{case}.pb")
}

/// A refused case's graph: `k3_lstm_while_resource` is written into a temp
/// dir (removed with the returned guard), the others are `tests/data/`'s.
fn refused(case: &str) -> (tempfile::TempDir, String) {
    use thaw::graph::pb::{DataType, attr_value::Value};
    let dir = tempfile::tempdir().unwrap();
    let Some(base) = case.strip_suffix("_resource") else {
        return (dir, model(case));
    };
    let mut def = thaw::graph::load_graph_def(Path::new(&model(base))).unwrap();
    let w = def
        .node
        .iter_mut()
        .find(|n| n.op == "While")
        .expect("a While node");
    let Some(Value::List(types)) = w.attr.get_mut("T").and_then(|a| a.value.as_mut()) else {
        panic!("While without a type list");
    };
    // The kernel's loop variable (loop counter, max, time, output list, h, c,
    // input list, then the kernel).
    assert_eq!(types.r#type.len(), 10);
    types.r#type[7] = DataType::DtResource as i32;
    let path = dir.path().join(format!("{case}.pb"));
    std::fs::write(&path, prost::Message::encode_to_vec(&def)).unwrap();
    let path = path.to_string_lossy().into_owned();
    (dir, path)
}

#[test]
fn functional_graphs_hold_while_nodes_and_no_lowered_loop() {
    for case in FUNCTIONAL {
        let def = thaw::graph::load_graph_def(Path::new(&model(case))).unwrap();
        let count = |ops: &[&str]| {
            def.node
                .iter()
                .filter(|n| ops.contains(&n.op.as_str()))
                .count()
        };
        let loops = CONVERTED.iter().find(|c| c.0 == *case).unwrap().1;
        let bidi = loops.iter().any(|l| l.1 == "Bidirectional");
        let expect = loops.len() * if bidi { 2 } else { 1 };
        // tf-keras calls the layer's function, whose body holds the loop.
        let whiles = count(&["While", "StatelessWhile"])
            + def
                .library
                .iter()
                .flat_map(|l| &l.function)
                .flat_map(|f| &f.node_def)
                .filter(|n| matches!(n.op.as_str(), "While" | "StatelessWhile"))
                .count();
        assert_eq!(whiles, expect, "{case}");
        assert_eq!(count(&["LoopCond", "Enter", "Merge"]), 0, "{case}");
    }
}

/// The loop lines of a listing: `  <node> (<op>): recurrent layer '<name>' ...`.
fn loop_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.contains("): recurrent layer '"))
        .collect()
}

/// What every loop line must say: the layer, what the loop is, why, and
/// the ops once.
fn check_loop_line(case: &str, line: &str, layer: &str, form: &str) {
    let ctx = format!("{case}: {line}");
    assert!(
        line.contains(&format!("recurrent layer '{layer}'")),
        "{ctx}"
    );
    assert_eq!(form, "While", "{ctx}: only the While form is refused now");
    assert!(line.contains("(While): "), "{ctx}");
    assert!(line.contains("While node '"), "{ctx}");
    assert!(line.contains("body function 'fn_"), "{ctx}");
    assert!(
        line.contains("tract cannot execute TensorFlow control flow"),
        "{ctx}"
    );
    // The cell's ops and the sequence's TensorList ops, each named once.
    for op in [
        "MatMul",
        "TensorListGetItem",
        "TensorListSetItem",
        "TensorListStack",
    ] {
        assert_eq!(line.matches(&format!(" {op}")).count(), 1, "{op}: {ctx}");
    }
}

#[test]
fn inspect_names_each_loop_once_and_lists_the_layers_before_it() {
    for &(case, layers, form) in CASES {
        let (_graph, path) = refused(case);
        let o = thaw().args(["inspect", &path]).output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{case}: {out}{err}");
        assert!(!err.contains("DT_VARIANT"), "{case}: {err}");
        // The one real input, none of the leftover placeholders.
        let inputs: Vec<&str> = out
            .lines()
            .skip_while(|l| *l != "inputs:")
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .collect();
        assert_eq!(inputs, ["  seq [batch, 5, 3] float32"], "{case}");
        // One output: the head, not the loop's leftovers or weight reads.
        let outputs: Vec<&str> = out
            .lines()
            .skip_while(|l| *l != "outputs:")
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .collect();
        assert_eq!(outputs.len(), 1, "{case}: {outputs:?}");
        assert!(outputs[0].contains("head"), "{case}: {outputs:?}");
        // The Dense before the loop is converted.
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with("proj") && l.contains("Dense")),
            "{case}: {out}"
        );
        assert!(
            out.contains(&format!("unsupported ops ({}):", layers.len())),
            "{case}: {out}"
        );
        let lines = loop_lines(&out);
        assert_eq!(lines.len(), layers.len(), "{case}: {out}");
        for (line, layer) in lines.iter().zip(layers) {
            check_loop_line(case, line, layer, form);
        }
    }
}

#[test]
fn convert_refuses_and_writes_nothing() {
    for &(case, layers, form) in CASES {
        let (_graph, path) = refused(case);
        let dir = tempfile::tempdir().unwrap();
        let h5 = dir.path().join("sub").join("m.h5");
        let o = thaw()
            .args(["convert", &path, "-o", h5.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{case}: {err}");
        assert!(
            err.contains(&format!("{} node(s) cannot be converted", layers.len())),
            "{case}: {err}"
        );
        assert!(err.contains("nothing was written"), "{case}: {err}");
        let lines = loop_lines(&err);
        assert_eq!(lines.len(), layers.len(), "{case}: {err}");
        for (line, layer) in lines.iter().zip(layers) {
            check_loop_line(case, line, layer, form);
        }
        assert!(!dir.path().join("sub").exists(), "{case}: created output");
    }
}

#[test]
fn verify_reports_unsupported_with_one_entry_per_loop() {
    for &(case, layers, form) in CASES {
        let (_graph, path) = refused(case);
        let dir = tempfile::tempdir().unwrap();
        let o = thaw()
            .args(["verify", &path, "--out", dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{case}: {out}{err}");
        assert!(out.contains("verdict: UNSUPPORTED"), "{case}: {out}");
        let lines = loop_lines(&out);
        assert_eq!(lines.len(), layers.len(), "{case}: {out}");
        for (line, layer) in lines.iter().zip(layers) {
            check_loop_line(case, line, layer, form);
        }
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
                .unwrap();
        assert_eq!(report["verdict"], "unsupported", "{case}");
        let ops = report["unsupported_ops"].as_array().unwrap();
        assert_eq!(ops.len(), layers.len(), "{case}: {ops:?}");
        for (u, layer) in ops.iter().zip(layers) {
            let expect_op = if form == "While" { "While" } else { "LoopCond" };
            assert_eq!(u["op"], expect_op, "{case}");
            let reason = u["reason"].as_str().unwrap();
            assert!(
                reason.starts_with(&format!("recurrent layer '{layer}'")),
                "{case}: {reason}"
            );
        }
        // The inputs thaw would have fed: the model's one input only.
        let inputs: Vec<&str> = report["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["name"].as_str())
            .collect();
        assert_eq!(inputs, ["seq"], "{case}");
        // No Keras model for an unsupported graph.
        assert!(report["keras_file"].is_null(), "{case}");
        let h5: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                Path::new(&e.file_name())
                    .extension()
                    .is_some_and(|x| x == "h5" || x == "py")
            })
            .collect();
        assert!(h5.is_empty(), "{case}: wrote {h5:?}");
    }
}

#[test]
fn lowered_recurrent_graphs_verify_as_keras_layers_of_their_class() {
    for &(case, loops) in CONVERTED {
        let (_dir, report) = verify_report(&model(case), &[], 0);
        assert_eq!(report["verdict"], "pass", "{case}");
        let layers = report["layers"].as_array().unwrap();
        // proj, the loops in order, head; every one passing.
        let got: Vec<(&str, &str)> = rows(layers)
            .into_iter()
            .filter(|(_, c)| *c != "Dense")
            .collect();
        assert_eq!(got, loops.to_vec(), "{case}: {layers:?}");
        assert_eq!(layers.len(), loops.len() + 2, "{case}: {layers:?}");
        for l in layers {
            assert_eq!(l["status"], "pass", "{case}: {l}");
        }
    }
}

/// `--output-tensor W:k` naming an output of a functional loop `W` (a
/// `NoOp` once loading lowers it): case, `W:k`, the layer, its class. Output
/// 4 is h (the outputs: counter, max, time, list of steps, h, then an LSTM's
/// c, the input list and the weights): a final state asked for is the
/// layer's `return_state` output (`lstm:1`, h), also where the model's LSTM
/// returns sequences (`k3_lstm_gru_while`).
const WHILE_OUTPUTS: &[(&str, &str, &str, &str)] = &[
    ("k3_lstm_while", "model_1/lstm_1/while:4", "lstm", "LSTM"),
    (
        "k3_lstm_gru_while",
        "model_1/lstm_1/while:4",
        "lstm",
        "LSTM",
    ),
    (
        "tk_gru_while",
        "model/gru/PartitionedCall/while:4",
        "gru",
        "GRU",
    ),
    ("k3_lstm_while_b1", "model_1/lstm_1/while:4", "lstm", "LSTM"),
];

#[test]
fn output_tensor_names_a_while_output_and_verifies_the_final_state() {
    for &(case, output, layer, class) in WHILE_OUTPUTS {
        let (_dir, report) = verify_report(&model(case), &["--output-tensor", output], 0);
        let exit = format!("{}/Exit_4:0", output.strip_suffix(":4").unwrap());
        let h = format!("{layer}:1");
        assert_eq!(report["verdict"], "pass", "{case}");
        assert_eq!(report["outputs"][0]["tensor"], exit.as_str(), "{case}");
        assert_eq!(report["outputs"][0]["layer"], h.as_str(), "{case}");
        assert_eq!(report["outputs"].as_array().unwrap().len(), 1, "{case}");
        let layers = report["layers"].as_array().unwrap();
        let got = rows(layers);
        // Only what the output needs: the head after the loop is dropped.
        let mut want = vec![("proj", "Dense"), (layer, class), (h.as_str(), class)];
        let c = format!("{layer}:2");
        if class == "LSTM" {
            want.push((c.as_str(), class));
        }
        assert_eq!(got, want, "{case}");
        for l in layers {
            assert_eq!(l["status"], "pass", "{case}: {l}");
        }
        // The final h: 4 samples x 6 units, not the 5 steps of a sequence.
        assert_eq!(layers[2]["tf_node"], exit.as_str(), "{case}");
        assert_eq!(layers[2]["elements"], 4 * 6, "{case}");
    }
}

#[test]
fn output_tensor_names_the_flag_for_a_while_output_it_cannot_give() {
    let path = model("k3_lstm_while");
    // No output 10: exit 2, the flag, the loop and its outputs named.
    let o = thaw()
        .args([
            "verify",
            &path,
            "--output-tensor",
            "model_1/lstm_1/while:10",
        ])
        .arg("--out")
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "--output-tensor model_1/lstm_1/while:10: loop 'model_1/lstm_1/while' has 10 \
             outputs (model_1/lstm_1/while:0 to model_1/lstm_1/while:9)"
        ),
        "{err}"
    );
    // The LSTM's c (output 5) is its return_state output 2.
    let (_dir, report) = verify_report(&path, &["--output-tensor", "model_1/lstm_1/while:5"], 0);
    assert_eq!(report["outputs"][0]["layer"], "lstm:2");
    assert_eq!(
        report["outputs"][0]["tensor"],
        "model_1/lstm_1/while/Exit_5:0"
    );
    // The step counter (output 0) is no layer's: exit 3, its Exit named.
    let (_dir, report) = verify_report(&path, &["--output-tensor", "model_1/lstm_1/while:0"], 3);
    let ops = report["unsupported_ops"].as_array().unwrap();
    assert!(
        ops.iter().any(|u| u["reason"]
            .as_str()
            .unwrap()
            .contains("is not the output of any converted layer (of a loop's final values")),
        "{ops:?}"
    );
}

/// TF1 `dynamic_rnn` forms thaw refuses (issue 13): case, then what the one
/// `unsupported_ops` entry's reason must say. The graphs are
/// `tests/data/tf1_rnn_<case>.pb` from `harness/gen_tf1.py --refused tests/data`
/// (input (None, 5, 3) → dynamic_rnn → a matmul head); the converted cells are
/// the `fixtures/tf1_rnn_*` (every fixture must verify: tests/cli.rs, baseline.rs).
const TF1_REFUSED: &[(&str, &str)] = &[
    ("peephole", "an LSTMCell with peepholes (use_peepholes"),
    ("num_proj", "an LSTMCell with a projection (num_proj)"),
    ("cell_clip", "op Maximum is not part of a TF1 LSTMCell"),
    ("final_c", "not only h (the final c of an LSTM"),
    ("seq_len", "dynamic_rnn with sequence_length"),
    ("time_major", "time_major=True inputs are not converted"),
    ("initial_state", "an initial_state is not converted"),
    // A MultiRNNCell converts (one layer per cell), but only its last cell's state can leave.
    (
        "multi_lower_state",
        "the states of a MultiRNNCell's lower cells",
    ),
];

#[test]
fn tf1_dynamic_rnn_forms_not_converted_are_refused_by_name() {
    for &(case, why) in TF1_REFUSED {
        let (_dir, report) = verify_report(&model(&format!("tf1_rnn_{case}")), &[], 3);
        let ops = report["unsupported_ops"].as_array().unwrap();
        let reasons: Vec<&str> = ops.iter().filter_map(|u| u["reason"].as_str()).collect();
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("frame 'rnn/while") && r.contains(why)),
            "{case}: '{why}' not in {reasons:?}"
        );
    }
}

/// The committed TF1 cells convert to one Keras layer of their class, named
/// after the cell's variable scope, with the rearranged weights' shapes.
#[test]
fn tf1_dynamic_rnn_cells_verify_as_keras_layers() {
    for (case, name, class, return_sequences) in [
        ("tf1_rnn_lstm", "rnn.lstm_cell", "LSTM", false),
        ("tf1_rnn_lstm_b2", "rnn.lstm_cell", "LSTM", false),
        (
            "tf1_rnn_basic_lstm_seq",
            "rnn.basic_lstm_cell",
            "LSTM",
            true,
        ),
        ("tf1_rnn_gru_seq", "rnn.gru_cell", "GRU", true),
        ("tf1_rnn_gru_b2", "rnn.gru_cell", "GRU", false),
        ("tf1_rnn_basic", "rnn.basic_rnn_cell", "SimpleRNN", false),
        (
            "tf1_rnn_basic_seq_b2",
            "rnn.basic_rnn_cell",
            "SimpleRNN",
            true,
        ),
    ] {
        let (_dir, report) = verify_report(&format!("fixtures/{case}/model.pb"), &[], 0);
        let layers = report["layers"].as_array().unwrap();
        let cell = layers
            .iter()
            .find(|l| l["name"] == name)
            .unwrap_or_else(|| panic!("{case}: no layer {name} in {layers:?}"));
        assert_eq!(cell["class_name"], class, "{case}");
        assert_eq!(cell["status"], "pass", "{case}");
        let tf_node = cell["tf_node"].as_str().unwrap_or_default();
        let expect = if return_sequences {
            "rnn/transpose_1"
        } else {
            "rnn/while/Exit_"
        };
        assert!(tf_node.starts_with(expect), "{case}: {cell}");
    }
}

/// TF1 `bidirectional_dynamic_rnn` (no `sequence_length`): the forward loop
/// and the backward one over `ReverseV2(x, [1])`, their outputs (the backward
/// ones reversed back) or final h concatenated, are ONE Keras
/// `Bidirectional(LSTM|GRU, merge_mode="concat")` standing for both loops and
/// both reverses; every layer passes. The .h5's round trip in both Kerases is
/// `.ci/run`'s.
#[test]
fn tf1_bidirectional_dynamic_rnn_verifies_as_one_keras_bidirectional() {
    // The two outputs used apart (their difference) are Keras's
    // merge_mode=None: the backward one is the layer's output 1.
    for (case, inner, sequences, merge) in [
        ("tf1_bidi_lstm", "LSTM", true, "\"concat\""),
        ("tf1_bidi_gru_b2", "GRU", false, "\"concat\""),
        ("tf1_bidi_gru_apart", "GRU", true, "None"),
    ] {
        let (dir, report) = verify_report(
            &format!("fixtures/{case}/model.pb"),
            &["--formats", "h5,py"],
            0,
        );
        assert_eq!(report["verdict"], "pass", "{case}");
        let layers = report["layers"].as_array().unwrap();
        for l in layers {
            assert_eq!(l["status"], "pass", "{case}: {l}");
        }
        let bidi: Vec<_> = layers
            .iter()
            .filter(|l| l["class_name"] == "Bidirectional")
            .collect();
        let names: Vec<&str> = bidi.iter().filter_map(|l| l["name"].as_str()).collect();
        let want: &[&str] = if merge == "None" {
            &["bidirectional_rnn", "bidirectional_rnn:1"]
        } else {
            &["bidirectional_rnn"]
        };
        assert_eq!(names, want, "{case}: {layers:?}");
        let bidi = bidi[0];
        assert!(
            !layers
                .iter()
                .any(|l| ["LSTM", "GRU"].contains(&l["class_name"].as_str().unwrap())),
            "{case}: a loop left as a layer of its own: {layers:?}"
        );
        // Both loops and both reverses are the one layer's.
        let nodes: Vec<&str> = bidi["tf_nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|n| n.as_str())
            .collect();
        for n in [
            "bidirectional_rnn/fw/fw/transpose",
            "bidirectional_rnn/bw/bw/transpose",
            "bidirectional_rnn/bw/ReverseV2",
        ] {
            assert!(nodes.contains(&n), "{case}: {n} not in {nodes:?}");
        }
        assert_eq!(nodes.contains(&"ReverseV2"), sequences, "{case}: {nodes:?}");
        let py = std::fs::read_to_string(dir.path().join("model.py")).unwrap();
        let line = py
            .lines()
            .find(|l| l.contains("L.Bidirectional("))
            .unwrap_or_else(|| panic!("{case}: no Bidirectional in {py}"));
        for part in [
            format!("layer=L.{inner}("),
            "go_backwards=False".into(),
            format!(
                "return_sequences={}",
                if sequences { "True" } else { "False" }
            ),
            format!("merge_mode={merge}"),
        ] {
            assert!(line.contains(&part), "{case}: '{part}' not in {line}");
        }
    }
}

/// `bidirectional_dynamic_rnn` forms thaw refuses (exit 3, the reason
/// named): with `sequence_length` (`ReverseSequence`, the loops' `Select`s),
/// and forward and backward cells of different classes
/// (`tests/data/tf1_rnn_bidi_*.pb`, `harness/gen_tf1.py --refused`).
#[test]
fn tf1_bidirectional_dynamic_rnn_forms_not_converted_are_refused_by_name() {
    for (case, why) in [
        (
            "bidi_seq_len",
            "frame 'bidirectional_rnn/bw/bw/while/while_context'): tract cannot execute \
             TensorFlow control flow",
        ),
        ("bidi_seq_len", "dynamic_rnn with sequence_length"),
        ("bidi_mixed", "joins two different recurrent layers (Lstm {"),
        ("bidi_mixed", "not a Bidirectional"),
    ] {
        let (_dir, report) = verify_report(&model(&format!("tf1_rnn_{case}")), &[], 3);
        let ops = report["unsupported_ops"].as_array().unwrap();
        let reasons: Vec<&str> = ops.iter().filter_map(|u| u["reason"].as_str()).collect();
        assert!(
            reasons.iter().any(|r| r.contains(why)),
            "{case}: '{why}' not in {reasons:?}"
        );
    }
}

/// A masked loop (`Embedding(mask_zero=True)` → LSTM) that writes zeros at
/// masked steps, `zero_output_for_mask=True`, is only Keras's inside a
/// `Bidirectional` returning sequences: alone it is refused (exit 3) with
/// the reason at the layer's input, not converted to a plain LSTM that would
/// repeat the previous output instead.
#[test]
fn a_lone_loop_that_zeroes_masked_outputs_is_refused() {
    let out = tempfile::tempdir().unwrap();
    let o = thaw()
        .args(["verify", &model("k3_lstm_zero_output_mask"), "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{text}");
    assert!(text.contains("zero_output_for_mask=True"), "{text}");
    assert!(text.contains("model_1/lstm_1/transpose"), "{text}");
}

/// A decoder LSTM started from an encoder's final states
/// (`LSTM(...)(x, initial_state=[h, c])`, `k3_lstm_initial_state`,
/// `tk_lstm_initial_state`) is refused (exit 3) naming the state and what it
/// starts from: converted as a layer from zeros it would only fail on the
/// numbers, with no cause found.
#[test]
fn a_loop_started_from_another_layers_states_is_refused() {
    for case in ["k3_lstm_initial_state", "tk_lstm_initial_state"] {
        let (_dir, report) = verify_report(&model(case), &[], 3);
        let ops = report["unsupported_ops"].as_array().unwrap();
        let reasons: Vec<&str> = ops.iter().filter_map(|u| u["reason"].as_str()).collect();
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("recurrent layer 'decoder'")
                    && r.contains("(Exit), not zeros: a layer called with an initial_state")),
            "{case}: {reasons:?}"
        );
    }
}

/// return_state on a masked loop (`Embedding(mask_zero)` → LSTM): the loop
/// also carries its previous output, which is no state; the final h and c
/// (kept at masked steps) are outputs 1 and 2. tf-keras prunes the unused
/// output list, Keras 3 keeps it: both convert, every row passing.
#[test]
fn masked_loops_return_their_kept_states() {
    for case in ["k3_lstm_masked_state", "tk_lstm_masked_state"] {
        let (_dir, report) = verify_report(&model(case), &[], 0);
        assert_eq!(report["verdict"], "pass", "{case}");
        let layers = report["layers"].as_array().unwrap();
        assert_eq!(
            rows(layers),
            [
                ("embed", "Embedding"),
                ("lstm", "LSTM"),
                ("lstm:1", "LSTM"),
                ("lstm:2", "LSTM"),
                ("cat", "Concatenate"),
                ("head", "Dense")
            ],
            "{case}"
        );
        for l in layers {
            assert_eq!(l["status"], "pass", "{case}: {l}");
        }
    }
}

/// return_state with some states unused, frozen by tf-keras: the graph drops
/// the unused states' Exits, so the layer's other outputs have no tensor:
/// refused (exit 3) saying so, where Keras 3's graphs of the same models
/// convert (`k3_lstm_state_c`, `k3_bidi_state_half` in [`CONVERTED`]).
#[test]
fn states_the_graph_dropped_are_refused_by_name() {
    for (case, why) in [
        (
            "tk_lstm_state_c",
            "a final state is read after the loop, but 1 state(s) carried round the loop",
        ),
        (
            "tk_bidi_state_half",
            "returns states, but the backward direction's final states are not in the graph",
        ),
    ] {
        let (_dir, report) = verify_report(&model(case), &[], 3);
        let ops = report["unsupported_ops"].as_array().unwrap();
        let reasons: Vec<&str> = ops.iter().filter_map(|u| u["reason"].as_str()).collect();
        assert!(
            reasons.iter().any(|r| r.contains(why)),
            "{case}: {reasons:?}"
        );
    }
}

/// TF1 `static_rnn` forms thaw refuses (issue 13): case, then what the one
/// `unsupported_ops` entry, at the `Unpack` of the steps (`unstack`), must
/// say. The graphs are `tests/data/tf1_static_rnn_<case>.pb` from
/// `harness/gen_tf1.py --refused tests/data`; the converted forms are the
/// `fixtures/tf1_static_rnn_*`.
const TF1_STATIC_REFUSED: &[(&str, &str)] = &[
    ("seq_len", "static_rnn with sequence_length"),
    ("initial_state", "an initial_state is not converted"),
    (
        "state_and_outputs",
        "both the stacked outputs and the final state are used",
    ),
    ("time_major", "a time-major list of steps"),
    ("multi", "a MultiRNNCell in static_rnn is not converted"),
];

#[test]
fn tf1_static_rnn_forms_not_converted_are_refused_at_the_unpack() {
    for &(case, why) in TF1_STATIC_REFUSED {
        let (_dir, report) = verify_report(&model(&format!("tf1_static_rnn_{case}")), &[], 3);
        let ops = report["unsupported_ops"].as_array().unwrap();
        let at_unpack: Vec<&serde_json::Value> = ops
            .iter()
            .filter(|u| u["node"] == "unstack" && u["op"] == "Unpack")
            .collect();
        assert_eq!(at_unpack.len(), 1, "{case}: {ops:?}");
        let reason = at_unpack[0]["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("static_rnn") && reason.contains(why),
            "{case}: '{why}' not in {reason}"
        );
    }
}

/// `static_rnn` (one layer for the T copies of the cell) and `MultiRNNCell`
/// (one layer per cell of the loop, the lower ones returning their
/// sequences) verify, every layer passing: case, then each recurrent layer's
/// (name, class, TF tensor it is compared at, whether it returns sequences).
/// A MultiRNNCell's lower cell is compared at its new h stacked over the
/// steps (`…/unroll_steps`, made by the oracle after unrolling), and feeds
/// the next cell's layer.
#[test]
fn tf1_static_rnn_and_multi_rnn_cell_verify_as_keras_layers() {
    /// (layer name, class, TF tensor prefix, returns sequences)
    type Layer = (&'static str, &'static str, &'static str, bool);
    let cases: &[(&str, &[Layer])] = &[
        (
            "tf1_static_rnn_lstm",
            &[("rnn.lstm_cell", "LSTM", "stack:0", true)],
        ),
        (
            "tf1_static_rnn_gru_b2",
            &[("rnn.gru_cell", "GRU", "rnn/gru_cell/add_4:0", false)],
        ),
        (
            "tf1_static_rnn_basic",
            &[(
                "rnn.basic_rnn_cell",
                "SimpleRNN",
                "rnn/basic_rnn_cell/Tanh_4:0",
                false,
            )],
        ),
        (
            "tf1_multi_rnn_lstm",
            &[
                (
                    "rnn.multi_rnn_cell.cell_0.lstm_cell",
                    "LSTM",
                    "rnn/while/rnn/multi_rnn_cell/cell_0/lstm_cell/mul_2/unroll_steps:0",
                    true,
                ),
                (
                    "rnn.multi_rnn_cell.cell_1.lstm_cell",
                    "LSTM",
                    "rnn/while/Exit_",
                    false,
                ),
            ],
        ),
        (
            "tf1_multi_rnn_gru_basic_b2",
            &[
                (
                    "rnn.multi_rnn_cell.cell_0.gru_cell",
                    "GRU",
                    "rnn/while/rnn/multi_rnn_cell/cell_0/gru_cell/add/unroll_steps:0",
                    true,
                ),
                (
                    "rnn.multi_rnn_cell.cell_1.basic_rnn_cell",
                    "SimpleRNN",
                    "rnn/transpose_1:0",
                    true,
                ),
            ],
        ),
    ];
    // 4 samples (verify's default) of 5 steps, 4 units.
    let (samples, steps, units) = (4, 5, 4);
    for &(case, expect) in cases {
        let (_dir, report) = verify_report(&format!("fixtures/{case}/model.pb"), &[], 0);
        let layers = report["layers"].as_array().unwrap();
        for l in layers {
            assert_eq!(l["status"], "pass", "{case}: {l}");
        }
        let recurrent: Vec<&serde_json::Value> = layers
            .iter()
            .filter(|l| ["LSTM", "GRU", "SimpleRNN"].contains(&l["class_name"].as_str().unwrap()))
            .collect();
        assert_eq!(recurrent.len(), expect.len(), "{case}: {layers:?}");
        let mut below = "input";
        for (l, &(name, class, tensor, sequences)) in recurrent.iter().zip(expect) {
            assert_eq!(
                (l["name"].as_str(), l["class_name"].as_str()),
                (Some(name), Some(class)),
                "{case}"
            );
            let tf_node = l["tf_node"].as_str().unwrap_or_default();
            assert!(tf_node.starts_with(tensor), "{case}: {name} at {tf_node}");
            let per_sample = if sequences { steps * units } else { units };
            assert_eq!(l["elements"], samples * per_sample, "{case}: {name}");
            assert_eq!(l["inbound"], serde_json::json!([below]), "{case}: {name}");
            below = name;
        }
    }
}

/// TF1's fused LSTM ops (`src/convert/block_lstm.rs`): contrib's
/// `LSTMBlockFusedCell` (`BlockLSTM`, `BlockLSTMV2`) and `LSTMBlockCell` in a
/// `dynamic_rnn` loop convert to one Keras LSTM named after the op's (or the
/// cell's) scope, its output the tensor of `return_sequences` (h transposed
/// back) or of the last step (contrib's Squeeze of the last Slice, or the
/// loop's final h); every layer passes. Fixtures from `harness/gen_tf1.py`.
#[test]
fn tf1_fused_lstm_ops_verify_as_keras_lstm() {
    for (case, name, tf_node) in [
        ("tf1_block_lstm", "lstm_fused_cell", "transpose:0"),
        ("tf1_block_lstm_b2", "lstm_fused_cell", "last:0"),
        ("tf1_block_lstm_v2", "lstm_fused_cell", "transpose:0"),
        ("tf1_lstm_block_cell", "rnn.lstm_cell", "rnn/while/Exit_"),
    ] {
        let (_dir, report) = verify_report(&format!("fixtures/{case}/model.pb"), &[], 0);
        let layers = report["layers"].as_array().unwrap();
        for l in layers {
            assert_eq!(l["status"], "pass", "{case}: {l}");
        }
        let lstm: Vec<_> = layers
            .iter()
            .filter(|l| l["class_name"] == "LSTM")
            .collect();
        let [lstm] = lstm.as_slice() else {
            panic!("{case}: not one LSTM in {layers:?}");
        };
        assert_eq!(lstm["name"], name, "{case}");
        let got = lstm["tf_node"].as_str().unwrap_or_default();
        assert!(got.starts_with(tf_node), "{case}: {lstm}");
    }
}

/// Fused LSTM forms thaw refuses (exit 3), the reason naming the op:
/// `tests/data/tf1_block_lstm_<case>.pb` from `harness/gen_tf1.py --refused`
/// (input (None, 5, 3) → Transpose → BlockLSTM → h transposed back → head).
#[test]
fn tf1_block_lstm_peepholes_and_cell_clip_are_refused_by_name() {
    for (case, why) in [
        (
            "peephole",
            "BlockLSTM 'lstm_fused_cell/BlockLSTM': use_peephole with non-zero peephole weights",
        ),
        (
            "cell_clip",
            "BlockLSTM 'lstm_fused_cell/BlockLSTM': cell_clip 3 clips the cell state",
        ),
    ] {
        let (_dir, report) = verify_report(&model(&format!("tf1_block_lstm_{case}")), &[], 3);
        let reasons: Vec<&str> = report["unsupported_ops"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|u| u["reason"].as_str())
            .collect();
        assert!(
            reasons.iter().any(|r| r.contains(why)),
            "{case}: '{why}' not in {reasons:?}"
        );
    }
}
