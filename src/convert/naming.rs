//! Layer names from nested TF1 scopes (tf-slim and other hand-written TF1
//! graphs), where one top-level scope holds many layers.
//!
//! Keras graphs put each layer in its own scope under the model's
//! (`model/conv1/BiasAdd`), and the first scope segment under the root names
//! the layer ([`super::ctx::Ctx::layer_name`]). tf-slim nests them:
//! `InceptionV3/InceptionV3/Mixed_5b/Branch_1/Conv2d_0b_5x5/Conv2D`, its
//! BatchNorm in `…/Conv2d_0b_5x5/BatchNorm/…`, its Relu at
//! `…/Conv2d_0b_5x5/Relu`. There the first segment would name every layer of
//! the net `InceptionV3` (then `InceptionV3_1`, `_2`, …).
//!
//! A graph is **nested** when some top-level scope (under the root) holds
//! weighted ops (Conv2D, DepthwiseConv2dNative, MatMul, FusedBatchNorm*,
//! Conv2DBackpropInput) in two different scopes, once the scopes ops open for
//! themselves are dropped (below): slim's `Conv2d_0/Conv2D` and
//! `Conv2d_0/BatchNorm/FusedBatchNormV3` are two layers; Keras's separable
//! convolution (`sep/separable_conv2d/depthwise` under the Conv2D
//! `sep/separable_conv2d`) is one. In a nested graph a node's layer name is its scope
//! path under the root, segments joined by `.` (Keras forbids `/` in layer
//! names), with
//! - a leading segment equal to the root dropped (slim's
//!   `InceptionV3/InceptionV3/…` base scope): `Mixed_5b.Branch_1.Conv2d_0b_5x5`;
//! - trailing scopes TF ops open internally dropped: `batchnorm`, `batchnorm_1`
//!   of the unfused BatchNorm arithmetic (`Mixed_5b.Branch_1.Conv2d_0b_5x5.BatchNorm`),
//!   and a scope that is itself a node's name (`tf.nn.separable_conv2d` puts its
//!   `depthwise` under the pointwise Conv2D's name, `X/separable_conv2d/depthwise`);
//! - the node's own name appended when its scope holds a weighted op and it is
//!   not one (the Relu after a BatchNorm): `….Conv2d_0b_5x5.Relu`;
//! - a node right under the root named by itself (`pool5`).
//!
//! Weighted ops inside a `while` loop frame (recurrent cells, a
//! Bidirectional's two halves) do not make a graph nested.
//!
//! Two nodes are in the same layer (a fused bias or activation) when their
//! scopes, so reduced, are equal.

use crate::graph::Graph;
use crate::graph::pb::NodeDef;
use std::collections::{HashMap, HashSet};

/// Ops that carry a layer's weights: each sits in its layer's own scope.
const WEIGHTED: &[&str] = &[
    "Conv2D",
    "DepthwiseConv2dNative",
    "MatMul",
    "FusedBatchNorm",
    "FusedBatchNormV2",
    "FusedBatchNormV3",
    "Conv2DBackpropInput",
];

