//! Text-model layers → `Embedding`, `Permute`, `RepeatVector`.
//!
//! Forms matched:
//! - Embedding: `GatherV2(table, ids, axis 0)` (also `Gather`, and
//!   `ResourceGather` whose resource froze to a constant). The ids may come
//!   through a `Cast` (a float model input, or int64 → int32), and Keras 3
//!   wraps negative ids first: `SelectV2(Less(ids, 0), AddV2(ids, n), ids)`.
//!   tf-keras freezes `embedding_lookup` as a plain `GatherV2` (+ Identity).
//!   Those index nodes come *before* the gather in topological order, so the
//!   rule is also anchored on `Cast`, `Less`, `AddV2` and `SelectV2`: from
//!   such an anchor it walks forward (at most three consumers deep) to a
//!   gather whose index chain contains the anchor.
//!   `mask_zero=True` leaves `NotEqual(ids, 0)` next to the lookup (tf-keras in
//!   the layer's scope, Keras 3 in the model's), read only by the recurrent
//!   loops the mask reaches (their `ExpandDims`/`Transpose`/`TensorList` of
//!   the mask, which the loop's rule takes first): the rule, anchored on the
//!   lookup or on that `NotEqual`, takes it and sets `mask_zero`. A `NotEqual`
//!   that anything else reads is not a Keras mask and stays unconverted.
//! - Masking(mask_value): `Any(NotEqual(x, v), -1, keep_dims)` then tf-keras's
//!   `Mul(x, Cast(any))` or Keras 3's `SelectV2(any, x, 0)`; the mask the
//!   recurrent loops read is tf-keras's `Squeeze(any)` or Keras 3's own
//!   `Any(NotEqual(x, v), -1)` beside it, taken when only loops read it. The
//!   rule is anchored on any of the `NotEqual`s.
//! - Permute: `Transpose(x, perm)` with `perm[0] == 0` → `Permute(perm[1..])`
//!   (Keras's 1-based dims are exactly TF's perm entries after the batch axis).
//! - RepeatVector: tf-keras `ExpandDims(x, 1) → Tile([1, n, 1])`; Keras 3
//!   `Reshape(x, [B, 1, d]) → ExpandDims(2) → Tile([1, 1, n, 1]) → Reshape`.
//!
//! Not handled yet: `batch_dims != 0` gathers, gathers on other axes (not an
//! Embedding), TF1 partitioned embedding tables (`DynamicStitch`).

use super::consts::{BATCH, fold_f32};
use super::ctx::{Ctx, Emit, Match, weight};
use super::rules::{CHAIN, LAYER, RuleEntry};
use crate::graph::pb::NodeDef;
use crate::graph::{NodeExt, TensorId};
use crate::keras::LayerKind;

fn out0(node: &NodeDef) -> TensorId {
    TensorId::new(node.name.clone(), 0)
}

const GATHERS: [&str; 3] = ["GatherV2", "Gather", "ResourceGather"];

/// The producer of `node`'s `k`-th input, if it has op `op`.
fn producer<'g>(ctx: &Ctx<'g>, node: &NodeDef, k: usize, op: &str) -> Option<&'g NodeDef> {
    ctx.graph.input_node(node, k).ok().filter(|n| n.op == op)
}

/// The ids feeding a gather, back to a layer output: (that output, the index
/// nodes in between).
fn index_chain(ctx: &Ctx, gather: &NodeDef) -> Result<(TensorId, Vec<String>), String> {
    let mut nodes = Vec::new();
    let mut ids = ctx.graph.input(gather, 1).map_err(|e| e.to_string())?;
    // Keras 3: SelectV2(Less(ids, 0), AddV2(ids, n), ids).
    if let Some(select) = producer(ctx, gather, 1, "SelectV2") {
        let raw = ctx.graph.input(select, 2).map_err(|e| e.to_string())?;
        let less = producer(ctx, select, 0, "Less").ok_or("SelectV2 condition is not Less")?;
        let add = producer(ctx, select, 1, "AddV2").ok_or("SelectV2 branch is not AddV2")?;
        let zero = ctx.const_ints(less, 1)?;
        if ctx.graph.input(less, 0).ok().as_ref() != Some(&raw)
            || ctx.graph.input(add, 0).ok().as_ref() != Some(&raw)
            || zero != [0]
        {
            return Err("SelectV2 is not Keras 3's negative-id wrap".into());
        }
        ctx.const_ints(add, 1)?;
        nodes.extend([select.name.clone(), less.name.clone(), add.name.clone()]);
        ids = raw;
    }
    if let Some(cast) = ctx.graph.node(&ids.node).filter(|n| n.op == "Cast") {
        nodes.push(cast.name.clone());
        ids = ctx.graph.input(cast, 0).map_err(|e| e.to_string())?;
    }
    if !ctx.is_layer_output(&ids) {
        return Err(format!(
            "ids '{ids}' are not the output of a converted layer"
        ));
    }
    Ok((ids, nodes))
}

