#!/usr/bin/env python3
"""Generate thaw's committed test fixtures: small frozen TensorFlow graphs with reference values.

How to run (from the repository root):

    PY=$(harness/setup_venv.sh | tail -n1)      # pinned TF 2.21 / Keras 3.15.1 / tf-keras 2.21
    $PY harness/gen_fixtures.py --out fixtures                      # every case
    $PY harness/gen_fixtures.py --out fixtures --only k3_pool_flatten_dense,tf1_mobilenet_v1_tail
    $PY harness/gen_fixtures.py --list                              # names + descriptions
    $PY harness/gen_fixtures.py --out fixtures --check              # regenerate in a temp dir, compare bytes

For every case it writes
    fixtures/<case>/model.pb   binary GraphDef, frozen with TensorFlow's own tools
    fixtures/<case>/io.npz     input:<placeholder>, output:<tensor>, tensor:<tensor> (see tfcommon.py)
    fixtures/<case>/meta.json  case, source, description, inputs, outputs, op_histogram, keras_layers,
                               generator versions, seed
and prints the op histogram on stderr.

Sources:
  keras3   -- built with Keras 3 (`import keras`, TensorFlow backend), frozen through
              tf.function(lambda x: model(x, training=False)) + convert_variables_to_constants_v2.
  tf_keras -- the same way with tf-keras (`import tf_keras`, the Keras 2 line).
  tf1      -- written with tf.compat.v1 graph-mode ops (placeholders, VariableV2 variables) and frozen
              with tf.compat.v1.graph_util.convert_variables_to_constants.

Determinism: nodes are written in a canonical topological order (ties by name), because TF's own
node order varies between runs for models with parallel branches; each case has its own fixed seed (so --only does not change anything), Keras sessions
are cleared between cases so auto-generated names do not depend on what ran before, oneDNN is off,
protobufs are serialised deterministically and io.npz has fixed timestamps. Running twice gives the
same bytes (checked when the fixtures were committed).

Every weight is random (He-normal kernels, normal*0.3 biases, BatchNormalization gamma in
[0.5, 1.5], beta/mean normal*0.3, variance in [0.5, 2]), so no layer is close to identity.
Inputs: batch of 2, float32 uniform in [-1, 1].
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfcommon  # noqa: E402  (sets TF environment before tensorflow is imported)
from tfcommon import log  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

BATCH = 2
# Frozen graph vs the Keras model it came from, same process, same kernels: only float
# re-association (e.g. BatchNormalization folded into Mul/Add by Keras 3) can differ.
SELF_CHECK_ATOL = 1e-5
SELF_CHECK_RTOL = 1e-5


def _keras(source: str):
    if source == "keras3":
        import keras

        return keras
    import tf_keras

    return tf_keras


# --------------------------------------------------------------------------- Keras builders
# Each builder takes the Keras module (keras or tf_keras) and returns (model, input_specs), with
# input_specs = [(placeholder name, shape without batch)] in model input order.


def build_conv_strides_dilation(K):
    """Conv2D: stride 2 SAME with fused relu, dilation 2 VALID without bias + standalone ReLU
    activation, asymmetric kernel/strides SAME + sigmoid, dilated SAME + tanh."""
    L = K.layers
    x_in = K.Input((16, 16, 3), name="input")
    x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="conv_s2_same_relu")(x_in)
    x = L.Conv2D(5, 3, dilation_rate=2, padding="valid", use_bias=False, name="conv_d2_valid_nobias")(x)
    x = L.Activation("relu", name="relu_standalone")(x)
    x = L.Conv2D(4, (2, 3), strides=(1, 2), padding="same", name="conv_k23_s12_same")(x)
    x = L.Activation("sigmoid", name="sigmoid")(x)
    x = L.Conv2D(3, 3, dilation_rate=2, padding="same", activation="tanh", name="conv_d2_same_tanh")(x)
    return K.Model(x_in, x, name="model"), [("input", [16, 16, 3])]


def build_bn_depthwise_relu6(K):
    """Asymmetric ZeroPadding2D then VALID strided conv (no bias), BatchNormalization with
    epsilon 1.001e-5, ReLU(max_value=6), DepthwiseConv2D multiplier 1 (SAME) and 2 (VALID, stride 2),
    Activation('relu6'), 1x1 conv with activation='relu6', GlobalAveragePooling2D, Dense softmax."""
    L = K.layers
    x_in = K.Input((10, 10, 4), name="input")
    x = L.ZeroPadding2D(((1, 2), (0, 1)), name="pad")(x_in)
    x = L.Conv2D(8, 3, strides=2, padding="valid", use_bias=False, name="stem_conv")(x)
    x = L.BatchNormalization(epsilon=1.001e-5, name="stem_bn")(x)
    x = L.ReLU(max_value=6.0, name="stem_relu6")(x)
    x = L.DepthwiseConv2D(3, padding="same", depth_multiplier=1, use_bias=False, name="dw1")(x)
    x = L.BatchNormalization(name="dw1_bn")(x)
    x = L.Activation("relu6", name="dw1_relu6")(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="valid", depth_multiplier=2, name="dw2_m2")(x)
    x = L.Conv2D(6, 1, activation="relu6", name="pw_relu6")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dense(5, activation="softmax", name="dense_softmax")(x)
    return K.Model(x_in, x, name="model"), [("input", [10, 10, 4])]


def build_pool_flatten_dense(K):
    """MaxPooling2D VALID, AveragePooling2D SAME on odd sizes (3x3 stride 2 on 5x5; 3x3 stride 1 on
    11x11), Flatten in front of Dense (NHWC order matters), Dense relu, Softmax layer,
    GlobalAveragePooling2D + Dense sigmoid, MaxPooling2D SAME. Two outputs."""
    L = K.layers
    x_in = K.Input((11, 11, 3), name="input")
    c = L.Conv2D(4, 3, padding="same", activation="tanh", name="conv_tanh")(x_in)
    a = L.MaxPooling2D(2, name="maxpool_valid")(c)  # 11 -> 5
    a = L.AveragePooling2D(3, strides=2, padding="same", name="avgpool_same_s2")(a)  # 5 -> 3
    a = L.Flatten(name="flatten")(a)
    a = L.Dense(8, activation="relu", name="dense_relu")(a)
    a = L.Dense(6, name="dense_logits")(a)
    a = L.Softmax(name="softmax")(a)
    b = L.AveragePooling2D(3, strides=1, padding="same", name="avgpool_same_s1")(c)  # 11 -> 11
    b = L.MaxPooling2D(3, strides=2, padding="same", name="maxpool_same")(b)  # 11 -> 6
    b = L.GlobalAveragePooling2D(name="gap")(b)
    b = L.Dense(3, activation="sigmoid", name="dense_sigmoid")(b)
    return K.Model(x_in, [a, b], name="model"), [("input", [11, 11, 3])]


def build_add_concat_two_inputs(K):
    """Two inputs; Add, Concatenate on the channel axis, BatchNormalization after the concat,
    Reshape to a vector, Dense + Activation('softmax'); second output: strided SAME conv + tanh."""
    L = K.layers
    a_in = K.Input((8, 8, 3), name="input_a")
    b_in = K.Input((8, 8, 2), name="input_b")
    ca = L.Conv2D(4, 3, padding="same", name="conv_a")(a_in)
    cb = L.Conv2D(4, 1, name="conv_b")(b_in)
    s = L.Add(name="add")([ca, cb])
    s = L.Activation("relu", name="relu")(s)
    c = L.Concatenate(axis=-1, name="concat")([s, ca])
    c = L.BatchNormalization(name="bn")(c)
    v = L.Reshape((8 * 8 * 8,), name="reshape")(c)
    v = L.Dense(5, name="dense")(v)
    v = L.Activation("softmax", name="softmax")(v)
    t = L.Conv2D(2, 3, strides=2, padding="same", name="conv_s2")(c)
    t = L.Activation("tanh", name="tanh")(t)
    model = K.Model([a_in, b_in], [v, t], name="model")
    return model, [("input_a", [8, 8, 3]), ("input_b", [8, 8, 2])]


def build_inverted_residual(K):
    """A MobileNetV2 inverted-residual block: 1x1 expand + BN + ReLU6, depthwise + BN + ReLU6,
    1x1 project + BN, residual Add; then a second strided block without residual."""
    L = K.layers
    x_in = K.Input((12, 12, 4), name="input")
    x = L.Conv2D(12, 1, use_bias=False, name="b1_expand")(x_in)
    x = L.BatchNormalization(epsilon=1e-3, momentum=0.999, name="b1_expand_bn")(x)
    x = L.ReLU(6.0, name="b1_expand_relu")(x)
    x = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="b1_dw")(x)
    x = L.BatchNormalization(epsilon=1e-3, name="b1_dw_bn")(x)
    x = L.ReLU(6.0, name="b1_dw_relu")(x)
    x = L.Conv2D(4, 1, use_bias=False, name="b1_project")(x)
    x = L.BatchNormalization(epsilon=1e-3, name="b1_project_bn")(x)
    x = L.Add(name="b1_add")([x_in, x])
    x = L.ZeroPadding2D(((0, 1), (0, 1)), name="b2_pad")(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="valid", use_bias=False, name="b2_dw")(x)
    x = L.BatchNormalization(epsilon=1.001e-5, name="b2_dw_bn")(x)
    x = L.ReLU(6.0, name="b2_dw_relu")(x)
    x = L.Conv2D(8, 1, name="b2_project")(x)
    return K.Model(x_in, x, name="model"), [("input", [12, 12, 4])]


def build_default_names(K):
    """Functional model with Keras' default layer names (conv2d, batch_normalization, ...):
    Conv2D VALID, BatchNormalization, ReLU, MaxPooling2D, Conv2D SAME relu6, Flatten,
    Dense relu6, Dense softmax."""
    L = K.layers
    x_in = K.Input((9, 9, 2), name="input")
    x = L.Conv2D(4, 3)(x_in)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    x = L.MaxPooling2D()(x)
    x = L.Conv2D(4, 3, padding="same", activation="relu6")(x)
    x = L.Flatten()(x)
    x = L.Dense(6, activation="relu6")(x)
    x = L.Dense(3, activation="softmax")(x)
    return K.Model(x_in, x), [("input", [9, 9, 2])]


def build_activations(K):
    """Activations both Kerases load as strings: Conv2D with fused elu, standalone selu, softplus,
    softsign, exponential, swish (tf.nn.silu's IdentityN custom-gradient form), LeakyReLU(0.1), a
    Dense with fused selu; outputs a concatenation and the dense head. (hard_sigmoid is left out:
    tf-keras's is clip(0.2x + 0.5), Keras 3's relu6(x + 3) / 6.)"""
    L = K.layers
    x_in = K.Input((6, 6, 3), name="input")
    x = L.Conv2D(4, 3, padding="same", activation="elu", name="conv_elu")(x_in)
    a = L.Activation("selu", name="selu")(x)
    b = L.Activation("softplus", name="softplus")(x)
    c = L.Activation("softsign", name="softsign")(x)
    d = L.Activation("exponential", name="exponential")(c)
    e = L.Activation("swish", name="swish")(x)
    f = L.LeakyReLU(0.1, name="leaky")(x)
    y = L.Concatenate(name="concat")([a, b, d, e, f])
    h = L.Conv2D(3, 1, activation="softsign", name="conv_softsign")(y)
    h = L.Flatten(name="flatten")(h)
    h = L.Dense(4, activation="selu", name="dense_selu")(h)
    return K.Model(x_in, [y, h], name="model"), [("input", [6, 6, 3])]


def build_gelu(K):
    """Exact gelu (tf.nn.gelu's Erfc form) fused into a Conv2D (activation="gelu"), as a
    standalone Activation("gelu"), and fused into a Dense."""
    L = K.layers
    x_in = K.Input((5, 5, 3), name="input")
    x = L.Conv2D(4, 3, padding="same", activation="gelu", name="conv_gelu")(x_in)
    x = L.Activation("gelu", name="gelu")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(3, activation="gelu", name="dense_gelu")(x)
    return K.Model(x_in, x, name="model"), [("input", [5, 5, 3])]


def build_average(K):
    """Average of two conv branches (frozen as AddV2 then RealDiv by 2), then Add of the
    average and one branch (a plain Add must stay an Add)."""
    L = K.layers
    x_in = K.Input((5, 5, 3), name="input")
    a = L.Conv2D(4, 3, padding="same", name="conv_a")(x_in)
    b = L.Conv2D(4, 1, name="conv_b")(x_in)
    m = L.Average(name="average")([a, b])
    y = L.Add(name="add")([m, b])
    return K.Model(x_in, y, name="model"), [("input", [5, 5, 3])]


def build_merges_global_pool(K):
    """Multiply, Subtract (order matters), Maximum, Minimum of two conv branches; a
    squeeze-and-excitation block (GlobalAveragePooling2D keepdims=True, 1x1 convs, broadcast
    Multiply); GlobalMaxPooling2D with and without keepdims."""
    L = K.layers
    x_in = K.Input((6, 6, 3), name="input")
    a = L.Conv2D(4, 3, padding="same", name="conv_a")(x_in)
    b = L.Conv2D(4, 1, name="conv_b")(x_in)
    m = L.Multiply(name="multiply")([a, b])
    s = L.Subtract(name="subtract")([m, a])
    hi = L.Maximum(name="maximum")([s, b])
    lo = L.Minimum(name="minimum")([hi, a])
    se = L.GlobalAveragePooling2D(keepdims=True, name="se_squeeze")(lo)
    se = L.Conv2D(2, 1, activation="relu", name="se_reduce")(se)
    se = L.Conv2D(4, 1, activation="sigmoid", name="se_expand")(se)
    x = L.Multiply(name="se_excite")([lo, se])
    g = L.GlobalMaxPooling2D(name="gmp")(x)
    gk = L.GlobalMaxPooling2D(keepdims=True, name="gmp_keep")(x)
    gk = L.Conv2D(3, 1, name="head")(gk)
    return K.Model(x_in, [g, gk], name="model"), [("input", [6, 6, 3])]


def build_preprocess(K):
    """Rescaling(2, -0.5); Normalization with adapted statistics (weights) and with
    mean/variance in its config; BatchNormalization without scale and without center; PReLU
    shared over H, W and unshared; hard_swish (Keras 3: Activation("hard_swish"); tf-keras: the
    application's Multiply([x, ReLU(6)(x + 3) * (1/6)])) and a squeeze-and-excitation block with
    MobileNetV3's hard_sigmoid (ReLU(6)(x + 3) * (1/6)); gelu approximate=True;
    Activation("hard_sigmoid") (Keras 3: relu6(x + 3) / 6; tf-keras: clip(0.2x + 0.5, 0, 1));
    scalar arithmetic (x - 0.25) / 4."""
    L = K.layers
    keras3 = K.__name__ == "keras"
    x_in = K.Input((6, 6, 3), name="input")
    x = L.Rescaling(2.0, -0.5, name="rescaling")(x_in)
    x = L.Normalization(name="norm_adapted")(x)
    x = L.Normalization(mean=[0.1, -0.2, 0.3], variance=[0.5, 2.0, 1.5], name="norm_config")(x)
    x = L.Conv2D(8, 3, padding="same", name="conv")(x)
    x = L.BatchNormalization(scale=False, name="bn_no_scale")(x)
    x = L.PReLU(shared_axes=[1, 2], name="prelu_shared")(x)
    if keras3:
        h = L.Activation("hard_swish", name="hard_swish")(x)
    else:
        h = L.Multiply(name="hard_swish")([x, L.ReLU(6.0, name="hs_relu6")(x + 3.0) * (1.0 / 6.0)])
    se = L.GlobalAveragePooling2D(keepdims=True, name="se_squeeze")(h)
    se = L.Conv2D(4, 1, activation="relu", name="se_reduce")(se)
    se = L.Conv2D(8, 1, name="se_expand")(se)
    se = L.ReLU(6.0, name="se_relu6")(se + 3.0) * (1.0 / 6.0)
    x = L.Multiply(name="se_excite")([h, se])
    x = L.Conv2D(6, 1, name="project")(x)
    x = L.BatchNormalization(center=False, name="bn_no_center")(x)
    x = L.PReLU(name="prelu_full")(x)
    x = L.Activation(lambda t: K.activations.gelu(t, approximate=True), name="gelu_tanh")(x)
    x = L.Activation("hard_sigmoid", name="hard_sigmoid")(x)
    x = (x - 0.25) / 4.0
    return K.Model(x_in, x, name="model"), [("input", [6, 6, 3])]


def build_unet_small(K):
    """A small U-Net on 12x12x3: two encoder stages (Conv2D same + relu, MaxPooling2D), a
    bottleneck conv, a decoder with Conv2DTranspose (3x3, strides 2, same, fused relu) and
    UpSampling2D (nearest), each followed by a Concatenate skip connection and a conv, a 1x1
    sigmoid head, and a side output through a bilinear UpSampling2D. Two outputs."""
    L = K.layers
    x_in = K.Input((12, 12, 3), name="input")
    e1 = L.Conv2D(4, 3, padding="same", activation="relu", name="enc1")(x_in)  # 12x12x4
    p1 = L.MaxPooling2D(2, name="pool1")(e1)  # 6x6
    e2 = L.Conv2D(8, 3, padding="same", activation="relu", name="enc2")(p1)  # 6x6x8
    p2 = L.MaxPooling2D(2, name="pool2")(e2)  # 3x3
    b = L.Conv2D(12, 3, padding="same", activation="relu", name="bottleneck")(p2)  # 3x3x12
    u1 = L.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu", name="up1_deconv")(b)
    c1 = L.Concatenate(name="skip1")([u1, e2])  # 6x6x16
    d1 = L.Conv2D(6, 3, padding="same", activation="relu", name="dec1")(c1)
    u2 = L.UpSampling2D(2, name="up2_nearest")(d1)  # 12x12x6
    c2 = L.Concatenate(name="skip2")([u2, e1])  # 12x12x10
    d2 = L.Conv2D(4, 3, padding="same", activation="relu", name="dec2")(c2)
    out = L.Conv2D(1, 1, activation="sigmoid", name="head")(d2)
    side = L.UpSampling2D(2, interpolation="bilinear", name="side_bilinear")(d1)  # 12x12x6
    side = L.Conv2D(2, 1, name="side_head")(side)
    return K.Model(x_in, [out, side], name="model"), [("input", [12, 12, 3])]


def build_upsample_deconv(K):
    """Conv2DTranspose and UpSampling2D variants on odd sizes (5x6x3): 3x3 strides 2 valid without
    bias, 4x4 strides 2 same (padding before the first row), 2x2 strides 2 valid + tanh (taps
    never overlap), 1x1 strides (1, 2) valid (a kernel smaller than the stride leaves zero
    columns), 3x3 strides 1 same; UpSampling2D nearest (3, 2) and bilinear (2, 3)."""
    L = K.layers
    x_in = K.Input((5, 6, 3), name="input")
    a = L.Conv2DTranspose(4, 3, strides=2, padding="valid", use_bias=False, name="ct_k3_s2_valid")(x_in)
    a = L.Conv2DTranspose(3, 4, strides=2, padding="same", name="ct_k4_s2_same")(a)  # 11x13 -> 22x26
    b = L.Conv2DTranspose(4, 2, strides=2, padding="valid", activation="tanh", name="ct_k2_s2_tanh")(x_in)
    b = L.Conv2DTranspose(3, 1, strides=(1, 2), padding="valid", name="ct_k1_s12")(b)  # 10x12 -> 10x24
    b = L.Conv2DTranspose(2, 3, padding="same", name="ct_k3_s1_same")(b)
    c = L.UpSampling2D((3, 2), name="up_nearest_32")(x_in)  # 15x12
    d = L.UpSampling2D((2, 3), interpolation="bilinear", name="up_bilinear_23")(x_in)  # 10x18
    return K.Model(x_in, [a, b, c, d], name="model"), [("input", [5, 6, 3])]


def build_fallback_ops(K):
    """Ops with no Keras layer, which thaw converts to fallback ThawTfOp layers: sin, cos,
    atan2(sin, cos), atan2(x, a constant vector) (a weight of the fallback layer), cumsum over the features, round (half to even), sign, abs, square,
    log1p(|x|), sum over the last axis with keepdims (Keras 3: keras.ops.*; tf-keras: the tf.math
    functions, frozen through TFOpLambda layers), between native Dense layers."""
    L = K.layers
    if K.__name__ == "keras":
        ops = K.ops
        atan2, rsum = ops.arctan2, lambda t: ops.sum(t, axis=-1, keepdims=True)
    else:
        ops = tf.math
        atan2, rsum = tf.math.atan2, lambda t: tf.reduce_sum(t, axis=-1, keepdims=True)
    x_in = K.Input((8,), name="input")
    x = L.Dense(8, name="dense_in")(x_in)
    s = ops.sin(x)
    c = ops.cos(x)
    a = atan2(s, c)
    ac = atan2(x, np.linspace(-1.0, 1.5, 8).astype("float32"))
    cs = ops.cumsum(x, axis=1)
    r = ops.round(x)
    sg = ops.sign(x)
    lp = ops.log1p(ops.abs(x))
    sq = ops.square(x)
    sm = rsum(x)
    y = L.Concatenate(name="concat")([s, c, a, ac, cs, r, sg, lp, sq, sm])
    out = L.Dense(3, name="dense_out")(y)
    return K.Model(x_in, out, name="model"), [("input", [8])]


def build_preprocess(K):
    """Rescaling(2, -0.5); Normalization with adapted statistics (weights) and with
    mean/variance in its config; BatchNormalization without scale and without center; PReLU
    shared over H, W and unshared; hard_swish (Keras 3: Activation("hard_swish"); tf-keras: the
    application's Multiply([x, ReLU(6)(x + 3) * (1/6)])) and a squeeze-and-excitation block with
    MobileNetV3's hard_sigmoid (ReLU(6)(x + 3) * (1/6)); gelu approximate=True; scalar
    arithmetic (x - 0.25) / 4."""
    L = K.layers
    keras3 = K.__name__ == "keras"
    x_in = K.Input((6, 6, 3), name="input")
    x = L.Rescaling(2.0, -0.5, name="rescaling")(x_in)
    x = L.Normalization(name="norm_adapted")(x)
    x = L.Normalization(mean=[0.1, -0.2, 0.3], variance=[0.5, 2.0, 1.5], name="norm_config")(x)
    x = L.Conv2D(8, 3, padding="same", name="conv")(x)
    x = L.BatchNormalization(scale=False, name="bn_no_scale")(x)
    x = L.PReLU(shared_axes=[1, 2], name="prelu_shared")(x)
    if keras3:
        h = L.Activation("hard_swish", name="hard_swish")(x)
    else:
        h = L.Multiply(name="hard_swish")([x, L.ReLU(6.0, name="hs_relu6")(x + 3.0) * (1.0 / 6.0)])
    se = L.GlobalAveragePooling2D(keepdims=True, name="se_squeeze")(h)
    se = L.Conv2D(4, 1, activation="relu", name="se_reduce")(se)
    se = L.Conv2D(8, 1, name="se_expand")(se)
    se = L.ReLU(6.0, name="se_relu6")(se + 3.0) * (1.0 / 6.0)
    x = L.Multiply(name="se_excite")([h, se])
    x = L.Conv2D(6, 1, name="project")(x)
    x = L.BatchNormalization(center=False, name="bn_no_center")(x)
    x = L.PReLU(name="prelu_full")(x)
    x = L.Activation(lambda t: K.activations.gelu(t, approximate=True), name="gelu_tanh")(x)
    x = (x - 0.25) / 4.0
    return K.Model(x_in, x, name="model"), [("input", [6, 6, 3])]


# --------------------------------------------------------------------------- TF1 builders
# Each returns (graph_def frozen, input_specs, output node names, keras_layers a rebuild needs).


def build_text_cnn(K):
    """Text CNN on int32 token ids (20 steps, vocabulary 50): Embedding(50, 8), Conv1D SAME + relu,
    MaxPooling1D, causal dilated Conv1D + tanh, strided VALID Conv1D, GlobalMaxPooling1D; a second
    branch AveragePooling1D SAME on an odd length + GlobalAveragePooling1D; Concatenate, Dense relu,
    Dense softmax."""
    L = K.layers
    x_in = K.Input((20,), dtype="int32", name="tokens")
    e = L.Embedding(50, 8, name="embed")(x_in)
    c = L.Conv1D(12, 3, padding="same", activation="relu", name="conv_same_relu")(e)
    c = L.MaxPooling1D(2, name="maxpool")(c)  # 20 -> 10
    d = L.Conv1D(8, 3, padding="causal", dilation_rate=2, activation="tanh", name="conv_causal_d2")(c)
    d = L.Conv1D(8, 2, strides=2, padding="valid", name="conv_valid_s2")(d)  # 10 -> 5
    a = L.GlobalMaxPooling1D(name="gmp")(d)
    b = L.AveragePooling1D(3, strides=2, padding="same", name="avgpool_same")(c)  # 10 -> 5
    b = L.GlobalAveragePooling1D(name="gap")(b)
    h = L.Concatenate(name="concat")([a, b])
    h = L.Dense(16, activation="relu", name="dense_relu")(h)
    out = L.Dense(4, activation="softmax", name="dense_softmax")(h)
    return K.Model(x_in, out, name="model"), [("tokens", [20], "int32", 50)]


def build_conv1d_forms(K):
    """Conv1D forms on a float (16, 3) input: SAME dilated (odd kernel, d=2; even kernel 4, d=3, +
    sigmoid; both frozen as SpaceToBatchND/BatchToSpaceND with SAME's leading padding), SAME stride 2
    without bias, VALID dilated; MaxPooling1D SAME (3, stride 2), GlobalMaxPooling1D and
    GlobalAveragePooling1D with keepdims=True, Concatenate on the steps axis."""
    L = K.layers
    x_in = K.Input((16, 3), name="input")
    x = L.Conv1D(4, 3, padding="same", dilation_rate=2, name="c_same_d2")(x_in)
    x = L.Conv1D(4, 4, padding="same", dilation_rate=3, activation="sigmoid", name="c_same_k4_d3")(x)
    x = L.Conv1D(4, 2, strides=2, padding="same", use_bias=False, name="c_same_s2")(x)  # 16 -> 8
    x = L.Conv1D(4, 3, padding="valid", dilation_rate=2, name="c_valid_d2")(x)  # 8 -> 4
    a = L.MaxPooling1D(3, strides=2, padding="same", name="mp_same")(x)  # 4 -> 2
    a = L.GlobalMaxPooling1D(keepdims=True, name="gmp_keep")(a)
    b = L.GlobalAveragePooling1D(keepdims=True, name="gap_keep")(x)
    y = L.Concatenate(axis=1, name="cat")([a, b])
    return K.Model(x_in, y, name="model"), [("input", [16, 3])]


def build_seq_shapes(K):
    """Sequence shape layers on a float (6, 4) input: Permute((2, 1)), causal Conv1D (no dilation),
    GlobalAveragePooling1D, RepeatVector(3), pointwise Conv1D + sigmoid, Reshape((-1, 2)),
    Permute((2, 1)) again, Flatten, Dense."""
    L = K.layers
    x_in = K.Input((6, 4), name="input")
    p = L.Permute((2, 1), name="permute")(x_in)  # (4, 6)
    p = L.Conv1D(5, 2, padding="causal", name="conv_causal")(p)  # (4, 5)
    g = L.GlobalAveragePooling1D(name="gap")(p)  # (5,)
    r = L.RepeatVector(3, name="repeat")(g)  # (3, 5)
    r = L.Conv1D(4, 1, activation="sigmoid", name="conv_pointwise")(r)  # (3, 4)
    r = L.Reshape((-1, 2), name="reshape_m1")(r)  # (6, 2)
    r = L.Permute((2, 1), name="permute_back")(r)  # (2, 6)
    f = L.Flatten(name="flatten")(r)
    out = L.Dense(3, name="dense")(f)
    return K.Model(x_in, out, name="model"), [("input", [6, 4])]


def _tf1_var(name, value):
    # use_resource=False: classic TF1 VariableV2 + "<name>/read" Identity, as old frozen graphs have.
    return tf.compat.v1.get_variable(name, initializer=tf.constant(value), use_resource=False)


def _tf1_freeze(graph, output_names):
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
            sess, graph.as_graph_def(), output_names
        )
    return tfcommon.canonical_node_order(frozen)


def build_tf1_mobilenet_v1_tail(rng):
    """tf.compat.v1 graph: placeholder, tf.pad explicit padding + conv VALID stride 2,
    FusedBatchNorm (V1 op, is_training=False, epsilon 1.001e-5), relu6, depthwise SAME + bias_add +
    relu6, 1x1 conv + bias_add + relu, avg_pool SAME; head A: avg_pool VALID (global) + 1x1 conv
    logits + squeeze + softmax; head B: reshape [-1, N] + matmul + bias_add + tanh."""
    rw = tfcommon.random_weight
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 12, 12, 3], name="input")
        with tf.compat.v1.variable_scope("stem"):
            p = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], name="pad")
            w = _tf1_var("weights", rw("Conv2D", "kernel", (3, 3, 3, 8), rng))
            c = tf.nn.conv2d(p, w, strides=[1, 2, 2, 1], padding="VALID", name="conv")  # 14 -> 6
            y = tf.raw_ops.FusedBatchNorm(
                x=c,
                scale=_tf1_var("gamma", rw("BN", "gamma", (8,), rng)),
                offset=_tf1_var("beta", rw("BN", "beta", (8,), rng)),
                mean=_tf1_var("moving_mean", rw("BN", "moving_mean", (8,), rng)),
                variance=_tf1_var("moving_variance", rw("BN", "moving_variance", (8,), rng)),
                epsilon=1.001e-5,
                is_training=False,
                name="bn",
            )[0]
            y = tf.nn.relu6(y, name="relu6")
        with tf.compat.v1.variable_scope("dw"):
            w = _tf1_var("depthwise_weights", rw("DepthwiseConv2D", "depthwise_kernel", (3, 3, 8, 1), rng))
            y = tf.nn.depthwise_conv2d(y, w, strides=[1, 1, 1, 1], padding="SAME", name="depthwise")
            y = tf.nn.bias_add(y, _tf1_var("biases", rw("DW", "bias", (8,), rng)), name="bias_add")
            y = tf.nn.relu6(y, name="relu6")
        with tf.compat.v1.variable_scope("pw"):
            w = _tf1_var("weights", rw("Conv2D", "kernel", (1, 1, 8, 12), rng))
            y = tf.nn.conv2d(y, w, strides=[1, 1, 1, 1], padding="SAME", name="conv")
            y = tf.nn.bias_add(y, _tf1_var("biases", rw("Conv2D", "bias", (12,), rng)), name="bias_add")
            y = tf.nn.relu(y, name="relu")
            y = tf.nn.avg_pool2d(y, ksize=3, strides=2, padding="SAME", name="avg_pool")  # 6 -> 3
        with tf.compat.v1.variable_scope("logits"):
            h = tf.nn.avg_pool2d(y, ksize=3, strides=1, padding="VALID", name="global_pool")  # 3 -> 1
            w = _tf1_var("weights", rw("Conv2D", "kernel", (1, 1, 12, 5), rng))
            h = tf.nn.conv2d(h, w, strides=[1, 1, 1, 1], padding="SAME", name="conv")
            h = tf.nn.bias_add(h, _tf1_var("biases", rw("Conv2D", "bias", (5,), rng)), name="bias_add")
            h = tf.squeeze(h, [1, 2], name="squeeze")
        tf.nn.softmax(h, name="probs")
        with tf.compat.v1.variable_scope("fc"):
            f = tf.reshape(y, [-1, 3 * 3 * 12], name="reshape")
            w = _tf1_var("weights", rw("Dense", "kernel", (108, 4), rng))
            f = tf.matmul(f, w, name="matmul")
            f = tf.nn.bias_add(f, _tf1_var("biases", rw("Dense", "bias", (4,), rng)), name="bias_add")
        tf.tanh(f, name="features")
    outputs = ["probs", "features"]
    keras_layers = {
        "ZeroPadding2D": 1,
        "Conv2D": 3,
        "BatchNormalization": 1,
        "ReLU": 3,
        "DepthwiseConv2D": 1,
        "AveragePooling2D": 2,
        "Reshape": 2,
        "Softmax": 1,
        "Dense": 1,
        "Activation": 1,
    }
    return _tf1_freeze(g, outputs), [("input", [12, 12, 3])], outputs, keras_layers


def build_tf1_text_cnn(rng):
    """tf.compat.v1 text CNN on int64 ids (16 steps, vocabulary 30): tf.nn.embedding_lookup on a
    VariableV2 table, tf.nn.conv1d SAME + bias_add + relu, tf.nn.conv1d VALID stride 2 without
    bias, reduce_max over the steps (global max pooling), matmul + bias, softmax."""
    rw = tfcommon.random_weight
    g = tf.Graph()
    with g.as_default():
        ids = tf.compat.v1.placeholder(tf.int64, [None, 16], name="ids")
        with tf.compat.v1.variable_scope("embed"):
            table = _tf1_var("table", rw("Embedding", "embeddings", (30, 6), rng))
            e = tf.nn.embedding_lookup(table, ids)
        with tf.compat.v1.variable_scope("conv1"):
            w = _tf1_var("weights", rw("Conv1D", "kernel", (3, 6, 8), rng))
            y = tf.nn.conv1d(e, w, stride=1, padding="SAME")
            y = tf.nn.relu(tf.nn.bias_add(y, _tf1_var("biases", rw("Conv1D", "bias", (8,), rng))))
        with tf.compat.v1.variable_scope("conv2"):
            w = _tf1_var("weights", rw("Conv1D", "kernel", (2, 8, 8), rng))
            y = tf.nn.conv1d(y, w, stride=2, padding="VALID")  # 16 -> 8
        m = tf.reduce_max(y, axis=1, name="global_max")
        with tf.compat.v1.variable_scope("logits"):
            w = _tf1_var("weights", rw("Dense", "kernel", (8, 4), rng))
            b = _tf1_var("biases", rw("Dense", "bias", (4,), rng))
            logits = tf.matmul(m, w) + b
        tf.nn.softmax(logits, name="prob")
    outputs = ["prob"]
    keras_layers = {"Embedding": 1, "Conv1D": 2, "GlobalMaxPooling1D": 1, "Dense": 1, "Softmax": 1}
    return _tf1_freeze(g, outputs), [("ids", [16], "int64", 30)], outputs, keras_layers


def build_tf1_vgg_style(rng):
    """tf.compat.v1 graph in the older style: conv2d SAME + bias_add + relu, max_pool VALID,
    conv2d SAME without bias + sigmoid, tf.add of two branches, tf.concat on axis 3,
    reduce_mean over H,W (global average pool), matmul + '+ b' (AddV2), softmax."""
    rw = tfcommon.random_weight
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 10, 10, 3], name="images")
        with tf.compat.v1.variable_scope("conv1"):
            w = _tf1_var("weights", rw("Conv2D", "kernel", (3, 3, 3, 6), rng))
            y = tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME")
            y = tf.nn.bias_add(y, _tf1_var("biases", rw("Conv2D", "bias", (6,), rng)))
            y = tf.nn.relu(y)
        y = tf.nn.max_pool2d(y, ksize=2, strides=2, padding="VALID", name="pool1")  # 10 -> 5
        with tf.compat.v1.variable_scope("conv2"):
            w = _tf1_var("weights", rw("Conv2D", "kernel", (3, 3, 6, 6), rng))
            z = tf.nn.sigmoid(tf.nn.conv2d(y, w, strides=[1, 1, 1, 1], padding="SAME"))
        s = tf.add(y, z, name="residual")
        c = tf.concat([s, z], axis=3, name="concat")
        m = tf.reduce_mean(c, axis=[1, 2], name="global_pool")
        with tf.compat.v1.variable_scope("logits"):
            w = _tf1_var("weights", rw("Dense", "kernel", (12, 4), rng))
            b = _tf1_var("biases", rw("Dense", "bias", (4,), rng))
            logits = tf.matmul(m, w) + b
        tf.nn.softmax(logits, name="prob")
    outputs = ["prob"]
    keras_layers = {
        "Conv2D": 2,
        "MaxPooling2D": 1,
        "Add": 1,
        "Concatenate": 1,
        "GlobalAveragePooling2D": 1,
        "Dense": 1,
        "Softmax": 1,
    }
    return _tf1_freeze(g, outputs), [("images", [10, 10, 3])], outputs, keras_layers


def _canonical_function_names(graph_def):
    """Rename library functions to fn_0, fn_1, ... (in library order) and update the call nodes:
    TensorFlow's names (`__inference_block_frozen_28`) carry a process-wide counter, which would
    make the fixture's bytes depend on what else ran in the process."""
    renames = {f.signature.name: f"fn_{i}" for i, f in enumerate(graph_def.library.function)}
    for f in graph_def.library.function:
        f.signature.name = renames[f.signature.name]
    for n in list(graph_def.node) + [n for f in graph_def.library.function for n in f.node_def]:
        if "f" in n.attr and n.attr["f"].func.name in renames:
            n.attr["f"].func.name = renames[n.attr["f"].func.name]
    return graph_def


def build_tf1_function_call(rng):
    """tf.compat.v1 graph calling a tf.function twice (two StatefulPartitionedCall nodes and a
    function library, as TF1 code mixing tf.function leaves after convert_variables_to_constants,
    which does not inline): conv SAME + FusedBatchNormV3 (read through its `y` output argument) +
    relu6 inside the function, then reduce_mean, matmul + bias, softmax outside."""
    rw = tfcommon.random_weight
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3], name="input")

        @tf.function
        def block(t, k, scale, offset, mean, var):
            y = tf.nn.conv2d(t, k, strides=1, padding="SAME")
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(
                y, scale, offset, mean=mean, variance=var, epsilon=1e-3, is_training=False
            )
            return tf.nn.relu6(y)

        y = x
        for i, (cin, cout) in enumerate([(3, 6), (6, 6)]):
            with tf.compat.v1.variable_scope(f"block{i + 1}"):
                y = block(
                    y,
                    _tf1_var("kernel", rw("Conv2D", "kernel", (3, 3, cin, cout), rng)),
                    _tf1_var("gamma", rw("BN", "gamma", (cout,), rng)),
                    _tf1_var("beta", rw("BN", "beta", (cout,), rng)),
                    _tf1_var("moving_mean", rw("BN", "moving_mean", (cout,), rng)),
                    _tf1_var("moving_variance", rw("BN", "moving_variance", (cout,), rng)),
                )
        m = tf.reduce_mean(y, axis=[1, 2], name="global_pool")
        with tf.compat.v1.variable_scope("logits"):
            w = _tf1_var("weights", rw("Dense", "kernel", (6, 4), rng))
            b = _tf1_var("biases", rw("Dense", "bias", (4,), rng))
            logits = tf.nn.bias_add(tf.matmul(m, w), b)
        tf.nn.softmax(logits, name="prob")
    outputs = ["prob"]
    keras_layers = {"Conv2D": 2, "BatchNormalization": 2, "ReLU": 2, "GlobalAveragePooling2D": 1, "Dense": 1,
                    "Softmax": 1}
    frozen = _canonical_function_names(_tf1_freeze(g, outputs))
    return frozen, [("input", [8, 8, 3])], outputs, keras_layers


def build_separable_crop_groups(K):
    """SeparableConv2D: SAME + bias + fused relu, stride 2 VALID depth_multiplier 2 without bias,
    dilation 2 SAME (the SpaceToBatchND form) + bias; NASNet's ZeroPadding2D((0,1),(0,1)) +
    Cropping2D((1,0),(1,0)); Cropping2D with all four sides non-zero; grouped Conv2D (groups 2)
    + relu; DepthwiseConv2D then a separate 1x1 Conv2D layer (must stay two layers)."""
    L = K.layers
    x_in = K.Input((13, 13, 4), name="input")
    x = L.SeparableConv2D(8, 3, padding="same", activation="relu", name="sep_same_relu")(x_in)
    x = L.SeparableConv2D(
        6, 3, strides=2, padding="valid", depth_multiplier=2, use_bias=False, name="sep_s2_valid_dm2"
    )(x)
    x = L.SeparableConv2D(6, 3, dilation_rate=2, padding="same", name="sep_d2_same")(x)
    x = L.ZeroPadding2D(((0, 1), (0, 1)), name="pad_br")(x)
    x = L.Cropping2D(((1, 0), (1, 0)), name="crop_tl")(x)
    x = L.Conv2D(8, 3, groups=2, padding="same", activation="relu", name="conv_groups2")(x)
    x = L.Cropping2D(((1, 2), (2, 1)), name="crop_all")(x)
    x = L.DepthwiseConv2D(2, name="dw")(x)
    x = L.Conv2D(4, 1, name="pw")(x)
    return K.Model(x_in, x, name="model"), [("input", [13, 13, 4])]


def build_tf1_separable_slice(rng):
    """tf.compat.v1 graph: tf.nn.separable_conv2d SAME (+ bias_add + relu), separable_conv2d with
    rate 2 VALID (SpaceToBatchND form, no bias), tf.slice crop of H and W (size -1 on batch and
    channels), a grouped tf.nn.conv2d (kernel with half the input channels) + bias_add."""
    rw = tfcommon.random_weight
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 12, 12, 4], name="input")
        with tf.compat.v1.variable_scope("sep1"):
            dk = _tf1_var("depthwise_weights", rw("SeparableConv2D", "depthwise_kernel", (3, 3, 4, 1), rng))
            pk = _tf1_var("pointwise_weights", rw("SeparableConv2D", "pointwise_kernel", (1, 1, 4, 6), rng))
            y = tf.nn.separable_conv2d(x, dk, pk, strides=[1, 1, 1, 1], padding="SAME", name="sep")
            y = tf.nn.bias_add(y, _tf1_var("biases", rw("SeparableConv2D", "bias", (6,), rng)), name="bias_add")
            y = tf.nn.relu(y, name="relu")
        with tf.compat.v1.variable_scope("sep2"):
            dk = _tf1_var("depthwise_weights", rw("SeparableConv2D", "depthwise_kernel", (3, 3, 6, 2), rng))
            pk = _tf1_var("pointwise_weights", rw("SeparableConv2D", "pointwise_kernel", (1, 1, 12, 8), rng))
            y = tf.nn.separable_conv2d(y, dk, pk, strides=[1, 1, 1, 1], padding="VALID", dilations=[2, 2],
                                       name="sep")  # 12 -> 8
        with tf.compat.v1.variable_scope("crop"):
            y = tf.slice(y, [0, 1, 2, 0], [-1, 6, -1, -1], name="slice")  # 8x8 -> 6x6
        with tf.compat.v1.variable_scope("gconv"):
            w = _tf1_var("weights", rw("Conv2D", "kernel", (3, 3, 4, 6), rng))  # 8 channels, 2 groups
            y = tf.nn.conv2d(y, w, strides=[1, 2, 2, 1], padding="SAME", name="conv")
            y = tf.nn.bias_add(y, _tf1_var("biases", rw("Conv2D", "bias", (6,), rng)), name="bias_add")
        tf.identity(y, name="output")
    outputs = ["output"]
    keras_layers = {"SeparableConv2D": 2, "Cropping2D": 1, "Conv2D": 1}
    return _tf1_freeze(g, outputs), [("input", [12, 12, 4])], outputs, keras_layers


# --------------------------------------------------------------------------- registry
# name -> (source, seed, builder). Keras builders take the Keras module; tf1 builders take an rng.
def build_transformer_block(K):
    """Transformer encoder block on (seq 8, dim 16): MultiHeadAttention(2 heads, key_dim 8)
    self-attention + Add + LayerNormalization, then Dense(32, gelu) + Dropout + Dense(16) on the
    rank-3 sequence (tf.tensordot form) + Add + LayerNormalization."""
    L = K.layers
    x_in = K.Input((8, 16), name="input")
    a = L.MultiHeadAttention(num_heads=2, key_dim=8, name="mha")(x_in, x_in)
    x = L.Add(name="add_attn")([x_in, a])
    x = L.LayerNormalization(epsilon=1e-6, name="ln_attn")(x)
    h = L.Dense(32, activation="gelu", name="ffn_1")(x)
    h = L.Dropout(0.1, name="dropout")(h)
    h = L.Dense(16, name="ffn_2")(h)
    y = L.Add(name="add_ffn")([x, h])
    y = L.LayerNormalization(epsilon=1e-6, name="ln_ffn")(y)
    return K.Model(x_in, y, name="model"), [("input", [8, 16])]


def build_cross_attention(K):
    """Cross-attention: query (6, 12) attends to a memory (10, 8) through a separate key
    (10, 5): MultiHeadAttention(3 heads, key_dim 4, value_dim 6, output_shape 7, no bias),
    then a self-attention MultiHeadAttention(1 head, key_dim 5) on its output, Dense(3)."""
    L = K.layers
    q = K.Input((6, 12), name="query")
    v = K.Input((10, 8), name="memory")
    k = K.Input((10, 5), name="key")
    a = L.MultiHeadAttention(num_heads=3, key_dim=4, value_dim=6, output_shape=7, use_bias=False,
                             name="cross")(q, v, key=k)
    s = L.MultiHeadAttention(num_heads=1, key_dim=5, name="self_attn")(a, a)
    y = L.Dense(3, name="head")(s)
    return K.Model([q, v, k], y, name="model"), [("query", [6, 12]), ("memory", [10, 8]), ("key", [10, 5])]


def build_layer_norm_forms(K):
    """LayerNormalization variants on a (6, 8) sequence: center=False (epsilon 1e-3), scale=False
    (epsilon 1e-2), a Dense(8), center=False and scale=False, the default, and center=False with
    epsilon 1e-6; and scale=False on a second input, a (4, 4, 3) image. tf-keras freezes every
    epsilon >= 1.001e-5 as Reshape to [1, rows, C, 1] + FusedBatchNormV3 (is_training, ones/zeros
    scale/offset) + Reshape, then Mul gamma / Add beta; epsilon 1e-6 and every Keras 3 variant as
    moments + Rsqrt arithmetic."""
    L = K.layers
    x_in = K.Input((6, 8), name="input")
    x = L.LayerNormalization(center=False, name="ln_noc")(x_in)
    x = L.LayerNormalization(scale=False, epsilon=1e-2, name="ln_nos")(x)
    x = L.Dense(8, name="mix")(x)
    x = L.LayerNormalization(center=False, scale=False, name="ln_none")(x)
    x = L.LayerNormalization(name="ln_def")(x)
    y = L.LayerNormalization(center=False, epsilon=1e-6, name="ln_small_eps")(x)
    img = K.Input((4, 4, 3), name="image")
    z = L.LayerNormalization(scale=False, name="ln_image")(img)
    return K.Model([x_in, img], [y, z], name="model"), [("input", [6, 8]), ("image", [4, 4, 3])]


def build_lstm_seq(K):
    """Two stacked LSTMs on a float (5, 3) sequence: LSTM(4, return_sequences=True), then
    LSTM(4) (last step only), Dense(2). Frozen with the while loops lowered to TF1 control flow
    (thaw's oracle unrolls them)."""
    L = K.layers
    x_in = K.Input((5, 3), name="seq")
    s = L.LSTM(4, return_sequences=True, name="lstm_seq")(x_in)  # (5, 4)
    h = L.LSTM(4, name="lstm_last")(s)  # (4,)
    y = L.Dense(2, name="head")(h)
    return K.Model(x_in, y, name="model"), [("seq", [5, 3])]


def build_gru_rnn_seq(K):
    """A GRU then a SimpleRNN on a float (5, 3) sequence: GRU(4, return_sequences=True) (the
    default reset_after=True), then SimpleRNN(4) (last step only), Dense(2). Frozen with the
    while loops lowered to TF1 control flow (thaw's oracle unrolls them)."""
    L = K.layers
    x_in = K.Input((5, 3), name="seq")
    s = L.GRU(4, return_sequences=True, name="gru_seq")(x_in)  # (5, 4)
    h = L.SimpleRNN(4, name="rnn_last")(s)  # (4,)
    y = L.Dense(2, name="head")(h)
    return K.Model(x_in, y, name="model"), [("seq", [5, 3])]


def build_rnn_gru_v1(K):
    """The other settings of the same cells on a float (5, 3) sequence: SimpleRNN(4,
    return_sequences=True), GRU(3, reset_after=False, return_sequences=True) (Keras 1/TF1
    style: one bias row, reset gate applied before the recurrent product), GRU(4) (last step
    only), Dense(2). Lowered while loops."""
    L = K.layers
    x_in = K.Input((5, 3), name="seq")
    s = L.SimpleRNN(4, return_sequences=True, name="rnn_seq")(x_in)  # (5, 4)
    s = L.GRU(3, reset_after=False, return_sequences=True, name="gru_v1")(s)  # (5, 3)
    h = L.GRU(4, name="gru_last")(s)  # (4,)
    y = L.Dense(2, name="head")(h)
    return K.Model(x_in, y, name="model"), [("seq", [5, 3])]


def build_rnn_back(K):
    """The three cells with go_backwards=True on a float (5, 3) sequence: SimpleRNN(4,
    return_sequences=True), GRU(4, return_sequences=True), LSTM(4) (last step only), each
    reading its input last to first (a ReverseV2 of the time axis before the loop; the output
    sequence stays in processing order), Dense(2). Lowered while loops."""
    L = K.layers
    x_in = K.Input((5, 3), name="seq")
    s = L.SimpleRNN(4, go_backwards=True, return_sequences=True, name="rnn_back")(x_in)
    s = L.GRU(4, go_backwards=True, return_sequences=True, name="gru_back")(s)
    h = L.LSTM(4, go_backwards=True, name="lstm_back")(s)
    y = L.Dense(2, name="head")(h)
    return K.Model(x_in, y, name="model"), [("seq", [5, 3])]


def build_bidirectional(modes):
    def build(K):
        L = K.layers
        x_in = K.Input((5, 3), name="seq")
        s = L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode=modes[0], name="bi_lstm")(x_in)
        h = L.Bidirectional(L.GRU(4), merge_mode=modes[1], name="bi_gru")(s)
        y = L.Dense(2, name="head")(h)
        return K.Model(x_in, y, name="model"), [("seq", [5, 3])]

    build.__doc__ = (
        f"Two Bidirectional layers on a float (5, 3) sequence: Bidirectional(LSTM(4, return_sequences=True), "
        f"merge_mode={modes[0]!r}) (the backward output flipped back by a ReverseV2 before the merge), "
        f"Bidirectional(GRU(4), merge_mode={modes[1]!r}) (last steps), Dense(2). Four lowered while loops."
    )
    return build


