#!/usr/bin/env python3
"""Generate the recurrent-layer test graphs: tests/data/<case>.pb (lowered LSTM, GRU with and
without reset_after, and SimpleRNN loops, also with go_backwards, and with a fixed batch (k3_lstm_b1,
tk_gru_b2), convert and verify; so do the
functional While form (*_while: lower_control_flow=False), which thaw lowers at load, with a
dynamic batch and, *_while_b1/_b2 (k3_lstm_while_b1, tk_gru_while_b2, k3_bidi_while_b2,
k3_gru_v1_while_b1), a fixed batch of 1 or 2: TensorSpec([B, 5, 3]), so TF folds the batch into the loop's shapes).

How to run (from the repository root):

    PY=$(harness/setup_venv.sh | tail -n1)      # pinned TF 2.21 / Keras 3.15.1 / tf-keras 2.21
    $PY harness/gen_recurrent.py                 # every case into tests/data/
    $PY harness/gen_recurrent.py --list          # names + descriptions
    $PY harness/gen_recurrent.py --check         # regenerate in a temp dir, compare (see comparable())

Why these are not fixtures: they are small graphs for tests/recurrent.rs without reference
values; they are one-loop graphs for tests/recurrent.rs (thaw unrolls lowered loops for the
oracle; fixtures/*_lstm_seq, *_gru_rnn_seq and *_rnn_gru_v1 from gen_fixtures.py are the
recurrent fixtures with reference values). Keras
LSTM/GRU/SimpleRNN run their cell in a tf.while_loop; convert_variables_to_constants_v2 lowers it
to TF1 control flow (Enter/Merge/Switch/NextIteration/Exit/LoopCond) with TensorList* ops on
DT_VARIANT tensors, plus one `unused_control_flow_input*` Placeholder per loop variable that nothing
reads; with lower_control_flow=False it stays one While/StatelessWhile node with library functions.
tract runs neither as such; thaw lowers the While form into the lowered one at load
(src/graph/lower_while.rs) and unrolls the lowered form (a go_backwards loop has a ReverseV2
of the time-major sequence before it, which thaw's oracle adds to tract); tests/recurrent.rs
refuses a While carrying a DT_RESOURCE variable (made from k3_lstm_while) with exit 3.

Every case is Input(5, 3) -> Dense "proj" -> recurrent layer(s) -> Dense "head". Only the .pb is written (no io.npz: nothing
is compared); the script still runs each frozen graph in TensorFlow and checks it computes what the
Keras model computes, so the committed graphs are real, working models.

Determinism (the graphs are regenerated identically except for what TensorFlow itself varies,
see comparable()): a fixed seed per case (weights normal(0, 0.5), set explicitly), Keras sessions
cleared between cases, PYTHONHASHSEED=0 (tfcommon), nodes in a canonical topological order that
ignores the NextIteration back edges (the loop's only cycle), library functions renamed fn_0,
fn_1, ..., the `_has_manual_control_dependencies` tracing hint removed (present or not from run
to run), the unread unused_control_flow_input placeholders renumbered by content, deterministic
protobuf serialisation.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Callable, NamedTuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfcommon  # noqa: E402  (sets the TF environment before tensorflow is imported)
from tfcommon import log  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.python.framework.convert_to_constants import (  # noqa: E402
    convert_variables_to_constants_v2,
)

STEPS, FEATURES = 5, 3
# Frozen graph vs the Keras model, same process and kernels: only float re-association differs.
SELF_CHECK_ATOL = 1e-5


def _keras(source: str):
    if source == "keras3":
        import keras

        return keras
    import tf_keras

    return tf_keras


def one_layer(cls: str, **kwargs):
    def build(K):
        x = K.Input((STEPS, FEATURES), name="seq")
        h = K.layers.Dense(4, name="proj")(x)
        h = getattr(K.layers, cls)(6, name=cls.lower(), **kwargs)(h)
        y = K.layers.Dense(2, name="head")(h)
        return K.Model(x, y, name="model")

    args = "".join(f", {k}={v}" for k, v in kwargs.items())
    build.__doc__ = f"Dense -> {cls}(6{args}) -> Dense: one loop"
    return build


def two_layers(K):
    """Dense -> LSTM(6, return_sequences) -> GRU(4) -> Dense: two loops, one message each"""
    x = K.Input((STEPS, FEATURES), name="seq")
    h = K.layers.Dense(4, name="proj")(x)
    h = K.layers.LSTM(6, return_sequences=True, name="lstm")(h)
    h = K.layers.GRU(4, name="gru")(h)
    y = K.layers.Dense(2, name="head")(h)
    return K.Model(x, y, name="model")


def zero_output_mask(K):
    """int32 ids (5,) in [0, 5) (0 = padding) -> Embedding(5, 4, mask_zero) -> LSTM(6,
    return_sequences, zero_output_for_mask=True) -> Dense: a masked loop that writes zeros at
    masked steps outside a Bidirectional (refused)"""
    ids = K.Input((STEPS,), name="seq", dtype="int32")
    h = K.layers.Embedding(5, 4, mask_zero=True, name="embed")(ids)
    h = K.layers.LSTM(6, return_sequences=True, zero_output_for_mask=True, name="lstm")(h)
    y = K.layers.Dense(2, name="head")(h)
    return K.Model(ids, y, name="model")


def bidirectional(K):
    """Dense -> Bidirectional(LSTM(4, return_sequences), concat) -> Bidirectional(GRU(3), ave) -> Dense:
    four loops, two Keras layers"""
    x = K.Input((STEPS, FEATURES), name="seq")
    h = K.layers.Dense(4, name="proj")(x)
    h = K.layers.Bidirectional(K.layers.LSTM(4, return_sequences=True), name="bi_lstm")(h)
    h = K.layers.Bidirectional(K.layers.GRU(3), merge_mode="ave", name="bi_gru")(h)
    y = K.layers.Dense(2, name="head")(h)
    return K.Model(x, y, name="model")


def initial_state(K):
    """Dense -> LSTM(6, return_state) "encoder" -> LSTM(6) "decoder" on the same sequence, started
    from the encoder's final h and c (initial_state=[h, c]) -> Dense: the decoder's loop states
    start from the encoder's Exits, not zeros (refused)"""
    x = K.Input((STEPS, FEATURES), name="seq")
    h = K.layers.Dense(4, name="proj")(x)
    _, sh, sc = K.layers.LSTM(6, return_state=True, name="encoder")(h)
    d = K.layers.LSTM(6, name="decoder")(h, initial_state=[sh, sc])
    y = K.layers.Dense(2, name="head")(d)
    return K.Model(x, y, name="model")


