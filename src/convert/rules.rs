//! The one place conversion rules are registered. Each family file
//! (`attention.rs`, `conv.rs`, …) exports `RULES`: its (anchor op, rule name,
//! priority, rule) entries; [`registry`] gathers the families listed in
//! [`FAMILIES`] and orders them by priority. Adding a pattern is one function
//! and one `RULES` line in its family file (a new family: one line in
//! [`FAMILIES`]); `thaw inspect --supported` lists coverage from this table.
//!
//! ## Priority contract
//! At every node, the rules anchored on its op are tried from the lowest
//! priority to the highest, and the first match wins (the refusals of those
//! tried before are kept as the reasons when none matches). Two rules on the
//! same op never share a priority (tested), so the order is explicit, never
//! a matter of which family is listed first. Priorities fall in bands:
//! - [`BLOCK`] (100): a whole block (attention, layer normalisation, an LSTM
//!   loop) anchored on its first node, before anything that would take that
//!   node alone (an identity Transpose is a Tensordot, not a Permute);
//! - [`CHAIN`] (200–299): one layer spread over a chain of nodes and anchored
//!   on its first node (Tensordot dense, conv1d's ExpandDims…Squeeze, an
//!   embedding's id wrap, separable and dilated convolutions, swish/gelu/prelu
//!   compositions), before the one-node rules on that node's op; the offset
//!   orders chains sharing an op (conv1d 220 < repeat_vector 231 <
//!   upsampling's repeat 260 on ExpandDims);
//! - [`LAYER`] (300): one layer from one node, with its folded bias and
//!   activation (Conv2D, MatMul, MaxPool, FusedBatchNorm, Relu, …);
//! - [`GENERIC`] (500): a generic layer for an op more specific patterns also
//!   anchor on (Add, Multiply, Concatenate, Reshape); these refuse a constant
//!   operand;
//! - [`CONSTANT`] (550–610): an elementwise op with a constant operand
//!   (rescaling, normalisation, layer scale, clip), after the generic ones;
//!   chains starting with such an op (hard_swish's `x + 3`, normalization's
//!   `x - mean`) at `CONSTANT - 50`, before rescaling would take their first
//!   node alone.

use super::ctx::{Ctx, Match};
use super::{activation, conv, dense, merge, norm, pool, preprocess, reshape};
use super::{attention, dense_nd, layer_norm, layer_scale};
use super::{block_lstm, crop, recurrent, separable, static_rnn};
use super::{conv_transpose, upsample};
use super::{conv1d, text};
use crate::graph::pb::NodeDef;

/// A rule: match the pattern anchored at `node`, or say why not.
pub type Rule = fn(&Ctx, &NodeDef) -> Result<Match, String>;

/// A whole block anchored on its first node (see the module header).
pub const BLOCK: u16 = 100;
/// One layer from a chain of nodes, anchored on its first node.
pub const CHAIN: u16 = 200;
/// One layer from one node.
pub const LAYER: u16 = 300;
/// A generic layer for an op more specific patterns also anchor on.
pub const GENERIC: u16 = 500;
/// An elementwise op with a constant operand.
pub const CONSTANT: u16 = 600;

/// One conversion rule in the registry.
#[derive(Clone, Copy)]
pub struct RuleEntry {
    /// The TF op of the node the rule anchors on.
    pub op: &'static str,
    /// What the rule emits, and from which form (shown in refusals and by
    /// `thaw inspect --supported`).
    pub name: &'static str,
    /// Lower is tried first among rules on the same op.
    pub priority: u16,
    pub rule: Rule,
}

impl RuleEntry {
    pub const fn new(op: &'static str, name: &'static str, priority: u16, rule: Rule) -> Self {
        RuleEntry {
            op,
            name,
            priority,
            rule,
        }
    }
}

/// Every family's rules, one line per family file.
pub const FAMILIES: &[(&str, &[RuleEntry])] = &[
    ("attention", attention::RULES),
    ("layer_norm", layer_norm::RULES),
    ("recurrent", recurrent::RULES),
    ("static_rnn", static_rnn::RULES),
    ("block_lstm", block_lstm::RULES),
    ("dense_nd", dense_nd::RULES),
    ("conv1d", conv1d::RULES),
    ("text", text::RULES),
    ("conv", conv::RULES),
    ("conv_transpose", conv_transpose::RULES),
    ("upsample", upsample::RULES),
    ("separable", separable::RULES),
    ("crop", crop::RULES),
    ("dense", dense::RULES),
    ("norm", norm::RULES),
    ("activation", activation::RULES),
    ("merge", merge::RULES),
    ("preprocess", preprocess::RULES),
    ("layer_scale", layer_scale::RULES),
    ("pool", pool::RULES),
    ("reshape", reshape::RULES),
];

/// Every rule, in priority order (see the module header).
pub fn registry() -> Vec<RuleEntry> {
    let mut all: Vec<RuleEntry> = FAMILIES
        .iter()
        .flat_map(|(_, r)| r.iter().copied())
        .collect();
    all.sort_by_key(|r| r.priority);
    all
}

/// TF ops some rule anchors on (sorted, deduplicated).
pub fn supported_ops() -> Vec<&'static str> {
    let mut ops: Vec<_> = registry().into_iter().map(|r| r.op).collect();
    ops.sort_unstable();
    ops.dedup();
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn rules_on_one_op_never_share_a_priority() {
        let mut seen: HashMap<(&str, u16), &str> = HashMap::new();
        for r in registry() {
            if let Some(other) = seen.insert((r.op, r.priority), r.name) {
                panic!(
                    "rules '{other}' and '{}' on {} share priority {}: their order would be implicit",
                    r.name, r.op, r.priority
                );
            }
        }
    }

    #[test]
    fn registry_is_in_priority_order_and_within_the_bands() {
        let all = registry();
        assert!(all.windows(2).all(|w| w[0].priority <= w[1].priority));
        for r in &all {
            assert!(
                (BLOCK..CONSTANT + 100).contains(&r.priority),
                "{} on {}: priority {} outside the bands",
                r.name,
                r.op,
                r.priority
            );
        }
        let n: usize = FAMILIES.iter().map(|(_, r)| r.len()).sum();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn chains_come_before_the_one_node_rules_on_their_first_op() {
        // Pinned orders the fixtures rely on (see the band notes above).
        let order = |op: &str| -> Vec<&str> {
            registry()
                .into_iter()
                .filter(|r| r.op == op)
                .map(|r| r.name)
                .collect()
        };
        assert_eq!(
            order("Transpose"),
            ["rnn", "block_lstm", "dense (Tensordot form)", "permute"]
        );
        assert_eq!(order("Relu"), ["prelu", "activation"]);
        let add = order("AddV2");
        assert_eq!(add.first(), Some(&"embedding (Keras 3 id wrap)"));
        assert_eq!(add.last(), Some(&"rescaling (x + c)"));
    }
}