def build_mask_zero_rnn(K):
    """Padding masks through stacked recurrent layers: int32 ids (8,) in [0, 6) (id 0, about one
    step in six, is padding anywhere in the sequence), Embedding(6, 4, mask_zero=True),
    LSTM(4, return_sequences=True), GRU(4, go_backwards=True, return_sequences=True) (the mask
    read last to first), SimpleRNN(3) (last step), Dense(2). Each lowered loop reads the mask
    NotEqual(ids, 0) as a second TensorList: at a masked step the states are kept and the
    output repeats the previous one."""
    L = K.layers
    ids = K.Input((8,), name="ids", dtype="int32")
    e = L.Embedding(6, 4, mask_zero=True, name="embed")(ids)
    s = L.LSTM(4, return_sequences=True, name="lstm_seq")(e)
    s = L.GRU(4, go_backwards=True, return_sequences=True, name="gru_back")(s)
    h = L.SimpleRNN(3, name="rnn_last")(s)
    y = L.Dense(2, name="head")(h)
    return K.Model(ids, y, name="model"), [("ids", [8], "int32", 6)]


def build_mask_zero_bidirectional(modes):
    def build(K):
        L = K.layers
        ids = K.Input((7,), name="ids", dtype="int32")
        e = L.Embedding(5, 4, mask_zero=True, name="embed")(ids)
        s = L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode=modes[0], name="bi_lstm")(e)
        s = L.Dense(4, activation="tanh", name="mix")(s)
        h = L.Bidirectional(L.GRU(3), merge_mode=modes[1], name="bi_gru")(s)
        y = L.Dense(2, name="head")(h)
        return K.Model(ids, y, name="model"), [("ids", [7], "int32", 5)]

    build.__doc__ = (
        f"A padding mask through Bidirectional layers: int32 ids (7,) in [0, 5) (id 0 is padding), "
        f"Embedding(5, 4, mask_zero=True), Bidirectional(LSTM(3, return_sequences=True), "
        f"merge_mode={modes[0]!r}) (both directions zero the output of masked steps: "
        f"zero_output_for_mask = return_sequences), Dense(4, tanh) on the sequence (carries the "
        f"mask on), Bidirectional(GRU(3), merge_mode={modes[1]!r}) (last steps), Dense(2)."
    )
    return build


