//! Stages 1 and 2: load the GraphDef and convert it to the Keras IR.

use super::{VerifyError, VerifyOptions, ms};
use crate::convert::{self, Conversion, ConvertOptions};
use crate::graph::Graph;
use crate::report::Timings;
use std::path::Path;
use std::time::Instant;

/// Loads and converts; the shared first half of `verify`, `convert` and `inspect`.
pub fn load_and_convert(
    model: &Path,
    opts: &ConvertOptions,
) -> Result<(Graph, Conversion), VerifyError> {
    let graph = Graph::load_with(model, &opts.bindings)?;
    let conv = convert::convert(&graph, opts)?;
    Ok((graph, conv))
}

/// Loads and converts `opts.model`, timing both stages.
pub(super) fn load_and_convert_timed(
    opts: &VerifyOptions,
) -> Result<(Graph, Conversion, Timings), VerifyError> {
    let mut timings = Timings::default();
    let t = Instant::now();
    let graph = Graph::load_with(&opts.model, &opts.convert.bindings)?;
    timings.load_ms = ms(t);
    let t = Instant::now();
    let conv = convert::convert(&graph, &opts.convert)?;
    timings.convert_ms = ms(t);
    Ok((graph, conv, timings))
}
