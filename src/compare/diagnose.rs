//! Why a layer is wrong: when a layer fails in isolation, try hypotheses on
//! that layer alone and keep the ones that make it pass.
//!
//! Each hypothesis is a mutated copy of the Keras layer (kernel transposed,
//! flipped, read in another axis order, padding switched, activation
//! replaced, BatchNormalization epsilon or statistics changed, bias
//! estimated, weights borrowed from another layer of the same shape, Dense
//! rows reordered for a channels-first Flatten). The copy is run by the
//! interpreter on the graph's values of the layer's inputs and compared with
//! the graph's value of its output, with the same tolerance as the checks.
//! Only the failing layer is re-run, so this costs a few dozen layer runs.
//! Results are in a fixed order (most specific first), hence deterministic.
//!
//! Also here: [`weight_check`], the weight-level comparison of a user's layer
//! with the converted one (equal, equal up to an axis permutation, different).
//!
//! A layer whose output cannot even be compared with the graph's tensor (a
//! rebuild with padding "valid" where the graph pads SAME: the shapes differ,
//! or the window no longer fits and the layer cannot run) is diagnosed the
//! same way: padding is tried for every layer that has it (Conv2D,
//! DepthwiseConv2D, SeparableConv2D, Conv2DTranspose, 1-D and 2-D pooling,
//! Conv1D's same/valid/causal), and other strides (kind `other`, the issue's
//! list has none for them) when the shapes differ.
//!
//! Not handled yet: faults spread over two layers (a transposed kernel AND a
//! wrong epsilon), explicit asymmetric padding hypotheses, activations other
//! than linear/relu/relu6/sigmoid/tanh/softmax, Conv1D kernel layouts, 3-D layers.

pub use super::weights::{WeightCheck, weight_check};
use super::{Tolerance, compare};
use crate::interp;
use crate::keras::{Activation, Layer, LayerKind, Model, Padding, Padding1D};
use ndarray::{ArrayD, Axis, IxDyn};
use serde::Serialize;
use std::collections::HashMap;

/// The kinds of fault thaw can name (`kind` in `report.json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseKind {
    KernelTransposed,
    KernelFlipped,
    KernelAxes,
    DenseTransposed,
    Padding,
    Activation,
    BnEpsilon,
    BnStatsSwapped,
    BnAffineSwapped,
    Bias,
    WeightsSwapped,
    FlattenOrder,
    /// Strides, dilation, kernel or pool size, groups, depth multiplier (config diff).
    Window,
    /// Another maths-changing config field: axis, keepdims, target shape,
    /// interpolation, center/scale, RNN flags... (config diff).
    Config,
    /// A weight whose values differ from the graph's constants and are no
    /// rearrangement of them (config diff).
    WeightValues,
    Other,
}

/// One hypothesis that makes the layer pass in isolation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cause {
    pub kind: CauseKind,
    pub detail: String,
    /// The isolated max abs error once the fix is applied.
    pub max_abs_after_fix: f32,
}

/// What a hypothesis needs besides the layer: the model it sits in (other
/// layers' weights, the Flatten in front of a Dense) and the graph's value of
/// every layer output and model input, by Keras name.
pub struct Context<'a> {
    pub model: &'a Model,
    pub values: &'a HashMap<&'a str, &'a ArrayD<f32>>,
}

/// A mutated copy of the layer with what it tests, or a post-processing of
/// its output (relu6 has no `Activation` variant).
struct Hypothesis {
    kind: CauseKind,
    detail: String,
    layer: Layer,
    relu6_after: bool,
    /// Run this layer first (explicit symmetric padding before a VALID conv).
    pre: Option<Layer>,
}

fn hyp(kind: CauseKind, detail: impl Into<String>, layer: Layer) -> Hypothesis {
    Hypothesis {
        kind,
        detail: detail.into(),
        layer,
        relu6_after: false,
        pre: None,
    }
}

