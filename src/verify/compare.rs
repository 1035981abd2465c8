//! Stage 5: every layer judged twice — cumulatively (each side on its own
//! inputs) and in isolation (the Keras layer fed the graph's values of its
//! inputs) — then drift ([`super::drift`]) when only cumulative failures
//! remain, and the first divergence with its diagnosis.

use super::oracle::GraphRun;
use super::{VerifyError, VerifyOptions, VerifySettings, drift, ms};
use crate::compare::diagnose;
use crate::compare::{self, Tolerance};
use crate::convert::{Conversion, LayerTensor};
use crate::interp;
use crate::keras;
use crate::report::{Check, DriftSummary, FirstDivergence, LayerReport, Status};
use ndarray::ArrayD;
use std::collections::HashMap;
use std::time::Instant;

/// The original graph's value of every layer output and model input, by
/// Keras name: what isolated checks feed each layer.
pub(super) type GraphValues<'a> = HashMap<&'a str, &'a ArrayD<f32>>;

/// Per-layer tolerance overrides must name layers of the model.
pub(super) fn check_overrides(
    settings: &VerifySettings,
    conv: &Conversion,
) -> Result<(), VerifyError> {
    let names: Vec<&str> = conv.model.layers.iter().map(|l| l.name.as_str()).collect();
    settings
        .overrides
        .check_layers(&names)
        .map_err(|e| VerifyError::Usage(e.to_string()))
}

/// [`GraphValues`] from the inputs and the oracle's values (in
/// `layer_tensors` order).
pub(super) fn graph_by_name<'a>(
    conv: &'a Conversion,
    inputs: &'a [ArrayD<f32>],
    layer_tensors: &[&'a LayerTensor],
    graph_values: &'a [ArrayD<f32>],
) -> GraphValues<'a> {
    let mut by_name = HashMap::new();
    for (i, a) in conv.model.inputs.iter().zip(inputs) {
        by_name.insert(i.name.as_str(), a);
    }
    for (lt, g) in layer_tensors.iter().zip(graph_values) {
        by_name.insert(lt.layer.as_str(), g);
    }
    by_name
}

/// The rows of [`layers`] and the tolerance each layer was judged with.
pub(super) struct Checked<'a> {
    pub rows: Vec<LayerReport>,
    pub tolerance: HashMap<&'a str, Tolerance>,
    /// Wall milliseconds of every check, and the isolated runs' share of
    /// them summed over the threads.
    pub compare_ms: f64,
    pub isolated_ms: f64,
}

