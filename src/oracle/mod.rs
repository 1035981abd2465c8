//! The oracle: runs the ORIGINAL frozen graph with tract-tensorflow and exposes the
//! value of any tensor of it.
//!
//! It is one of thaw's two independent witnesses, so it never imports `keras`,
//! `interp` or `convert`. tract itself is used as published: for TensorFlow ops that
//! tract lacks or mishandles, thaw inserts its own builders into tract's public op
//! register (see [`ops`], and [`thaw_ops`] for the list).
//!
//! Loading (`Oracle::load` / `Oracle::from_bytes`):
//! 1. decode the GraphDef (function calls inlined and functional `While` loops
//!    lowered by `graph::inline_calls`, as tract runs none), refuse node attributes tract's readers would panic on
//!    ([`precheck`]: no value, a dtype number that is no TensorFlow type, a
//!    negative stride; [`OracleError::DamagedAttr`]), check the requested
//!    inputs and outputs name real nodes and output slots;
//! 2. list every op in the cone of the outputs that no builder knows, and refuse them
//!    all together ([`OracleError::UnsupportedOps`]);
//! 3. parse with tract + thaw's builders, set inputs (concrete shapes) and outputs,
//!    drop the nodes the outputs do not need, type the model with every tensor
//!    whose shape tract knows checked against the memory budget before tract
//!    may fold it ([`size`]; over it: [`OracleError::Budget`]);
//! 4. optimise it (`into_optimized`, much faster to run, with thaw's pass lists:
//!    [`passes`]); if an optimiser pass fails on a graph, prepare it again from
//!    the file to the decluttered, then to the plain typed model, and log why at
//!    debug level (keeping the typed model aside for that would keep every
//!    unoptimised constant alive beside the optimised ones); the optimised
//!    model's tensors are checked against the memory budget again.
//!
//! Not handled yet: graphs with control flow (`Switch`/`Merge`/loops), string or
//! resource tensors, and inputs whose shape is not known at load time.

mod fold;
mod guard;
pub mod ops;
mod precheck;
mod size;
mod unroll;

use std::path::Path;
use std::sync::Arc;

use ndarray::ArrayD;
use tract_tensorflow::prelude::*;
use tract_tensorflow::tfpb::tensorflow::{GraphDef, NodeDef};
use tract_tensorflow::tract_core::optim::{Optimizer, OptimizerSession, TypedPass};

/// One graph input: the Placeholder node's name and the concrete shape (batch
/// included) the oracle is loaded for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OracleInput {
    pub name: String,
    pub shape: Vec<usize>,
}

/// How far tract's optimiser got with a graph (see the module doc, step 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Optimized,
    Decluttered,
    Typed,
}

/// A typed, optimised, runnable tract plan of a frozen graph.
pub struct Oracle {
    origin: String,
    plan: Arc<TypedSimplePlan>,
    inputs: Vec<OracleInput>,
    input_types: Vec<DatumType>,
    outputs: Vec<String>,
    stage: Stage,
}

impl std::fmt::Debug for Oracle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oracle")
            .field("origin", &self.origin)
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs.len())
            .field("stage", &self.stage)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    #[error("{path}: cannot read the graph: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: not a TensorFlow GraphDef: {message}")]
    Decode { origin: String, message: String },
    #[error("{origin}: bad tensor name '{tensor}' (expected \"node\" or \"node:K\")")]
    BadTensorName { origin: String, tensor: String },
    #[error("{origin}: the graph has no node named '{node}' (asked for as {role})")]
    NoSuchNode {
        origin: String,
        node: String,
        role: &'static str,
    },
    #[error("{origin}: input '{node}' is a {op} node, not a Placeholder")]
    NotPlaceholder {
        origin: String,
        node: String,
        op: String,
    },
    #[error(
        "{origin}: tensor '{tensor}' does not exist: node '{node}' ({op}) has {arity} output(s)"
    )]
    NoSuchOutput {
        origin: String,
        tensor: String,
        node: String,
        op: String,
        arity: usize,
    },
    #[error("{origin}: {} node(s) use ops thaw's oracle cannot run: {}", .ops.len(), format_ops(.ops))]
    UnsupportedOps {
        origin: String,
        /// (node name, op) pairs, in graph order.
        ops: Vec<(String, String)>,
    },
    #[error("{origin}: node '{node}' ({op}): {message}")]
    Node {
        origin: String,
        node: String,
        op: String,
        message: String,
    },
    /// A tensor tract would hold while preparing the graph is over the
    /// memory budget (`--max-memory`); a user-input error (exit 2).
    #[error("{origin}: node '{node}' ({op}): {message}")]
    Budget {
        origin: String,
        node: String,
        op: String,
        message: String,
    },
    /// A node attribute tract cannot read (see [`precheck`]): the graph is
    /// damaged (exit 2).
    #[error("{origin}: node '{node}' ({op}): attribute '{attr}' {problem}; the graph is damaged")]
    DamagedAttr {
        origin: String,
        node: String,
        op: String,
        attr: String,
        problem: String,
    },
    #[error("{origin}: tract failed to {step}: {message}")]
    Tract {
        origin: String,
        step: &'static str,
        message: String,
    },
    #[error("{origin}: expected {expected} input array(s), got {got}")]
    InputCount {
        origin: String,
        expected: usize,
        got: usize,
    },
    #[error(
        "{origin}: input '{node}' has shape {got:?}, but the oracle was loaded for {expected:?} \
         (or a whole multiple of its batch)"
    )]
    InputShape {
        origin: String,
        node: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
}