fn embedding_at(ctx: &Ctx, gather: &NodeDef) -> Result<Match, String> {
    if gather.attr_int("batch_dims").unwrap_or(0) != 0 {
        return Err("batch_dims != 0 is not an embedding lookup".into());
    }
    if gather.op == "GatherV2" && ctx.const_ints(gather, 2)? != [0] {
        return Err("gathers on an axis other than 0".into());
    }
    let table = ctx.const_f32(gather, 0)?;
    let &[input_dim, output_dim] = table.shape() else {
        return Err(format!(
            "table shape {:?} is not (input_dim, output_dim)",
            table.shape()
        ));
    };
    let (ids, mut nodes) = index_chain(ctx, gather)?;
    let masks = zero_masks(ctx, &ids, &nodes);
    let mask_zero = !masks.is_empty();
    nodes.insert(0, gather.name.clone());
    nodes.extend(masks);
    Ok(Match::one(Emit {
        name: ctx.layer_name(gather),
        kind: LayerKind::Embedding {
            input_dim,
            output_dim,
            mask_zero,
        },
        weights: vec![weight("embeddings", table)],
        inputs: vec![ids],
        output: out0(gather),
        more_outputs: Vec::new(),
        nodes,
    }))
}

/// The `mask_zero` masks of a lookup: `NotEqual(t, 0)` of its ids or of a
/// tensor of its index chain, every reader of which a recognised loop has
/// already taken (the mask's way into the loop).
fn zero_masks(ctx: &Ctx, ids: &TensorId, chain: &[String]) -> Vec<String> {
    let graph = ctx.graph;
    let mut tensors = vec![ids.clone()];
    tensors.extend(chain.iter().map(|n| TensorId::new(n.clone(), 0)));
    let mut out = Vec::new();
    for t in &tensors {
        for (c, _) in graph.consumers(t) {
            let ne = &graph.nodes()[c];
            let zero = ctx
                .const_f32(ne, 1)
                .is_ok_and(|z| z.len() == 1 && z.iter().all(|&v| v == 0.0));
            let only_loops = graph
                .consumers(&out0(ne))
                .iter()
                .all(|&(r, _)| ctx.is_consumed(&graph.nodes()[r].name));
            if ne.op == "NotEqual" && zero && only_loops && !out.contains(&ne.name) {
                out.push(ne.name.clone());
            }
        }
    }
    out
}

/// Embedding anchored at the `NotEqual(ids, 0)` of its `mask_zero`: the
/// lookup whose ids (or index chain) the mask compares.
pub fn embedding_mask(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let t = ctx.graph.input(node, 0).map_err(|e| e.to_string())?;
    let mut frontier = vec![t.clone()];
    // The ids themselves, or a node of the chain from them (Cast, Keras 3's wrap).
    for _ in 0..3 {
        let mut next = Vec::new();
        for t in &frontier {
            for (c, _) in ctx.graph.consumers(t) {
                let c = &ctx.graph.nodes()[c];
                if GATHERS.contains(&c.op.as_str()) {
                    if let Ok(m) = embedding_at(ctx, c)
                        && m.layers.iter().any(|l| l.nodes.contains(&node.name))
                    {
                        return Ok(m);
                    }
                } else if c.name != node.name {
                    next.push(out0(c));
                }
            }
        }
        frontier = next;
    }
    Err(format!(
        "{} is not the mask_zero mask of an embedding lookup",
        node.name
    ))
}

