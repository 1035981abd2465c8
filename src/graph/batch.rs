//! The batch a graph was frozen with: a fact read from its input placeholders.
//!
//! Covers: placeholders that all declare the same fixed leading dimension
//! (`(1, 224, 224, 3)`, `(2, 16, 32)`). Not a fact (→ `None`): a dynamic
//! (`-1`) or undeclared leading dimension on any input, or inputs that
//! disagree; such graphs run at any batch.

use super::attr::NodeExt;
use super::index::Graph;

impl Graph {
    /// The batch size the graph was frozen with: the leading dimension every
    /// input placeholder declares, when they all declare the same fixed one
    /// (`Placeholder` of shape `(2, 16, 32)` → `Some(2)`). `None` when any
    /// input leaves it dynamic (`-1`) or unknown, or when inputs disagree.
    ///
    /// Freezing with a fixed batch folds it into every shape constant, so
    /// conversion reads a target shape's leading entry equal to it as the
    /// batch axis, and the oracle runs the graph at this batch.
    pub fn static_batch(&self) -> Option<usize> {
        let mut batch = None;
        for p in self.placeholders() {
            let lead = p.attr_shape("shape").ok().flatten()?.first().copied()?;
            let lead = usize::try_from(lead).ok().filter(|&b| b > 0)?;
            match batch {
                None => batch = Some(lead),
                Some(b) if b == lead => {}
                Some(_) => return None,
            }
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use crate::graph::{Graph, parse_graph_def};

    fn graph(text: &str) -> Graph {
        Graph::new(parse_graph_def(text.as_bytes(), true, "t.pbtxt").unwrap()).unwrap()
    }

    fn ph(name: &str, dims: &[i64]) -> String {
        let dims: String = dims
            .iter()
            .map(|d| format!("dim {{ size: {d} }} "))
            .collect();
        format!(
            r#"node {{ name: "{name}" op: "Placeholder" attr {{ key: "shape" value {{ shape {{ {dims}}} }} }} }}
node {{ name: "{name}/o" op: "Identity" input: "{name}" }}
"#
        )
    }

    #[test]
    fn static_batch_is_the_inputs_common_fixed_leading_dim() {
        assert_eq!(graph(&ph("x", &[2, 16, 32])).static_batch(), Some(2));
        assert_eq!(graph(&ph("x", &[1, 8])).static_batch(), Some(1));
        assert_eq!(graph(&ph("x", &[-1, 8])).static_batch(), None);
        let both = |a: i64, b: i64| graph(&(ph("a", &[a, 3]) + &ph("b", &[b, 4]))).static_batch();
        assert_eq!(both(2, 2), Some(2));
        assert_eq!(
            both(2, -1),
            None,
            "one dynamic input makes the batch dynamic"
        );
        assert_eq!(both(1, 2), None, "disagreeing inputs give no batch");
        // No shape attribute at all: unknown.
        let bare = r#"node { name: "x" op: "Placeholder" }
node { name: "o" op: "Identity" input: "x" }
"#;
        assert_eq!(graph(bare).static_batch(), None);
    }
}