impl OracleError {
    /// Whether the user's input is at fault (exit 2): a tensor over the
    /// memory budget, a damaged attribute.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            OracleError::Budget { .. } | OracleError::DamagedAttr { .. }
        )
    }

    /// Whether tract's optimiser (declutter or codegen) failed: the graph
    /// may still run prepared less ([`Oracle::prepared`]).
    pub fn is_optimiser_failure(&self) -> bool {
        matches!(self, OracleError::Tract { step, .. } if *step == OPTIMISE)
    }
}

/// [`OracleError::Tract`]'s step when tract's optimiser failed.
const OPTIMISE: &str = "optimise the graph";

fn format_ops(ops: &[(String, String)]) -> String {
    ops.iter()
        .map(|(n, o)| format!("{n} ({o})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Names of the TF ops thaw registers into tract itself (for `thaw inspect`, docs).
pub fn thaw_ops() -> Vec<&'static str> {
    ops::thaw_ops()
}

/// tract's TensorFlow front end with thaw's builders registered.
pub fn framework() -> tract_tensorflow::Tensorflow {
    let mut tf = tract_tensorflow::tensorflow();
    ops::register(&mut tf.op_register);
    tf
}

/// Splits a TF tensor name: "node" is "node:0"; "^node" (control) is refused.
fn split_tensor_name(origin: &str, tensor: &str) -> Result<(String, usize), OracleError> {
    let bad = || OracleError::BadTensorName {
        origin: origin.to_string(),
        tensor: tensor.to_string(),
    };
    if tensor.is_empty() || tensor.starts_with('^') {
        return Err(bad());
    }
    match tensor.rsplit_once(':') {
        Some((node, slot)) if slot.chars().all(|c| c.is_ascii_digit()) => {
            let slot = slot.parse::<usize>().map_err(|_| bad())?;
            if node.is_empty() {
                return Err(bad());
            }
            Ok((node.to_string(), slot))
        }
        _ => Ok((tensor.to_string(), 0)),
    }
}

/// Formats an error chain on one line, root cause last.
fn chain(e: &anyhow::Error) -> String {
    format!("{e:#}")
}

/// A graph decoded for the oracle, not yet prepared ([`Oracle::decode_file`]).
pub struct Decoded {
    origin: String,
    /// The file, decoded again when a preparation must be retried.
    path: std::path::PathBuf,
    graph: GraphDef,
    /// The file's bytes, kept when the graph needs thaw's rewriting.
    bytes: Option<bytes::Bytes>,
}

impl Oracle {
    /// Loads a frozen graph. `outputs` are TF tensor names: "node" (= "node:0") or "node:K".
    pub fn load(
        path: &Path,
        inputs: &[OracleInput],
        outputs: &[String],
    ) -> Result<Oracle, OracleError> {
        let bytes = std::fs::read(path).map_err(|source| OracleError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes, &path.display().to_string(), inputs, outputs)
    }

    /// [`Oracle::load`] with placeholders bound (`--set`): the graph is cut
    /// exactly as [`crate::graph::Graph::load_with`] cuts it for conversion.
    pub fn load_with(
        path: &Path,
        inputs: &[OracleInput],
        outputs: &[String],
        bindings: &[crate::graph::Binding],
    ) -> Result<Oracle, OracleError> {
        Self::from_decoded(
            Self::decode_file(path, bindings)?,
            inputs,
            outputs,
            bindings,
        )
    }

    /// The first half of [`Oracle::load_with`], which needs neither the
    /// inputs' shapes nor the outputs: the file read and decoded in tract's
    /// types, its attributes checked. `verify` runs it on a thread of its
    /// own from the start, alongside thaw's own load and conversion.
    pub fn decode_file(
        path: &Path,
        bindings: &[crate::graph::Binding],
    ) -> Result<Decoded, OracleError> {
        let bytes = read_graph_file(path)?;
        Self::decode_file_bytes(bytes.into(), path, bindings)
    }

    /// [`Oracle::decode_file`] on the file's bytes, read already: `verify`
    /// reads the file once and shares the buffer with its own load, so that
    /// the weights are not in memory twice as file bytes.
    pub fn decode_file_bytes(
        bytes: bytes::Bytes,
        path: &Path,
        bindings: &[crate::graph::Binding],
    ) -> Result<Decoded, OracleError> {
        let origin = path.display().to_string();
        let tf = framework();
        guarded(&origin, || {
            let graph = decode(&bytes, &origin)?;
            // Before tract sees any part of it (unrolling asks tract for trip counts).
            precheck::check_graph(&graph, &tf).map_err(|b| damaged(&origin, b))?;
            // The file's bytes are kept only for the graphs thaw rewrites
            // (see `rewrite`); otherwise freed before tract builds its own
            // model, so the three copies of the weights (file, GraphDef,
            // tract's tensors) are never all alive at once.
            let bytes = needs_rewrite(&graph, bindings).then_some(bytes);
            Ok(Decoded {
                origin: origin.clone(),
                path: path.to_path_buf(),
                graph,
                bytes,
            })
        })
    }

    /// The second half of [`Oracle::load_with`]: the decoded graph rewritten
    /// where it must be (loops, conditionals, functions), given its inputs'
    /// shapes and the wanted outputs, and prepared by tract.
    pub fn from_decoded(
        decoded: Decoded,
        inputs: &[OracleInput],
        outputs: &[String],
        bindings: &[crate::graph::Binding],
    ) -> Result<Oracle, OracleError> {
        let tf = framework();
        let (origin, path) = (decoded.origin.clone(), decoded.path.clone());
        let mut first = Some(decoded);
        Self::prepared(&origin, |ceiling| {
            let Decoded { graph, bytes, .. } = match first.take() {
                Some(decoded) => decoded,
                None => Self::decode_file(&path, bindings)?,
            };
            let graph = match bytes {
                Some(bytes) => guarded(&origin, || {
                    rewrite(&tf, graph, &bytes, &origin, inputs, outputs, bindings)
                })?,
                None => graph,
            };
            guarded(&origin, || {
                Self::from_graph(&tf, graph, &origin, inputs, outputs, ceiling)
            })
        })
    }

    /// `attempt(ceiling)` (a plan prepared at most to `ceiling`), first
    /// optimised; when tract's optimiser fails, again, decluttered only, then
    /// typed only ([`OracleError::is_optimiser_failure`]).
    fn prepared(
        origin: &str,
        mut attempt: impl FnMut(Stage) -> Result<Oracle, OracleError>,
    ) -> Result<Oracle, OracleError> {
        for ceiling in [Stage::Optimized, Stage::Decluttered] {
            match attempt(ceiling) {
                Err(e) if e.is_optimiser_failure() => {
                    log::debug!("{origin}: preparing to {ceiling:?} failed, trying less: {e}");
                }
                done => return done,
            }
        }
        attempt(Stage::Typed)
    }

    /// Same as [`Oracle::load`], from the bytes of the `.pb`; `origin` names it in errors.
    pub fn from_bytes(
        bytes: &[u8],
        origin: &str,
        inputs: &[OracleInput],
        outputs: &[String],
    ) -> Result<Oracle, OracleError> {
        Self::from_bytes_with(bytes, origin, inputs, outputs, &[])
    }

    /// [`Oracle::from_bytes`] with placeholders bound (see [`Oracle::load_with`]).
    pub fn from_bytes_with(
        bytes: &[u8],
        origin: &str,
        inputs: &[OracleInput],
        outputs: &[String],
        bindings: &[crate::graph::Binding],
    ) -> Result<Oracle, OracleError> {
        let tf = framework();
        Self::prepared(origin, |ceiling| {
            guarded(origin, || {
                let graph = decode_graph(&tf, bytes, origin, inputs, outputs, bindings)?;
                Self::from_graph(&tf, graph, origin, inputs, outputs, ceiling)
            })
        })
    }

    /// Builds the plan; `graph` is consumed and freed as soon as tract has
    /// parsed it (its node names and ops stay, for error messages).
    fn from_graph(
        tf: &tract_tensorflow::Tensorflow,
        graph: GraphDef,
        origin: &str,
        inputs: &[OracleInput],
        outputs: &[String],
        ceiling: Stage,
    ) -> Result<Oracle, OracleError> {
        // Before anything reads an attribute the way tract does (check_inputs
        // reads the placeholders' dtypes).
        precheck::check_graph(&graph, tf).map_err(|b| damaged(origin, b))?;
        let index = GraphIndex::new(&graph);
        let input_types = index.check_inputs(origin, inputs)?;
        let wanted = outputs
            .iter()
            .map(|t| index.check_output(origin, t))
            .collect::<Result<Vec<_>, _>>()?;
        index.check_supported(origin, tf, inputs, &wanted)?;

        let tract_err = |step: &'static str| {
            move |e: anyhow::Error| OracleError::Tract {
                origin: origin.to_string(),
                step,
                message: chain(&e),
            }
        };
        let parsed = match tf.parse_graph(&graph) {
            Ok(parsed) => parsed,
            Err(e) => {
                return Err(index
                    .blame_builder(origin, tf)
                    .unwrap_or_else(|| tract_err("parse the graph")(e)));
            }
        };
        // tract holds its own copy of every constant now: free the GraphDef's.
        let index = index.names();
        drop(graph);
        let mut model = parsed.0;
        let mut input_outlets = vec![];
        for (input, dt) in inputs.iter().zip(&input_types) {
            let id = model
                .node_id_by_name(&input.name)
                .map_err(tract_err("find an input"))?;
            let outlet = OutletId::new(id, 0);
            model
                .set_outlet_fact(outlet, InferenceFact::dt_shape(*dt, input.shape.clone()))
                .map_err(tract_err("set an input shape"))?;
            input_outlets.push(outlet);
        }
        let mut output_outlets = vec![];
        for (node, slot) in &wanted {
            let id = model
                .node_id_by_name(node)
                .map_err(tract_err("find an output"))?;
            if *slot >= model.node(id).outputs.len() {
                // The builder made fewer outputs than the graph says the op has.
                return Err(OracleError::Node {
                    origin: origin.to_string(),
                    node: node.clone(),
                    op: model.node(id).op.name().to_string(),
                    message: format!(
                        "output {slot} was asked for, but the builder made {} output(s)",
                        model.node(id).outputs.len()
                    ),
                });
            }
            output_outlets.push(OutletId::new(id, *slot));
        }
        model
            .set_input_outlets(&input_outlets)
            .map_err(tract_err("set the inputs"))?;
        model
            .select_output_outlets(&output_outlets)
            .map_err(tract_err("set the outputs"))?;
        // Placeholders the outputs do not need (keras_learning_phase, other heads) and
        // everything else off the outputs' cone go away here.
        let mut model = model.into_compact().map_err(tract_err("prune the graph"))?;
        let start = std::time::Instant::now();
        let over = |o: size::Oversize| index.over_budget(origin, o);
        size::analyse(&mut model).map_err(over)?;
        precheck::check_analysed_permutations(&model).map_err(|b| damaged(origin, b))?;
        let typed = model
            .into_typed()
            .map_err(|e| index.blame(origin, "type the graph", e))?;
        size::check_typed(&typed).map_err(over)?;
        log::debug!(
            "{origin}: typed {} nodes in {:?}",
            typed.nodes().len(),
            start.elapsed()
        );
        let (model, stage) = optimise(origin, typed, ceiling).map_err(|e| OracleError::Tract {
            origin: origin.to_string(),
            step: OPTIMISE,
            message: chain(&e),
        })?;
        let model = match stage {
            Stage::Optimized => fold_constants(origin, model),
            _ => model,
        };
        size::check_typed(&model).map_err(over)?;
        log::debug!(
            "{origin}: {stage:?}, {} nodes, in {:?}",
            model.nodes().len(),
            start.elapsed()
        );
        let plan = tract_tensorflow::tract_core::plan::SimplePlan::new(model)
            .map_err(tract_err("plan the graph"))?;
        Ok(Oracle {
            origin: origin.to_string(),
            plan,
            inputs: inputs.to_vec(),
            input_types,
            outputs: outputs.to_vec(),
            stage,
        })
    }

    /// Runs the graph. `inputs` come in the order given at load; returns one f32 array
    /// per requested output, in order (integer and bool tensors are cast to f32).
    ///
    /// Inputs holding a multiple of the loaded batch (`k * B` samples, the other
    /// dimensions as loaded) run in `k` chunks of `B` samples, the graph's own
    /// batch, and every output is the chunks' results joined along axis 0 (the
    /// outputs must then be batch-first: their leading dimension is `B`).
    pub fn run(&self, inputs: &[ArrayD<f32>]) -> Result<Vec<ArrayD<f32>>, OracleError> {
        if inputs.len() != self.inputs.len() {
            return self.run_once(inputs); // reports the count
        }
        let chunks = self.chunks(inputs)?;
        if chunks <= 1 {
            return self.run_once(inputs);
        }
        let run_chunk = |c: usize| {
            let chunk: Vec<ArrayD<f32>> = inputs
                .iter()
                .zip(&self.inputs)
                .map(|(a, spec)| {
                    let b = spec.shape[0];
                    a.slice_axis(ndarray::Axis(0), ndarray::Slice::from(c * b..(c + 1) * b))
                        .to_owned()
                })
                .collect();
            self.run_once(&chunk)
        };
        // The chunks are independent runs of one plan: two at a time, one
        // per core (the second worker takes the later half).
        let half = chunks.div_ceil(2);
        let (first, second) = std::thread::scope(|scope| {
            let later = scope.spawn(|| (half..chunks).map(run_chunk).collect::<Vec<_>>());
            let first: Vec<_> = (0..half).map(run_chunk).collect();
            (first, later.join())
        });
        let second = second.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let parts: Vec<Vec<ArrayD<f32>>> =
            first.into_iter().chain(second).collect::<Result<_, _>>()?;
        let mut parts: Vec<_> = parts.into_iter().map(Vec::into_iter).collect();
        let batch = self.inputs[0].shape[0];
        (0..self.outputs.len())
            .map(|k| {
                // Each chunk's value of output k goes once joined: the chunks'
                // values and the joined ones are never all in memory at once.
                let values: Vec<ArrayD<f32>> =
                    parts.iter_mut().filter_map(Iterator::next).collect();
                let views: Vec<_> = values.iter().map(|v| v.view()).collect();
                if views.iter().any(|v| v.shape().first() != Some(&batch)) {
                    return Err(OracleError::Node {
                        origin: self.origin.clone(),
                        node: self.outputs[k].clone(),
                        op: "output".into(),
                        message: format!(
                            "has shape {:?}, not batch-first at the graph's batch {batch}, so \
                             runs of {batch} samples cannot be joined",
                            views[0].shape()
                        ),
                    });
                }
                ndarray::concatenate(ndarray::Axis(0), &views).map_err(|e| OracleError::Tract {
                    origin: self.origin.clone(),
                    step: "join the chunks' outputs",
                    message: e.to_string(),
                })
            })
            .collect()
    }

    /// How many runs of the loaded batch `inputs` make (1 when they have exactly
    /// the loaded shapes); every input must agree, and divide evenly.
    fn chunks(&self, inputs: &[ArrayD<f32>]) -> Result<usize, OracleError> {
        let mut chunks = None;
        for (array, spec) in inputs.iter().zip(&self.inputs) {
            let (got, want) = (array.shape(), spec.shape.as_slice());
            let k = match (got.split_first(), want.split_first()) {
                (Some((&n, rest)), Some((&b, wrest))) if rest == wrest && b > 0 && n % b == 0 => {
                    n / b
                }
                _ => 0,
            };
            if k == 0 || chunks.is_some_and(|c| c != k) {
                return Err(OracleError::InputShape {
                    origin: self.origin.clone(),
                    node: spec.name.clone(),
                    expected: spec.shape.clone(),
                    got: got.to_vec(),
                });
            }
            chunks = Some(k);
        }
        Ok(chunks.unwrap_or(1))
    }

    fn run_once(&self, inputs: &[ArrayD<f32>]) -> Result<Vec<ArrayD<f32>>, OracleError> {
        guarded(&self.origin, || self.run_unguarded(inputs))
    }

    fn run_unguarded(&self, inputs: &[ArrayD<f32>]) -> Result<Vec<ArrayD<f32>>, OracleError> {
        if inputs.len() != self.inputs.len() {
            return Err(OracleError::InputCount {
                origin: self.origin.clone(),
                expected: self.inputs.len(),
                got: inputs.len(),
            });
        }
        let tract_err = |step: &'static str| {
            move |e: anyhow::Error| OracleError::Tract {
                origin: self.origin.clone(),
                step,
                message: chain(&e),
            }
        };
        let mut values = TVec::new();
        for ((array, spec), dt) in inputs.iter().zip(&self.inputs).zip(&self.input_types) {
            if array.shape() != spec.shape.as_slice() {
                return Err(OracleError::InputShape {
                    origin: self.origin.clone(),
                    node: spec.name.clone(),
                    expected: spec.shape.clone(),
                    got: array.shape().to_vec(),
                });
            }
            let tensor = Tensor::from(array.clone());
            let tensor = if *dt == f32::datum_type() {
                tensor
            } else {
                tensor
                    .cast_to_dt(*dt)
                    .map_err(tract_err("cast an input"))?
                    .into_owned()
            };
            values.push(tensor.into_tvalue());
        }
        let results = self.plan.run(values).map_err(tract_err("run the graph"))?;
        results
            .into_iter()
            .map(|value| {
                let tensor = value.into_tensor();
                let tensor = if tensor.datum_type() == f32::datum_type() {
                    tensor
                } else {
                    tensor
                        .cast_to::<f32>()
                        .map_err(tract_err("cast an output to f32"))?
                        .into_owned()
                };
                tensor
                    .into_plain_array::<f32>()
                    .map_err(tract_err("read an output"))
            })
            .collect()
    }

    /// The TF tensor names this oracle returns, in order.
    pub fn outputs(&self) -> &[String] {
        &self.outputs
    }

    /// The inputs this oracle was loaded for, in order.
    pub fn inputs(&self) -> &[OracleInput] {
        &self.inputs
    }

    /// How far tract's optimiser got (see the module doc).
    pub fn stage(&self) -> Stage {
        self.stage
    }
}