/// Tries every hypothesis that applies to `layer`; returns those that make
/// it pass against `expected`, most specific first. When none does, one
/// `other` cause says so (with the layer's own error).
pub fn diagnose(
    layer: &Layer,
    inputs: &[&ArrayD<f32>],
    expected: &ArrayD<f32>,
    tol: Tolerance,
    ctx: &Context,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    for h in hypotheses(layer, inputs, expected, ctx) {
        let pre;
        let ins: Vec<&ArrayD<f32>> = match &h.pre {
            Some(p) => match interp::run_layer(p, inputs) {
                Ok(v) => {
                    pre = v;
                    vec![&pre]
                }
                Err(_) => continue,
            },
            None => inputs.to_vec(),
        };
        let Ok(mut out) = interp::run_layer(&h.layer, &ins) else {
            continue;
        };
        if h.relu6_after {
            out.mapv_inplace(|v| v.clamp(0.0, 6.0));
        }
        if let Ok(m) = compare(&out, expected, tol)
            && m.pass
        {
            causes.push(Cause {
                kind: h.kind,
                detail: h.detail,
                max_abs_after_fix: m.max_abs,
            });
        }
    }
    // Within one kind, the closest fix first (stable: ties keep the order tried).
    let rank = |k: CauseKind| k as u8;
    causes.sort_by(|a, b| {
        rank(a.kind)
            .cmp(&rank(b.kind))
            .then(a.max_abs_after_fix.total_cmp(&b.max_abs_after_fix))
    });
    if causes.is_empty() {
        let ran = interp::run_layer(layer, inputs);
        let own = ran
            .as_ref()
            .ok()
            .and_then(|v| compare(v, expected, tol).ok());
        let why = match (&ran, &own) {
            (_, Some(m)) => format!("cosine {:.4}", m.cosine),
            (Ok(v), None) => format!(
                "its output has shape {:?}, the graph's tensor {:?}",
                v.shape(),
                expected.shape()
            ),
            (Err(e), None) => format!("it cannot run on the graph's values: {e}"),
        };
        causes.push(Cause {
            kind: CauseKind::Other,
            detail: format!(
                "no single-fault hypothesis makes {} pass ({why})",
                layer.name
            ),
            max_abs_after_fix: own.map_or(f32::INFINITY, |m| m.max_abs),
        });
    }
    causes
}

fn with_weight(layer: &Layer, i: usize, value: ArrayD<f32>) -> Layer {
    let mut l = layer.clone();
    l.weights[i].value = value;
    l
}

/// Index of the first weight with `rank` dimensions (the kernel).
fn kernel_index(layer: &Layer, rank: usize) -> Option<usize> {
    layer.weights.iter().position(|w| w.value.ndim() == rank)
}

const AXIS: [char; 4] = ['H', 'W', 'I', 'O'];

/// All permutations of 0..4 but the identity, in lexicographic order.
fn perms4() -> Vec<[usize; 4]> {
    super::findings::permutations(4)
        .into_iter()
        .map(|p| [p[0], p[1], p[2], p[3]])
        .collect()
}

fn layout_name(p: &[usize; 4]) -> String {
    p.iter().map(|&i| AXIS[i]).collect()
}