/// The scalar a `NotEqual` compares its first input with, if a constant.
fn compared_with(ctx: &Ctx, ne: &NodeDef) -> Option<f32> {
    let c = ctx.const_f32(ne, 1).ok()?;
    (ne.op == "NotEqual" && c.len() == 1).then(|| c.iter().copied().next())?
}

/// Whether every reader of `node`'s output is taken already (a recognised
/// loop) or in `claimed`.
fn read_only_by(ctx: &Ctx, node: &NodeDef, claimed: &[String]) -> bool {
    ctx.graph
        .consumers(&out0(node))
        .iter()
        .map(|&(r, _)| &ctx.graph.nodes()[r].name)
        .all(|r| ctx.is_consumed(r) || claimed.contains(r))
}

/// `Any(t, last axis)` readers of `t`.
fn any_readers<'g>(ctx: &Ctx<'g>, t: &TensorId) -> Vec<&'g NodeDef> {
    ctx.graph
        .consumers(t)
        .into_iter()
        .map(|(c, _)| &ctx.graph.nodes()[c])
        .filter(|a| a.op == "Any" && ctx.const_ints(a, 1).is_ok_and(|ax| ax == [-1] || ax == [2]))
        .collect()
}

/// `Masking(mask_value)`, anchored on any `NotEqual(x, mask_value)` of it (see
/// the module header).
pub fn masking(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let graph = ctx.graph;
    let x = ctx.layer_input(node, 0)?;
    let v = compared_with(ctx, node).ok_or("not a comparison with a scalar constant")?;
    let nes: Vec<&NodeDef> = graph
        .consumers(&x)
        .into_iter()
        .map(|(c, _)| &graph.nodes()[c])
        .filter(|n| compared_with(ctx, n).is_some_and(|c| c == v || (c.is_nan() && v.is_nan())))
        .collect();
    // The masked output: Mul(x, Cast(Any(keep_dims))) or SelectV2(Any(keep_dims), x, 0).
    let mut output = None;
    let mut claimed: Vec<String> = Vec::new();
    for ne in &nes {
        claimed.push(ne.name.clone());
        for any in any_readers(ctx, &out0(ne)) {
            claimed.push(any.name.clone());
            for (c, _) in graph.consumers(&out0(any)) {
                let c = &graph.nodes()[c];
                let other = |n: &NodeDef, k: usize| ctx.graph.input(n, k).ok();
                match c.op.as_str() {
                    "Cast" => {
                        let mul = graph
                            .consumers(&out0(c))
                            .into_iter()
                            .map(|(m, _)| &graph.nodes()[m])
                            .find(|m| {
                                m.op == "Mul"
                                    && (other(m, 0).as_ref() == Some(&x)
                                        || other(m, 1).as_ref() == Some(&x))
                            });
                        if let Some(mul) = mul {
                            claimed.extend([c.name.clone(), mul.name.clone()]);
                            output = Some(mul);
                        }
                    }
                    "SelectV2"
                        if other(c, 1).as_ref() == Some(&x)
                            && ctx
                                .const_f32(c, 2)
                                .is_ok_and(|z| z.iter().all(|&z| z == 0.0)) =>
                    {
                        claimed.push(c.name.clone());
                        output = Some(c);
                    }
                    "Squeeze" => claimed.push(c.name.clone()),
                    _ => {}
                }
            }
        }
    }
    let output = output.ok_or("no Mul(x, Cast(Any(NotEqual(x, v)))) or SelectV2 of it")?;
    // Every mask node is read only by the layer itself or by recognised loops.
    for name in &claimed {
        let n = graph.node(name).ok_or("mask node missing")?;
        if n.name != output.name && !read_only_by(ctx, n, &claimed) {
            return Err(format!(
                "the mask '{name}' is read by something other than a recurrent loop"
            ));
        }
    }
    Ok(Match::one(Emit {
        name: ctx.layer_name(output),
        kind: LayerKind::Masking { mask_value: v },
        weights: vec![],
        inputs: vec![x],
        output: out0(output),
        more_outputs: Vec::new(),
        nodes: claimed,
    }))
}

