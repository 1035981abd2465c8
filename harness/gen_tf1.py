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
  tf1_rnn_* -- raw TF1 tf.compat.v1.nn.dynamic_rnn over LSTMCell, BasicLSTMCell, GRUCell and
      BasicRNNCell (TensorArray loop), the final state h or the flattened outputs into a matmul
      head; dynamic batch, and a fixed batch of 2 for the *_b2 ones. Committed, like the two above.
  tf1_static_rnn_* -- raw TF1 tf.compat.v1.nn.static_rnn (the cell copied per step in the graph,
      over tf.unstack(x, axis=1)) of LSTMCell, GRUCell and BasicRNNCell: the outputs stacked, the
      final state, the last output. Committed.
  tf1_multi_rnn_* -- raw TF1 dynamic_rnn over a MultiRNNCell of two cells (LSTMCell x2; GRUCell then
      BasicRNNCell). Committed.
  tf1_bidi_* -- raw TF1 tf.compat.v1.nn.bidirectional_dynamic_rnn (no sequence_length: the backward
      loop over ReverseV2(x, [1])) of LSTMCell (tf.concat(outputs, 2), dynamic batch), GRUCell (the
      two final h concatenated, batch 2) and GRUCell with the two outputs used apart (Keras's
      merge_mode=None, dynamic batch). Committed.
  tf1_block_lstm* -- tf.contrib.rnn.LSTMBlockFusedCell's fused BlockLSTM / BlockLSTMV2 over the
      time-major sequence (contrib is gone: written with tf.raw_ops as contrib wrote it), h transposed
      back or its last step; tf1_lstm_block_cell -- contrib's LSTMBlockCell (one LSTMBlockCell op
      per step) in a dynamic_rnn loop. Committed.
  --refused DIR writes the dynamic_rnn forms thaw refuses (peepholes, num_proj, cell_clip, final c,
      sequence_length, time_major, initial_state, a MultiRNNCell's lower cell's final state) as
      DIR/tf1_rnn_<variant>.pb, the static_rnn ones (sequence_length, initial_state, both the
      outputs and the state used, a time-major list, MultiRNNCell) as DIR/tf1_static_rnn_<variant>.pb
      and the BlockLSTM ones (peepholes, an active cell_clip) as DIR/tf1_block_lstm_<variant>.pb
      (committed in tests/data/, checked by tests/recurrent.rs).
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


class _LSTMBlockCell:
    """Stands for tf.contrib.rnn.LSTMBlockCell (gone with tf.contrib; built here on tf_keras's legacy
    LayerRNNCell, as contrib built it on rnn_cell_impl's): variables `kernel` [in + units, 4 units]
    and `bias` [4 units] in the cell's scope `lstm_cell`, one `LSTMBlockCell` op per step
    (forget_bias 1, cell_clip -1 = off, no peepholes: zero wci/wcf/wco constants, as contrib's
    `_lstm_block_cell` passes them), the state an LSTMStateTuple(cs, h)."""

    def __new__(cls, units):
        from tf_keras.src.layers.rnn import legacy_cells as LC

        class Cell(LC.LayerRNNCell):
            def __init__(self, units):
                super().__init__(name="lstm_cell")
                self._units = units

            @property
            def state_size(self):
                return LC.LSTMStateTuple(self._units, self._units)

            @property
            def output_size(self):
                return self._units

            def build(self, inputs_shape):
                n_in = inputs_shape[-1]
                self._kernel = self.add_weight("kernel", shape=[n_in + self._units, 4 * self._units])
                self._bias = self.add_weight("bias", shape=[4 * self._units],
                                             initializer=tf.compat.v1.zeros_initializer())
                self.built = True

            def call(self, inputs, state):
                cs_prev, h_prev = state
                zero = tf.constant(0, dtype=tf.float32, shape=[self._units])
                _, cs, _, _, _, _, h = tf.raw_ops.LSTMBlockCell(
                    x=inputs, cs_prev=cs_prev, h_prev=h_prev, w=self._kernel, wci=zero, wcf=zero,
                    wco=zero, b=self._bias, forget_bias=1.0, cell_clip=-1.0, use_peephole=False)
                return h, LC.LSTMStateTuple(cs, h)

        return Cell(units)


