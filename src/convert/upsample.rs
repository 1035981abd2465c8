//! Upsampling → `UpSampling2D` (nearest or bilinear).
//!
//! Matches, in the forms Keras 3, tf-keras and TF1 freeze them:
//! - `ResizeNearestNeighbor(x, size)` (tf-keras `UpSampling2D`, half-pixel
//!   centres; TF1 `tf.image.resize_nearest_neighbor`, legacy coordinates — for
//!   an integer factor both pick source `floor(o / s)`, so both are accepted);
//! - `ResizeBilinear(x, size)` with `half_pixel_centers` and no `align_corners`
//!   (tf-keras, and Keras 3's bilinear `UpSampling2D`, via `tf.image.resize`);
//! - Keras 3's nearest `UpSampling2D`: `ops.repeat` along H then W, each frozen as
//!   `ExpandDims(x, axis+1) → Tile(1.., r, ..1) → Reshape`, both in the layer's scope;
//!   a single repeat of H or W alone becomes `UpSampling2D` with a 1 on the other axis.
//!
//! `size` must fold to constants (tf-keras: `Mul(Const hw, Const factors)`) that
//! are integer multiples of the input's height and width.
//!
//! Not handled yet: `align_corners=True` or legacy-coordinate bilinear resizes
//! (no Keras layer computes them; TF1 `tf.image.resize_bilinear`'s default),
//! non-integer factors (Keras `Resizing`), bicubic/area, channels-first.

use std::collections::HashMap;

use super::consts;
use super::ctx::{Ctx, Emit, Match};
use super::rules::{CHAIN, LAYER, RuleEntry};
use crate::graph::pb::NodeDef;
use crate::graph::{NodeExt, TensorId};
use crate::keras::{Interpolation, LayerKind};

const MAX_DEPTH: usize = 8;

/// Integer constants the shared folder does not reach: it also looks through
/// `Reshape` of a constant (Keras 3 reshapes the repeat count) and `Mul`
/// (tf-keras multiplies the size by the factors). Shape-derived values are not needed here.
fn loose_ints(ctx: &Ctx, t: &TensorId, depth: usize) -> Option<Vec<i64>> {
    if depth > MAX_DEPTH {
        return None;
    }
    let t = ctx.graph.resolve(t);
    let node = ctx.graph.node(&t.node)?;
    let input = |k: usize| {
        ctx.graph
            .input(node, k)
            .ok()
            .and_then(|i| loose_ints(ctx, &i, depth + 1))
    };
    match node.op.as_str() {
        "Reshape" => input(0),
        "Pack" => (0..node.data_inputs().len())
            .map(|k| input(k).filter(|v| v.len() == 1).map(|v| v[0]))
            .collect(),
        "Mul" => {
            let (a, b) = (input(0)?, input(1)?);
            match (a.len(), b.len()) {
                (n, m) if n == m => a.iter().zip(&b).map(|(x, y)| x.checked_mul(*y)).collect(),
                (1, _) => b.iter().map(|y| y.checked_mul(a[0])).collect(),
                (_, 1) => a.iter().map(|x| x.checked_mul(b[0])).collect(),
                _ => None,
            }
        }
        _ => consts::fold_ints(ctx.graph, &t, &HashMap::new()),
    }
}

/// The known (H, W) of an NHWC layer output.
fn hw(ctx: &Ctx, x: &TensorId) -> Result<[usize; 2], String> {
    match ctx.shape(x).map(Vec::as_slice) {
        Some([_, Some(h), Some(w), _]) if *h > 0 && *w > 0 => Ok([*h, *w]),
        other => Err(format!(
            "the input's shape {other:?} is not a known NHWC shape"
        )),
    }
}

fn emit(
    ctx: &Ctx,
    anchor: &NodeDef,
    x: TensorId,
    kind: LayerKind,
    last: &NodeDef,
    nodes: Vec<String>,
) -> Match {
    Match::one(Emit {
        name: ctx.layer_name(anchor),
        kind,
        weights: vec![],
        inputs: vec![x],
        output: TensorId::new(last.name.clone(), 0),
        more_outputs: Vec::new(),
        nodes,
    })
}

