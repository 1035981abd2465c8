//! The configuration and weight diff of `--keras` (issue 10 §1): before any
//! numbers, each user layer aligned with a layer of thaw's own conversion of
//! the graph is compared with it, field by field and weight by weight.
//!
//! - **Fields**: every maths-changing config field, through
//!   [`LayerKind::fields`] (written once for all classes): padding, strides,
//!   dilation, groups, depth multiplier, epsilon, axis, keepdims, target
//!   shape, interpolation, RNN flags... Activations are compared as
//!   functions ([`LayerKind::activation_fn`]), so `ReLU()` and
//!   `Activation("relu")` agree, and a fused `Dense(activation="softmax")`
//!   is compared with the converted Dense followed by its Softmax.
//!   `use_bias`, `center` and `scale` are judged on the weights instead (a
//!   missing bias equals a zero one).
//! - **Weights**, by name: equal (to 1e-6 relative); flipped along spatial
//!   axes (which); transposed or stored in another axis order, or reshaped
//!   instead of transposed (which, from the class's kernel layout,
//!   [`LayerKind::kernels`]); a bias zeroed or missing; normalisation
//!   statistics or gamma/beta swapped; Dense rows permuted after a Flatten;
//!   another converted layer's weights; otherwise different values.
//!
//! Each difference is a [`Finding`] with a [`CauseKind`], found even where
//! random inputs would not expose it (relu6 vs relu on inputs below 6); any
//! finding makes the verdict `fail` unless `--numeric-only`.
//!
//! Not handled: a user layer standing for several converted layers (a
//! BatchNormalization folded into a Conv2D: no twin, so no diff); padding and
//! window fields of a layer whose converted twin is fed through a layer the
//! user left out (explicit ZeroPadding2D + VALID vs SAME can be the same
//! function: the numbers judge those).

use super::align::Alignment;
use super::diagnose::CauseKind;
use crate::keras::{FieldRole, KernelSlot, Layer, LayerKind, Model};
use ndarray::{ArrayD, Axis, IxDyn};
use serde::Serialize;

/// One difference between a user layer and thaw's conversion of the graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// The user's layer.
    pub layer: String,
    /// Its twin in thaw's conversion.
    pub converted: String,
    pub kind: CauseKind,
    /// The config field or weight that differs.
    pub field: String,
    /// What differs, in words.
    pub detail: String,
}

/// The diff of every aligned user layer (see the module header), in the
/// user's layer order.
pub fn findings(user: &Model, converted: &Model, alignment: &Alignment) -> Vec<Finding> {
    let twin = |name: &str| -> Option<&str> {
        alignment.pair(name).map(|p| p.output.as_str()).or_else(|| {
            alignment
                .pass_through
                .iter()
                .find(|p| p.user == name)
                .map(|p| p.same_as.as_str())
        })
    };
    let mut out = Vec::new();
    for u in &user.layers {
        let Some(pair) = alignment.pair(&u.name) else {
            continue;
        };
        let (Some(c), Some(o)) = (
            converted.layer(&pair.converted),
            converted.layer(&pair.output),
        ) else {
            continue;
        };
        // Fed like the user's layer (not through a layer the user left out).
        let fed_alike = u.inbound.len() == c.inbound.len()
            && u.inbound
                .iter()
                .all(|i| twin(i).is_some_and(|t| c.inbound.iter().any(|ci| ci == t)));
        let flattened = u
            .inbound
            .first()
            .and_then(|i| user.layer(i))
            .is_some_and(|l| matches!(l.kind, LayerKind::Flatten | LayerKind::Reshape { .. }));
        let mut add = |kind: CauseKind, field: &str, detail: String| {
            out.push(Finding {
                layer: u.name.clone(),
                converted: c.name.clone(),
                kind,
                field: field.to_string(),
                detail,
            })
        };
        // Activation, as a function.
        let graph_fn = if o.name == c.name {
            c.kind.activation_fn()
        } else {
            c.kind
                .activation_fn()
                .unwrap_or(crate::keras::ActFn::Linear)
                .then(
                    o.kind
                        .activation_fn()
                        .unwrap_or(crate::keras::ActFn::Linear),
                )
        };
        if let (Some(uf), Some(gf)) = (u.kind.activation_fn(), graph_fn)
            && uf != gf
        {
            add(
                CauseKind::Activation,
                "activation",
                format!(
                    "activation is {}, the graph applies {}",
                    uf.describe(),
                    gf.describe()
                ),
            );
        }
        // Other fields, between layers of the same class.
        if u.kind.class_name() == c.kind.class_name() && !u.kind.is_activation_layer() {
            for (uf, cf) in u.kind.fields().iter().zip(c.kind.fields()) {
                if uf.value == cf.value
                    // `activation` was compared as a function above; a
                    // recurrent layer's gate activation is a field of its own.
                    || (uf.role == FieldRole::Activation && uf.name != "recurrent_activation")
                    || uf.role == FieldRole::Bias
                    || matches!(uf.name, "center" | "scale")
                    || (!fed_alike && matches!(uf.role, FieldRole::Padding | FieldRole::Window))
                    || (uf.role == FieldRole::Padding && unit_window(&c.kind))
                    || (uf.name == "axis" && axis_sign_differs(&uf.value, &cf.value))
                {
                    continue;
                }
                let kind = match uf.role {
                    FieldRole::Padding => CauseKind::Padding,
                    FieldRole::Window => CauseKind::Window,
                    FieldRole::Epsilon => CauseKind::BnEpsilon,
                    FieldRole::Activation => CauseKind::Activation,
                    FieldRole::Bias => CauseKind::Bias,
                    FieldRole::Other => CauseKind::Config,
                };
                let detail = format!(
                    "{} is {}, the graph's is {}",
                    uf.name,
                    show(&uf.value),
                    show(&cf.value)
                );
                add(kind, uf.name, detail);
            }
        }
        for (kind, field, detail) in weight_diff(u, c, converted, flattened) {
            add(kind, &field, detail);
        }
    }
    out
}

