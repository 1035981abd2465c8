//! What a verification found, for people (a terminal table) and machines
//! (`report.json`, documented field by field in `reports/README.md`).
//!
//! Changing or removing a JSON field is a versioned change: bump
//! [`SCHEMA_VERSION`] and document it.

pub mod baseline;
pub mod escape;
pub mod graph_view;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod model_explorer;
pub mod outputs;
pub mod progress;
pub mod view;

use crate::compare::{Metrics, Tolerance};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// Version of the `report.json` schema.
pub const SCHEMA_VERSION: u32 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every layer and output within tolerance.
    Pass,
    /// At least one layer or output out of tolerance.
    Fail,
    /// Every layer passes in isolation, and every cumulative failure is within
    /// the graph's own sensitivity to float32 rounding (see
    /// `verify::drift`): the Keras model computes what the graph computes, and
    /// the graph amplifies rounding. Exit code 0, like `Pass`.
    Drift,
    /// Some TF nodes could not be converted; nothing was run.
    Unsupported,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Fails cumulatively only, within the graph's own sensitivity to a
    /// one-ulp change of its inputs (float32 drift, not a wrong layer).
    Drift,
    /// The comparison could not be made (shape mismatch, a side failed).
    Error,
}

#[derive(Clone, Debug, Serialize)]
pub struct InputSpec {
    pub name: String,
    /// Shape fed to both sides, batch (= samples) first.
    pub shape: Vec<usize>,
    pub dtype: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct OutputSpec {
    /// Graph output tensor (`Identity:0`).
    pub tensor: String,
    /// Keras layer whose output it is.
    pub layer: String,
}

/// One layer's judgement. The flat metric fields are the cumulative check;
/// `report.json` (schema 3) nests them in a `cumulative{}` object beside
/// `isolated{}` and gives the layer an overall `status` (see [`Self::overall`]
/// and the `Serialize` impl below).
#[derive(Clone, Debug)]
pub struct LayerReport {
    pub name: String,
    pub class_name: String,
    /// The TF tensor compared with the layer's output (`node:slot`).
    pub tf_node: String,
    /// Every TF node the layer stands for.
    pub tf_nodes: Vec<String>,
    pub status: Status,
    pub max_abs: Option<f32>,
    pub max_rel: Option<f32>,
    pub mean_abs: Option<f32>,
    pub cosine: Option<f32>,
    pub out_of_tolerance: Option<usize>,
    pub elements: Option<usize>,
    /// Why the status is `error`, when it is.
    pub detail: Option<String>,
    /// RMSE, max ULP distance, worst element, the graph tensor's range and
    /// the smallest passing atol of the cumulative check.
    pub extra: Option<crate::compare::Extra>,
    /// Whether this layer is one of the model's outputs.
    pub is_output: bool,
    /// The largest change of the graph's tensor when the inputs move by one
    /// ulp (measured only when a layer fails cumulatively and none fails in
    /// isolation; see `verify::drift`).
    pub sensitivity: Option<f32>,
    /// The layer fed the original graph's values of its inputs: only its own
    /// error shows. The flat metrics above are the cumulative check (each
    /// side run on its own from the model inputs).
    pub isolated: Option<Check>,
    /// For a layer that fails cumulatively but passes in isolation: the
    /// upstream layer, failing in isolation, whose error it inherits.
    pub downstream_of: Option<String>,
    /// The Keras layers (or model inputs) feeding this one, in argument
    /// order: the edges of `report.html`'s graph view.
    pub inbound: Vec<String>,
}

/// One judgement of a layer's output against the graph's.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub status: Status,
    pub max_abs: Option<f32>,
    pub max_rel: Option<f32>,
    pub mean_abs: Option<f32>,
    pub cosine: Option<f32>,
    pub out_of_tolerance: Option<usize>,
    pub detail: Option<String>,
    /// As for the cumulative check (flattened).
    #[serde(flatten)]
    pub extra: Option<crate::compare::Extra>,
}

impl From<&Metrics> for Check {
    fn from(m: &Metrics) -> Self {
        Check {
            status: if m.pass { Status::Pass } else { Status::Fail },
            max_abs: Some(m.max_abs),
            max_rel: Some(m.max_rel),
            mean_abs: Some(m.mean_abs),
            cosine: Some(m.cosine),
            out_of_tolerance: Some(m.out_of_tolerance),
            detail: None,
            extra: Some(m.extra.clone()),
        }
    }
}

