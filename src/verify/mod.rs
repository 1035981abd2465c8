//! The `thaw verify` pipeline: load → convert → write the Keras model → run
//! the original graph (oracle) and the Keras layers (interpreter) on the same
//! seeded inputs → compare every layer → report.
//!
//! This is the only module that sees both witnesses; it hands each one only
//! what it needs (the oracle gets the file and tensor names, the interpreter
//! gets the Keras model) and compares plain arrays.
//!
//! One file per stage of `ARCHITECTURE.md`, each a few short functions that
//! [`verify_models`] (and [`verify_keras_with`]) call in order:
//! - [`load`]: load the graph and convert it (the two first stages, timed);
//! - [`inputs`]: the inputs both witnesses run on (seeded or `--inputs`);
//! - [`write`]: the output folder, the Keras model (`.h5`, and `.keras`,
//!   `.py` with `--formats`) and `report.json`;
//! - [`oracle`]: the original graph's value at every mapped tensor;
//! - [`interpret`]: the Keras layers' values (the reference interpreter);
//! - [`compare`]: every layer cumulatively and in isolation, drift, the first
//!   divergence and its diagnosis ([`drift`] holds the sensitivity measure);
//! - [`dump`]: `--dump-values`, both sides' values as one `.npz` per sample;
//! - [`report`]: the report's skeleton, inputs/outputs and verdict;
//! - [`user_model`]: `--keras FILE`, a user's model aligned with the
//!   conversion and checked in its place.

mod compare;
pub mod drift;
pub mod dump;
pub mod inputs;
mod interpret;
mod load;
mod oracle;
mod report;
mod user_model;
mod witness;
mod write;

pub use inputs::{InputDist, random_inputs};
pub use load::load_and_convert;
pub use oracle::Timeout;
pub use user_model::{KerasAlignment, LayerWeights};

use crate::compare::Tolerance;
use crate::compare::overrides::Overrides;
use crate::convert::{self, Conversion, ConvertOptions};
use crate::graph::{Graph, GraphError};
use crate::interp;
use crate::keras;
use crate::report::progress::Progress;
use crate::report::{Report, Timings};
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
    /// The time budget of preparing and running the original graph
    /// (`--timeout`, default 300 s); see the [`oracle`] stage.
    pub timeout: Timeout,
    /// `--keras`: judge on numbers alone; config and weight findings are
    /// still reported but do not make the verdict `fail` (`--numeric-only`).
    pub numeric_only: bool,
    /// `--formats`: the model formats written beside the `.h5` (which is
    /// always written); ignored with `--keras`.
    pub formats: Vec<keras::formats::Format>,
    /// `--dump-values DIR`: one `.npz` per sample with both sides' value of
    /// every compared tensor (see [`dump`]).
    pub dump_values: Option<PathBuf>,
    /// `--keras`: where the user's file is read: in this process (the
    /// default), or, as the command line does, in a child process that a
    /// crash or loop of the HDF5 library cannot take down
    /// ([`keras::isolate`]).
    pub keras_reader: keras::isolate::Reader,
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
    /// The time budget (`--timeout`) ran out; exit 5.
    #[error(
        "time budget of {seconds} s (--timeout) ran out while {stage}; nothing was compared. \
         Raise --timeout if the graph is just large"
    )]
    Timeout { stage: &'static str, seconds: f64 },
    /// The child process reading `--keras FILE` failed (exit 4).
    #[error("{0}")]
    KerasReader(String),
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
        match self {
            VerifyError::Graph(_) | VerifyError::Convert(_) | VerifyError::Usage(_) => true,
            // Over the memory budget inside tract, a damaged attribute.
            VerifyError::Oracle(e) => e.is_user_error(),
            _ => false,
        }
    }
}