fn hypotheses(
    layer: &Layer,
    inputs: &[&ArrayD<f32>],
    expected: &ArrayD<f32>,
    ctx: &Context,
) -> Vec<Hypothesis> {
    let mut hs = Vec::new();
    let kind = &layer.kind;
    let is_conv = matches!(
        kind,
        LayerKind::Conv2D { .. } | LayerKind::DepthwiseConv2D { .. }
    );
    // 1. Kernel geometry.
    if is_conv && let Some(k) = kernel_index(layer, 4) {
        let w = &layer.weights[k].value;
        let s = w.shape().to_vec();
        // Spatial transpose (kernel_size swapped when not square).
        let mut t = layer.clone();
        t.weights[k].value = w
            .clone()
            .permuted_axes(IxDyn(&[1, 0, 2, 3]))
            .as_standard_layout()
            .to_owned();
        swap_kernel_size(&mut t.kind);
        hs.push(hyp(
            CauseKind::KernelTransposed,
            "kernel spatially transposed (kh <-> kw)",
            t,
        ));
        for (axes, what) in [
            (&[0usize][..], "flipped vertically"),
            (&[1][..], "flipped horizontally"),
            (
                &[0, 1][..],
                "rotated 180 degrees (a correlation/convolution mix-up)",
            ),
        ] {
            let mut v = w.clone();
            axes.iter().for_each(|&a| v.invert_axis(Axis(a)));
            hs.push(hyp(
                CauseKind::KernelFlipped,
                format!("kernel {what}"),
                with_weight(layer, k, v),
            ));
        }
        for p in perms4() {
            if p == [1, 0, 2, 3] {
                continue; // the spatial transpose above
            }
            // (a) Axes permuted where the shape allows it (e.g. HWOI with I == O).
            let permuted: Vec<usize> = p.iter().map(|&i| s[i]).collect();
            if permuted == s {
                let v = w
                    .clone()
                    .permuted_axes(IxDyn(&p))
                    .as_standard_layout()
                    .to_owned();
                hs.push(hyp(
                    CauseKind::KernelAxes,
                    format!("kernel axes in {} order, not HWIO", layout_name(&p)),
                    with_weight(layer, k, v),
                ));
            }
            // (b) The buffer holds the kernel in layout `p`, reshaped (not
            // transposed) into HWIO: read it as `p`, then transpose.
            let as_p: Vec<usize> = p.iter().map(|&i| s[i]).collect();
            let flat: Vec<f32> = w.iter().copied().collect();
            if let Ok(a) = ArrayD::from_shape_vec(IxDyn(&as_p), flat) {
                // Axis j of `a` is HWIO axis p[j]; bring them back to HWIO.
                let mut back = [0usize; 4];
                for (j, &pj) in p.iter().enumerate() {
                    back[pj] = j;
                }
                let v = a
                    .permuted_axes(IxDyn(&back))
                    .as_standard_layout()
                    .to_owned();
                if v != *w {
                    hs.push(hyp(
                        CauseKind::KernelAxes,
                        format!(
                            "kernel values are in {} order, reshaped instead of transposed to HWIO",
                            layout_name(&p)
                        ),
                        with_weight(layer, k, v),
                    ));
                }
            }
        }
    }
    // Dense kernel transposed, and Flatten order in front of it.
    if let LayerKind::Dense { .. } = kind
        && let Some(k) = kernel_index(layer, 2)
    {
        let w = &layer.weights[k].value;
        let (i, o) = (w.shape()[0], w.shape()[1]);
        if i == o {
            let v = w.t().as_standard_layout().to_owned().into_dyn();
            hs.push(hyp(
                CauseKind::DenseTransposed,
                "Dense kernel transposed",
                with_weight(layer, k, v),
            ));
        }
        let flat: Vec<f32> = w.iter().copied().collect();
        if let Ok(a) = ndarray::Array2::from_shape_vec((o, i), flat) {
            let v = a.t().as_standard_layout().to_owned().into_dyn();
            if v != *w {
                hs.push(hyp(
                    CauseKind::DenseTransposed,
                    "Dense kernel stored as (out, in), reshaped instead of transposed",
                    with_weight(layer, k, v),
                ));
            }
        }
        if let Some([h, wd, c]) = flatten_source_shape(layer, ctx) {
            let rows = |hi: usize, wi: usize, ci: usize| {
                ((hi * wd + wi) * c + ci, (ci * h + hi) * wd + wi)
            };
            for (dir, from_chw) in [
                ("channels-first (C,H,W) rows", true),
                ("rows for the other order", false),
            ] {
                let mut v = w.clone();
                for hi in 0..h {
                    for wi in 0..wd {
                        for ci in 0..c {
                            let (hwc, chw) = rows(hi, wi, ci);
                            let (dst, src) = if from_chw { (hwc, chw) } else { (chw, hwc) };
                            if src < i && dst < i {
                                v.index_axis_mut(Axis(0), dst)
                                    .assign(&w.index_axis(Axis(0), src));
                            }
                        }
                    }
                }
                if v != *w {
                    hs.push(hyp(
                        CauseKind::FlattenOrder,
                        format!("Dense kernel has {dir} after a Flatten of ({h}, {wd}, {c}); Keras flattens channels-last"),
                        with_weight(layer, k, v),
                    ));
                }
            }
        }
    }
    // 2. Padding.
    if let Some(p) = kind.padding() {
        let other = if p == Padding::Same {
            Padding::Valid
        } else {
            Padding::Same
        };
        let mut l = layer.clone();
        if let Some(slot) = l.kind.padding_mut() {
            *slot = other;
        }
        hs.push(hyp(
            CauseKind::Padding,
            format!("padding should be {}", other.keras_name()),
            l,
        ));
        if let Some([kh, kw]) = kind.window()
            && kh % 2 == 1
            && kw % 2 == 1
            && (kh > 1 || kw > 1)
        {
            let mut l = layer.clone();
            if let Some(slot) = l.kind.padding_mut() {
                *slot = Padding::Valid;
            }
            let pad = [[kh / 2, kh / 2], [kw / 2, kw / 2]];
            let mut h = hyp(
                CauseKind::Padding,
                format!("explicit symmetric padding {pad:?} then VALID (not TF's SAME)"),
                l,
            );
            h.pre = Some(Layer {
                name: format!("{}_pad", layer.name),
                kind: LayerKind::ZeroPadding2D { padding: pad },
                inbound: layer.inbound.clone(),
                weights: Vec::new(),
            });
            hs.push(h);
        }
    }
    if let Some(padding) = kind.padding1d() {
        for p in [Padding1D::Same, Padding1D::Valid, Padding1D::Causal] {
            if p != padding {
                let mut l = layer.clone();
                if let Some(slot) = l.kind.padding1d_mut() {
                    *slot = p;
                }
                hs.push(hyp(
                    CauseKind::Padding,
                    format!("padding should be {}", p.keras_name()),
                    l,
                ));
            }
        }
    }
    shape_hypotheses(layer, inputs, expected, &mut hs);
    // 3. Activation.
    activation_hypotheses(layer, &mut hs);
    // 4. BatchNormalization.
    if let LayerKind::BatchNormalization { epsilon, .. } = kind {
        for e in [1e-3f32, 1e-5, 1.001e-5, 1e-4, 0.0] {
            if (e - epsilon).abs() > e.max(*epsilon) * 1e-3 || (e == 0.0) != (*epsilon == 0.0) {
                let mut l = layer.clone();
                if let LayerKind::BatchNormalization { epsilon: ep, .. } = &mut l.kind {
                    *ep = e;
                }
                hs.push(hyp(
                    CauseKind::BnEpsilon,
                    format!("epsilon should be {e:e} (is {epsilon:e})"),
                    l,
                ));
            }
        }
        let pos = |n: &str| layer.weights.iter().position(|w| w.name == n);
        if let (Some(m), Some(v)) = (pos("moving_mean"), pos("moving_variance")) {
            let mut l = layer.clone();
            l.weights.swap(m, v);
            l.weights.restore_names(m, v);
            hs.push(hyp(
                CauseKind::BnStatsSwapped,
                "moving_mean and moving_variance swapped",
                l,
            ));
        }
        if let (Some(g), Some(b)) = (pos("gamma"), pos("beta")) {
            let mut l = layer.clone();
            l.weights.swap(g, b);
            l.weights.restore_names(g, b);
            hs.push(hyp(CauseKind::BnAffineSwapped, "gamma and beta swapped", l));
        }
    }
    // 5. Bias missing or wrong: estimated from the residual per channel.
    if let Some(h) = bias_hypothesis(layer, inputs, expected) {
        hs.push(h);
    }
    // 6. Weights of another layer of the same class and shapes.
    if !layer.weights.is_empty() {
        for other in &ctx.model.layers {
            if other.name != layer.name
                && other.kind.class_name() == layer.kind.class_name()
                && other.weights.len() == layer.weights.len()
                && other
                    .weights
                    .iter()
                    .zip(&layer.weights)
                    .all(|(a, b)| a.value.shape() == b.value.shape() && a.value != b.value)
            {
                let mut l = layer.clone();
                for (w, o) in l.weights.iter_mut().zip(&other.weights) {
                    w.value = o.value.clone();
                }
                hs.push(hyp(
                    CauseKind::WeightsSwapped,
                    format!(
                        "its weights are those of layer '{}' (same shapes)",
                        other.name
                    ),
                    l,
                ));
            }
        }
    }
    hs
}

