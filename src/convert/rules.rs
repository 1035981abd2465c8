//! The one place conversion rules are registered: TF op of the anchor node →
//! rules to try, in order. Adding a pattern is one function in its family file
//! and one line here; `thaw inspect` lists coverage from this table.

use super::ctx::{Ctx, Match};
use super::{activation, conv, dense, merge, norm, pool, preprocess, reshape};
use super::{attention, dense_nd, layer_norm, layer_scale};
use super::{conv_transpose, upsample};
use super::{conv1d, text};
use super::{crop, recurrent, separable};
use crate::graph::pb::NodeDef;

/// A rule: match the pattern anchored at `node`, or say why not.
pub type Rule = fn(&Ctx, &NodeDef) -> Result<Match, String>;

/// (anchor op, rule name, rule) in priority order.
pub fn registry() -> Vec<(&'static str, &'static str, Rule)> {
    vec![
        // Transformer/ConvNeXt families (attention.rs, layer_norm.rs, dense_nd.rs): each anchors
        // on the first node of its chain, so it comes before the generic Mean/Transpose/Reshape
        // rules (an identity Transpose is a Tensordot, not a Permute).
        ("Einsum", "multi_head_attention", attention::mha),
        ("BatchMatMulV2", "multi_head_attention", attention::mha),
        (
            "BatchMatMulV2",
            "dense (batched MatMul, rank >= 3)",
            dense_nd::batch_matmul,
        ),
        ("Mean", "layer_normalization", layer_norm::layer_norm),
        (
            "Reshape",
            "layer_normalization (tf-keras fused form)",
            layer_norm::fused_layer_norm,
        ),
        // An LSTM (recurrent.rs) anchors on its time-major input Transpose.
        ("Transpose", "lstm", recurrent::lstm),
        ("Transpose", "dense (Tensordot form)", dense_nd::tensordot),
        (
            "Reshape",
            "dense (Tensordot form, static shape)",
            dense_nd::tensordot,
        ),
        // Text models (conv1d.rs, text.rs): each anchors on the first node of
        // its chain, so it must come before the generic ExpandDims/Reshape/Add rules.
        ("ExpandDims", "conv1d", conv1d::conv1d),
        ("Pad", "conv1d (causal)", conv1d::conv1d),
        ("SpaceToBatchND", "conv1d (dilated)", conv1d::conv1d),
        ("ExpandDims", "max/average_pooling1d", conv1d::pool1d),
        ("Mean", "global_average_pooling1d", conv1d::global1d),
        ("Max", "global_max_pooling1d", conv1d::global1d),
        ("GatherV2", "embedding", text::embedding),
        ("Gather", "embedding", text::embedding),
        ("ResourceGather", "embedding", text::embedding),
        ("Cast", "embedding (id cast)", text::embedding),
        ("Less", "embedding (Keras 3 id wrap)", text::embedding),
        ("SelectV2", "embedding (Keras 3 id wrap)", text::embedding),
        ("AddV2", "embedding (Keras 3 id wrap)", text::embedding),
        ("Transpose", "permute", text::permute),
        (
            "ExpandDims",
            "repeat_vector (tf-keras)",
            text::repeat_vector,
        ),
        ("Reshape", "repeat_vector (Keras 3)", text::repeat_vector),
        ("Conv2D", "conv2d", conv::conv2d),
        (
            "Conv2DBackpropInput",
            "conv2d_transpose",
            conv_transpose::conv2d_transpose,
        ),
        (
            "ResizeNearestNeighbor",
            "upsampling2d (nearest)",
            upsample::resize,
        ),
        (
            "ResizeBilinear",
            "upsampling2d (bilinear)",
            upsample::resize,
        ),
        // separable.rs: a depthwise conv followed by a 1x1 Conv2D in its own scope.
        (
            "DepthwiseConv2dNative",
            "separable_conv2d",
            separable::separable,
        ),
        (
            "SpaceToBatchND",
            "separable_conv2d (dilated)",
            separable::dilated,
        ),
        ("StridedSlice", "cropping2d", crop::strided_slice),
        ("Slice", "cropping2d (Slice)", crop::slice),
        ("DepthwiseConv2dNative", "depthwise_conv2d", conv::depthwise),
        (
            "SpaceToBatchND",
            "dilated_conv (SpaceToBatchND form)",
            conv::space_to_batch_conv,
        ),
        ("Pad", "zero_padding2d", conv::zero_padding),
        ("PadV2", "zero_padding2d", conv::zero_padding),
        ("MatMul", "dense", dense::dense),
        ("FusedBatchNorm", "batch_norm (fused)", norm::fused),
        ("FusedBatchNormV3", "batch_norm (fused)", norm::fused),
        (
            "Mul",
            "batch_norm (Keras 3 arithmetic form)",
            norm::arithmetic,
        ),
        ("Neg", "prelu", activation::prelu),
        ("Relu", "prelu", activation::prelu),
        ("Relu", "activation", activation::activation),
        ("Relu6", "relu6", activation::activation),
        ("Sigmoid", "activation", activation::activation),
        ("Tanh", "activation", activation::activation),
        ("Softmax", "activation", activation::activation),
        ("Elu", "activation", activation::activation),
        ("Selu", "activation", activation::activation),
        ("Softplus", "activation", activation::activation),
        ("Softsign", "activation", activation::activation),
        ("Exp", "activation", activation::activation),
        ("LeakyRelu", "leaky_relu", activation::activation),
        ("Mul", "swish (tf.nn.silu form)", activation::swish),
        ("Mul", "gelu (exact, Erfc form)", activation::gelu),
        ("Neg", "gelu (exact, Erfc form)", activation::gelu),
        ("Mul", "multiply", merge::binary),
        ("Mul", "rescaling (x * c [+ o])", preprocess::scalar),
        (
            "Mul",
            "layer_scale (x * per-channel constant)",
            layer_scale::layer_scale,
        ),
        ("Sub", "subtract", merge::binary),
        ("Sub", "normalization", preprocess::normalization),
        ("Sub", "rescaling (x - c, c - x)", preprocess::scalar),
        ("RealDiv", "rescaling (x / c)", preprocess::scalar),
        ("Pow", "multiply (x ** 2, x ** 3)", activation::pow),
        ("Maximum", "maximum", merge::binary),
        ("Minimum", "minimum", merge::binary),
        (
            "Minimum",
            "relu (clip_by_value to [0, max])",
            activation::clip,
        ),
        (
            "Maximum",
            "relu (clip_by_value to [0, max])",
            activation::clip,
        ),
        ("MaxPool", "max_pooling2d", pool::pool),
        ("AvgPool", "average_pooling2d", pool::pool),
        ("Mean", "global_average_pooling2d", pool::global),
        ("Max", "global_max_pooling2d", pool::global),
        ("Reshape", "flatten / reshape", reshape::reshape),
        ("Squeeze", "reshape (Squeeze)", reshape::squeeze),
        (
            "ExpandDims",
            "upsampling2d (Keras 3 repeat form)",
            upsample::repeat,
        ),
        ("ExpandDims", "reshape (ExpandDims)", reshape::expand_dims),
        ("Add", "add", merge::add),
        ("AddV2", "add", merge::add),
        ("AddN", "add", merge::add),
        (
            "Add",
            "hard_swish (x + 3, Relu6, / 6, * x)",
            preprocess::hard_swish,
        ),
        (
            "AddV2",
            "hard_swish (x + 3, Relu6, / 6, * x)",
            preprocess::hard_swish,
        ),
        ("Add", "rescaling (x + c)", preprocess::scalar),
        ("AddV2", "rescaling (x + c)", preprocess::scalar),
        ("ConcatV2", "concatenate", merge::concat),
    ]
}

/// TF ops some rule anchors on (sorted, deduplicated).
pub fn supported_ops() -> Vec<&'static str> {
    let mut ops: Vec<_> = registry().into_iter().map(|(op, _, _)| op).collect();
    ops.sort_unstable();
    ops.dedup();
    ops
}