/// Judges every layer, cumulatively and in isolation; a layer passing in
/// isolation whose cumulative check fails is marked downstream of the first
/// layer above it that fails in isolation. The layers are checked on every
/// core (each check reads only its own layer's values), then linked in
/// order.
pub(super) fn layers<'a>(
    opts: &VerifyOptions,
    settings: &VerifySettings,
    conv: &Conversion,
    layer_tensors: &[&'a LayerTensor],
    graph_values: &[ArrayD<f32>],
    keras_run: &interp::Run,
    values: &GraphValues,
) -> Checked<'a> {
    let start = Instant::now();
    let tolerance: HashMap<&str, Tolerance> = layer_tensors
        .iter()
        .map(|lt| {
            let (tol, _) = settings
                .overrides
                .for_layer(&lt.layer, &lt.class_name, opts.tolerance);
            (lt.layer.as_str(), tol)
        })
        .collect();
    settings.progress.layers(layer_tensors.len() as u64);
    let check = |k: usize| {
        let (lt, g) = (layer_tensors[k], &graph_values[k]);
        let (tol, from) = settings
            .overrides
            .for_layer(&lt.layer, &lt.class_name, opts.tolerance);
        let is_output = conv.model.outputs.contains(&lt.layer);
        let mut row = cumulative_check(lt, g, keras_run, tol, from.clone(), is_output);
        let t = Instant::now();
        let mut isolated = isolated_check(
            conv.model.producer(&lt.layer),
            values,
            &keras_run.masks,
            g,
            tol.isolated(),
        );
        let isolated_ms = ms(t);
        if let Some(e) = isolated.extra.as_mut() {
            e.tolerance_from = from;
        }
        row.isolated = Some(isolated);
        (row, isolated_ms)
    };
    let n = layer_tensors.len().min(graph_values.len());
    let threads = std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .clamp(1, n.max(1));
    // Thread `w` checks layers w, w + threads, …: big and small layers mix.
    let mut checked: Vec<Option<(LayerReport, f64)>> = (0..n).map(|_| None).collect();
    std::thread::scope(|scope| {
        let check = &check;
        let workers: Vec<_> = (1..threads)
            .map(|w| {
                scope.spawn(move || {
                    (w..n)
                        .step_by(threads)
                        .map(|k| (k, check(k)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for k in (0..n).step_by(threads) {
            checked[k] = Some(check(k));
        }
        for w in workers {
            // A panic in a check is thaw's bug: passed on as such.
            let done = w.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            for (k, c) in done {
                checked[k] = Some(c);
            }
        }
    });
    // Per layer: the first layer at or above it that fails in isolation.
    let mut root_cause: HashMap<String, String> = HashMap::new();
    let mut rows = Vec::with_capacity(n);
    let mut isolated_ms = 0.0;
    for (lt, c) in layer_tensors.iter().zip(checked) {
        let Some((mut row, iso_ms)) = c else { continue };
        settings.progress.layer(&lt.layer);
        isolated_ms += iso_ms;
        let passed = row
            .isolated
            .as_ref()
            .is_some_and(|i| i.status == Status::Pass);
        let inbound = conv
            .model
            .producer(&lt.layer)
            .map(|(l, _)| l.inbound.as_slice())
            .unwrap_or_default();
        if !passed {
            root_cause.insert(lt.layer.clone(), lt.layer.clone());
        } else if let Some(cause) = inbound.iter().find_map(|i| root_cause.get(i)).cloned() {
            if row.status != Status::Pass {
                row.downstream_of = Some(cause.clone());
            }
            root_cause.insert(lt.layer.clone(), cause);
        }
        row.inbound = inbound.to_vec();
        rows.push(row);
    }
    Checked {
        rows,
        tolerance,
        compare_ms: ms(start),
        isolated_ms,
    }
}

/// The interpreter's value of the layer against the graph's (`g`).
fn cumulative_check(
    lt: &LayerTensor,
    g: &ArrayD<f32>,
    keras_run: &interp::Run,
    tol: Tolerance,
    from: Option<String>,
    is_output: bool,
) -> LayerReport {
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
        inbound: Vec::new(),
    };
    match keras_run.values.get(&lt.layer) {
        None => LayerReport {
            detail: Some(match keras_run.failure(&lt.layer) {
                Some(f) => format!("the Keras layer cannot run: {f}"),
                None => "the interpreter produced no value".into(),
            }),
            ..base
        },
        Some(k) => match compare::compare(k, g, tol) {
            Ok(mut m) => {
                m.extra.tolerance_from = from;
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
    }
}

/// Runs one Keras layer on the original graph's values of its inputs and
/// compares with the graph's value of its output: only the layer's own error
/// shows. Its inputs' Keras masks are the interpreter's (`masks`): a mask
/// comes from the model inputs (`Embedding(mask_zero)`'s ids), which both
/// sides share.
fn isolated_check(
    layer: Option<(&keras::Layer, usize)>,
    graph_by_name: &GraphValues,
    masks: &HashMap<String, ArrayD<bool>>,
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
    let Some((layer, output)) = layer else {
        return fail("the layer is not in the model".into());
    };
    let mut ins = Vec::with_capacity(layer.inbound.len());
    for name in &layer.inbound {
        match graph_by_name.get(name.as_str()) {
            Some(v) => ins.push(*v),
            None => return fail(format!("no graph value for its input '{name}'")),
        }
    }
    let in_masks: Vec<Option<&ArrayD<bool>>> = layer.inbound.iter().map(|n| masks.get(n)).collect();
    let outputs = interp::run_layer_outputs(layer, &ins, &in_masks);
    match outputs.map(|mut o| (output < o.len()).then(|| o.swap_remove(output).0)) {
        Err(e) => fail(e.to_string()),
        Ok(None) => fail(format!("the layer has no output {output}")),
        Ok(Some(v)) => {
            match compare::compare_isolated(&v, expected, tol, fan_in(layer, &ins, expected)) {
                Ok(m) => Check::from(&m),
                Err(e) => fail(e),
            }
        }
    }
}

/// The layer's accumulation length on these inputs (see
/// [`keras::Layer::accumulation`]): what its isolated noise bar grows with.
pub(super) fn fan_in(layer: &keras::Layer, ins: &[&ArrayD<f32>], out: &ArrayD<f32>) -> usize {
    let shapes: Vec<&[usize]> = ins.iter().map(|a| a.shape()).collect();
    layer.accumulation(&shapes, out.shape())
}

/// Errors that only accumulate, with no layer wrong by itself: drift when
/// the graph's own sensitivity explains them (see [`drift`]). Runs the graph
/// again on nudged inputs only in that case.
pub(super) fn drift(
    opts: &VerifyOptions,
    settings: &VerifySettings,
    conv: &Conversion,
    inputs: &[ArrayD<f32>],
    graph_run: &GraphRun,
    layers: &mut [LayerReport],
) -> Result<Option<DriftSummary>, VerifyError> {
    let isolated_failure = layers.iter().any(fails_isolated);
    if isolated_failure || !layers.iter().any(|l| l.status == Status::Fail) {
        return Ok(None);
    }
    settings
        .progress
        .stage("measuring the graph's own sensitivity");
    let moved = (0..drift::NUDGES)
        .map(|k| {
            let nudged = drift::nudge(&conv.model, inputs, opts.seed.wrapping_add(k));
            graph_run.oracle.run(&nudged)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(mark_drift(layers, &graph_run.values, &moved))
}

/// Records each layer's sensitivity (its graph tensor's largest change when
/// the inputs move by one ulp: each run of `moved` against `graph_values`,
/// all in layer order) and turns the cumulative failures it explains into
/// [`Status::Drift`]; returns the summary when any layer drifts. Only for a
/// run where no layer fails in isolation (the caller checks).
fn mark_drift(
    layers: &mut [LayerReport],
    graph_values: &[ArrayD<f32>],
    moved: &[Vec<ArrayD<f32>>],
) -> Option<DriftSummary> {
    let mut summary: Option<DriftSummary> = None;
    for (i, (row, g)) in layers.iter_mut().zip(graph_values).enumerate() {
        let s = moved
            .iter()
            .filter_map(|run| run.get(i))
            .map(|m| drift::sensitivity(g, m))
            .fold(0.0, f32::max);
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

/// The first layer that is wrong by itself; failing that (errors that only
/// accumulate beyond drift), the first that fails at all — with the
/// hypotheses on what is wrong with it.
/// The layer fails in isolation (fed the graph's values of its inputs).
fn fails_isolated(l: &LayerReport) -> bool {
    l.isolated
        .as_ref()
        .is_some_and(|i| i.status != Status::Pass)
}

/// The layer's cumulative check neither passes nor is explained as drift.
fn fails_cumulative(l: &LayerReport) -> bool {
    !matches!(l.status, Status::Pass | Status::Drift)
}

/// How many more runs of the graph, on freshly seeded inputs of the same
/// shapes, feed the diagnosis of a failing layer, besides the verified
/// samples: hypotheses that fit values (a bias inside an LSTM's gates, from
/// its last step only: 4 samples × 4·units outputs for 4·units biases) need
/// more equations than unknowns to tell a bias from another fault
/// (`src/compare/hypotheses.rs`). Three runs make 4× the samples; they cost
/// three runs of the graph, and only on a model that fails.
pub(super) const DIAGNOSIS_RUNS: u64 = 3;

/// One run of the graph: its inputs, and its value of every layer tensor.
pub(super) type InputsAndValues = (Vec<ArrayD<f32>>, Vec<ArrayD<f32>>);

/// The graph's values on [`DIAGNOSIS_RUNS`] more sets of seeded inputs (the
/// verified samples' shapes, seeds after `--seed`), for the diagnosis of a
/// failing model; none when the inputs came from `--inputs` (the user's
/// domain is theirs: random inputs could leave it) or nothing fails.
pub(super) fn diagnosis_runs(
    opts: &VerifyOptions,
    settings: &VerifySettings,
    conv: &Conversion,
    graph_run: &GraphRun,
    layers: &[LayerReport],
) -> Result<Vec<InputsAndValues>, VerifyError> {
    let fails = layers
        .iter()
        .any(|l| fails_isolated(l) || fails_cumulative(l));
    if !fails || settings.inputs_file.is_some() {
        return Ok(Vec::new());
    }
    (1..=DIAGNOSIS_RUNS)
        .map(|k| {
            let inputs = super::inputs::seeded_inputs(
                &conv.model,
                opts.samples,
                opts.seed.wrapping_add(k),
                opts.input_range,
                settings.input_dist,
            )
            .map_err(VerifyError::Usage)?;
            let values = graph_run.oracle.run(&inputs)?;
            Ok((inputs, values))
        })
        .collect()
}

pub(super) fn first_divergence(
    opts: &VerifyOptions,
    conv: &Conversion,
    layers: &[LayerReport],
    tolerance: &HashMap<&str, Tolerance>,
    (values, masks): (&GraphValues, &Masks),
    more: &[GraphValues],
    more_masks: &[Masks],
) -> Option<FirstDivergence> {
    let first = layers
        .iter()
        .find(|l| fails_isolated(l))
        .or_else(|| layers.iter().find(|l| fails_cumulative(l)))?;
    let name = first.name.clone();
    let tol = tolerance
        .get(name.as_str())
        .copied()
        .unwrap_or(opts.tolerance);
    let causes = diagnose_layer(
        conv,
        &name,
        (values, masks),
        more,
        more_masks,
        tol.isolated(),
    );
    Some(FirstDivergence {
        layer: name,
        causes,
    })
}

/// The interpreter's Keras masks, by layer (or input) name.
pub(super) type Masks = HashMap<String, ArrayD<bool>>;

/// Hypotheses on the failing layer alone, fed the graph's values: those of
/// the verified samples followed (along the batch axis) by those of the
/// `more` runs that have the layer's tensors; with a masked model, the masks
/// of its inputs likewise (`more_masks`, one per run).
fn diagnose_layer(
    conv: &Conversion,
    name: &str,
    (graph_by_name, masks): (&GraphValues, &Masks),
    more: &[GraphValues],
    more_masks: &[Masks],
    tol: Tolerance,
) -> Vec<diagnose::Cause> {
    let other = |detail: String| {
        vec![diagnose::Cause {
            kind: diagnose::CauseKind::Other,
            detail,
            max_abs_after_fix: f32::INFINITY,
        }]
    };
    let Some((layer, output)) = conv.model.producer(name) else {
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
        masks,
        output,
    };
    // Every tensor of the layer, batch first, from every run.
    let joined = |name: &str, first: &ArrayD<f32>| -> Option<ArrayD<f32>> {
        let mut views = vec![first.view()];
        for run in more {
            views.push(run.get(name)?.view());
        }
        ndarray::concatenate(ndarray::Axis(0), &views).ok()
    };
    if !more.is_empty()
        && let Some(expected) = joined(name, expected)
        && let Some(ins) = layer
            .inbound
            .iter()
            .zip(&ins)
            .map(|(i, v)| joined(i, v))
            .collect::<Option<Vec<_>>>()
    {
        // The inputs' masks, joined like the values (none when a run lacks one).
        let joined_masks: Masks = layer
            .inbound
            .iter()
            .filter_map(|i| {
                let mut views = vec![masks.get(i)?.view()];
                for m in more_masks {
                    views.push(m.get(i)?.view());
                }
                (views.len() == more.len() + 1)
                    .then(|| ndarray::concatenate(ndarray::Axis(0), &views).ok())
                    .flatten()
                    .map(|m| (i.clone(), m))
            })
            .collect();
        let ctx = diagnose::Context {
            masks: &joined_masks,
            ..ctx
        };
        let ins: Vec<&ArrayD<f32>> = ins.iter().collect();
        return diagnose::diagnose(layer, &ins, &expected, tol, &ctx);
    }
    diagnose::diagnose(layer, &ins, expected, tol, &ctx)
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
            inbound: Vec::new(),
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
        // The nudged runs move the first three by 0.1 (the second layer by
        // 0.05 in one run: the larger change counts) and the last not at all.
        let moved = [
            vec![g(0.1), g(0.05), g(-0.1), g(0.0)],
            vec![g(0.0), g(0.1), g(0.05), g(0.0)],
        ];
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