/// Swapping two weights' values keeps their names in place: `swap` moved the
/// names too, so swap them back.
trait SwapNames {
    fn restore_names(&mut self, a: usize, b: usize);
}

impl SwapNames for Vec<crate::keras::Weight> {
    fn restore_names(&mut self, a: usize, b: usize) {
        let na = self[a].name.clone();
        self[a].name = std::mem::replace(&mut self[b].name, na);
    }
}

fn swap_kernel_size(kind: &mut LayerKind) {
    match kind {
        LayerKind::Conv2D { kernel_size, .. } | LayerKind::DepthwiseConv2D { kernel_size, .. } => {
            kernel_size.swap(0, 1)
        }
        _ => {}
    }
}

/// When the layer's output cannot even be compared with the graph's tensor
/// (it cannot run on the graph's values, or its shape differs: a wrong
/// padding or stride in a rebuild), other strides — kind `other`, as the
/// issue's list has no kind for them. Padding is tried for every layer above.
fn shape_hypotheses(
    layer: &Layer,
    inputs: &[&ArrayD<f32>],
    expected: &ArrayD<f32>,
    hs: &mut Vec<Hypothesis>,
) {
    let fits = interp::run_layer(layer, inputs).is_ok_and(|v| v.shape() == expected.shape());
    let Some(current) = layer.kind.strides() else {
        return;
    };
    if fits {
        return;
    }
    for s in [[1, 1], [2, 2], [1, 2], [2, 1]] {
        if s == current {
            continue;
        }
        let mut l = layer.clone();
        if let Some(slot) = l.kind.strides_mut() {
            *slot = s;
        }
        hs.push(hyp(
            CauseKind::Other,
            format!("strides should be {s:?} (are {current:?})"),
            l,
        ));
    }
}

