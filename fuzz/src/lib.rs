//! The bodies of thaw's fuzz targets (issue 15), one function per target.
//!
//! `fuzz/fuzz_targets/<name>.rs` wraps each in libFuzzer's `fuzz_target!`
//! (`cargo +nightly fuzz run <name>`, see README.md "Fuzzing"), and
//! `tests/fuzz_smoke.rs` compiles this same file into the ordinary test build
//! and runs every target over the seed corpus (the committed fixtures) plus
//! seeded mutations of it: the smoke run of `.ci/run`, without a nightly build.
//!
//! Each target asserts a property, not only "no panic" (a failed assertion is a
//! panic, which libFuzzer reports as a crash with the input that caused it):
//! - [`load`]: a GraphDef that decodes re-encodes to bytes that decode to the
//!   same GraphDef; an indexed graph's topological order is a permutation of
//!   its nodes in which every data input comes before its consumer;
//! - [`convert`]: load → convert never panics; a complete conversion that
//!   validates is written as `.h5` and read back identically;
//! - [`interp`]: on what conversion accepts, under a small element budget, the
//!   interpreter's value of every layer has the shape the IR's shape rules give;
//! - [`keras_h5`], [`keras_archive`]: a Keras file the reader accepts and that
//!   validates is written again and reads back identically; [`keras_config`]:
//!   the same for a `model_config` plus weight shapes, without libhdf5's reader;
//! - [`oracle`]: preparing a graph in tract answers an error or a plan with one
//!   output per requested tensor, and a prepared plan runs on zeros to arrays of
//!   that count.
//!
//! Every target first lowers the memory budget ([`BUDGET_BYTES`]), so a shape
//! read from the input is refused by thaw's own check long before libFuzzer's
//! `-rss_limit_mb`/`-malloc_limit_mb` would call it an out-of-memory crash;
//! for [`oracle`] that includes every tensor tract would hold while it
//! prepares the graph (`src/oracle/size.rs`).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use ndarray::ArrayD;
use prost::Message;
use thaw::convert::ConvertOptions;
use thaw::graph::{Graph, TensorId, is_pass_through, parse_graph_def, pb};
use thaw::keras::Model;
use thaw::keras::layers::shape::Shape;

/// Largest tensor any target lets thaw allocate (per tensor, as `--max-memory`).
pub const BUDGET_BYTES: u64 = 16 << 20;

/// Elements of all the interpreter's / oracle's inputs together, at most.
const MAX_INPUT_ELEMENTS: usize = 1 << 16;

fn budget() {
    thaw::budget::set_max_memory(BUDGET_BYTES);
}

/// Splits the first byte off as a selector (`None` on empty input).
fn split(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(b, rest)| (*b, rest))
}

/// Target 1, GraphDef loading and indexing. The first byte's low bit picks
/// binary protobuf (0) or text format (1); the rest is the file.
pub fn load(data: &[u8]) {
    budget();
    let Some((sel, bytes)) = split(data) else {
        return;
    };
    let text = sel & 1 == 1;
    let Ok(def) = parse_graph_def(bytes, text, "fuzz.pb") else {
        return;
    };
    // Property: what decoded re-encodes to a GraphDef equal to it (NaN
    // values compared by bits: NaN != NaN would fail any graph holding one).
    let again = parse_graph_def(&def.encode_to_vec(), false, "fuzz-again.pb")
        .expect("a decoded GraphDef re-encodes to bytes that decode");
    let (mut a, mut b) = (def.clone(), again);
    nan_free::graph(&mut a);
    nan_free::graph(&mut b);
    assert_eq!(a, b, "GraphDef changed through encode/decode");
    let Ok(graph) = Graph::new(def) else {
        return;
    };
    check_index(&graph);
}

/// Every float of a GraphDef that is NaN replaced by a finite value its bits
/// determine, so that `==` compares NaNs by their bits (found by the first
/// `load` campaign: a mutated float became NaN and the round-trip property
/// failed on `NaN != NaN`, though the bytes round-tripped exactly).
mod nan_free {
    use thaw::graph::pb;
    use thaw::graph::pb::attr_value::Value;

    fn f32s(v: &mut [f32]) {
        for x in v.iter_mut().filter(|x| x.is_nan()) {
            // A finite stand-in that keeps the payload: the exponent cleared.
            *x = f32::from_bits(x.to_bits() & !0x7f80_0000);
        }
    }

