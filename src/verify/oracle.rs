//! Stage 4a: the original graph (tract, through [`crate::oracle`]) run on the
//! inputs with every mapped TF tensor exposed.
//!
//! The graph runs at ITS batch: a graph frozen with a fixed batch `B`
//! ([`crate::graph::Graph::static_batch`]) is loaded for `B` samples and the
//! `N` samples are fed in `N / B` chunks ([`check_batch`] refuses an `N` that
//! `B` does not divide); a dynamic-batch graph is loaded for all `N` at once.
//!
//! Time budget (`--timeout`): preparing the graph (tract's parsing, analysis,
//! optimisation, loop unrolling) and running it happen on a worker thread; the
//! pipeline waits at most the budget and then gives up with
//! [`VerifyError::Timeout`] naming the stage reached. The worker cannot be
//! stopped from outside (tract has no cancellation), so it is left behind:
//! the command line exits right after reporting the error, which ends it and
//! frees its memory. A stage that finishes after the budget counts as over it
//! too, so the outcome does not depend on when the waiting thread wakes up.

use super::{VerifyError, VerifyOptions, VerifySettings, ms};
use crate::convert::{Conversion, LayerTensor};
use crate::oracle::{Decoded, Oracle, OracleError, OracleInput};
use crate::report::Timings;
use ndarray::ArrayD;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

/// A sample count the graph's fixed batch does not divide is the user's to
/// change (`--samples`, or the batch of `--inputs`): one message, exit 2.
pub(super) fn check_batch(
    batch: Option<usize>,
    inputs: &[ArrayD<f32>],
    from_file: bool,
) -> Result<(), VerifyError> {
    let (Some(b), Some(n)) = (batch, inputs.first().and_then(|a| a.shape().first())) else {
        return Ok(());
    };
    if n % b == 0 {
        return Ok(());
    }
    let what = if from_file {
        format!("--inputs holds {n} samples")
    } else {
        format!("--samples {n}")
    };
    Err(VerifyError::Usage(format!(
        "{what}, but the graph is frozen with a fixed batch of {b} and runs in chunks of {b} \
         samples: use a multiple of {b}"
    )))
}

/// The first half of the oracle's preparation ([`Oracle::decode_file_bytes`]:
/// the file decoded in tract's types), started on a thread of its own before
/// thaw's own load and conversion, which it overlaps: it needs neither the
/// inputs nor the outputs. Its errors are reported only if the pipeline gets
/// that far (thaw's own load names a bad file first).
pub(super) struct EarlyDecode(Option<std::thread::JoinHandle<(Result<Decoded, OracleError>, f64)>>);

impl EarlyDecode {
    /// No early start: [`start`]'s worker decodes the file itself.
    pub(super) fn none() -> Self {
        EarlyDecode(None)
    }

    /// Starts decoding `bytes`, the file `opts.model`'s, for tract. They
    /// are the buffer thaw's own load reads the graph from too (its
    /// constants are slices of it): the file is read once and its bytes are
    /// in memory once, however the two decodings overlap.
    pub(super) fn start(opts: &VerifyOptions, bytes: bytes::Bytes) -> Self {
        let (path, bindings) = (opts.model.clone(), opts.convert.bindings.clone());
        let handle = std::thread::Builder::new()
            .name("thaw-oracle-decode".into())
            .spawn(move || {
                let t = Instant::now();
                let decoded = Oracle::decode_file_bytes(bytes, &path, &bindings);
                (decoded, ms(t))
            });
        EarlyDecode(handle.ok())
    }
}

/// Where the worker is, for the timeout's message.
const PREPARING: u8 = 0;
const RUNNING: u8 = 1;

fn stage_name(stage: u8) -> &'static str {
    if stage == PREPARING {
        "preparing the original graph (tract's parsing, analysis and optimisation)"
    } else {
        "running the original graph"
    }
}

/// The original graph being prepared and run on its worker thread
/// ([`start`]); [`Pending::wait`] collects it.
pub(super) struct Pending {
    rx: mpsc::Receiver<Result<(GraphRun, [f64; 3]), OracleError>>,
    stage: Arc<AtomicU8>,
    start: Instant,
    budget: Duration,
    model: String,
}