def _block_lstm(x_tm, units, rng, op="BlockLSTM", forget_bias=1.0, cell_clip=-1.0, peephole=False):
    """tf.contrib.rnn.LSTMBlockFusedCell's graph (contrib gone, written with tf.raw_ops as its
    LSTMBlockWrapper.call wrote it) over a time-major x (T static): variables `kernel`
    [in + units, 4 units] and `bias` in scope `lstm_fused_cell`, seq_len_max = cast(T, int64),
    zero cs/h of `zeros(stack([batch, units]))`, zero peephole weights unless `peephole`. Returns
    the op's outputs (i, cs, f, o, ci, co, h)."""
    rw = tfcommon.random_weight
    n_t, n_in = x_tm.shape[0], x_tm.shape[2]
    with tf.compat.v1.variable_scope("lstm_fused_cell"):
        w = _var("kernel", rw("Dense", "kernel", (n_in + units, 4 * units), rng))
        b = _var("bias", rw("Dense", "bias", (4 * units,), rng))
        if peephole:
            wci, wcf, wco = (_var(n, rw("Dense", "bias", (units,), rng)) for n in ("w_i_diag", "w_f_diag", "w_o_diag"))
        else:
            wci = wcf = wco = tf.zeros([units], dtype=tf.float32)
        zeros = tf.zeros(tf.stack([tf.shape(x_tm)[1], units]), dtype=tf.float32)
        seq_len_max = tf.cast(n_t, tf.int64)
        kw = dict(seq_len_max=seq_len_max, x=x_tm, cs_prev=zeros, h_prev=zeros, w=w, wci=wci, wcf=wcf,
                  wco=wco, b=b, cell_clip=cell_clip, use_peephole=peephole)
        if op == "BlockLSTM":
            return tf.raw_ops.BlockLSTM(forget_bias=forget_bias, **kw)
        return tf.raw_ops.BlockLSTMV2(**kw)


def _block_builder(op, head, batch):
    """A builder for one BlockLSTM case (see build_tf1_block_lstm)."""

    def build(rng):
        return build_tf1_block_lstm(rng, op, head, batch)

    build.__doc__ = (
        f"raw TF1 graph: input (batch {batch or 'dynamic'}, 5, 3) -> Transpose to time-major -> {op}"
        "(4 units, LSTMBlockFusedCell's form: zero state, seq_len_max T, cell_clip off"
        + (", forget_bias 1" if op == "BlockLSTM" else "")
        + ") -> "
        + ("h transposed back, flattened (5 steps)" if head == "outputs"
           else "the last step of h (contrib's Slice + Squeeze of the final state)")
        + " -> tf.matmul + bias_add head (3); every variable seeded random"
    )
    return build


def build_tf1_block_lstm(rng, op, head, batch):
    """tf.contrib.rnn.LSTMBlockFusedCell as it froze (Mozilla DeepSpeech's output_graph.pb holds one):
    the fused op over the whole time-major sequence."""
    units = 4
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [batch, 5, 3], name="input")
        x_tm = tf.transpose(x, [1, 0, 2], name="time_major")
        h = _block_lstm(x_tm, units, rng, op=op)[6]
        if head == "outputs":
            y = tf.reshape(tf.transpose(h, [1, 0, 2]), [-1, 5 * units], name="flatten")
            width = 5 * units
        else:
            y = tf.squeeze(tf.slice(h, [5 - 1, 0, 0], [1, -1, -1]), [0], name="last")
            width = units
        with tf.compat.v1.variable_scope("head"):
            w = _var("weights", tfcommon.random_weight("Dense", "kernel", (width, 3), rng))
            b = _var("biases", tfcommon.random_weight("Dense", "bias", (3,), rng))
            out = tf.nn.bias_add(tf.matmul(y, w), b, name="logits")
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            frozen = _freeze(sess, [out.op.name])
    keras_layers = {"LSTM": 1, "Dense": 1}
    if head in ("outputs", "apart"):
        keras_layers["Flatten"] = 1
    if head == "apart":
        keras_layers["Subtract"] = 1
    return frozen, [("input", [5, 3])], [out.op.name], keras_layers


