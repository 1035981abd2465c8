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
//! Such a pass-through user layer is listed in [`Alignment::pass_through`]:
//! it is compared with the graph tensor of its input's twin, so it must be
//! identity at inference (a linear Activation, a no-op Reshape); its own row
//! in the report judges that, and a layer that is not (an extra ReLU) is
//! located there.
//!
//! [`unaligned`] says, for every layer left without a twin, whether anything
//! still checks it (issue 4): a pass-through user layer is checked as an
//! identity; a graph layer no user layer stands for is `covered` when a user
//! layer downstream is compared with a graph tensor that depends on it (its
//! cumulative and isolated checks span it); anything else — a user layer no
//! graph tensor checks (and so every user layer after it), a graph output no
//! user layer computes — is `unchecked`, and the model's result is not
//! verified: the verdict is FAIL.
//!
//! Dropout and the other identity-at-inference classes (read as
//! `LayerKind::InferenceIdentity`, keeping the user's class) have no graph
//! twin and are compared as identities like any weightless pass-through.
//!
//! Not handled yet: a user layer standing for several converted weighted
//! layers (a BatchNormalization folded into a Conv2D), nested models, layers
//! thaw's Keras reader refuses.

use crate::keras::{LayerKind, Model, output_name};
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
    /// Unaligned weightless single-input user layers (also in
    /// `unaligned_user`) that stand for their input's twin: compared with its
    /// graph tensor, as identities.
    pub pass_through: Vec<PassThrough>,
}

/// An unaligned user layer that should equal the output of `same_as` (the
/// converted layer or input that is the twin of its input).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PassThrough {
    pub user: String,
    pub same_as: String,
}

impl Alignment {
    pub fn pair(&self, user: &str) -> Option<&Pair> {
        self.pairs.iter().find(|p| p.user == user)
    }
}

fn family(kind: &LayerKind) -> &'static str {
    match kind {
        k if k.is_activation_layer() => "activation",
        LayerKind::Flatten | LayerKind::Reshape { .. } => "reshape",
        k => k.class_name(),
    }
}