/// Embedding anchored at the gather or at any node of its index chain.
pub fn embedding(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    if GATHERS.contains(&node.op.as_str()) {
        return embedding_at(ctx, node);
    }
    let mut frontier = vec![node];
    for _ in 0..3 {
        let mut next = Vec::new();
        for n in frontier {
            for (c, _) in ctx.graph.consumers(&out0(n)) {
                let c = &ctx.graph.nodes()[c];
                if GATHERS.contains(&c.op.as_str()) {
                    if let Ok((_, chain)) = index_chain(ctx, c)
                        && chain.contains(&node.name)
                    {
                        return embedding_at(ctx, c);
                    }
                } else {
                    next.push(c);
                }
            }
        }
        frontier = next;
    }
    Err(format!(
        "{} does not feed the ids of an embedding lookup",
        node.name
    ))
}

/// `Transpose` that keeps the batch axis first → `Permute`.
pub fn permute(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    let perm = ctx.const_ints(node, 1)?;
    let rank = ctx.shape(&x).map_or(0, Vec::len);
    let Some((&0, rest)) = perm.split_first() else {
        return Err(format!("perm {perm:?} moves the batch axis"));
    };
    if perm.len() != rank {
        return Err(format!("perm {perm:?} does not fit a rank-{rank} input"));
    }
    let dims = rest
        .iter()
        .map(|&d| usize::try_from(d).ok().filter(|&d| d >= 1 && d < rank))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| format!("perm {perm:?} is not a permutation"))?;
    Ok(Match::one(Emit::single(
        ctx,
        node,
        LayerKind::Permute { dims },
        vec![x],
    )))
}

/// The one consumer of `t` with op `op`, when every other consumer is a `Shape`
/// (which only reads the static shape).
fn data_consumer<'g>(ctx: &Ctx<'g>, t: &TensorId, op: &str) -> Option<&'g NodeDef> {
    let mut data = ctx
        .graph
        .consumers(t)
        .into_iter()
        .map(|(c, _)| &ctx.graph.nodes()[c])
        .filter(|c| c.op != "Shape");
    match (data.next(), data.next()) {
        (Some(c), None) if c.op == op => Some(c),
        _ => None,
    }
}

/// A Tile's multiples; Keras 3 builds them as `Pack(1, 1, Reshape(Cast(n)), 1)`,
/// which the integer folder does not see through, so fall back to folding each
/// packed scalar as a float (small integers are exact).
fn multiples(ctx: &Ctx, tile: &NodeDef) -> Result<Vec<i64>, String> {
    if let Ok(m) = ctx.const_ints(tile, 1) {
        return Ok(m);
    }
    let pack = producer(ctx, tile, 1, "Pack").ok_or("Tile multiples are not a constant")?;
    (0..pack.data_inputs().len())
        .map(|k| {
            let t = ctx.graph.input(pack, k).map_err(|e| e.to_string())?;
            match fold_f32(ctx.graph, &t) {
                Some(v) if v.len() == 1 => Ok(v.iter().next().map_or(0, |&f| f as i64)),
                _ => Err("Tile multiples are not a constant".to_string()),
            }
        })
        .collect()
}