def _rnn_builder(cell_class, units, head, batch):
    """A builder for one TF1 `dynamic_rnn` case (see build_tf1_rnn)."""

    def build(rng):
        return build_tf1_rnn(rng, cell_class, units, head, batch)

    build.__doc__ = (
        f"raw TF1 graph: input (batch {batch or 'dynamic'}, 5, 3) -> tf.compat.v1.nn.dynamic_rnn("
        f"{cell_class}({units}), dtype float32) (TensorArray loop, zero initial state) -> "
        + ("the final state h" if head == "state" else "the outputs flattened (5 steps)")
        + " -> tf.matmul + bias_add head (3); every variable (biases too) seeded random"
    )
    return build


def build_tf1_rnn(rng, cell_class, units, head, batch):
    """TF1 RNN cells as 2017-era code wrote them: dynamic_rnn over a batch-major input, the cell
    from tf.compat.v1.nn.rnn_cell (here tf_keras's legacy_cells, the same classes: with Keras 3 the
    tf.compat.v1 alias is not exported), variables assigned seeded random values, frozen with
    convert_variables_to_constants. head 'state': the final h (LSTMStateTuple.h) feeds the head;
    'outputs': the per-step outputs, flattened."""
    from tf_keras.src.layers.rnn import legacy_cells

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [batch, 5, 3], name="input")
        if cell_class == "LSTMBlockCell":
            cell = _LSTMBlockCell(units)
        else:
            cell = getattr(legacy_cells, cell_class)(units)
        outputs, state = tf.compat.v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
        if head == "state":
            y = state.h if isinstance(state, tuple) else state
            width = units
        else:
            y = tf.reshape(outputs, [-1, 5 * units], name="flatten")
            width = 5 * units
        with tf.compat.v1.variable_scope("head"):
            w = _var("weights", tfcommon.random_weight("Dense", "kernel", (width, 3), rng))
            b = _var("biases", tfcommon.random_weight("Dense", "bias", (3,), rng))
            out = tf.nn.bias_add(tf.matmul(y, w), b, name="logits")
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for v in cell.weights:
                kind = "bias" if "bias" in v.op.name else "kernel"
                shape = tuple(v.shape.as_list())
                v.load(tfcommon.random_weight("Dense", kind, shape, rng).astype(np.float32), sess)
            frozen = _freeze(sess, [out.op.name])
    keras = {"LSTMCell": "LSTM", "BasicLSTMCell": "LSTM", "LSTMBlockCell": "LSTM", "GRUCell": "GRU",
             "BasicRNNCell": "SimpleRNN"}
    keras_layers = {keras[cell_class]: 1, "Dense": 1}
    if head in ("outputs", "apart"):
        keras_layers["Flatten"] = 1
    if head == "apart":
        keras_layers["Subtract"] = 1
    return frozen, [("input", [5, 3])], [out.op.name], keras_layers


def _static_builder(cell_class, head, batch):
    """A builder for one TF1 `static_rnn` case (see build_tf1_static_rnn)."""

    def build(rng):
        return build_tf1_static_rnn(rng, cell_class, head, batch)

    what = {"stacked": "the outputs stacked (tf.stack axis 1) and flattened", "state": "the final state h",
            "last": "the last output (outputs[-1])"}[head]
    build.__doc__ = (
        f"raw TF1 graph: input (batch {batch or 'dynamic'}, 5, 3) -> tf.unstack(axis=1) -> "
        f"tf.compat.v1.nn.static_rnn({cell_class}(4), dtype float32) (one copy of the cell per step, "
        f"zero initial state) -> {what} -> tf.matmul + bias_add head (3); every variable seeded random"
    )
    return build