/// A 1-wide window pads nothing under `same` (nor `causal`): the padding
/// mode does not change the result.
fn unit_window(kind: &LayerKind) -> bool {
    match kind {
        LayerKind::Conv1D { kernel_size, .. } => *kernel_size == 1,
        LayerKind::MaxPooling1D { pool_size, .. }
        | LayerKind::AveragePooling1D { pool_size, .. } => *pool_size == 1,
        k => k.window() == Some([1, 1]),
    }
}

/// `axis=3` and `axis=-1` are the same axis of a rank-4 tensor; the rank is
/// not in the IR, so an axis counted from the other end is left to the
/// numbers.
fn axis_sign_differs(a: &str, b: &str) -> bool {
    a.starts_with('-') != b.starts_with('-')
}

/// A field value as a user reads it (`Same` -> `same`, `Some(6.0)` -> `6.0`).
fn show(v: &str) -> String {
    let v = v
        .strip_prefix("Some(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(v);
    match v {
        "None" => "none".into(),
        "Same" | "Valid" | "Causal" | "Nearest" | "Bilinear" => v.to_lowercase(),
        _ => v.to_string(),
    }
}

fn close(a: &ArrayD<f32>, b: &ArrayD<f32>) -> bool {
    a.shape() == b.shape()
        && a.iter()
            .zip(b.iter())
            .all(|(x, y)| (x - y).abs() <= 1e-6 * y.abs().max(1e-6))
}

/// `w` with its last axis cut into `gates` equal blocks, block `k` of the
/// result being block `p[k]` of `w` (None when the axis does not divide).
pub(super) fn permute_gates(w: &ArrayD<f32>, gates: usize, p: &[usize]) -> Option<ArrayD<f32>> {
    let last = Axis(w.ndim().checked_sub(1)?);
    let len = w.len_of(last);
    if gates == 0 || len % gates != 0 {
        return None;
    }
    let b = len / gates;
    let blocks: Vec<_> = p
        .iter()
        .map(|&k| w.slice_axis(last, ndarray::Slice::from(k * b..(k + 1) * b)))
        .collect();
    ndarray::concatenate(last, &blocks).ok()
}

/// The order a user's gate blocks are stored in when the graph's blocks,
/// permuted by `p` (see [`permute_gates`]), equal them: `names` reordered.
pub(super) fn gate_order_name(names: &str, p: &[usize]) -> String {
    let names: Vec<char> = names.chars().collect();
    p.iter().map(|&k| names[k]).collect()
}

/// Non-identity permutations of 0..n (n <= 4), in lexicographic order
/// (also used by `weights.rs`).
pub(super) fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn rec(prefix: &mut Vec<usize>, n: usize, out: &mut Vec<Vec<usize>>) {
        if prefix.len() == n {
            if prefix.iter().enumerate().any(|(i, &p)| i != p) {
                out.push(prefix.clone());
            }
            return;
        }
        for i in 0..n {
            if !prefix.contains(&i) {
                prefix.push(i);
                rec(prefix, n, out);
                prefix.pop();
            }
        }
    }
    let mut out = Vec::new();
    if n <= 4 {
        rec(&mut Vec::new(), n, &mut out);
    }
    out
}

