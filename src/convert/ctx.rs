//! The matching context: what rules see (the graph, which tensors already hold
//! a Keras layer's output and their shapes, constants) and the main loop that
//! applies rules and records the layer → tensor map.

use super::naming::Nested;
use super::{
    Conversion, ConvertError, ConvertOptions, LayerTensor, Unsupported, consts, fallback,
    recurrent, rules,
};
use crate::graph::pb::NodeDef;
use crate::graph::{Graph, NodeExt, TensorId, is_pass_through};
use crate::keras::{DType, Input, Layer, LayerKind, Model, Weight, output_name};
use ndarray::ArrayD;
use std::collections::{HashMap, HashSet};

/// A Keras shape: batch first, `None` where unknown.
pub use crate::keras::layers::shape::Shape;

/// One layer a rule wants to emit.
#[derive(Clone, Debug)]
pub struct Emit {
    /// Layer-name hint (usually the TF name scope); made unique on emission.
    pub name: String,
    pub kind: LayerKind,
    pub weights: Vec<Weight>,
    /// TF tensors feeding the layer; each must be a layer's output by the time
    /// this layer is emitted (an earlier `Emit` of the same match counts).
    pub inputs: Vec<TensorId>,
    /// The TF tensor holding the same value as the layer's output.
    pub output: TensorId,
    /// The TF tensors holding the layer's other outputs, in order (a
    /// recurrent layer's final states, see [`LayerKind::outputs`]); empty for
    /// a layer of one output.
    pub more_outputs: Vec<TensorId>,
    /// TF nodes this layer stands for.
    pub nodes: Vec<String>,
}

impl Emit {
    /// A layer that stands for `node` alone: named after its scope, its
    /// output is the node's first output.
    pub fn single(ctx: &Ctx, node: &NodeDef, kind: LayerKind, inputs: Vec<TensorId>) -> Emit {
        Emit {
            name: ctx.layer_name(node),
            kind,
            weights: vec![],
            inputs,
            output: TensorId::new(node.name.clone(), 0),
            more_outputs: Vec::new(),
            nodes: vec![node.name.clone()],
        }
    }
}

/// A successful match: layers in order.
#[derive(Clone, Debug, Default)]
pub struct Match {
    pub layers: Vec<Emit>,
}

impl Match {
    pub fn one(emit: Emit) -> Match {
        Match { layers: vec![emit] }
    }
}

pub struct Ctx<'g> {
    pub graph: &'g Graph,
    /// TF tensor → name of the Keras layer (or input) whose output it is.
    produced: HashMap<TensorId, String>,
    shapes: HashMap<TensorId, Shape>,
    consumed: HashSet<String>,
    outputs: HashSet<TensorId>,
    /// The requested graph outputs, in order (unresolved names).
    sinks: Vec<TensorId>,
    root: Option<String>,
    /// Keras 3 freezes scopes with a uniquifying `_N` suffix (`model_1/conv1_1/…`).
    strip_suffix: bool,
    names: HashSet<String>,
    /// Per name hint, the next suffix to try: every smaller one is taken, so
    /// naming stays linear in the layer count (it was quadratic, issue 15).
    next_suffix: HashMap<String, usize>,
    inputs: Vec<Input>,
    layers: Vec<Layer>,
    tensors: Vec<LayerTensor>,
    unsupported: Vec<Unsupported>,
    model_name: String,
    /// The batch the graph was frozen with ([`Graph::static_batch`]), if fixed.
    batch: Option<usize>,
    /// Layer names for nested TF1 scopes (tf-slim), when the graph has them.
    nested: Option<Nested>,
}