def build_masking_rnn(K):
    """Masking(0.0) on a float (6, 3) sequence whose samples have zero steps (padding, leading
    or trailing), GRU(4, return_sequences=True) then LSTM(4, go_backwards=True) (last step),
    Dense(2). The mask, Any(NotEqual(x, 0), -1), reaches both loops as a second TensorList; the
    Masking layer's output zeroes the masked steps (Keras 3 SelectV2, tf-keras Mul by Cast)."""
    L = K.layers
    x_in = K.Input((6, 3), name="seq")
    m = L.Masking(mask_value=0.0, name="mask")(x_in)
    s = L.GRU(4, return_sequences=True, name="gru_seq")(m)
    h = L.LSTM(4, go_backwards=True, name="lstm_back")(s)
    y = L.Dense(2, name="head")(h)
    return K.Model(x_in, y, name="model"), [("seq", [6, 3])]


build_masking_rnn.padded = ("seq",)


def build_return_state(K):
    """Recurrent layers' states as outputs (return_state=True) on a float (5, 3) sequence:
    LSTM(4, return_sequences=True, return_state=True) gives the sequence, the final h and the
    final c; GRU(3, return_state=True) on the sequence gives its last output and its final h
    (equal values, two graph tensors); SimpleRNN(3, go_backwards=True, return_state=True) gives
    the same pair. Concatenate([h, c, gru h, rnn h]) -> Dense(2); the model's outputs are the head,
    the LSTM's final c and the GRU's last output."""
    L = K.layers
    x_in = K.Input((5, 3), name="seq")
    s, h, c = L.LSTM(4, return_sequences=True, return_state=True, name="lstm_state")(x_in)
    g, gh = L.GRU(3, return_state=True, name="gru_state")(s)
    r, rh = L.SimpleRNN(3, go_backwards=True, return_state=True, name="rnn_state")(s)
    m = L.Concatenate(name="states")([h, c, gh, rh])
    y = L.Dense(2, name="head")(m)
    return K.Model(x_in, [y, c, g], name="model"), [("seq", [5, 3])]