/// Milliseconds since `t`, for [`Timings`].
fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
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
    let bytes = load::read(opts)?;
    let early = oracle::EarlyDecode::start(opts, bytes.clone());
    let (mut graph, conv, timings) = load::load_and_convert_timed(opts, bytes, start)?;
    // The Keras IR holds the weights now: the file's buffer goes.
    graph.release_constant_values();
    let first = FirstHalf {
        timings,
        start,
        early,
    };
    let report = verify_models(opts, settings, &graph, &conv, None, first);
    // The caller renders the report next (and reads the graph's node names
    // again): the graph, the Keras IR and what they held go back now.
    drop((graph, conv));
    crate::budget::return_freed_memory();
    report
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
        FirstHalf {
            timings,
            start,
            early: oracle::EarlyDecode::none(),
        },
    )
}

/// `thaw verify MODEL --keras FILE`: verifies a user's Keras model (`.h5`,
/// Keras 2 or 3) against the graph instead of thaw's own conversion. The
/// conversion is still made, for its layer ↔ TF tensor map: the user's layers
/// are aligned with the converted ones ([`crate::compare::align::align`]),
/// their weights compared with the graph's constants, and every aligned layer
/// checked cumulatively and in isolation against its twin's TF tensor. An
/// unaligned weightless user layer is compared, as an identity, with its
/// input's twin; every unaligned layer is listed in `report.unaligned` with
/// what still checks it, and one nothing checks (a graph output no user layer
/// computes, a user layer no graph layer matches) makes the verdict FAIL.
/// Writes `report.json` and `alignment.json` (pairs, unaligned layers, weight
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
    let bytes = load::read(opts)?;
    let early = oracle::EarlyDecode::start(opts, bytes.clone());
    let (mut graph, conv, timings) = load::load_and_convert_timed(opts, bytes, start)?;
    // The Keras IR holds the weights now: the file's buffer goes.
    graph.release_constant_values();
    let user = user_model::read(
        keras_file,
        &conv,
        &settings.keras_reader,
        settings.timeout.0,
    )?;
    let aligned = user_model::align(user, &conv, keras_file);
    write::alignment(&opts.out_dir, &aligned.info)?;
    let mut report = verify_models(
        opts,
        settings,
        &graph,
        &aligned.conv,
        Some(keras_file),
        FirstHalf {
            timings,
            start,
            early,
        },
    )?;
    user_model::finish_report(
        &mut report,
        &aligned,
        &graph,
        &conv,
        opts,
        settings.numeric_only,
    )?;
    write::report(&report, &opts.out_dir)?;
    drop((graph, conv));
    crate::budget::return_freed_memory();
    Ok((report, aligned.info))
}

/// What the first half (load, convert) hands the second: its timings, the
/// run's start, and the oracle's decode started alongside it.
struct FirstHalf {
    timings: Timings,
    start: Instant,
    early: oracle::EarlyDecode,
}

