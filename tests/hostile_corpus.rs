//! The hostile corpus (issue 15): damaged and adversarial graphs and Keras
//! files, each run through the `thaw` binary (`inspect`, `convert`, `verify`,
//! `verify --keras`) with the exit code it must give and a piece of the one
//! clear message it must print. None may panic, hang, die by a signal or
//! exit 4. Inputs are generated here by small builders, never committed.
//!
//! Each case is named after the defect it pins (`pad_2_pow_30_panicked`, ...)
//! or the hostile shape it covers.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use thaw::graph::pb;

/// A run longer than this is a hang. Every case is small or refused early;
/// the 100,000-node graphs take a few seconds in the debug build.
const HANG: Duration = Duration::from_secs(60);

const FIXTURE: &str = "fixtures/k3_pool_flatten_dense/model.pb";
const HANDMADE: &str = "tests/data/handmade_mobilenet_v1_tail.h5";
const HANDMADE_GRAPH: &str = "fixtures/tf1_mobilenet_v1_tail/model.pb";

/// What one run must end with.
struct Expect {
    code: i32,
    /// A piece of the message (stderr), case-sensitive.
    says: &'static str,
}

fn ex(code: i32, says: &'static str) -> Expect {
    Expect { code, says }
}

/// Runs thaw with `args` in `dir`, killing it after [`HANG`].
fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String, Duration) {
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_thaw"))
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The message may be on either stream (exit 3 lists the nodes on stdout).
    let mut stderr = child.stderr.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if t.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let err = reader.join().unwrap() + &out_reader.join().unwrap();
    let code = status.and_then(|s| s.code());
    let code = match (status, code) {
        (None, _) => Some(-1000), // hang
        (Some(_), Some(c)) => Some(c),
        (Some(_), None) => None, // signal
    };
    (code, err, t.elapsed())
}

/// A case: the file it writes, and which commands expect what.
struct Case {
    name: &'static str,
    file: &'static str,
    bytes: Vec<u8>,
    inspect: Option<Expect>,
    convert: Option<Expect>,
    verify: Option<Expect>,
    /// Extra arguments for every command (e.g. `--input`).
    extra: Vec<&'static str>,
}