/// The name scope `tf.nn.batch_normalization` opens (`batchnorm`, `batchnorm_1`, …).
fn batchnorm_scope(seg: &str) -> bool {
    seg.strip_prefix("batchnorm")
        .is_some_and(|r| r.is_empty() || r.strip_prefix('_').is_some_and(is_number))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Names for the nodes of a nested graph (see the module header).
#[derive(Clone, Debug)]
pub struct Nested {
    root: Option<String>,
    /// Node names that are also the scope of other nodes (an op's helpers).
    op_scopes: HashSet<String>,
    /// Reduced scopes that directly hold a weighted op.
    weighted: HashSet<Vec<String>>,
}

impl Nested {
    /// `Some` when the graph's scopes are nested (see the module header).
    pub fn detect(graph: &Graph, root: Option<&str>) -> Option<Nested> {
        let mut nested = Nested {
            root: root.map(str::to_string),
            op_scopes: graph
                .nodes()
                .iter()
                .filter_map(|n| n.name.rsplit_once('/'))
                .map(|(scope, _)| scope)
                .filter(|scope| graph.node(scope).is_some())
                .map(str::to_string)
                .collect(),
            weighted: HashSet::new(),
        };
        let mut by_top: HashMap<String, HashSet<Vec<String>>> = HashMap::new();
        for n in graph.nodes() {
            // A recurrent cell's kernels sit in its loop's frame
            // (`bi_lstm/forward_lstm/while/…/MatMul`): a Keras RNN, or the two
            // halves of a Bidirectional, which Keras names by the top scope.
            if !WEIGHTED.contains(&n.op.as_str()) || n.name.split('/').any(|s| s == "while") {
                continue;
            }
            let (scope, _) = nested.split(&n.name);
            if let Some(top) = scope.first() {
                by_top.entry(top.clone()).or_default().insert(scope.clone());
            }
            nested.weighted.insert(scope);
        }
        let is_nested = by_top.values().any(|scopes| scopes.len() >= 2);
        is_nested.then_some(nested)
    }

    /// A node's reduced scope and its own name (the last segment).
    fn split(&self, name: &str) -> (Vec<String>, String) {
        let mut segs: Vec<&str> = name.split('/').collect();
        let own = segs.pop().unwrap_or_default().to_string();
        while !segs.is_empty()
            && (segs.last().is_some_and(|s| batchnorm_scope(s))
                || self.op_scopes.contains(&segs.join("/")))
        {
            segs.pop();
        }
        if let Some(root) = &self.root {
            // The root, and slim's base scope repeating it (`InceptionV3/InceptionV3/…`).
            for _ in 0..2 {
                if segs.first() == Some(&root.as_str()) {
                    segs.remove(0);
                }
            }
        }
        (segs.into_iter().map(str::to_string).collect(), own)
    }

    /// The layer name of `node` (see the module header).
    pub fn layer_name(&self, node: &NodeDef) -> String {
        let (mut scope, own) = self.split(&node.name);
        // A node inside an op's own scope (BatchNorm arithmetic, a separable
        // convolution's depthwise half) names the layer by its scope alone.
        let internal_tail = node.name.rsplit_once('/').is_some_and(|(scope, _)| {
            self.op_scopes.contains(scope) || scope.rsplit('/').next().is_some_and(batchnorm_scope)
        });
        if scope.is_empty()
            || (self.weighted.contains(&scope)
                && !WEIGHTED.contains(&node.op.as_str())
                && !internal_tail)
        {
            scope.push(own);
        }
        scope.join(".")
    }

    /// Whether two nodes belong to one layer: the same reduced scope.
    pub fn same_layer(&self, a: &NodeDef, b: &NodeDef) -> bool {
        let (sa, _) = self.split(&a.name);
        !sa.is_empty() && sa == self.split(&b.name).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::test_graph::GraphBuilder;

    /// The scopes tf-slim leaves (inception_v2's base `Net/Net/…`, a
    /// separable stem, fused and unfused BatchNorm, a Relu after each), ops
    /// only: naming reads names and op types.
    fn slim_graph() -> Graph {
        GraphBuilder::new()
            .placeholder("input", &[1, 8, 8, 3])
            .const_f32("w", &[1], &[1.0])
            .op(
                "DepthwiseConv2dNative",
                "Net/Net/Conv2d_1a/separable_conv2d/depthwise",
                &["input", "w"],
            )
            .op(
                "Conv2D",
                "Net/Net/Conv2d_1a/separable_conv2d",
                &["Net/Net/Conv2d_1a/separable_conv2d/depthwise", "w"],
            )
            .op(
                "BiasAdd",
                "Net/Net/Conv2d_1a/BiasAdd",
                &["Net/Net/Conv2d_1a/separable_conv2d", "w"],
            )
            .op(
                "Relu",
                "Net/Net/Conv2d_1a/Relu",
                &["Net/Net/Conv2d_1a/BiasAdd"],
            )
            .op(
                "Conv2D",
                "Net/Net/Mixed/Branch_0/Conv2d_0a/Conv2D",
                &["Net/Net/Conv2d_1a/Relu", "w"],
            )
            .op(
                "FusedBatchNormV3",
                "Net/Net/Mixed/Branch_0/Conv2d_0a/BatchNorm/FusedBatchNormV3",
                &[
                    "Net/Net/Mixed/Branch_0/Conv2d_0a/Conv2D",
                    "w",
                    "w",
                    "w",
                    "w",
                ],
            )
            .op(
                "Relu",
                "Net/Net/Mixed/Branch_0/Conv2d_0a/Relu",
                &["Net/Net/Mixed/Branch_0/Conv2d_0a/BatchNorm/FusedBatchNormV3"],
            )
            .op(
                "Conv2D",
                "Net/Net/Mixed/Branch_1/Conv2d_0a/Conv2D",
                &["Net/Net/Conv2d_1a/Relu", "w"],
            )
            .op(
                "Mul",
                "Net/Net/Mixed/Branch_1/Conv2d_0a/BatchNorm/batchnorm_1/mul",
                &["Net/Net/Mixed/Branch_1/Conv2d_0a/Conv2D", "w"],
            )
            .op(
                "AvgPool",
                "Net/Net/Mixed/Branch_2/AvgPool_0a/AvgPool",
                &["Net/Net/Conv2d_1a/Relu"],
            )
            .op(
                "ConcatV2",
                "Net/Net/Mixed/concat",
                &["Net/Net/Mixed/Branch_0/Conv2d_0a/Relu", "w"],
            )
            .op("Mean", "Net/pool5", &["Net/Net/Mixed/concat", "w"])
            .op("Squeeze", "Net/Logits/SpatialSqueeze", &["Net/pool5"])
            .build()
    }

    fn name(n: &Nested, g: &Graph, node: &str) -> String {
        n.layer_name(g.node(node).unwrap())
    }

    #[test]
    fn slim_scopes_name_layers_by_their_path_under_the_root() {
        let g = slim_graph();
        let n = Nested::detect(&g, Some("Net")).expect("two branches of Mixed hold convolutions");
        let b0 = "Net/Net/Mixed/Branch_0/Conv2d_0a";
        assert_eq!(
            name(&n, &g, &format!("{b0}/Conv2D")),
            "Mixed.Branch_0.Conv2d_0a"
        );
        assert_eq!(
            name(&n, &g, &format!("{b0}/BatchNorm/FusedBatchNormV3")),
            "Mixed.Branch_0.Conv2d_0a.BatchNorm"
        );
        assert_eq!(
            name(&n, &g, &format!("{b0}/Relu")),
            "Mixed.Branch_0.Conv2d_0a.Relu"
        );
        // The unfused arithmetic's `batchnorm_1` scope is the BatchNorm's own.
        assert_eq!(
            name(
                &n,
                &g,
                "Net/Net/Mixed/Branch_1/Conv2d_0a/BatchNorm/batchnorm_1/mul"
            ),
            "Mixed.Branch_1.Conv2d_0a.BatchNorm"
        );
        // tf.nn.separable_conv2d's depthwise sits under the Conv2D's own name.
        assert_eq!(
            name(&n, &g, "Net/Net/Conv2d_1a/separable_conv2d/depthwise"),
            "Conv2d_1a"
        );
        assert_eq!(
            name(&n, &g, "Net/Net/Conv2d_1a/separable_conv2d"),
            "Conv2d_1a"
        );
        assert_eq!(
            name(&n, &g, "Net/Net/Mixed/Branch_2/AvgPool_0a/AvgPool"),
            "Mixed.Branch_2.AvgPool_0a"
        );
        assert_eq!(name(&n, &g, "Net/Net/Mixed/concat"), "Mixed");
        assert_eq!(name(&n, &g, "Net/pool5"), "pool5");
        assert_eq!(name(&n, &g, "Net/Logits/SpatialSqueeze"), "Logits");
        // A fused bias and activation share the convolution's scope; the BatchNorm does not.
        let node = |s: &str| g.node(s).unwrap();
        assert!(n.same_layer(
            node("Net/Net/Conv2d_1a/separable_conv2d"),
            node("Net/Net/Conv2d_1a/Relu")
        ));
        assert!(!n.same_layer(
            node(&format!("{b0}/Conv2D")),
            node(&format!("{b0}/BatchNorm/FusedBatchNormV3"))
        ));
    }

    #[test]
    fn keras_scopes_are_not_nested() {
        // One layer per top-level scope, a separable convolution's two halves
        // in one: the first segment names layers, as before.
        let g = GraphBuilder::new()
            .placeholder("x", &[-1, 8, 8, 3])
            .const_f32("w", &[1], &[1.0])
            .op(
                "DepthwiseConv2dNative",
                "model/sep/separable_conv2d/depthwise",
                &["x", "w"],
            )
            .op(
                "Conv2D",
                "model/sep/separable_conv2d",
                &["model/sep/separable_conv2d/depthwise", "w"],
            )
            .op(
                "Conv2D",
                "model/conv/Conv2D",
                &["model/sep/separable_conv2d", "w"],
            )
            .op(
                "FusedBatchNormV3",
                "model/bn/FusedBatchNormV3",
                &["model/conv/Conv2D", "w", "w", "w", "w"],
            )
            .op(
                "MatMul",
                "model/dense/Tensordot/MatMul",
                &["model/bn/FusedBatchNormV3", "w"],
            )
            .build();
        assert!(Nested::detect(&g, Some("model")).is_none());
    }
}