/// Decodes the GraphDef tract runs: `bytes` as tract reads them, with
/// conditionals cut, function calls inlined and loops unrolled as for
/// conversion (see [`Oracle::from_bytes_with`]).
fn decode_graph(
    tf: &tract_tensorflow::Tensorflow,
    bytes: &[u8],
    origin: &str,
    inputs: &[OracleInput],
    outputs: &[String],
    bindings: &[crate::graph::Binding],
) -> Result<GraphDef, OracleError> {
    let graph = decode(bytes, origin)?;
    // Before tract sees any part of it (unrolling asks tract for trip counts).
    precheck::check_graph(&graph, tf).map_err(|b| damaged(origin, b))?;
    if needs_rewrite(&graph, bindings) {
        rewrite(tf, graph, bytes, origin, inputs, outputs, bindings)
    } else {
        Ok(graph)
    }
}

/// Reads a `.pb` for the oracle, within the size a GraphDef can have.
fn read_graph_file(path: &Path) -> Result<Vec<u8>, OracleError> {
    crate::graph::read_graph_file(path).map_err(|e| OracleError::Decode {
        origin: path.display().to_string(),
        message: e.to_string(),
    })
}

/// The bytes of a `.pb` in tract's GraphDef types, decoded in place (tract's
/// `read_frozen_model` would first copy them whole into a buffer of its own).
fn decode(bytes: &[u8], origin: &str) -> Result<GraphDef, OracleError> {
    <GraphDef as prost::Message>::decode(bytes).map_err(|e| OracleError::Decode {
        origin: origin.to_string(),
        message: e.to_string(),
    })
}