/// Starts loading `opts.model` into tract and running it once on `inputs`,
/// at the graph's own `batch` when it has one, on a worker thread: the
/// caller does other work (the `.h5`, the interpreter) meanwhile, on the
/// other core, and then [`Pending::wait`]s, within `settings.timeout`.
pub(super) fn start(
    opts: &VerifyOptions,
    settings: &VerifySettings,
    conv: &Conversion,
    layer_tensors: &[&LayerTensor],
    inputs: &[ArrayD<f32>],
    batch: Option<usize>,
    early: EarlyDecode,
) -> Result<Pending, VerifyError> {
    let oracle_inputs: Vec<OracleInput> = conv
        .model
        .inputs
        .iter()
        .zip(inputs)
        .map(|(i, a)| OracleInput {
            name: i.name.clone(),
            shape: batch
                .into_iter()
                .chain(a.shape().iter().skip(usize::from(batch.is_some())).copied())
                .collect(),
        })
        .collect();
    let outputs: Vec<String> = layer_tensors.iter().map(|t| t.tensor.to_string()).collect();
    settings.progress.stage("running the original graph");
    let budget = settings.timeout.0;
    let stage = Arc::new(AtomicU8::new(PREPARING));
    let (tx, rx) = mpsc::channel();
    let worker = {
        let (stage, model, inputs) = (stage.clone(), opts.model.clone(), inputs.to_vec());
        let bindings = opts.convert.bindings.clone();
        move || {
            let t = Instant::now();
            // The early decode's result, or (none started, or its thread
            // panicked) the decode done here.
            let (decoded, decode_ms) = match early.0.map(|h| h.join()) {
                Some(Ok(done)) => done,
                _ => {
                    let t = Instant::now();
                    (Oracle::decode_file(&model, &bindings), ms(t))
                }
            };
            let oracle = Oracle::from_decoded(decoded?, &oracle_inputs, &outputs, &bindings)?;
            // tract's GraphDef and the kernels it packed are freed by now.
            crate::budget::return_freed_memory();
            let load_ms = ms(t);
            stage.store(RUNNING, Ordering::SeqCst);
            let t = Instant::now();
            let values = oracle.run(&inputs)?;
            Ok::<_, OracleError>((GraphRun { oracle, values }, [decode_ms, load_ms, ms(t)]))
        }
    };
    let start = Instant::now();
    std::thread::Builder::new()
        .name("thaw-oracle".into())
        .spawn(move || {
            // The receiver is gone when the budget ran out: nobody to tell.
            let _ = tx.send(worker());
        })
        .map_err(|source| VerifyError::Io {
            path: "a thread for the original graph".into(),
            source,
        })?;
    Ok(Pending {
        rx,
        stage,
        start,
        budget,
        model: opts.model.display().to_string(),
    })
}

impl Pending {
    /// Waits for the worker, at most what is left of the budget; records
    /// its stages and the time spent waiting (`oracle_wait_ms`).
    pub(super) fn wait(self, timings: &mut Timings) -> Result<GraphRun, VerifyError> {
        let waiting = Instant::now();
        let timeout = || VerifyError::Timeout {
            stage: stage_name(self.stage.load(Ordering::SeqCst)),
            seconds: self.budget.as_secs_f64(),
        };
        let left = self.budget.saturating_sub(self.start.elapsed());
        let result = match self.rx.recv_timeout(left) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => return Err(timeout()),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // The worker panicked (the panic hook has reported it).
                return Err(VerifyError::Oracle(OracleError::Tract {
                    origin: self.model.clone(),
                    step: "run the graph",
                    message: "the worker thread stopped without an answer".into(),
                }));
            }
        };
        if self.start.elapsed() > self.budget {
            return Err(timeout());
        }
        let (run, [decode_ms, load_ms, run_ms]) = result?;
        timings.oracle_decode_ms = decode_ms;
        timings.oracle_load_ms = load_ms;
        timings.oracle_run_ms = run_ms;
        timings.oracle_wait_ms = ms(waiting);
        Ok(run)
    }
}

/// The time budget of preparing and running the original graph
/// (`--timeout`); the default is the command line's, 300 s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timeout(pub Duration);

impl Default for Timeout {
    fn default() -> Self {
        Timeout(Duration::from_secs(300))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_count_the_fixed_batch_does_not_divide_is_a_usage_error() {
        let four = [ArrayD::<f32>::zeros(ndarray::IxDyn(&[4, 3]))];
        assert!(check_batch(Some(2), &four, false).is_ok());
        assert!(check_batch(None, &four, false).is_ok());
        let err = check_batch(Some(3), &four, false).unwrap_err();
        assert!(err.is_user_error());
        let msg = err.to_string();
        assert!(
            msg.contains("--samples 4") && msg.contains("fixed batch of 3"),
            "{msg}"
        );
        let msg = check_batch(Some(3), &four, true).unwrap_err().to_string();
        assert!(msg.contains("--inputs holds 4 samples"), "{msg}");
    }
}
