//! Sequence convolutions and pooling → `Conv1D`, `MaxPooling1D`,
//! `AveragePooling1D`, `GlobalMaxPooling1D`, `GlobalAveragePooling1D`.
//!
//! TensorFlow has no 1-D conv or pool kernel: `tf.nn.conv1d` and the 1-D pools
//! lift the `(batch, steps, channels)` tensor to 2-D with `ExpandDims`, run the
//! 2-D op and `Squeeze` the extra axis away. Forms matched (Keras 3, tf-keras):
//! - Conv1D: `[Pad] → [SpaceToBatchND] → ExpandDims(axis 1) → Conv2D(kernel
//!   ExpandDims(k)) → Squeeze([-3]) → [BatchToSpaceND]` then the bias
//!   (`BiasAdd(·, b)` tf-keras, `BiasAdd(·, Squeeze(Reshape(b)))` Keras 3) and
//!   an activation in the same scope ([`super::conv::tail`]). `Pad` of
//!   `(k-1)*d` steps before and none after is `padding="causal"`;
//!   `SpaceToBatchND`/`BatchToSpaceND` with a block of `d` is `dilation_rate=d`
//!   (SAME vs VALID read from the leading paddings, as in the 2-D rule).
//! - pooling: `ExpandDims → MaxPool|AvgPool → Squeeze`; Keras 3 expands axis 1
//!   (window `[1, 1, k, 1]`), tf-keras axis 2 (window `[1, k, 1, 1]`).
//! - global pooling: `Mean|Max` over axis 1 of a rank-3 layer output.
//!
//! The rules anchor on the first node of each chain (`Pad`, `SpaceToBatchND`
//! or `ExpandDims`), which the converter meets first in topological order, and
//! are registered before the generic `ExpandDims → Reshape` rule.
//!
//! Not handled yet: `groups > 1`, channels-first, strided *and* dilated
//! convolutions, `Conv1D` frozen by TF1's `tf.layers.conv1d` with NCW.

use super::conv::{padding, tail};
use super::ctx::{Ctx, Emit, Match, weight};
use super::rules::{CHAIN, RuleEntry};
use crate::graph::pb::NodeDef;
use crate::graph::{NodeExt, TensorId};
use crate::keras::{LayerKind, Padding, Padding1D};

fn out0(node: &NodeDef) -> TensorId {
    TensorId::new(node.name.clone(), 0)
}

/// The layer output feeding `node`, checked to be `(batch, steps, channels)`.
fn rank3_input(ctx: &Ctx, node: &NodeDef) -> Result<TensorId, String> {
    let x = ctx.layer_input(node, 0)?;
    match ctx.shape(&x).map(Vec::len) {
        Some(3) => Ok(x),
        r => Err(format!(
            "input has rank {r:?}, not (batch, steps, channels)"
        )),
    }
}

/// The node consuming `node`'s output alone, if it has op `op`.
fn next<'g>(ctx: &Ctx<'g>, node: &NodeDef, op: &str) -> Result<&'g NodeDef, String> {
    ctx.sole_consumer(&out0(node))
        .filter(|c| c.op == op && ctx.graph.input(c, 0).ok() == Some(out0(node)))
        .ok_or_else(|| format!("{} is not followed by {op} alone", node.name))
}

/// An `ExpandDims` axis, normalised against the rank-4 result.
fn expand_axis(ctx: &Ctx, node: &NodeDef) -> Result<i64, String> {
    let axis = *ctx.const_ints(node, 1)?.first().ok_or("no axis")?;
    Ok(if axis < 0 { axis + 4 } else { axis })
}

/// `[1, 1, v, 1]` → v (Conv2D strides/dilations of a lifted 1-D op).
fn steps_attr(node: &NodeDef, attr: &str) -> Result<usize, String> {
    let v = match node.attr_ints(attr) {
        Ok(v) => v,
        Err(_) if attr == "dilations" => return Ok(1),
        Err(e) => return Err(e.to_string()),
    };
    match v.as_slice() {
        [1, 1, s, 1] if *s > 0 => Ok(*s as usize),
        _ => Err(format!("{attr} {v:?} is not [1, 1, s, 1]")),
    }
}

