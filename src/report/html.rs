//! `report.html`: one self-contained page (inline CSS, inline SVG, one small
//! inline script; no fetch of any kind — a Content-Security-Policy of
//! `default-src 'none'` forbids it) with:
//! - the verdict (`#verdict`) and the run's settings;
//! - the first divergence, highlighted, with its causes when the report has
//!   them (`first_divergence.causes[]`);
//! - a per-layer error chart (`svg#error-chart`): max abs error of the
//!   cumulative and isolated checks per layer on a log scale, the atol line,
//!   the broken layer's column shaded red. Exact zeros sit on the bottom
//!   line, labelled `0`;
//!   a layer whose check could not be made has no point;
//! - the layer graph (`svg#layer-graph`, [`super::graph_view`]): the Keras
//!   layers as a DAG coloured by outcome, each box linking to its table row;
//! - the layer ↔ TF node table, failing rows highlighted.
//!
//! Every string from the model or report is escaped ([`super::escape::xml`]).
//! The inline script only records, after layout, how many chart points and
//! graph boxes the browser drew (`<html data-chart-drawn="N"
//! data-graph-drawn="M">`); the headless-Chromium test reads them back. The page reads fine without it.
//!
//! Not handled: interactivity (sorting, zoom); names are cut in the chart's
//! axis labels beyond 80 layers (the table has them all).