    fn f64s(v: &mut [f64]) {
        for x in v.iter_mut().filter(|x| x.is_nan()) {
            *x = f64::from_bits(x.to_bits() & !0x7ff0_0000_0000_0000);
        }
    }

    fn tensor(t: &mut pb::TensorProto) {
        f32s(&mut t.float_val);
        f32s(&mut t.scomplex_val);
        f64s(&mut t.double_val);
        f64s(&mut t.dcomplex_val);
        for v in &mut t.variant_val {
            v.tensors.iter_mut().for_each(tensor);
        }
    }

    fn attr(a: &mut pb::AttrValue) {
        match &mut a.value {
            Some(Value::F(f)) => f32s(std::slice::from_mut(f)),
            Some(Value::Tensor(t)) => tensor(t),
            Some(Value::Func(f)) => f.attr.values_mut().for_each(attr),
            Some(Value::List(l)) => {
                f32s(&mut l.f);
                l.tensor.iter_mut().for_each(tensor);
                for f in &mut l.func {
                    f.attr.values_mut().for_each(attr);
                }
            }
            _ => {}
        }
    }

    fn node(n: &mut pb::NodeDef) {
        n.attr.values_mut().for_each(attr);
    }

    pub fn graph(g: &mut pb::GraphDef) {
        g.node.iter_mut().for_each(node);
        for f in g.library.iter_mut().flat_map(|l| l.function.iter_mut()) {
            f.attr.values_mut().for_each(attr);
            f.node_def.iter_mut().for_each(node);
            for d in f.signature.iter_mut().flat_map(|s| s.attr.iter_mut()) {
                d.default_value.iter_mut().for_each(attr);
                d.allowed_values.iter_mut().for_each(attr);
            }
        }
    }
}

/// The graph index's invariants: `topo_order` is a permutation of the nodes,
/// every data input of a node (but a loop's back edge into `Merge`) comes
/// before it, every node resolves by name, and `consumers` lists exactly the
/// data edges.
fn check_index(graph: &Graph) {
    let nodes = graph.nodes();
    let order = graph.topo_order();
    assert_eq!(order.len(), nodes.len(), "topological order misses nodes");
    let mut pos = vec![usize::MAX; nodes.len()];
    for (p, &i) in order.iter().enumerate() {
        assert_eq!(
            pos[i],
            usize::MAX,
            "node {i} twice in the topological order"
        );
        pos[i] = p;
    }
    // (producer, slot) -> how many data inputs of non-pass-through nodes read
    // it (consumers() looks through Identity-like nodes, so it may list more).
    let mut reads: HashMap<(usize, usize), usize> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        assert_eq!(
            graph.index_of(&n.name),
            Some(i),
            "node '{}' not indexed",
            n.name
        );
        for input in &n.input {
            let t = TensorId::parse(input);
            let p = graph
                .index_of(&t.node)
                .unwrap_or_else(|| panic!("input '{input}' of '{}' accepted dangling", n.name));
            if nodes[p].op != "NextIteration" {
                assert!(
                    pos[p] < pos[i],
                    "'{}' comes after its consumer '{}' in topological order",
                    nodes[p].name,
                    n.name
                );
            }
            if !input.starts_with('^') && !is_pass_through(&n.op) {
                *reads.entry((p, t.slot)).or_default() += 1;
                assert!(
                    graph.consumers(&t).iter().any(|&(c, _)| c == i),
                    "'{}' is not listed as a consumer of '{input}'",
                    n.name
                );
            }
        }
    }
    for ((p, slot), n) in reads {
        let t = TensorId::new(nodes[p].name.clone(), slot);
        assert!(
            graph.consumers(&t).len() >= n,
            "consumers('{t}') lists fewer edges than the inputs hold"
        );
    }
}

/// Loads `bytes` as a binary GraphDef and converts it (default options).
fn converted(bytes: &[u8]) -> Option<thaw::convert::Conversion> {
    let def = parse_graph_def(bytes, false, "fuzz.pb").ok()?;
    let graph = Graph::new(def).ok()?;
    thaw::convert::convert(&graph, &ConvertOptions::default()).ok()
}