def _bidi_builder(cell_class, head, batch):
    """A builder for one TF1 `bidirectional_dynamic_rnn` case (see build_tf1_bidi)."""

    def build(rng):
        return build_tf1_bidi(rng, cell_class, head, batch)

    build.__doc__ = (
        f"raw TF1 graph: input (batch {batch or 'dynamic'}, 5, 3) -> tf.compat.v1.nn."
        f"bidirectional_dynamic_rnn({cell_class}(4), {cell_class}(4), dtype float32) (two TensorArray "
        "loops, the backward one over ReverseV2(x, [1]), no sequence_length) -> "
        + {"outputs": "tf.concat(outputs, 2) (the backward outputs reversed back), flattened (5 steps)",
           "apart": "the forward minus the backward outputs (used apart: Keras's merge_mode=None), "
                    "flattened (5 steps)",
           "state": "the two final states' h concatenated"}[head]
        + " -> tf.matmul + bias_add head (3); every variable (biases too) seeded random"
    )
    return build


def build_tf1_bidi(rng, cell_class, head, batch):
    """TF1 bidirectional_dynamic_rnn as its users wrote it: head 'outputs': tf.concat(outputs, 2) then
    flattened; 'state': tf.concat of the forward and backward final h (LSTMStateTuple.h)."""
    from tf_keras.src.layers.rnn import legacy_cells

    units = 4
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [batch, 5, 3], name="input")
        cells = [getattr(legacy_cells, cell_class)(units) for _ in range(2)]
        outputs, states = tf.compat.v1.nn.bidirectional_dynamic_rnn(*cells, x, dtype=tf.float32)
        if head == "outputs":
            y = tf.reshape(tf.concat(outputs, 2), [-1, 5 * 2 * units], name="flatten")
            width = 5 * 2 * units
        elif head == "apart":
            y = tf.reshape(tf.subtract(*outputs, name="diff"), [-1, 5 * units], name="flatten")
            width = 5 * units
        else:
            y = tf.concat([s.h if isinstance(s, tuple) else s for s in states], 1, name="states")
            width = 2 * units
        out = _head(y, width, rng)
    frozen = _seeded_freeze(g, cells, out, rng)
    keras_layers = {"Bidirectional": 1, "Dense": 1}
    if head in ("outputs", "apart"):
        keras_layers["Flatten"] = 1
    if head == "apart":
        keras_layers["Subtract"] = 1
    return frozen, [("input", [5, 3])], [out.op.name], keras_layers


def _head(y, width, rng):
    with tf.compat.v1.variable_scope("head"):
        w = _var("weights", tfcommon.random_weight("Dense", "kernel", (width, 3), rng))
        b = _var("biases", tfcommon.random_weight("Dense", "bias", (3,), rng))
        return tf.nn.bias_add(tf.matmul(y, w), b, name="logits")


def _seeded_freeze(g, cells, out, rng):
    """Seeded random values for the cells' variables (biases too), then the frozen graph."""
    with g.as_default(), tf.compat.v1.Session(graph=g) as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        for v in [w for c in cells for w in c.weights]:
            kind = "bias" if "bias" in v.op.name else "kernel"
            shape = tuple(v.shape.as_list())
            v.load(tfcommon.random_weight("Dense", kind, shape, rng).astype(np.float32), sess)
        return _freeze(sess, [out.op.name])