impl LayerReport {
    /// The layer's status over both checks: `fail` when either fails (or
    /// the isolated check errs), `error` when the cumulative comparison could
    /// not be made, else the cumulative status (`pass` or `drift`).
    pub fn overall(&self) -> Status {
        match (self.status, self.isolated.as_ref().map(|i| i.status)) {
            (_, Some(Status::Fail | Status::Error)) | (Status::Fail, _) => Status::Fail,
            (s, _) => s,
        }
    }

    pub fn from_metrics(mut self, m: &Metrics) -> Self {
        self.status = if m.pass { Status::Pass } else { Status::Fail };
        self.max_abs = Some(m.max_abs);
        self.max_rel = Some(m.max_rel);
        self.mean_abs = Some(m.mean_abs);
        self.cosine = Some(m.cosine);
        self.out_of_tolerance = Some(m.out_of_tolerance);
        self.elements = Some(m.elements);
        self.extra = Some(m.extra.clone());
        self
    }
}

impl Serialize for LayerReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// The cumulative check: [`Check`]'s fields plus the sensitivity.
        #[derive(Serialize)]
        struct Cumulative<'a> {
            status: Status,
            max_abs: Option<f32>,
            max_rel: Option<f32>,
            mean_abs: Option<f32>,
            cosine: Option<f32>,
            out_of_tolerance: Option<usize>,
            detail: &'a Option<String>,
            #[serde(flatten)]
            extra: &'a Option<crate::compare::Extra>,
            sensitivity: Option<f32>,
        }
        #[derive(Serialize)]
        struct Wire<'a> {
            name: &'a str,
            class_name: &'a str,
            tf_node: &'a str,
            tf_nodes: &'a [String],
            status: Status,
            elements: Option<usize>,
            is_output: bool,
            cumulative: Cumulative<'a>,
            isolated: &'a Option<Check>,
            downstream_of: &'a Option<String>,
            inbound: &'a [String],
        }
        Wire {
            name: &self.name,
            class_name: &self.class_name,
            tf_node: &self.tf_node,
            tf_nodes: &self.tf_nodes,
            status: self.overall(),
            elements: self.elements,
            is_output: self.is_output,
            cumulative: Cumulative {
                status: self.status,
                max_abs: self.max_abs,
                max_rel: self.max_rel,
                mean_abs: self.mean_abs,
                cosine: self.cosine,
                out_of_tolerance: self.out_of_tolerance,
                detail: &self.detail,
                extra: &self.extra,
                sensitivity: self.sensitivity,
            },
            isolated: &self.isolated,
            downstream_of: &self.downstream_of,
            inbound: &self.inbound,
        }
        .serialize(s)
    }
}

/// The layer that is wrong by itself, and why (schema 2).
#[derive(Clone, Debug, Serialize)]
pub struct FirstDivergence {
    pub layer: String,
    /// Hypotheses that make the layer pass in isolation, most specific first;
    /// a single `other` when none does.
    pub causes: Vec<crate::compare::diagnose::Cause>,
}

/// Cumulative failures explained by float32 drift (see `verify::drift`).
#[derive(Clone, Debug, Serialize)]
pub struct DriftSummary {
    /// The first layer, in topological order, whose status is `drift`.
    pub first_layer: String,
    /// How many layers drift.
    pub layers: usize,
    /// The largest max abs error over sensitivity among them (≤ `factor`).
    pub worst_ratio: f32,
    /// The drift rule's factor: errors up to `factor × sensitivity` drift.
    pub factor: f32,
}

/// A layer thaw emitted as its fallback custom layer `ThawTfOp` (a TF op with
/// no Keras equivalent, defined in the generated `thaw_fallbacks.py`).
#[derive(Clone, Debug, Serialize)]
pub struct FallbackLayer {
    pub layer: String,
    /// The TF op the layer runs (`Sin`, `Cumsum`, …).
    pub tf_op: String,
    /// The TF node it stands for.
    pub node: String,
}