def state_c_only(K):
    """Dense -> LSTM(6, return_state) "enc", only its final c read -> Dense: Keras 3 keeps every
    state's Exit (converts: return_state), tf-keras only the used one (refused: h is missing)"""
    x = K.Input((STEPS, FEATURES), name="seq")
    h = K.layers.Dense(4, name="proj")(x)
    _, _, c = K.layers.LSTM(6, return_state=True, name="enc")(h)
    y = K.layers.Dense(2, name="head")(c)
    return K.Model(x, y, name="model")


def bidi_state_half(K):
    """Dense -> Bidirectional(GRU(3, return_state)) "bi" -> Concatenate "cat" of its output and the
    forward h only -> Dense: Keras 3 keeps the backward h's Exit too (converts), tf-keras drops it
    (refused, naming the direction)"""
    x = K.Input((STEPS, FEATURES), name="seq")
    h = K.layers.Dense(4, name="proj")(x)
    y, hf, _ = K.layers.Bidirectional(K.layers.GRU(3, return_state=True), name="bi")(h)
    m = K.layers.Concatenate(name="cat")([y, hf])
    return K.Model(x, K.layers.Dense(2, name="head")(m), name="model")


def masked_state(K):
    """int32 ids (5,) in [0, 5) (0 = padding) -> Embedding(5, 4, mask_zero) -> LSTM(6,
    return_sequences, return_state) -> Concatenate of its final h and c -> Dense: a masked loop
    carries its previous output besides h and c; the states kept at masked steps are the layer's
    outputs 1 and 2"""
    ids = K.Input((STEPS,), name="seq", dtype="int32")
    h = K.layers.Embedding(5, 4, mask_zero=True, name="embed")(ids)
    _, sh, sc = K.layers.LSTM(6, return_sequences=True, return_state=True, name="lstm")(h)
    m = K.layers.Concatenate(name="cat")([sh, sc])
    return K.Model(ids, K.layers.Dense(2, name="head")(m), name="model")


masked_state.ids = 5
zero_output_mask.ids = 5  # an int32 (None, STEPS) input of ids in [0, 5)


