//! The `thaw verify` pipeline: load → convert → write the Keras model → run
//! the original graph (oracle) and the Keras layers (interpreter) on the same
//! seeded inputs → compare every layer → report.
//!
//! This is the only module that sees both witnesses; it hands each one only
//! what it needs (the oracle gets the file and tensor names, the interpreter
//! gets the Keras model) and compares plain arrays.

pub mod drift;
pub mod inputs;

pub use inputs::{InputDist, random_inputs};

use crate::compare::align::{self, Alignment};
use crate::compare::diagnose::{self, WeightCheck};
use crate::compare::overrides::Overrides;
use crate::compare::{self, Tolerance};
use crate::convert::{self, Conversion, ConvertOptions, LayerTensor};
use crate::graph::{Graph, GraphError};
use crate::interp;
use crate::keras;
use crate::oracle::{Oracle, OracleInput};
use crate::report::progress::Progress;
use crate::report::{
    Check, DriftSummary, FirstDivergence, InputSpec, LayerReport, OutputSpec, Report, Status,
    Timings, UnsupportedOp, Verdict,
};
use ndarray::ArrayD;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use thiserror::Error;

#[derive(Clone, Debug)]
pub struct VerifyOptions {
    pub model: PathBuf,
    pub out_dir: PathBuf,
    pub convert: ConvertOptions,
    pub samples: usize,
    pub seed: u64,
    pub input_range: [f32; 2],
    pub tolerance: Tolerance,
}

/// Settings beyond [`VerifyOptions`], kept apart so that code building
/// `VerifyOptions` field by field keeps compiling as settings are added. The
/// default is the command line's default.
#[derive(Clone, Debug, Default)]
pub struct VerifySettings {
    /// Per-class and per-layer tolerances (`thaw.toml`, `--config`);
    /// `VerifyOptions::tolerance` is the model-wide one they start from.
    pub overrides: Overrides,
    /// How float inputs are drawn (ignored with `inputs_file`).
    pub input_dist: InputDist,
    /// Take the inputs from this `.npz` instead (`--inputs`); the batch of
    /// its arrays replaces `samples`.
    pub inputs_file: Option<PathBuf>,
    /// Where stages and per-layer checks are shown (default: nowhere).
    pub progress: Progress,
    /// `--keras`: judge on numbers alone; config and weight findings are
    /// still reported but do not make the verdict `fail` (`--numeric-only`).
    pub numeric_only: bool,
}