use super::escape::xml;
use super::markdown::outcome_text;
use super::view::{LayerOutcome, ReportView, fmt_num};
use std::fmt::Write as _;

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1b1f24;max-width:1400px}
h1{margin:0 0 4px;font-size:28px} h1.pass{color:#1a7f37} h1.fail{color:#cf222e} h1.unsupported{color:#9a6700}
.muted{color:#57606a} section{margin:24px 0}
.divergence{border-left:6px solid #cf222e;background:#ffebe9;padding:10px 14px}
table{border-collapse:collapse;font-size:13px} th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums;font-family:ui-monospace,monospace}
tr.broken td{background:#ffebe9;font-weight:600} tr.downstream td{background:#fff8c5} tr.error td{background:#fbefff} tr.drift td{background:#eef6ff}
code{font-family:ui-monospace,monospace;font-size:12px} td{max-width:420px} td code{overflow-wrap:anywhere}
.chart{overflow-x:auto} svg text{font:11px system-ui,sans-serif;fill:#57606a}
.legend span{display:inline-block;margin-right:16px} .sw{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:4px}
.sw.box{height:12px;border:1px solid #8c959f} .graph{overflow:auto;max-height:760px;border:1px solid #d0d7de}
#layer-graph text.name{fill:#1b1f24;font-weight:600} #layer-graph a:hover rect{stroke-width:3}
"#;

const SCRIPT: &str = r#"addEventListener('load',function(){var s=document.getElementById('error-chart');var p=s?s.querySelectorAll('circle.pt'):[];var n=0;for(var i=0;i<p.length;i++){var b=p[i].getBoundingClientRect();if(b.width>0&&b.height>0)n++;}document.documentElement.setAttribute('data-chart-drawn',String(n));var g=document.querySelectorAll('#layer-graph g.node rect'),m=0;for(var j=0;j<g.length;j++){var c=g[j].getBoundingClientRect();if(c.width>0&&c.height>0)m++;}document.documentElement.setAttribute('data-graph-drawn',String(m));});"#;

const CUM_COLOR: &str = "#0969da";
const ISO_COLOR: &str = "#e16f24";

/// Renders the page.
pub fn render(r: &ReportView) -> String {
    let verdict = r.verdict_word();
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>thaw verify: {} — {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        xml(&verdict),
        xml(&r.model)
    );
    let headline = match r.verdict.as_str() {
        "pass" => "PASS: the Keras model computes what the graph computes",
        "fail" => "FAIL: the Keras model diverges from the graph",
        "drift" => {
            "DRIFT: every layer computes what the graph computes in isolation; the cumulative \
             differences are float32 rounding that the graph itself amplifies"
        }
        "unsupported" => "UNSUPPORTED: some nodes cannot be converted",
        _ => "",
    };
    let _ = writeln!(
        s,
        "<header>\n<h1 id=\"verdict\" class=\"{}\">{}</h1>\n<p class=\"muted\">{}</p>\n\
         <p><code>{}</code> · {} layers, {} failing · seed {} · {} samples · atol {:e} · rtol {:e} · thaw {}</p>\n</header>",
        xml(&r.verdict),
        xml(&verdict),
        headline,
        xml(&r.model),
        r.layers.len(),
        r.failing(),
        r.seed,
        r.samples,
        r.tolerance.atol,
        r.tolerance.rtol,
        xml(&r.thaw_version)
    );
    if r.verdict == "unsupported" {
        s.push_str("<section><h2>Nodes thaw cannot convert</h2>\n<table id=\"unsupported\"><tr><th>node</th><th>op</th><th>reason</th></tr>\n");
        for u in &r.unsupported_ops {
            let _ = writeln!(
                s,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                xml(&u.node),
                xml(&u.op),
                xml(&u.reason)
            );
        }
        s.push_str("</table></section>\n");
    }
    if !r.findings.is_empty() {
        s.push_str(
            "<section><h2>Config and weight findings (<code>--keras</code>)</h2>\n<table id=\"findings\">\
             <tr><th>layer</th><th>kind</th><th>field</th><th>detail</th></tr>\n",
        );
        for f in &r.findings {
            let _ = writeln!(
                s,
                "<tr class=\"broken\"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                xml(&f.layer),
                xml(&f.kind),
                xml(&f.field),
                xml(&f.detail)
            );
        }
        s.push_str("</table></section>\n");
    }
    if !r.unaligned.is_empty() {
        s.push_str(
            "<section><h2>Layers without a twin (<code>--keras</code>)</h2>\n<table id=\"unaligned\">\
             <tr><th>side</th><th>layer</th><th>class</th><th>coverage</th><th>reason</th></tr>\n",
        );
        for u in &r.unaligned {
            let _ = writeln!(
                s,
                "<tr class=\"{}\"><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if u.unchecked() { "broken" } else { "pass" },
                xml(&u.side),
                xml(&u.layer),
                xml(&u.class_name),
                xml(&u.coverage),
                xml(&u.reason)
            );
        }
        s.push_str("</table></section>\n");
    }
    for (id, line) in [("top1", r.top1_text()), ("drift", r.drift_text())] {
        if !line.is_empty() {
            let _ = writeln!(s, "<p id=\"{id}\">{}</p>", xml(&line));
        }
    }
    if let Some(d) = &r.first_divergence {
        let class = r
            .layers
            .iter()
            .find(|l| l.name == d.layer)
            .map(|l| format!(" ({})", xml(&l.class_name)))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "<section id=\"first-divergence\" class=\"divergence\">\n<h2>First divergence: <code>{}</code>{class}</h2>\n\
             <p>The first layer, in topological order, that is wrong by itself (fed the graph's own values of its inputs). \
             Layers after it that fail only cumulatively inherit its error.</p>",
            xml(&d.layer)
        );
        if d.causes.is_empty() {
            s.push_str("<p class=\"muted\">No hypothesis about the cause in this report.</p>\n");
        } else {
            s.push_str(
                "<p>Hypotheses that make it pass, most specific first:</p>\n<ul id=\"causes\">\n",
            );
            for c in &d.causes {
                let _ = writeln!(
                    s,
                    "<li><b>{}</b>: {}{}</li>",
                    xml(&c.kind),
                    xml(&c.detail),
                    c.max_abs_after_fix
                        .map(|v| format!(" (max abs after the fix {})", xml(&fmt_num(v))))
                        .unwrap_or_default()
                );
            }
            s.push_str("</ul>\n");
        }
        s.push_str("</section>\n");
    }
    if !r.layers.is_empty() {
        s.push_str("<section>\n<h2>Per-layer error</h2>\n<p class=\"legend\">");
        let _ = write!(
            s,
            "<span><i class=\"sw\" style=\"background:{CUM_COLOR}\"></i>cumulative max abs (each side on its own)</span>\
             <span><i class=\"sw\" style=\"background:{ISO_COLOR}\"></i>isolated max abs (fed the graph's inputs)</span>\
             <span><i class=\"sw\" style=\"background:#cf222e\"></i>atol</span>"
        );
        s.push_str("</p>\n<div class=\"chart\">\n");
        s.push_str(&chart(r));
        s.push_str("</div>\n</section>\n");
        s.push_str(
            "<section>\n<h2>Layer graph</h2>\n<p class=\"legend\">\
             <span><i class=\"sw box\" style=\"background:#dafbe1\"></i>pass</span>\
             <span><i class=\"sw box\" style=\"background:#ffcecb\"></i>wrong by itself (thick outline: the first divergence)</span>\
             <span><i class=\"sw box\" style=\"background:#fff8c5\"></i>fails downstream</span>\
             <span><i class=\"sw box\" style=\"background:#ddf4ff\"></i>drift</span>\
             <span><i class=\"sw box\" style=\"background:#fbefff\"></i>not compared</span>\
             <span><i class=\"sw box\" style=\"background:#f6f8fa\"></i>model input</span> \
             Click a layer for its row in the table.</p>\n<div class=\"graph\">\n",
        );
        s.push_str(&super::graph_view::render(r));
        s.push_str("</div>\n</section>\n");
        table(&mut s, r);
    }
    let _ = writeln!(s, "<script>{SCRIPT}</script>\n</body>\n</html>");
    s
}

fn table(s: &mut String, r: &ReportView) {
    s.push_str(
        "<section>\n<h2>Layers ↔ TF nodes</h2>\n<table id=\"layers\">\n<tr><th>#</th><th>layer</th><th>class</th>\
         <th>TF tensor compared</th><th>TF nodes</th><th>cumulative max abs</th><th>isolated max abs</th>\
         <th>cosine</th><th>status</th></tr>\n",
    );
    for (i, l) in r.layers.iter().enumerate() {
        let class = match l.outcome() {
            LayerOutcome::Pass => "pass",
            LayerOutcome::Drift => "drift",
            LayerOutcome::Broken => "broken",
            LayerOutcome::Downstream | LayerOutcome::Accumulated => "downstream",
            LayerOutcome::Error => "error",
        };
        let num = |v: Option<f64>| v.map_or("–".to_string(), |v| xml(&fmt_num(v)));
        let _ = writeln!(
            s,
            "<tr class=\"{class}\" id=\"layer-{i}\"><td class=\"num\">{i}</td><td><code>{}</code></td><td>{}</td>\
             <td><code>{}</code></td><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td></tr>",
            xml(&l.name),
            xml(&l.class_name),
            xml(&l.tf_node),
            l.tf_nodes
                .iter()
                .map(|n| xml(n))
                .collect::<Vec<_>>()
                .join("<br>"),
            num(l.cumulative().max_abs),
            num(l.isolated.as_ref().and_then(|i| i.max_abs)),
            num(l.cumulative().cosine),
            xml(&outcome_text(l)),
        );
    }
    s.push_str("</table>\n</section>\n");
}

/// The log-scale chart as inline SVG.
fn chart(r: &ReportView) -> String {
    let n = r.layers.len();
    let series: Vec<[Option<f64>; 2]> = r
        .layers
        .iter()
        .map(|l| {
            [
                l.cumulative().max_abs,
                l.isolated.as_ref().and_then(|i| i.max_abs),
            ]
        })
        .collect();
    let atol = (r.tolerance.atol > 0.0).then_some(r.tolerance.atol);
    let positive = series
        .iter()
        .flatten()
        .flatten()
        .copied()
        .chain(atol)
        .filter(|v| v.is_finite() && *v > 0.0);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in positive {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        (lo, hi) = (1e-8, 1.0);
    }
    // Whole decades, one below the smallest value so exact zeros (drawn on
    // the bottom line) stand apart; at most 1e-12 below (f32 noise floor).
    let lo_dec = (lo.log10().floor() as i32 - 1).max(-12);
    let hi_dec = (hi.log10().ceil() as i32).max(lo_dec + 1);
    let (left, top, plot_h) = (64.0, 12.0, 260.0);
    let step = (900.0 / n.max(1) as f64).clamp(6.0, 48.0);
    let plot_w = step * n.max(1) as f64;
    let labels = n <= 80;
    let height = top + plot_h + if labels { 130.0 } else { 30.0 };
    let width = left + plot_w + 16.0;
    let x = |i: usize| left + step * (i as f64 + 0.5);
    let y = |v: f64| {
        let d = if v > 0.0 && v.is_finite() {
            v.log10().clamp(lo_dec as f64, hi_dec as f64)
        } else if v > 0.0 {
            hi_dec as f64 // +inf / NaN treated as off the top
        } else {
            lo_dec as f64
        };
        top + plot_h * (hi_dec as f64 - d) / (hi_dec - lo_dec) as f64
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg id=\"error-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"max abs error per layer, log scale\">"
    );
    // the broken layer's column first, under everything else
    for (i, l) in r.layers.iter().enumerate() {
        if l.outcome() == LayerOutcome::Broken {
            let _ = writeln!(
                s,
                "<rect class=\"broken-band\" x=\"{:.1}\" y=\"{top}\" width=\"{step:.1}\" height=\"{plot_h}\" fill=\"#ffcecb\"><title>{} is wrong by itself</title></rect>",
                left + step * i as f64,
                xml(&l.name)
            );
        }
    }
    for d in lo_dec..=hi_dec {
        let yy = y(10f64.powi(d));
        // No value lies in the bottom decade (it is one below the smallest),
        // so its line holds only the exact zeros.
        let label = if d == lo_dec {
            "0".to_string()
        } else {
            format!("1e{d}")
        };
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#eaeef2\"/><text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
            left + plot_w,
            left - 6.0,
            yy + 4.0
        );
    }
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" x2=\"{left}\" y1=\"{top}\" y2=\"{:.1}\" stroke=\"#8c959f\"/>",
        top + plot_h
    );
    if let Some(a) = atol {
        let yy = y(a);
        let _ = writeln!(
            s,
            "<line class=\"atol\" x1=\"{left}\" x2=\"{:.1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#cf222e\" stroke-dasharray=\"6 4\"><title>atol {a:e}</title></line>",
            left + plot_w
        );
    }
    for (k, (color, label)) in [(CUM_COLOR, "cumulative"), (ISO_COLOR, "isolated")]
        .into_iter()
        .enumerate()
    {
        let pts: Vec<String> = series
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v[k].map(|v| format!("{:.1},{:.1}", x(i), y(v))))
            .collect();
        let _ = writeln!(
            s,
            "<polyline class=\"{label}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>",
            pts.join(" ")
        );
        for (i, v) in series.iter().enumerate() {
            if let Some(v) = v[k] {
                let _ = writeln!(
                    s,
                    "<circle class=\"pt {label}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"><title>{} ({}): {label} max abs {}</title></circle>",
                    x(i),
                    y(v),
                    xml(&r.layers[i].name),
                    xml(&r.layers[i].class_name),
                    xml(&fmt_num(v))
                );
            }
        }
    }
    if labels {
        for (i, l) in r.layers.iter().enumerate() {
            let name: String = l.name.chars().take(24).collect();
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" transform=\"rotate(-60 {:.1} {:.1})\" text-anchor=\"end\">{}</text>",
                x(i),
                top + plot_h + 12.0,
                x(i),
                top + plot_h + 12.0,
                xml(&name)
            );
        }
    } else {
        let _ = writeln!(
            s,
            "<text x=\"{left}\" y=\"{:.1}\">layers 0 … {} in topological order (names in the table)</text>",
            top + plot_h + 18.0,
            n - 1
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> ReportView {
        ReportView::from_json(
            r#"{"model":"fixtures/<m>/model.pb","verdict":"fail","seed":0,"samples":4,
            "tolerance":{"atol":1e-4,"rtol":1e-3},
            "first_divergence":{"layer":"bn","causes":[{"kind":"bn_epsilon","detail":"epsilon 1e-5 <not> 1e-3","max_abs_after_fix":2e-7}]},
            "layers":[
             {"name":"conv","class_name":"Conv2D","tf_node":"c/Relu:0","tf_nodes":["c/Conv2D","c/Relu"],"status":"pass","max_abs":4e-7,
              "isolated":{"status":"pass","max_abs":4e-7}},
             {"name":"bn","class_name":"BatchNormalization","tf_node":"b:0","status":"fail","max_abs":0.03,
              "isolated":{"status":"fail","max_abs":0.03}},
             {"name":"pool","class_name":"MaxPooling2D","tf_node":"p:0","status":"fail","max_abs":0.03,
              "isolated":{"status":"pass","max_abs":0.0},"downstream_of":"bn"}
            ]}"#,
        )
        .unwrap()
    }

    #[test]
    fn page_is_self_contained_and_escaped() {
        let h = render(&sample());
        assert!(h.contains("<h1 id=\"verdict\" class=\"fail\">FAIL</h1>"));
        assert!(h.contains("fixtures/&lt;m&gt;/model.pb"));
        assert!(h.contains("epsilon 1e-5 &lt;not&gt; 1e-3"));
        assert!(!h.contains("<m>") && !h.contains("<not>"));
        // nothing that would make a browser fetch anything
        for needle in ["src=", "href=", "@import", "url(", "http://", "https://"] {
            // links to the page's own table rows (graph view) fetch nothing
            let hits = h.matches(needle).count()
                - h.matches("href=\"#layer-").count() * usize::from(needle == "href=");
            // the SVG namespace URI (one per svg), never fetched
            let allowed = h.matches("<svg ").count() * usize::from(needle == "http://");
            assert_eq!(hits, allowed, "{needle} in the page");
        }
        assert!(h.contains("default-src 'none'"));
    }

    #[test]
    fn chart_has_a_point_per_check_and_marks_the_broken_layer() {
        let h = render(&sample());
        assert_eq!(h.matches("<circle class=\"pt cumulative\"").count(), 3);
        assert_eq!(h.matches("<circle class=\"pt isolated\"").count(), 3);
        assert_eq!(h.matches("class=\"broken-band\"").count(), 1);
        assert!(h.contains("<tr class=\"broken\" id=\"layer-1\">"));
        assert!(h.contains("<tr class=\"downstream\" id=\"layer-2\">"));
        assert!(h.contains("<li><b>bn_epsilon</b>"));
    }

    #[test]
    fn unsupported_page_lists_the_nodes_and_has_no_chart() {
        let r = ReportView::from_json(
            r#"{"model":"m.pb","verdict":"unsupported","unsupported_ops":[
              {"node":"a/b","op":"Einsum","reason":"no rule for <Einsum>"}]}"#,
        )
        .unwrap();
        let h = render(&r);
        assert!(h.contains("<h1 id=\"verdict\" class=\"unsupported\">UNSUPPORTED</h1>"));
        assert!(h.contains(
            "<td><code>a/b</code></td><td>Einsum</td><td>no rule for &lt;Einsum&gt;</td>"
        ));
        assert!(!h.contains("<svg"));
    }

    #[test]
    fn log_scale_orders_points_by_error() {
        let h = render(&sample());
        let cy = |label: &str, name: &str| -> f64 {
            let key = format!("<circle class=\"pt {label}\"");
            let c = h
                .split(&key)
                .skip(1)
                .find(|c| c.contains(&format!("<title>{name} (")))
                .unwrap();
            let v = c.split("cy=\"").nth(1).unwrap().split('"').next().unwrap();
            v.parse().unwrap()
        };
        // bigger error = higher on the page = smaller y; zero at the bottom
        assert!(cy("cumulative", "bn") < cy("cumulative", "conv"));
        assert!(cy("isolated", "conv") < cy("isolated", "pool"));
        // 4e-7 and 3e-2 are ~4.9 decades apart on a 260px plot spanning
        // the decades 1e-8..1e-1 (7 decades): about 182px apart.
        let gap = cy("cumulative", "conv") - cy("cumulative", "bn");
        assert!(
            (gap - 260.0 * (0.03f64 / 4e-7).log10() / 7.0).abs() < 0.5,
            "{gap}"
        );
    }
}