def build_tf1_static_rnn(rng, cell_class, head, batch):
    """TF1 static_rnn (the RNN unrolled in the graph, 2016-era tutorials): the batch-major input
    unstacked into 5 steps, one copy of the cell per step sharing its variables; head 'stacked': the
    outputs stacked batch-major and flattened; 'state': the final state h; 'last': outputs[-1]."""
    from tf_keras.src.layers.rnn import legacy_cells

    units = 4
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [batch, 5, 3], name="input")
        cell = getattr(legacy_cells, cell_class)(units)
        outputs, state = tf.compat.v1.nn.static_rnn(cell, tf.unstack(x, axis=1), dtype=tf.float32)
        if head == "stacked":
            y, width = tf.reshape(tf.stack(outputs, axis=1), [-1, 5 * units], name="flatten"), 5 * units
        elif head == "state":
            y, width = (state.h if isinstance(state, tuple) else state), units
        else:
            y, width = outputs[-1], units
        out = _head(y, width, rng)
    frozen = _seeded_freeze(g, [cell], out, rng)
    keras = {"LSTMCell": "LSTM", "BasicLSTMCell": "LSTM", "GRUCell": "GRU", "BasicRNNCell": "SimpleRNN"}
    keras_layers = {keras[cell_class]: 1, "Dense": 1}
    if head == "stacked":
        keras_layers["Flatten"] = 1
    return frozen, [("input", [5, 3])], [out.op.name], keras_layers


def _multi_builder(cell_classes, head, batch):
    """A builder for one TF1 `dynamic_rnn(MultiRNNCell)` case (see build_tf1_multi_rnn)."""

    def build(rng):
        return build_tf1_multi_rnn(rng, cell_classes, head, batch)

    cells = ", ".join(f"{c}(4)" for c in cell_classes)
    build.__doc__ = (
        f"raw TF1 graph: input (batch {batch or 'dynamic'}, 5, 3) -> tf.compat.v1.nn.dynamic_rnn("
        f"MultiRNNCell([{cells}]), dtype float32) (one TensorArray loop, the cells chained in its body) -> "
        + ("the last cell's final state h" if head == "state" else "the outputs flattened (5 steps)")
        + " -> tf.matmul + bias_add head (3); every variable seeded random"
    )
    return build


def build_tf1_multi_rnn(rng, cell_classes, head, batch):
    """TF1 MultiRNNCell: several cells stacked in ONE dynamic_rnn loop (scopes
    rnn/multi_rnn_cell/cell_<k>/...), each cell's new h the next one's input; head 'state': the last
    cell's final h; 'outputs': the (last cell's) outputs, flattened."""
    from tf_keras.src.layers.rnn import legacy_cells

    units = 4
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [batch, 5, 3], name="input")
        cells = [getattr(legacy_cells, c)(units) for c in cell_classes]
        outputs, state = tf.compat.v1.nn.dynamic_rnn(legacy_cells.MultiRNNCell(cells), x, dtype=tf.float32)
        if head == "state":
            last = state[-1]
            y, width = (last.h if isinstance(last, tuple) else last), units
        else:
            y, width = tf.reshape(outputs, [-1, 5 * units], name="flatten"), 5 * units
        out = _head(y, width, rng)
    frozen = _seeded_freeze(g, cells, out, rng)
    keras = {"LSTMCell": "LSTM", "BasicLSTMCell": "LSTM", "GRUCell": "GRU", "BasicRNNCell": "SimpleRNN"}
    keras_layers = {"Dense": 1}
    for c in cell_classes:
        keras_layers[keras[c]] = keras_layers.get(keras[c], 0) + 1
    if head in ("outputs", "apart"):
        keras_layers["Flatten"] = 1
    if head == "apart":
        keras_layers["Subtract"] = 1
    return frozen, [("input", [5, 3])], [out.op.name], keras_layers