/// Whether thaw must rewrite the graph before tract can run it (see
/// [`rewrite`]): loops, conditionals, default-valued placeholders, bound
/// placeholders or library functions.
fn needs_rewrite(graph: &GraphDef, bindings: &[crate::graph::Binding]) -> bool {
    !bindings.is_empty()
        || graph
            .library
            .as_ref()
            .is_some_and(|l| !l.function.is_empty())
        || graph.node.iter().any(|n| {
            matches!(
                n.op.as_str(),
                "Enter" | "Switch" | "If" | "StatelessIf" | "PlaceholderWithDefault"
            )
        })
}

/// The graph as thaw's own side sees it, for tract: conditionals and
/// default-valued placeholders cut/folded as for conversion
/// (graph::resolve_conditionals), so both sides run one graph; function
/// calls inlined (graph::inline_calls), via thaw's own decoding of the same
/// bytes; lowered loops unrolled (`unroll`), as tract runs no control flow,
/// and the `outputs` named [`crate::graph::stacked_steps`] made from the copies.
fn rewrite(
    tf: &tract_tensorflow::Tensorflow,
    graph: GraphDef,
    bytes: &[u8],
    origin: &str,
    inputs: &[OracleInput],
    outputs: &[String],
    bindings: &[crate::graph::Binding],
) -> Result<GraphDef, OracleError> {
    // Functional `While` loops are lowered to `Enter`… by `inline_calls`.
    let has_loops = graph.node.iter().any(|n| {
        matches!(
            n.op.as_str(),
            "Enter" | "While" | "StatelessWhile" | "_While"
        )
    });
    let failed = |message: String| OracleError::Decode {
        origin: origin.to_string(),
        message,
    };
    let mut def =
        crate::graph::parse_graph_def(bytes, false, origin).map_err(|e| failed(e.to_string()))?;
    let cut = crate::graph::resolve_conditionals(&mut def, bindings)
        .map_err(|e| failed(e.to_string()))?;
    let inlined = crate::graph::inline_calls(&mut def).map_err(|e| failed(e.to_string()))?;
    let unrolled = if has_loops {
        unroll::unrolled(tf, &def, inputs).map_err(|e| failed(e.to_string()))?
    } else {
        None
    };
    if let Some(mut u) = unrolled {
        // The per-step values of a loop tensor, stacked, where asked for.
        crate::graph::stack_steps(&mut u, outputs);
        decode(&prost::Message::encode_to_vec(&u), origin)
    } else if inlined > 0 || cut.changed() {
        decode(&prost::Message::encode_to_vec(&def), origin)
    } else {
        Ok(graph)
    }
}

