//! `junit.xml`: one test case per Keras layer, for CI test-report viewers
//! (GitHub Actions test reporters, GitLab, Jenkins, Azure).
//!
//! Shape (the common subset those parsers accept): a `<testsuites>` root
//! holding one `<testsuite>` with `name`, `tests`, `failures`, `errors`,
//! `skipped`, `time`, a `<properties>` block (seed, samples, tolerance), and
//! one `<testcase name classname time>` per layer. A layer that fails has a
//! `<failure message type>`: `type` is `isolated` (wrong by itself),
//! `downstream` (inherits the error of the layer named in the message) or
//! `cumulative` (error accumulated with no culprit); the message holds the
//! metrics of both checks, the body the full detail. A layer whose comparison
//! could not be made has an `<error>`. An `unsupported` report has one
//! erroring test case per node thaw could not convert. Passing layers carry
//! their metrics in `<system-out>`.
//!
//! Times: every `time` is `"0"`, the suites' too. The file is a function of
//! the report alone, so two runs with the same seed write it byte for byte
//! (issue 15); wall-clock times are in `timings.json`. Per-layer times are
//! not measured anyway (thaw times stages, not layers).

use super::escape::xml;
use super::view::{LayerOutcome, LayerView, ReportView};
use std::fmt::Write as _;

/// Renders the report as JUnit XML.
pub fn render(r: &ReportView) -> String {
    let suite = format!("thaw verify {}", r.model);
    let classname = format!("thaw.{}", class_of(&r.model));
    let mut cases = String::new();
    let (mut failures, mut errors) = (0usize, 0usize);
    let tests;
    if r.verdict == "unsupported" {
        tests = r.unsupported_ops.len().max(1);
        errors = tests;
        for u in &r.unsupported_ops {
            let _ = writeln!(
                cases,
                "    <testcase name=\"convert {}\" classname=\"{}\" time=\"0\">\n      <error message=\"{}\" type=\"unsupported\">{} ({}): {}</error>\n    </testcase>",
                xml(&u.node),
                xml(&classname),
                xml(&format!(
                    "{} ({}) cannot be converted: {}",
                    u.node, u.op, u.reason
                )),
                xml(&u.node),
                xml(&u.op),
                xml(&u.reason),
            );
        }
        if r.unsupported_ops.is_empty() {
            let _ = writeln!(
                cases,
                "    <testcase name=\"convert\" classname=\"{}\" time=\"0\">\n      <error message=\"unsupported\" type=\"unsupported\"/>\n    </testcase>",
                xml(&classname)
            );
        }
    } else {
        tests = r.layers.len() + r.unaligned.len() + r.findings.len();
        // `--keras`: each config or weight difference from the graph is a
        // test case; it fails unless the run was `--numeric-only` (then the
        // verdict does not fail on it and it is only reported).
        for f in &r.findings {
            let name = xml(&format!("config {} {}", f.layer, f.field));
            let _ = writeln!(
                cases,
                "    <testcase name=\"{name}\" classname=\"{}\" time=\"0\">",
                xml(&classname)
            );
            let text = format!("{}: {}: {}", f.layer, f.kind, f.detail);
            if r.verdict == "fail" {
                failures += 1;
                let _ = writeln!(
                    cases,
                    "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                    xml(&text),
                    xml(&f.kind),
                    xml(&text)
                );
            } else {
                let _ = writeln!(cases, "      <system-out>{}</system-out>", xml(&text));
            }
            cases.push_str("    </testcase>\n");
        }
        // `--keras`: a layer without a twin is a test case of its own; one
        // whose result nothing checks fails the run (the verdict says so).
        for u in &r.unaligned {
            let name = xml(&format!("align {} {} ({})", u.side, u.layer, u.class_name));
            let _ = writeln!(
                cases,
                "    <testcase name=\"{name}\" classname=\"{}\" time=\"0\">",
                xml(&classname)
            );
            let text = format!(
                "{} layer {} ({}): {}: {}",
                u.side, u.layer, u.class_name, u.coverage, u.reason
            );
            if u.unchecked() {
                failures += 1;
                let _ = writeln!(
                    cases,
                    "      <failure message=\"{}\" type=\"unaligned\">{}</failure>",
                    xml(&format!(
                        "{} is compared with nothing: {}",
                        u.layer, u.reason
                    )),
                    xml(&text)
                );
            } else {
                let _ = writeln!(cases, "      <system-out>{}</system-out>", xml(&text));
            }
            cases.push_str("    </testcase>\n");
        }
        for l in &r.layers {
            let name = xml(&format!("{} ({})", l.name, l.class_name));
            let _ = writeln!(
                cases,
                "    <testcase name=\"{name}\" classname=\"{}\" time=\"0\">",
                xml(&classname)
            );
            let outcome = l.outcome();
            match outcome {
                LayerOutcome::Pass => {
                    let _ = writeln!(cases, "      <system-out>{}</system-out>", xml(&body(l, r)));
                }
                // Not a failure: the graph's own sensitivity explains it; said in the output.
                LayerOutcome::Drift => {
                    let text = format!("{}\n{}", message(l, outcome), body(l, r));
                    let _ = writeln!(cases, "      <system-out>{}</system-out>", xml(&text));
                }
                LayerOutcome::Error => {
                    errors += 1;
                    let _ = writeln!(
                        cases,
                        "      <error message=\"{}\" type=\"error\">{}</error>",
                        xml(&message(l, outcome)),
                        xml(&body(l, r))
                    );
                }
                _ => {
                    failures += 1;
                    let kind = match outcome {
                        LayerOutcome::Broken => "isolated",
                        LayerOutcome::Downstream => "downstream",
                        _ => "cumulative",
                    };
                    let _ = writeln!(
                        cases,
                        "      <failure message=\"{}\" type=\"{kind}\">{}</failure>",
                        xml(&message(l, outcome)),
                        xml(&body(l, r))
                    );
                }
            }
            cases.push_str("    </testcase>\n");
        }
    }
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"thaw\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"0\">"
    );
    let _ = writeln!(
        s,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"0\">",
        xml(&suite)
    );
    s.push_str("    <properties>\n");
    for (k, v) in [
        ("verdict", r.verdict.clone()),
        ("seed", r.seed.to_string()),
        ("samples", r.samples.to_string()),
        ("atol", format!("{:e}", r.tolerance.atol)),
        ("rtol", format!("{:e}", r.tolerance.rtol)),
        ("thaw_version", r.thaw_version.clone()),
        (
            "first_divergence",
            r.first_divergence
                .as_ref()
                .map(|d| d.layer.clone())
                .unwrap_or_default(),
        ),
    ] {
        let _ = writeln!(s, "      <property name=\"{k}\" value=\"{}\"/>", xml(&v));
    }
    s.push_str("    </properties>\n");
    s.push_str(&cases);
    s.push_str("  </testsuite>\n</testsuites>\n");
    s
}

