"""Shared helpers for thaw's fixture generators (gen_fixtures.py, gen_zoo.py).

What lives here:
  * quiet_tf()            -- environment set-up done before TensorFlow is imported
                             (quiet logs, oneDNN off so CPU kernels are reproducible).
  * randomize_weights()   -- seeded, non-trivial weights for every layer of a Keras 3 or
                             tf-keras model (BatchNormalization statistics included).
  * freeze_keras()        -- TensorFlow's own freezing of a Keras model:
                             tf.function -> concrete function -> convert_variables_to_constants_v2.
  * run_frozen()          -- imports a frozen GraphDef into a fresh graph and runs it in a
                             tf.compat.v1.Session, returning every float32 tensor.
  * write_case()          -- writes model.pb / io.npz / meta.json with deterministic bytes.

io.npz convention (the Rust side depends on it):
  input:<placeholder node name>  -> the fed inputs (float32; integer inputs as float32 whole numbers,
                                    their real dtype in meta.json)
  output:<tensor name>           -> TensorFlow's value of each graph output, e.g. "Identity:0"
  tensor:<tensor name>           -> TensorFlow's value of every output slot of every non-Const node
                                    whose dtype is float32 (these include the Identity "ReadVariableOp"
                                    nodes that freezing leaves on top of weight Consts), except the
                                    secondary outputs of FusedBatchNorm* (see FUSED_BN_OPS).
The graph is run with Grappler and graph-level optimisations off, so values are those of the ops
as written in the GraphDef.
The archive is an ordinary uncompressed .npz (np.load reads it), written entry by entry with a
fixed timestamp so that regenerating gives identical bytes.
"""

from __future__ import annotations

import collections
import io
import json
import os
import platform
import sys
import zipfile


