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

/// Reads `opts.model` whole, once: the buffer is shared by thaw's own load
/// ([`load_and_convert_timed`]) and the oracle's decode
/// ([`super::oracle::EarlyDecode`]).
pub(super) fn read(opts: &VerifyOptions) -> Result<bytes::Bytes, VerifyError> {
    Ok(crate::graph::read_graph_file(&opts.model)?.into())
}

/// Loads `opts.model` from its `bytes` ([`read`] since `start`) and converts
/// it, timing both stages (the read counts as loading).
pub(super) fn load_and_convert_timed(
    opts: &VerifyOptions,
    bytes: bytes::Bytes,
    start: Instant,
) -> Result<(Graph, Conversion, Timings), VerifyError> {
    let mut timings = Timings::default();
    let graph = Graph::from_file_bytes(bytes, &opts.model, &opts.convert.bindings)?;
    timings.load_ms = ms(start);
    let t = Instant::now();
    let conv = convert::convert(&graph, &opts.convert)?;
    timings.convert_ms = ms(t);
    Ok((graph, conv, timings))
}