/// Whether `model` is complete and valid (what `thaw convert` would write).
fn writable(conv: &thaw::convert::Conversion) -> bool {
    conv.unsupported.is_empty() && thaw::keras::config::validate(&conv.model).is_ok()
}

/// Target 2, conversion of a loaded graph (binary `.pb` bytes).
pub fn convert(data: &[u8]) {
    budget();
    let Some(conv) = converted(data) else { return };
    if !writable(&conv) {
        return;
    }
    // Property: what thaw writes, it reads back as the same model.
    round_trip_h5(&conv.model);
}

/// Writes `model` as `.h5` into a temporary folder and asserts it reads back equal.
fn round_trip_h5(model: &Model) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("m.h5");
    thaw::keras::h5::write(&path, model).expect("a validated model writes as .h5");
    let back = thaw::keras::h5::read(&path).expect("thaw reads the .h5 it wrote");
    if !same(&back, model) {
        panic!(
            "the .h5 read back differs from the model written: {}",
            difference(model, &back)
        );
    }
}

/// Whether two models are equal, weights compared bit for bit (a NaN weight
/// is not `==` to itself, yet is read back exactly).
fn same(a: &Model, b: &Model) -> bool {
    let bits = |m: &Model| -> Vec<Vec<u32>> {
        m.layers
            .iter()
            .flat_map(|l| {
                l.weights
                    .iter()
                    .map(|w| w.value.iter().map(|x| x.to_bits()).collect())
            })
            .collect()
    };
    let strip = |m: &Model| {
        let mut m = m.clone();
        for l in &mut m.layers {
            for w in &mut l.weights {
                w.value = ArrayD::zeros(w.value.shape());
            }
        }
        m
    };
    bits(a) == bits(b) && strip(a) == strip(b)
}

/// The first difference between two models, in words.
fn difference(a: &Model, b: &Model) -> String {
    if a.name != b.name || a.inputs != b.inputs || a.outputs != b.outputs {
        return format!(
            "name/inputs/outputs {:?} {:?} {:?} vs {:?} {:?} {:?}",
            a.name, a.inputs, a.outputs, b.name, b.inputs, b.outputs
        );
    }
    if a.layers.len() != b.layers.len() {
        return format!("{} layers vs {}", a.layers.len(), b.layers.len());
    }
    for (x, y) in a.layers.iter().zip(&b.layers) {
        if x.name != y.name || x.inbound != y.inbound {
            return format!(
                "layer {} {:?} vs {} {:?}",
                x.name, x.inbound, y.name, y.inbound
            );
        }
        if x.kind != y.kind {
            return format!("layer {}: {:?} vs {:?}", x.name, x.kind, y.kind);
        }
        for (v, w) in x.weights.iter().zip(&y.weights) {
            if v.name != w.name
                || v.value.shape() != w.value.shape()
                || v.value
                    .iter()
                    .zip(w.value.iter())
                    .any(|(p, q)| p.to_bits() != q.to_bits())
            {
                return format!(
                    "layer {} weight {} ({:?}) vs {} ({:?})",
                    x.name,
                    v.name,
                    v.value.shape(),
                    w.name,
                    w.value.shape()
                );
            }
        }
        if x.weights.len() != y.weights.len() {
            return format!(
                "layer {}: {} weights vs {}",
                x.name,
                x.weights.len(),
                y.weights.len()
            );
        }
    }
    "no difference found field by field".into()
}

/// Writes `model` as `.keras` into a temporary folder and asserts it reads back equal.
fn round_trip_archive(model: &Model) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("m.keras");
    thaw::keras::archive::write(&path, model).expect("a validated model writes as .keras");
    let back = thaw::keras::archive::read(&path).expect("thaw reads the .keras it wrote");
    if !same(&back, model) {
        panic!(
            "the .keras read back differs from the model written: {}",
            difference(model, &back)
        );
    }
}

/// Target 3, the interpreter on what conversion accepts (binary `.pb`
/// bytes), under the element budget: every layer's value has the shape the
/// IR's shape rules give (unknown dimensions match anything).
pub fn interp(data: &[u8]) {
    budget();
    let Some(conv) = converted(data) else { return };
    if !writable(&conv) {
        return;
    }
    run_and_check_shapes(&conv.model);
}

