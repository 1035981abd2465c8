//! `model_explorer.json` and `model_explorer_cumulative.json`: node data for
//! Google's Model Explorer (`ai-edge-model-explorer` on PyPI), so that the
//! divergence shows on the graph people already look at:
//!
//! ```text
//! model-explorer model.pb --node_data_paths=OUT/model_explorer.json,OUT/model_explorer_cumulative.json
//! ```
//!
//! Format (the package's `node_data_builder.py`): a `ModelNodeData`, i.e. an
//! object keyed by graph id, each value a `GraphNodeData` {`name`,
//! `results`: {node id: `NodeDataResult` {`value`, `bgColor`}},
//! `thresholds`: [`ThresholdItem` {`value`, `bgColor`}]}.
//!
//! Keys are what Model Explorer's built-in GraphDef adapter
//! (`ai-edge-model-explorer-adapter`, `ConvertGraphDefDirectlyToJson`) gives:
//! the top-level graph is `main`, and a node's id is its **index in the
//! GraphDef's `node` list** as a decimal string (not its name; the adapter
//! gives nodes no `tensor_name`, so names cannot be keys).
//! `harness/model_explorer_check.py` proves this with the pinned package.
//!
//! Values: every TF node of a compared layer (`tf_nodes` in `report.json`)
//! gets that layer's max abs difference — isolated in `model_explorer.json`
//! (the check that finds the layer wrong by itself), cumulative in
//! `model_explorer_cumulative.json`. A node whose check could not be made gets
//! `-1`. Colours come from thaw's own judgement, per node (`bgColor` takes
//! precedence over thresholds in Model Explorer), because whether an error
//! passes depends on each tensor's scale (`atol + rtol·|g| + stol·scale`),
//! not on max abs alone: see [`Shade`]. The thresholds only colour the `-1`
//! sentinel and say what the colours mean to a reader of the file.
//!
//! Not handled: nodes inside function bodies (other graph ids) and nodes that
//! belong to no layer (left uncoloured); a node listed by two layers takes the
//! first layer's data.

use super::view::{CheckView, ReportView};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// File names, isolated then cumulative.
pub const FILES: [&str; 2] = ["model_explorer.json", "model_explorer_cumulative.json"];

/// The graph id Model Explorer's GraphDef adapter gives the top-level graph.
pub const GRAPH_ID: &str = "main";

/// A check's tolerance ratio above which a passing node is `Near`.
pub const NEAR_RATIO: f64 = 0.5;

/// How a node is coloured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shade {
    /// Passes with room to spare (tolerance ratio ≤ [`NEAR_RATIO`]).
    Pass,
    /// Passes, but uses more than [`NEAR_RATIO`] of what the rule allows.
    Near,
    /// Out of tolerance.
    Fail,
    /// Cumulative only: within the graph's own float32 sensitivity.
    Drift,
    /// The check could not be made (value `-1`).
    NotCompared,
}

impl Shade {
    pub fn color(self) -> &'static str {
        match self {
            Shade::Pass => "#aceebb",
            Shade::Near => "#f5d77a",
            Shade::Fail => "#ff8182",
            Shade::Drift => "#b6e3ff",
            Shade::NotCompared => "#d0d7de",
        }
    }

    fn of(c: &CheckView) -> Shade {
        let ratio = c.extra.get("tolerance_ratio").and_then(Value::as_f64);
        match c.status.as_str() {
            "pass" if ratio.is_some_and(|r| r > NEAR_RATIO) => Shade::Near,
            "pass" => Shade::Pass,
            "fail" => Shade::Fail,
            "drift" => Shade::Drift,
            _ => Shade::NotCompared,
        }
    }
}