# case -> (source, seed, builder, lower_control_flow[, batch]); batch None = dynamic (None, STEPS,
# FEATURES) input, an int = that fixed batch (the self-check then feeds that many rows).
_CASES = {
    "k3_lstm": ("keras3", 401, one_layer("LSTM"), True),
    "tk_lstm": ("tf_keras", 501, one_layer("LSTM"), True),
    "k3_gru": ("keras3", 402, one_layer("GRU"), True),
    "tk_gru": ("tf_keras", 502, one_layer("GRU"), True),
    "k3_simplernn": ("keras3", 403, one_layer("SimpleRNN"), True),
    "tk_simplernn": ("tf_keras", 503, one_layer("SimpleRNN"), True),
    "tk_lstm_gru": ("tf_keras", 504, two_layers, True),
    "k3_gru_v1": ("keras3", 405, one_layer("GRU", reset_after=False), True),
    "tk_gru_v1": ("tf_keras", 505, one_layer("GRU", reset_after=False), True),
    "k3_gru_back": ("keras3", 406, one_layer("GRU", go_backwards=True, return_sequences=True), True),
    "tk_lstm_back": ("tf_keras", 506, one_layer("LSTM", go_backwards=True), True),
    # The lowered form with a fixed batch (1, 2).
    "k3_lstm_b1": ("keras3", 413, one_layer("LSTM"), True, 1),
    "tk_gru_b2": ("tf_keras", 511, one_layer("GRU"), True, 2),
    # A mask_zero mask whose masked steps write zeros (zero_output_for_mask=True) alone: refused.
    "k3_lstm_zero_output_mask": ("keras3", 407, zero_output_mask, True),
    # A decoder LSTM started from an encoder's states (initial_state=[h, c]): refused.
    "k3_lstm_initial_state": ("keras3", 414, initial_state, True),
    "tk_lstm_initial_state": ("tf_keras", 509, initial_state, True),
    # return_state with some states unused: Keras 3 keeps their Exits, tf-keras prunes them.
    "k3_lstm_state_c": ("keras3", 415, state_c_only, True),
    # return_state on a masked loop (which also carries its previous output).
    "k3_lstm_masked_state": ("keras3", 417, masked_state, True),
    "tk_lstm_masked_state": ("tf_keras", 514, masked_state, True),
    "tk_lstm_state_c": ("tf_keras", 512, state_c_only, True),
    "k3_bidi_state_half": ("keras3", 416, bidi_state_half, True),
    "tk_bidi_state_half": ("tf_keras", 513, bidi_state_half, True),
    # Functional form: one StatelessWhile/While node per loop, cell in a library function;
    # thaw lowers it to the form above (src/graph/lower_while.rs).
    "k3_lstm_while": ("keras3", 404, one_layer("LSTM"), False),
    "tk_gru_while": ("tf_keras", 507, one_layer("GRU"), False),
    "k3_lstm_gru_while": ("keras3", 408, two_layers, False),
    "k3_bidi_while": ("keras3", 409, bidirectional, False),
    # The While form with a fixed batch: TF folds the batch into the loop's shapes (the
    # TensorList element shapes, the zero states) instead of reading it from the input.
    "k3_lstm_while_b1": ("keras3", 410, one_layer("LSTM"), False, 1),
    "tk_gru_while_b2": ("tf_keras", 508, one_layer("GRU"), False, 2),
    "k3_bidi_while_b2": ("keras3", 411, bidirectional, False, 2),
    # Keras 3's GRU without reset_after slices a part of its recurrent product it never reads
    # (TF prunes it from the body when it runs the function; so must thaw when it inlines it).
    "k3_gru_v1_while_b1": ("keras3", 412, one_layer("GRU", reset_after=False), False, 1),
}


class Case(NamedTuple):
    source: str
    seed: int
    builder: Callable
    lower: bool
    batch: int | None = None


CASES = {name: Case(*fields) for name, fields in _CASES.items()}


def canonical_function_names(graph_def):
    """Library functions renamed fn_0, fn_1, ... (sorted by their old name, which carries a
    process-wide counter), every reference updated (While cond/body and calls inside bodies)."""
    old = sorted(f.signature.name for f in graph_def.library.function)
    renames = {name: f"fn_{i}" for i, name in enumerate(old)}
    for f in graph_def.library.function:
        f.signature.name = renames[f.signature.name]
    for n in list(graph_def.node) + [n for f in graph_def.library.function for n in f.node_def]:
        for attr in n.attr.values():
            if attr.HasField("func") and attr.func.name in renames:
                attr.func.name = renames[attr.func.name]
    fns = sorted((tfcommon.copy_proto(f) for f in graph_def.library.function), key=lambda f: f.signature.name)
    del graph_def.library.function[:]
    graph_def.library.function.extend(fns)
    return graph_def