/// Placeholders as Keras inputs, with shapes from the graph or the options.
pub(super) fn input_specs(
    graph: &Graph,
    opts: &ConvertOptions,
) -> Result<Vec<Input>, ConvertError> {
    let placeholders = graph.placeholders();
    if placeholders.is_empty() {
        return Err(ConvertError::NoInputs);
    }
    for name in opts.input_shapes.keys() {
        if graph.node(name).is_none_or(|n| n.op != "Placeholder") {
            let known: Vec<_> = placeholders.iter().map(|p| p.name.as_str()).collect();
            return Err(ConvertError::Input {
                input: name.clone(),
                msg: format!(
                    "no such Placeholder in the graph (inputs: {})",
                    known.join(", ")
                ),
            });
        }
    }
    placeholders
        .into_iter()
        .map(|p| {
            let err = |msg: String| ConvertError::Input {
                input: p.name.clone(),
                msg,
            };
            let dtype = match p.attr_type("dtype").map(|t| t.as_str_name()) {
                Ok("DT_FLOAT") | Err(_) => DType::F32,
                Ok("DT_INT32") | Ok("DT_INT64") => DType::I32,
                Ok(other) => return Err(err(format!("inputs of type {other} are not supported"))),
            };
            let declared = p.attr_shape("shape").ok().flatten();
            let shape: Vec<Option<usize>> = if let Some(s) = opts.input_shapes.get(&p.name) {
                if let Some(dims) = &declared {
                    contradiction(dims, s).map_or(Ok(()), |m| Err(err(m)))?;
                }
                s.iter().map(|&d| Some(d)).collect()
            } else {
                let dims = declared.ok_or_else(|| {
                    err(format!(
                        "the graph does not give its shape; pass --input {}:D1,D2,...",
                        p.name
                    ))
                })?;
                dims.iter().map(|&d| usize::try_from(d).ok()).collect()
            };
            if shape.is_empty() {
                return Err(err("scalar inputs are not supported".into()));
            }
            if let Some(k) = shape.iter().skip(1).position(Option::is_none) {
                return Err(err(format!(
                    "dimension {} is unknown; pass --input {}:D1,D2,... with every dimension",
                    k + 1,
                    p.name
                )));
            }
            Ok(Input {
                name: p.name.clone(),
                // Keras input shapes exclude the batch axis, which stays dynamic.
                shape: shape[1..].to_vec(),
                dtype,
            })
        })
        .collect()
}

