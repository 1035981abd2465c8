//! Stage 6's data: the report's skeleton (run settings, inputs, outputs,
//! layer counts), the unsupported-ops case, and the final verdict. Rendering
//! lives in [`crate::report`]; writing in [`super::write`].

use super::{VerifyError, VerifyOptions, VerifySettings};
use crate::convert::{self, Conversion};
use crate::graph::Graph;
use crate::report::{
    FallbackLayer, InputSpec, OutputSpec, Report, Timings, UnsupportedOp, Verdict,
};
use ndarray::ArrayD;

/// The report before anything runs: settings, the model's inputs with their
/// nominal shapes (batch `opts.samples`, open dimensions 1), verdict PASS.
pub(super) fn skeleton(
    opts: &VerifyOptions,
    settings: &VerifySettings,
    conv: &Conversion,
) -> Report {
    let fallback_layers = FallbackLayer::of(conv);
    Report {
        schema_version: crate::report::SCHEMA_VERSION,
        thaw_version: env!("CARGO_PKG_VERSION").to_string(),
        model: opts.model.display().to_string(),
        verdict: Verdict::Pass,
        seed: opts.seed,
        samples: opts.samples,
        graph_batch: None,
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
        native_layers: conv.model.layers.len() - fallback_layers.len(),
        fallback_layers,
        keras_file: None,
        files: Vec::new(),
        timings: Timings::default(),
    }
}

/// Nothing runs when ops are unsupported: the verdict says so and lists them.
pub(super) fn unsupported(report: &mut Report, conv: &Conversion) {
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
}

/// The inputs' actual shapes and batch (`--inputs` may change them).
pub(super) fn record_inputs(report: &mut Report, inputs: &[ArrayD<f32>], samples: usize) {
    for (spec, a) in report.inputs.iter_mut().zip(inputs) {
        spec.shape = a.shape().to_vec();
    }
    report.samples = inputs
        .first()
        .and_then(|a| a.shape().first().copied())
        .unwrap_or(samples);
}

/// The graph's outputs, each with the Keras layer that computes it.
pub(super) fn graph_outputs(
    graph: &Graph,
    opts: &VerifyOptions,
    conv: &Conversion,
) -> Result<Vec<OutputSpec>, VerifyError> {
    let (_, sinks) = convert::graph_io(graph, &opts.convert)?;
    Ok(sinks
        .iter()
        .zip(&conv.model.outputs)
        .map(|(t, layer)| OutputSpec {
            tensor: t.to_string(),
            layer: layer.clone(),
        })
        .collect())
}

/// FAIL when a layer diverges, else DRIFT when drift explains every
/// cumulative failure, else the verdict stays PASS.
pub(super) fn verdict(report: &mut Report) {
    if report.first_divergence.is_some() {
        report.verdict = Verdict::Fail;
    } else if report.drift.is_some() {
        report.verdict = Verdict::Drift;
    }
}
