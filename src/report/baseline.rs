//! The CI gate: compares a new report with a baseline report (`thaw verify
//! --baseline FILE`, `thaw diff OLD NEW`) and says what regressed.
//!
//! A **regression** (the gate fails, exit 1) is any of:
//! - the verdict worsened (`pass` < `drift` < `fail` < `unsupported`);
//! - a layer disappeared, appeared, or changed class (matched by name);
//! - a layer's check (cumulative or isolated) went from `pass` to `fail` or
//!   `error`;
//! - a layer's max abs error (cumulative or isolated) grew beyond the rule
//!   `new > factor × max(old, floor)`, defaults `factor = 10`,
//!   `floor = 1e-6`; a NaN error always counts as grown.
//!
//! Why that rule: float32 reordering noise moves a layer's max abs error by
//! small factors (2–4×) between CPUs or thread counts, and layers that are
//! exact (pooling, reshapes, ReLU) have an error of exactly 0 that noise can
//! lift to ~1e-7. A 10× growth is beyond that noise; the floor (≈10 ulp of a
//! unit-scale float32, and 100× under the default atol 1e-4) keeps a 0 → 1e-7
//! wobble from counting as "infinitely worse", while anything a real
//! mis-mapping does (errors of 1e-3 and up) is still caught long before it
//! crosses the pass rule.
//!
//! Also listed, never failing the gate: improvements (error shrank by the
//! same factor, status or verdict improved) and notes (different model path,
//! seed, samples, tolerance, schema, or TF tensor compared), which say the
//! two runs are not like for like.
//!
//! Not handled: comparing layers across a rename (a renamed layer is one
//! removed and one added).

use super::view::{CheckView, LayerView, ReportView, fmt_num};
use std::collections::HashMap;
use std::fmt::Write as _;

/// The error-growth rule (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GateRule {
    /// Allowed growth factor of a layer's max abs error.
    pub factor: f64,
    /// Errors below this count as this (float noise floor).
    pub floor: f64,
}

impl Default for GateRule {
    fn default() -> Self {
        GateRule {
            factor: 10.0,
            floor: 1e-6,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Regression,
    Improvement,
    Note,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub severity: Severity,
    /// The layer concerned, if any.
    pub layer: Option<String>,
    pub what: String,
}

/// Everything that changed between two reports.
#[derive(Clone, Debug, Default)]
pub struct Diff {
    pub findings: Vec<Finding>,
    pub rule: Option<GateRule>,
}

impl Diff {
    pub fn regressed(&self) -> bool {
        self.regressions().next().is_some()
    }

    pub fn regressions(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Regression)
    }

    /// The human-readable listing, regressions first, then the gate's word.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let mut sorted: Vec<&Finding> = self.findings.iter().collect();
        sorted.sort_by_key(|f| f.severity);
        for f in sorted {
            let tag = match f.severity {
                Severity::Regression => "REGRESSION",
                Severity::Improvement => "improved  ",
                Severity::Note => "note      ",
            };
            let _ = match &f.layer {
                Some(l) => writeln!(s, "{tag}  layer {l}: {}", f.what),
                None => writeln!(s, "{tag}  {}", f.what),
            };
        }
        let n = self.regressions().count();
        let rule = self.rule.unwrap_or_default();
        let _ = writeln!(
            s,
            "{}: {n} regression(s) (rule: verdict, layer set and classes, per-layer status, max abs error growth > {}x over max(baseline, {:e}))",
            if n == 0 { "gate: PASS" } else { "gate: FAIL" },
            rule.factor,
            rule.floor
        );
        s
    }
}

fn verdict_rank(v: &str) -> u8 {
    match v {
        "pass" => 0,
        "drift" => 1,
        "fail" => 2,
        "unsupported" => 3,
        _ => 4,
    }
}

fn status_rank(s: &str) -> u8 {
    match s {
        "pass" => 0,
        "drift" => 1,
        "fail" => 2,
        "error" => 3,
        // no check recorded (an older report without isolated checks)
        _ => 0,
    }
}

