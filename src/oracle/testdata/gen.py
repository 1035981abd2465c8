"""Generates the tiny frozen graphs the oracle's unit tests run.

Pinned versions (those of harness/requirements.txt): tensorflow-cpu==2.21.0,
keras==3.15.1, tf-keras==2.21.0, numpy==2.4.6. Seeds are fixed, so re-running
this script reproduces the committed files.

Run:  TF_CPP_MIN_LOG_LEVEL=3 ~/.cache/thaw/venv/bin/python src/oracle/testdata/gen.py

For every case it writes `<case>.pb` (a frozen GraphDef) and `<case>.npz` with the
same keys as the project fixtures:
  input:<placeholder>   the input fed to TensorFlow
  output:<tensor>       the graph outputs (what the model returns)
  tensor:<tensor>       TensorFlow's value of every float tensor that is not a Const
Cases:
  keras3   Keras 3 model frozen with convert_variables_to_constants_v2
           (BatchNormalization -> Rsqrt/Mul/Sub/AddV2, bias -> Reshape/BiasAdd ...)
  tfkeras  the same model built with tf-keras (FusedBatchNormV3, ...)
  tf1      hand-written TF1-style graph: FusedBatchNorm (V1), Pad with int32 and
           int64 paddings, Conv2D EXPLICIT padding, IdentityN, StopGradient,
           Squeeze, Reshape -1, Shape/StridedSlice/Pack, Sqrt, RealDiv, ...
  fused_lstm  TF1's fused LSTM ops where thaw's conversion refuses but its oracle
           must still be right (src/oracle/ops/block_lstm.rs): BlockLSTM and
           BlockLSTMV2 with peepholes, an active cell_clip (0.3) and a non-zero
           initial state, BlockLSTM with seq_len_max 3 < T (only cs and h are
           recorded: TF leaves the other outputs uninitialised past it), one
           LSTMBlockCell step likewise; every output of each consumed, so all
           seven are recorded. Input x (2, 5, 3).
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import (
    convert_variables_to_constants_v2,
)

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPE = (1, 12, 12, 3)


def build(K):
    """The same small functional model for Keras 3 (K=keras) and tf-keras."""
    L = K.layers
    x = L.Input(shape=SHAPE[1:], batch_size=1, name="image")
    y = L.ZeroPadding2D(((1, 0), (0, 1)))(x)
    y = L.Conv2D(4, 3, strides=2, padding="valid")(y)
    y = L.BatchNormalization(epsilon=1e-3)(y)
    y = L.ReLU()(y)
    d = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, use_bias=True)(y)
    d = L.BatchNormalization()(d)
    d = L.ReLU(max_value=6.0)(d)
    c = L.Conv2D(8, 3, padding="same", dilation_rate=2, activation="sigmoid")(y)
    y = L.Add()([d, c])
    s = L.Subtract()([d, c])
    m = L.Multiply()([y, s])
    y = L.Maximum()([m, L.Minimum()([y, s])])
    a = L.MaxPooling2D(2, padding="same")(y)
    b = L.AveragePooling2D(2, padding="same")(y)
    y = L.Concatenate()([a, b])
    y = L.Conv2D(6, 1, activation="tanh")(y)
    sm = L.Softmax(axis=-1)(y)  # softmax over channels of a rank-4 tensor
    g = L.GlobalAveragePooling2D()(sm)
    f = L.Flatten()(y)
    f = L.Dense(5, activation="relu")(f)
    r = L.Reshape((2, 3))(L.Dense(6)(g))
    r = L.Flatten()(r)
    out = L.Dense(4, activation="softmax")(L.Concatenate()([f, r]))
    return K.Model(x, out)


def randomize(model, rng):
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        new = []
        for w in ws:
            v = rng.normal(0.0, 0.5, w.shape).astype(np.float32)
            new.append(v)
        if "batch_normalization" in layer.name:
            new[3] = rng.uniform(0.5, 2.0, ws[3].shape).astype(np.float32)
        layer.set_weights(new)


def freeze_keras(model):
    spec = tf.TensorSpec(SHAPE, tf.float32, name="image")
    fn = tf.function(lambda image: model(image, training=False))
    frozen = convert_variables_to_constants_v2(fn.get_concrete_function(spec))
    gd = frozen.graph.as_graph_def()
    return gd, [t.name for t in frozen.outputs]


def tf1_graph(rng):
    g = tf.Graph()
    with g.as_default():
        c = lambda a: tf.constant(np.asarray(a, dtype=np.float32))
        x = tf.compat.v1.placeholder(tf.float32, SHAPE, name="x")
        p32 = tf.pad(x, tf.constant([[0, 0], [1, 1], [2, 0], [0, 0]], tf.int32), name="pad32")
        w = c(rng.normal(0, 0.5, (3, 3, 3, 4)))
        y = tf.nn.conv2d(p32, w, strides=2, padding="VALID", name="conv_valid")
        scale, offset = c(rng.uniform(0.5, 1.5, 4)), c(rng.normal(0, 0.5, 4))
        mean, var = c(rng.normal(0, 0.5, 4)), c(rng.uniform(0.5, 2, 4))
        bn = tf.raw_ops.FusedBatchNorm(x=y, scale=scale, offset=offset, mean=mean,
                                       variance=var, epsilon=1e-3, is_training=False,
                                       name="bn_v1")
        y = tf.nn.relu(bn.y, name="relu")
        bn3 = tf.raw_ops.FusedBatchNormV3(x=y, scale=scale, offset=offset, mean=mean,
                                          variance=var, epsilon=1e-5, is_training=False,
                                          name="bn_v3")
        y = tf.nn.relu6(bn3.y, name="relu6")
        wd = c(rng.normal(0, 0.5, (3, 3, 4, 4)))
        y = tf.raw_ops.Conv2D(input=y, filter=wd, strides=[1, 1, 1, 1], padding="SAME",
                              dilations=[1, 2, 2, 1], name="conv_dilated")
        y = tf.nn.elu(y, name="elu")
        p64 = tf.pad(y, tf.constant([[0, 0], [1, 0], [0, 1], [0, 0]], tf.int64), name="pad64")
        w2 = c(rng.normal(0, 0.5, (2, 2, 4, 5)))
        y = tf.raw_ops.Conv2D(input=p64, filter=w2, strides=[1, 1, 1, 1], padding="EXPLICIT",
                              explicit_paddings=[0, 0, 1, 2, 0, 1, 0, 0], name="conv_explicit")
        y = tf.nn.bias_add(y, c(rng.normal(0, 0.5, 5)), name="bias")
        ids = tf.raw_ops.IdentityN(input=[y, tf.nn.sigmoid(y, name="sig")], name="idn")
        y = tf.add(ids[0], ids[1], name="add_idn")
        y = tf.stop_gradient(y, name="stopgrad")
        w3 = c(rng.normal(0, 0.5, (3, 3, 5, 1)))
        y = tf.raw_ops.DepthwiseConv2dNative(input=y, filter=w3, strides=[1, 1, 1, 1],
                                             padding="SAME", dilations=[1, 2, 2, 1],
                                             name="dw_dil")
        y = tf.sqrt(tf.abs(y) + 0.1, name="sqrt")
        y = tf.math.rsqrt(y, name="rsqrt") - tf.math.minimum(y, c(0.8), name="min")
        y = tf.math.truediv(y, c(np.full(5, 1.7)), name="div")
        y = tf.nn.max_pool2d(y, 3, 2, "SAME", name="maxpool")
        y = tf.nn.avg_pool2d(y, 2, 1, "VALID", name="avgpool")
        m = tf.reduce_mean(y, axis=[1, 2], keepdims=True, name="mean")
        y = tf.squeeze(m, axis=[1, 2], name="squeeze")
        e = tf.expand_dims(y, -1, name="expand")
        sh = tf.shape(e, name="shape")
        n = tf.strided_slice(sh, [0], [1], [1], shrink_axis_mask=1, name="batch")
        r = tf.reshape(e, tf.stack([n, -1], name="pack"), name="reshape_pack")
        r = tf.reshape(r, [-1, 5], name="reshape_m1")
        h = tf.matmul(r, c(rng.normal(0, 0.5, (5, 3))), name="matmul")
        h = tf.concat([h, tf.tanh(h, name="tanh")], axis=1, name="concat")
        h = tf.maximum(h, c(-0.2), name="max")
        h = tf.nn.softmax(h, name="softmax")
        tf.identity(h, name="out")
    return g.as_graph_def(), ["out:0"]


def fused_lstm_graph(rng):
    """See the module docstring (case fused_lstm)."""
    g = tf.Graph()

    def c(a, dt=tf.float32):
        return tf.constant(np.asarray(a, dtype=dt.as_numpy_dtype))

    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (2, 5, 3), name="x")
        x_tm = tf.transpose(x, [1, 0, 2], name="x_tm")
        units = 4

        def weights():
            return dict(
                cs_prev=c(rng.normal(0, 0.5, (2, units))),
                h_prev=c(rng.normal(0, 0.5, (2, units))),
                w=c(rng.normal(0, 0.5, (3 + units, 4 * units))),
                wci=c(rng.normal(0, 0.5, units)),
                wcf=c(rng.normal(0, 0.5, units)),
                wco=c(rng.normal(0, 0.5, units)),
                b=c(rng.normal(0, 0.5, 4 * units)),
            )

        seq = c(5, tf.int64)
        v1 = tf.raw_ops.BlockLSTM(seq_len_max=seq, x=x_tm, forget_bias=0.7, cell_clip=0.3,
                                  use_peephole=True, name="block_v1", **weights())
        v2 = tf.raw_ops.BlockLSTMV2(seq_len_max=seq, x=x_tm, cell_clip=0.3, use_peephole=True,
                                    name="block_v2", **weights())
        short = tf.raw_ops.BlockLSTM(seq_len_max=c(3, tf.int64), x=x_tm, forget_bias=1.0,
                                     cell_clip=-1.0, use_peephole=False, name="block_short",
                                     **weights())
        cell = tf.raw_ops.LSTMBlockCell(x=x_tm[0], forget_bias=0.7, cell_clip=0.3,
                                        use_peephole=True, name="block_cell", **weights())
        parts = [tf.reduce_sum(t) for t in list(v1) + list(v2) + list(cell)]
        parts += [tf.reduce_sum(short.cs), tf.reduce_sum(short.h)]
        tf.identity(tf.add_n(parts), name="out")
    return g.as_graph_def(), ["out:0"]


def record(name, gd, outputs, feed_name, rng, shape=SHAPE, skip=()):
    # Round-trip through bytes so that the values come from the exact graph written.
    raw = gd.SerializeToString()
    gd2 = tf.compat.v1.GraphDef.FromString(raw)
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.import_graph_def(gd2, name="")
    x = rng.normal(0, 1, shape).astype(np.float32)
    # Slot 0 of every op, plus the other slots something consumes (TF's grappler
    # rewrites an inference FusedBatchNorm so its unused side outputs cannot be fetched).
    consumed = {t.name for op in g.get_operations() for t in op.inputs}
    fetch = []
    for op in g.get_operations():
        if op.type in ("Const", "Placeholder", "NoOp"):
            continue
        for i, t in enumerate(op.outputs):
            if t.dtype == tf.float32 and (i == 0 or t.name in consumed) and t.name not in skip:
                fetch.append(t.name)
    with tf.compat.v1.Session(graph=g) as sess:
        vals = sess.run(fetch + outputs, {feed_name + ":0": x})
    data = {"input:" + feed_name: x}
    for n, v in zip(fetch, vals[: len(fetch)]):
        data["tensor:" + n] = np.asarray(v, dtype=np.float32)
    for n, v in zip(outputs, vals[len(fetch):]):
        data["output:" + n] = np.asarray(v, dtype=np.float32)
    with open(os.path.join(HERE, name + ".pb"), "wb") as f:
        f.write(raw)
    np.savez(os.path.join(HERE, name + ".npz"), **data)
    ops = sorted({n.op for n in gd.node})
    print(f"{name}: {len(gd.node)} nodes, {len(raw)} bytes, ops={ops}")


def main():
    which = sys.argv[1:] or ["keras3", "tfkeras", "tf1"]
    for name in which:
        rng = np.random.default_rng(1234)
        tf.keras.utils.set_random_seed(1234)
        if name == "keras3":
            import keras
            m = build(keras)
            randomize(m, rng)
            gd, outs = freeze_keras(m)
            record(name, gd, outs, "image", rng)
        elif name == "tfkeras":
            import tf_keras
            m = build(tf_keras)
            randomize(m, rng)
            gd, outs = freeze_keras(m)
            record(name, gd, outs, "image", rng)
        elif name == "tf1":
            gd, outs = tf1_graph(rng)
            record(name, gd, outs, "x", rng)
        elif name == "fused_lstm":
            gd, outs = fused_lstm_graph(rng)
            # Past seq_len_max TF leaves i, f, o, ci, co unset: only cs and h are defined.
            skip = [f"block_short:{k}" for k in (0, 2, 3, 4, 5)]
            record(name, gd, outs, "x", rng, shape=(2, 5, 3), skip=skip)
            cs = np.load(os.path.join(HERE, "fused_lstm.npz"))["tensor:block_v1:1"]
            print(f"fused_lstm: {np.mean(np.isclose(np.abs(cs), 0.3)):.0%} of block_v1's cs clipped")


if __name__ == "__main__":
    main()
