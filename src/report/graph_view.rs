//! `report.html`'s graph view (`svg#layer-graph`): the Keras layers as a DAG,
//! drawn as inline SVG (no script, no network), each layer a box coloured by
//! its outcome, the first divergence outlined thick, every box a link to the
//! layer's row of the table (`#layer-N`).
//!
//! Layout: longest-path layering, top to bottom — a layer sits one rank below
//! the deepest layer feeding it, model inputs (inbound names that are not
//! layers of the report) on rank 0. Within a rank, boxes are ordered by the
//! mean position of their inputs (one downward pass), which keeps chains
//! straight. Edges are cubic curves from an input's bottom to the layer's top;
//! an edge that skips ranks (a residual connection) arcs out of the boxes'
//! right sides instead, so that a straight chain does not hide it.
//! Big models scroll inside a bounded box (`div.graph`).
//!
//! Not handled: crossing minimisation beyond the one pass, edge routing around
//! boxes (in a rank several boxes wide, an arc may cross a neighbour), collapsing
//! blocks; names longer than 22 characters are cut (the `<title>` and the
//! table have them whole).

use super::escape::xml;
use super::view::{LayerOutcome, ReportView};
use std::collections::HashMap;
use std::fmt::Write as _;

const BOX_W: f64 = 168.0;
const BOX_H: f64 = 36.0;
const GAP_X: f64 = 24.0;
const GAP_Y: f64 = 34.0;
const PAD: f64 = 12.0;
/// How far right of the boxes an edge skipping ranks bows, at least.
const ARC_MIN: f64 = 24.0;

/// Fill and stroke of a box, by outcome (`None`: a model input).
fn colors(o: Option<LayerOutcome>) -> (&'static str, &'static str, &'static str) {
    match o {
        None => ("#f6f8fa", "#8c959f", "input"),
        Some(LayerOutcome::Pass) => ("#dafbe1", "#1a7f37", "pass"),
        Some(LayerOutcome::Drift) => ("#ddf4ff", "#0969da", "drift"),
        Some(LayerOutcome::Broken) => ("#ffcecb", "#cf222e", "broken"),
        Some(LayerOutcome::Downstream | LayerOutcome::Accumulated) => {
            ("#fff8c5", "#9a6700", "downstream")
        }
        Some(LayerOutcome::Error) => ("#fbefff", "#8250df", "error"),
    }
}

/// One box: a report layer (its index) or a model input.
struct Node<'a> {
    name: &'a str,
    layer: Option<usize>,
    rank: usize,
    x: f64,
}

