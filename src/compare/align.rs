//! Aligning a user's hand-built Keras model with thaw's conversion of the
//! same graph, layer by layer, so each user layer can be compared with the
//! TF tensor its converted twin stands for.
//!
//! Inputs are paired in order. Then, in the user's topological order, a
//! layer is paired with a converted layer fed by the twins of its own inputs
//! (so branches may come in any order): the one with the same name and class
//! if there is one, otherwise the first of the same class (ReLU/Activation
//! count as one family) whose weights have the same shapes (up to order of
//! dimensions, so a transposed kernel still aligns; a bias one side lacks is
//! allowed, so a `use_bias=False` rebuild is diagnosed). A converted layer fed
//! through weightless single-input layers the user fused or left out
//! (a separate ReLU, a Reshape) is also a candidate. A weightless
//! single-input user layer with no twin passes its input's twin on, so an
//! extra layer does not cut the alignment of everything after it.
//!
//! Not handled yet: a user layer standing for several converted weighted
//! layers (a BatchNormalization folded into a Conv2D), nested models.

use crate::keras::{LayerKind, Model};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// One aligned pair.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pair {
    pub user: String,
    pub converted: String,
    /// The converted layer whose TF tensor stands for the user layer's output:
    /// `converted`, or the activation layer after it when the user fused
    /// that activation into the layer (`Dense(activation="tanh")`).
    pub output: String,
    /// `name` (same name and class) or `topology` (same inputs, class, shapes).
    pub by: &'static str,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Alignment {
    /// User inputs and layers with their converted twins, in the user's order.
    pub pairs: Vec<Pair>,
    /// User layers with no twin.
    pub unaligned_user: Vec<String>,
    /// Converted layers no user layer stands for.
    pub unaligned_converted: Vec<String>,
}

impl Alignment {
    pub fn pair(&self, user: &str) -> Option<&Pair> {
        self.pairs.iter().find(|p| p.user == user)
    }
}

fn family(kind: &LayerKind) -> &'static str {
    match kind {
        LayerKind::ReLU { .. } | LayerKind::Activation { .. } | LayerKind::Softmax { .. } => {
            "activation"
        }
        LayerKind::Flatten | LayerKind::Reshape { .. } => "reshape",
        k => k.class_name(),
    }
}

/// Whether a Conv2D/DepthwiseConv2D/Dense applies a non-linear activation.
fn fused_activation(kind: &LayerKind) -> bool {
    match kind {
        LayerKind::Conv2D { activation, .. }
        | LayerKind::DepthwiseConv2D { activation, .. }
        | LayerKind::Dense { activation, .. } => *activation != crate::keras::Activation::Linear,
        _ => false,
    }
}

fn sorted_shapes(l: &crate::keras::Layer) -> Vec<Vec<usize>> {
    l.weights
        .iter()
        .map(|w| {
            let mut s = w.value.shape().to_vec();
            s.sort_unstable();
            s
        })
        .collect()
}

/// Whether two layers' weight shapes agree, up to a bias one side lacks
/// (`use_bias=False` in a rebuild of a biased layer, or the reverse): that is
/// a fault to diagnose on an aligned pair, not a reason to cut the alignment
/// of everything after it.
fn same_but_bias(a: &[Vec<usize>], b: &[Vec<usize>], kind: &LayerKind) -> bool {
    let has_bias_slot = matches!(
        kind,
        LayerKind::Conv2D { .. } | LayerKind::DepthwiseConv2D { .. } | LayerKind::Dense { .. }
    );
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    long == short
        || (has_bias_slot
            && long.len() == short.len() + 1
            && long.last().is_some_and(|s| s.len() == 1)
            && long[..short.len()] == *short)
}