const ACTIVATIONS: [Activation; 5] = [
    Activation::Linear,
    Activation::Relu,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Softmax,
];

fn activation_hypotheses(layer: &Layer, hs: &mut Vec<Hypothesis>) {
    if let Some(current) = layer.kind.activation() {
        for a in ACTIVATIONS {
            if a != current {
                let mut l = layer.clone();
                if let Some(slot) = l.kind.activation_mut() {
                    *slot = a;
                }
                hs.push(hyp(
                    CauseKind::Activation,
                    format!(
                        "activation should be {} (is {})",
                        a.keras_name(),
                        current.keras_name()
                    ),
                    l,
                ));
            }
        }
        let mut l = layer.clone();
        if let Some(slot) = l.kind.activation_mut() {
            *slot = Activation::Linear;
        }
        let mut h = hyp(
            CauseKind::Activation,
            format!("activation should be relu6 (is {})", current.keras_name()),
            l,
        );
        h.relu6_after = true;
        hs.push(h);
    }
    if let LayerKind::ReLU {
        max_value,
        negative_slope,
        threshold,
    } = &layer.kind
    {
        let relu = |mv: Option<f32>| LayerKind::ReLU {
            max_value: mv,
            negative_slope: *negative_slope,
            threshold: *threshold,
        };
        let mut alts = vec![
            (relu(None), "relu (no cap)".to_string()),
            (relu(Some(6.0)), "relu6".to_string()),
            (
                LayerKind::Activation {
                    activation: Activation::Linear,
                },
                "linear (no activation)".to_string(),
            ),
        ];
        alts.retain(|(k, _)| k != &layer.kind);
        for (k, name) in alts {
            let mut l = layer.clone();
            l.kind = k;
            let is = match max_value {
                Some(v) => format!("ReLU(max_value={v})"),
                None => "ReLU".into(),
            };
            hs.push(hyp(
                CauseKind::Activation,
                format!("activation should be {name} (is {is})"),
                l,
            ));
        }
    }
}