/// Nonempty subsets of `axes`, smallest first.
pub(super) fn subsets(axes: &[usize]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = (1..(1u32 << axes.len()))
        .map(|m| {
            axes.iter()
                .enumerate()
                .filter(|(i, _)| m & (1 << i) != 0)
                .map(|(_, &a)| a)
                .collect()
        })
        .collect();
    out.sort_by_key(|s| s.len());
    out
}

/// A bias weight: `bias`, or a nested layer's (`query/bias`, `forward/bias`).
fn is_bias(name: &str) -> bool {
    name == "bias" || name.ends_with("/bias")
}

fn is_neutral(name: &str, v: &ArrayD<f32>) -> bool {
    let target = if name == "gamma" { 1.0 } else { 0.0 };
    (is_bias(name) || matches!(name, "beta" | "gamma")) && v.iter().all(|&x| x == target)
}

fn weight_diff(
    u: &Layer,
    c: &Layer,
    converted: &Model,
    flattened: bool,
) -> Vec<(CauseKind, String, String)> {
    let mut out = Vec::new();
    let kernels = c.kind.kernels();
    let mut pairs_done = Vec::new();
    for (i, r) in c.weights.iter().enumerate() {
        let name = r.name.as_str();
        let uw = u
            .weight(name)
            .or_else(|| (u.weights.len() == c.weights.len()).then(|| &u.weights[i].value));
        let Some(uw) = uw else {
            if !is_neutral(name, &r.value) {
                let kind = if is_bias(name) {
                    CauseKind::Bias
                } else {
                    CauseKind::Config
                };
                out.push((
                    kind,
                    name.to_string(),
                    format!("{name} missing; the graph's is not neutral (use_bias/center/scale)"),
                ));
            }
            continue;
        };
        if close(uw, &r.value) {
            continue;
        }
        // Two weights swapped with each other.
        let swapped = [c.kind.norm_stats(), c.kind.norm_affine()]
            .into_iter()
            .flatten()
            .find(|pair| pair.contains(&name));
        if let Some([a, b]) = swapped {
            let other = if name == a { b } else { a };
            if let (Some(uo), Some(ro)) = (u.weight(other), c.weight(other))
                && close(uw, ro)
                && close(uo, &r.value)
            {
                if !pairs_done.contains(&a) {
                    pairs_done.push(a);
                    let kind = if c.kind.norm_stats() == Some([a, b]) {
                        CauseKind::BnStatsSwapped
                    } else {
                        CauseKind::BnAffineSwapped
                    };
                    out.push((kind, format!("{a}/{b}"), format!("{a} and {b} swapped")));
                }
                continue;
            }
        }
        if is_bias(name) && uw.iter().all(|&x| x == 0.0) {
            out.push((
                CauseKind::Bias,
                name.into(),
                format!("{name} is all zeros, the graph adds one"),
            ));
            continue;
        }
        if let Some(names) = c.kind.gate_blocks()
            && uw.shape() == r.value.shape()
            && let Some(p) = permutations(names.len())
                .into_iter()
                .find(|p| permute_gates(&r.value, names.len(), p).is_some_and(|v| close(uw, &v)))
        {
            out.push((
                CauseKind::GateOrder,
                name.into(),
                format!(
                    "{name} holds its gate blocks in the order {}, not Keras's {names}",
                    gate_order_name(names, &p)
                ),
            ));
            continue;
        }
        if let Some(slot) = kernels.iter().find(|k| k.weight == name)
            && let Some(d) = kernel_relation(uw, &r.value, slot)
        {
            out.push((d.0, name.into(), d.1));
            continue;
        }
        if flattened
            && uw.ndim() == 2
            && uw.shape() == r.value.shape()
            && rows_permuted(uw, &r.value)
        {
            out.push((
                CauseKind::FlattenOrder,
                name.into(),
                "rows are the graph's in another order (a channels-first Flatten?)".into(),
            ));
            continue;
        }
        if let Some(other) = converted
            .layers
            .iter()
            .find(|l| l.name != c.name && l.weight(name).is_some_and(|w| close(uw, w)))
        {
            out.push((
                CauseKind::WeightsSwapped,
                name.into(),
                format!("{name} is layer '{}''s", other.name),
            ));
            continue;
        }
        let detail = if uw.shape() != r.value.shape() {
            format!(
                "{name} has shape {:?}, the graph's {:?}",
                uw.shape(),
                r.value.shape()
            )
        } else {
            let d = uw
                .iter()
                .zip(r.value.iter())
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            format!("{name} differs from the graph's constants (max abs difference {d:e})")
        };
        out.push((CauseKind::WeightValues, name.into(), detail));
    }
    // Weights the user has and the graph does not (a bias on a bias-less layer).
    for w in &u.weights {
        if c.weight(&w.name).is_none()
            && u.weights.len() != c.weights.len()
            && !is_neutral(&w.name, &w.value)
        {
            let kind = if is_bias(&w.name) {
                CauseKind::Bias
            } else {
                CauseKind::Config
            };
            out.push((
                kind,
                w.name.clone(),
                format!("{} is not neutral and the graph has none", w.name),
            ));
        }
    }
    out
}

