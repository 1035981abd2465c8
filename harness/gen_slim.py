#!/usr/bin/env python3
"""tf-slim nets frozen the TF1 way (issue 9, "TF1 family"): built with tf_slim 1.1.0 in TF1 graph
mode (`tf.compat.v1`, VariableV2 variables, `is_training=False`), given seeded random weights and
BatchNorm statistics, frozen with `graph_util.convert_variables_to_constants`.

    PY=$(bash harness/setup_venv.sh | tail -n1)
    $PY harness/gen_slim.py --out ~/.cache/thaw/slim                 # every net x {fused, unfused} x {b1, b2}
    $PY harness/gen_slim.py --out ~/.cache/thaw/slim --only inception_v3 --bn fused --batch 1
    $PY harness/gen_slim.py --out fixtures --committed               # the two small committed fixtures
    $PY harness/gen_slim.py --list
    $PY harness/gen_slim.py --out ~/.cache/thaw/slim --no-gen --verify   # thaw verify + both Kerases load the .h5

Each case folder is written like harness/gen_fixtures.py's (model.pb, io.npz, meta.json), named
`slim_<net>_<fused|unfused>_b<batch>`; then `thaw verify DIR/model.pb`. The input placeholder
`input` has the fixed batch (1 or 2) that the data has, as deployed slim graphs do.

Nets (tf_slim.nets where tf_slim has them; its own layers otherwise):
  inception_v1  -- tf_slim inception_v1_base at 64x64 (full depth) + the inception_v1 head with
                   its AvgPool sized to the final feature map (tf_slim's inception_v1 has no
                   global_pool and needs >= 193x193), Conv2d_0c_1x1, SpatialSqueeze, Predictions.
  inception_v2  -- tf_slim inception_v2 at 64x64, depth_multiplier 0.25 (separable stem).
  inception_v3  -- tf_slim inception_v3 at 96x96, depth_multiplier 0.25, no aux logits.
  resnet_v1     -- tf_slim resnet_v1 (bottleneck units, root block, projection shortcuts) with the
                   smallest block config: 4 blocks of 2 units, base depths 8/16/32/64, at 64x64.
  resnet_v2     -- the same with resnet_v2 (pre-activation, `Pad` + VALID strided convs).
  mobilenet_v1  -- MobileNet v1 as models/research/slim writes it (slim.separable_conv2d with
                   num_outputs=None + 1x1 slim.conv2d, relu6, same scope names), depth 0.25, 64x64.
  vgg_bn        -- VGG-style: slim.repeat of 3x3 conv2d + batch_norm, max_pool2d, flatten,
                   fully_connected + dropout, softmax, at 32x32.
Fused BN: slim.batch_norm(fused=True) -> FusedBatchNormV3; unfused: fused=False -> the
tf_keras legacy BatchNormalization layer's `batchnorm/Rsqrt, mul, sub, add` arithmetic. Inception
nets use scale=False (no gamma), as their arg scopes do; resnets scale=True.

Committed fixtures (--committed, small): slim_inception_v2_tiny (inception_v2_base up to Mixed_3b,
16x16, depth_multiplier 0.1, min_depth 8, unfused BN, batch 2) and slim_resnet_v2_tiny (resnet_v2,
two blocks of one unit, base depth 4, 12x12, fused BN, batch 1).

Weights: every variable gets a seeded value (tfcommon.random_weight: He-normal kernels, normal*0.3
biases/beta/moving_mean, gamma in [0.5, 1.5], moving_variance in [0.5, 2]) assigned after the
initializers ran under a fixed graph-level seed, so nothing is close to identity.

tf-slim 1.1.0 on TF 2.21 needs a shim (_tf_keras_legacy_shim): slim.batch_norm builds
`tensorflow.python.layers.normalization.BatchNormalization`, which TF 2.21 lazy-loads from
`tf_keras.legacy_tf_layers.normalization`, but tf-keras 2.21 ships that module as
`tf_keras.src.legacy_tf_layers.normalization` ("ModuleNotFoundError: No module named
'tf_keras.legacy_tf_layers'"). The shim aliases the module names in sys.modules; nothing else
changes.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfcommon  # noqa: E402
from tfcommon import log  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_v2_behavior()

import gen_fixtures  # noqa: E402

SCRIPT = "harness/gen_slim.py"


def _tf_keras_legacy_shim():
    """Alias tf_keras.legacy_tf_layers[.*] -> tf_keras.src.legacy_tf_layers[.*] (see the module doc)."""
    try:
        importlib.import_module("tf_keras.legacy_tf_layers.normalization")
        return
    except ModuleNotFoundError:
        pass
    pkg = importlib.import_module("tf_keras.src.legacy_tf_layers")
    sys.modules["tf_keras.legacy_tf_layers"] = pkg
    for sub in ("base", "convolutional", "core", "normalization", "pooling", "variable_scope_shim"):
        sys.modules[f"tf_keras.legacy_tf_layers.{sub}"] = importlib.import_module(
            f"tf_keras.src.legacy_tf_layers.{sub}"
        )


_tf_keras_legacy_shim()
import tf_slim as slim  # noqa: E402
from tf_slim.nets import inception_v1, inception_v2, inception_v3  # noqa: E402
from tf_slim.nets import resnet_utils, resnet_v1, resnet_v2  # noqa: E402


# --------------------------------------------------------------------------- net builders
# Each takes the input placeholder and returns the Predictions tensor; they are called inside
# the BN arg scope (fused or not) set by _build.


def net_inception_v1(x, num_classes=10):
    with slim.arg_scope(inception_v1.inception_v1_arg_scope()):
        with tf.compat.v1.variable_scope("InceptionV1", "InceptionV1", [x]) as scope:
            with slim.arg_scope([slim.batch_norm, slim.dropout], is_training=False):
                net, _ = inception_v1.inception_v1_base(x, scope=scope)
                with tf.compat.v1.variable_scope("Logits"):
                    k = net.get_shape().as_list()[1:3]
                    net = slim.avg_pool2d(net, k, stride=1, scope="AvgPool_0a_7x7")
                    net = slim.dropout(net, 0.8, scope="Dropout_0b")
                    logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                                         normalizer_fn=None, scope="Conv2d_0c_1x1")
                    logits = tf.squeeze(logits, [1, 2], name="SpatialSqueeze")
                    return slim.softmax(logits, scope="Predictions")


def net_inception_v2(x, num_classes=10):
    with slim.arg_scope(inception_v2.inception_v2_arg_scope()):
        _, end = inception_v2.inception_v2(x, num_classes=num_classes, is_training=False,
                                           depth_multiplier=0.25)
    return end["Predictions"]


def net_inception_v3(x, num_classes=10, fused=True):
    # its arg scope passes `fused` to batch_norm explicitly (over the outer arg scope)
    with slim.arg_scope(inception_v3.inception_v3_arg_scope(use_fused_batchnorm=fused)):
        _, end = inception_v3.inception_v3(x, num_classes=num_classes, is_training=False,
                                           depth_multiplier=0.25, create_aux_logits=False)
    return end["Predictions"]


def _resnet(module, block_fn, x, depths, units, num_classes, scope):
    blocks = [block_fn(f"block{i + 1}", base_depth=d, num_units=u, stride=1 if i == len(depths) - 1 else 2)
              for i, (d, u) in enumerate(zip(depths, units))]
    with slim.arg_scope(resnet_utils.resnet_arg_scope()):
        _, end = getattr(module, module.__name__.split(".")[-1])(
            x, blocks, num_classes=num_classes, is_training=False, global_pool=True,
            scope=scope)
    return end["predictions"]


def net_resnet_v1(x, num_classes=10):
    return _resnet(resnet_v1, resnet_v1.resnet_v1_block, x, [8, 16, 32, 64], [2, 2, 2, 2], num_classes,
                   "resnet_v1_small")


def net_resnet_v2(x, num_classes=10):
    return _resnet(resnet_v2, resnet_v2.resnet_v2_block, x, [8, 16, 32, 64], [2, 2, 2, 2], num_classes,
                   "resnet_v2_small")


# MobileNet v1's layer list as models/research/slim/nets/mobilenet_v1.py has it: (kind, stride, depth).
_MOBILENET_V1 = [("conv", 2, 32), ("sep", 1, 64), ("sep", 2, 128), ("sep", 1, 128), ("sep", 2, 256),
                 ("sep", 1, 256), ("sep", 2, 512), ("sep", 1, 512), ("sep", 2, 1024), ("sep", 1, 1024)]


def net_mobilenet_v1(x, num_classes=10, depth_multiplier=0.25, min_depth=8):
    """MobileNet v1 written as models/research/slim writes it (tf_slim has no mobilenet), with
    the same scopes: MobilenetV1/Conv2d_0, Conv2d_<i>_depthwise / _pointwise, Logits/AvgPool_1a,
    Logits/Conv2d_1c_1x1, Logits/SpatialSqueeze, Predictions."""
    depth = lambda d: max(int(d * depth_multiplier), min_depth)  # noqa: E731
    bn = {"is_training": False, "center": True, "scale": True, "decay": 0.9997, "epsilon": 0.001}
    with tf.compat.v1.variable_scope("MobilenetV1", "MobilenetV1", [x]):
        with slim.arg_scope([slim.conv2d, slim.separable_conv2d], normalizer_fn=slim.batch_norm,
                            normalizer_params=bn, activation_fn=tf.nn.relu6, padding="SAME"):
            net = x
            for i, (kind, stride, d) in enumerate(_MOBILENET_V1):
                if kind == "conv":
                    net = slim.conv2d(net, depth(d), [3, 3], stride=stride, scope=f"Conv2d_{i}")
                else:
                    net = slim.separable_conv2d(net, None, [3, 3], depth_multiplier=1, stride=stride,
                                                scope=f"Conv2d_{i}_depthwise")
                    net = slim.conv2d(net, depth(d), [1, 1], stride=1, scope=f"Conv2d_{i}_pointwise")
        with tf.compat.v1.variable_scope("Logits"):
            k = net.get_shape().as_list()[1:3]
            net = slim.avg_pool2d(net, k, padding="VALID", scope="AvgPool_1a")
            net = slim.dropout(net, keep_prob=0.999, is_training=False, scope="Dropout_1b")
            logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                                 scope="Conv2d_1c_1x1")
            logits = tf.squeeze(logits, [1, 2], name="SpatialSqueeze")
        return slim.softmax(logits, scope="Predictions")


def net_vgg_bn(x, num_classes=10):
    """VGG-style with batch norm: slim.repeat(conv2d 3x3 + BN + relu), max_pool2d, flatten,
    fully_connected + dropout twice, logits, softmax."""
    bn = {"is_training": False, "center": True, "scale": True, "epsilon": 1e-3}
    with tf.compat.v1.variable_scope("vgg_bn", "vgg_bn", [x]):
        with slim.arg_scope([slim.conv2d], normalizer_fn=slim.batch_norm, normalizer_params=bn,
                            activation_fn=tf.nn.relu, padding="SAME"):
            net = slim.repeat(x, 2, slim.conv2d, 16, [3, 3], scope="conv1")
            net = slim.max_pool2d(net, [2, 2], scope="pool1")
            net = slim.repeat(net, 2, slim.conv2d, 32, [3, 3], scope="conv2")
            net = slim.max_pool2d(net, [2, 2], scope="pool2")
            net = slim.conv2d(net, 32, [3, 3], scope="conv3")
            net = slim.max_pool2d(net, [2, 2], scope="pool3")
        net = slim.flatten(net, scope="flatten")
        net = slim.fully_connected(net, 64, scope="fc6")
        net = slim.dropout(net, 0.5, is_training=False, scope="dropout6")
        net = slim.fully_connected(net, 32, scope="fc7")
        net = slim.dropout(net, 0.5, is_training=False, scope="dropout7")
        logits = slim.fully_connected(net, num_classes, activation_fn=None, scope="fc8")
        return slim.softmax(logits, scope="Predictions")


def net_inception_v2_tiny(x, num_classes=6):
    """tf_slim inception_v2_base up to Mixed_3b (separable 7x7 stem, max pools, one Inception
    block with a 3x3 double branch and an avg-pool branch), depth_multiplier 0.1, min_depth 8, then
    a slim head: AvgPool over the map, Conv2d_1c_1x1 logits, SpatialSqueeze, Predictions."""
    with slim.arg_scope(inception_v2.inception_v2_arg_scope()):
        with tf.compat.v1.variable_scope("InceptionV2", "InceptionV2", [x]) as scope:
            with slim.arg_scope([slim.batch_norm], is_training=False):
                net, _ = inception_v2.inception_v2_base(x, final_endpoint="Mixed_3b", min_depth=8,
                                                        depth_multiplier=0.1, scope=scope)
                with tf.compat.v1.variable_scope("Logits"):
                    k = net.get_shape().as_list()[1:3]
                    net = slim.avg_pool2d(net, k, padding="VALID", scope="AvgPool_1a")
                    logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                                         normalizer_fn=None, scope="Conv2d_1c_1x1")
                    logits = tf.squeeze(logits, [1, 2], name="SpatialSqueeze")
                    return slim.softmax(logits, scope="Predictions")


def net_resnet_v2_tiny(x, num_classes=6):
    """tf_slim resnet_v2: root block (Pad + 7x7/2 VALID conv, max pool), two blocks of one
    bottleneck unit (base depth 4; pre-activation BN, projection shortcut, the second block's
    strided unit at the end of block 1), postnorm, global mean, logits, SpatialSqueeze."""
    return _resnet(resnet_v2, resnet_v2.resnet_v2_block, x, [4, 8], [1, 1], num_classes, "resnet_v2_tiny")


# name -> (seed, input H=W, builder, unit)
NETS = {
    "inception_v1": (9201, 64, net_inception_v1),
    "inception_v2": (9202, 64, net_inception_v2),
    "inception_v3": (9203, 96, net_inception_v3),
    "resnet_v1": (9204, 64, net_resnet_v1),
    "resnet_v2": (9205, 64, net_resnet_v2),
    "mobilenet_v1": (9206, 64, net_mobilenet_v1),
    "vgg_bn": (9207, 32, net_vgg_bn),
}
# committed fixture name -> (seed, H, builder, fused, batch)
COMMITTED = {
    "slim_inception_v2_tiny": (9211, 16, net_inception_v2_tiny, False, 2),
    "slim_resnet_v2_tiny": (9212, 12, net_resnet_v2_tiny, True, 1),
}


# --------------------------------------------------------------------------- weights, freezing


def _short(var_name: str) -> str:
    return var_name.split(":")[0].split("/")[-1]


def _random_value(v, rng):
    """tfcommon.random_weight for a slim variable, by its short name."""
    short, shape = _short(v.name), tuple(v.shape.as_list())
    mapping = {"weights": ("Conv2D" if len(shape) == 4 else "Dense", "kernel"),
               "depthwise_weights": ("DepthwiseConv2D", "depthwise_kernel"),
               "pointwise_weights": ("SeparableConv2D", "pointwise_kernel"),
               "biases": ("Conv2D", "bias")}
    cls, name = mapping.get(short, ("BatchNormalization", short))
    return tfcommon.random_weight(cls, name, shape, rng)


def keras_layer_histogram(graph_def) -> dict:
    """The Keras layers the slim net is made of, read from what slim put in the graph: one
    Conv2D per Conv2D op (slim.conv2d), SeparableConv2D for slim.separable_conv2d with
    num_outputs (depthwise + 1x1 Conv2D in one scope), DepthwiseConv2D for one without, Dense per
    MatMul (slim.fully_connected), BatchNormalization per FusedBatchNorm* or `batchnorm/Rsqrt`."""
    nodes = {n.name: n for n in graph_def.node}
    hist: dict = {}

    def add(k):
        hist[k] = hist.get(k, 0) + 1

    def separable(conv, dw):  # tf.nn.separable_conv2d: <scope>/separable_conv2d{,/depthwise}
        return conv.op == "Conv2D" and dw.op == "DepthwiseConv2dNative" and dw.name.startswith(conv.name + "/")

    for n in graph_def.node:
        if n.op == "Conv2D":
            src = nodes.get(n.input[0].split(":")[0])
            add("SeparableConv2D" if src is not None and separable(n, src) else "Conv2D")
        elif n.op == "DepthwiseConv2dNative":
            if not any(separable(m, n) for m in graph_def.node if m.input and m.input[0].split(":")[0] == n.name):
                add("DepthwiseConv2D")
        elif n.op == "MatMul":
            add("Dense")
        elif n.op.startswith("FusedBatchNorm") or (n.op == "Rsqrt" and re.search(r"/batchnorm(_\d+)?/Rsqrt$", n.name)):
            add("BatchNormalization")
    return dict(sorted(hist.items()))


def build(builder, hw: int, batch: int, fused: bool, rng, seed: int):
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.set_random_seed(seed)
        x = tf.compat.v1.placeholder(tf.float32, [batch, hw, hw, 3], name="input")
        with slim.arg_scope([slim.batch_norm], fused=fused):
            pred = builder(x, fused=fused) if builder is net_inception_v3 else builder(x)
        ops = {o.type for o in g.get_operations()}
        if ops & {"FusedBatchNorm", "FusedBatchNormV3"} and not fused:
            raise SystemExit(f"{builder.__name__}: unfused BatchNorm asked, the graph has FusedBatchNorm")
        if "Rsqrt" in ops and fused:
            raise SystemExit(f"{builder.__name__}: fused BatchNorm asked, the graph has the unfused arithmetic")
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for v in tf.compat.v1.global_variables():
                v.load(_random_value(v, rng), sess)
            frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
                sess, g.as_graph_def(), [pred.op.name])
    frozen = tfcommon.canonical_node_order(frozen)
    return frozen, [("input", [hw, hw, 3])], [pred.op.name], keras_layer_histogram(frozen)


def generate(name, seed, hw, builder, fused, batch, out_dir, budget_bytes, all_tensors):
    def case_builder(rng):
        return build(builder, hw, batch, fused, rng, seed)

    case_builder.__doc__ = (
        f"{builder.__doc__ or name} [{hw}x{hw}, {'fused' if fused else 'unfused'} BatchNorm, "
        f"fixed batch {batch}; built with tf_slim 1.1.0 by {SCRIPT}]")
    t0 = time.time()
    gen_fixtures.generate_case(name, "tf1", seed, case_builder, out_dir, script=SCRIPT,
                               budget_bytes=budget_bytes, all_tensors=all_tensors, fixed_batch=batch)
    log(f"[{name}] generated in {time.time() - t0:.1f} s")


def verify_table(case_dirs: list[str], thaw: str, out: str) -> tuple[str, bool]:
    """thaw verify on each case, then the real-Keras round trip of the .h5 files (harness/zoo.py's
    steps); returns (markdown table, every case passed)."""
    import json
    import subprocess

    import zoo

    rows = []
    for case_dir in case_dirs:
        name = os.path.basename(case_dir.rstrip("/"))
        with open(os.path.join(case_dir, "meta.json")) as f:
            meta = json.load(f)
        res = zoo.verify(thaw, case_dir, os.path.join(out, name))
        report = res.get("report") or {}
        verdict = {0: "PASS", 1: "FAIL", 2: "bad input", 3: "UNSUPPORTED", 4: "internal error", 5: "timeout"}.get(
            res["exit"], str(res["exit"]))
        if res["exit"] == 0 and report.get("verdict") == "drift":
            verdict = "DRIFT"
        _, max_any = zoo.worst_error(report)
        fid = zoo.fidelity(meta, report)
        bad = [layer["name"] for layer in report.get("layers", []) if layer.get("status") != "pass"]
        rows.append({"case": name, "exit": res["exit"], "verdict": verdict, "s": res["verify_s"], "max": max_any,
                     "layers": fid["reconstructed"], "failing": len(bad), "diff": fid["class_differences"],
                     "h5": os.path.join(out, name, "model.h5"), "io": os.path.join(case_dir, "io.npz"), "rt": {}})
        log(f"{name:32s} {verdict:12s} {res['verify_s']:7.2f} s  layers {fid['reconstructed']:4d}  "
            f"not passing {len(bad)}  max abs {zoo._fmt(max_any)}")
        if res["exit"] not in (0, 1):
            log("    " + "\n    ".join(res["stderr"]))
    checkable = [r for r in rows if os.path.isfile(r["h5"])]
    if checkable:
        rt_json = os.path.join(out, "roundtrip.json")
        subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "roundtrip.py"),
                        "--json", rt_json, "--pairs", *[f"{r['h5']}={r['io']}" for r in checkable]],
                       stdout=subprocess.DEVNULL)
        with open(rt_json) as f:
            by_h5 = {r["h5"]: r for r in rows}
            for res in json.load(f)["results"]:
                if res["h5"] in by_h5:
                    by_h5[res["h5"]]["rt"][res["framework"]] = (
                        f"ok {zoo._fmt(res['max_abs'])}" if res["ok"] else f"FAIL ({(res.get('detail') or '')[:60]})")
    lines = ["| case | verify | layers (not passing) | max abs (any layer) | verify time | Keras 3 | tf-keras | "
             "weighted classes vs slim |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['verdict']} | {r['layers']} ({r['failing']}) | {zoo._fmt(r['max'])} | "
                     f"{r['s']:.1f} s | {r['rt'].get('keras3', '-')} | {r['rt'].get('tf_keras', '-')} | "
                     f"{', '.join(d for d in r['diff'] if d.split()[0] in WEIGHTED_CLASSES) or 'same'} |")
    ok = all(r["exit"] == 0 and all(str(r["rt"].get(fw, "")).startswith("ok") for fw in ("keras3", "tf_keras"))
             for r in rows)
    return "\n".join(lines) + "\n", ok


# The classes keras_layer_histogram counts (the rest of a slim net has no Keras-side count to compare).
WEIGHTED_CLASSES = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Dense", "BatchNormalization")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.expanduser("~/.cache/thaw/slim"))
    ap.add_argument("--only", default="", help="comma-separated nets (default: all)")
    ap.add_argument("--bn", default="fused,unfused", help="fused, unfused or both (default)")
    ap.add_argument("--batch", default="1,2", help="fixed batches (default 1,2)")
    ap.add_argument("--committed", action="store_true", help="the small committed fixtures instead")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--verify", action="store_true",
                    help="then run thaw verify and the real-Keras round trip on each case; print the table")
    ap.add_argument("--no-gen", action="store_true", help="with --verify: use the cases already in --out")
    ap.add_argument("--thaw", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                   "target", "debug", "thaw"))
    ap.add_argument("--reports", default=None, help="with --verify: where reports go (default: a temporary folder)")
    ap.add_argument("--markdown", help="with --verify: also write the table to this file")
    args = ap.parse_args(argv)
    dirs = []
    if args.list:
        for name, (_, hw, b) in NETS.items():
            print(f"{name:14s} {hw}x{hw}  {' '.join((b.__doc__ or '').split())}")
        for name, (_, hw, b, fused, batch) in COMMITTED.items():
            print(f"{name:24s} {hw}x{hw} {'fused' if fused else 'unfused'} b{batch}  committed")
        return 0
    if args.committed:
        for name, (seed, hw, builder, fused, batch) in COMMITTED.items():
            if args.only and name not in args.only.split(","):
                continue
            dirs.append(os.path.join(args.out, name))
            if not args.no_gen:
                # every tensor is kept (tests/golden.rs compares each layer with it); 16x16 and 12x12 inputs keep them small
                generate(name, seed, hw, builder, fused, batch, dirs[-1], None, True)
        return finish(args, dirs)
    nets = [n for n in args.only.split(",") if n] or list(NETS)
    for net in nets:
        if net not in NETS:
            raise SystemExit(f"unknown net {net!r}; --list shows them")
        seed, hw, builder = NETS[net]
        for bn in [b for b in args.bn.split(",") if b]:
            if bn not in ("fused", "unfused"):
                raise SystemExit(f"--bn: {bn!r} is neither fused nor unfused")
            for batch in [int(b) for b in args.batch.split(",") if b]:
                name = f"slim_{net}_{bn}_b{batch}"
                dirs.append(os.path.join(args.out, name))
                if not args.no_gen:
                    # io.npz: inputs and outputs only (thaw verify runs the graph itself; roundtrip.py
                    # reads inputs and outputs); all tensors of a full net would be tens of MB.
                    generate(name, seed, hw, builder, bn == "fused", batch, dirs[-1], None, False)
    return finish(args, dirs)


def finish(args, dirs) -> int:
    if not args.verify:
        return 0
    import tempfile

    table, ok = verify_table(dirs, args.thaw, args.reports or tempfile.mkdtemp(prefix="thaw-slim-"))
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
