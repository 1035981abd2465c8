//! Stage 4b: the Keras layers run by the reference interpreter
//! ([`crate::interp`]) on the same inputs.

use super::{VerifyError, VerifySettings, ms};
use crate::convert::Conversion;
use crate::interp;
use crate::report::Timings;
use ndarray::ArrayD;
use std::path::Path;
use std::time::Instant;

/// Runs every layer of `conv.model`. A layer that cannot run (a wrong padding
/// makes a later Add see two shapes) gets no value and a reason; the other
/// layers still run, and every layer is still judged, in isolation too.
pub(super) fn run(
    settings: &VerifySettings,
    conv: &Conversion,
    inputs: &[ArrayD<f32>],
    keras_file: Option<&Path>,
    timings: &mut Timings,
) -> Result<interp::Run, VerifyError> {
    let t = Instant::now();
    settings.progress.stage("running the Keras layers");
    let run = interp::run_all(&conv.model, inputs).map_err(|e| match keras_file {
        // The user's model as a whole cannot run: their input, not thaw's.
        Some(f) => VerifyError::Usage(format!("--keras {}: {e}", f.display())),
        None => VerifyError::Interp(e),
    })?;
    timings.interp_run_ms = ms(t);
    Ok(run)
}