/// Why a `--input` shape cannot be the graph's: a different rank, or a
/// dimension the graph fixes (batch included) given another value.
fn contradiction(declared: &[i64], given: &[usize]) -> Option<String> {
    let show = |d: &[i64]| {
        d.iter()
            .map(|&v| {
                if v < 0 {
                    "?".to_string()
                } else {
                    v.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    if declared.len() != given.len() {
        return Some(format!(
            "--input gives {} dimension(s), the graph's shape ({}) has {}",
            given.len(),
            show(declared),
            declared.len()
        ));
    }
    let k = declared
        .iter()
        .zip(given)
        .position(|(&d, &g)| d >= 0 && d as usize != g)?;
    let what = if k == 0 {
        "the batch (dimension 0)".to_string()
    } else {
        format!("dimension {k}")
    };
    Some(format!(
        "--input gives {what} as {}, but the graph fixes it to {} (shape {})",
        given[k],
        declared[k],
        show(declared)
    ))
}

/// The graph outputs: the ones asked for, or every sink.
pub(super) fn output_tensors(
    graph: &Graph,
    opts: &ConvertOptions,
) -> Result<Vec<TensorId>, ConvertError> {
    if opts.outputs.is_empty() {
        let sinks = graph.sinks();
        return if sinks.is_empty() {
            Err(ConvertError::NoOutputs)
        } else {
            Ok(sinks)
        };
    }
    opts.outputs
        .iter()
        .map(|o| {
            let asked = TensorId::parse(o);
            let err = |msg: String| ConvertError::Output {
                output: o.clone(),
                msg,
            };
            // A functional loop lowered at load: its output k is now the
            // k-th Exit (or, loop-invariant, the value that entered).
            let (t, via) = match graph.lowered_loop_output(&asked) {
                Some(Ok(t)) => {
                    let via = format!(
                        "output {} of loop '{}' is now {t}, whose ",
                        asked.slot, asked.node
                    );
                    (t, via)
                }
                Some(Err(n)) => {
                    let last = n.saturating_sub(1);
                    let w = &asked.node;
                    return Err(err(format!(
                        "loop '{w}' has {n} outputs ({w}:0 to {w}:{last})"
                    )));
                }
                None => (asked, String::new()),
            };
            match graph.node(&t.node) {
                None => Err(err(format!("{via}no such node in the graph"))),
                Some(n) if matches!(n.op.as_str(), "Const" | "NoOp") => Err(err(format!(
                    "{via}node is a {}, which carries no model data",
                    n.op
                ))),
                Some(_) => Ok(t),
            }
        })
        .collect()
}

/// The common first scope segment of all scoped nodes, if any (`model` in
/// `model/conv1/Conv2D`).
fn root_scope(graph: &Graph) -> Option<String> {
    let mut root: Option<&str> = None;
    for n in graph.nodes() {
        // `Func/…`: TensorFlow's own inlining of a function call inside a
        // lowered loop (tf-keras LSTM/GRU) names its argument nodes so.
        if matches!(n.op.as_str(), "Const" | "Placeholder" | "NoOp") || n.name.starts_with("Func/")
        {
            continue;
        }
        let Some((first, _)) = n.name.split_once('/') else {
            continue;
        };
        match root {
            None => root = Some(first),
            Some(r) if r == first => {}
            Some(_) => return None,
        }
    }
    root.map(str::to_string)
}

fn strip_numeric_suffix(s: &str) -> &str {
    match s.rsplit_once('_') {
        Some((head, digits))
            if !head.is_empty()
                && !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            head
        }
        _ => s,
    }
}

impl<'g> Ctx<'g> {
    pub(super) fn new(graph: &'g Graph, opts: &ConvertOptions) -> Result<Ctx<'g>, ConvertError> {
        let inputs = input_specs(graph, opts)?;
        let sinks = output_tensors(graph, opts)?;
        let outputs = sinks.iter().map(|t| graph.resolve(t)).collect();
        let root = root_scope(graph);
        let strip_suffix = root
            .as_deref()
            .is_some_and(|r| strip_numeric_suffix(r) != r);
        let model_name = opts.model_name.clone().unwrap_or_else(|| match &root {
            Some(r) if strip_suffix => strip_numeric_suffix(r).to_string(),
            Some(r) => r.clone(),
            None => "model".to_string(),
        });
        let mut ctx = Ctx {
            graph,
            produced: HashMap::new(),
            shapes: HashMap::new(),
            consumed: HashSet::new(),
            outputs,
            sinks,
            root: root.clone(),
            strip_suffix,
            names: HashSet::new(),
            next_suffix: HashMap::new(),
            inputs: Vec::new(),
            layers: Vec::new(),
            tensors: Vec::new(),
            unsupported: Vec::new(),
            model_name,
            batch: graph.static_batch(),
            nested: Nested::detect(graph, root.as_deref()),
        };
        for input in inputs {
            let t = TensorId::new(input.name.clone(), 0);
            ctx.names.insert(input.name.clone());
            ctx.produced.insert(t.clone(), input.name.clone());
            ctx.shapes.insert(
                t.clone(),
                std::iter::once(None)
                    .chain(input.shape.iter().copied())
                    .collect(),
            );
            ctx.tensors.push(LayerTensor {
                layer: input.name.clone(),
                class_name: "InputLayer".into(),
                tensor: t,
                nodes: vec![input.name.clone()],
            });
            ctx.inputs.push(input);
        }
        Ok(ctx)
    }

    // ---- what rules use -------------------------------------------------

    /// The `k`-th data input of `node`, which must be a Keras layer's output.
    pub fn layer_input(&self, node: &NodeDef, k: usize) -> Result<TensorId, String> {
        let t = self.graph.input(node, k).map_err(|e| e.to_string())?;
        if self.produced.contains_key(&t) {
            Ok(t)
        } else {
            Err(format!(
                "input {k} ('{t}') is not the output of a converted layer"
            ))
        }
    }

    /// Whether an earlier match (or a recognised loop) already stands for `node`.
    pub fn is_consumed(&self, node: &str) -> bool {
        self.consumed.contains(node)
    }

    /// Whether `t` is one of the graph outputs (discovered or asked for with
    /// `--output-tensor`, resolved through pass-through nodes).
    pub fn is_graph_output(&self, t: &TensorId) -> bool {
        self.outputs.contains(t)
    }

    /// Whether `t` is a converted layer's output.
    pub fn is_layer_output(&self, t: &TensorId) -> bool {
        self.produced.contains_key(t)
    }

    /// Static Keras shape of a layer output (batch first).
    pub fn shape(&self, t: &TensorId) -> Option<&Shape> {
        self.shapes.get(t)
    }

    /// The `k`-th data input of `node` as an f32 constant (folded through
    /// Identity/Reshape/Squeeze/ExpandDims/Cast and simple arithmetic).
    pub fn const_f32(&self, node: &NodeDef, k: usize) -> Result<ArrayD<f32>, String> {
        let t = self.graph.input(node, k).map_err(|e| e.to_string())?;
        consts::fold_f32(self.graph, &t)
            .ok_or_else(|| format!("input {k} ('{t}') is not a constant"))
    }

    /// The `k`-th data input of `node` as integers (shapes, axes, paddings),
    /// with the batch size as [`consts::BATCH`] where it comes from `Shape`.
    pub fn const_ints(&self, node: &NodeDef, k: usize) -> Result<Vec<i64>, String> {
        let t = self.graph.input(node, k).map_err(|e| e.to_string())?;
        consts::fold_ints(self.graph, &t, &self.shapes)
            .ok_or_else(|| format!("input {k} ('{t}') is not a constant"))
    }

    /// The `k`-th data input of `node` read as a target SHAPE (of a Reshape,
    /// a Slice's size, a StridedSlice's end): as [`Ctx::const_ints`], and when
    /// the graph was frozen with a fixed batch, a leading entry equal to that
    /// batch is the batch axis ([`consts::BATCH`]), as a dynamic-batch graph
    /// would have computed it from `Shape`.
    ///
    /// Only shapes go through here, never axes, multiples or paddings (an
    /// axis list `[1, 2]` is not a shape). With batch 1 a leading 1 is read as
    /// the batch too: for a shape applied to a batch-first tensor the leading
    /// entry IS the batch axis whenever the rest accounts for one sample's
    /// elements, which the rules check (a Reshape's remaining dims must hold
    /// exactly the input's non-batch volume, else it is refused as moving the
    /// batch axis).
    pub fn const_shape(&self, node: &NodeDef, k: usize) -> Result<Vec<i64>, String> {
        let mut dims = self.const_ints(node, k)?;
        if let (Some(b), Some(first)) = (self.batch, dims.first_mut())
            && *first == b as i64
        {
            *first = consts::BATCH;
        }
        Ok(dims)
    }

    /// The batch the graph was frozen with, if its inputs fix one.
    pub fn static_batch(&self) -> Option<usize> {
        self.batch
    }

    /// The single node consuming `t` (through pass-through nodes), when `t`
    /// is not also a graph output; `None` otherwise.
    pub fn sole_consumer(&self, t: &TensorId) -> Option<&'g NodeDef> {
        if self.outputs.contains(t) {
            return None;
        }
        match self.graph.consumers(t).as_slice() {
            [(c, _)] => Some(&self.graph.nodes()[*c]),
            _ => None,
        }
    }

    /// The Keras layer name a node's scope gives (`model/conv1/BiasAdd` →
    /// `conv1`), or a name from its op when it sits at the root; in a graph
    /// with nested scopes (tf-slim) the scope path under the root, see
    /// [`Nested`] (`Mixed_5b.Branch_1.Conv2d_0b_5x5`).
    pub fn layer_name(&self, node: &NodeDef) -> String {
        if let Some(nested) = &self.nested {
            return nested.layer_name(node);
        }
        let mut segs: Vec<&str> = node.name.split('/').collect();
        if let Some(root) = &self.root
            && segs.first() == Some(&root.as_str())
            && segs.len() > 1
        {
            segs.remove(0);
        }
        if segs.len() >= 2 {
            let s = segs[0];
            if self.strip_suffix {
                strip_numeric_suffix(s)
            } else {
                s
            }
            .to_string()
        } else {
            node.op.to_lowercase()
        }
    }

    /// The name-scope prefix (with its trailing `/`) of the Keras layer a
    /// node belongs to, as written in the graph: `model/lstm/` for
    /// `model/lstm/while/LoopCond` (root scope `model`), `model_1/lstm_1/` in
    /// Keras 3; `None` for a node outside any layer scope.
    pub fn layer_scope(&self, node: &NodeDef) -> Option<String> {
        let segs: Vec<&str> = node.name.split('/').collect();
        let skip = usize::from(
            self.root
                .as_deref()
                .is_some_and(|r| segs.first() == Some(&r) && segs.len() > 1),
        );
        (segs.len() >= skip + 2).then(|| format!("{}/", segs[..=skip].join("/")))
    }

    /// Whether two nodes sit in the same layer scope (a fused activation does;
    /// a separate Activation layer does not).
    pub fn same_layer(&self, a: &NodeDef, b: &NodeDef) -> bool {
        if let Some(nested) = &self.nested {
            return nested.same_layer(a, b);
        }
        a.name.contains('/') && b.name.contains('/') && self.layer_name(a) == self.layer_name(b)
    }

    // ---- the main loop -----------------------------------------------------

    /// Nodes that only compute constants or shapes (skipped; rules read them).
    fn constant_like(&self, memo: &mut HashMap<usize, bool>, idx: usize) -> bool {
        if let Some(&v) = memo.get(&idx) {
            return v;
        }
        // Provisional answer while this node's inputs are looked at: a node on
        // a loop's cycle (Merge <- NextIteration <- ... <- Merge) reaches
        // itself, and is not a constant.
        memo.insert(idx, false);
        let node = &self.graph.nodes()[idx];
        let v = match node.op.as_str() {
            "Const" | "Shape" => true,
            "Placeholder" => false,
            _ => {
                let ins = node.data_inputs();
                !ins.is_empty()
                    && ins.iter().all(|i| {
                        let t = TensorId::parse(i);
                        self.graph
                            .index_of(&t.node)
                            .is_some_and(|j| self.constant_like(memo, j))
                    })
            }
        };
        memo.insert(idx, v);
        v
    }

    pub(super) fn run(mut self) -> Result<Conversion, ConvertError> {
        let registry = rules::registry();
        let mut memo = HashMap::new();
        let graph = self.graph;
        // Loops (recurrent layers) first: one entry per loop, covering its nodes.
        for r in recurrent::refuse_loops(&self) {
            self.consumed.extend(r.nodes);
            self.unsupported.extend(r.unsupported);
        }
        for &idx in graph.topo_order() {
            let node = &graph.nodes()[idx];
            if self.consumed.contains(&node.name)
                || matches!(node.op.as_str(), "Placeholder" | "NoOp")
                || is_pass_through(&node.op)
                || self.constant_like(&mut memo, idx)
            {
                continue;
            }
            // Downstream of a node we could not convert: that node is the one
            // to report, not the ones it blocks.
            let blocked = node.data_inputs().into_iter().find(|i| {
                let t = graph.resolve(&TensorId::parse(i));
                let producer_const = graph
                    .index_of(&t.node)
                    .is_some_and(|j| self.constant_like(&mut memo, j));
                !producer_const && !self.produced.contains_key(&t)
            });
            if let Some(input) = blocked {
                log::debug!(
                    "skipping {} ({}): input {input} was not converted",
                    node.name,
                    node.op
                );
                continue;
            }
            let candidates: Vec<_> = registry.iter().filter(|r| r.op == node.op).collect();
            let mut reasons = Vec::new();
            if candidates.is_empty() {
                reasons.push(
                    super::cond::refusal(graph, node)
                        .unwrap_or_else(|| format!("no conversion rule for op {}", node.op)),
                );
            }
            let mut matched = None;
            for entry in candidates {
                let rule_name = entry.name;
                match (entry.rule)(&self, node) {
                    Ok(m) => {
                        log::debug!("rule {rule_name} matched at {} ({})", node.name, node.op);
                        matched = Some(m);
                        break;
                    }
                    Err(why) => {
                        log::debug!(
                            "keeping {} ({}): rule {rule_name} refused: {why}",
                            node.name,
                            node.op
                        );
                        reasons.push(format!("{rule_name}: {why}"));
                    }
                }
            }
            // No rule: a fallback custom layer, when thaw knows the op.
            let matched = matched.or_else(|| match fallback::fallback(&self, node) {
                Ok(m) => Some(m),
                Err(why) => {
                    log::debug!("no fallback for {} ({}): {why}", node.name, node.op);
                    if fallback::spec(&node.op).is_some() {
                        reasons.push(format!("fallback layer: {why}"));
                    }
                    None
                }
            });
            match matched {
                Some(m) => {
                    if let Err(why) = self.apply(m) {
                        self.unsupported.push(Unsupported {
                            node: node.name.clone(),
                            op: node.op.clone(),
                            reason: why,
                        });
                    }
                }
                None => self.unsupported.push(Unsupported {
                    node: node.name.clone(),
                    op: node.op.clone(),
                    reason: reasons.join("; "),
                }),
            }
        }
        let mut outputs = Vec::new();
        if self.unsupported.is_empty() {
            for sink in self.sinks.clone() {
                let t = graph.resolve(&sink);
                match self.produced.get(&t) {
                    Some(layer) => outputs.push(layer.clone()),
                    None => self.unsupported.push(Unsupported {
                        node: sink.node.clone(),
                        op: graph
                            .node(&sink.node)
                            .map(|n| n.op.clone())
                            .unwrap_or_default(),
                        reason: format!(
                            "graph output '{sink}' is not the output of any converted layer{}",
                            if graph.node(&t.node).is_some_and(|n| n.op == "Exit") {
                                " (of a loop's final values, only a recurrent layer's \
                                 states are one, its return_state outputs: not its list of \
                                 steps or the counters)"
                            } else {
                                ""
                            }
                        ),
                    }),
                }
            }
        }
        let mut model = Model {
            name: self.model_name,
            inputs: self.inputs,
            layers: self.layers,
            outputs,
        };
        let mut tensors = self.tensors;
        if self.unsupported.is_empty() {
            // Only what the outputs need: a branch of the graph past the
            // requested outputs (`--output-tensor` of an inner tensor, a
            // recurrent layer asked for its state only) is no part of the
            // Keras model (Keras drops such layers; writing one is refused).
            let needed = needed_layers(&model);
            model.layers.retain(|l| needed.contains(l.name.as_str()));
            let kept: HashSet<String> = model
                .inputs
                .iter()
                .map(|i| i.name.clone())
                .chain(model.layer_outputs())
                .collect();
            tensors.retain(|t| kept.contains(&t.layer));
        }
        Ok(Conversion {
            model,
            tensors,
            unsupported: self.unsupported,
        })
    }

    fn unique_name(&mut self, hint: &str) -> String {
        let base = if hint.is_empty() { "layer" } else { hint };
        let mut name = base.to_string();
        let mut k = self.next_suffix.get(base).copied().unwrap_or(1);
        while self.names.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.next_suffix.insert(base.to_string(), k);
        self.names.insert(name.clone());
        name
    }

    /// Emits a match's layers, checking every input is available and computing
    /// output shapes (which also validates the configs against the inputs).
    fn apply(&mut self, m: Match) -> Result<(), String> {
        // Validate the whole match before emitting anything.
        let mut pending_outputs: HashSet<&TensorId> = HashSet::new();
        for e in &m.layers {
            for i in &e.inputs {
                if !self.produced.contains_key(i) && !pending_outputs.contains(i) {
                    return Err(format!(
                        "layer input '{i}' is not the output of a converted layer"
                    ));
                }
            }
            pending_outputs.insert(&e.output);
            pending_outputs.extend(&e.more_outputs);
        }
        for e in m.layers {
            let in_shapes: Vec<Shape> = e
                .inputs
                .iter()
                .map(|i| self.shapes.get(i).cloned().unwrap_or_default())
                .collect();
            let mut out_shapes =
                crate::keras::layers::output_shapes(&e.kind, &e.weights, &in_shapes)
                    .map_err(|why| format!("{} '{}': {why}", e.kind.class_name(), e.name))?
                    .into_iter();
            let out_shape = out_shapes.next().unwrap_or_default();
            if e.more_outputs.len() + 1 != e.kind.outputs() {
                return Err(format!(
                    "{} '{}': {} TF tensors for the layer's {} outputs",
                    e.kind.class_name(),
                    e.name,
                    e.more_outputs.len() + 1,
                    e.kind.outputs()
                ));
            }
            let name = self.unique_name(&e.name);
            log::debug!(
                "layer {name} ({}): output {}, {} TF node(s)",
                e.kind.class_name(),
                e.output,
                e.nodes.len()
            );
            let inbound = e.inputs.iter().map(|i| self.produced[i].clone()).collect();
            for n in &e.nodes {
                self.consumed.insert(n.clone());
            }
            self.produced.insert(e.output.clone(), name.clone());
            self.shapes.insert(e.output.clone(), out_shape);
            self.tensors.push(LayerTensor {
                layer: name.clone(),
                class_name: e.kind.class_name().to_string(),
                tensor: e.output,
                nodes: e.nodes,
            });
            // The other outputs: named `name:k`, checked like the first (the
            // layer's TF nodes are listed once, with the first).
            for (k, (t, shape)) in e.more_outputs.into_iter().zip(out_shapes).enumerate() {
                let out = output_name(&name, k + 1);
                self.produced.insert(t.clone(), out.clone());
                self.shapes.insert(t.clone(), shape);
                self.tensors.push(LayerTensor {
                    layer: out,
                    class_name: e.kind.class_name().to_string(),
                    tensor: t,
                    nodes: Vec::new(),
                });
            }
            self.layers.push(Layer {
                name,
                kind: e.kind,
                inbound,
                weights: e.weights,
            });
        }
        Ok(())
    }
}

/// The names of the layers some output of `model` depends on (linear in
/// the layers: a graph may have 100k of them).
fn needed_layers(model: &Model) -> HashSet<String> {
    // Every layer output's name -> its layer.
    let by_output: HashMap<String, &Layer> = model
        .layers
        .iter()
        .flat_map(|l| (0..l.kind.outputs()).map(move |k| (output_name(&l.name, k), l)))
        .collect();
    let mut needed = HashSet::new();
    let mut todo: Vec<&str> = model.outputs.iter().map(String::as_str).collect();
    while let Some(tensor) = todo.pop() {
        let Some(layer) = by_output.get(tensor) else {
            continue; // an input
        };
        if needed.insert(layer.name.clone()) {
            todo.extend(layer.inbound.iter().map(String::as_str));
        }
    }
    needed
}

/// A Keras weight.
pub fn weight(name: &str, value: ArrayD<f32>) -> Weight {
    Weight {
        name: name.to_string(),
        value,
    }
}

#[cfg(test)]
#[path = "ctx_tests.rs"]
mod tests;