fn run_and_check_shapes(model: &Model) {
    // Small inputs only: the interpreter's cost grows with them.
    let known: Option<usize> = model
        .inputs
        .iter()
        .map(|i| i.shape.iter().try_fold(1usize, |a, d| a.checked_mul((*d)?)))
        .try_fold(0usize, |a, n| a.checked_add(n?));
    if known.is_none_or(|n| n > MAX_INPUT_ELEMENTS) {
        return;
    }
    let Ok(inputs) = thaw::verify::random_inputs(model, 1, 0, [-1.0, 1.0]) else {
        return;
    };
    let Ok(run) = thaw::interp::run_all(model, &inputs) else {
        return;
    };
    let mut shapes: HashMap<&str, Shape> = model
        .inputs
        .iter()
        .map(|i| {
            let s = std::iter::once(None)
                .chain(i.shape.iter().copied())
                .collect();
            (i.name.as_str(), s)
        })
        .collect();
    for layer in &model.layers {
        let ins: Option<Vec<Shape>> = layer
            .inbound
            .iter()
            .map(|n| shapes.get(n.as_str()).cloned())
            .collect();
        let Some(ins) = ins else { continue };
        let Ok(want) = thaw::keras::layers::output_shape(&layer.kind, &layer.weights, &ins) else {
            continue;
        };
        if let Some(got) = run.values.get(&layer.name) {
            assert!(
                fits(got, &want),
                "layer '{}' ({}): interpreter gave shape {:?}, the IR says {:?}",
                layer.name,
                layer.kind.class_name(),
                got.shape(),
                want
            );
        }
        shapes.insert(&layer.name, want);
    }
}

/// Whether `a`'s shape is `want` (`None` matches any size; the batch is 1).
fn fits(a: &ArrayD<f32>, want: &Shape) -> bool {
    a.ndim() == want.len()
        && a.shape()
            .iter()
            .zip(want)
            .all(|(g, w)| w.is_none_or(|w| w == *g))
}

/// Writes `bytes` to a temporary file with extension `ext`; the folder lives
/// as long as the returned guard.
fn temp_file(bytes: &[u8], ext: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join(format!("fuzz.{ext}"));
    let mut f = std::fs::File::create(&path).expect("a temporary file");
    f.write_all(bytes).expect("writing the temporary file");
    (dir, path)
}

/// Target 4a, Keras `.h5` reading (`verify --keras`): the bytes are the file.
pub fn keras_h5(data: &[u8]) {
    budget();
    let (_dir, path) = temp_file(data, "h5");
    keras_file(&path, thaw::keras::h5::read);
}

/// Target 4b, Keras 3 `.keras` archive reading: the bytes are the file.
pub fn keras_archive(data: &[u8]) {
    budget();
    let (_dir, path) = temp_file(data, "keras");
    keras_file(&path, thaw::keras::archive::read);
}

fn keras_file(path: &Path, read: fn(&Path) -> Result<Model, thaw::keras::KerasError>) {
    let Ok(model) = read(path) else { return };
    keras_model(&model);
}

/// The Keras targets' property on a model a reader accepted: if it
/// validates, thaw's own writers write it and read it back unchanged.
pub fn keras_model(model: &Model) {
    if thaw::keras::config::validate(model).is_err() {
        return;
    }
    // Property: an accepted model survives thaw's own writers unchanged.
    round_trip_h5(model);
    round_trip_archive(model);
}

/// Target 4c, the readers' own logic without libhdf5: a `model_config`
/// (the JSON both readers parse), a NUL byte, then a JSON object of weight
/// shapes by layer name (`{"conv": [[3, 3, 1, 8], [8]]}`, in file order;
/// no NUL: no weights). Each layer's weights are made with those shapes
/// (distinct values, within [`MAX_INPUT_ELEMENTS`]) and bound as the readers
/// bind them ([`thaw::keras::config::bind_weights`]); the property is
/// [`keras_model`]'s. libhdf5 itself is what [`keras_h5`] fuzzes: on damaged
/// files it loops or crashes, which keeps that target at tens of executions a
/// second; this one reaches the config reader, the weight checks, validation
/// and both writers at thousands.
pub fn keras_config(data: &[u8]) {
    budget();
    if let Some(model) = keras_config_model(data) {
        keras_model(&model);
    }
}