/// The two files' texts (isolated, cumulative). `graph_nodes` are the
/// GraphDef's node names in file order (their index is the node id).
pub fn render(r: &ReportView, graph_nodes: &[String]) -> [String; 2] {
    let index: HashMap<&str, usize> = graph_nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut out = [Map::new(), Map::new()];
    for l in &r.layers {
        let checks = [l.isolated.as_ref(), Some(l.cumulative())];
        for (results, check) in out.iter_mut().zip(checks) {
            let (value, shade) = match check {
                Some(c) => match c.max_abs.filter(|v| v.is_finite()) {
                    Some(v) if c.status != "error" => (v, Shade::of(c)),
                    _ => (-1.0, Shade::NotCompared),
                },
                None => (-1.0, Shade::NotCompared),
            };
            for node in &l.tf_nodes {
                let Some(i) = index.get(node.as_str()) else {
                    continue;
                };
                results
                    .entry(i.to_string())
                    .or_insert_with(|| json!({"value": value, "bgColor": shade.color()}));
            }
        }
    }
    let names = [
        "thaw: isolated max abs (layer fed the graph's inputs)",
        "thaw: cumulative max abs (each side on its own)",
    ];
    let mut texts = out.into_iter().zip(names).map(|(results, name)| {
        let graph = json!({
            "name": name,
            "results": results,
            "thresholds": thresholds(),
        });
        let mut model = Map::new();
        model.insert(GRAPH_ID.into(), graph);
        serde_json::to_string_pretty(&Value::Object(model)).expect("JSON of plain values") + "\n"
    });
    [texts.next().unwrap(), texts.next().unwrap()]
}

/// Renders both files and writes them into `dir` atomically; returns their
/// paths.
pub fn write(r: &ReportView, graph_nodes: &[String], dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for (name, text) in FILES.iter().zip(render(r, graph_nodes)) {
        let path = dir.join(name);
        super::outputs::write_atomic(&path, text.as_bytes())?;
        paths.push(path);
    }
    Ok(paths)
}

/// Model Explorer colours a value by the first threshold it is ≤ to, for
/// nodes without their own `bgColor`: only the `-1` sentinel here (grey);
/// larger values (every node thaw colours itself) fall past the last one.
fn thresholds() -> Value {
    json!([{"value": -1, "bgColor": Shade::NotCompared.color()}])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ReportView {
        ReportView::from_json(
            r#"{"verdict":"fail","layers":[
             {"name":"conv","tf_nodes":["c/Conv2D","c/BiasAdd"],
              "cumulative":{"status":"pass","max_abs":4e-7,"tolerance_ratio":0.9},
              "isolated":{"status":"pass","max_abs":1e-7,"tolerance_ratio":0.1}},
             {"name":"bn","tf_nodes":["b/FusedBatchNormV3","gone/after/inlining"],
              "cumulative":{"status":"fail","max_abs":0.03},"isolated":{"status":"fail","max_abs":0.02}},
             {"name":"out","tf_nodes":["o/Softmax"],"cumulative":{"status":"error","detail":"shape"}}
            ]}"#,
        )
        .unwrap()
    }

    fn nodes() -> Vec<String> {
        [
            "x",
            "c/Conv2D",
            "w",
            "c/BiasAdd",
            "b/FusedBatchNormV3",
            "o/Softmax",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn keys_are_node_indices_in_the_main_graph() {
        let [iso, cum] = render(&report(), &nodes());
        let iso: Value = serde_json::from_str(&iso).unwrap();
        let cum: Value = serde_json::from_str(&cum).unwrap();
        let keys = |v: &Value| {
            let mut k: Vec<String> = v["main"]["results"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            k.sort();
            k
        };
        // x and w belong to no layer; "gone/after/inlining" is not in the file
        assert_eq!(keys(&iso), ["1", "3", "4", "5"]);
        assert_eq!(keys(&cum), keys(&iso));
        assert_eq!(iso.as_object().unwrap().len(), 1);
    }

    #[test]
    fn values_and_colours_follow_each_check() {
        let [iso, cum] = render(&report(), &nodes());
        let iso: Value = serde_json::from_str(&iso).unwrap();
        let cum: Value = serde_json::from_str(&cum).unwrap();
        let r = |v: &Value, id: &str| v["main"]["results"][id].clone();
        assert_eq!(r(&iso, "1")["value"], json!(1e-7));
        assert_eq!(r(&iso, "1")["bgColor"], Shade::Pass.color());
        assert_eq!(r(&cum, "3")["value"], json!(4e-7));
        assert_eq!(r(&cum, "3")["bgColor"], Shade::Near.color());
        assert_eq!(r(&iso, "4")["bgColor"], Shade::Fail.color());
        assert_eq!(r(&cum, "4")["value"], json!(0.03));
        // the output's cumulative check erred and it has no isolated check
        for v in [&iso, &cum] {
            assert_eq!(r(v, "5")["value"], json!(-1.0));
            assert_eq!(r(v, "5")["bgColor"], Shade::NotCompared.color());
        }
        assert_eq!(iso["main"]["thresholds"][0]["value"], json!(-1));
    }
}
