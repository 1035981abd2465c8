"""Generates MobileNetV2 (alpha 0.35, 96x96x3, weights=None, random BN statistics)
frozen from Keras 3 AND from tf-keras, with TensorFlow's value of every tensor, into
~/.cache/thaw/oracle/mnv2_{keras3,tfkeras}.{pb,npz} (too big to commit: ~7 MB each).
The oracle's ignored test `mobilenet_v2_matches_tensorflow` reads them.

Pinned versions: tensorflow-cpu==2.21.0, keras==3.15.1, tf-keras==2.21.0, numpy==2.4.6.
Run:  ~/.cache/thaw/venv/bin/python src/oracle/testdata/gen_mobilenet.py
"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
out = os.path.expanduser("~/.cache/thaw/oracle")
os.makedirs(out, exist_ok=True)
for flavour in ["keras3", "tfkeras"]:
    if flavour == "keras3":
        import keras as K
    else:
        import tf_keras as K
    K.utils.set_random_seed(7)
    m = K.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None)
    # random BN stats so batch norm is not an identity
    rng = np.random.default_rng(0)
    for l in m.layers:
        if "BatchNormalization" in type(l).__name__:
            g, b, mu, var = l.get_weights()
            l.set_weights([rng.uniform(0.5,1.5,g.shape).astype("f4"), rng.normal(0,.1,b.shape).astype("f4"),
                           rng.normal(0,.1,mu.shape).astype("f4"), rng.uniform(0.5,1.5,var.shape).astype("f4")])
    spec = tf.TensorSpec((1, 96, 96, 3), tf.float32, name="image")
    fn = tf.function(lambda image: m(image, training=False))
    fr = convert_variables_to_constants_v2(fn.get_concrete_function(spec))
    gd = fr.graph.as_graph_def()
    outs = [t.name for t in fr.outputs]
    x = np.random.default_rng(1).normal(0, 1, (1, 96, 96, 3)).astype("f4")
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    consumed = {t.name for op in g.get_operations() for t in op.inputs}
    fetch = [op.outputs[0].name for op in g.get_operations()
             if op.type not in ("Const", "Placeholder", "NoOp") and op.outputs and op.outputs[0].dtype == tf.float32]
    with tf.compat.v1.Session(graph=g) as s:
        y = s.run(outs, {"image:0": x})
        tv = s.run(fetch, {"image:0": x})
    open(f"{out}/mnv2_{flavour}.pb", "wb").write(gd.SerializeToString())
    np.savez(f"{out}/mnv2_{flavour}.npz", **{"input:image": x, **{"output:" + n: v for n, v in zip(outs, y)}, **{"tensor:" + n: v for n, v in zip(fetch, tv)}})
    print(flavour, len(gd.node), "nodes", sorted({n.op for n in gd.node}), outs)