/// The model a [`keras_config`] input describes, weights bound (`None` where
/// a reader would refuse it).
pub fn keras_config_model(data: &[u8]) -> Option<Model> {
    let (config, shapes) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"{}"[..]),
    };
    let json = serde_json::from_slice::<serde_json::Value>(config).ok()?;
    let table = serde_json::from_slice::<HashMap<String, Vec<Vec<usize>>>>(shapes).ok()?;
    let mut model = thaw::keras::config::model_from_config(&json).ok()?;
    let mut total = 0usize;
    for layer in &mut model.layers {
        if thaw::keras::config::weight_names(&layer.kind).is_empty() {
            continue;
        }
        let shapes = table.get(&layer.name)?;
        let mut values = Vec::with_capacity(shapes.len());
        for shape in shapes {
            let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
            total = total.checked_add(n).filter(|&t| t <= MAX_INPUT_ELEMENTS)?;
            let start = total - n;
            let flat = (start..total)
                .map(|i| (i % 97) as f32 * 0.125 - 6.0)
                .collect();
            values.push(ArrayD::from_shape_vec(shape.clone(), flat).ok()?);
        }
        layer.weights = thaw::keras::config::bind_weights(&layer.kind, values).ok()?;
    }
    Some(model)
}

/// A [`keras_config`] input for `model`: the `model_config` thaw writes for
/// it and its weights' shapes (seeds from the Keras files of the corpus).
pub fn keras_config_input(model: &Model) -> Vec<u8> {
    let shapes: HashMap<&str, Vec<&[usize]>> = model
        .layers
        .iter()
        .filter(|l| !l.weights.is_empty())
        .map(|l| {
            (
                l.name.as_str(),
                l.weights.iter().map(|w| w.value.shape()).collect(),
            )
        })
        .collect();
    let mut out = thaw::keras::config::model_config(model)
        .to_string()
        .into_bytes();
    out.push(0);
    out.extend(serde_json::to_vec(&shapes).expect("shapes serialise"));
    out
}

/// Target 5, the oracle's graph preparation (binary `.pb` bytes): every
/// placeholder of static shape (unknown dimensions as 1) as an input, every
/// sink as an output, prepared by tract; a plan runs on zeros. libFuzzer's
/// `-timeout` is the time budget (README.md "Fuzzing").
pub fn oracle(data: &[u8]) {
    budget();
    let Ok(def) = parse_graph_def(data, false, "fuzz.pb") else {
        return;
    };
    let Ok(graph) = Graph::new(def) else { return };
    let mut inputs = Vec::new();
    let mut total = 0usize;
    for p in graph.placeholders() {
        let Some(shape) = placeholder_shape(p) else {
            return;
        };
        let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        total = match n.and_then(|n| total.checked_add(n)) {
            Some(t) if t <= MAX_INPUT_ELEMENTS => t,
            _ => return,
        };
        inputs.push(thaw::oracle::OracleInput {
            name: p.name.clone(),
            shape,
        });
    }
    let outputs: Vec<String> = graph.sinks().iter().map(|t| t.to_string()).collect();
    if outputs.is_empty() {
        return;
    }
    let Ok(oracle) = thaw::oracle::Oracle::from_bytes(data, "fuzz.pb", &inputs, &outputs) else {
        return;
    };
    let zeros: Vec<ArrayD<f32>> = inputs
        .iter()
        .map(|i| ArrayD::zeros(i.shape.clone()))
        .collect();
    if let Ok(values) = oracle.run(&zeros) {
        assert_eq!(
            values.len(),
            outputs.len(),
            "the oracle answered another number of outputs than asked for"
        );
    }
}

/// A placeholder's static shape (`None` when unknown rank or negative dims
/// other than -1, which is taken as 1).
fn placeholder_shape(node: &pb::NodeDef) -> Option<Vec<usize>> {
    let shape = node.attr.get("shape")?;
    let Some(pb::attr_value::Value::Shape(s)) = &shape.value else {
        return None;
    };
    if s.unknown_rank || s.dim.len() > 6 {
        return None;
    }
    s.dim
        .iter()
        .map(|d| match d.size {
            -1 => Some(1),
            n => usize::try_from(n).ok(),
        })
        .collect()
}