impl FallbackLayer {
    /// The fallback layers of a conversion, in model order.
    pub fn of(conv: &crate::convert::Conversion) -> Vec<FallbackLayer> {
        crate::convert::fallback::fallback_layers(conv)
            .into_iter()
            .map(|f| FallbackLayer {
                layer: f.layer,
                tf_op: f.op,
                node: f.node,
            })
            .collect()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct UnsupportedOp {
    pub node: String,
    pub op: String,
    pub reason: String,
}

/// Wall-clock milliseconds per stage. The original graph is prepared and
/// run (`oracle_load_ms`, `oracle_run_ms`) on a worker thread while the main
/// thread writes the `.h5` and runs the interpreter; `oracle_wait_ms` is what
/// the main thread then waited for it; the graph's file is decoded for tract
/// (`oracle_decode_ms`) on a thread of its own from the start. The main
/// thread's stages (every field but `oracle_decode_ms`, `oracle_load_ms`,
/// `oracle_run_ms`, `isolated_ms` and `total_ms`)
/// follow each other,
/// and `other_ms` is what they leave of `total_ms` (start-up checks, freeing),
/// so nothing is unaccounted. `total_ms` ends just before `report.json` is
/// written (`thaw -v` logs that write's time too).
///
/// Written to `timings.json` beside `report.json` ([`Timings::write_json`]),
/// never into it: the report is a function of the graph, the flags and the
/// seed alone (byte-identical across runs), the times are not.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Timings {
    pub load_ms: f64,
    pub convert_ms: f64,
    /// The inputs, the report's skeleton and the graph's outputs.
    pub prepare_ms: f64,
    pub write_keras_ms: f64,
    /// The graph's file read and decoded for tract, on a thread of its own
    /// from the start (alongside `load_ms` and `convert_ms`).
    pub oracle_decode_ms: f64,
    pub oracle_load_ms: f64,
    pub oracle_run_ms: f64,
    pub interp_run_ms: f64,
    pub oracle_wait_ms: f64,
    /// Every layer judged, cumulatively (the two sides' values compared) and
    /// in isolation, on every core.
    pub compare_ms: f64,
    /// Of which the isolated checks (every layer run again on the graph's
    /// values of its inputs, and compared), summed over the threads: not a
    /// main-thread stage of its own.
    pub isolated_ms: f64,
    /// The drift check (the graph run again on nudged inputs, when needed).
    pub drift_ms: f64,
    /// The first divergence and its diagnosis, and the verdict.
    pub diagnose_ms: f64,
    pub other_ms: f64,
    pub total_ms: f64,
}

impl Timings {
    /// Sets `total_ms` and `other_ms` (see the type's doc).
    pub fn close(&mut self, total_ms: f64) {
        self.total_ms = total_ms;
        let main_thread = self.load_ms
            + self.convert_ms
            + self.prepare_ms
            + self.write_keras_ms
            + self.interp_run_ms
            + self.oracle_wait_ms
            + self.compare_ms
            + self.drift_ms
            + self.diagnose_ms;
        self.other_ms = (total_ms - main_thread).max(0.0);
    }

    /// Writes `timings.json` atomically (temporary file, then rename).
    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        outputs::write_atomic(path, json.as_bytes())
    }