/// Compares `new` with the `old` baseline.
pub fn diff(old: &ReportView, new: &ReportView, rule: GateRule) -> Diff {
    let mut d = Diff {
        findings: Vec::new(),
        rule: Some(rule),
    };
    let mut push = |severity, layer: Option<&str>, what: String| {
        d.findings.push(Finding {
            severity,
            layer: layer.map(str::to_string),
            what,
        })
    };
    let (ov, nv) = (verdict_rank(&old.verdict), verdict_rank(&new.verdict));
    if nv != ov {
        push(
            if nv > ov {
                Severity::Regression
            } else {
                Severity::Improvement
            },
            None,
            format!("verdict {} -> {}", old.verdict, new.verdict),
        );
    }
    for (what, o, n) in [
        ("model", old.model.clone(), new.model.clone()),
        ("seed", old.seed.to_string(), new.seed.to_string()),
        ("samples", old.samples.to_string(), new.samples.to_string()),
        (
            "tolerance",
            format!(
                "atol {:e} rtol {:e}",
                old.tolerance.atol, old.tolerance.rtol
            ),
            format!(
                "atol {:e} rtol {:e}",
                new.tolerance.atol, new.tolerance.rtol
            ),
        ),
        (
            "schema_version",
            old.schema_version.to_string(),
            new.schema_version.to_string(),
        ),
    ] {
        if o != n {
            push(Severity::Note, None, format!("{what} {o} -> {n}"));
        }
    }
    // An unsupported report has no layers: there is nothing to match.
    if old.verdict == "unsupported" || new.verdict == "unsupported" {
        return d;
    }
    let by_name = |r: &ReportView| -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for (i, l) in r.layers.iter().enumerate() {
            m.entry(l.name.clone()).or_insert(i);
        }
        m
    };
    let (old_idx, new_idx) = (by_name(old), by_name(new));
    for l in &old.layers {
        if !new_idx.contains_key(&l.name) {
            push(
                Severity::Regression,
                Some(&l.name),
                format!("disappeared (was {})", l.class_name),
            );
        }
    }
    for n in &new.layers {
        let Some(&i) = old_idx.get(&n.name) else {
            push(
                Severity::Regression,
                Some(&n.name),
                format!("appeared ({}), not in the baseline", n.class_name),
            );
            continue;
        };
        let o = &old.layers[i];
        if o.class_name != n.class_name {
            push(
                Severity::Regression,
                Some(&n.name),
                format!("class changed {} -> {}", o.class_name, n.class_name),
            );
        }
        if o.tf_node != n.tf_node {
            push(
                Severity::Note,
                Some(&n.name),
                format!("TF tensor compared changed {} -> {}", o.tf_node, n.tf_node),
            );
        }
        let empty = CheckView::default();
        let pairs: [(&str, &CheckView, &CheckView); 2] = [
            ("cumulative", o.cumulative(), n.cumulative()),
            (
                "isolated",
                o.isolated.as_ref().unwrap_or(&empty),
                n.isolated.as_ref().unwrap_or(&empty),
            ),
        ];
        for (mode, oc, nc) in pairs {
            check_pair(&mut push, n, mode, oc, nc, rule);
        }
    }
    d
}