CASES = {
    "tf1_keras_bn_dropout": ("tf1", 9101, build_tf1_keras_bn_dropout),
    "tf1_nn_lrn": ("tf1", 9102, build_tf1_nn_lrn),
    # TF1 RNN cells (issue 13): dynamic batch, and a fixed batch of 2 (_b2) for two of them.
    "tf1_rnn_lstm": ("tf1", 9103, _rnn_builder("LSTMCell", 6, "state", None)),
    "tf1_rnn_lstm_b2": ("tf1", 9103, _rnn_builder("LSTMCell", 6, "state", 2)),
    "tf1_rnn_basic_lstm_seq": ("tf1", 9104, _rnn_builder("BasicLSTMCell", 4, "outputs", None)),
    "tf1_rnn_gru_seq": ("tf1", 9105, _rnn_builder("GRUCell", 5, "outputs", None)),
    "tf1_rnn_gru_b2": ("tf1", 9106, _rnn_builder("GRUCell", 4, "state", 2)),
    "tf1_rnn_basic": ("tf1", 9107, _rnn_builder("BasicRNNCell", 4, "state", None)),
    "tf1_rnn_basic_seq_b2": ("tf1", 9108, _rnn_builder("BasicRNNCell", 4, "outputs", 2)),
    # static_rnn: the cell unrolled in the graph (one copy per step), converted to one layer.
    "tf1_static_rnn_lstm": ("tf1", 9111, _static_builder("LSTMCell", "stacked", None)),
    "tf1_static_rnn_gru_b2": ("tf1", 9112, _static_builder("GRUCell", "state", 2)),
    "tf1_static_rnn_basic": ("tf1", 9113, _static_builder("BasicRNNCell", "last", None)),
    # MultiRNNCell: several cells in one dynamic_rnn loop, converted to stacked layers.
    "tf1_multi_rnn_lstm": ("tf1", 9114, _multi_builder(("LSTMCell", "LSTMCell"), "state", None)),
    "tf1_multi_rnn_gru_basic_b2": ("tf1", 9115, _multi_builder(("GRUCell", "BasicRNNCell"), "outputs", 2)),
    # TF1 fused LSTM ops (issue 13): contrib's LSTMBlockFusedCell (BlockLSTM, BlockLSTMV2) and
    # LSTMBlockCell in a dynamic_rnn loop.
    "tf1_bidi_lstm": ("tf1", 9116, _bidi_builder("LSTMCell", "outputs", None)),
    "tf1_bidi_gru_b2": ("tf1", 9117, _bidi_builder("GRUCell", "state", 2)),
    "tf1_bidi_gru_apart": ("tf1", 9118, _bidi_builder("GRUCell", "apart", None)),
    "tf1_block_lstm": ("tf1", 9111, _block_builder("BlockLSTM", "outputs", None)),
    "tf1_block_lstm_b2": ("tf1", 9112, _block_builder("BlockLSTM", "last", 2)),
    "tf1_block_lstm_v2": ("tf1", 9113, _block_builder("BlockLSTMV2", "outputs", None)),
    "tf1_lstm_block_cell": ("tf1", 9114, _rnn_builder("LSTMBlockCell", 4, "state", None)),
}