    /// One line per stage, for `thaw -v`.
    pub fn lines(&self) -> Vec<String> {
        let json = serde_json::to_value(self).unwrap_or_default();
        json.as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| format!("{k:>15}: {:>9.1}", v.as_f64().unwrap_or(0.0)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub thaw_version: String,
    pub model: String,
    pub verdict: Verdict,
    pub seed: u64,
    pub samples: usize,
    /// The batch the graph was frozen with (its inputs' fixed leading
    /// dimension), which it was run at in chunks; `None`: a dynamic batch,
    /// run with all samples at once.
    pub graph_batch: Option<usize>,
    pub input_range: [f32; 2],
    /// How float inputs were drawn: `uniform` or `normal` (`--input-dist`).
    pub input_dist: String,
    /// The `.npz` the inputs were read from (`--inputs`), if any.
    pub inputs_file: Option<String>,
    pub tolerance: Tolerance,
    pub inputs: Vec<InputSpec>,
    /// The Keras model's outputs in order, with the TF tensor each stands for.
    pub outputs: Vec<OutputSpec>,
    pub layers: Vec<LayerReport>,
    /// First layer, in topological order, that fails in isolation (failing
    /// that, the first that fails at all), with the hypotheses that fix it.
    pub first_divergence: Option<FirstDivergence>,
    /// Set when some layers fail only cumulatively, within the graph's own
    /// sensitivity to rounding (verdict `drift` when nothing else fails).
    pub drift: Option<DriftSummary>,
    /// `--keras` only: every layer of the user's model or of the graph left
    /// without a twin by the alignment, with what still checks it; any
    /// `unchecked` one makes the verdict `fail` (see `compare::align`).
    pub unaligned: Vec<crate::compare::align::Unaligned>,
    /// `--keras` only (schema 4): every difference in maths-changing config
    /// or weights between a user layer and thaw's conversion of the same
    /// graph (see `compare::findings`); any makes the verdict `fail` unless
    /// `--numeric-only`.
    pub findings: Vec<crate::compare::findings::Finding>,
    pub unsupported_ops: Vec<UnsupportedOp>,
    /// Layers of the converted model that are native Keras classes.
    pub native_layers: usize,
    /// Layers emitted as fallback custom layers (`ThawTfOp`), one per TF op.
    pub fallback_layers: Vec<FallbackLayer>,
    /// The Keras model written, if any.
    pub keras_file: Option<String>,
    /// Every file this run wrote besides the reports, in order: the model
    /// files (`.h5`, `thaw_fallbacks.py`, and the `--formats` ones), then the
    /// `--dump-values` archives. Only the archives with `--keras`; empty
    /// when unsupported.
    pub files: Vec<String>,
    /// Wall-clock times: written apart, to `timings.json` (schema 5), so
    /// that two runs with the same seed write byte-identical reports.
    #[serde(skip)]
    pub timings: Timings,
}

impl Report {
    /// `keras layers: 12 native, 3 fallback (ThawTfOp: Cumsum, Sin x2)`.
    pub fn layer_kinds_line(&self) -> String {
        let mut line = format!(
            "keras layers: {} native, {} fallback",
            self.native_layers,
            self.fallback_layers.len()
        );
        if !self.fallback_layers.is_empty() {
            let mut ops: std::collections::BTreeMap<&str, usize> = Default::default();
            for f in &self.fallback_layers {
                *ops.entry(f.tf_op.as_str()).or_default() += 1;
            }
            let ops: Vec<String> = ops
                .into_iter()
                .map(|(op, n)| {
                    if n == 1 {
                        op.to_string()
                    } else {
                        format!("{op} x{n}")
                    }
                })
                .collect();
            line.push_str(&format!(" (ThawTfOp: {})", ops.join(", ")));
        }
        line
    }

    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Writes `report.json` atomically (temporary file, then rename).
    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        outputs::write_atomic(path, self.to_json().as_bytes())
    }

    /// The terminal table: one row per layer, then the verdict.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        if !self.unsupported_ops.is_empty() {
            let _ = writeln!(
                s,
                "{}: {} node(s) cannot be converted:",
                self.model,
                self.unsupported_ops.len()
            );
            for u in &self.unsupported_ops {
                let _ = writeln!(s, "  {} ({}): {}", u.node, u.op, u.reason);
            }
            let _ = writeln!(s, "verdict: UNSUPPORTED");
            return s;
        }
        // Column width: the longest entry, kept within [lo, hi].
        let width = |len: fn(&LayerReport) -> usize, lo: usize, hi: usize| {
            self.layers
                .iter()
                .map(len)
                .max()
                .unwrap_or(lo)
                .clamp(lo, hi)
        };
        let w_name = width(|l| l.name.len(), 5, 40);
        let w_class = width(|l| l.class_name.len(), 5, 24);
        let w_node = width(|l| l.tf_node.len(), 7, 60);
        let _ = writeln!(
            s,
            "{:<w_name$}  {:<w_class$}  {:<w_node$}  {:>10}  {:>10}  status",
            "layer", "class", "TF node", "max abs", "isolated"
        );
        for l in &self.layers {
            let max_abs = l.max_abs.map_or("-".to_string(), |v| format!("{v:.3e}"));
            let iso = l.isolated.as_ref();
            let iso_abs = iso
                .and_then(|i| i.max_abs)
                .map_or("-".to_string(), |v| format!("{v:.3e}"));
            let status = match (l.status, iso.map(|i| i.status)) {
                (Status::Pass, Some(Status::Pass) | None) => "ok".to_string(),
                (_, Some(Status::Fail | Status::Error | Status::Drift)) => {
                    "FAIL (broken here)".to_string()
                }
                (Status::Drift, _) => "drift (within the graph's own sensitivity)".to_string(),
                (Status::Error, _) => match &l.downstream_of {
                    // Cannot run or be compared because of an upstream layer.
                    Some(up) => format!("error (downstream of {up})"),
                    None => "ERROR".to_string(),
                },
                (Status::Fail, _) => match &l.downstream_of {
                    Some(up) => format!("fail (downstream of {up})"),
                    None => "FAIL (accumulated error)".to_string(),
                },
            };
            let detail = l
                .detail
                .as_deref()
                .or(iso.and_then(|i| i.detail.as_deref()));
            let _ = writeln!(
                s,
                "{:<w_name$}  {:<w_class$}  {:<w_node$}  {:>10}  {:>10}  {status}{}",
                l.name,
                l.class_name,
                l.tf_node,
                max_abs,
                iso_abs,
                detail.map(|d| format!(" ({d})")).unwrap_or_default()
            );
        }
        let failing = self
            .layers
            .iter()
            .filter(|l| {
                !matches!(l.status, Status::Pass | Status::Drift)
                    || l.isolated
                        .as_ref()
                        .is_some_and(|i| i.status != Status::Pass)
            })
            .count();
        let _ = writeln!(
            s,
            "\n{} layers, {} failing; seed {}, {} samples, atol {:e}, rtol {:e}",
            self.layers.len(),
            failing,
            self.seed,
            self.samples,
            self.tolerance.atol,
            self.tolerance.rtol
        );
        let _ = writeln!(s, "{}", self.layer_kinds_line());
        if let Some(first) = &self.first_divergence {
            let _ = writeln!(s, "first divergence: {}", first.layer);
            for c in &first.causes {
                let kind = serde_json::to_value(c.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let _ = writeln!(
                    s,
                    "  likely cause: {kind}: {} (max abs after fix {:.3e})",
                    c.detail, c.max_abs_after_fix
                );
            }
        }
        if !self.findings.is_empty() {
            let _ = writeln!(
                s,
                "findings (the model's config and weights against the graph):"
            );
            for f in &self.findings {
                let kind = serde_json::to_value(f.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let _ = writeln!(s, "  {}: {kind}: {}", f.layer, f.detail);
            }
        }
        if !self.unaligned.is_empty() {
            let _ = writeln!(s, "unaligned layers (--keras):");
            for u in &self.unaligned {
                let how = match u.coverage {
                    crate::compare::align::Coverage::Identity => "checked as an identity",
                    crate::compare::align::Coverage::Covered => "covered downstream",
                    crate::compare::align::Coverage::Unchecked => "UNCHECKED",
                };
                let _ = writeln!(
                    s,
                    "  {} layer {} ({}): {how}: {}",
                    u.side, u.layer, u.class_name, u.reason
                );
            }
        }
        let verdict = match self.verdict {
            Verdict::Pass => "PASS: the Keras model computes what the graph computes",
            Verdict::Fail if self.first_divergence.is_none() && !self.findings.is_empty() => {
                "FAIL: the model's config or weights differ from the graph's (findings above)"
            }
            Verdict::Fail if self.first_divergence.is_none() && !self.unaligned.is_empty() => {
                "FAIL: part of the model's result is compared with nothing (unaligned layers above)"
            }
            Verdict::Fail => "FAIL: the Keras model diverges from the graph",
            Verdict::Drift => {
                "DRIFT: every layer computes what the graph computes in isolation; the \
                 cumulative differences are float32 rounding the graph itself amplifies"
            }
            Verdict::Unsupported => "UNSUPPORTED",
        };
        if let Some(d) = &self.drift {
            let _ = writeln!(
                s,
                "drift: {} layer(s) from {} fail cumulatively within {}x the graph's own \
                 change under a one-ulp input nudge (worst {:.2}x)",
                d.layers, d.first_layer, d.factor, d.worst_ratio
            );
        }
        let _ = writeln!(s, "verdict: {verdict}");
        s
    }
}