/// How a user's kernel relates to the graph's, if it is a rearrangement:
/// flipped along spatial axes, axes permuted, or the graph's values in
/// another axis order reshaped (not transposed) into this shape.
fn kernel_relation(
    user: &ArrayD<f32>,
    graph: &ArrayD<f32>,
    slot: &KernelSlot,
) -> Option<(CauseKind, String)> {
    let (layout, spatial) = (slot.layout, &slot.spatial_axes()[..]);
    let letters: Vec<char> = layout.chars().collect();
    if user.shape() == graph.shape() {
        for axes in subsets(spatial) {
            let mut v = graph.clone();
            axes.iter().for_each(|&a| v.invert_axis(Axis(a)));
            if close(user, &v) {
                let which: String = axes.iter().map(|&a| letters[a]).collect();
                let what = if axes.len() == spatial.len() && spatial.len() > 1 {
                    "rotated 180 degrees".to_string()
                } else {
                    format!("flipped along {which}")
                };
                return Some((
                    CauseKind::KernelFlipped,
                    format!("kernel {what} (a correlation/convolution mix-up)"),
                ));
            }
        }
    }
    for p in permutations(user.ndim()) {
        let named: String = p.iter().map(|&a| letters[a]).collect();
        // user = graph with axes permuted by p.
        let t = graph.clone().permuted_axes(IxDyn(&p));
        if t.shape() == user.shape() && close(user, &t.as_standard_layout().to_owned()) {
            let spatial_only = p
                .iter()
                .enumerate()
                .all(|(i, &a)| i == a || (spatial.contains(&i) && spatial.contains(&a)));
            let kind = if slot.is_matrix() {
                CauseKind::DenseTransposed
            } else if spatial_only {
                CauseKind::KernelTransposed
            } else {
                CauseKind::KernelAxes
            };
            return Some((kind, format!("kernel stored as {named}, not {layout}")));
        }
        // user = graph's values in layout p, reshaped into the graph's shape.
        if user.shape() == graph.shape() {
            let flat: Vec<f32> = t.as_standard_layout().iter().copied().collect();
            if let Ok(v) = ArrayD::from_shape_vec(IxDyn(graph.shape()), flat)
                && close(user, &v)
            {
                let kind = if slot.is_matrix() {
                    CauseKind::DenseTransposed
                } else {
                    CauseKind::KernelAxes
                };
                return Some((
                    kind,
                    format!("kernel values in {named} order reshaped (not transposed) to {layout}"),
                ));
            }
        }
    }
    None
}