/// The graph view's SVG (empty when the report has no layers).
pub fn render(r: &ReportView) -> String {
    if r.layers.is_empty() {
        return String::new();
    }
    let mut nodes: Vec<Node> = Vec::new();
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for (i, l) in r.layers.iter().enumerate() {
        by_name.entry(l.name.as_str()).or_insert(i);
    }
    let mut id: HashMap<&str, usize> = HashMap::new();
    // model inputs first (rank 0), in order of first use
    for l in &r.layers {
        for src in &l.inbound {
            if !by_name.contains_key(src.as_str()) && !id.contains_key(src.as_str()) {
                id.insert(src, nodes.len());
                nodes.push(Node {
                    name: src,
                    layer: None,
                    rank: 0,
                    x: 0.0,
                });
            }
        }
    }
    let has_inputs = !nodes.is_empty();
    let mut edges: Vec<(usize, usize)> = Vec::new();
    // layers are in topological order, so every known input is placed first;
    // an inbound name that refers to a later layer (not expected) is ignored
    for (i, l) in r.layers.iter().enumerate() {
        if id.contains_key(l.name.as_str()) {
            continue; // a duplicate name: drawn once
        }
        let me = nodes.len();
        let mut rank = usize::from(has_inputs);
        for src in &l.inbound {
            if let Some(&s) = id.get(src.as_str()) {
                rank = rank.max(nodes[s].rank + 1);
                edges.push((s, me));
            }
        }
        id.insert(&l.name, me);
        nodes.push(Node {
            name: &l.name,
            layer: Some(i),
            rank,
            x: 0.0,
        });
    }
    let ranks = nodes.iter().map(|n| n.rank).max().unwrap_or(0) + 1;
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); ranks];
    for (k, n) in nodes.iter().enumerate() {
        rows[n.rank].push(k);
    }
    let mut parents: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for &(s, t) in &edges {
        parents[t].push(s);
    }
    let widest = rows.iter().map(Vec::len).max().unwrap_or(1) as f64;
    // room on the right for the arcs of edges that skip ranks
    let width = PAD * 2.0 + widest * BOX_W + (widest - 1.0) * GAP_X + ARC_MIN + 40.0;
    for row in &mut rows {
        // one barycentre pass: order by the mean x of the inputs (placed above)
        let key = |k: usize| -> f64 {
            let p = &parents[k];
            if p.is_empty() {
                f64::MAX
            } else {
                p.iter().map(|&q| nodes[q].x).sum::<f64>() / p.len() as f64
            }
        };
        let mut keyed: Vec<(f64, usize)> = row.iter().map(|&k| (key(k), k)).collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        *row = keyed.into_iter().map(|(_, k)| k).collect();
        let row_w = row.len() as f64 * BOX_W + (row.len() as f64 - 1.0) * GAP_X;
        let x0 = (width - ARC_MIN - 40.0 - row_w) / 2.0;
        for (j, &k) in row.iter().enumerate() {
            nodes[k].x = x0 + j as f64 * (BOX_W + GAP_X) + BOX_W / 2.0;
        }
    }
    let y = |rank: usize| PAD + rank as f64 * (BOX_H + GAP_Y);
    let height = y(ranks) - GAP_Y + PAD;
    let first = r.first_divergence.as_ref().map(|d| d.layer.as_str());
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg id=\"layer-graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"the Keras layers as a graph, coloured by status\">"
    );
    for &(a, b) in &edges {
        let span = nodes[b].rank - nodes[a].rank;
        let d = if span == 1 {
            // bottom of the input to the top of the layer
            let (x1, y1) = (nodes[a].x, y(nodes[a].rank) + BOX_H);
            let (x2, y2) = (nodes[b].x, y(nodes[b].rank));
            let my = (y1 + y2) / 2.0;
            format!("M{x1:.1},{y1:.1} C{x1:.1},{my:.1} {x2:.1},{my:.1} {x2:.1},{y2:.1}")
        } else {
            // a skip over ranks: an arc out of the right side, so that it is
            // not hidden behind the boxes of a straight chain
            let (x1, y1) = (nodes[a].x + BOX_W / 2.0, y(nodes[a].rank) + BOX_H / 2.0);
            let (x2, y2) = (nodes[b].x + BOX_W / 2.0, y(nodes[b].rank) + BOX_H / 2.0);
            let bow = ARC_MIN + 4.0 * span.min(10) as f64;
            format!(
                "M{x1:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}",
                x1 + bow,
                x2 + bow
            )
        };
        let _ = writeln!(
            s,
            "<path class=\"edge\" data-from=\"{}\" data-to=\"{}\" d=\"{d}\" fill=\"none\" stroke=\"#8c959f\"/>",
            xml(nodes[a].name),
            xml(nodes[b].name)
        );
    }
    for n in &nodes {
        let l = n.layer.map(|i| &r.layers[i]);
        let (fill, stroke, class) = colors(l.map(|l| l.outcome()));
        let is_first = first.is_some_and(|f| f == n.name) && l.is_some();
        let (x, yy) = (n.x - BOX_W / 2.0, y(n.rank));
        let short: String = if n.name.chars().count() > 22 {
            n.name
                .chars()
                .take(21)
                .chain(std::iter::once('…'))
                .collect()
        } else {
            n.name.to_string()
        };
        let sub = l.map_or("input", |l| l.class_name.as_str());
        let title = match l {
            Some(l) => format!(
                "{} ({}): {}",
                l.name,
                l.class_name,
                super::markdown::outcome_text(l)
            ),
            None => format!("{}: model input", n.name),
        };
        let open = match n.layer {
            Some(i) => format!("<a href=\"#layer-{i}\">"),
            None => String::new(),
        };
        let _ = writeln!(
            s,
            "{open}<g class=\"node {class}{}\" data-layer=\"{}\"><title>{}</title>\
             <rect x=\"{x:.1}\" y=\"{yy:.1}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"5\" fill=\"{fill}\" stroke=\"{}\" stroke-width=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"name\">{}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></g>{}",
            if is_first { " first-divergence" } else { "" },
            xml(n.name),
            xml(&title),
            if is_first { "#82071e" } else { stroke },
            if is_first { 4 } else { 1 },
            n.x,
            yy + 15.0,
            xml(&short),
            n.x,
            yy + 29.0,
            xml(sub),
            if n.layer.is_some() { "</a>" } else { "" }
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn report() -> ReportView {
        ReportView::from_json(
            r#"{"verdict":"fail","first_divergence":{"layer":"b<1>"},"layers":[
             {"name":"a","class_name":"Conv2D","inbound":["x"],"cumulative":{"status":"pass"},"isolated":{"status":"pass"}},
             {"name":"b<1>","class_name":"BatchNormalization","inbound":["a"],"cumulative":{"status":"fail"},"isolated":{"status":"fail"}},
             {"name":"c","class_name":"ReLU","inbound":["a"],"cumulative":{"status":"pass"},"isolated":{"status":"pass"}},
             {"name":"d","class_name":"Add","inbound":["b<1>","c","y"],"cumulative":{"status":"fail"},"isolated":{"status":"pass"},"downstream_of":"b<1>"}
            ]}"#,
        )
        .unwrap()
    }

    fn attrs<'a>(svg: &'a str, tag: &str, attr: &str) -> Vec<&'a str> {
        svg.split(tag)
            .skip(1)
            .map(|t| {
                t.split(&format!("{attr}=\""))
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn every_layer_and_input_has_a_box_and_edges_match_inbound() {
        let r = report();
        let svg = render(&r);
        let boxes: BTreeSet<&str> = attrs(&svg, "<g class=\"node", "data-layer")
            .into_iter()
            .collect();
        let want: BTreeSet<&str> = ["a", "b&lt;1&gt;", "c", "d", "x", "y"].into();
        assert_eq!(boxes, want);
        let from = attrs(&svg, "<path class=\"edge\"", "data-from");
        let to = attrs(&svg, "<path class=\"edge\"", "data-to");
        let edges: BTreeSet<(&str, &str)> = from.into_iter().zip(to).collect();
        let mut want = BTreeSet::new();
        for l in &r.layers {
            for i in &l.inbound {
                want.insert((i.as_str(), l.name.as_str()));
            }
        }
        let want: BTreeSet<(String, String)> =
            want.into_iter().map(|(a, b)| (xml(a), xml(b))).collect();
        let got: BTreeSet<(String, String)> = edges
            .into_iter()
            .map(|(a, b)| (a.into(), b.into()))
            .collect();
        assert_eq!(got, want);
        // each layer links to its table row
        for i in 0..r.layers.len() {
            assert!(svg.contains(&format!("<a href=\"#layer-{i}\">")), "{i}");
        }
    }

    #[test]
    fn status_colours_and_the_first_divergence_stand_out() {
        let svg = render(&report());
        assert_eq!(svg.matches("first-divergence\"").count(), 1);
        assert!(
            svg.contains("<g class=\"node broken first-divergence\" data-layer=\"b&lt;1&gt;\">")
        );
        assert!(svg.contains("<g class=\"node downstream\" data-layer=\"d\">"));
        assert!(svg.contains("<g class=\"node pass\" data-layer=\"c\">"));
        assert!(svg.contains("<g class=\"node input\" data-layer=\"y\">"));
        assert!(!svg.contains("<1>"));
    }

    #[test]
    fn longest_path_ranks_put_each_layer_below_its_inputs() {
        let svg = render(&report());
        let ys: HashMap<&str, f64> = svg
            .split("<g class=\"node")
            .skip(1)
            .map(|t| {
                let name = t
                    .split("data-layer=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                let y = t.split(" y=\"").nth(1).unwrap().split('"').next().unwrap();
                (name, y.parse().unwrap())
            })
            .collect();
        assert_eq!(ys["x"], ys["y"]);
        assert!(ys["a"] > ys["x"]);
        assert_eq!(ys["b&lt;1&gt;"], ys["c"]);
        assert!(ys["d"] > ys["c"]);
    }

    #[test]
    fn an_edge_skipping_ranks_bows_out_to_the_right() {
        let svg = render(&report());
        let d_of = |from: &str, to: &str| -> Vec<f64> {
            let key = format!("data-from=\"{from}\" data-to=\"{to}\" d=\"");
            let d = svg.split(&key).nth(1).unwrap().split('"').next().unwrap();
            d.split(|c: char| !(c.is_ascii_digit() || c == '.'))
                .filter(|t| !t.is_empty())
                .map(|t| t.parse().unwrap())
                .collect()
        };
        // [x1, y1, cx1, cy1, cx2, cy2, x2, y2]
        let skip = d_of("y", "d"); // rank 0 -> rank 3
        assert!(
            skip[2] > skip[0] + ARC_MIN - 0.1 && skip[4] > skip[6],
            "{skip:?}"
        );
        let step = d_of("x", "a"); // rank 0 -> rank 1: straight down
        assert_eq!(step[0], step[2]);
        assert!(step[7] > step[1]);
    }

    #[test]
    fn no_layers_no_svg() {
        assert_eq!(render(&ReportView::default()), "");
    }
}
