#!/usr/bin/env python3
"""TF1-era frozen graphs (issue 9): Keras 2 models built in TF1 graph mode, raw tf.nn graphs with
LRN (tf-slim nets: harness/gen_slim.py), frozen the way TF1 users froze them (tf.compat.v1 Session +
graph_util.convert_variables_to_constants, control flow v1: Switch/Merge).

    PY=$(harness/setup_venv.sh | tail -n1)
    $PY harness/gen_tf1.py --out fixtures --only tf1_keras_bn_dropout,tf1_nn_lrn   # committed ones
    $PY harness/gen_tf1.py --list

Each case is written like harness/gen_fixtures.py's (model.pb, io.npz, meta.json; same canonical
node order, seeds and input rule: batch 2, uniform in [-1, 1]); then `thaw verify DIR/model.pb`.

Cases:
  tf1_keras_bn_dropout -- tf_keras (Keras 2) Sequential-style model built in TF1 graph mode:
      Conv2D, BatchNormalization, Dropout, Dense. BN and Dropout leave `keras_learning_phase`
      conditionals (Switch/Merge on a PlaceholderWithDefault(False)), which thaw cuts to inference.
  tf1_nn_lrn -- raw tf.nn (AlexNet/CIFAR style): conv + relu + LRN + max_pool, the 2016-era
      `batchnorm/Rsqrt*mul*sub*add` arithmetic, and Softmax between two Reshapes.
  tf-slim nets: harness/gen_slim.py.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfcommon  # noqa: E402
from tfcommon import log  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

# TF1 graph mode for the whole script: control flow v1 (Switch/Merge), Keras learning phase as a
# PlaceholderWithDefault, variables as VariableV2.
tf.compat.v1.disable_v2_behavior()

import gen_fixtures  # noqa: E402

SCRIPT = "harness/gen_tf1.py"


def _freeze(sess, output_names):
    frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
        sess, sess.graph.as_graph_def(), output_names
    )
    return tfcommon.canonical_node_order(frozen)


def build_tf1_keras_bn_dropout(rng):
    """tf_keras model built in TF1 graph mode (tf.compat.v1, control flow v1): Conv2D, BatchNormalization,
    ReLU, Dropout, MaxPooling2D, Flatten, Dense, Dropout, Dense softmax; frozen with
    convert_variables_to_constants. BN and Dropout leave keras_learning_phase Switch/Merge conds."""
    import tf_keras as K

    L = K.layers
    g = tf.Graph()
    with g.as_default():
        sess = tf.compat.v1.Session(graph=g)
        K.src.backend.set_session(sess)
        x_in = K.Input((8, 8, 3), name="input")
        y = L.Conv2D(6, 3, padding="same", name="conv")(x_in)
        y = L.BatchNormalization(name="bn")(y)
        y = L.ReLU(name="relu")(y)
        y = L.Dropout(0.3, name="drop1")(y)
        y = L.MaxPooling2D(2, name="pool")(y)
        y = L.Flatten(name="flatten")(y)
        y = L.Dense(10, activation="relu", name="fc")(y)
        y = L.Dropout(0.5, name="drop2")(y)
        out = L.Dense(4, activation="softmax", name="probs")(y)
        model = K.Model(x_in, out, name="model")
        n = tfcommon.randomize_weights(model, rng)
        log(f"[tf1_keras_bn_dropout] randomised {n} weight arrays")
        frozen = _freeze(sess, [out.op.name])
    keras_layers = tfcommon.keras_layer_histogram(model)
    return frozen, [(x_in.op.name, [8, 8, 3])], [out.op.name], keras_layers


def _var(name, value):
    return tf.compat.v1.get_variable(name, initializer=tf.constant(value), use_resource=False)


def build_tf1_nn_lrn(rng):
    """raw tf.nn graph (AlexNet/CIFAR style): conv + bias + relu, LRN (depth_radius 2, bias 1, alpha
    2e-4, beta 0.75), max_pool, conv, the 2016-era batch norm arithmetic (batchnorm/Rsqrt, mul, sub,
    add), relu, LRN with TF defaults scaled down, reshape + matmul logits, Softmax between two
    Reshapes."""
    rw = tfcommon.random_weight
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3], name="input")
        with tf.compat.v1.variable_scope("conv1"):
            w = _var("weights", rw("Conv2D", "kernel", (3, 3, 3, 8), rng))
            y = tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME")
            y = tf.nn.bias_add(y, _var("biases", rw("Conv2D", "bias", (8,), rng)))
            y = tf.nn.relu(y)
        y = tf.nn.lrn(y, depth_radius=2, bias=1.0, alpha=2e-4, beta=0.75, name="norm1")
        y = tf.nn.max_pool2d(y, 2, 2, "VALID", name="pool1")  # 4x4
        with tf.compat.v1.variable_scope("conv2"):
            w = _var("weights", rw("Conv2D", "kernel", (3, 3, 8, 6), rng))
            y = tf.nn.conv2d(y, w, strides=[1, 1, 1, 1], padding="SAME")
            with tf.compat.v1.name_scope("BatchNorm"):
                gamma = _var("gamma", rw("BN", "gamma", (6,), rng))
                beta = _var("beta", rw("BN", "beta", (6,), rng))
                mean = _var("moving_mean", rw("BN", "moving_mean", (6,), rng))
                var = _var("moving_variance", rw("BN", "moving_variance", (6,), rng))
                y = tf.compat.v1.nn.batch_normalization(y, mean, var, beta, gamma, 1e-3)
            y = tf.nn.relu(y)
        y = tf.nn.lrn(y, depth_radius=5, bias=1.0, alpha=0.1, beta=0.5, name="norm2")
        with tf.compat.v1.variable_scope("logits"):
            f = tf.reshape(y, [-1, 4 * 4 * 6])
            w = _var("weights", rw("Dense", "kernel", (96, 6), rng))
            f = tf.nn.bias_add(tf.matmul(f, w), _var("biases", rw("Dense", "bias", (6,), rng)))
        with tf.compat.v1.variable_scope("Predictions"):
            r = tf.reshape(f, [-1, 6], name="Reshape")
            p = tf.nn.softmax(r, name="Softmax")
            tf.reshape(p, tf.shape(f), name="Reshape_1")
    outputs = ["Predictions/Reshape_1"]
    with g.as_default(), tf.compat.v1.Session(graph=g) as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        frozen = _freeze(sess, outputs)
    keras_layers = {"Conv2D": 2, "ThawTfOp(LRN)": 2, "MaxPooling2D": 1, "BatchNormalization": 1,
                    "Dense": 1, "Softmax": 1}
    return frozen, [("input", [8, 8, 3])], outputs, keras_layers


CASES = {
    "tf1_keras_bn_dropout": ("tf1", 9101, build_tf1_keras_bn_dropout),
    "tf1_nn_lrn": ("tf1", 9102, build_tf1_nn_lrn),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="fixtures")
    ap.add_argument("--only", default="")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args(argv)
    if args.list:
        for name, (source, _, builder) in CASES.items():
            print(f"{name:28s} {source:6s} {' '.join((builder.__doc__ or '').split())}")
        return 0
    names = [n for n in args.only.split(",") if n] or list(CASES)
    for name in names:
        source, seed, builder = CASES[name]
        gen_fixtures.generate_case(name, source, seed, builder, os.path.join(args.out, name), script=SCRIPT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