/// Runs a step that calls into tract: a panic in tract ([`guard`]) becomes
/// [`OracleError::Tract`] naming the graph, instead of ending the process.
fn guarded<T>(origin: &str, f: impl FnOnce() -> Result<T, OracleError>) -> Result<T, OracleError> {
    guard::catch(f).unwrap_or_else(|message| {
        Err(OracleError::Tract {
            origin: origin.to_string(),
            step: "prepare or run the graph",
            message: format!("tract stopped with a panic: {message}"),
        })
    })
}

/// [`OracleError::DamagedAttr`] from what the precheck found.
fn damaged(origin: &str, b: precheck::BadAttr) -> OracleError {
    OracleError::DamagedAttr {
        origin: origin.to_string(),
        node: b.node,
        op: b.op,
        attr: b.attr,
        problem: b.problem,
    }
}

/// Prepares a typed model to `ceiling`: optimised (thaw's pass lists), decluttered
/// only, or left as typed.
fn optimise(origin: &str, typed: TypedModel, ceiling: Stage) -> TractResult<(TypedModel, Stage)> {
    log::debug!("{origin}: preparing to {ceiling:?}");
    let model = match ceiling {
        Stage::Typed => typed,
        Stage::Decluttered => declutter(typed)?,
        Stage::Optimized => {
            let mut model = declutter(typed)?;
            model.optimize_with_session(&mut passes(Optimizer::codegen()).session())?;
            model
        }
    };
    Ok((model, ceiling))
}