/// `fixtures/x/model.pb` → `fixtures.x.model`: a dotted class name, as the
/// parsers group test cases by it.
fn class_of(model: &str) -> String {
    let stem = model
        .strip_suffix(".pbtxt")
        .or_else(|| model.strip_suffix(".pb"))
        .unwrap_or(model);
    let parts: Vec<&str> = stem
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
        .collect();
    if parts.is_empty() {
        "model".into()
    } else {
        parts.join(".")
    }
}

/// One line: what failed and the numbers that show it.
fn message(l: &LayerView, outcome: LayerOutcome) -> String {
    let cum = l.cumulative();
    let iso = l.isolated.as_ref();
    let iso_text = iso.map(|i| i.metrics_text()).unwrap_or_default();
    match outcome {
        LayerOutcome::Broken => format!(
            "{} is wrong by itself: fails in isolation ({}){}; cumulative: {} ({})",
            l.name,
            iso_text,
            iso.and_then(|i| i.detail.as_deref())
                .map(|d| format!(": {d}"))
                .unwrap_or_default(),
            cum.status,
            cum.metrics_text()
        ),
        LayerOutcome::Downstream => format!(
            "{} fails cumulatively ({}) but passes in isolation ({}): downstream of {}",
            l.name,
            cum.metrics_text(),
            iso_text,
            l.downstream_of.as_deref().unwrap_or("?")
        ),
        LayerOutcome::Accumulated => format!(
            "{} fails cumulatively ({}) but passes in isolation ({}): error accumulated upstream",
            l.name,
            cum.metrics_text(),
            iso_text
        ),
        LayerOutcome::Error => format!(
            "{}: comparison impossible: {}",
            l.name,
            cum.detail.as_deref().unwrap_or("no detail")
        ),
        LayerOutcome::Pass => format!("{} passes", l.name),
        LayerOutcome::Drift => format!(
            "{} passes in isolation ({}); its cumulative difference ({}) is within the graph's own \
             sensitivity to a one-ulp input change: float32 drift, not a failure",
            l.name,
            iso_text,
            cum.metrics_text()
        ),
    }
}

