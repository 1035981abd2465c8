//! Fallback custom layers: a float32 TF op that no rule converts, but whose
//! semantics thaw knows, becomes one `ThawTfOp` layer ([`LayerKind::TfOp`])
//! instead of stopping the conversion. The layer carries the TF op name, what
//! feeds each argument (a layer input, a float constant stored as a weight, or
//! an integer constant such as an axis kept in the config) and the attributes
//! that change the result. `keras::pymodule` writes the Python class that runs
//! it with `tf.raw_ops.<op>`; `interp::fallback` implements it in Rust.
//!
//! Covered ([`SPECS`]):
//! - element-wise unary math: `Abs Acos Acosh Asin Asinh Atan Atanh Ceil Cos Cosh
//!   Erf Exp Expm1 Floor Log Log1p Neg Reciprocal Rint Round Rsqrt Sign Sin Sinh
//!   Sqrt Square Tan Tanh`;
//! - element-wise binary math with NumPy broadcasting, either operand a layer
//!   output or a float constant: `Add AddV2 Sub Mul RealDiv Div Maximum Minimum
//!   Pow SquaredDifference FloorDiv FloorMod Atan2`;
//! - running sums along a constant axis: `Cumsum` (`exclusive`, `reverse`);
//! - reductions over constant axes: `Sum Prod Mean Max Min` (`keep_dims`);
//! - local response normalisation across channels: `LRN` (AlexNet/CaffeNet-era
//!   and CIFAR `tf.nn.lrn`; `depth_radius`, `bias`, `alpha`, `beta`; 4-D NHWC).
//!
//! A fallback is only tried once every rule for the node has refused, so a
//! pattern that has a native Keras layer never becomes one; the report lists
//! every fallback layer (`fallback_layers[]`) so a missing rule is visible.
//!
//! Every op here also needs a tract kernel (`oracle/ops/fallback_math.rs` adds
//! the ones tract-tensorflow lacks), which is why `Cumprod` is not here yet.
//!
//! Not handled (stay unsupported): non-float32 ops (integer or boolean maths),
//! ops with more than one output, float constants of more than 4 operands per op,
//! ops whose shape-like operands (axes) are not constants.

use super::ctx::{Ctx, Emit, Match};
use crate::graph::NodeExt;
use crate::graph::TensorId;
use crate::graph::pb::NodeDef;
use crate::keras::{LayerKind, TfArg, TfArgValue, TfAttr, TfOp, Weight};

pub use crate::keras::layers::fallback::{Family, SPECS, Spec, fallback_ops, spec};

/// Most float constants one fallback layer stores as weights.
const MAX_WEIGHTS: usize = 4;

/// Emits `node` as one `ThawTfOp` layer, or says why it cannot.
pub fn fallback(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let spec = spec(&node.op).ok_or_else(|| format!("no fallback layer for op {}", node.op))?;
    match node.attr_type("T").map(|t| t.as_str_name()) {
        Ok("DT_FLOAT") => {}
        Ok(other) => return Err(format!("fallback layers compute float32 only, not {other}")),
        Err(e) => return Err(e.to_string()),
    }
    let n_inputs = node.data_inputs().len();
    if n_inputs != spec.args.len() {
        return Err(format!(
            "{} has {n_inputs} inputs, expected {}",
            node.op,
            spec.args.len()
        ));
    }
    let mut args = Vec::new();
    let mut inputs: Vec<TensorId> = Vec::new();
    let mut weights: Vec<Weight> = Vec::new();
    for (k, name) in spec.args.iter().enumerate() {
        let axis_arg = matches!(spec.family, Family::Cumulative | Family::Reduce) && k == 1;
        let value = if axis_arg {
            let values = ctx.const_ints(node, k)?;
            let t = ctx.graph.input(node, k).map_err(|e| e.to_string())?;
            // A scalar axis folds to one value; TF also accepts a vector for
            // reductions (Cumsum needs a scalar).
            let scalar = spec.family == Family::Cumulative
                || ctx
                    .graph
                    .node(&t.node)
                    .filter(|n| n.op == "Const")
                    .and_then(|n| n.attr_tensor("value").ok())
                    .is_some_and(|v| v.shape().is_empty());
            if spec.family == Family::Cumulative && values.len() != 1 {
                return Err(format!("axis must be a scalar, got {values:?}"));
            }
            let shape = if scalar { vec![] } else { vec![values.len()] };
            TfArgValue::Ints { values, shape }
        } else {
            let t = ctx.graph.input(node, k).map_err(|e| e.to_string())?;
            if ctx.is_layer_output(&t) {
                inputs.push(t);
                TfArgValue::Input(inputs.len() - 1)
            } else {
                let value = ctx.const_f32(node, k)?;
                if weights.len() == MAX_WEIGHTS {
                    return Err(format!("more than {MAX_WEIGHTS} constant operands"));
                }
                let index = weights.len();
                let shape = value.shape().to_vec();
                weights.push(super::ctx::weight(&format!("const_{index}"), value));
                TfArgValue::Weight { index, shape }
            }
        };
        args.push(TfArg {
            name: (*name).to_string(),
            value,
        });
    }
    if inputs.is_empty() {
        return Err("no input is a converted layer's output".into());
    }
    let attrs = match spec.family {
        Family::Cumulative => vec![
            (
                "exclusive".to_string(),
                TfAttr::Bool(node.attr_bool("exclusive").unwrap_or(false)),
            ),
            (
                "reverse".to_string(),
                TfAttr::Bool(node.attr_bool("reverse").unwrap_or(false)),
            ),
        ],
        Family::Reduce => vec![(
            "keep_dims".to_string(),
            TfAttr::Bool(node.attr_bool("keep_dims").unwrap_or(false)),
        )],
        // TF's defaults when the attribute is absent.
        Family::Lrn => vec![
            (
                "depth_radius".to_string(),
                TfAttr::Int(node.attr_int("depth_radius").unwrap_or(5)),
            ),
            (
                "bias".to_string(),
                TfAttr::Float(node.attr_float("bias").unwrap_or(1.0)),
            ),
            (
                "alpha".to_string(),
                TfAttr::Float(node.attr_float("alpha").unwrap_or(1.0)),
            ),
            (
                "beta".to_string(),
                TfAttr::Float(node.attr_float("beta").unwrap_or(0.5)),
            ),
        ],
        Family::Unary | Family::Binary => vec![],
    };
    // Name order: a config's `attrs` object reads back in it, so the model
    // written is the model read (fuzz_convert_lrn_attrs_round_trip_reordered).
    let mut attrs = attrs;
    attrs.sort_by(|a, b| a.0.cmp(&b.0));
    let kind = LayerKind::TfOp(TfOp {
        op: node.op.clone(),
        args,
        attrs,
    });
    let mut emit = Emit::single(ctx, node, kind, inputs);
    emit.weights = weights;
    Ok(Match::one(emit))
}

/// A fallback layer of a conversion: its name, the TF op and the TF node it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FallbackLayer {
    pub layer: String,
    pub op: String,
    pub node: String,
}

/// Every fallback layer of `conv`, in model order.
pub fn fallback_layers(conv: &super::Conversion) -> Vec<FallbackLayer> {
    conv.model
        .layers
        .iter()
        .filter_map(|l| match &l.kind {
            LayerKind::TfOp(op) => Some(FallbackLayer {
                layer: l.name.clone(),
                op: op.op.clone(),
                node: conv
                    .tensors
                    .iter()
                    .find(|t| t.layer == l.name)
                    .and_then(|t| t.nodes.first().cloned())
                    .unwrap_or_default(),
            }),
            _ => None,
        })
        .collect()
}