def reexec_with_fixed_hash_seed() -> None:
    """Re-run this script with PYTHONHASHSEED=0 unless it already is.

    tf.function tracing orders some Const nodes by Python set/dict iteration, which depends on
    string hashing; a fixed hash seed makes the frozen GraphDef's node order reproducible.
    Done when this module is imported, i.e. before TensorFlow is.
    """
    # Only a script file can be re-run (not `python -` or `python -c`); those keep their hash seed.
    if os.environ.get("PYTHONHASHSEED") != "0" and sys.argv and os.path.isfile(sys.argv[0]):
        env = dict(os.environ, PYTHONHASHSEED="0")
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def quiet_tf() -> None:
    """Call before importing tensorflow."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # oneDNN re-orders float accumulations depending on the CPU; off = reproducible values.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


# Importing this module fixes the hash seed (re-executing the script if needed) and quiets TF.
reexec_with_fixed_hash_seed()
quiet_tf()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.python.framework.convert_to_constants import (  # noqa: E402
    convert_variables_to_constants_v2,
)

# Size budget of one committed fixture's io.npz; tensor: entries are dropped beyond it.
NPZ_BUDGET_BYTES = 900 * 1024


def versions() -> dict:
    import h5py

    out = {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "h5py": h5py.__version__,
    }
    try:
        import keras

        out["keras"] = keras.__version__
    except ImportError:
        pass
    try:
        import tf_keras

        out["tf_keras"] = tf_keras.__version__
    except ImportError:
        pass
    return out


# --------------------------------------------------------------------------- weights


def _weight_short_name(w) -> str:
    # Keras 3: Variable.name == "kernel"; tf-keras: tf.Variable.name == "conv/kernel:0".
    return w.name.split("/")[-1].split(":")[0]


def random_weight(layer_class: str, name: str, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """A seeded value for one weight, chosen so that no layer is close to an identity.

    Kernels: He-normal (std = sqrt(2 / fan_in)) so activations keep their scale through a few
    layers; biases/beta/moving_mean: normal * 0.3; gamma: uniform(0.5, 1.5);
    moving_variance: uniform(0.5, 2) (must stay positive); LayerScale: uniform(0.5, 1.5);
    PReLU alpha: uniform(0.05, 0.5); Normalization mean: normal * 0.3, variance: uniform(0.5, 2).
    """
    if name == "moving_variance":
        v = rng.uniform(0.5, 2.0, shape)
    elif layer_class == "LayerScale":
        # ConvNeXt's per-channel scale (Keras 3 calls it "variable", tf-keras "gamma"); real
        # init is 1e-6, which would make every block an identity: use gamma's range instead.
        v = rng.uniform(0.5, 1.5, shape)
    elif name == "gamma":
        v = rng.uniform(0.5, 1.5, shape)
    elif layer_class == "PReLU" and name == "alpha":
        v = rng.uniform(0.05, 0.5, shape)
    elif layer_class == "Normalization" and name == "mean":
        v = rng.normal(0.0, 0.3, shape)
    elif layer_class == "Normalization" and name == "variance":
        v = rng.uniform(0.5, 2.0, shape)
    elif layer_class == "Normalization" and name == "count":
        return np.zeros(shape, np.int64)  # an int variable; only adapt() reads it
    elif name in ("beta", "moving_mean", "bias"):
        v = rng.normal(0.0, 0.3, shape)
    elif name == "embeddings":
        # Embedding table: unit-scale rows (Keras's own init is uniform(-0.05, 0.05), too small
        # to tell rows apart after a few layers).
        v = rng.normal(0.0, 1.0, shape)
    elif name in ("kernel", "depthwise_kernel", "pointwise_kernel"):
        if name == "depthwise_kernel" or layer_class == "DepthwiseConv2D":
            fan_in = int(np.prod(shape[:-2]))  # (kh, kw, cin, multiplier): one channel at a time
        else:
            fan_in = int(np.prod(shape[:-1]))
        v = rng.normal(0.0, np.sqrt(2.0 / max(fan_in, 1)), shape)
    elif name == "recurrent_kernel":
        # An RNN's (units, k * units) recurrent kernel: He-normal on its fan-in, like the input kernel.
        v = rng.normal(0.0, np.sqrt(2.0 / max(shape[0], 1)), shape)
    else:
        raise ValueError(f"layer class {layer_class}: don't know how to randomise weight {name!r} {shape}")
    return v.astype(np.float32)


def randomize_weights(model, rng: np.random.Generator) -> int:
    """Overwrite every weight of every layer (nested models included). Returns the count."""
    count = 0
    for layer in _all_layers(model):
        ws = layer.weights if not _is_model(layer) else []
        if not ws:
            continue
        cls = type(layer).__name__
        new = [random_weight(cls, _weight_short_name(w), tuple(w.shape), rng) for w in ws]
        layer.set_weights(new)
        count += len(new)
    return count


def _is_model(layer) -> bool:
    return hasattr(layer, "layers") and type(layer).__name__ in ("Functional", "Model", "Sequential")


def _all_layers(model):
    for layer in model.layers:
        if _is_model(layer):
            yield from _all_layers(layer)
        else:
            yield layer


def keras_layer_histogram(model) -> dict:
    hist = collections.Counter(
        type(layer).__name__ for layer in _all_layers(model) if type(layer).__name__ != "InputLayer"
    )
    return dict(sorted(hist.items()))


# --------------------------------------------------------------------------- freezing


def freeze_keras(model, input_specs: list[tuple[str, list[int]]], batch: int | None = None):
    """Freeze a Keras 3 or tf-keras model with TensorFlow's own tools.

    input_specs: [(placeholder name, shape without batch[, dtype, id bound])], in model input
    order; the dtype (e.g. "int32" for token ids) defaults to float32.
    batch: None traces a dynamic batch (`TensorSpec([None, ...])`); an integer freezes that fixed
    batch, as most deployed graphs are (TensorFlow then folds it into every shape constant).
    Returns (graph_def, output tensor names in the concrete function's output order).
    """
    specs = [
        tf.TensorSpec([batch, *s[1]], s[2] if len(s) > 2 else tf.float32, name=s[0])
        for s in input_specs
    ]
    if len(specs) == 1:
        fn = tf.function(lambda x: model(x, training=False))
    else:
        fn = tf.function(lambda *xs: model(list(xs), training=False))
    concrete = fn.get_concrete_function(*specs)
    frozen = convert_variables_to_constants_v2(concrete)
    graph_def = canonical_node_order(frozen.graph.as_graph_def())
    outputs = [t.name for t in frozen.outputs]
    return graph_def, outputs


def canonical_node_order(graph_def):
    """Return a copy of graph_def with its nodes in a deterministic topological order
    (Kahn's algorithm, ready nodes taken by name). Node contents are untouched, except the
    `_gradient_op_type` attribute tf.custom_gradient puts on its IdentityN (e.g. swish):
    its value, "CustomGradient-<process-wide counter>", depends on what ran before in the
    process, so it is renumbered 0, 1, ... in node order. It only names a gradient function
    for training, which a frozen graph never uses.

    Why: tf.function tracing + convert_variables_to_constants_v2 place some Const nodes in an
    order that changes from run to run (seen with models that have parallel branches), so the raw
    GraphDef bytes are not reproducible. A GraphDef's node order carries no meaning, so sorting it
    changes nothing TensorFlow computes.

    A graph with lowered while loops (Keras RNN layers) goes through canonical_loop_graph instead.
    """
    if any(n.op == "NextIteration" for n in graph_def.node):
        return canonical_loop_graph(graph_def)
    out = _kahn_order(graph_def)
    k = 0
    for n in out.node:
        if "_gradient_op_type" in n.attr:
            n.attr["_gradient_op_type"].s = f"CustomGradient-{k}".encode()
            k += 1
    return out


def _kahn_order(graph_def):
    """A copy of graph_def with its nodes in Kahn order, ready nodes taken by name. Inputs from
    NextIteration nodes are ignored: those back edges close each loop variable's cycle in a
    lowered while loop, the only cycles a GraphDef may have."""
    import heapq

    nodes = {n.name: n for n in graph_def.node}
    deps = {name: set() for name in nodes}
    users = {name: [] for name in nodes}
    for n in graph_def.node:
        for inp in n.input:
            src = inp.lstrip("^").split(":")[0]
            if src in nodes and nodes[src].op != "NextIteration" and src not in deps[n.name]:
                deps[n.name].add(src)
                users[src].append(n.name)
    ready = [name for name, d in deps.items() if not d]
    heapq.heapify(ready)
    order = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for user in users[name]:
            deps[user].discard(name)
            if not deps[user]:
                heapq.heappush(ready, user)
    if len(order) != len(nodes):
        raise ValueError("graph has a cycle not closed by NextIteration; cannot order it")
    out = type(graph_def)()
    out.CopyFrom(graph_def)
    del out.node[:]
    out.node.extend(nodes[name] for name in order)
    return out


def canonical_loop_graph(graph_def):
    """canonical_node_order for a graph with lowered while loops: tracing hints stripped, the
    unread unused_control_flow_input placeholders renamed by content, nodes in Kahn order (loop
    back edges ignored). Used by gen_fixtures.py (LSTM fixtures) and gen_recurrent.py."""
    return _kahn_order(canonical_unused_placeholders(strip_tracing_hints(graph_def)))


def strip_tracing_hints(graph_def):
    """Drop `_has_manual_control_dependencies`, a tf.function tracing hint that lowering leaves on
    some nodes and not others from one run to the next; TensorFlow never reads it when running."""
    for n in list(graph_def.node) + [n for f in graph_def.library.function for n in f.node_def]:
        if "_has_manual_control_dependencies" in n.attr:
            del n.attr["_has_manual_control_dependencies"]
    return graph_def


def unused_placeholder(n) -> bool:
    """A placeholder lowering leaves per loop variable (`unused_control_flow_input[_N]`)."""
    return n.op == "Placeholder" and n.name.startswith("unused_control_flow_input")


def canonical_unused_placeholders(graph_def):
    """Renumber the `unused_control_flow_input[_N]` placeholders lowering leaves (nothing reads
    them): TensorFlow numbers them in an order that changes from run to run, so they are sorted by
    their content (dtype, shape) and renamed unused_control_flow_input, _1, _2, ... Only unread
    ones are touched (a read one would need its readers renamed too)."""
    read = {i.lstrip("^").split(":")[0] for n in graph_def.node for i in n.input}
    unused = [n for n in graph_def.node if unused_placeholder(n) and n.name not in read]

    def content(n):
        c = copy_proto(n)
        c.name = ""
        return c.SerializeToString(deterministic=True)

    for k, n in enumerate(sorted(unused, key=content)):
        n.name = "unused_control_flow_input" + (f"_{k}" if k else "")
    return graph_def


def copy_proto(p):
    c = type(p)()
    c.CopyFrom(p)
    return c


def op_histogram(graph_def) -> dict:
    return dict(sorted(collections.Counter(n.op for n in graph_def.node).items()))


# --------------------------------------------------------------------------- running


# Outputs 1.. of FusedBatchNorm{,V2,V3} (batch mean/variance, reserve spaces) carry no meaning in
# inference mode and reserve_space_2 is uninitialised memory (seen: 9.7e21, different every run),
# so only their output 0 is recorded as a tensor: entry.
FUSED_BN_OPS = ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")


def _plain_session_config():
    """Session config that runs the graph as written: no Grappler rewrites (which, e.g., turn an
    inference FusedBatchNormV3 into Mul/Add and then cannot fetch its other outputs) and no
    graph-level constant folding or CSE."""
    from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2

    rewrite = rewriter_config_pb2.RewriterConfig(disable_meta_optimizer=True)
    graph_options = config_pb2.GraphOptions(
        rewrite_options=rewrite,
        optimizer_options=config_pb2.OptimizerOptions(opt_level=config_pb2.OptimizerOptions.L0),
    )
    return config_pb2.ConfigProto(
        graph_options=graph_options, intra_op_parallelism_threads=1, inter_op_parallelism_threads=1
    )


def run_frozen(graph_def, feeds: dict[str, np.ndarray], outputs: list[str], all_tensors: bool = True):
    """Run a frozen GraphDef in a fresh graph + tf.compat.v1.Session.

    feeds: placeholder node name -> array. Returns (outputs dict, tensors dict), tensor names as keys.
    tensors holds every float32 output slot of every non-Const node, in graph node order; in a
    graph with lowered while loops only the tensors outside the loops (_run_frozen_loops).
    """
    if all_tensors and any(n.op == "Enter" for n in graph_def.node):
        return _run_frozen_loops(graph_def, feeds, outputs)
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    tensor_names = []
    if all_tensors:
        for op in graph.get_operations():
            if op.type == "Const":
                continue
            for slot, t in enumerate(op.outputs):
                if op.type in FUSED_BN_OPS and slot > 0:
                    continue  # see FUSED_BN_OPS
                if t.dtype == tf.float32:
                    tensor_names.append(t.name)
    fetch = list(dict.fromkeys(list(outputs) + tensor_names))
    with tf.compat.v1.Session(graph=graph, config=_plain_session_config()) as sess:
        if any(n.op == "Switch" for n in graph_def.node):
            # TF1 conditionals (Switch/Merge): tensors of the branch not taken are dead and
            # cannot be fetched; keep only the live ones (graphs with conds are small).
            feed = {graph.get_tensor_by_name(f"{k}:0"): v for k, v in feeds.items()}

            def live(name):
                try:
                    sess.run(graph.get_tensor_by_name(name), feed_dict=feed)
                    return True
                except tf.errors.InvalidArgumentError:
                    return False

            # Switch outputs only forward their data input, and thaw cuts constant-predicate
            # Switches away (graph/cond.rs): not recorded.
            tensor_names = [
                t for t in tensor_names if graph.get_tensor_by_name(t).op.type != "Switch" and live(t)
            ]
            fetch = list(dict.fromkeys(list(outputs) + tensor_names))
        values = sess.run(
            {name: graph.get_tensor_by_name(name) for name in fetch},
            feed_dict={graph.get_tensor_by_name(f"{k}:0"): v for k, v in feeds.items()},
        )
    outs = {name: np.asarray(values[name]) for name in outputs}
    tensors = {name: np.asarray(values[name]) for name in tensor_names}
    return outs, tensors


def _run_frozen_loops(graph_def, feeds, outputs):
    """run_frozen for a graph with lowered while loops: TensorFlow cannot fetch a tensor of a loop
    frame (each iteration sets it again), so only tensors outside the loops are recorded."""
    in_frame = set()
    for n in _kahn_order(graph_def).node:
        srcs = {i.lstrip("^").split(":")[0] for i in n.input}
        if n.op == "Enter" or (n.op != "Exit" and srcs & in_frame):
            in_frame.add(n.name)
    outs, _ = run_frozen(graph_def, feeds, outputs, all_tensors=False)
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    # TF1 TensorArray ops' float outputs, and the Exit carrying one out of the loop, are flow
    # tokens (bookkeeping, no data): thaw's unroller replaces the arrays by the tensors they hold,
    # so they have no counterpart to compare.
    def flow(op):
        if op.type.startswith("TensorArray"):
            return True
        users = [c for t in op.outputs for c in t.consumers()]
        return op.type == "Exit" and bool(users) and all(c.type.startswith("TensorArray") for c in users)

    names = [t.name for op in graph.get_operations()
             if op.type not in ("Const", "Placeholder") or op.name in feeds
             if op.name not in in_frame and not flow(op)
             for t in op.outputs if t.dtype == tf.float32]
    with tf.compat.v1.Session(graph=graph) as sess:
        values = sess.run(names, feed_dict={graph.get_tensor_by_name(f"{k}:0"): v for k, v in feeds.items()})
    return outs, {name: np.asarray(v) for name, v in zip(names, values)}


# --------------------------------------------------------------------------- writing


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An uncompressed .npz with a fixed timestamp: same arrays -> same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for key, arr in arrays.items():
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            item = io.BytesIO()
            # ascontiguousarray turns a 0-d array (e.g. swish's scalar beta forwarded by
            # IdentityN) into shape (1,); a 0-d array is contiguous already.
            arr = np.asarray(arr)
            arr = arr if arr.ndim == 0 else np.ascontiguousarray(arr)
            np.lib.format.write_array(item, arr, allow_pickle=False)
            zf.writestr(info, item.getvalue())
    return buf.getvalue()


def write_case(
    out_dir: str,
    graph_def,
    inputs: dict[str, np.ndarray],
    outputs: dict[str, np.ndarray],
    tensors: dict[str, np.ndarray],
    meta: dict,
    budget_bytes: int | None = NPZ_BUDGET_BYTES,
) -> dict:
    """Write model.pb, io.npz, meta.json into out_dir. Returns a small summary dict.

    If budget_bytes is set and the npz with every tensor would exceed it, the tensor: entries
    are dropped (largest first) until it fits, and meta["tensors_skipped"] lists them.
    """
    os.makedirs(out_dir, exist_ok=True)
    arrays = {f"input:{k}": v for k, v in inputs.items()}
    arrays.update({f"output:{k}": v for k, v in outputs.items()})
    kept = dict(tensors)
    skipped = []
    while True:
        blob = npz_bytes({**arrays, **{f"tensor:{k}": v for k, v in kept.items()}})
        if budget_bytes is None or len(blob) <= budget_bytes or not kept:
            break
        biggest = max(kept, key=lambda k: kept[k].nbytes)
        skipped.append(biggest)
        del kept[biggest]
    meta = dict(meta)
    meta["tensor_count"] = len(kept)
    meta["tensors_rule"] = (
        "every float32 output slot of every non-Const node, except outputs 1.. of FusedBatchNorm* "
        "(meaningless/uninitialised in inference)"
    )
    meta["tensors_skipped"] = sorted(skipped)
    if skipped:
        meta["tensors_skipped_reason"] = f"io.npz size budget of {budget_bytes} bytes"
    pb = graph_def.SerializeToString(deterministic=True)
    with open(os.path.join(out_dir, "model.pb"), "wb") as f:
        f.write(pb)
    with open(os.path.join(out_dir, "io.npz"), "wb") as f:
        f.write(blob)
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return {"pb_bytes": len(pb), "npz_bytes": len(blob), "skipped": len(skipped)}


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def canonical_numbered_consts(graph_def):
    """Rename Const nodes named by a bare number (`model/conv_groups2/255`: the captured kernel of
    a function call, numbered by a process-wide counter) to `<scope>/captured_<k>` in node order,
    updating every input that names them."""
    renames = {}
    for n in graph_def.node:
        scope, _, last = n.name.rpartition("/")
        if n.op == "Const" and last.isdigit():
            renames[n.name] = f"{scope}/captured_{len(renames)}" if scope else f"captured_{len(renames)}"
    if not renames:
        return graph_def

    def fix(inp):
        ctrl = inp.startswith("^")
        name, colon, port = inp.lstrip("^").partition(":")
        name = renames.get(name, name)
        return ("^" if ctrl else "") + name + colon + port

    for n in graph_def.node:
        if n.name in renames:
            n.name = renames[n.name]
        n.input[:] = [fix(i) for i in n.input]
    return graph_def