def build_tf1_rnn_refused(variant):
    """A dynamic_rnn graph thaw must refuse (exit 3, the reason named): returns the frozen GraphDef.
    Input (None, 5, 3) -> dynamic_rnn -> the tensor named below -> matmul head 'logits'."""
    from tf_keras.src.layers.rnn import legacy_cells as LC

    rng = np.random.default_rng(9199)
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.set_random_seed(9199)  # the cells' own initialisers: same graph every run
        x = tf.compat.v1.placeholder(tf.float32, [None, 5, 3], name="input")

        def dyn(cell, **kw):
            return tf.compat.v1.nn.dynamic_rnn(cell, x, dtype=tf.float32, **kw)

        if variant == "peephole":
            y = dyn(LC.LSTMCell(4, use_peepholes=True))[1].h
        elif variant == "num_proj":
            y = dyn(LC.LSTMCell(4, num_proj=4))[1].h
        elif variant == "cell_clip":
            y = dyn(LC.LSTMCell(4, cell_clip=1.0))[1].h
        elif variant == "final_c":
            y = dyn(LC.LSTMCell(4))[1].c
        elif variant == "seq_len":
            y = dyn(LC.GRUCell(4), sequence_length=tf.fill([tf.shape(x)[0]], 5))[1]
        elif variant == "time_major":
            y = dyn(LC.GRUCell(4), time_major=True)[1]
        elif variant == "initial_state":
            y = dyn(LC.GRUCell(4), initial_state=tf.ones([tf.shape(x)[0], 4]))[1]
        elif variant == "multi_lower_state":
            # Alone, the lower cell's state would prune the upper cell away: both are used.
            state = dyn(LC.MultiRNNCell([LC.BasicRNNCell(4), LC.BasicRNNCell(4)]))[1]
            y = state[0] + state[1]
        elif variant == "bidi_seq_len":
            # bidirectional_dynamic_rnn with sequence_length: ReverseSequence, Selects in the loops.
            _, (fw, bw) = tf.compat.v1.nn.bidirectional_dynamic_rnn(
                LC.GRUCell(4), LC.GRUCell(4), x, sequence_length=tf.fill([tf.shape(x)[0]], 5),
                dtype=tf.float32)
            y = fw + bw
        elif variant == "bidi_mixed":
            # Forward and backward cells of different classes: no Keras Bidirectional.
            _, (fw, bw) = tf.compat.v1.nn.bidirectional_dynamic_rnn(
                LC.LSTMCell(4), LC.GRUCell(4), x, dtype=tf.float32)
            y = tf.concat([fw.h, bw], 1) @ tf.ones([8, 4])
        else:
            raise SystemExit(f"unknown refused variant {variant}")
        w = _var("head_w", tfcommon.random_weight("Dense", "kernel", (4, 3), rng))
        tf.matmul(y, w, name="logits")
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            return _freeze(sess, ["logits"])


# Graphs thaw refuses (tests/recurrent.rs checks each reason): written as tests/data/tf1_rnn_<v>.pb.
REFUSED = ("peephole", "num_proj", "cell_clip", "final_c", "seq_len", "time_major", "initial_state",
           "multi_lower_state", "bidi_seq_len", "bidi_mixed")


def build_tf1_static_rnn_refused(variant):
    """A static_rnn graph thaw must refuse (exit 3, the reason at the Unpack): returns the frozen
    GraphDef. Input (None, 5, 3) (time_major: (5, None, 3)) -> tf.unstack -> static_rnn -> the tensor
    named below -> matmul head 'logits'."""
    from tf_keras.src.layers.rnn import legacy_cells as LC

    rng = np.random.default_rng(9198)
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.set_random_seed(9198)  # the cells' own initialisers: same graph every run
        shape = [5, 2, 3] if variant == "time_major" else [None, 5, 3]  # time-major: batch 2 fixed
        x = tf.compat.v1.placeholder(tf.float32, shape, name="input")
        steps = tf.unstack(x, axis=0 if variant == "time_major" else 1)

        def static(cell, **kw):
            return tf.compat.v1.nn.static_rnn(cell, steps, dtype=tf.float32, **kw)

        if variant == "seq_len":
            y = static(LC.GRUCell(4), sequence_length=tf.fill([tf.shape(x)[0]], 5))[1]
        elif variant == "initial_state":
            y = static(LC.GRUCell(4), initial_state=tf.ones([tf.shape(x)[0], 4]))[1]
        elif variant == "state_and_outputs":
            outputs, state = static(LC.BasicRNNCell(4))
            y = tf.concat([tf.reduce_mean(tf.stack(outputs, axis=1), axis=1), state], 1)[:, :4]
        elif variant == "time_major":
            y = static(LC.BasicRNNCell(4))[1]
        elif variant == "multi":
            y = static(LC.MultiRNNCell([LC.BasicRNNCell(4), LC.BasicRNNCell(4)]))[1][1]
        else:
            raise SystemExit(f"unknown refused static_rnn variant {variant}")
        w = _var("head_w", tfcommon.random_weight("Dense", "kernel", (4, 3), rng))
        tf.matmul(y, w, name="logits")
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            return _freeze(sess, ["logits"])