fn check_pair(
    push: &mut impl FnMut(Severity, Option<&str>, String),
    layer: &LayerView,
    mode: &str,
    old: &CheckView,
    new: &CheckView,
    rule: GateRule,
) {
    let name = Some(layer.name.as_str());
    let (os, ns) = (status_rank(&old.status), status_rank(&new.status));
    if ns > os {
        push(
            Severity::Regression,
            name,
            format!("{mode} check {} -> {}", old.status, new.status),
        );
    } else if ns < os {
        push(
            Severity::Improvement,
            name,
            format!("{mode} check {} -> {}", old.status, new.status),
        );
    }
    let (Some(o), Some(n)) = (old.max_abs, new.max_abs) else {
        return;
    };
    let allowed = rule.factor * o.max(rule.floor);
    if n.is_nan() || n > allowed {
        push(
            Severity::Regression,
            name,
            format!(
                "{mode} max abs error grew {} -> {} (allowed up to {} = {}x max(baseline, {:e}))",
                fmt_num(o),
                fmt_num(n),
                fmt_num(allowed),
                rule.factor,
                rule.floor
            ),
        );
    } else if o > rule.floor && n * rule.factor < o {
        push(
            Severity::Improvement,
            name,
            format!(
                "{mode} max abs error shrank {} -> {}",
                fmt_num(o),
                fmt_num(n)
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(verdict: &str, layers: &[(&str, &str, f64, f64)]) -> ReportView {
        let layers: Vec<serde_json::Value> = layers
            .iter()
            .map(|(name, class, cum, iso)| {
                serde_json::json!({
                    "name": name, "class_name": class, "tf_node": format!("{name}:0"),
                    "status": if *cum <= 1e-4 { "pass" } else { "fail" }, "max_abs": cum,
                    "isolated": {"status": if *iso <= 1e-4 { "pass" } else { "fail" }, "max_abs": iso}
                })
            })
            .collect();
        ReportView::from_value(serde_json::json!({
            "schema_version": 1, "verdict": verdict, "seed": 0, "samples": 4,
            "tolerance": {"atol": 1e-4, "rtol": 1e-3}, "layers": layers
        }))
        .unwrap()
    }

    const BASE: &[(&str, &str, f64, f64)] = &[
        ("conv", "Conv2D", 4.8e-7, 4.8e-7),
        ("pool", "MaxPooling2D", 4.8e-7, 0.0),
        ("dense", "Dense", 3.6e-7, 1.2e-7),
    ];

    fn kinds(d: &Diff) -> Vec<String> {
        d.regressions()
            .map(|f| format!("{}: {}", f.layer.as_deref().unwrap_or("-"), f.what))
            .collect()
    }

    #[test]
    fn identical_reports_pass_the_gate() {
        let d = diff(
            &report("pass", BASE),
            &report("pass", BASE),
            GateRule::default(),
        );
        assert!(d.findings.is_empty(), "{:?}", d.findings);
        assert!(d.to_text().contains("gate: PASS"));
    }

    #[test]
    fn float_noise_does_not_trip_the_gate() {
        // 4x growth of a noise-level error, and an exact 0 becoming 5e-7:
        // what another CPU's summation order can do.
        let noisy = &[
            ("conv", "Conv2D", 1.9e-6, 1.9e-6),
            ("pool", "MaxPooling2D", 1.9e-6, 5e-7),
            ("dense", "Dense", 9e-7, 1.2e-7),
        ];
        let d = diff(
            &report("pass", BASE),
            &report("pass", noisy),
            GateRule::default(),
        );
        assert!(!d.regressed(), "{:?}", kinds(&d));
    }

    #[test]
    fn grown_error_is_a_regression_even_within_tolerance() {
        let grown = &[
            ("conv", "Conv2D", 4.8e-7, 4.8e-7),
            ("pool", "MaxPooling2D", 4.8e-7, 0.0),
            ("dense", "Dense", 3e-5, 3e-5), // under atol 1e-4: still passes
        ];
        let d = diff(
            &report("pass", BASE),
            &report("pass", grown),
            GateRule::default(),
        );
        let k = kinds(&d);
        assert_eq!(k.len(), 2, "{k:?}");
        assert!(
            k[0].starts_with("dense: cumulative max abs error grew"),
            "{k:?}"
        );
        assert!(
            k[1].starts_with("dense: isolated max abs error grew"),
            "{k:?}"
        );
        // and the reverse direction is an improvement, not a regression
        let back = diff(
            &report("pass", grown),
            &report("pass", BASE),
            GateRule::default(),
        );
        assert!(!back.regressed());
        assert!(
            back.findings
                .iter()
                .any(|f| f.severity == Severity::Improvement)
        );
    }

    #[test]
    fn nan_error_is_a_regression() {
        let mut new = report("pass", BASE);
        new.layers[0].isolated.as_mut().unwrap().max_abs = Some(f64::NAN);
        assert!(diff(&report("pass", BASE), &new, GateRule::default()).regressed());
    }

    #[test]
    fn removed_added_and_reclassed_layers_are_regressions() {
        let changed = &[
            ("conv", "Conv2D", 4.8e-7, 4.8e-7),
            ("pool", "AveragePooling2D", 4.8e-7, 0.0),
            ("dense_1", "Dense", 3.6e-7, 1.2e-7),
        ];
        let d = diff(
            &report("pass", BASE),
            &report("pass", changed),
            GateRule::default(),
        );
        let k = kinds(&d);
        assert!(
            k.contains(&"dense: disappeared (was Dense)".to_string()),
            "{k:?}"
        );
        assert!(
            k.contains(&"dense_1: appeared (Dense), not in the baseline".to_string()),
            "{k:?}"
        );
        assert!(
            k.contains(&"pool: class changed MaxPooling2D -> AveragePooling2D".to_string()),
            "{k:?}"
        );
        assert_eq!(k.len(), 3, "{k:?}");
    }

    #[test]
    fn worse_verdict_and_status_are_regressions() {
        let broken = &[
            ("conv", "Conv2D", 4.8e-7, 4.8e-7),
            ("pool", "MaxPooling2D", 4.8e-7, 0.0),
            ("dense", "Dense", 2e-4, 2e-4),
        ];
        let d = diff(
            &report("pass", BASE),
            &report("fail", broken),
            GateRule::default(),
        );
        let k = kinds(&d);
        assert_eq!(k[0], "-: verdict pass -> fail", "{k:?}");
        assert!(
            k.contains(&"dense: cumulative check pass -> fail".to_string()),
            "{k:?}"
        );
        assert!(d.to_text().contains("gate: FAIL"));
        let uns = diff(
            &report("fail", broken),
            &report("unsupported", &[]),
            GateRule::default(),
        );
        assert_eq!(
            kinds(&uns),
            vec!["-: verdict fail -> unsupported".to_string()]
        );
    }

    #[test]
    fn different_settings_are_noted_not_failed() {
        let mut new = report("pass", BASE);
        new.seed = 7;
        let d = diff(&report("pass", BASE), &new, GateRule::default());
        assert!(!d.regressed());
        assert!(
            d.to_text().contains("note        seed 0 -> 7"),
            "{}",
            d.to_text()
        );
    }
}