/// Conv1D anchored at its first node: `Pad` (causal), `SpaceToBatchND`
/// (dilated) or `ExpandDims`.
pub fn conv1d(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = rank3_input(ctx, node)?;
    let mut nodes = Vec::new();
    let mut cur = node;
    let mut causal_pad = None;
    if cur.op == "Pad" {
        let p = ctx.const_ints(cur, 1)?;
        match p.as_slice() {
            [0, 0, before, 0, 0, 0] if *before > 0 => causal_pad = Some(*before),
            _ => {
                return Err(format!(
                    "paddings {p:?} are not a causal padding of the steps"
                ));
            }
        }
        nodes.push(cur.name.clone());
        cur = ctx
            .sole_consumer(&out0(cur))
            .ok_or("the causal Pad has more than one consumer")?;
    }
    let mut s2b = None;
    if cur.op == "SpaceToBatchND" {
        let block = ctx.const_ints(cur, 1)?;
        let pads = ctx.const_ints(cur, 2)?;
        match (block.as_slice(), pads.as_slice()) {
            ([d], [a, b]) if *d >= 1 && *a >= 0 && *b >= 0 => s2b = Some((*d as usize, *a)),
            _ => {
                return Err(format!(
                    "SpaceToBatchND block {block:?}, paddings {pads:?} are not 1-D"
                ));
            }
        }
        nodes.push(cur.name.clone());
        cur = next(ctx, cur, "ExpandDims")?;
    }
    if cur.op != "ExpandDims" {
        return Err(format!(
            "{} ({}) does not lead to ExpandDims",
            cur.name, cur.op
        ));
    }
    if expand_axis(ctx, cur)? != 1 {
        return Err("ExpandDims does not insert axis 1 (tf.nn.conv1d's)".into());
    }
    nodes.push(cur.name.clone());
    let conv = next(ctx, cur, "Conv2D")?;
    if conv.attr_str("data_format").is_ok_and(|f| f != "NHWC") {
        return Err("only NHWC convolutions are supported".into());
    }
    let kernel = ctx.const_f32(conv, 1)?;
    let &[1, k, ci, co] = kernel.shape() else {
        return Err(format!(
            "kernel shape {:?} is not (1, k, in, filters)",
            kernel.shape()
        ));
    };
    let in_ch = ctx
        .shape(&x)
        .and_then(|s| s[2])
        .ok_or("unknown channel count")?;
    if ci != in_ch {
        return Err(format!(
            "kernel expects {ci} input channels, the input has {in_ch} (grouped Conv1D is not supported)"
        ));
    }
    let kernel = kernel
        .into_shape_with_order(ndarray::IxDyn(&[k, ci, co]))
        .map_err(|e| format!("kernel reshape: {e}"))?;
    let mut strides = steps_attr(conv, "strides")?;
    let tf_pad = padding(conv)?;
    nodes.push(conv.name.clone());
    let squeeze = next(ctx, conv, "Squeeze")?;
    let dims = squeeze.attr_ints("squeeze_dims").unwrap_or_default();
    if !(dims == [1] || dims == [-3]) {
        return Err(format!("Squeeze dims {dims:?} are not the lifted axis"));
    }
    nodes.push(squeeze.name.clone());
    let mut out = out0(squeeze);
    let mut dilation = steps_attr(conv, "dilations")?;
    let mut before = None;
    if let Some((d, pad_before)) = s2b {
        if strides != 1 || dilation != 1 || tf_pad != Padding::Valid {
            return Err("the convolution inside SpaceToBatchND is not stride 1 VALID".into());
        }
        let b2s = next(ctx, squeeze, "BatchToSpaceND")?;
        nodes.push(b2s.name.clone());
        out = out0(b2s);
        dilation = d;
        strides = 1;
        before = Some(pad_before as usize);
    }
    let eff = (k - 1) * dilation;
    let padding = match (causal_pad, before) {
        (Some(p), None | Some(0)) if p as usize == eff && tf_pad == Padding::Valid => {
            Padding1D::Causal
        }
        (Some(p), _) => {
            return Err(format!("Pad of {p} steps is not the causal padding {eff}"));
        }
        (None, None) if tf_pad == Padding::Same => Padding1D::Same,
        (None, None) | (None, Some(0)) => Padding1D::Valid,
        (None, Some(b)) if b == eff / 2 => Padding1D::Same,
        (None, Some(b)) => {
            return Err(format!(
                "SpaceToBatchND pads {b} steps: neither SAME nor VALID"
            ));
        }
    };
    let t = tail(ctx, conv, out, co);
    nodes.extend(t.nodes);
    let mut weights = vec![weight("kernel", kernel)];
    let use_bias = t.bias.is_some();
    if let Some(b) = t.bias {
        weights.push(weight("bias", b));
    }
    Ok(Match::one(Emit {
        name: ctx.layer_name(conv),
        kind: LayerKind::Conv1D {
            filters: co,
            kernel_size: k,
            strides,
            padding,
            dilation_rate: dilation,
            use_bias,
            activation: t.activation,
        },
        weights,
        inputs: vec![x],
        output: t.output,
        more_outputs: Vec::new(),
        nodes,
    }))
}