/// RepeatVector, anchored at `ExpandDims` (tf-keras) or `Reshape` (Keras 3).
pub fn repeat_vector(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    let shape = ctx.shape(&x).cloned().unwrap_or_default();
    let [_, Some(d)] = shape[..] else {
        return Err(format!("input shape {shape:?} is not (batch, features)"));
    };
    let mut nodes = vec![node.name.clone()];
    let (expand, lifted_axis) = if node.op == "Reshape" {
        let target = ctx.const_shape(node, 1)?;
        if target != [BATCH, 1, d as i64] && target != [-1, 1, d as i64] {
            return Err(format!("Reshape target {target:?} is not (batch, 1, {d})"));
        }
        // Keras 3 also reads this Reshape's Shape for the final Reshape's target.
        let e = data_consumer(ctx, &out0(node), "ExpandDims")
            .ok_or("Reshape is not followed by ExpandDims")?;
        nodes.push(e.name.clone());
        (e, 2)
    } else {
        (node, 1)
    };
    let axis = *ctx.const_ints(expand, 1)?.first().ok_or("no axis")?;
    let rank_after = if node.op == "Reshape" { 4 } else { 3 };
    if (if axis < 0 { axis + rank_after } else { axis }) != lifted_axis {
        return Err(format!("ExpandDims axis {axis} is not RepeatVector's"));
    }
    let tile = ctx
        .sole_consumer(&out0(expand))
        .filter(|c| c.op == "Tile")
        .ok_or("ExpandDims is not followed by Tile")?;
    nodes.push(tile.name.clone());
    let m = multiples(ctx, tile)?;
    let n = match (node.op.as_str(), m.as_slice()) {
        ("Reshape", [1, 1, n, 1]) | (_, [1, n, 1]) if *n >= 1 => *n as usize,
        _ => {
            return Err(format!(
                "Tile multiples {m:?} do not repeat along the new axis"
            ));
        }
    };
    let mut output = out0(tile);
    if node.op == "Reshape" {
        let last = ctx
            .sole_consumer(&output)
            .filter(|c| c.op == "Reshape")
            .ok_or("Keras 3 RepeatVector's final Reshape is missing")?;
        nodes.push(last.name.clone());
        output = out0(last);
    }
    Ok(Match::one(Emit {
        name: ctx.layer_name(tile),
        kind: LayerKind::RepeatVector { n },
        weights: vec![],
        inputs: vec![x],
        output,
        more_outputs: Vec::new(),
        nodes,
    }))
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[
    RuleEntry::new("GatherV2", "embedding", CHAIN + 30, embedding),
    RuleEntry::new("Gather", "embedding", CHAIN + 30, embedding),
    RuleEntry::new("ResourceGather", "embedding", CHAIN + 30, embedding),
    RuleEntry::new("Cast", "embedding (id cast)", CHAIN + 30, embedding),
    RuleEntry::new("Less", "embedding (Keras 3 id wrap)", CHAIN + 30, embedding),
    RuleEntry::new(
        "SelectV2",
        "embedding (Keras 3 id wrap)",
        CHAIN + 30,
        embedding,
    ),
    RuleEntry::new(
        "AddV2",
        "embedding (Keras 3 id wrap)",
        CHAIN + 30,
        embedding,
    ),
    RuleEntry::new(
        "NotEqual",
        "embedding (mask_zero)",
        CHAIN + 30,
        embedding_mask,
    ),
    RuleEntry::new("NotEqual", "masking", CHAIN + 31, masking),
    RuleEntry::new("Transpose", "permute", LAYER, permute),
    RuleEntry::new(
        "ExpandDims",
        "repeat_vector (tf-keras)",
        CHAIN + 31,
        repeat_vector,
    ),
    RuleEntry::new(
        "Reshape",
        "repeat_vector (Keras 3)",
        CHAIN + 31,
        repeat_vector,
    ),
];

#[cfg(test)]
mod tests {
    use crate::convert::conv1d::tests::{assert_same_classes, fixture};
    use crate::convert::{ConvertOptions, convert};
    use crate::graph::{Graph, parse_graph_def};
    use crate::keras::{DType, LayerKind};

    #[test]
    fn embedding_permute_repeat_vector_are_recovered() {
        for case in ["k3_text_cnn", "tk_text_cnn"] {
            let (m, _) = fixture(case);
            assert_eq!(m.inputs[0].dtype, DType::I32, "{case}");
            let embed = m.layer("embed").expect("embed");
            assert_eq!(
                embed.kind,
                LayerKind::Embedding {
                    mask_zero: false,
                    input_dim: 50,
                    output_dim: 8
                },
                "{case}"
            );
            // Keras 3's SelectV2/Less/AddV2 id wrap belongs to the Embedding: it reads the input.
            assert_eq!(embed.inbound, ["tokens"], "{case}");
        }
        for case in ["k3_seq_shapes", "tk_seq_shapes"] {
            let (m, meta) = fixture(case);
            assert_same_classes(case, &m, &meta);
            let kind = |n: &str| m.layer(n).map(|l| l.kind.clone());
            assert_eq!(
                kind("permute"),
                Some(LayerKind::Permute { dims: vec![2, 1] }),
                "{case}"
            );
            assert_eq!(
                kind("repeat"),
                Some(LayerKind::RepeatVector { n: 3 }),
                "{case}"
            );
        }
    }

    fn unsupported(pbtxt: &str) -> Vec<(String, String)> {
        let graph =
            Graph::new(parse_graph_def(pbtxt.as_bytes(), true, "t.pbtxt").unwrap()).expect("graph");
        let c = convert(&graph, &ConvertOptions::default()).expect("converts");
        c.unsupported
            .into_iter()
            .map(|u| (u.node, u.reason))
            .collect()
    }

    const INPUT: &str = r#"
node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } }
  attr { key: "shape" value { shape { dim { size: -1 } dim { size: 4 } dim { size: 3 } } } } }