/// Why verification could not be carried out (as opposed to a verdict).
#[derive(Debug, Error)]
pub enum VerifyError {
    /// The user's input is at fault: unreadable or invalid graph, bad shape.
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Convert(#[from] convert::ConvertError),
    #[error("{0}")]
    Usage(String),
    /// A part of thaw failed on a graph it accepted.
    #[error("writing the Keras model: {0}")]
    Keras(#[from] keras::KerasError),
    #[error("running the original graph: {0}")]
    Oracle(#[from] crate::oracle::OracleError),
    #[error("running the Keras model: {0}")]
    Interp(#[from] interp::InterpError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl VerifyError {
    /// Whether the user's input (file, flags) is at fault rather than thaw.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            VerifyError::Graph(_) | VerifyError::Convert(_) | VerifyError::Usage(_)
        )
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// Loads and converts; the shared first half of `verify`, `convert` and `inspect`.
pub fn load_and_convert(
    model: &Path,
    opts: &ConvertOptions,
) -> Result<(Graph, Conversion), VerifyError> {
    let graph = Graph::load(model)?;
    let conv = convert::convert(&graph, opts)?;
    Ok((graph, conv))
}

/// Loads and converts `opts.model`, timing both stages.
fn load_and_convert_timed(
    opts: &VerifyOptions,
) -> Result<(Graph, Conversion, Timings), VerifyError> {
    let mut timings = Timings::default();
    let t = Instant::now();
    let graph = Graph::load(&opts.model)?;
    timings.load_ms = ms(t);
    let t = Instant::now();
    let conv = convert::convert(&graph, &opts.convert)?;
    timings.convert_ms = ms(t);
    Ok((graph, conv, timings))
}

/// Runs the whole pipeline and returns the report (also written to
/// `out_dir/report.json`, with the Keras model as `out_dir/<stem>.h5`).
pub fn verify(opts: &VerifyOptions) -> Result<Report, VerifyError> {
    verify_with(opts, &VerifySettings::default())
}

/// [`verify`] with [`VerifySettings`].
pub fn verify_with(opts: &VerifyOptions, settings: &VerifySettings) -> Result<Report, VerifyError> {
    check_options(opts)?;
    let start = Instant::now();
    let (graph, conv, timings) = load_and_convert_timed(opts)?;
    verify_models(opts, settings, &graph, &conv, None, timings, start)
}

fn check_options(opts: &VerifyOptions) -> Result<(), VerifyError> {
    if opts.samples == 0 {
        return Err(VerifyError::Usage("--samples must be at least 1".into()));
    }
    let [lo, hi] = opts.input_range;
    // lo == hi would make every input constant, hiding layout bugs.
    if !(lo < hi) || !opts.input_range.iter().all(|v| v.is_finite()) {
        return Err(VerifyError::Usage(format!(
            "--input-range {:?} is not a finite lo,hi range with lo < hi",
            opts.input_range
        )));
    }
    Ok(())
}

/// Verifies a given conversion of `opts.model` (normally [`verify`]'s own; a
/// test or a hand-made model may supply another): writes the Keras model,
/// runs both sides, compares every layer, cumulatively and in isolation.
pub fn verify_conversion(
    opts: &VerifyOptions,
    graph: &Graph,
    conv: &Conversion,
    timings: Timings,
    start: Instant,
) -> Result<Report, VerifyError> {
    verify_models(
        opts,
        &VerifySettings::default(),
        graph,
        conv,
        None,
        timings,
        start,
    )
}

/// How a user's model lines up with the converted one (`alignment.json`).
#[derive(Clone, Debug, Serialize)]
pub struct KerasAlignment {
    pub keras_file: String,
    #[serde(flatten)]
    pub alignment: Alignment,
    /// Per aligned weighted layer: its weights vs the graph's constants.
    pub weights: Vec<LayerWeights>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LayerWeights {
    pub user: String,
    pub converted: String,
    pub checks: Vec<WeightCheck>,
}

/// `thaw verify MODEL --keras FILE`: verifies a user's Keras model (`.h5`,
/// Keras 2 or 3) against the graph instead of thaw's own conversion. The
/// conversion is still made, for its layer ↔ TF tensor map: the user's layers
/// are aligned with the converted ones ([`align::align`]), their weights
/// compared with the graph's constants, and every aligned layer checked
/// cumulatively and in isolation against its twin's TF tensor. An unaligned
/// weightless user layer is compared, as an identity, with its input's twin;
/// every unaligned layer is listed in `report.unaligned` with what still
/// checks it, and one nothing checks (a graph output no user layer computes,
/// a user layer no graph layer matches) makes the verdict FAIL. Writes
/// `report.json` and `alignment.json` (pairs, unaligned layers, weight
/// checks) in `out_dir`. Returns the alignment with the report.
pub fn verify_keras(
    opts: &VerifyOptions,
    keras_file: &Path,
) -> Result<(Report, KerasAlignment), VerifyError> {
    verify_keras_with(opts, &VerifySettings::default(), keras_file)
}

/// [`verify_keras`] with [`VerifySettings`].
pub fn verify_keras_with(
    opts: &VerifyOptions,
    settings: &VerifySettings,
    keras_file: &Path,
) -> Result<(Report, KerasAlignment), VerifyError> {
    check_options(opts)?;
    let start = Instant::now();
    let (graph, conv, timings) = load_and_convert_timed(opts)?;
    let ext = keras_file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    let read = if ext == "keras" {
        keras::archive::read
    } else {
        keras::h5::read
    };
    let mut user = read(keras_file)
        .map_err(|e| VerifyError::Usage(format!("--keras {}: {e}", keras_file.display())))?;
    if user.inputs.len() != conv.model.inputs.len() {
        return Err(VerifyError::Usage(format!(
            "--keras {}: the model has {} input(s), the graph {}",
            keras_file.display(),
            user.inputs.len(),
            conv.model.inputs.len()
        )));
    }
    // Both sides are fed the same arrays: the user's inputs must take the
    // graph's shapes (a dimension one side leaves open takes the other's).
    let dims = |s: &[Option<usize>]| {
        let d: Vec<String> = s
            .iter()
            .map(|d| d.map_or("None".into(), |v| v.to_string()))
            .collect();
        format!("(batch, {})", d.join(", "))
    };
    for (ui, ci) in user.inputs.iter_mut().zip(&conv.model.inputs) {
        let fits = ui.shape.len() == ci.shape.len()
            && ui
                .shape
                .iter()
                .zip(&ci.shape)
                .all(|(u, c)| u.is_none() || c.is_none() || u == c);
        if !fits {
            return Err(VerifyError::Usage(format!(
                "--keras {}: input '{}' has shape {}, the graph's input '{}' {}",
                keras_file.display(),
                ui.name,
                dims(&ui.shape),
                ci.name,
                dims(&ci.shape)
            )));
        }
        for (u, c) in ui.shape.iter_mut().zip(&ci.shape) {
            *u = u.or(*c);
        }
    }
    let alignment = align::align(&user, &conv.model);
    let unaligned = align::unaligned(&alignment, &user, &conv.model);
    let findings = crate::compare::findings::findings(&user, &conv.model, &alignment);
    // Per user output, the converted layer (or input) it is compared with.
    let output_twins: Vec<Option<String>> = user
        .outputs
        .iter()
        .map(|o| {
            alignment.pair(o).map(|p| p.output.clone()).or_else(|| {
                let p = alignment.pass_through.iter().find(|p| p.user == *o);
                p.map(|p| p.same_as.clone())
            })
        })
        .collect();
    // The oracle feeds the graph's placeholders by the Keras input names.
    for (ui, ci) in user.inputs.iter_mut().zip(&conv.model.inputs) {
        let old = std::mem::replace(&mut ui.name, ci.name.clone());
        for l in &mut user.layers {
            for i in &mut l.inbound {
                if *i == old {
                    *i = ci.name.clone();
                }
            }
        }
        for o in &mut user.outputs {
            if *o == old {
                *o = ci.name.clone();
            }
        }
    }
    let mut tensors = Vec::new();
    let mut weights = Vec::new();
    for lt in conv.tensors.iter().filter(|t| t.class_name == "InputLayer") {
        tensors.push(lt.clone());
    }
    for u in &user.layers {
        // A weightless user layer with no twin is compared, as an identity,
        // with the graph tensor of its input's twin (align.rs): an extra
        // layer that is not one (a ReLU the graph lacks) is located there.
        if let Some(p) = alignment.pass_through.iter().find(|p| p.user == u.name)
            && let Some(lt) = conv.tensors.iter().find(|t| t.layer == p.same_as)
        {
            tensors.push(LayerTensor {
                layer: u.name.clone(),
                class_name: u.kind.class_name().to_string(),
                tensor: lt.tensor.clone(),
                nodes: Vec::new(),
            });
            continue;
        }
        let Some(pair) = alignment.pair(&u.name) else {
            continue;
        };
        let c = pair.converted.as_str();
        let Some(lt) = conv.tensors.iter().find(|t| t.layer == pair.output) else {
            continue;
        };
        tensors.push(LayerTensor {
            layer: u.name.clone(),
            class_name: u.kind.class_name().to_string(),
            tensor: lt.tensor.clone(),
            nodes: lt.nodes.clone(),
        });
        if let Some(cl) = conv.model.layer(c)
            && !cl.weights.is_empty()
        {
            weights.push(LayerWeights {
                user: u.name.clone(),
                converted: c.to_string(),
                checks: diagnose::weight_check(u, cl),
            });
        }
    }
    let user_conv = Conversion {
        model: user,
        tensors,
        unsupported: conv.unsupported.clone(),
    };
    let info = KerasAlignment {
        keras_file: keras_file.display().to_string(),
        alignment,
        weights,
    };
    std::fs::create_dir_all(&opts.out_dir).map_err(|source| VerifyError::Io {
        path: opts.out_dir.display().to_string(),
        source,
    })?;
    let path = opts.out_dir.join("alignment.json");
    let json = serde_json::to_string_pretty(&info).unwrap_or_default();
    std::fs::write(&path, json).map_err(|source| VerifyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut report = verify_models(
        opts,
        settings,
        &graph,
        &user_conv,
        Some(keras_file),
        timings,
        start,
    )?;
    // The user's outputs, each with the graph tensor its twin stands for
    // (the user may list them in another order than the graph's sinks).
    let (_, sinks) = convert::graph_io(&graph, &opts.convert)?;
    if report.verdict == Verdict::Unsupported {
        // Nothing was run; verify_models leaves the outputs empty then.
    } else {
        report.outputs = user_conv
            .model
            .outputs
            .iter()
            .zip(&output_twins)
            .map(|(layer, twin)| {
                let twin = twin.as_deref();
                let sink = conv
                    .model
                    .outputs
                    .iter()
                    .position(|o| Some(o.as_str()) == twin)
                    .and_then(|i| sinks.get(i))
                    .map(|t| t.to_string());
                let mapped = || {
                    conv.tensors
                        .iter()
                        .find(|t| Some(t.layer.as_str()) == twin)
                        .map(|t| t.tensor.to_string())
                };
                OutputSpec {
                    tensor: sink.or_else(mapped).unwrap_or_default(),
                    layer: layer.clone(),
                }
            })
            .collect();
    }
    // A model result nothing compares is not verified, whatever the layers
    // that are compared say.
    report.unaligned = unaligned;
    let unchecked = report
        .unaligned
        .iter()
        .any(|u| u.coverage == align::Coverage::Unchecked);
    if unchecked && report.verdict != Verdict::Unsupported {
        report.verdict = Verdict::Fail;
    }
    // A config or weight difference changes the function even where the
    // random inputs do not show it (issue 10: no silent pass).
    if !findings.is_empty() && !settings.numeric_only && report.verdict != Verdict::Unsupported {
        report.verdict = Verdict::Fail;
    }
    report.findings = findings;
    write_report(&report, &opts.out_dir)?;
    Ok((report, info))
}

/// The shared second half: `keras_file` is the user's model when given (then
/// nothing is written but the report), else `conv.model` is written as .h5.
fn verify_models(
    opts: &VerifyOptions,
    settings: &VerifySettings,
    graph: &Graph,
    conv: &Conversion,
    keras_file: Option<&Path>,
    mut timings: Timings,
    start: Instant,
) -> Result<Report, VerifyError> {
    let stem = opts
        .model
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model")
        .to_string();
    let mut report = Report {
        schema_version: crate::report::SCHEMA_VERSION,
        thaw_version: env!("CARGO_PKG_VERSION").to_string(),
        model: opts.model.display().to_string(),
        verdict: Verdict::Pass,
        seed: opts.seed,
        samples: opts.samples,
        input_range: opts.input_range,
        tolerance: opts.tolerance,
        input_dist: settings.input_dist.name().to_string(),
        inputs_file: settings
            .inputs_file
            .as_ref()
            .map(|f| f.display().to_string()),
        inputs: conv
            .model
            .inputs
            .iter()
            .map(|i| InputSpec {
                name: i.name.clone(),
                shape: std::iter::once(opts.samples)
                    .chain(i.shape.iter().map(|d| d.unwrap_or(1)))
                    .collect(),
                dtype: i.dtype.keras_name().to_string(),
            })
            .collect(),
        outputs: Vec::new(),
        layers: Vec::new(),
        first_divergence: None,
        drift: None,
        unaligned: Vec::new(),
        findings: Vec::new(),
        unsupported_ops: Vec::new(),
        native_layers: conv.model.layers.len() - crate::report::FallbackLayer::of(conv).len(),
        fallback_layers: crate::report::FallbackLayer::of(conv),
        keras_file: None,
        timings: Timings::default(),
    };
    std::fs::create_dir_all(&opts.out_dir).map_err(|source| VerifyError::Io {
        path: opts.out_dir.display().to_string(),
        source,
    })?;
    if !conv.unsupported.is_empty() {
        report.verdict = Verdict::Unsupported;
        report.unsupported_ops = conv
            .unsupported
            .iter()
            .map(|u| UnsupportedOp {
                node: u.node.clone(),
                op: u.op.clone(),
                reason: u.reason.clone(),
            })
            .collect();
        timings.total_ms = ms(start);
        report.timings = timings;
        write_report(&report, &opts.out_dir)?;
        return Ok(report);
    }

    let names: Vec<&str> = conv.model.layers.iter().map(|l| l.name.as_str()).collect();
    settings
        .overrides
        .check_layers(&names)
        .map_err(|e| VerifyError::Usage(e.to_string()))?;
    let inputs = match &settings.inputs_file {
        None => inputs::seeded_inputs(
            &conv.model,
            opts.samples,
            opts.seed,
            opts.input_range,
            settings.input_dist,
        ),
        Some(f) => inputs::read_inputs(&conv.model, f).map_err(VerifyError::Usage)?,
    };
    for (spec, a) in report.inputs.iter_mut().zip(&inputs) {
        spec.shape = a.shape().to_vec();
    }
    report.samples = inputs
        .first()
        .and_then(|a| a.shape().first().copied())
        .unwrap_or(opts.samples);

    let (_, sinks) = convert::graph_io(graph, &opts.convert)?;
    report.outputs = sinks
        .iter()
        .zip(&conv.model.outputs)
        .map(|(t, layer)| OutputSpec {
            tensor: t.to_string(),
            layer: layer.clone(),
        })
        .collect();
    let t = Instant::now();
    match keras_file {
        Some(f) => report.keras_file = Some(f.display().to_string()),
        None => {
            let h5 = opts.out_dir.join(format!("{stem}.h5"));
            keras::h5::write(&h5, &conv.model)?;
            keras::pymodule::write_beside(&h5, &conv.model)?;
            report.keras_file = Some(h5.display().to_string());
        }
    }
    timings.write_keras_ms = ms(t);

    let layer_tensors: Vec<_> = conv
        .tensors
        .iter()
        .filter(|t| t.class_name != "InputLayer")
        .collect();
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
    let outputs: Vec<String> = layer_tensors.iter().map(|t| t.tensor.to_string()).collect();
    let t = Instant::now();
    settings.progress.stage("running the original graph");
    let oracle = Oracle::load(&opts.model, &oracle_inputs, &outputs)?;
    timings.oracle_load_ms = ms(t);
    let t = Instant::now();
    let graph_values = oracle.run(&inputs)?;
    timings.oracle_run_ms = ms(t);
    let t = Instant::now();
    settings.progress.stage("running the Keras layers");
    // A layer that cannot run (a wrong padding makes a later Add see two
    // shapes) gets no value and a reason; the other layers still run, and
    // every layer is still judged, in isolation too.
    let keras_run = interp::run_all(&conv.model, &inputs).map_err(|e| match keras_file {
        // The user's model as a whole cannot run: their input, not thaw's.
        Some(f) => VerifyError::Usage(format!("--keras {}: {e}", f.display())),
        None => VerifyError::Interp(e),
    })?;
    let keras_values = &keras_run.values;
    timings.interp_run_ms = ms(t);

    // The original graph's value of every layer output and model input, by
    // Keras name: what isolated checks feed each layer.
    let mut graph_by_name: HashMap<&str, &ArrayD<f32>> = HashMap::new();
    for (i, a) in conv.model.inputs.iter().zip(&inputs) {
        graph_by_name.insert(i.name.as_str(), a);
    }
    for (lt, g) in layer_tensors.iter().zip(&graph_values) {
        graph_by_name.insert(lt.layer.as_str(), g);
    }
    // Per layer: the first layer at or above it that fails in isolation.
    let mut root_cause: HashMap<String, String> = HashMap::new();
    let mut layer_tolerance: HashMap<&str, Tolerance> = HashMap::new();
    settings.progress.layers(layer_tensors.len() as u64);
    for (lt, g) in layer_tensors.iter().zip(&graph_values) {
        settings.progress.layer(&lt.layer);
        let (tol, from) = settings
            .overrides
            .for_layer(&lt.layer, &lt.class_name, opts.tolerance);
        layer_tolerance.insert(lt.layer.as_str(), tol);
        let is_output = conv.model.outputs.contains(&lt.layer);
        let base = LayerReport {
            name: lt.layer.clone(),
            class_name: lt.class_name.clone(),
            tf_node: lt.tensor.to_string(),
            tf_nodes: lt.nodes.clone(),
            status: Status::Error,
            max_abs: None,
            max_rel: None,
            mean_abs: None,
            cosine: None,
            out_of_tolerance: None,
            elements: None,
            detail: None,
            extra: None,
            is_output,
            sensitivity: None,
            isolated: None,
            downstream_of: None,
        };
        let mut row = match keras_values.get(&lt.layer) {
            None => LayerReport {
                detail: Some(match keras_run.failure(&lt.layer) {
                    Some(f) => format!("the Keras layer cannot run: {f}"),
                    None => "the interpreter produced no value".into(),
                }),
                ..base
            },
            Some(k) => match compare::compare(k, g, tol) {
                Ok(mut m) => {
                    m.extra.tolerance_from = from.clone();
                    if is_output {
                        m.extra.top1_agreement = compare::top1_agreement(k, g);
                    }
                    base.from_metrics(&m)
                }
                Err(e) => LayerReport {
                    detail: Some(e),
                    ..base
                },
            },
        };
        let layer = conv.model.layer(&lt.layer);
        let mut isolated = isolated_check(layer, &graph_by_name, g, tol.isolated());
        if let Some(e) = isolated.extra.as_mut() {
            e.tolerance_from = from;
        }
        let inbound = layer.map(|l| l.inbound.clone()).unwrap_or_default();
        if isolated.status != Status::Pass {
            root_cause.insert(lt.layer.clone(), lt.layer.clone());
        } else if let Some(cause) = inbound.iter().find_map(|i| root_cause.get(i)).cloned() {
            if row.status != Status::Pass {
                row.downstream_of = Some(cause.clone());
            }
            root_cause.insert(lt.layer.clone(), cause);
        }
        row.isolated = Some(isolated);
        report.layers.push(row);
    }
    // Errors that only accumulate, with no layer wrong by itself: drift when
    // the graph's own sensitivity explains them (see `drift`).
    let isolated_failure = report.layers.iter().any(|l| {
        l.isolated
            .as_ref()
            .is_some_and(|i| i.status != Status::Pass)
    });
    if !isolated_failure && report.layers.iter().any(|l| l.status == Status::Fail) {
        settings
            .progress
            .stage("measuring the graph's own sensitivity");
        let nudged = drift::nudge(&conv.model, &inputs, opts.seed);
        let moved = oracle.run(&nudged)?;
        report.drift = mark_drift(&mut report.layers, &graph_values, &moved);
    }
    // The first layer that is wrong by itself; failing that (errors that only
    // accumulate beyond drift), the first that fails at all.
    let first = report
        .layers
        .iter()
        .find(|l| {
            l.isolated
                .as_ref()
                .is_some_and(|i| i.status != Status::Pass)
        })
        .or_else(|| {
            report
                .layers
                .iter()
                .find(|l| !matches!(l.status, Status::Pass | Status::Drift))
        })
        .map(|l| l.name.clone());
    settings.progress.stage("diagnosing");
    report.first_divergence = first.map(|name| {
        let tol = layer_tolerance
            .get(name.as_str())
            .copied()
            .unwrap_or(opts.tolerance);
        let causes = diagnose_layer(conv, &name, &graph_by_name, tol.isolated());
        FirstDivergence {
            layer: name,
            causes,
        }
    });
    if report.first_divergence.is_some() {
        report.verdict = Verdict::Fail;
    } else if report.drift.is_some() {
        report.verdict = Verdict::Drift;
    }
    timings.total_ms = ms(start);
    report.timings = timings;
    write_report(&report, &opts.out_dir)?;
    Ok(report)
}

/// Records each layer's sensitivity (its graph tensor's change when the
/// inputs move by one ulp: `moved` against `graph_values`, both in layer
/// order) and turns the cumulative failures it explains into
/// [`Status::Drift`]; returns the summary when any layer drifts. Only for a
/// run where no layer fails in isolation (the caller checks).
fn mark_drift(
    layers: &mut [LayerReport],
    graph_values: &[ArrayD<f32>],
    moved: &[ArrayD<f32>],
) -> Option<DriftSummary> {
    let mut summary: Option<DriftSummary> = None;
    for ((row, g), m) in layers.iter_mut().zip(graph_values).zip(moved) {
        let s = drift::sensitivity(g, m);
        row.sensitivity = Some(s);
        let Some(max_abs) = row.max_abs else { continue };
        if row.status != Status::Fail || !drift::drifts(max_abs, s) {
            continue;
        }
        row.status = Status::Drift;
        let d = summary.get_or_insert_with(|| DriftSummary {
            first_layer: row.name.clone(),
            layers: 0,
            worst_ratio: 0.0,
            factor: drift::DRIFT_FACTOR,
        });
        d.layers += 1;
        d.worst_ratio = d.worst_ratio.max(max_abs / s);
    }
    summary
}

/// Hypotheses on the failing layer alone, fed the graph's values.
fn diagnose_layer(
    conv: &Conversion,
    name: &str,
    graph_by_name: &HashMap<&str, &ArrayD<f32>>,
    tol: Tolerance,
) -> Vec<diagnose::Cause> {
    let other = |detail: String| {
        vec![diagnose::Cause {
            kind: diagnose::CauseKind::Other,
            detail,
            max_abs_after_fix: f32::INFINITY,
        }]
    };
    let Some(layer) = conv.model.layer(name) else {
        return other(format!("layer '{name}' is not in the model"));
    };
    let Some(expected) = graph_by_name.get(name) else {
        return other(format!("no graph value for layer '{name}'"));
    };
    let mut ins = Vec::with_capacity(layer.inbound.len());
    for i in &layer.inbound {
        match graph_by_name.get(i.as_str()) {
            Some(v) => ins.push(*v),
            None => return other(format!("no graph value for its input '{i}'")),
        }
    }
    let ctx = diagnose::Context {
        model: &conv.model,
        values: graph_by_name,
    };
    diagnose::diagnose(layer, &ins, expected, tol, &ctx)
}

/// Runs one Keras layer on the original graph's values of its inputs and
/// compares with the graph's value of its output: only the layer's own error
/// shows.
fn isolated_check(
    layer: Option<&keras::Layer>,
    graph_by_name: &HashMap<&str, &ArrayD<f32>>,
    expected: &ArrayD<f32>,
    tol: Tolerance,
) -> Check {
    let fail = |detail: String| Check {
        status: Status::Error,
        max_abs: None,
        max_rel: None,
        mean_abs: None,
        cosine: None,
        out_of_tolerance: None,
        detail: Some(detail),
        extra: None,
    };
    let Some(layer) = layer else {
        return fail("the layer is not in the model".into());
    };
    let mut ins = Vec::with_capacity(layer.inbound.len());
    for name in &layer.inbound {
        match graph_by_name.get(name.as_str()) {
            Some(v) => ins.push(*v),
            None => return fail(format!("no graph value for its input '{name}'")),
        }
    }
    match interp::run_layer(layer, &ins) {
        Err(e) => fail(e.to_string()),
        Ok(v) => match compare::compare(&v, expected, tol) {
            Ok(m) => Check::from(&m),
            Err(e) => fail(e),
        },
    }
}

fn write_report(report: &Report, dir: &Path) -> Result<(), VerifyError> {
    let path = dir.join("report.json");
    report.write_json(&path).map_err(|source| VerifyError::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr1;

    fn row(name: &str, status: Status, max_abs: f32) -> LayerReport {
        LayerReport {
            name: name.into(),
            class_name: "Dense".into(),
            tf_node: format!("{name}:0"),
            tf_nodes: vec![name.into()],
            status,
            max_abs: Some(max_abs),
            max_rel: None,
            mean_abs: None,
            cosine: None,
            out_of_tolerance: None,
            elements: Some(2),
            detail: None,
            extra: None,
            is_output: false,
            sensitivity: None,
            isolated: None,
            downstream_of: None,
        }
    }

    #[test]
    fn only_failures_within_the_graphs_sensitivity_drift() {
        let mut layers = vec![
            row("ok", Status::Pass, 0.0),
            row("amplified", Status::Fail, 0.5),
            row("too_far", Status::Fail, 5.0),
            row("insensitive", Status::Fail, 1e-3),
        ];
        let g = |v: f32| arr1(&[v, 1.0]).into_dyn();
        let graph = [g(0.0), g(0.0), g(0.0), g(0.0)];
        // The nudged run moves the first three by 0.1 and the last not at all.
        let moved = [g(0.1), g(0.1), g(-0.1), g(0.0)];
        let d = mark_drift(&mut layers, &graph, &moved).expect("one layer drifts");
        let status: Vec<Status> = layers.iter().map(|l| l.status).collect();
        assert_eq!(
            status,
            [Status::Pass, Status::Drift, Status::Fail, Status::Fail]
        );
        assert_eq!(layers[0].sensitivity, Some(0.1));
        assert_eq!(layers[3].sensitivity, Some(0.0));
        assert_eq!((d.first_layer.as_str(), d.layers), ("amplified", 1));
        assert!((d.worst_ratio - 5.0).abs() < 1e-5, "{}", d.worst_ratio);
    }
}
