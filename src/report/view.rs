//! A lenient, read-only view of a `report.json`, shared by the HTML, JUnit and
//! Markdown renderers and by the baseline gate.
//!
//! Why a separate view rather than [`super::Report`] itself: baselines are
//! report files written by *earlier* versions of thaw, and the schema grows
//! (issue 4: `first_divergence` becomes an object with `causes`, layers gain a
//! `cumulative{}` metric object). The view reads every schema version seen so
//! far: unknown fields are ignored, missing ones take defaults, and
//! `first_divergence` may be a layer name (schema 1) or an object
//! {`layer`, `causes[]`}. Metrics it does not know by name are kept in
//! [`CheckView::extra`] so renderers can still show them.
//!
//! Not handled: reports that are not JSON objects at all (a read error).

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use thiserror::Error;

/// Why a report file could not be read.
#[derive(Debug, Error)]
pub enum ReadError {
    #[error("{path}: cannot read")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a thaw report.json")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReportView {
    pub schema_version: u32,
    pub thaw_version: String,
    pub model: String,
    /// `pass`, `drift`, `fail` or `unsupported`.
    pub verdict: String,
    pub seed: u64,
    pub samples: u64,
    pub tolerance: ToleranceView,
    pub layers: Vec<LayerView>,
    #[serde(deserialize_with = "divergence")]
    pub first_divergence: Option<Divergence>,
    pub unsupported_ops: Vec<UnsupportedView>,
    /// Cumulative failures explained by float32 drift (schema 3).
    pub drift: Option<DriftView>,
    /// `--keras`: layers left without a twin (schema 3).
    pub unaligned: Vec<UnalignedView>,
    /// `--keras`: config and weight differences from the graph (schema 4).
    pub findings: Vec<FindingView>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct FindingView {
    pub layer: String,
    pub converted: String,
    pub kind: String,
    pub field: String,
    pub detail: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct UnalignedView {
    /// `user` or `graph`.
    pub side: String,
    pub layer: String,
    pub class_name: String,
    /// `identity`, `covered` or `unchecked`.
    pub coverage: String,
    pub reason: String,
}

impl UnalignedView {
    /// Whether nothing checks this layer's result (the verdict fails).
    pub fn unchecked(&self) -> bool {
        self.coverage == "unchecked"
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct DriftView {
    pub first_layer: String,
    pub layers: u64,
    pub worst_ratio: f64,
    pub factor: f64,
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ToleranceView {
    pub atol: f64,
    pub rtol: f64,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct UnsupportedView {
    pub node: String,
    pub op: String,
    pub reason: String,
}

/// The layer found broken by itself, and what would fix it (when known).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Divergence {
    pub layer: String,
    pub causes: Vec<CauseView>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CauseView {
    pub kind: String,
    pub detail: String,
    pub max_abs_after_fix: Option<f64>,
}

/// `first_divergence`: null, a layer name (schema 1) or {`layer`, `causes`}.
fn divergence<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Divergence>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Name(String),
        Object {
            layer: String,
            #[serde(default)]
            causes: Vec<CauseView>,
        },
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        None => None,
        Some(Raw::Name(layer)) => Some(Divergence {
            layer,
            causes: Vec::new(),
        }),
        Some(Raw::Object { layer, causes }) => Some(Divergence { layer, causes }),
    })
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct LayerView {
    pub name: String,
    pub class_name: String,
    pub tf_node: String,
    pub tf_nodes: Vec<String>,
    /// Schema 1 keeps the cumulative check's fields flat on the layer.
    #[serde(flatten)]
    flat: CheckView,
    cumulative: Option<CheckView>,
    pub isolated: Option<CheckView>,
    pub downstream_of: Option<String>,
    pub is_output: bool,
    pub elements: Option<u64>,
    /// The layers (or model inputs) feeding this one (empty in reports
    /// written before the graph view: those draw no edges).
    pub inbound: Vec<String>,
}

/// One judgement (cumulative or isolated) of a layer.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct CheckView {
    /// `pass`, `drift`, `fail` or `error` (empty when the report has none).
    pub status: String,
    pub max_abs: Option<f64>,
    pub max_rel: Option<f64>,
    pub mean_abs: Option<f64>,
    pub cosine: Option<f64>,
    pub out_of_tolerance: Option<u64>,
    pub detail: Option<String>,
    /// Any other field (newer metrics such as RMSE or ULP distance).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl CheckView {
    pub fn passed(&self) -> bool {
        self.status == "pass"
    }

    /// The metrics as `name=value` pairs, known ones first, for messages.
    pub fn metrics_text(&self) -> String {
        let mut parts = Vec::new();
        let mut num = |name: &str, v: Option<f64>| {
            if let Some(v) = v {
                parts.push(format!("{name}={}", fmt_num(v)));
            }
        };
        num("max_abs", self.max_abs);
        num("max_rel", self.max_rel);
        num("mean_abs", self.mean_abs);
        num("cosine", self.cosine);
        num("out_of_tolerance", self.out_of_tolerance.map(|v| v as f64));
        for (k, v) in &self.extra {
            if let Some(x) = v.as_f64() {
                parts.push(format!("{k}={}", fmt_num(x)));
            }
        }
        parts.join(" ")
    }
}

/// A number short enough for a table cell, exact enough to compare runs.
pub fn fmt_num(v: f64) -> String {
    if v == 0.0 || v.fract() == 0.0 && v.abs() < 1e9 {
        format!("{v}")
    } else if (1e-3..1e4).contains(&v.abs()) {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

/// How a layer fared overall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerOutcome {
    Pass,
    /// Wrong by itself: fails (or errors) in isolation.
    Broken,
    /// Fails cumulatively only, inheriting an upstream layer's error.
    Downstream,
    /// Fails cumulatively only, with no upstream culprit (error accumulated).
    Accumulated,
    /// Fails cumulatively only, within the graph's own sensitivity to float32
    /// rounding (status `drift`): not a failure.
    Drift,
    /// Cumulative comparison impossible (shape mismatch, a side failed).
    Error,
}

impl LayerOutcome {
    /// Whether the outcome counts as a failure (drift does not).
    pub fn fails(self) -> bool {
        !matches!(self, LayerOutcome::Pass | LayerOutcome::Drift)
    }
}

impl LayerView {
    /// The cumulative check (each side run on its own from the model inputs).
    pub fn cumulative(&self) -> &CheckView {
        self.cumulative.as_ref().unwrap_or(&self.flat)
    }

    pub fn outcome(&self) -> LayerOutcome {
        let cum = self.cumulative();
        if self.isolated.as_ref().is_some_and(|i| !i.passed()) {
            LayerOutcome::Broken
        } else if cum.status == "error" {
            LayerOutcome::Error
        } else if cum.passed() {
            LayerOutcome::Pass
        } else if cum.status == "drift" {
            LayerOutcome::Drift
        } else if self.downstream_of.is_some() {
            LayerOutcome::Downstream
        } else {
            LayerOutcome::Accumulated
        }
    }
}

impl ReportView {
    pub fn from_value(v: Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(v)
    }

    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The view of a report thaw just produced, read back from its JSON
    /// text so that it is exactly what a later reader of `report.json` sees
    /// (f32 values printed shortest, e.g. atol `0.0001`, not widened to f64).
    pub fn of(report: &super::Report) -> Result<Self, serde_json::Error> {
        Self::from_json(&serde_json::to_string(report)?)
    }

    /// Reads a `report.json`, or the `report.json` inside a folder (an
    /// output folder of `thaw verify`).
    pub fn load(path: &Path) -> Result<Self, ReadError> {
        let joined;
        let path = if path.is_dir() {
            joined = path.join("report.json");
            joined.as_path()
        } else {
            path
        };
        let text = std::fs::read_to_string(path).map_err(|source| ReadError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text).map_err(|source| ReadError::Json {
            path: path.display().to_string(),
            source,
        })
    }

    pub fn failing(&self) -> usize {
        self.layers.iter().filter(|l| l.outcome().fails()).count()
    }

    /// Per classifier output: its name and the fraction of samples whose
    /// top-1 class agrees (cumulative check's `top1_agreement`).
    pub fn top1(&self) -> Vec<(&str, f64)> {
        self.layers
            .iter()
            .filter_map(|l| {
                let t = l.cumulative().extra.get("top1_agreement")?.as_f64()?;
                Some((l.name.as_str(), t))
            })
            .collect()
    }

    /// One sentence on top-1 agreement (empty when no output is a classifier).
    pub fn top1_text(&self) -> String {
        self.top1()
            .iter()
            .map(|(name, t)| {
                format!(
                    "top-1 agreement of output {name}: {:.1}% ({} samples)",
                    t * 100.0,
                    self.samples
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// One sentence on drift (empty when nothing drifts).
    pub fn drift_text(&self) -> String {
        self.drift.as_ref().map_or(String::new(), |d| {
            format!(
                "{} layer(s) from {} differ cumulatively by at most {}x what the graph itself \
                 changes under a one-ulp input nudge (rule: {}x): float32 drift, not a failure",
                d.layers,
                d.first_layer,
                fmt_num(d.worst_ratio),
                fmt_num(d.factor)
            )
        })
    }

    /// `PASS`, `FAIL`, `UNSUPPORTED` (or the raw verdict uppercased).
    pub fn verdict_word(&self) -> String {
        self.verdict.to_uppercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_schema_1_flat_metrics_and_name_divergence() {
        let r = ReportView::from_json(
            r#"{"schema_version":1,"verdict":"fail","first_divergence":"bn",
                "layers":[{"name":"bn","class_name":"BatchNormalization","status":"fail",
                "max_abs":0.5,"isolated":{"status":"fail","max_abs":0.25,"ulp":7}}]}"#,
        )
        .unwrap();
        let l = &r.layers[0];
        assert_eq!(l.cumulative().max_abs, Some(0.5));
        assert_eq!(l.isolated.as_ref().unwrap().max_abs, Some(0.25));
        assert!(
            l.isolated
                .as_ref()
                .unwrap()
                .metrics_text()
                .contains("ulp=7")
        );
        assert_eq!(l.outcome(), LayerOutcome::Broken);
        assert_eq!(r.first_divergence.unwrap().layer, "bn");
    }

    #[test]
    fn reads_cumulative_object_and_divergence_with_causes() {
        let r = ReportView::from_json(
            r#"{"verdict":"fail","first_divergence":{"layer":"c","causes":[
                {"kind":"padding","detail":"SAME","max_abs_after_fix":1e-7}]},
                "layers":[{"name":"d","cumulative":{"status":"fail","max_abs":2.0},
                "isolated":{"status":"pass","max_abs":0.0},"downstream_of":"c"}]}"#,
        )
        .unwrap();
        let d = r.first_divergence.as_ref().unwrap();
        assert_eq!(d.causes[0].kind, "padding");
        assert_eq!(r.layers[0].cumulative().max_abs, Some(2.0));
        assert_eq!(r.layers[0].outcome(), LayerOutcome::Downstream);
        assert_eq!(r.failing(), 1);
    }

    #[test]
    fn loads_a_file_or_the_report_in_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("report.json"), r#"{"verdict":"pass"}"#).unwrap();
        assert_eq!(ReportView::load(dir.path()).unwrap().verdict, "pass");
        let f = ReportView::load(&dir.path().join("report.json")).unwrap();
        assert_eq!(f.verdict, "pass");
        let e = ReportView::load(&dir.path().join("nope.json")).unwrap_err();
        assert!(e.to_string().contains("nope.json"), "{e}");
    }

    #[test]
    fn rejects_non_reports() {
        assert!(ReportView::from_json("[1,2]").is_err());
        assert!(ReportView::from_json("{\"layers\": 3}").is_err());
    }
}