/// For layers with a bias slot (Conv2D, DepthwiseConv2D, Dense): the
/// per-channel median of `expected - output(linear)`, over elements where
/// the activation is in its identity range, added to the bias.
fn bias_hypothesis(
    layer: &Layer,
    inputs: &[&ArrayD<f32>],
    expected: &ArrayD<f32>,
) -> Option<Hypothesis> {
    let (activation, channels) = match &layer.kind {
        LayerKind::Conv2D {
            activation,
            filters,
            ..
        } => (*activation, *filters),
        LayerKind::Dense {
            activation, units, ..
        } => (*activation, *units),
        LayerKind::DepthwiseConv2D { activation, .. } => (*activation, *expected.shape().last()?),
        _ => return None,
    };
    // Only activations whose identity range is known can be inverted.
    if !matches!(activation, Activation::Linear | Activation::Relu) {
        return None;
    }
    let mut lin = layer.clone();
    if let Some(a) = lin.kind.activation_mut() {
        *a = Activation::Linear;
    }
    let z = interp::run_layer(&lin, inputs).ok()?;
    if z.shape() != expected.shape() || *z.shape().last()? != channels {
        return None;
    }
    let mut diffs: Vec<Vec<f32>> = vec![Vec::new(); channels];
    let mut zmax = vec![f32::NEG_INFINITY; channels];
    for (i, (&zv, &ev)) in z.iter().zip(expected.iter()).enumerate() {
        zmax[i % channels] = zmax[i % channels].max(zv);
        if activation == Activation::Linear || ev > 0.0 {
            diffs[i % channels].push(ev - zv);
        }
    }
    let delta: Vec<f32> = diffs
        .iter_mut()
        .zip(&zmax)
        .map(|(d, &zm)| {
            if d.is_empty() {
                // A relu channel that is 0 everywhere: any bias keeping
                // every pre-activation at or below 0 fits.
                return if zm.is_finite() { -zm.max(0.0) } else { 0.0 };
            }
            d.sort_by(|a, b| a.total_cmp(b));
            d[d.len() / 2]
        })
        .collect();
    let mut l = layer.clone();
    let old = layer
        .weight("bias")
        .map(|b| b.iter().copied().collect::<Vec<_>>());
    let new: Vec<f32> = match &old {
        Some(b) => b.iter().zip(&delta).map(|(a, d)| a + d).collect(),
        None => delta.clone(),
    };
    let value = ArrayD::from_shape_vec(IxDyn(&[channels]), new).ok()?;
    let was_zero = old.as_ref().is_none_or(|b| b.iter().all(|&v| v == 0.0));
    match &mut l.kind {
        LayerKind::Conv2D { use_bias, .. }
        | LayerKind::DepthwiseConv2D { use_bias, .. }
        | LayerKind::Dense { use_bias, .. } => *use_bias = true,
        _ => {}
    }
    match l.weights.iter_mut().find(|w| w.name == "bias") {
        Some(w) => w.value = value,
        None => l.weights.push(crate::keras::Weight {
            name: "bias".into(),
            value,
        }),
    }
    let detail = if was_zero {
        "bias missing (use_bias=False or zeros); the graph adds a per-channel bias"
    } else {
        "bias wrong: the graph adds a different per-channel bias"
    };
    Some(hyp(CauseKind::Bias, detail, l))
}