/// `ExpandDims → MaxPool|AvgPool → Squeeze` on a rank-3 layer output.
pub fn pool1d(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = rank3_input(ctx, node)?;
    let axis = expand_axis(ctx, node)?;
    if axis != 1 && axis != 2 {
        return Err(format!("ExpandDims axis {axis} is not 1 or 2"));
    }
    let pool = ctx
        .sole_consumer(&out0(node))
        .filter(|c| matches!(c.op.as_str(), "MaxPool" | "AvgPool"))
        .ok_or("not followed by MaxPool or AvgPool")?;
    if pool.attr_str("data_format").is_ok_and(|f| f != "NHWC") {
        return Err("only NHWC pooling is supported".into());
    }
    // The window sits on the axis that is not the inserted one.
    let window = |attr: &str| -> Result<usize, String> {
        let v = pool.attr_ints(attr).map_err(|e| e.to_string())?;
        match (axis, v.as_slice()) {
            (1, [1, 1, k, 1]) | (2, [1, k, 1, 1]) if *k > 0 => Ok(*k as usize),
            _ => Err(format!("{attr} {v:?} does not pool the steps axis only")),
        }
    };
    let pool_size = window("ksize")?;
    let strides = window("strides")?;
    let pad = padding(pool)?;
    let squeeze = next(ctx, pool, "Squeeze")?;
    let dims = squeeze.attr_ints("squeeze_dims").unwrap_or_default();
    if !(dims == [axis] || dims == [axis - 4]) {
        return Err(format!(
            "Squeeze dims {dims:?} do not undo ExpandDims axis {axis}"
        ));
    }
    let kind = if pool.op == "MaxPool" {
        LayerKind::MaxPooling1D {
            pool_size,
            strides,
            padding: pad,
        }
    } else {
        LayerKind::AveragePooling1D {
            pool_size,
            strides,
            padding: pad,
        }
    };
    Ok(Match::one(Emit {
        name: ctx.layer_name(pool),
        kind,
        weights: vec![],
        inputs: vec![x],
        output: out0(squeeze),
        more_outputs: Vec::new(),
        nodes: vec![node.name.clone(), pool.name.clone(), squeeze.name.clone()],
    }))
}