/// The shared second half: `keras_file` is the user's model when given (then
/// nothing is written but the report), else `conv.model` is written as .h5.
fn verify_models(
    opts: &VerifyOptions,
    settings: &VerifySettings,
    graph: &Graph,
    conv: &Conversion,
    keras_file: Option<&Path>,
    first: FirstHalf,
) -> Result<Report, VerifyError> {
    let FirstHalf {
        mut timings,
        start,
        early,
    } = first;
    let t = Instant::now();
    let mut report = report::skeleton(opts, settings, conv);
    write::out_dir(&opts.out_dir)?;
    if !conv.unsupported.is_empty() {
        report::unsupported(&mut report, conv);
        return finish(report, timings, start, opts);
    }
    compare::check_overrides(settings, conv)?;
    let inputs = inputs::for_run(opts, settings, conv)?;
    let batch = graph.static_batch();
    oracle::check_batch(batch, &inputs, settings.inputs_file.is_some())?;
    report.graph_batch = batch;
    report::record_inputs(&mut report, &inputs, opts.samples);
    report.outputs = report::graph_outputs(graph, opts, conv)?;
    timings.prepare_ms = ms(t);

    // The original graph is prepared and run on a worker thread while this
    // one writes the .h5 and runs the interpreter (the two cores at once).
    let layer_tensors = oracle::layer_tensors(conv);
    let pending = oracle::start(opts, settings, conv, &layer_tensors, &inputs, batch, early)?;
    let t = Instant::now();
    let written = write::keras_model(opts, settings, conv, keras_file);
    timings.write_keras_ms = ms(t);
    // The writer's buffers (the .h5 library's, the weights' bytes) go back
    // while the oracle still prepares on the other thread.
    crate::budget::return_freed_memory();
    let keras_run = written.and_then(|(model_file, files)| {
        report.keras_file = Some(model_file);
        report.files = files;
        let run = interpret::run(settings, conv, &inputs, keras_file, &mut timings);
        // And the interpreter's intermediates, before the wait for the oracle.
        crate::budget::return_freed_memory();
        run
    });
    // The graph's errors (and the time budget) come first, as when the
    // stages ran one after the other.
    let graph_run = pending.wait(&mut timings)?;
    let keras_run = keras_run?;
    // What the two runs allocated and freed (the oracle's chunk values, the
    // interpreter's intermediates) goes back before comparison.
    crate::budget::return_freed_memory();
    if let Some(dir) = &settings.dump_values {
        let arrays = dump::Values {
            inputs: &inputs,
            layer_tensors: &layer_tensors,
            graph: &graph_run.values,
            keras: &keras_run,
        };
        report.files.extend(dump::write(dir, conv, &arrays)?);
    }

    let values = compare::graph_by_name(conv, &inputs, &layer_tensors, &graph_run.values);
    let checked = compare::layers(
        opts,
        settings,
        conv,
        &layer_tensors,
        &graph_run.values,
        &keras_run,
        &values,
    );
    timings.compare_ms = checked.compare_ms;
    timings.isolated_ms = checked.isolated_ms;
    report.layers = checked.rows;
    let t = Instant::now();
    report.drift = compare::drift(
        opts,
        settings,
        conv,
        &inputs,
        &graph_run,
        &mut report.layers,
    )?;
    timings.drift_ms = ms(t);
    let t = Instant::now();
    settings.progress.stage("diagnosing");
    let runs = compare::diagnosis_runs(opts, settings, conv, &graph_run, &report.layers)?;
    let more: Vec<_> = runs
        .iter()
        .map(|(inputs, values)| compare::graph_by_name(conv, inputs, &layer_tensors, values))
        .collect();
    // A masked model's hypotheses need the masks of the extra runs' samples
    // too (the interpreter's: they follow from the inputs).
    let more_masks: Vec<compare::Masks> = if keras_run.masks.is_empty() {
        Vec::new()
    } else {
        runs.iter()
            .map(|(inputs, _)| {
                interp::run_all(&conv.model, inputs)
                    .map(|r| r.masks)
                    .unwrap_or_default()
            })
            .collect()
    };
    report.first_divergence = compare::first_divergence(
        opts,
        conv,
        &report.layers,
        &checked.tolerance,
        (&values, &keras_run.masks),
        &more,
        &more_masks,
    );
    report::verdict(&mut report);
    // thaw's own conversion: its activations against the graph's ops, which
    // name what the seeded inputs cannot show (`--keras` compares the user's
    // layers with that conversion instead).
    if keras_file.is_none() {
        report.findings = witness::activation_findings(graph, conv);
        if !report.findings.is_empty()
            && !settings.numeric_only
            && report.verdict != crate::report::Verdict::Unsupported
        {
            report.verdict = crate::report::Verdict::Fail;
        }
    }
    timings.diagnose_ms = ms(t);
    finish(report, timings, start, opts)
}

/// Records the total time and writes `report.json`, then `timings.json`.
fn finish(
    mut report: Report,
    mut timings: Timings,
    start: Instant,
    opts: &VerifyOptions,
) -> Result<Report, VerifyError> {
    timings.close(ms(start));
    report.timings = timings;
    let t = Instant::now();
    write::report(&report, &opts.out_dir)?;
    write::timings(&report.timings, &opts.out_dir)?;
    for line in report.timings.lines() {
        log::debug!("timings: {line}");
    }
    log::debug!("timings: writing report.json took {:.1} ms", ms(t));
    Ok(report)
}