/// Whether `a`'s rows are `b`'s rows in another order.
fn rows_permuted(a: &ArrayD<f32>, b: &ArrayD<f32>) -> bool {
    let key = |r: ndarray::ArrayViewD<f32>| r.iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
    let mut ra: Vec<_> = a.axis_iter(Axis(0)).map(key).collect();
    let mut rb: Vec<_> = b.axis_iter(Axis(0)).map(key).collect();
    ra.sort_unstable();
    rb.sort_unstable();
    ra == rb
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::{Activation, Weight};

    fn ramp(shape: &[usize]) -> ArrayD<f32> {
        let n: usize = shape.iter().product();
        ArrayD::from_shape_vec(
            IxDyn(shape),
            (0..n).map(|i| i as f32 * 0.37 - 2.0).collect(),
        )
        .unwrap()
    }

    fn conv(kernel: ArrayD<f32>) -> Layer {
        Layer {
            name: "c".into(),
            kind: LayerKind::Conv2D {
                filters: kernel.shape()[3],
                kernel_size: [kernel.shape()[0], kernel.shape()[1]],
                strides: [1, 1],
                padding: crate::keras::Padding::Same,
                dilation_rate: [1, 1],
                groups: 1,
                use_bias: false,
                activation: Activation::Linear,
            },
            inbound: vec!["x".into()],
            weights: vec![Weight {
                name: "kernel".into(),
                value: kernel,
            }],
        }
    }

    fn kinds(u: &Layer, c: &Layer) -> Vec<CauseKind> {
        let m = Model {
            name: "m".into(),
            inputs: Vec::new(),
            layers: vec![c.clone()],
            outputs: Vec::new(),
        };
        weight_diff(u, c, &m, false)
            .into_iter()
            .map(|(k, _, _)| k)
            .collect()
    }

    #[test]
    fn kernel_rearrangements_are_named() {
        let k = ramp(&[3, 3, 2, 2]);
        let c = conv(k.clone());
        assert!(kinds(&c, &c).is_empty());
        let mut flipped = k.clone();
        flipped.invert_axis(Axis(0));
        flipped.invert_axis(Axis(1));
        assert_eq!(kinds(&conv(flipped), &c), vec![CauseKind::KernelFlipped]);
        let hw = k
            .clone()
            .permuted_axes(IxDyn(&[1, 0, 2, 3]))
            .as_standard_layout()
            .to_owned();
        assert_eq!(kinds(&conv(hw), &c), vec![CauseKind::KernelTransposed]);
        let io = k
            .clone()
            .permuted_axes(IxDyn(&[0, 1, 3, 2]))
            .as_standard_layout()
            .to_owned();
        assert_eq!(kinds(&conv(io), &c), vec![CauseKind::KernelAxes]);
        assert_eq!(
            kinds(&conv(k.mapv(|v| v + 1.0)), &c),
            vec![CauseKind::WeightValues]
        );
    }

    /// A recurrent layer's `activation` is compared as a function and its
    /// `recurrent_activation` as a field: both are `activation` findings.
    #[test]
    fn recurrent_activations_are_activation_findings() {
        use crate::keras::test_models::{input, layer};
        let lstm = |activation, recurrent_activation| Model {
            name: "m".into(),
            inputs: vec![input("seq", &[5, 4])],
            layers: vec![layer(
                "lstm",
                LayerKind::Lstm {
                    units: 2,
                    return_sequences: false,
                    return_state: false,
                    use_bias: true,
                    go_backwards: false,
                    activation,
                    recurrent_activation,
                },
                &["seq"],
                &[&[4, 8], &[2, 8], &[8]],
            )],
            outputs: vec!["lstm".into()],
        };
        let converted = lstm(Activation::Tanh, Activation::Sigmoid);
        let user = lstm(Activation::Relu, Activation::Softsign);
        let al = crate::compare::align::align(&user, &converted);
        let fs = findings(&user, &converted, &al);
        let fields: Vec<(&str, CauseKind)> =
            fs.iter().map(|f| (f.field.as_str(), f.kind)).collect();
        assert!(
            fields.contains(&("activation", CauseKind::Activation)),
            "{fields:?}"
        );
        assert!(
            fields.contains(&("recurrent_activation", CauseKind::Activation)),
            "{fields:?}"
        );
        assert!(
            findings(
                &converted,
                &converted,
                &crate::compare::align::align(&converted, &converted)
            )
            .is_empty()
        );
    }
}