impl Case {
    fn new(name: &'static str, file: &'static str, bytes: Vec<u8>) -> Case {
        Case {
            name,
            file,
            bytes,
            inspect: None,
            convert: None,
            verify: None,
            extra: vec![],
        }
    }
    /// The same expectation for inspect, convert and verify.
    fn all(mut self, code: i32, says: &'static str) -> Case {
        self.inspect = Some(ex(code, says));
        self.convert = Some(ex(code, says));
        self.verify = Some(ex(code, says));
        self
    }
    fn inspect(mut self, code: i32, says: &'static str) -> Case {
        self.inspect = Some(ex(code, says));
        self
    }
    fn convert(mut self, code: i32, says: &'static str) -> Case {
        self.convert = Some(ex(code, says));
        self
    }
    fn verify(mut self, code: i32, says: &'static str) -> Case {
        self.verify = Some(ex(code, says));
        self
    }
    fn args(mut self, a: &[&'static str]) -> Case {
        self.extra.extend_from_slice(a);
        self
    }
}

// ---- graph builders -------------------------------------------------------

fn pbtxt_to_pb(text: &str) -> Vec<u8> {
    use prost::Message;
    thaw::graph::parse_graph_def(text.as_bytes(), true, "case.pbtxt")
        .unwrap()
        .encode_to_vec()
}

fn shape_text(dims: &[i64]) -> String {
    dims.iter()
        .map(|d| format!("dim {{ size: {d} }} "))
        .collect()
}

fn placeholder(name: &str, dims: &[i64]) -> String {
    format!(
        r#"node {{ name: "{name}" op: "Placeholder" attr {{ key: "dtype" value {{ type: DT_FLOAT }} }} attr {{ key: "shape" value {{ shape {{ {} }} }} }} }}
"#,
        shape_text(dims)
    )
}

fn float_const(name: &str, dims: &[i64], vals: &[f32]) -> String {
    let v: String = vals.iter().map(|v| format!("float_val: {v} ")).collect();
    format!(
        r#"node {{ name: "{name}" op: "Const" attr {{ key: "dtype" value {{ type: DT_FLOAT }} }} attr {{ key: "value" value {{ tensor {{ dtype: DT_FLOAT tensor_shape {{ {} }} {v} }} }} }} }}
"#,
        shape_text(dims)
    )
}

fn int_const(name: &str, dims: &[i64], vals: &[i64]) -> String {
    let v: String = vals.iter().map(|v| format!("int_val: {v} ")).collect();
    format!(
        r#"node {{ name: "{name}" op: "Const" attr {{ key: "dtype" value {{ type: DT_INT32 }} }} attr {{ key: "value" value {{ tensor {{ dtype: DT_INT32 tensor_shape {{ {} }} {v} }} }} }} }}
"#,
        shape_text(dims)
    )
}

fn op(name: &str, op: &str, inputs: &[&str], extra: &str) -> String {
    let extra = if op == "MatMul" {
        format!(
            r#"{extra} attr {{ key: "transpose_a" value {{ b: false }} }} attr {{ key: "transpose_b" value {{ b: false }} }}"#
        )
    } else {
        extra.to_string()
    };
    let ins: String = inputs.iter().map(|i| format!("input: \"{i}\" ")).collect();
    format!(
        r#"node {{ name: "{name}" op: "{op}" {ins} attr {{ key: "T" value {{ type: DT_FLOAT }} }} {extra} }}
"#
    )
}

fn graph(parts: &[String]) -> Vec<u8> {
    pbtxt_to_pb(&parts.concat())
}

fn node(name: &str, op: &str, inputs: &[String]) -> pb::NodeDef {
    let mut n = pb::NodeDef {
        name: name.into(),
        op: op.into(),
        input: inputs.to_vec(),
        ..Default::default()
    };
    n.attr.insert(
        "T".into(),
        pb::AttrValue {
            value: Some(pb::attr_value::Value::Type(pb::DataType::DtFloat as i32)),
        },
    );
    n
}

fn placeholder_node(name: &str, dims: &[i64]) -> pb::NodeDef {
    let text = placeholder(name, dims);
    thaw::graph::parse_graph_def(text.as_bytes(), true, "p.pbtxt")
        .unwrap()
        .node
        .remove(0)
}

fn encode(nodes: Vec<pb::NodeDef>, library: Option<pb::FunctionDefLibrary>) -> Vec<u8> {
    use prost::Message;
    pb::GraphDef {
        node: nodes,
        library,
        ..Default::default()
    }
    .encode_to_vec()
}

/// `x -> op -> op -> ... ` of `n` nodes.
fn chain(n: usize, kind: &str) -> Vec<u8> {
    let mut nodes = vec![placeholder_node("x", &[1, 4])];
    let mut prev = "x".to_string();
    for i in 0..n {
        let name = format!("n{i}");
        nodes.push(node(&name, kind, &[prev]));
        prev = name;
    }
    encode(nodes, None)
}

fn add_n(n: usize) -> Vec<u8> {
    let mut nodes = vec![placeholder_node("x", &[1, 4])];
    let inputs: Vec<String> = (0..n).map(|_| "x".to_string()).collect();
    let mut s = node("sum", "AddN", &inputs);
    s.attr.insert(
        "N".into(),
        pb::AttrValue {
            value: Some(pb::attr_value::Value::I(n as i64)),
        },
    );
    nodes.push(s);
    encode(nodes, None)
}

/// `depth` functions, each calling the next twice: 2^depth copies inlined.
fn doubling_functions(depth: usize) -> Vec<u8> {
    use pb::attr_value::Value;
    let call = |name: &str, f: &str, input: &str| {
        let mut n = node(name, "PartitionedCall", &[input.to_string()]);
        n.attr.insert(
            "f".into(),
            pb::AttrValue {
                value: Some(Value::Func(pb::NameAttrList {
                    name: f.into(),
                    ..Default::default()
                })),
            },
        );
        n
    };
    let arg = |n: &str| pb::op_def::ArgDef {
        name: n.to_string(),
        r#type: pb::DataType::DtFloat as i32,
        ..Default::default()
    };
    let mut fns = vec![];
    for d in 0..depth {
        let body = if d + 1 == depth {
            vec![node("r", "Relu", &["x".to_string()])]
        } else {
            let next = format!("f{}", d + 1);
            let mut a = call("a", &next, "x");
            let b = call("b", &next, "a:output:0");
            a.name = "a".into();
            vec![a, b]
        };
        let ret = if d + 1 == depth {
            "r:y:0"
        } else {
            "b:output:0"
        };
        fns.push(pb::FunctionDef {
            signature: Some(pb::OpDef {
                name: format!("f{d}"),
                input_arg: vec![arg("x")],
                output_arg: vec![arg("y")],
                ..Default::default()
            }),
            node_def: body,
            ret: [("y".to_string(), ret.to_string())].into(),
            ..Default::default()
        });
    }
    let nodes = vec![placeholder_node("x", &[1, 4]), call("top", "f0", "x")];
    encode(
        nodes,
        Some(pb::FunctionDefLibrary {
            function: fns,
            ..Default::default()
        }),
    )
}

/// `tests/data/k3_lstm_while.pb` (one functional `While` loop), edited.
fn while_graph(edit: impl FnOnce(&mut pb::GraphDef)) -> Vec<u8> {
    use prost::Message;
    let mut def = thaw::graph::load_graph_def(Path::new("tests/data/k3_lstm_while.pb")).unwrap();
    edit(&mut def);
    def.encode_to_vec()
}

/// The library function the loop names as `which` (`cond` or `body`).
fn loop_function<'a>(def: &'a mut pb::GraphDef, which: &str) -> &'a mut pb::FunctionDef {
    let name = def
        .node
        .iter()
        .find(|n| n.op == "While")
        .and_then(|w| match w.attr.get(which)?.value.as_ref()? {
            pb::attr_value::Value::Func(f) => Some(f.name.clone()),
            _ => None,
        })
        .unwrap();
    def.library
        .as_mut()
        .unwrap()
        .function
        .iter_mut()
        .find(|f| f.signature.as_ref().is_some_and(|s| s.name == name))
        .unwrap()
}