# static_rnn graphs thaw refuses: written as tests/data/tf1_static_rnn_<v>.pb.
STATIC_REFUSED = ("seq_len", "initial_state", "state_and_outputs", "time_major", "multi")


def build_tf1_block_lstm_refused(variant):
    """A BlockLSTM graph thaw must refuse (exit 3, the reason named): input (None, 5, 3) -> Transpose
    -> BlockLSTM (4 units) -> h transposed back -> head 'logits'. 'peephole': use_peephole with
    seeded non-zero wci/wcf/wco; 'cell_clip': the op's default cell_clip 3.0 left on."""
    rng = np.random.default_rng(9198)
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 5, 3], name="input")
        x_tm = tf.transpose(x, [1, 0, 2], name="time_major")
        if variant == "peephole":
            h = _block_lstm(x_tm, 4, rng, peephole=True)[6]
        elif variant == "cell_clip":
            h = _block_lstm(x_tm, 4, rng, cell_clip=3.0)[6]
        else:
            raise SystemExit(f"unknown refused variant {variant}")
        y = tf.reshape(tf.transpose(h, [1, 0, 2]), [-1, 5 * 4])
        w = _var("head_w", tfcommon.random_weight("Dense", "kernel", (5 * 4, 3), rng))
        tf.matmul(y, w, name="logits")
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            return _freeze(sess, ["logits"])


# BlockLSTM graphs thaw refuses: written as tests/data/tf1_block_lstm_<v>.pb.
BLOCK_REFUSED = ("peephole", "cell_clip")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="fixtures")
    ap.add_argument("--only", default="")
    ap.add_argument("--list", action="store_true")
    ap.add_argument(
        "--refused",
        metavar="DIR",
        help="write the dynamic_rnn and static_rnn graphs thaw refuses (REFUSED, STATIC_REFUSED) as "
        "DIR/tf1_rnn_<variant>.pb and DIR/tf1_static_rnn_<variant>.pb and exit",
    )
    args = ap.parse_args(argv)
    if args.refused:
        for v in REFUSED:
            path = os.path.join(args.refused, f"tf1_rnn_{v}.pb")
            with open(path, "wb") as f:
                f.write(build_tf1_rnn_refused(v).SerializeToString(deterministic=True))
            log(f"[tf1_rnn_{v}] {path}")
        for v in STATIC_REFUSED:
            path = os.path.join(args.refused, f"tf1_static_rnn_{v}.pb")
            with open(path, "wb") as f:
                f.write(build_tf1_static_rnn_refused(v).SerializeToString(deterministic=True))
            log(f"[tf1_static_rnn_{v}] {path}")
        for v in BLOCK_REFUSED:
            path = os.path.join(args.refused, f"tf1_block_lstm_{v}.pb")
            with open(path, "wb") as f:
                f.write(build_tf1_block_lstm_refused(v).SerializeToString(deterministic=True))
            log(f"[tf1_block_lstm_{v}] {path}")
        return 0
    if args.list:
        for name, (source, _, builder) in CASES.items():
            print(f"{name:28s} {source:6s} {' '.join((builder.__doc__ or '').split())}")
        return 0
    names = [n for n in args.only.split(",") if n] or list(CASES)
    for name in names:
        source, seed, builder = CASES[name]
        fixed = 2 if name.endswith("_b2") else None  # the data batch; the builder fixes the graph's
        gen_fixtures.generate_case(
            name, source, seed, builder, os.path.join(args.out, name), script=SCRIPT, fixed_batch=fixed
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