/// `Mean|Max` over the steps axis (1) of a rank-3 layer output.
pub fn global1d(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = rank3_input(ctx, node)?;
    let axes: Vec<i64> = ctx
        .const_ints(node, 1)?
        .into_iter()
        .map(|a| if a < 0 { a + 3 } else { a })
        .collect();
    if axes != [1] {
        return Err(format!("reduces axes {axes:?}, not the steps axis"));
    }
    let keepdims = node.attr_bool("keep_dims").unwrap_or(false);
    let kind = match node.op.as_str() {
        "Mean" => LayerKind::GlobalAveragePooling1D { keepdims },
        "Max" => LayerKind::GlobalMaxPooling1D { keepdims },
        other => return Err(format!("{other} is not a global pooling")),
    };
    Ok(Match::one(Emit::single(ctx, node, kind, vec![x])))
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[
    RuleEntry::new("ExpandDims", "conv1d", CHAIN + 20, conv1d),
    RuleEntry::new("Pad", "conv1d (causal)", CHAIN + 20, conv1d),
    RuleEntry::new("SpaceToBatchND", "conv1d (dilated)", CHAIN + 20, conv1d),
    RuleEntry::new("ExpandDims", "max/average_pooling1d", CHAIN + 21, pool1d),
    RuleEntry::new("Mean", "global_average_pooling1d", CHAIN + 20, global1d),
    RuleEntry::new("Max", "global_max_pooling1d", CHAIN + 20, global1d),
];

#[cfg(test)]
pub(crate) mod tests {
    use crate::convert::{ConvertOptions, convert};
    use crate::graph::Graph;
    use crate::keras::{Activation, LayerKind, Model, Padding, Padding1D};
    use std::collections::BTreeMap;
    use std::path::Path;

    /// Converts a committed fixture; expected values below come from its
    /// builder in `harness/gen_fixtures.py` (`build_text_cnn`, `build_seq_shapes`).
    pub(crate) fn fixture(case: &str) -> (Model, serde_json::Value) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(case);
        let graph = Graph::load(&dir.join("model.pb")).expect("fixture loads");
        let c = convert(&graph, &ConvertOptions::default()).expect("converts");
        assert!(c.unsupported.is_empty(), "{case}: {:?}", c.unsupported);
        let meta = std::fs::read_to_string(dir.join("meta.json")).expect("meta.json");
        (
            c.model,
            serde_json::from_str(&meta).expect("meta.json parses"),
        )
    }

    fn kind<'m>(m: &'m Model, name: &str) -> &'m LayerKind {
        &m.layer(name)
            .unwrap_or_else(|| panic!("no layer {name}"))
            .kind
    }

    /// Keras's own layer count per class (meta.json `keras_layers`, written by
    /// the harness from the Keras model) against what thaw reconstructed.
    pub(crate) fn assert_same_classes(case: &str, m: &Model, meta: &serde_json::Value) {
        let mut got: BTreeMap<String, u64> = BTreeMap::new();
        for l in &m.layers {
            *got.entry(l.kind.class_name().to_string()).or_default() += 1;
        }
        let want: BTreeMap<String, u64> = meta["keras_layers"]
            .as_object()
            .expect("keras_layers")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
            .collect();
        assert_eq!(got, want, "{case}");
    }

    #[test]
    fn text_cnn_conv_and_pool_configs_are_recovered() {
        for case in ["k3_text_cnn", "tk_text_cnn"] {
            let (m, meta) = fixture(case);
            assert_same_classes(case, &m, &meta);
            let conv = |filters, kernel_size, strides, padding, dilation_rate, activation| {
                LayerKind::Conv1D {
                    filters,
                    kernel_size,
                    strides,
                    padding,
                    dilation_rate,
                    use_bias: true,
                    activation,
                }
            };
            assert_eq!(
                kind(&m, "conv_same_relu"),
                &conv(12, 3, 1, Padding1D::Same, 1, Activation::Relu),
                "{case}"
            );
            // Pad (4 steps) + SpaceToBatchND/BatchToSpaceND (block 2) is causal, dilation 2.
            assert_eq!(
                kind(&m, "conv_causal_d2"),
                &conv(8, 3, 1, Padding1D::Causal, 2, Activation::Tanh),
                "{case}"
            );
            assert_eq!(
                kind(&m, "conv_valid_s2"),
                &conv(8, 2, 2, Padding1D::Valid, 1, Activation::Linear),
                "{case}"
            );
            // Keras 3 pools on axis 2 of ExpandDims(axis 1), tf-keras on axis 1 of ExpandDims(axis 2).
            assert_eq!(
                kind(&m, "maxpool"),
                &LayerKind::MaxPooling1D {
                    pool_size: 2,
                    strides: 2,
                    padding: Padding::Valid
                },
                "{case}"
            );
            assert_eq!(
                kind(&m, "avgpool_same"),
                &LayerKind::AveragePooling1D {
                    pool_size: 3,
                    strides: 2,
                    padding: Padding::Same
                },
                "{case}"
            );
            assert_eq!(
                kind(&m, "gmp"),
                &LayerKind::GlobalMaxPooling1D { keepdims: false },
                "{case}"
            );
            // The kernel keeps Keras's (k, in, filters) layout.
            let k = m.layer("conv_causal_d2").and_then(|l| l.weight("kernel"));
            assert_eq!(
                k.map(|k| k.shape().to_vec()),
                Some(vec![3, 12, 8]),
                "{case}"
            );
        }
    }

    #[test]
    fn causal_conv_without_dilation_is_recovered() {
        for case in ["k3_seq_shapes", "tk_seq_shapes"] {
            let (m, meta) = fixture(case);
            assert_same_classes(case, &m, &meta);
            assert_eq!(
                kind(&m, "conv_causal"),
                &LayerKind::Conv1D {
                    filters: 5,
                    kernel_size: 2,
                    strides: 1,
                    padding: Padding1D::Causal,
                    dilation_rate: 1,
                    use_bias: true,
                    activation: Activation::Linear,
                },
                "{case}"
            );
        }
    }
}