fn fixture() -> Vec<u8> {
    std::fs::read(FIXTURE).unwrap()
}

fn relu_graph() -> Vec<String> {
    vec![placeholder("x", &[1, 4]), op("y", "Relu", &["x"], "")]
}

fn dense_graph(weights: &[f32]) -> Vec<u8> {
    graph(&[
        placeholder("x", &[1, 2]),
        float_const("w", &[2, 2], weights),
        op("y", "MatMul", &["x", "w"], ""),
    ])
}

fn conv(strides: &[i64], kernel: &[i64], input: &[i64]) -> Vec<u8> {
    let s: String = strides.iter().map(|s| format!("i: {s} ")).collect();
    graph(&[
        placeholder("x", input),
        float_const("k", kernel, &[0.5]),
        op(
            "y",
            "Conv2D",
            &["x", "k"],
            &format!(
                r#"attr {{ key: "strides" value {{ list {{ {s} }} }} }} attr {{ key: "padding" value {{ s: "VALID" }} }} attr {{ key: "data_format" value {{ s: "NHWC" }} }}"#
            ),
        ),
    ])
}

fn pad(paddings: &[i64]) -> Vec<u8> {
    graph(&[
        placeholder("x", &[1, 4]),
        int_const("p", &[2, 2], paddings),
        op(
            "y",
            "Pad",
            &["x", "p"],
            r#"attr { key: "Tpaddings" value { type: DT_INT32 } }"#,
        ),
    ])
}