def comparable(graph_def) -> str:
    """What --check compares: the graph as text without what TensorFlow itself does not make
    reproducibly: the unread unused_control_flow_input placeholders (lowering emits a varying
    NUMBER of them from run to run: 16 or 19 for the same SimpleRNN) and the process-wide
    counter in the names of a While cond function's redundant arguments and of the constants a
    called function captures (tf-keras's Embedding lookup table: `embed/embedding_lookup/3108`)."""
    import re

    g = tfcommon.canonical_numbered_consts(tfcommon.copy_proto(graph_def))
    read = {i.lstrip("^").split(":")[0] for n in g.node for i in n.input}
    keep = [n for n in g.node if not (tfcommon.unused_placeholder(n) and n.name not in read)]
    del g.node[:]
    g.node.extend(keep)
    return re.sub(r"_\d+___redundant_placeholder", "___redundant_placeholder", str(g))


def generate(name: str, out_dir: str) -> str:
    source, seed, builder, lower, batch = CASES[name]
    K = _keras(source)
    K.backend.clear_session()
    K.utils.set_random_seed(seed)
    model = builder(K)
    rng = np.random.default_rng([seed, 0])
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights([rng.normal(0.0, 0.5, w.shape).astype(np.float32) for w in ws])
    ids = getattr(builder, "ids", None)
    if ids:
        spec = tf.TensorSpec([batch, STEPS], tf.int32, name="seq")
    else:
        spec = tf.TensorSpec([batch, STEPS, FEATURES], tf.float32, name="seq")
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=lower)
    graph_def = frozen.graph.as_graph_def()
    graph_def = tfcommon.canonical_loop_graph(graph_def)
    graph_def = canonical_function_names(graph_def)
    outputs = [t.name for t in frozen.outputs]

    rows = 2 if batch is None else batch
    if ids:
        x = np.random.default_rng([seed, 1]).integers(0, ids, (rows, STEPS)).astype(np.int32)
    else:
        x = np.random.default_rng([seed, 1]).uniform(-1, 1, (rows, STEPS, FEATURES)).astype(np.float32)
    got, _ = tfcommon.run_frozen(graph_def, {"seq": x}, outputs, all_tensors=False)
    want = np.asarray(model(x, training=False))
    err = float(np.max(np.abs(got[outputs[0]] - want)))
    if not err <= SELF_CHECK_ATOL:
        raise SystemExit(f"[{name}] frozen graph differs from the Keras model (max abs {err})")

    path = os.path.join(out_dir, f"{name}.pb")
    os.makedirs(out_dir, exist_ok=True)
    blob = graph_def.SerializeToString(deterministic=True)
    with open(path, "wb") as f:
        f.write(blob)
    hist = tfcommon.op_histogram(graph_def)
    loops = hist.get("LoopCond", 0) + hist.get("While", 0) + hist.get("StatelessWhile", 0)
    log(f"[{name}] {source}, batch {batch or 'None'}: {len(blob) / 1024:.1f} KB, {len(graph_def.node)} nodes, {loops} loop(s), "
        f"{hist.get('Placeholder', 0)} placeholders, self-check max abs {err:.2e}")
    return path


def _read(path: str):
    g = tf.compat.v1.GraphDef()
    with open(path, "rb") as f:
        g.ParseFromString(f.read())
    return g


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="tests/data", help="output folder (default: tests/data)")
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--check", action="store_true", help="regenerate into a temp dir; fail if any differs from --out")
    args = ap.parse_args(argv)
    if args.list:
        for name, (source, seed, builder, lower, batch) in CASES.items():
            form = "lowered" if lower else "While"
            rows = "None" if batch is None else str(batch)
            print(f"{name:24s} {source:9s} {form:8s} batch {rows:4s} {' '.join((builder.__doc__ or '').split())}")
        return 0
    names = [n for n in args.only.split(",") if n] or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        ap.error(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(CASES)}")
    if not args.check:
        for name in names:
            generate(name, args.out)
        return 0
    stale = []
    with tempfile.TemporaryDirectory(prefix="thaw-recurrent-") as tmp:
        for name in names:
            fresh = generate(name, tmp)
            committed = os.path.join(args.out, f"{name}.pb")
            if not os.path.isfile(committed) or comparable(_read(committed)) != comparable(_read(fresh)):
                stale.append(committed)
    for s in stale:
        print(f"stale: {s}")
    print(f"recurrent graphs: {len(names) - len(stale)} passed, {len(stale)} failed")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
