//! Stage 4a: the original graph (tract, through [`crate::oracle`]) run on the
//! inputs with every mapped TF tensor exposed.

use super::{VerifyError, VerifyOptions, VerifySettings, ms};
use crate::convert::{Conversion, LayerTensor};
use crate::oracle::{Oracle, OracleInput};
use crate::report::Timings;
use ndarray::ArrayD;
use std::time::Instant;

/// The graph's run: the loaded oracle (the drift check runs it again) and
/// its value of every layer tensor, in [`layer_tensors`] order.
pub(super) struct GraphRun {
    pub oracle: Oracle,
    pub values: Vec<ArrayD<f32>>,
}

/// The layers' TF tensors, model inputs aside: what the oracle exposes and
/// what is compared, in this order.
pub(super) fn layer_tensors(conv: &Conversion) -> Vec<&LayerTensor> {
    conv.tensors
        .iter()
        .filter(|t| t.class_name != "InputLayer")
        .collect()
}

/// Loads `opts.model` into tract and runs it once on `inputs`.
pub(super) fn run(
    opts: &VerifyOptions,
    settings: &VerifySettings,
    conv: &Conversion,
    layer_tensors: &[&LayerTensor],
    inputs: &[ArrayD<f32>],
    timings: &mut Timings,
) -> Result<GraphRun, VerifyError> {
    let oracle_inputs: Vec<OracleInput> = conv
        .model
        .inputs
        .iter()
        .zip(inputs)
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
    let values = oracle.run(inputs)?;
    timings.oracle_run_ms = ms(t);
    Ok(GraphRun { oracle, values })
}