/// Aligns `user` with `converted` (see the module header).
pub fn align(user: &Model, converted: &Model) -> Alignment {
    let mut al = Alignment::default();
    // user name -> converted name whose output it should equal.
    let mut twin: HashMap<String, String> = HashMap::new();
    for (u, c) in user.inputs.iter().zip(&converted.inputs) {
        twin.insert(u.name.clone(), c.name.clone());
        al.pairs.push(Pair {
            user: u.name.clone(),
            converted: c.name.clone(),
            output: c.name.clone(),
            by: if u.name == c.name { "name" } else { "topology" },
        });
    }
    let mut taken: HashSet<&str> = HashSet::new();
    // converted layer -> its inbound, resolved through weightless
    // single-input layers (each such layer is reachable from its source).
    let passthrough = |name: &str| {
        converted
            .layer(name)
            .filter(|l| l.weights.is_empty() && l.inbound.len() == 1)
            .is_some()
    };
    for u in &user.layers {
        let wanted: Option<Vec<&str>> = u
            .inbound
            .iter()
            .map(|i| twin.get(i).map(String::as_str))
            .collect();
        let Some(wanted) = wanted else {
            al.unaligned_user.push(u.name.clone());
            continue;
        };
        let fed_right = |c: &crate::keras::Layer| {
            if c.inbound.len() != wanted.len() {
                return false;
            }
            let mut ins: Vec<&str> = c.inbound.iter().map(String::as_str).collect();
            let mut want = wanted.clone();
            ins.sort_unstable();
            want.sort_unstable();
            if ins == want {
                return true;
            }
            // One input through up to two skipped converted layers.
            if ins.len() == 1 {
                let mut cur = ins[0];
                for _ in 0..2 {
                    if !passthrough(cur) || taken.contains(cur) {
                        return false;
                    }
                    cur = match converted.layer(cur) {
                        Some(l) => l.inbound[0].as_str(),
                        None => return false,
                    };
                    if cur == want[0] {
                        return true;
                    }
                }
            }
            false
        };
        let shapes = sorted_shapes(u);
        let fits = |c: &crate::keras::Layer| {
            !taken.contains(c.name.as_str())
                && family(&c.kind) == family(&u.kind)
                && same_but_bias(&sorted_shapes(c), &shapes, &u.kind)
                && fed_right(c)
        };
        let found = converted
            .layers
            .iter()
            .find(|c| c.name == u.name && c.kind.class_name() == u.kind.class_name() && fits(c))
            .map(|c| (c, "name"))
            .or_else(|| {
                converted
                    .layers
                    .iter()
                    .find(|c| fits(c))
                    .map(|c| (c, "topology"))
            });
        match found {
            Some((c, by)) => {
                taken.insert(c.name.as_str());
                let mut output = c.name.as_str();
                if fused_activation(&u.kind)
                    && !fused_activation(&c.kind)
                    && let Some(a) = converted.layers.iter().find(|a| {
                        !taken.contains(a.name.as_str())
                            && family(&a.kind) == "activation"
                            && a.inbound == [c.name.clone()]
                    })
                {
                    taken.insert(a.name.as_str());
                    output = a.name.as_str();
                }
                twin.insert(u.name.clone(), output.to_string());
                al.pairs.push(Pair {
                    user: u.name.clone(),
                    converted: c.name.clone(),
                    output: output.to_string(),
                    by,
                });
            }
            None => {
                al.unaligned_user.push(u.name.clone());
                if u.weights.is_empty() && wanted.len() == 1 {
                    twin.insert(u.name.clone(), wanted[0].to_string());
                }
            }
        }
    }
    al.unaligned_converted = converted
        .layers
        .iter()
        .filter(|c| !taken.contains(c.name.as_str()))
        .map(|c| c.name.clone())
        .collect();
    al
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::{Activation, DType, Input, Layer, Weight};
    use ndarray::ArrayD;

    fn layer(name: &str, kind: LayerKind, inbound: &str, shapes: &[&[usize]]) -> Layer {
        Layer {
            name: name.into(),
            kind,
            inbound: vec![inbound.into()],
            weights: shapes
                .iter()
                .map(|s| Weight {
                    name: "w".into(),
                    value: ArrayD::zeros(s.to_vec()),
                })
                .collect(),
        }
    }

    fn dense(units: usize, activation: Activation) -> LayerKind {
        LayerKind::Dense {
            units,
            use_bias: false,
            activation,
        }
    }

    fn model(input: &str, layers: Vec<Layer>) -> Model {
        Model {
            name: "m".into(),
            inputs: vec![Input {
                name: input.into(),
                shape: vec![Some(4)],
                dtype: DType::F32,
            }],
            outputs: vec![layers.last().unwrap().name.clone()],
            layers,
        }
    }

    #[test]
    fn default_names_align_by_topology_and_fused_activation_by_its_layer() {
        let converted = model(
            "x",
            vec![
                layer("fc", dense(3, Activation::Linear), "x", &[&[4, 3]]),
                layer(
                    "fc_relu",
                    LayerKind::Activation {
                        activation: Activation::Relu,
                    },
                    "fc",
                    &[],
                ),
                layer("out", dense(2, Activation::Linear), "fc_relu", &[&[3, 2]]),
            ],
        );
        let user = model(
            "input_1",
            vec![
                layer("dense", dense(3, Activation::Relu), "input_1", &[&[4, 3]]),
                layer("dense_1", dense(2, Activation::Linear), "dense", &[&[3, 2]]),
            ],
        );
        let al = align(&user, &converted);
        assert!(
            al.unaligned_user.is_empty() && al.unaligned_converted.is_empty(),
            "{al:?}"
        );
        let p = al.pair("dense").unwrap();
        assert_eq!((p.converted.as_str(), p.output.as_str()), ("fc", "fc_relu"));
        assert_eq!(al.pair("dense_1").unwrap().converted, "out");
        assert_eq!(al.pair("dense_1").unwrap().by, "topology");
    }

    /// harness/faults.py `bias` fault: a rebuild with use_bias=False used to
    /// cut the alignment there, leaving the rest of the model unchecked.
    #[test]
    fn a_missing_bias_still_aligns() {
        let converted = model(
            "x",
            vec![
                layer("fc", dense(3, Activation::Linear), "x", &[&[4, 3], &[3]]),
                layer("out", dense(2, Activation::Linear), "fc", &[&[3, 2]]),
            ],
        );
        let user = model(
            "input_1",
            vec![
                layer("dense", dense(3, Activation::Linear), "input_1", &[&[4, 3]]),
                layer(
                    "dense_1",
                    dense(2, Activation::Linear),
                    "dense",
                    &[&[3, 2], &[2]],
                ),
            ],
        );
        let al = align(&user, &converted);
        assert!(
            al.unaligned_user.is_empty() && al.unaligned_converted.is_empty(),
            "{al:?}"
        );
        assert_eq!(al.pair("dense").unwrap().converted, "fc");
        assert_eq!(al.pair("dense_1").unwrap().converted, "out");
        // Not any 1-D weight: a kernel of another shape still does not align.
        let other = model(
            "x",
            vec![layer("fc", dense(3, Activation::Linear), "x", &[&[5, 3]])],
        );
        assert_eq!(
            align(&other, &converted).unaligned_user,
            vec!["fc".to_string()]
        );
    }

    #[test]
    fn a_layer_of_other_shapes_is_reported_unaligned() {
        let converted = model(
            "x",
            vec![layer("fc", dense(3, Activation::Linear), "x", &[&[4, 3]])],
        );
        let user = model(
            "x",
            vec![layer("fc", dense(5, Activation::Linear), "x", &[&[4, 5]])],
        );
        let al = align(&user, &converted);
        assert_eq!(al.unaligned_user, vec!["fc".to_string()]);
        assert_eq!(al.unaligned_converted, vec!["fc".to_string()]);
    }
}
