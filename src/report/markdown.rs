//! `summary.md`: a short Markdown summary for pull-request comments and
//! GitHub's job summary (`$GITHUB_STEP_SUMMARY`).
//!
//! Layout: a headline with the verdict, the run's settings, the first
//! divergence with its causes (when the report has them), a table of the
//! failing layers only (a PR comment on a 150-layer model stays short), and
//! the full per-layer table folded in a `<details>` block. Every name from the
//! model is escaped ([`super::escape::md`]).
//!
//! Not handled: a baseline diff (that is `thaw diff`'s output).

use super::escape::md;
use super::view::{LayerOutcome, LayerView, ReportView, fmt_num};
use std::fmt::Write as _;

fn num(v: Option<f64>) -> String {
    v.map_or("–".into(), fmt_num)
}

pub(crate) fn outcome_text(l: &LayerView) -> String {
    match l.outcome() {
        LayerOutcome::Pass => "ok".into(),
        LayerOutcome::Broken => "FAIL (broken here)".into(),
        LayerOutcome::Downstream => format!(
            "fail (downstream of {})",
            l.downstream_of.as_deref().unwrap_or("?")
        ),
        LayerOutcome::Accumulated => "FAIL (accumulated error)".into(),
        LayerOutcome::Drift => "drift (float32 rounding the graph amplifies)".into(),
        LayerOutcome::Error => format!(
            "ERROR ({})",
            l.cumulative().detail.as_deref().unwrap_or("no detail")
        ),
    }
}

fn row(s: &mut String, l: &LayerView) {
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {} | {} |",
        md(&l.name),
        md(&l.class_name),
        md(&l.tf_node),
        num(l.cumulative().max_abs),
        num(l.isolated.as_ref().and_then(|i| i.max_abs)),
        md(&outcome_text(l))
    );
}

const HEADER: &str = "| layer | class | TF tensor | cumulative max abs | isolated max abs | status |\n|---|---|---|---:|---:|---|\n";

/// Renders the summary.
pub fn render(r: &ReportView) -> String {
    let mut s = String::new();
    let icon = match r.verdict.as_str() {
        "pass" | "drift" => "✅",
        "fail" => "❌",
        _ => "⚠️",
    };
    let _ = writeln!(
        s,
        "### {icon} thaw verify: {} — {}\n",
        r.verdict_word(),
        md(&r.model)
    );
    if r.verdict == "unsupported" {
        let _ = writeln!(
            s,
            "{} node(s) cannot be converted:\n\n| node | op | reason |\n|---|---|---|",
            r.unsupported_ops.len()
        );
        for u in &r.unsupported_ops {
            let _ = writeln!(s, "| {} | {} | {} |", md(&u.node), md(&u.op), md(&u.reason));
        }
        return s;
    }
    let _ = writeln!(
        s,
        "{} layers, {} failing · seed {} · {} samples · atol {:e} · rtol {:e}\n",
        r.layers.len(),
        r.failing(),
        r.seed,
        r.samples,
        r.tolerance.atol,
        r.tolerance.rtol
    );
    if !r.unaligned.is_empty() {
        s.push_str("Layers without a twin (`--keras`):\n\n| side | layer | class | coverage | reason |\n|---|---|---|---|---|\n");
        for u in &r.unaligned {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {}{} | {} |",
                md(&u.side),
                md(&u.layer),
                md(&u.class_name),
                if u.unchecked() { "❌ " } else { "" },
                md(&u.coverage),
                md(&u.reason)
            );
        }
        s.push('\n');
    }
    for line in [r.top1_text(), r.drift_text()] {
        if !line.is_empty() {
            let _ = writeln!(s, "{}\n", md(&line));
        }
    }
    if let Some(d) = &r.first_divergence {
        let class = r
            .layers
            .iter()
            .find(|l| l.name == d.layer)
            .map(|l| format!(" ({})", md(&l.class_name)))
            .unwrap_or_default();
        let _ = writeln!(s, "**First divergence:** {}{class}\n", md(&d.layer));
        if !d.causes.is_empty() {
            s.push_str("Hypotheses that make it pass, most specific first:\n\n");
            for c in &d.causes {
                let _ = writeln!(
                    s,
                    "- {}: {}{}",
                    md(&c.kind),
                    md(&c.detail),
                    c.max_abs_after_fix
                        .map(|v| format!(" (max abs after the fix {})", fmt_num(v)))
                        .unwrap_or_default()
                );
            }
            s.push('\n');
        }
    }
    let failing: Vec<&LayerView> = r.layers.iter().filter(|l| l.outcome().fails()).collect();
    if !failing.is_empty() {
        s.push_str("Failing layers:\n\n");
        s.push_str(HEADER);
        for l in failing {
            row(&mut s, l);
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "<details><summary>All {} layers</summary>\n\n{HEADER}",
        r.layers.len()
    );
    s.pop();
    for l in &r.layers {
        row(&mut s, l);
    }
    s.push_str("\n</details>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_failing_layers_and_escapes_names() {
        let r = ReportView::from_json(
            r#"{"model":"m.pb","verdict":"fail","first_divergence":"a|b",
            "layers":[
             {"name":"ok_1","class_name":"Dense","status":"pass","max_abs":1e-7,"isolated":{"status":"pass","max_abs":0}},
             {"name":"a|b","class_name":"Conv2D","status":"fail","max_abs":0.5,"isolated":{"status":"fail","max_abs":0.5}}]}"#,
        )
        .unwrap();
        let s = render(&r);
        assert!(s.starts_with("### ❌ thaw verify: FAIL"), "{s}");
        assert!(s.contains("2 layers, 1 failing"), "{s}");
        assert!(s.contains("**First divergence:** a\\|b (Conv2D)"), "{s}");
        let failing = s.split("Failing layers:").nth(1).unwrap();
        let failing = failing.split("<details>").next().unwrap();
        assert!(failing.contains("| a\\|b | Conv2D |"), "{failing}");
        assert!(!failing.contains("ok\\_1"), "{failing}");
        // every table row has the header's 6 cells (7 unescaped pipes)
        for line in s.lines().filter(|l| l.starts_with("| ")) {
            let pipes = line.matches('|').count() - line.matches("\\|").count();
            assert_eq!(pipes, 7, "{line}");
        }
    }
}