def build_bidirectional_split(K):
    """Bidirectional layers with more than one output on a float (5, 3) sequence:
    Bidirectional(LSTM(4, return_sequences=True), merge_mode=None) gives the forward and the
    (flipped back) backward sequences as two outputs; Subtract them; Bidirectional(GRU(3,
    return_state=True), merge_mode="concat") gives the concatenated last steps and each
    direction's final h; Concatenate([y, h_fwd, h_bwd]) -> Dense(2). The backward sequence is a
    second model output."""
    L = K.layers
    x_in = K.Input((5, 3), name="seq")
    f, b = L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode=None, name="bi_split")(x_in)
    d = L.Subtract(name="diff")([f, b])
    y, hf, hb = L.Bidirectional(L.GRU(3, return_state=True), name="bi_state")(d)
    m = L.Concatenate(name="states")([y, hf, hb])
    out = L.Dense(2, name="head")(m)
    return K.Model(x_in, [out, b], name="model"), [("seq", [5, 3])]


CASES = {
    "k3_conv_strides_dilation": ("keras3", 101, build_conv_strides_dilation),
    "k3_bn_depthwise_relu6": ("keras3", 102, build_bn_depthwise_relu6),
    "k3_pool_flatten_dense": ("keras3", 103, build_pool_flatten_dense),
    "k3_add_concat_two_inputs": ("keras3", 104, build_add_concat_two_inputs),
    "k3_inverted_residual": ("keras3", 105, build_inverted_residual),
    "k3_default_names": ("keras3", 106, build_default_names),
    "k3_activations": ("keras3", 107, build_activations),
    "k3_merges_global_pool": ("keras3", 108, build_merges_global_pool),
    "k3_gelu": ("keras3", 109, build_gelu),
    "k3_average": ("keras3", 110, build_average),
    "tk_conv_strides_dilation": ("tf_keras", 201, build_conv_strides_dilation),
    "tk_bn_depthwise_relu6": ("tf_keras", 202, build_bn_depthwise_relu6),
    "tk_pool_flatten_dense": ("tf_keras", 203, build_pool_flatten_dense),
    "tk_add_concat_two_inputs": ("tf_keras", 204, build_add_concat_two_inputs),
    "tk_inverted_residual": ("tf_keras", 205, build_inverted_residual),
    "tk_activations": ("tf_keras", 206, build_activations),
    "tk_merges_global_pool": ("tf_keras", 207, build_merges_global_pool),
    "tk_gelu": ("tf_keras", 208, build_gelu),
    "tk_average": ("tf_keras", 209, build_average),
    "k3_preprocess": ("keras3", 111, build_preprocess),
    "tk_preprocess": ("tf_keras", 210, build_preprocess),
    "k3_text_cnn": ("keras3", 131, build_text_cnn),
    "tk_text_cnn": ("tf_keras", 231, build_text_cnn),
    "k3_seq_shapes": ("keras3", 132, build_seq_shapes),
    "tk_seq_shapes": ("tf_keras", 232, build_seq_shapes),
    "k3_conv1d_forms": ("keras3", 133, build_conv1d_forms),
    "tk_conv1d_forms": ("tf_keras", 233, build_conv1d_forms),
    "k3_unet_small": ("keras3", 141, build_unet_small),
    "tk_unet_small": ("tf_keras", 241, build_unet_small),
    "k3_upsample_deconv": ("keras3", 142, build_upsample_deconv),
    "tk_upsample_deconv": ("tf_keras", 242, build_upsample_deconv),
    "k3_fallback_ops": ("keras3", 141, build_fallback_ops),
    "tk_fallback_ops": ("tf_keras", 241, build_fallback_ops),
    "k3_preprocess": ("keras3", 111, build_preprocess),
    "tk_preprocess": ("tf_keras", 210, build_preprocess),
    "tf1_mobilenet_v1_tail": ("tf1", 301, build_tf1_mobilenet_v1_tail),
    "tf1_vgg_style": ("tf1", 302, build_tf1_vgg_style),
    "tf1_text_cnn": ("tf1", 331, build_tf1_text_cnn),
    "tf1_function_call": ("tf1", 303, build_tf1_function_call),
    "k3_separable_crop_groups": ("keras3", 151, build_separable_crop_groups),
    "tk_separable_crop_groups": ("tf_keras", 251, build_separable_crop_groups),
    "tf1_separable_slice": ("tf1", 351, build_tf1_separable_slice),
    "k3_transformer_block": ("keras3", 161, build_transformer_block),
    "tk_transformer_block": ("tf_keras", 261, build_transformer_block),
    "k3_cross_attention": ("keras3", 162, build_cross_attention),
    "tk_cross_attention": ("tf_keras", 262, build_cross_attention),
    "k3_layer_norm_forms": ("keras3", 163, build_layer_norm_forms),
    "tk_layer_norm_forms": ("tf_keras", 263, build_layer_norm_forms),
    "k3_lstm_seq": ("keras3", 171, build_lstm_seq),
    "tk_lstm_seq": ("tf_keras", 271, build_lstm_seq),
    "k3_gru_rnn_seq": ("keras3", 172, build_gru_rnn_seq),
    "tk_gru_rnn_seq": ("tf_keras", 272, build_gru_rnn_seq),
    "k3_rnn_gru_v1": ("keras3", 173, build_rnn_gru_v1),
    "tk_rnn_gru_v1": ("tf_keras", 273, build_rnn_gru_v1),
    "k3_rnn_back": ("keras3", 174, build_rnn_back),
    "tk_rnn_back": ("tf_keras", 274, build_rnn_back),
    "k3_bidirectional": ("keras3", 175, build_bidirectional(("concat", "ave"))),
    "tk_bidirectional": ("tf_keras", 275, build_bidirectional(("sum", "mul"))),
    "k3_mask_zero_rnn": ("keras3", 176, build_mask_zero_rnn),
    "k3_masking_rnn": ("keras3", 178, build_masking_rnn),
    "tk_masking_rnn": ("tf_keras", 278, build_masking_rnn),
    "tk_mask_zero_rnn": ("tf_keras", 276, build_mask_zero_rnn),
    "k3_mask_zero_bidirectional": ("keras3", 177, build_mask_zero_bidirectional(("concat", "ave"))),
    "tk_mask_zero_bidirectional": ("tf_keras", 277, build_mask_zero_bidirectional(("sum", "mul"))),
    "k3_return_state": ("keras3", 179, build_return_state),
    "tk_return_state": ("tf_keras", 279, build_return_state),
    "k3_bidirectional_split": ("keras3", 180, build_bidirectional_split),
    "tk_bidirectional_split": ("tf_keras", 280, build_bidirectional_split),
}