/// tract's `into_decluttered`, with thaw's pass list ([`passes`]).
fn declutter(mut model: TypedModel) -> TractResult<TypedModel> {
    passes(Optimizer::declutter())
        .session()
        .optimize(&mut model)?;
    Ok(model)
}

/// tract's pass list `optimizer` (declutter or codegen), changed in two ways:
/// - Without tract's `PushSplitDown` pass. That pass merges identical
///   consumers of a tensor; tract 0.23 reads them pair by pair in each
///   producer's consumer order, and when three identical nodes share two
///   producers that list them in different orders it keeps a node it has
///   already removed: the plan then evaluates a `Dummy` ("eval() called on a
///   Dummy op"). A masked recurrent layer meets it (one mask step tiled alike
///   for each state and the output). The pass only saves duplicate work.
/// - Its op-by-op `declutter` pass never fuses a successor into a node whose
///   output the oracle exposes ([`DeclutterKeepingExposed`]).
fn passes(mut optimizer: Optimizer) -> Optimizer {
    optimizer
        .passes
        .retain(|p| !format!("{p:?}").starts_with("PushSplitDown"));
    for pass in &mut optimizer.passes {
        if format!("{pass:?}") == "declutter" {
            *pass = Box::new(DeclutterKeepingExposed::default());
        }
    }
    optimizer
}