/// (H, W, C) of the 4-D tensor a Flatten (or a Reshape to a vector) turns
/// into this Dense's input, if that is what feeds it.
fn flatten_source_shape(layer: &Layer, ctx: &Context) -> Option<[usize; 3]> {
    let feeder = ctx.model.layer(layer.inbound.first()?)?;
    let flat = match &feeder.kind {
        LayerKind::Flatten => true,
        LayerKind::Reshape { target_shape } => target_shape.len() == 1,
        _ => false,
    };
    if !flat {
        return None;
    }
    let src = ctx.values.get(feeder.inbound.first()?.as_str())?;
    match src.shape() {
        [_, h, w, c] if *c > 1 && h * w > 1 => Some([*h, *w, *c]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::Weight;

    fn dense(kernel: ArrayD<f32>, activation: Activation) -> Layer {
        let units = kernel.shape()[1];
        Layer {
            name: "d".into(),
            kind: LayerKind::Dense {
                units,
                use_bias: false,
                activation,
            },
            inbound: vec!["x".into()],
            weights: vec![Weight {
                name: "kernel".into(),
                value: kernel,
            }],
        }
    }

    fn run(layer: &Layer, x: &ArrayD<f32>) -> ArrayD<f32> {
        interp::run_layer(layer, &[x]).unwrap()
    }

    fn diag(faulty: &Layer, x: &ArrayD<f32>, expected: &ArrayD<f32>) -> Vec<Cause> {
        let model = Model {
            name: "m".into(),
            inputs: Vec::new(),
            layers: vec![faulty.clone()],
            outputs: Vec::new(),
        };
        let values = HashMap::new();
        let ctx = Context {
            model: &model,
            values: &values,
        };
        diagnose(faulty, &[x], expected, Tolerance::default(), &ctx)
    }

    fn ramp(shape: &[usize], scale: f32) -> ArrayD<f32> {
        let n: usize = shape.iter().product();
        ArrayD::from_shape_vec(
            IxDyn(shape),
            (0..n)
                .map(|i| ((i * 7 % 11) as f32 - 5.0) * scale)
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn transposed_square_dense_kernel_is_named() {
        let k = ramp(&[3, 3], 0.3);
        let x = ramp(&[2, 3], 0.5);
        let good = dense(k.clone(), Activation::Linear);
        let expected = run(&good, &x);
        let bad = dense(k.t().as_standard_layout().to_owned(), Activation::Linear);
        let causes = diag(&bad, &x, &expected);
        assert_eq!(causes[0].kind, CauseKind::DenseTransposed, "{causes:?}");
    }

    #[test]
    fn wrong_activation_is_named_and_unfixable_is_other() {
        let k = ramp(&[3, 2], 0.3);
        let x = ramp(&[4, 3], 0.5);
        let expected = run(&dense(k.clone(), Activation::Relu), &x);
        let causes = diag(&dense(k.clone(), Activation::Linear), &x, &expected);
        assert!(
            causes
                .iter()
                .any(|c| c.kind == CauseKind::Activation && c.detail.contains("relu")),
            "{causes:?}"
        );
        // A kernel of different values: no single change explains it.
        let causes = diag(
            &dense(k.mapv(|v| v * 1.5 + 0.1), Activation::Relu),
            &x,
            &expected,
        );
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].kind, CauseKind::Other);
    }

    #[test]
    fn weight_check_names_equal_permuted_different() {
        let k = ramp(&[2, 3], 1.0);
        let r = dense(k.clone(), Activation::Linear);
        assert_eq!(weight_check(&r, &r)[0].verdict, "equal");
        let t = dense(k.t().as_standard_layout().to_owned(), Activation::Linear);
        assert_eq!(weight_check(&t, &r)[0].verdict, "permuted");
        let d = dense(k.mapv(|v| v + 1.0), Activation::Linear);
        assert_eq!(weight_check(&d, &r)[0].verdict, "different");
    }

    fn conv(strides: [usize; 2], padding: Padding, kernel: ArrayD<f32>) -> Layer {
        Layer {
            name: "c".into(),
            kind: LayerKind::Conv2D {
                filters: kernel.shape()[3],
                kernel_size: [kernel.shape()[0], kernel.shape()[1]],
                strides,
                padding,
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

    /// issue 4: a rebuild whose output has another shape than the graph's
    /// tensor (padding "valid" for SAME: 6x6 -> 4x4), or that cannot run at
    /// all (a 3x3 VALID window on a 2x2 input), is still diagnosed.
    #[test]
    fn shape_mismatches_are_diagnosed() {
        let k = ramp(&[3, 3, 2, 2], 0.2);
        let x = ramp(&[1, 6, 6, 2], 0.5);
        let expected = run(&conv([1, 1], Padding::Same, k.clone()), &x);
        let causes = diag(&conv([1, 1], Padding::Valid, k.clone()), &x, &expected);
        assert_eq!(causes[0].kind, CauseKind::Padding, "{causes:?}");
        assert!(causes[0].detail.contains("same"), "{causes:?}");
        let small = ramp(&[1, 2, 2, 2], 0.5);
        let expected = run(&conv([1, 1], Padding::Same, k.clone()), &small);
        let causes = diag(&conv([1, 1], Padding::Valid, k.clone()), &small, &expected);
        assert_eq!(causes[0].kind, CauseKind::Padding, "{causes:?}");
        // Strides 1 where the graph has 2: named, as `other` (not in the list).
        let expected = run(&conv([2, 2], Padding::Same, k.clone()), &x);
        let causes = diag(&conv([1, 1], Padding::Same, k.clone()), &x, &expected);
        assert!(
            causes.iter().any(
                |c| c.kind == CauseKind::Other && c.detail.contains("strides should be [2, 2]")
            ),
            "{causes:?}"
        );
        // No hypothesis fits: the `other` cause says what the shapes are.
        let wide = ramp(&[1, 9, 9, 2], 0.5);
        let causes = diag(&conv([1, 1], Padding::Same, k), &x, &wide);
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert!(
            causes[0]
                .detail
                .contains("shape [1, 6, 6, 2], the graph's tensor [1, 9, 9, 2]"),
            "{causes:?}"
        );
    }
}