"#;

    #[test]
    fn transpose_of_the_batch_axis_is_not_a_permute() {
        let g = format!(
            r#"{INPUT}
node {{ name: "perm" op: "Const" attr {{ key: "value" value {{ tensor {{ dtype: DT_INT32 tensor_shape {{ dim {{ size: 3 }} }} int_val: 1 int_val: 0 int_val: 2 }} }} }} }}
node {{ name: "t" op: "Transpose" input: "x" input: "perm" }}
"#
        );
        let u = unsupported(&g);
        assert_eq!(u.len(), 1, "{u:?}");
        assert_eq!(u[0].0, "t");
        assert!(u[0].1.contains("moves the batch axis"), "{}", u[0].1);
    }

    #[test]
    fn keras3_float_input_embedding_takes_the_cast_and_id_wrap() {
        // Keras 3 Embedding on a float input: Cast, then SelectV2(Less, AddV2) wraps
        // negative ids, then GatherV2. Every index node belongs to the one layer,
        // whichever of them the converter meets first.
        let g = r#"
node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } }
  attr { key: "shape" value { shape { dim { size: -1 } dim { size: 3 } } } } }
node { name: "e/table" op: "Const" attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 4 } dim { size: 2 } } float_val: 0 float_val: 1 float_val: 2 float_val: 3 float_val: 4 float_val: 5 float_val: 6 float_val: 7 } } } }
node { name: "e/zero" op: "Const" attr { key: "value" value { tensor { dtype: DT_INT32 int_val: 0 } } } }
node { name: "e/n" op: "Const" attr { key: "value" value { tensor { dtype: DT_INT32 int_val: 4 } } } }
node { name: "e/Cast" op: "Cast" input: "x" attr { key: "DstT" value { type: DT_INT32 } } attr { key: "SrcT" value { type: DT_FLOAT } } }
node { name: "e/Less" op: "Less" input: "e/Cast" input: "e/zero" }
node { name: "e/add" op: "AddV2" input: "e/Cast" input: "e/n" }
node { name: "e/SelectV2" op: "SelectV2" input: "e/Less" input: "e/add" input: "e/Cast" }
node { name: "e/GatherV2" op: "GatherV2" input: "e/table" input: "e/SelectV2" input: "e/zero" }
"#;
        assert_eq!(unsupported(g), vec![]);
        let graph = Graph::new(parse_graph_def(g.as_bytes(), true, "t.pbtxt").unwrap()).unwrap();
        let m = convert(&graph, &ConvertOptions::default()).unwrap().model;
        assert_eq!(m.layers.len(), 1, "{:?}", m.layers);
        assert_eq!(
            m.layers[0].kind,
            LayerKind::Embedding {
                mask_zero: false,
                input_dim: 4,
                output_dim: 2
            }
        );
        assert_eq!(m.layers[0].inbound, ["x"]);
    }

    #[test]
    fn gather_on_a_layer_output_table_is_not_an_embedding() {
        // The table is the input itself, not a constant: no Embedding.
        let g = format!(
            r#"{INPUT}
node {{ name: "ids" op: "Const" attr {{ key: "value" value {{ tensor {{ dtype: DT_INT32 tensor_shape {{ dim {{ size: 2 }} }} int_val: 0 int_val: 1 }} }} }} }}
node {{ name: "axis" op: "Const" attr {{ key: "value" value {{ tensor {{ dtype: DT_INT32 int_val: 0 }} }} }} }}
node {{ name: "g" op: "GatherV2" input: "x" input: "ids" input: "axis" }}
"#
        );
        let u = unsupported(&g);
        assert_eq!(u.len(), 1, "{u:?}");
        assert!(u[0].1.contains("embedding"), "{}", u[0].1);
    }
}