/// Whether a layer with a fused `activation=` applies a non-linear one.
fn fused_activation(kind: &LayerKind) -> bool {
    kind.fused_activation()
        .is_some_and(|a| a != crate::keras::Activation::Linear)
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
///
/// A GRU's bias also has two layouts, by its `reset_after`: `(2, 3u)` (input
/// and recurrent rows) or `(3u)`; a rebuild with the other setting aligns
/// too, so its `reset_after` is named (a config finding) rather than every
/// layer after it left unaligned.
fn same_but_bias(a: &[Vec<usize>], b: &[Vec<usize>], kind: &LayerKind) -> bool {
    let has_bias_slot = kind.has_bias_slot();
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let gru = match kind {
        LayerKind::Bidirectional { layer, .. } => matches!(**layer, LayerKind::Gru { .. }),
        k => matches!(k, LayerKind::Gru { .. }),
    };
    // Equal, or `[g]` against `[2, g]` either way (shapes sorted: g ≥ 2).
    let bias_rows = |x: &Vec<usize>, y: &Vec<usize>| {
        let rows = |one: &[usize], two: &[usize]| matches!((one, two), ([g], [2, h]) if g == h);
        x == y || rows(x, y) || rows(y, x)
    };
    long == short
        || (has_bias_slot
            && long.len() == short.len() + 1
            && long.last().is_some_and(|s| s.len() == 1)
            && long[..short.len()] == *short)
        || (gru
            && long.len() == short.len()
            && long.iter().zip(short).all(|(x, y)| bias_rows(x, y)))
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
        // Two activations in a row where the graph has one: the user layer of
        // the graph's kind takes it, the other passes through (an extra
        // linear Activation before a ReLU must not take the ReLU's place and
        // get the blame for it).
        let next_takes_it = |c: &crate::keras::Layer| {
            family(&u.kind) == "activation"
                && c.kind != u.kind
                && user.layers.iter().any(|v| {
                    v.inbound.len() == 1
                        && v.inbound[0] == u.name
                        && family(&v.kind) == "activation"
                        && v.kind == c.kind
                })
        };
        let fits = |c: &crate::keras::Layer| {
            !taken.contains(c.name.as_str())
                && family(&c.kind) == family(&u.kind)
                && same_but_bias(&sorted_shapes(c), &shapes, &u.kind)
                && fed_right(c)
                && !next_takes_it(c)
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
                // The other outputs (a recurrent layer's states) pair in
                // order when both layers have them; a user output the twin
                // lacks stays without a twin (and so does all it feeds).
                if u.kind.outputs() == c.kind.outputs() {
                    for k in 1..u.kind.outputs() {
                        let (uk, ck) = (output_name(&u.name, k), output_name(&c.name, k));
                        twin.insert(uk.clone(), ck.clone());
                        al.pairs.push(Pair {
                            user: uk,
                            converted: c.name.clone(),
                            output: ck,
                            by,
                        });
                    }
                }
            }
            None => {
                al.unaligned_user.push(u.name.clone());
                if u.weights.is_empty() && wanted.len() == 1 {
                    let same_as = wanted[0].to_string();
                    twin.insert(u.name.clone(), same_as.clone());
                    al.pass_through.push(PassThrough {
                        user: u.name.clone(),
                        same_as,
                    });
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

/// What still checks a layer that has no twin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// A pass-through user layer, compared with the graph tensor of its
    /// input's twin: its row in `layers[]` judges whether it is an identity.
    Identity,
    /// A graph layer no user layer stands for, inside the span of a user
    /// layer's checks downstream (the user fused it or left it out).
    Covered,
    /// Nothing compares it with the other side: the model's result is not
    /// verified (verdict FAIL).
    Unchecked,
}

/// One layer left without a twin, and what that means (`unaligned[]` in
/// report.json).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unaligned {
    /// `user` (a layer of the user's model) or `graph` (a layer of thaw's
    /// conversion, i.e. a part of the graph).
    pub side: &'static str,
    pub layer: String,
    pub class_name: String,
    pub coverage: Coverage,
    pub reason: String,
}

/// Every layer `al` leaves without a twin, user side first, each with what
/// still checks it (see the module header). Any [`Coverage::Unchecked`]
/// makes the verdict FAIL.
pub fn unaligned(al: &Alignment, user: &Model, converted: &Model) -> Vec<Unaligned> {
    let mut out = Vec::new();
    let class = |m: &Model, n: &str| {
        m.layer(n)
            .map_or("InputLayer", |l| l.kind.class_name())
            .to_string()
    };
    for name in &al.unaligned_user {
        let through = al.pass_through.iter().find(|p| p.user == *name);
        let is_output = user.outputs.contains(name);
        let (coverage, reason) = match through {
            Some(p) => (
                Coverage::Identity,
                format!(
                    "no graph layer stands for it: compared with the graph tensor of '{}' \
                     (its input's twin), so it must be an identity at inference",
                    p.same_as
                ),
            ),
            None if is_output => (
                Coverage::Unchecked,
                "a model output that no graph tensor checks: the model's result is not verified"
                    .to_string(),
            ),
            None => (
                Coverage::Unchecked,
                "no graph layer has its class, weight shapes and inputs: it (and every layer \
                 it feeds) is compared with nothing"
                    .to_string(),
            ),
        };
        out.push(Unaligned {
            side: "user",
            layer: name.clone(),
            class_name: class(user, name),
            coverage,
            reason,
        });
    }
    // A user output that is a layer's output k ≥ 1 with no twin (the twin
    // layer does not return it): nothing checks it.
    for name in &user.outputs {
        if user.layer(name).is_none() && user.producer(name).is_some() && al.pair(name).is_none() {
            out.push(Unaligned {
                side: "user",
                layer: name.clone(),
                class_name: class(user, user.tensor_ref(name).0),
                coverage: Coverage::Unchecked,
                reason: "a model output (a layer's state) that no graph tensor checks: the \
                         model's result is not verified"
                    .to_string(),
            });
        }
    }
    // Converted layers some user layer is compared with.
    let checked: HashSet<&str> = al
        .pairs
        .iter()
        .flat_map(|p| [p.converted.as_str(), p.output.as_str()])
        .collect();
    let mut consumers: HashMap<&str, Vec<&str>> = HashMap::new();
    for l in &converted.layers {
        for i in &l.inbound {
            consumers
                .entry(i.as_str())
                .or_default()
                .push(l.name.as_str());
        }
    }
    for name in &al.unaligned_converted {
        // The first checked layer downstream, breadth first.
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue: std::collections::VecDeque<&str> = consumers
            .get(name.as_str())
            .cloned()
            .unwrap_or_default()
            .into();
        let mut found = None;
        while let Some(n) = queue.pop_front() {
            if !seen.insert(n) {
                continue;
            }
            if checked.contains(n) {
                found = Some(n);
                break;
            }
            queue.extend(consumers.get(n).into_iter().flatten());
        }
        let user_of = |c: &str| {
            al.pairs
                .iter()
                .find(|p| p.converted == c || p.output == c)
                .map_or(String::new(), |p| p.user.clone())
        };
        let (coverage, reason) = if converted.outputs.contains(name) {
            (
                Coverage::Unchecked,
                "a graph output that no layer of the user's model computes: the model's \
                 result is not verified"
                    .to_string(),
            )
        } else if let Some(c) = found {
            (
                Coverage::Covered,
                format!(
                    "no user layer stands for it; the checks of user layer '{}' (against '{c}') span it",
                    user_of(c)
                ),
            )
        } else {
            (
                Coverage::Unchecked,
                "no user layer stands for it or for anything after it: this part of the \
                 graph is compared with nothing"
                    .to_string(),
            )
        };
        out.push(Unaligned {
            side: "graph",
            layer: name.clone(),
            class_name: class(converted, name),
            coverage,
            reason,
        });
    }
    // A graph output that is a layer's output k ≥ 1 (a state) no user layer
    // returns.
    for name in &converted.outputs {
        if converted.layer(name).is_none()
            && converted.producer(name).is_some()
            && !al.pairs.iter().any(|p| p.output == *name)
        {
            out.push(Unaligned {
                side: "graph",
                layer: name.clone(),
                class_name: class(converted, converted.tensor_ref(name).0),
                coverage: Coverage::Unchecked,
                reason: "a graph output (a layer's state) that no layer of the user's model \
                         computes: the model's result is not verified"
                    .to_string(),
            });
        }
    }
    out
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

    /// A recurrent layer's states pair with its twin's, in order, and feed
    /// the alignment on; a state the graph outputs that the user's layer
    /// does not return is an unchecked graph output (FAIL), and so is a user
    /// output state the graph's layer does not return.
    #[test]
    fn states_pair_in_order_and_a_missing_one_is_unchecked() {
        let lstm = |return_state| LayerKind::Lstm {
            units: 2,
            return_sequences: false,
            return_state,
            use_bias: false,
            go_backwards: false,
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
        };
        let shapes: &[&[usize]] = &[&[4, 8], &[2, 8]];
        let with_head = |name: &str, state: bool, head_in: &str| {
            let mut m = model(
                "x",
                vec![
                    layer(name, lstm(state), "x", shapes),
                    layer("head", dense(2, Activation::Linear), head_in, &[&[2, 2]]),
                ],
            );
            if state {
                m.outputs.push(format!("{name}:2"));
            }
            m
        };
        // Both return states: h (":1") feeds the head, c (":2") is an output.
        let converted = with_head("lstm_1", true, "lstm_1:1");
        let user = with_head("lstm", true, "lstm:1");
        let al = align(&user, &converted);
        assert!(al.unaligned_user.is_empty(), "{al:?}");
        for (u, c) in [
            ("lstm:1", "lstm_1:1"),
            ("lstm:2", "lstm_1:2"),
            ("head", "head"),
        ] {
            assert_eq!(al.pair(u).map(|p| p.output.as_str()), Some(c), "{al:?}");
        }
        assert!(unaligned(&al, &user, &converted).is_empty());
        // The user's LSTM returns no states: the graph's c is checked by nothing.
        let plain = with_head("lstm", false, "lstm");
        let al = align(&plain, &converted);
        let u = unaligned(&al, &plain, &converted);
        assert!(
            u.iter().any(|u| u.side == "graph"
                && u.layer == "lstm_1:2"
                && u.coverage == Coverage::Unchecked),
            "{u:?}"
        );
        // And the other way round: the user's state output has no twin.
        let converted_plain = with_head("lstm_1", false, "lstm_1");
        let al = align(&user, &converted_plain);
        let u = unaligned(&al, &user, &converted_plain);
        assert!(
            u.iter().any(|u| u.side == "user"
                && u.layer == "lstm:2"
                && u.coverage == Coverage::Unchecked),
            "{u:?}"
        );
    }

    /// A GRU rebuilt with the other `reset_after` (its bias `(3u)` against
    /// the graph's `(2, 3u)`) still aligns, so the config finding names
    /// `reset_after`; a GRU of other units does not.
    #[test]
    fn a_gru_with_the_other_reset_after_aligns() {
        let gru = |reset_after| LayerKind::Gru {
            units: 4,
            return_sequences: false,
            return_state: false,
            use_bias: true,
            reset_after,
            go_backwards: false,
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
        };
        let converted = model(
            "x",
            vec![layer("g", gru(true), "x", &[&[4, 12], &[4, 12], &[2, 12]])],
        );
        let user = model(
            "x",
            vec![layer("g", gru(false), "x", &[&[4, 12], &[4, 12], &[12]])],
        );
        let al = align(&user, &converted);
        assert_eq!(
            al.pair("g").map(|p| p.converted.as_str()),
            Some("g"),
            "{al:?}"
        );
        let findings = crate::compare::findings::findings(&user, &converted, &al);
        assert!(
            findings
                .iter()
                .any(|f| f.field == "reset_after" && f.detail.contains("reset_after is false")),
            "{findings:?}"
        );
        let other = model(
            "x",
            vec![layer("g", gru(false), "x", &[&[4, 9], &[3, 9], &[9]])],
        );
        assert!(align(&other, &converted).pair("g").is_none());
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

    fn coverage(u: &[Unaligned], name: &str) -> Coverage {
        u.iter()
            .find(|x| x.layer == name)
            .map(|x| x.coverage)
            .unwrap_or_else(|| panic!("{name} not in {u:?}"))
    }

    fn relu(name: &str, inbound: &str) -> Layer {
        layer(
            name,
            LayerKind::Activation {
                activation: Activation::Relu,
            },
            inbound,
            &[],
        )
    }

    /// issue 4: an extra weightless user layer is compared, as an identity,
    /// with its input's twin; a graph layer the user left out is covered by
    /// the user layer after it; nothing fails the verdict.
    #[test]
    fn extra_and_missing_weightless_layers_are_still_checked() {
        let converted = model(
            "x",
            vec![
                layer("fc", dense(3, Activation::Linear), "x", &[&[4, 3]]),
                relu("fc_relu", "fc"),
                layer("out", dense(2, Activation::Linear), "fc_relu", &[&[3, 2]]),
            ],
        );
        // No ReLU, and an extra Flatten (a no-op on rank 2) before the last Dense.
        let user = model(
            "x",
            vec![
                layer("a", dense(3, Activation::Linear), "x", &[&[4, 3]]),
                layer("flat", LayerKind::Flatten, "a", &[]),
                layer("b", dense(2, Activation::Linear), "flat", &[&[3, 2]]),
            ],
        );
        let al = align(&user, &converted);
        assert_eq!(al.unaligned_user, ["flat"]);
        assert_eq!(
            al.pass_through,
            [PassThrough {
                user: "flat".into(),
                same_as: "fc".into()
            }]
        );
        assert_eq!(al.unaligned_converted, ["fc_relu"]);
        let u = unaligned(&al, &user, &converted);
        assert_eq!(u.len(), 2, "{u:?}");
        assert_eq!(coverage(&u, "flat"), Coverage::Identity);
        assert_eq!(coverage(&u, "fc_relu"), Coverage::Covered);
        assert!(u[1].reason.contains("user layer 'b'"), "{u:?}");
    }

    /// An extra linear Activation right before the graph's ReLU leaves the
    /// ReLU to the user's ReLU (it used to take its place, and the blame).
    #[test]
    fn an_extra_activation_before_the_graphs_one_passes_through() {
        let converted = model(
            "x",
            vec![
                layer("fc", dense(3, Activation::Linear), "x", &[&[4, 3]]),
                relu("fc_relu", "fc"),
            ],
        );
        let linear = LayerKind::Activation {
            activation: Activation::Linear,
        };
        let user = model(
            "x",
            vec![
                layer("a", dense(3, Activation::Linear), "x", &[&[4, 3]]),
                layer("extra", linear, "a", &[]),
                relu("r", "extra"),
            ],
        );
        let al = align(&user, &converted);
        assert_eq!(al.pair("r").map(|p| p.converted.as_str()), Some("fc_relu"));
        assert_eq!(al.unaligned_user, ["extra"]);
        assert_eq!(al.pass_through[0].same_as, "fc");
    }

    /// issue 4: a graph output no user layer computes, and a user output no
    /// graph tensor checks, leave the model's result unverified.
    #[test]
    fn unchecked_outputs_are_named() {
        let converted = model(
            "x",
            vec![
                layer("fc", dense(3, Activation::Linear), "x", &[&[4, 3]]),
                layer("softmax", LayerKind::Softmax { axis: -1 }, "fc", &[]),
            ],
        );
        // The user stops before the softmax: their output is checked, the graph's is not.
        let user = model(
            "x",
            vec![layer("fc", dense(3, Activation::Linear), "x", &[&[4, 3]])],
        );
        let al = align(&user, &converted);
        let u = unaligned(&al, &user, &converted);
        assert_eq!(u.len(), 1, "{u:?}");
        assert_eq!((u[0].side, u[0].coverage), ("graph", Coverage::Unchecked));
        assert!(u[0].reason.contains("graph output"), "{u:?}");
        // A last layer of other shapes: neither its output nor the graph's is checked.
        let user = model(
            "x",
            vec![
                layer("fc", dense(3, Activation::Linear), "x", &[&[4, 3]]),
                layer("head", dense(7, Activation::Linear), "fc", &[&[3, 7]]),
            ],
        );
        let al = align(&user, &converted);
        let u = unaligned(&al, &user, &converted);
        assert_eq!(coverage(&u, "head"), Coverage::Unchecked);
        assert!(u[0].reason.contains("model output"), "{u:?}");
        assert_eq!(coverage(&u, "softmax"), Coverage::Unchecked);
        // A clean rebuild leaves nothing unaligned.
        let al = align(&converted, &converted);
        assert!(unaligned(&al, &converted, &converted).is_empty());
    }
}