/// The multi-line detail: both checks, the TF nodes, the causes found.
fn body(l: &LayerView, r: &ReportView) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "layer: {} ({})", l.name, l.class_name);
    let _ = writeln!(s, "tf tensor: {}", l.tf_node);
    let _ = writeln!(s, "tf nodes: {}", l.tf_nodes.join(", "));
    let cum = l.cumulative();
    let _ = writeln!(s, "cumulative: {} {}", cum.status, cum.metrics_text());
    if let Some(i) = &l.isolated {
        let _ = writeln!(s, "isolated: {} {}", i.status, i.metrics_text());
    }
    if let Some(d) = cum.detail.as_deref() {
        let _ = writeln!(s, "detail: {d}");
    }
    if let Some(d) = l.isolated.as_ref().and_then(|i| i.detail.as_deref()) {
        let _ = writeln!(s, "isolated detail: {d}");
    }
    if let Some(up) = &l.downstream_of {
        let _ = writeln!(s, "downstream of: {up}");
    }
    if let Some(d) = r.first_divergence.as_ref().filter(|d| d.layer == l.name) {
        for c in &d.causes {
            let _ = writeln!(
                s,
                "possible cause: {}: {}{}",
                c.kind,
                c.detail,
                c.max_abs_after_fix
                    .map(|v| format!(" (max abs after fix {v:e})"))
                    .unwrap_or_default()
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ReportView {
        ReportView::from_json(
            r#"{"model":"fixtures/m/model.pb","verdict":"fail","seed":3,"samples":2,
            "tolerance":{"atol":1e-4,"rtol":1e-3},"timings":{"total_ms":1500},
            "first_divergence":{"layer":"bn<1>","causes":[{"kind":"bn_epsilon","detail":"eps 1e-5 & not 1e-3","max_abs_after_fix":1e-7}]},
            "layers":[
             {"name":"conv","class_name":"Conv2D","tf_node":"c:0","status":"pass","max_abs":1e-7,
              "isolated":{"status":"pass","max_abs":1e-7}},
             {"name":"bn<1>","class_name":"BatchNormalization","tf_node":"b:0","status":"fail","max_abs":0.3,
              "isolated":{"status":"fail","max_abs":0.3,"out_of_tolerance":40}},
             {"name":"relu","class_name":"ReLU","tf_node":"r:0","status":"fail","max_abs":0.3,
              "isolated":{"status":"pass","max_abs":0.0},"downstream_of":"bn<1>"},
             {"name":"flat","class_name":"Flatten","tf_node":"f:0","status":"error","detail":"shape mismatch",
              "isolated":{"status":"pass","max_abs":0.0}}
            ]}"#,
        )
        .unwrap()
    }

    #[test]
    fn junit_parses_with_one_case_per_layer_and_right_counts() {
        let xml = render(&report());
        let doc = roxmltree::Document::parse(&xml).expect("junit.xml is well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let suite = root
            .children()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        assert_eq!(suite.attribute("tests"), Some("4"));
        assert_eq!(suite.attribute("failures"), Some("2"));
        assert_eq!(suite.attribute("errors"), Some("1"));
        // A schema-4 report's timings are ignored: the file holds no clock.
        assert_eq!(suite.attribute("time"), Some("0"));
        let cases: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 4);
        assert_eq!(
            cases[1].attribute("name"),
            Some("bn<1> (BatchNormalization)")
        );
        assert_eq!(
            cases[0].attribute("classname"),
            Some("thaw.fixtures.m.model")
        );
        let fail = cases[1]
            .children()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(fail.attribute("type"), Some("isolated"));
        let msg = fail.attribute("message").unwrap();
        assert!(msg.contains("fails in isolation"), "{msg}");
        assert!(msg.contains("max_abs=0.3000"), "{msg}");
        assert!(msg.contains("out_of_tolerance=40"), "{msg}");
        assert!(
            fail.text()
                .unwrap()
                .contains("bn_epsilon: eps 1e-5 & not 1e-3"),
            "causes in the body"
        );
        let down = cases[2]
            .children()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(down.attribute("type"), Some("downstream"));
        assert!(
            down.attribute("message")
                .unwrap()
                .contains("downstream of bn<1>")
        );
        assert!(cases[3].children().any(|n| n.has_tag_name("error")));
        assert!(cases[0].children().any(|n| n.has_tag_name("system-out")));
        assert!(!cases[0].children().any(|n| n.has_tag_name("failure")));
    }

    #[test]
    fn unsupported_report_has_an_error_case_per_node() {
        let r = ReportView::from_json(
            r#"{"model":"m.pb","verdict":"unsupported","unsupported_ops":[
              {"node":"a","op":"Foo","reason":"no rule"},{"node":"b","op":"Bar","reason":"x<y"}]}"#,
        )
        .unwrap();
        let xml = render(&r);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let errors = doc
            .descendants()
            .filter(|n| n.has_tag_name("error"))
            .count();
        assert_eq!(errors, 2);
        assert!(xml.contains("x&lt;y"));
    }
    /// Schema 3 (`cumulative{}` objects) and the `drift` verdict: a drifting
    /// layer is a passing test case that says why, and the run has no failure.
    #[test]
    fn drift_layers_pass_with_the_reason_in_their_output() {
        let r = ReportView::from_json(
            r#"{"schema_version":3,"model":"m.pb","verdict":"drift","samples":4,
            "drift":{"first_layer":"deep","layers":1,"worst_ratio":2.5,"factor":10},
            "layers":[
             {"name":"conv","class_name":"Conv2D","status":"pass",
              "cumulative":{"status":"pass","max_abs":1e-7,"top1_agreement":0.75},
              "isolated":{"status":"pass","max_abs":1e-7}},
             {"name":"deep","class_name":"Conv2D","status":"drift",
              "cumulative":{"status":"drift","max_abs":3.0,"sensitivity":1.2},
              "isolated":{"status":"pass","max_abs":1e-6}}]}"#,
        )
        .unwrap();
        assert_eq!(r.failing(), 0);
        let xml = render(&r);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        assert_eq!(suite.attribute("failures"), Some("0"));
        assert_eq!(suite.attribute("errors"), Some("0"));
        let out = doc
            .descendants()
            .filter(|n| n.has_tag_name("system-out"))
            .nth(1)
            .and_then(|n| n.text())
            .unwrap();
        assert!(out.contains("float32 drift, not a failure"), "{out}");
        assert!(out.contains("max_abs=3"), "{out}");
        let md = super::super::markdown::render(&r);
        assert!(md.starts_with("### ✅ thaw verify: DRIFT"), "{md}");
        assert!(
            md.contains("1 layer(s) from deep differ cumulatively by at most 2.5000x"),
            "{md}"
        );
        assert!(
            md.contains("top-1 agreement of output conv: 75.0% (4 samples)"),
            "{md}"
        );
        let html = super::super::html::render(&r);
        assert!(html.contains("<h1 id=\"verdict\" class=\"drift\">DRIFT</h1>"));
        assert!(html.contains("<p id=\"top1\">top-1 agreement of output conv: 75.0%"));
        assert!(html.contains("<tr class=\"drift\" id=\"layer-1\">"));
    }
    /// `--keras`: unaligned layers are test cases; an unchecked one fails
    /// the run even when every compared layer passes.
    #[test]
    fn an_unchecked_unaligned_layer_is_a_failing_case() {
        let r = ReportView::from_json(
            r#"{"schema_version":3,"model":"m.pb","verdict":"fail","samples":4,
            "unaligned":[
             {"side":"user","layer":"drop","class_name":"Dropout","coverage":"identity","reason":"compared as an identity"},
             {"side":"graph","layer":"head","class_name":"Dense","coverage":"unchecked","reason":"no user layer computes this output"}],
            "layers":[{"name":"conv","class_name":"Conv2D","status":"pass",
              "cumulative":{"status":"pass","max_abs":0},"isolated":{"status":"pass","max_abs":0}}]}"#,
        )
        .unwrap();
        let xml = render(&r);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        assert_eq!(suite.attribute("tests"), Some("3"));
        assert_eq!(suite.attribute("failures"), Some("1"));
        let failure = doc
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(failure.attribute("type"), Some("unaligned"));
        assert!(
            failure
                .attribute("message")
                .unwrap()
                .starts_with("head is compared with nothing")
        );
        let md = super::super::markdown::render(&r);
        assert!(
            md.contains(
                "| graph | head | Dense | ❌ unchecked | no user layer computes this output |"
            ),
            "{md}"
        );
        let html = super::super::html::render(&r);
        assert!(html.contains("<table id=\"unaligned\">"));
        assert!(html.contains("<tr class=\"broken\"><td>graph</td><td><code>head</code></td>"));
    }
}