def make_inputs(input_specs, seed, batch=BATCH, padded=()):
    """float32 uniform in [-1, 1] per input; an integer input, spec (name, shape, "int32", high),
    gets ids uniform in [0, high) instead. Every input is returned (and stored in io.npz) as
    float32, integers as whole numbers, because thaw's readers take float32; meta.json records the
    real dtype and generate_case feeds TensorFlow and Keras the int32 values. Inputs named in
    `padded` (a Masking layer's, mask_value 0) get whole steps zeroed: sample k a seeded run of
    0..steps/2 steps, leading for even k, trailing for odd k."""
    rng = np.random.default_rng([seed, 1])
    out = {}
    for spec in input_specs:
        name, shape = spec[0], spec[1]
        if len(spec) > 2:
            out[name] = rng.integers(0, spec[3], (batch, *shape)).astype(np.float32)
        else:
            out[name] = rng.uniform(-1.0, 1.0, (batch, *shape)).astype(np.float32)
        if name in padded:
            steps = shape[0]
            for k in range(batch):
                n = int(rng.integers(0, steps // 2 + 1))
                if k % 2 == 0:
                    out[name][k, :n] = 0.0
                else:
                    out[name][k, steps - n :] = 0.0
    return out


def typed_inputs(input_specs, inputs):
    """inputs with every integer input cast back to its dtype (what the graph and model take)."""
    return {s[0]: inputs[s[0]].astype(s[2]) if len(s) > 2 else inputs[s[0]] for s in input_specs}


def generate_case(
    name: str,
    source: str,
    seed: int,
    builder,
    out_dir: str,
    script: str = "harness/gen_fixtures.py",
    budget_bytes: int | None = tfcommon.NPZ_BUDGET_BYTES,
    all_tensors: bool = True,
    fixed_batch: int | None = None,
) -> dict:
    """Build, randomise, freeze, run and write one case into out_dir. Returns its meta dict.

    fixed_batch: None freezes a dynamic batch (`[None, ...]` placeholders, data batch BATCH); an
    integer freezes that batch into the graph (placeholders `[fixed_batch, ...]`, every shape
    constant folded by TensorFlow) and the data has that many samples. tf1 cases build their own
    placeholders and ignore it."""
    data_batch = fixed_batch or BATCH
    w_rng = np.random.default_rng([seed, 0])
    if source == "tf1":
        graph_def, input_specs, output_nodes, keras_layers = builder(w_rng)
        outputs = [f"{n}:0" for n in output_nodes]
        inputs = make_inputs(input_specs, seed, data_batch, getattr(builder, "padded", ()))
        reference = None
    else:
        K = _keras(source)
        K.backend.clear_session()  # default names and uid counters start afresh for every case
        K.utils.set_random_seed(seed)
        model, input_specs = builder(K)
        n = tfcommon.randomize_weights(model, w_rng)
        log(f"[{name}] randomised {n} weight arrays")
        graph_def, outputs = tfcommon.freeze_keras(model, input_specs, batch=fixed_batch)
        # Keras leaves some ops as function calls (grouped Conv2D's XLA-compiled convolution):
        # their names carry a process-wide counter.
        graph_def = tfcommon.canonical_numbered_consts(_canonical_function_names(graph_def))
        keras_layers = tfcommon.keras_layer_histogram(model)
        inputs = make_inputs(input_specs, seed, data_batch, getattr(builder, "padded", ()))
        typed = typed_inputs(input_specs, inputs)
        feed = [typed[s[0]] for s in input_specs]
        reference = model(feed[0] if len(feed) == 1 else feed, training=False)
        reference = [np.asarray(r) for r in (reference if isinstance(reference, (list, tuple)) else [reference])]

    feeds = typed_inputs(input_specs, inputs)
    outs, tensors = tfcommon.run_frozen(graph_def, feeds, outputs, all_tensors=all_tensors)
    if reference is not None:
        # The frozen graph must compute what the Keras model computes.
        for tname, ref in zip(outputs, reference):
            err = np.abs(outs[tname] - ref) - SELF_CHECK_RTOL * np.abs(ref)
            if not float(np.max(err)) <= SELF_CHECK_ATOL:
                raise SystemExit(f"[{name}] frozen graph output {tname} differs from the Keras model")
    for tname, v in outs.items():
        if not np.all(np.isfinite(v)):
            raise SystemExit(f"[{name}] non-finite values in output {tname}")

    doc = (builder.__doc__ or "").strip()
    meta = {
        "case": name,
        "source": source,
        "description": " ".join(doc.split()),
        "inputs": [
            {"name": s[0], "shape": [fixed_batch, *s[1]], "dtype": s[2] if len(s) > 2 else "float32"}
            for s in input_specs
        ],
        "outputs": outputs,
        "op_histogram": tfcommon.op_histogram(graph_def),
        "keras_layers": keras_layers,
        "generator": {"script": script, **tfcommon.versions()},
        "seed": seed,
        "batch": data_batch,
    }
    if fixed_batch is not None:
        meta["fixed_batch"] = fixed_batch
    if not all_tensors:
        meta["tensors_skipped_reason"] = "tensor: entries not recorded (all_tensors=False)"
    summary = tfcommon.write_case(out_dir, graph_def, inputs, outs, tensors, meta, budget_bytes)
    log(
        f"[{name}] {source}: pb {summary['pb_bytes'] / 1024:.1f} KB, npz {summary['npz_bytes'] / 1024:.1f} KB, "
        f"{len(tensors) - summary['skipped']} tensors"
    )
    log(f"[{name}] ops: {json.dumps(meta['op_histogram'])}")
    log(f"[{name}] keras layers: {json.dumps(keras_layers)}")
    return meta


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="fixtures", help="output folder (default: fixtures)")
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument(
        "--check",
        action="store_true",
        help="regenerate into a temporary folder and fail if any file differs from --out",
    )
    ap.add_argument(
        "--batch",
        default="",
        help="comma-separated fixed batch sizes (e.g. 1,2): each Keras case is also frozen with that "
        "batch, as <case>_b<N> (tf1 cases are skipped); 'dynamic' in the list keeps the plain form",
    )
    args = ap.parse_args(argv)
    if args.list:
        for name, (source, seed, builder) in CASES.items():
            print(f"{name:28s} {source:9s} {' '.join((builder.__doc__ or '').split())}")
        return 0
    names = [n for n in args.only.split(",") if n] or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        ap.error(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(CASES)}")
    forms = batch_forms(args.batch)
    if args.check:
        return check(names, args.out, forms)
    for name in names:
        source, seed, builder = CASES[name]
        for suffix, fixed in forms:
            if fixed is not None and source == "tf1":
                continue
            generate_case(
                name + suffix, source, seed, builder, os.path.join(args.out, name + suffix), fixed_batch=fixed
            )
    return 0


def batch_forms(spec: str) -> list[tuple[str, int | None]]:
    """--batch "1,2" -> [("_b1", 1), ("_b2", 2)]; "" -> the dynamic form only; "dynamic" names it."""
    forms = []
    for item in (x.strip() for x in spec.split(",") if x.strip()):
        if item == "dynamic":
            forms.append(("", None))
        elif item.isdigit() and int(item) > 0:
            forms.append((f"_b{item}", int(item)))
        else:
            raise SystemExit(f"--batch: '{item}' is neither a positive integer nor 'dynamic'")
    return forms or [("", None)]


def check(names, committed_root, forms=(("", None),)) -> int:
    """Regenerate `names` into a temporary folder and compare byte for byte with committed_root."""
    import filecmp
    import tempfile

    stale = []
    checked = 0
    with tempfile.TemporaryDirectory(prefix="thaw-fixtures-") as tmp:
        for base in names:
            source, seed, builder = CASES[base]
            for suffix, fixed in forms:
                if fixed is not None and source == "tf1":
                    continue
                name = base + suffix
                generate_case(name, source, seed, builder, os.path.join(tmp, name), fixed_batch=fixed)
                for fname in ("model.pb", "io.npz", "meta.json"):
                    checked += 1
                    committed = os.path.join(committed_root, name, fname)
                    if not os.path.isfile(committed) or not filecmp.cmp(
                        committed, os.path.join(tmp, name, fname), shallow=False
                    ):
                        stale.append(f"{name}/{fname}")
    for item in stale:
        print(f"stale fixture: {item}")
    print(f"fixtures: {checked - len(stale)} passed, {len(stale)} failed")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