/// tract's per-op `declutter` pass, refusing a rewrite that replaces a
/// successor's output while it leaves the node itself, whose output is a model
/// output (every layer tensor is one here). Such a rewrite fuses the successor
/// into a copy of the node (a convolution absorbing the batch normalisation
/// after it into its kernel): the node stays for its exposed output, so the
/// plan computes it twice and keeps two packed kernels (ResNet50: ~50 MiB
/// more). Refused, the successor runs on the node's output, as the graph
/// says. tract alone, which exposes only the graph's outputs, fuses.
#[derive(Clone, Debug, Default)]
struct DeclutterKeepingExposed {
    /// The node the next search starts from (tract's own pass resumes where
    /// its last rewrite was, too).
    from: usize,
}

impl TypedPass for DeclutterKeepingExposed {
    fn reset(&mut self) -> TractResult<()> {
        self.from = 0;
        Ok(())
    }

    fn next(
        &mut self,
        session: &mut OptimizerSession,
        model: &TypedModel,
    ) -> TractResult<Option<TypedModelPatch>> {
        let exposed: std::collections::HashSet<usize> =
            model.output_outlets()?.iter().map(|o| o.node).collect();
        for node in model.nodes.iter().skip(self.from) {
            if node.op_is::<tract_tensorflow::tract_core::ops::dummy::Dummy>() {
                continue;
            }
            let Some(mut patch) = node.op.declutter_with_session(session, model, node)? else {
                continue;
            };
            let duplicates = exposed.contains(&node.id)
                && !patch.shunts.is_empty()
                && !patch.obliterate.contains(&node.id)
                && patch.shunts.keys().all(|o| o.node != node.id);
            if duplicates {
                continue;
            }
            patch.push_context(format!("declutter {node}"));
            self.from = node.id + usize::from(patch.dont_apply_twice.is_some());
            return Ok(Some(patch));
        }
        Ok(None)
    }
}

/// The optimised model with what it still computes from constants at every
/// run folded ([`fold`]); unchanged if folding fails.
fn fold_constants(origin: &str, model: TypedModel) -> TypedModel {
    let mut folded = model.clone();
    match fold::fold_constants(&mut folded) {
        Ok(0) => model,
        Ok(n) => {
            log::debug!("{origin}: folded {n} nodes computed from constants");
            folded
        }
        Err(e) => {
            log::debug!("{origin}: folding constants failed, keeping the plan as is: {e:#}");
            model
        }
    }
}

/// Name → node lookups over the GraphDef, for checks and error messages.
struct GraphIndex<'g> {
    graph: &'g GraphDef,
    by_name: std::collections::HashMap<&'g str, usize>,
}

impl<'g> GraphIndex<'g> {
    fn new(graph: &'g GraphDef) -> Self {
        let by_name = graph
            .node
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        GraphIndex { graph, by_name }
    }