/// `ResizeNearestNeighbor` / `ResizeBilinear` by integer factors.
pub fn resize(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    let [h, w] = hw(ctx, &x)?;
    let t = ctx.graph.input(node, 1).map_err(|e| e.to_string())?;
    let size = loose_ints(ctx, &t, 0).ok_or("size is not a constant")?;
    let [oh, ow] = size[..] else {
        return Err(format!("size {size:?} does not have 2 entries"));
    };
    let factor = |o: i64, i: usize| -> Option<usize> {
        let o = usize::try_from(o).ok()?;
        (o >= i && o % i == 0).then_some(o / i)
    };
    let (Some(sy), Some(sx)) = (factor(oh, h), factor(ow, w)) else {
        return Err(format!(
            "size [{oh}, {ow}] is not an integer multiple of the input's {h}x{w}"
        ));
    };
    let align = node.attr_bool("align_corners").unwrap_or(false);
    let half = node.attr_bool("half_pixel_centers").unwrap_or(false);
    let interpolation = match node.op.as_str() {
        "ResizeNearestNeighbor" if !align => Interpolation::Nearest,
        "ResizeBilinear" if !align && half => Interpolation::Bilinear,
        _ => {
            return Err(format!(
                "{} with align_corners={align}, half_pixel_centers={half} is not what \
                 UpSampling2D computes",
                node.op
            ));
        }
    };
    let kind = LayerKind::UpSampling2D {
        size: [sy, sx],
        interpolation,
    };
    Ok(emit(ctx, node, x, kind, node, vec![node.name.clone()]))
}

/// One `ExpandDims → Tile → Reshape` repeat of `from` along axis 1 or 2: (axis, count, nodes).
fn repeat_at<'g>(
    ctx: &Ctx<'g>,
    expand: &'g NodeDef,
    from: &TensorId,
) -> Result<(usize, usize, [&'g NodeDef; 3]), String> {
    if expand.op != "ExpandDims" || ctx.graph.input(expand, 0).ok().as_ref() != Some(from) {
        return Err("not an ExpandDims of the input".into());
    }
    let dim = ctx.const_ints(expand, 1)?;
    let axis = match dim[..] {
        [d @ (2 | 3)] => d as usize - 1,
        _ => return Err(format!("ExpandDims at {dim:?} is not a repeat of H or W")),
    };
    let out = |n: &NodeDef| TensorId::new(n.name.clone(), 0);
    let tile = ctx
        .sole_consumer(&out(expand))
        .filter(|n| n.op == "Tile")
        .ok_or("ExpandDims is not followed by Tile")?;
    let t = ctx.graph.input(tile, 1).map_err(|e| e.to_string())?;
    let mult = loose_ints(ctx, &t, 0).ok_or("Tile multiples are not constant")?;
    let count = match mult.as_slice() {
        [1, a, b, c, 1] => {
            let m = [*a, *b, *c];
            let r = m[axis];
            let others_one = m.iter().enumerate().all(|(i, &v)| i == axis || v == 1);
            if !others_one || r < 1 {
                return Err(format!("Tile multiples {mult:?} are not one repeat count"));
            }
            r as usize
        }
        _ => return Err(format!("Tile multiples {mult:?} are not one repeat count")),
    };
    let reshape = ctx
        .sole_consumer(&out(tile))
        .filter(|n| n.op == "Reshape" && ctx.same_layer(expand, n))
        .ok_or("Tile is not followed by a Reshape in the same scope")?;
    Ok((axis, count, [expand, tile, reshape]))
}

/// The data (non-`Shape`) consumer of `t`, if there is exactly one.
fn data_consumer<'g>(ctx: &Ctx<'g>, t: &TensorId) -> Option<&'g NodeDef> {
    let nodes = ctx.graph.nodes();
    let mut data = ctx
        .graph
        .consumers(t)
        .into_iter()
        .map(|(i, _)| &nodes[i])
        .filter(|n| n.op != "Shape");
    let first = data.next()?;
    data.next().is_none().then_some(first)
}

/// Keras 3's nearest `UpSampling2D`: repeats along H and/or W.
pub fn repeat(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    hw(ctx, &x)?;
    let (axis, count, first) = repeat_at(ctx, node, &x)?;
    let mut size = [1, 1];
    size[axis - 1] = count;
    let mut nodes: Vec<String> = first.iter().map(|n| n.name.clone()).collect();
    let mut last = first[2];
    if axis == 1 {
        let mid = TensorId::new(last.name.clone(), 0);
        if let Some(next) = data_consumer(ctx, &mid).filter(|n| ctx.same_layer(node, n))
            && let Ok((2, count, second)) = repeat_at(ctx, next, &mid)
        {
            size[1] = count;
            nodes.extend(second.iter().map(|n| n.name.clone()));
            last = second[2];
        }
    }
    let kind = LayerKind::UpSampling2D {
        size,
        interpolation: Interpolation::Nearest,
    };
    Ok(emit(ctx, node, x, kind, last, nodes))
}