fn cases() -> Vec<Case> {
    let bad = "not a TensorFlow GraphDef";
    let mut c = vec![
        // ---- files that are not graphs
        Case::new("empty_file", "m.pb", vec![]).all(2, bad),
        Case::new("truncated_pb", "m.pb", {
            let f = fixture();
            f[..f.len() / 2].to_vec()
        })
        .all(2, bad),
        Case::new("bytes_flipped_in_header", "m.pb", {
            let mut f = fixture();
            for b in &mut f[..16] {
                *b ^= 0xff;
            }
            f
        })
        .all(2, bad),
        Case::new("zero_filled_4_mib", "m.pb", vec![0; 4 << 20]).all(2, bad),
        Case::new("random_garbage", "m.pb", {
            (0..10_000u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect()
        })
        .all(2, bad),
        Case::new(
            "text_renamed_pb",
            "m.pb",
            relu_graph().concat().into_bytes(),
        )
        .all(2, ".pbtxt"),
        Case::new(
            "broken_pbtxt",
            "m.pbtxt",
            b"node { name: \"x\" op: \"Placeholder\" attr { key: ".to_vec(),
        )
        .all(2, bad),
        Case::new("pbtxt_not_utf8", "m.pbtxt", vec![0xff, 0xfe, 0x80, 0x81]).all(2, "UTF-8"),
        Case::new("deeply_nested_pbtxt_overflowed_stack", "m.pbtxt", {
            let depth = 200_000;
            let mut s = "node { name: \"x\" op: \"Const\" attr { key: \"value\" value { list { func { name: \"f\" attr { key: \"a\" value ".to_string();
            for _ in 0..depth {
                s.push_str("{ list { func { name: \"f\" attr { key: \"a\" value ");
            }
            s.into_bytes()
        })
        .all(2, bad),
        // ---- graph structure
        Case::new(
            "cycle",
            "m.pb",
            graph(&[
                placeholder("x", &[1, 4]),
                op("a", "Add", &["x", "b"], ""),
                op("b", "Relu", &["a"], ""),
            ]),
        )
        .all(2, "cycle"),
        Case::new(
            "missing_input",
            "m.pb",
            graph(&[placeholder("x", &[1, 4]), op("y", "Relu", &["nowhere"], "")]),
        )
        .all(2, "nowhere"),
        Case::new(
            "out_of_range_port",
            "m.pb",
            graph(&[placeholder("x", &[1, 4]), op("y", "Relu", &["x:7"], "")]),
        )
        .inspect(3, "")
        .convert(3, "y (")
        .verify(3, "y ("),
        Case::new(
            "duplicate_names",
            "m.pb",
            graph(&[
                placeholder("x", &[1, 4]),
                op("y", "Relu", &["x"], ""),
                op("y", "Tanh", &["x"], ""),
            ]),
        )
        .all(2, "duplicate node name 'y'"),
        Case::new(
            "no_inputs",
            "m.pb",
            graph(&[float_const("c", &[1, 4], &[1.0]), op("y", "Relu", &["c"], "")]),
        )
        .convert(2, "no Placeholder input")
        .verify(2, "no Placeholder input"),
        Case::new("no_outputs", "m.pb", graph(&[placeholder("x", &[1, 4])]))
            .convert(2, "no output")
            .verify(2, "no output"),
        Case::new("unknown_op", "m.pb", graph(&[placeholder("x", &[1, 4]), op("y", "FrobnicateV9", &["x"], "")]))
            .convert(3, "FrobnicateV9")
            .verify(3, "FrobnicateV9"),
        // verify of this chain takes ~50 s (debug build), too slow for every CI run.
        Case::new("identity_chain_100k_overflowed_stack", "m.pb", chain(100_000, "Identity"))
            .inspect(0, "")
            .convert(0, ""),
        // convert (writing 100,000 layers) still takes over a minute: not yet pinned.
        Case::new("relu_chain_100k_was_quadratic", "m.pb", chain(100_000, "Relu"))
            .inspect(0, ""),
        Case::new("add_n_100k_inputs_hung", "m.pb", add_n(100_000))
            .inspect(0, "")
            .convert(0, ""),
        Case::new("nested_functions_doubling_exhausted_memory", "m.pb", doubling_functions(30))
            .all(2, "more than 1000000 nodes"),
        // ---- functional loops (lowered at load: src/graph/lower_while.rs)
        Case::new(
            "while_body_function_missing",
            "m.pb",
            while_graph(|d| {
                let body = loop_function(d, "body");
                body.signature.as_mut().unwrap().name = "renamed".into();
            }),
        )
        .all(2, "'model_1/lstm_1/while' (While): its body function 'fn_0' is not in the graph's function library"),
        Case::new(
            "while_body_takes_one_argument_less",
            "m.pb",
            while_graph(|d| {
                loop_function(d, "body").signature.as_mut().unwrap().input_arg.pop();
            }),
        )
        .all(2, "takes 9 arguments and returns 10 values; the loop has 10 variables"),
        Case::new(
            "while_cond_returns_nothing",
            "m.pb",
            while_graph(|d| {
                let cond = loop_function(d, "cond");
                cond.signature.as_mut().unwrap().output_arg.clear();
                cond.ret.clear();
            }),
        )
        .all(2, "its cond function 'fn_1' takes 10 arguments and returns 0 values"),
        // ---- constants
        Case::new(
            "const_shape_lies_about_bytes",
            "m.pb",
            graph(&[
                placeholder("x", &[1, 2]),
                r#"node { name: "w" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } } attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 2 } dim { size: 2 } } tensor_content: "\000\000\200?\000\000\200?" } } } }
"#.to_string(),
                op("y", "MatMul", &["x", "w"], ""),
            ]),
        )
        .convert(2, "'w'")
        .verify(2, "'w'"),
        Case::new("const_negative_dim", "m.pb", dense_graph_dims(&[2, -3]))
            .convert(2, "'w'")
            .verify(2, "'w'"),
        Case::new("const_dims_2_pow_40", "m.pb", dense_graph_dims(&[1 << 40, 1 << 40]))
            .convert(2, "'w'")
            .verify(2, "'w'"),
        Case::new("splat_const_16_gib_in_oracle", "m.pb", graph(&[
            placeholder("x", &[1, 2]),
            float_const("big", &[1 << 16, 1 << 16], &[1.0]),
            op("y", "Add", &["x", "big"], ""),
        ]))
        .convert(2, "'big'")
        .verify(2, "'big'"),
        Case::new("string_const", "m.pb", graph(&[
            placeholder("x", &[1, 2]),
            r#"node { name: "w" op: "Const" attr { key: "dtype" value { type: DT_STRING } } attr { key: "value" value { tensor { dtype: DT_STRING tensor_shape { dim { size: 2 } dim { size: 2 } } string_val: "a" } } } }
"#.to_string(),
            op("y", "MatMul", &["x", "w"], ""),
        ]))
        .convert(3, "w:0")
        .verify(3, "w:0"),
        Case::new("complex_const", "m.pb", graph(&[
            placeholder("x", &[1, 2]),
            r#"node { name: "w" op: "Const" attr { key: "dtype" value { type: DT_COMPLEX64 } } attr { key: "value" value { tensor { dtype: DT_COMPLEX64 tensor_shape { dim { size: 2 } dim { size: 2 } } scomplex_val: 1 scomplex_val: 0 } } } }
"#.to_string(),
            op("y", "MatMul", &["x", "w"], ""),
        ]))
        .convert(3, "w:0")
        .verify(3, "w:0"),
        Case::new("resource_const", "m.pb", graph(&[
            placeholder("x", &[1, 2]),
            r#"node { name: "w" op: "Const" attr { key: "dtype" value { type: DT_RESOURCE } } attr { key: "value" value { tensor { dtype: DT_RESOURCE tensor_shape { } } } } }
"#.to_string(),
            op("y", "MatMul", &["x", "w"], ""),
        ]))
        .convert(3, "w:0")
        .verify(3, "w:0"),
        // Both sides compute the same NaN/Inf: the conversion is faithful.
        Case::new("nan_inf_weights", "m.pb", dense_graph(&[f32::NAN, f32::INFINITY, 1.0, -1.0]))
            .convert(0, "")
            .verify(0, ""),
        Case::new("bad_dtype_number", "m.pb", graph(&[
            r#"node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: 9999 } } attr { key: "shape" value { shape { dim { size: 1 } dim { size: 2 } } } } }
"#.to_string(),
            op("y", "Relu", &["x"], ""),
        ]))
        .convert(2, "not a TensorFlow type")
        .verify(2, "not a TensorFlow type"),
        // An attribute with no value at all (AttrValue without its oneof):
        // a damaged graph, not an unsupported one (found by the oracle fuzz
        // target, tests/fuzz_smoke.rs fuzz_oracle_attr_without_value).
        Case::new("attr_without_value", "m.pb", graph(&[
            placeholder("x", &[1, 2]),
            r#"node { name: "y" op: "Relu" input: "x" attr { key: "T" value { } } }
"#.to_string(),
        ]))
        .convert(2, "'y' (Relu): attribute 'T' has no value")
        .verify(2, "'y' (Relu): attribute 'T' has no value"),
        // ---- placeholders
        Case::new("giant_placeholder_48_tb", "m.pb", graph(&[
            placeholder("x", &[1, 1_000_000, 1_000_000, 3]),
            op("y", "Relu", &["x"], ""),
        ]))
        .convert(0, "")
        .verify(2, "'x'"),
        Case::new("placeholder_dims_2_pow_40", "m.pb", graph(&[
            placeholder("x", &[1, 1 << 40]),
            op("y", "Relu", &["x"], ""),
        ]))
        .verify(2, "'x'"),
        Case::new("placeholder_unknown_rank", "m.pb", graph(&[
            r#"node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } attr { key: "shape" value { shape { unknown_rank: true } } } }
"#.to_string(),
            op("y", "Relu", &["x"], ""),
        ]))
        .convert(2, "--input")
        .verify(2, "--input"),
        Case::new("placeholder_negative_dim", "m.pb", graph(&[
            placeholder("x", &[1, -7]),
            op("y", "Relu", &["x"], ""),
        ]))
        .convert(2, "'x'")
        .verify(2, "'x'"),
        Case::new("input_flag_2_pow_40", "m.pb", graph(&relu_graph()))
            .args(&["--input", "x:1,1099511627776"])
            .verify(2, "'x'"),
        // ---- operands
        Case::new("conv_zero_strides", "m.pb", conv(&[1, 0, 0, 1], &[3, 3, 1, 1], &[1, 8, 8, 1]))
            .convert(3, "y (")
            .verify(3, "y ("),
        Case::new("conv_kernel_larger_than_input", "m.pb", conv(&[1, 1, 1, 1], &[9, 9, 1, 1], &[1, 4, 4, 1]))
            .convert(3, "y (")
            .verify(3, "y ("),
        Case::new("reshape_wrong_size", "m.pb", graph(&[
            placeholder("x", &[1, 4]),
            int_const("s", &[2], &[1, 5]),
            op("y", "Reshape", &["x", "s"], r#"attr { key: "Tshape" value { type: DT_INT32 } }"#),
        ]))
        .convert(3, "y (")
        .verify(3, "y ("),
        Case::new("matmul_three_inputs", "m.pb", graph(&[
            placeholder("x", &[1, 2]),
            float_const("w", &[2, 2], &[1.0]),
            op("y", "MatMul", &["x", "w", "w"], ""),
        ]))
        .convert(2, "MatMul takes 2 data input(s), the node has 3")
        .verify(2, "MatMul takes 2 data input(s), the node has 3"),
        Case::new("matmul_wrong_inner_dim", "m.pb", graph(&[
            placeholder("x", &[1, 3]),
            float_const("w", &[2, 2], &[1.0]),
            op("y", "MatMul", &["x", "w"], ""),
        ]))
        .convert(3, "y (")
        .verify(3, "y ("),
        Case::new("pad_2_pow_30_panicked", "m.pb", pad(&[0, 0, 1 << 30, 1 << 30]))
            .convert(3, "y (")
            .verify(3, "y ("),
        Case::new("pad_negative", "m.pb", pad(&[0, 0, -3, -3]))
            .convert(3, "y (")
            .verify(3, "y ("),
    ];
    c.extend(keras_cases());
    c
}

fn dense_graph_dims(dims: &[i64]) -> Vec<u8> {
    graph(&[
        placeholder("x", &[1, 2]),
        float_const("w", dims, &[1.0]),
        op("y", "MatMul", &["x", "w"], ""),
    ])
}

/// Damaged Keras files for `verify --keras` (against the handmade model's graph).
fn keras_cases() -> Vec<Case> {
    let handmade = std::fs::read(HANDMADE).unwrap();
    let k = |name, file, bytes: Vec<u8>, code, says| {
        let mut c = Case::new(name, file, bytes);
        c.verify = Some(ex(code, says));
        c
    };
    vec![
        k("keras_empty_file", "k.h5", vec![], 2, "k.h5"),
        k(
            "keras_not_hdf5",
            "k.h5",
            b"this is not an HDF5 file at all".to_vec(),
            2,
            "k.h5",
        ),
        k(
            "keras_truncated_h5",
            "k.h5",
            handmade[..handmade.len() / 3].to_vec(),
            2,
            "k.h5",
        ),
        // The reading child's address-space limit (src/keras/isolate.rs):
        // 1 GiB + 4 x the file + --max-memory (256 MiB here), and weights
        // each under the budget that together are over it.
        {
            let mut c = k(
                "keras_weights_past_the_reading_childs_memory",
                "k.h5",
                weights_past_child_memory(),
                2,
                "needed more than",
            );
            c.extra = vec!["--max-memory", "256M"];
            c
        },
        k(
            "keras_zip_not_keras",
            "k.keras",
            vec![b'P', b'K', 3, 4, 0, 0, 0],
            2,
            "k.keras",
        ),
    ]
}

/// The handmade model with its first weighted layer's group replaced by
/// eight 200 MB datasets that were never written (chunked: the file stays a
/// few KB; reading them fills 1.6 GB with the fill value).
fn weights_past_child_memory() -> Vec<u8> {
    use hdf5::types::VarLenUnicode;
    use hdf5_metno as hdf5;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.h5");
    let model = thaw::keras::h5::read(Path::new(HANDMADE)).unwrap();
    thaw::keras::h5::write(&path, &model).unwrap();
    let layer = &model
        .layers
        .iter()
        .find(|l| !l.weights.is_empty())
        .unwrap()
        .name;
    {
        let f = hdf5::File::open_rw(&path).unwrap();
        let mw = f.group("model_weights").unwrap();
        mw.unlink(layer).unwrap();
        let g = mw.create_group(layer).unwrap();
        let names: Vec<VarLenUnicode> = (0..8)
            .map(|i| format!("{layer}/w{i}:0").parse().unwrap())
            .collect();
        g.new_attr::<VarLenUnicode>()
            .shape(names.len())
            .create("weight_names")
            .unwrap()
            .write(&names)
            .unwrap();
        for i in 0..8 {
            g.new_dataset::<f32>()
                .chunk(1 << 20)
                .shape(50_000_000)
                .create(format!("{layer}/w{i}:0").as_str())
                .unwrap();
        }
    }
    std::fs::read(&path).unwrap()
}

#[test]
fn hostile_corpus_gives_documented_codes() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::env::current_dir().unwrap();
    let only = std::env::var("THAW_HOSTILE_ONLY").ok();
    let mut failures = vec![];
    let mut runs = 0;
    for case in cases() {
        if only.as_deref().is_some_and(|o| !case.name.contains(o)) {
            continue;
        }
        let cdir = dir.path().join(case.name);
        std::fs::create_dir_all(&cdir).unwrap();
        std::fs::write(cdir.join(case.file), &case.bytes).unwrap();
        let keras = case.file.starts_with("k.");
        let model: PathBuf = if keras {
            root.join(HANDMADE_GRAPH)
        } else {
            PathBuf::from(case.file)
        };
        let model = model.to_str().unwrap().to_string();
        let mut cmds: Vec<(&str, Vec<String>, &Expect)> = vec![];
        if let Some(e) = &case.inspect {
            cmds.push(("inspect", vec!["inspect".into(), model.clone()], e));
        }
        if let Some(e) = &case.convert {
            cmds.push((
                "convert",
                vec![
                    "convert".into(),
                    model.clone(),
                    "-o".into(),
                    "out.h5".into(),
                ],
                e,
            ));
        }
        if let Some(e) = &case.verify {
            let mut a = vec![
                "verify".into(),
                model.clone(),
                "--samples".into(),
                "1".into(),
                "--out".into(),
                "report".into(),
            ];
            if keras {
                a.push("--keras".into());
                a.push(case.file.into());
            }
            cmds.push(("verify", a, e));
        }
        for (what, mut args, e) in cmds {
            args.extend(case.extra.iter().map(|s| s.to_string()));
            let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
            let (code, err, took) = run(&cdir, &args);
            runs += 1;
            let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            eprintln!(
                "{:50} {what:8} {code:?} {:.1}s {first}",
                case.name,
                took.as_secs_f64()
            );
            let ok = code == Some(e.code) && err.contains(e.says) && !err.contains("panicked");
            if !ok {
                failures.push(format!(
                    "{} / {what}: expected exit {} saying '{}', got {code:?} in {:.1}s: {}",
                    case.name,
                    e.code,
                    e.says,
                    took.as_secs_f64(),
                    err.trim()
                ));
            }
            // A refused conversion leaves nothing under the final name.
            if code.is_some_and(|c| c >= 2) && what == "convert" {
                assert!(
                    !cdir.join("out.h5").exists(),
                    "{}: half-written out.h5",
                    case.name
                );
            }
        }
    }
    assert!(only.is_some() || runs >= 40, "only {runs} runs");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