    fn node(&self, name: &str) -> Option<&'g NodeDef> {
        self.by_name.get(name).map(|&i| &self.graph.node[i])
    }

    fn check_inputs(
        &self,
        origin: &str,
        inputs: &[OracleInput],
    ) -> Result<Vec<DatumType>, OracleError> {
        inputs
            .iter()
            .map(|input| {
                let node = self
                    .node(&input.name)
                    .ok_or_else(|| OracleError::NoSuchNode {
                        origin: origin.to_string(),
                        node: input.name.clone(),
                        role: "an input",
                    })?;
                if node.op != "Placeholder" && node.op != "PlaceholderWithDefault" {
                    return Err(OracleError::NotPlaceholder {
                        origin: origin.to_string(),
                        node: input.name.clone(),
                        op: node.op.clone(),
                    });
                }
                node.get_attr_datum_type("dtype")
                    .map_err(|e| OracleError::Node {
                        origin: origin.to_string(),
                        node: node.name.clone(),
                        op: node.op.clone(),
                        message: chain(&e),
                    })
            })
            .collect()
    }

    /// Checks a requested output and splits it into (node, slot).
    fn check_output(&self, origin: &str, tensor: &str) -> Result<(String, usize), OracleError> {
        let (name, slot) = split_tensor_name(origin, tensor)?;
        let node = self.node(&name).ok_or_else(|| OracleError::NoSuchNode {
            origin: origin.to_string(),
            node: name.clone(),
            role: "an output",
        })?;
        if let Some(arity) = ops::known_arity(node)
            && slot >= arity
        {
            return Err(OracleError::NoSuchOutput {
                origin: origin.to_string(),
                tensor: tensor.to_string(),
                node: name,
                op: node.op.clone(),
                arity,
            });
        }
        Ok((name, slot))
    }

    /// Refuses, all at once, every op in the outputs' cone that no builder knows.
    fn check_supported(
        &self,
        origin: &str,
        tf: &tract_tensorflow::Tensorflow,
        inputs: &[OracleInput],
        wanted: &[(String, usize)],
    ) -> Result<(), OracleError> {
        let mut seen = vec![false; self.graph.node.len()];
        let mut stack: Vec<usize> = wanted
            .iter()
            .filter_map(|(n, _)| self.by_name.get(n.as_str()).copied())
            .collect();
        let is_input = |name: &str| inputs.iter().any(|i| i.name == name);
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            let node = &self.graph.node[i];
            if is_input(&node.name) {
                continue;
            }
            for input in node.input.iter().filter(|s| !s.starts_with('^')) {
                let name = input.split(':').next().unwrap_or(input);
                if let Some(&j) = self.by_name.get(name) {
                    stack.push(j);
                }
            }
        }
        let missing: Vec<(String, String)> = self
            .graph
            .node
            .iter()
            .zip(&seen)
            .filter(|(n, seen)| **seen && !tf.op_register.0.contains_key(&n.op))
            .map(|(n, _)| (n.name.clone(), n.op.clone()))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(OracleError::UnsupportedOps {
                origin: origin.to_string(),
                ops: missing,
            })
        }
    }

    /// tract's parser does not say which builder failed: find it by re-running them.
    fn blame_builder(
        &self,
        origin: &str,
        tf: &tract_tensorflow::Tensorflow,
    ) -> Option<OracleError> {
        let ctx = tract_tensorflow::model::ParsingContext::default();
        self.graph.node.iter().find_map(|node| {
            let builder = tf.op_register.0.get(&node.op)?;
            builder(&ctx, node).err().map(|e| OracleError::Node {
                origin: origin.to_string(),
                node: node.name.clone(),
                op: node.op.clone(),
                message: chain(&e),
            })
        })
    }

    /// The node names and ops alone, to blame nodes once the GraphDef is gone.
    fn names(&self) -> NodeOps {
        NodeOps(
            self.graph
                .node
                .iter()
                .map(|n| (n.name.clone(), n.op.clone()))
                .collect(),
        )
    }
}

/// Node name → op, for [`NodeOps::blame`] after the GraphDef is freed.
struct NodeOps(std::collections::HashMap<String, String>);

impl NodeOps {
    /// A tensor over the memory budget, blamed on the TF node that makes it
    /// (tract names the nodes it adds `<tf node>.<suffix>`).
    fn over_budget(&self, origin: &str, o: size::Oversize) -> OracleError {
        let mut name = o.node.as_str();
        let tf = loop {
            if let Some((node, op)) = self.0.get_key_value(name) {
                break Some((node.clone(), op.clone()));
            }
            match name.rsplit_once('.') {
                Some((head, _)) => name = head,
                None => break None,
            }
        };
        let (node, op) = tf.unwrap_or((o.node, o.op));
        OracleError::Budget {
            origin: origin.to_string(),
            node,
            op,
            message: o.message,
        }
    }

    /// Turns a tract error into one naming the node when the chain quotes one.
    fn blame(&self, origin: &str, step: &'static str, e: anyhow::Error) -> OracleError {
        let message = chain(&e);
        let named = message.split('"').skip(1).step_by(2).find_map(|quoted| {
            let name = quoted.split(':').next().unwrap_or(quoted);
            self.0.get_key_value(name)
        });
        match named {
            Some((node, op)) => OracleError::Node {
                origin: origin.to_string(),
                node: node.clone(),
                op: op.clone(),
                message: format!("tract failed to {step}: {message}"),
            },
            None => OracleError::Tract {
                origin: origin.to_string(),
                step,
                message,
            },
        }
    }
}

#[cfg(test)]
mod tests;