/// Tests of this file's rules and of `conv_transpose.rs` (they share the fixtures).
/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[
    RuleEntry::new(
        "ResizeNearestNeighbor",
        "upsampling2d (nearest)",
        LAYER,
        resize,
    ),
    RuleEntry::new("ResizeBilinear", "upsampling2d (bilinear)", LAYER, resize),
    RuleEntry::new(
        "ExpandDims",
        "upsampling2d (Keras 3 repeat form)",
        CHAIN + 60,
        repeat,
    ),
];

#[cfg(test)]
mod tests {
    use crate::convert::{Conversion, ConvertOptions, convert};
    use crate::graph::{Graph, parse_graph_def};
    use crate::keras::{Activation, Interpolation, LayerKind, Model, Padding};
    use std::collections::BTreeMap;
    use std::path::Path;

    /// Converts a committed fixture; the expected configs below are those of its
    /// builder in `harness/gen_fixtures.py` (`build_upsample_deconv`, `build_unet_small`).
    fn fixture(case: &str) -> Model {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(case);
        let graph = Graph::load(&dir.join("model.pb")).expect("fixture loads");
        let c = convert(&graph, &ConvertOptions::default()).expect("converts");
        assert!(c.unsupported.is_empty(), "{case}: {:?}", c.unsupported);
        // Keras's own class counts (meta.json, from the Keras model) against thaw's.
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
        let mut got: BTreeMap<String, u64> = BTreeMap::new();
        for l in &c.model.layers {
            *got.entry(l.kind.class_name().to_string()).or_default() += 1;
        }
        let want: BTreeMap<String, u64> = meta["keras_layers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        assert_eq!(got, want, "{case}");
        c.model
    }

    fn kind<'m>(m: &'m Model, name: &str) -> &'m LayerKind {
        &m.layer(name)
            .unwrap_or_else(|| panic!("no layer {name}"))
            .kind
    }

    fn transpose(
        filters: usize,
        k: usize,
        strides: [usize; 2],
        padding: Padding,
        use_bias: bool,
        activation: Activation,
    ) -> LayerKind {
        LayerKind::Conv2DTranspose {
            filters,
            kernel_size: [k, k],
            strides,
            padding,
            use_bias,
            activation,
        }
    }

    #[test]
    fn both_kerases_forms_give_the_builders_layers() {
        use Activation::{Linear, Relu, Tanh};
        use Padding::{Same, Valid};
        for case in ["k3_upsample_deconv", "tk_upsample_deconv"] {
            let m = fixture(case);
            let want = [
                (
                    "ct_k3_s2_valid",
                    transpose(4, 3, [2, 2], Valid, false, Linear),
                ),
                ("ct_k4_s2_same", transpose(3, 4, [2, 2], Same, true, Linear)),
                ("ct_k2_s2_tanh", transpose(4, 2, [2, 2], Valid, true, Tanh)),
                ("ct_k1_s12", transpose(3, 1, [1, 2], Valid, true, Linear)),
                ("ct_k3_s1_same", transpose(2, 3, [1, 1], Same, true, Linear)),
            ];
            for (name, k) in want {
                assert_eq!(kind(&m, name), &k, "{case} {name}");
            }
            assert_eq!(
                kind(&m, "up_nearest_32"),
                &LayerKind::UpSampling2D {
                    size: [3, 2],
                    interpolation: Interpolation::Nearest
                },
                "{case}"
            );
            assert_eq!(
                kind(&m, "up_bilinear_23"),
                &LayerKind::UpSampling2D {
                    size: [2, 3],
                    interpolation: Interpolation::Bilinear
                },
                "{case}"
            );
            // The kernel is Keras's (kh, kw, filters, in) as is.
            let k = m.layer("ct_k4_s2_same").unwrap().weight("kernel").unwrap();
            assert_eq!(k.shape(), &[4, 4, 3, 4], "{case}");
        }
        for case in ["k3_unet_small", "tk_unet_small"] {
            let m = fixture(case);
            assert_eq!(
                kind(&m, "up1_deconv"),
                &transpose(8, 3, [2, 2], Same, true, Relu),
                "{case}"
            );
            assert_eq!(m.layer("skip2").unwrap().inbound, ["up2_nearest", "enc1"]);
        }
    }

    fn convert_text(body: &str) -> Conversion {
        let text = format!(
            r#"
node {{ name: "x" op: "Placeholder" attr {{ key: "dtype" value {{ type: DT_FLOAT }} }}
  attr {{ key: "shape" value {{ shape {{ dim {{ size: -1 }} dim {{ size: 3 }} dim {{ size: 4 }} dim {{ size: 2 }} }} }} }} }}
{body}"#
        );
        let g = Graph::new(parse_graph_def(text.as_bytes(), true, "t.pbtxt").unwrap()).unwrap();
        convert(&g, &ConvertOptions::default()).unwrap()
    }

    fn resize(op: &str, h: i32, w: i32, align: bool, half: bool) -> String {
        format!(
            r#"
node {{ name: "size" op: "Const" attr {{ key: "dtype" value {{ type: DT_INT32 }} }}
  attr {{ key: "value" value {{ tensor {{ dtype: DT_INT32 tensor_shape {{ dim {{ size: 2 }} }} int_val: {h} int_val: {w} }} }} }} }}
node {{ name: "up/resize" op: "{op}" input: "x" input: "size"
  attr {{ key: "align_corners" value {{ b: {align} }} }} attr {{ key: "half_pixel_centers" value {{ b: {half} }} }} }}"#
        )
    }

    #[test]
    fn resizes_keras_computes_convert_and_others_are_refused_with_the_reason() {
        // TF1's legacy nearest (no half-pixel centres) is the same repeat for integer factors.
        let c = convert_text(&resize("ResizeNearestNeighbor", 6, 12, false, false));
        assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
        assert_eq!(
            c.model.layers[0].kind,
            LayerKind::UpSampling2D {
                size: [2, 3],
                interpolation: Interpolation::Nearest
            }
        );
        // align_corners bilinear interpolates differently: no Keras layer computes it.
        let c = convert_text(&resize("ResizeBilinear", 6, 8, true, false));
        assert_eq!(c.unsupported.len(), 1);
        assert!(
            c.unsupported[0].reason.contains("align_corners=true"),
            "{:?}",
            c.unsupported
        );
        // Not an integer multiple of 3x4.
        let c = convert_text(&resize("ResizeBilinear", 7, 8, false, true));
        assert!(
            c.unsupported[0].reason.contains("not an integer multiple"),
            "{:?}",
            c.unsupported
        );
    }

    fn backprop(out_h: i32, out_w: i32) -> String {
        // Kernel (1, 1, filters 1, in 2) = [[2], [3]] → y = 2 x0 + 3 x1 on the taps.
        format!(
            r#"
node {{ name: "sizes" op: "Const" attr {{ key: "dtype" value {{ type: DT_INT32 }} }}
  attr {{ key: "value" value {{ tensor {{ dtype: DT_INT32 tensor_shape {{ dim {{ size: 4 }} }} int_val: 1 int_val: {out_h} int_val: {out_w} int_val: 1 }} }} }} }}
node {{ name: "k" op: "Const" attr {{ key: "dtype" value {{ type: DT_FLOAT }} }}
  attr {{ key: "value" value {{ tensor {{ dtype: DT_FLOAT tensor_shape {{ dim {{ size: 1 }} dim {{ size: 1 }} dim {{ size: 1 }} dim {{ size: 2 }} }} float_val: 2 float_val: 3 }} }} }} }}
node {{ name: "ct/conv2d_transpose" op: "Conv2DBackpropInput" input: "sizes" input: "k" input: "x"
  attr {{ key: "padding" value {{ s: "VALID" }} }}
  attr {{ key: "strides" value {{ list {{ i: 1 i: 2 i: 2 i: 1 }} }} }} }}"#
        )
    }

    #[test]
    fn transposed_convs_of_keras_sizes_convert_and_others_are_refused() {
        // Keras valid, k=1 < s=2: out = in*s = 6x8.
        let c = convert_text(&backprop(6, 8));
        assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
        let l = &c.model.layers[0];
        assert_eq!(
            l.kind,
            transpose(1, 1, [2, 2], Padding::Valid, false, Activation::Linear)
        );
        assert_eq!(
            l.weight("kernel")
                .unwrap()
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            [2.0, 3.0]
        );
        // 5x7 is what TF's forward conv also accepts, but not Keras's output size.
        let c = convert_text(&backprop(5, 7));
        assert_eq!(c.unsupported.len(), 1);
        assert!(
            c.unsupported[0].reason.contains("output_padding"),
            "{:?}",
            c.unsupported
        );
    }
}
