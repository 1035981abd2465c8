#!/usr/bin/env python3
"""Real-Keras check of thaw's .h5 files: do Keras 3 AND tf-keras load them, with
exactly the weights and config values in the file, and predict the same?

Pinned versions (the venv at /root/.cache/thaw/venv): tensorflow-cpu==2.21.0,
keras==3.15.1, tf-keras==2.21.0, h5py, numpy.

Usage:
    PY=/root/.cache/thaw/venv/bin/python
    $PY src/keras/testdata/load_check.py              # cargo writes thaw's test models, then checks them
    $PY src/keras/testdata/load_check.py a.h5 b.h5    # check these files

With no file arguments it runs `cargo test --lib keras::h5::tests::write_models_for_load_check`
with THAW_KERAS_CHECK_DIR set to a fresh temporary folder (from the repository root, found
from this file's location) and checks every .h5 written there.

For each file and each framework, a separate subprocess (the two Keras lines never share a
process) imports the `thaw_fallbacks.py` beside the file if there is one (thaw's custom classes:
ThawTfOp, ThawMultiHeadAttention), runs `load_model(path, compile=False)` and checks:
  * the loaded model has exactly the file's layers, each of the class named in model_config,
    and its inputs/outputs in input_layers/output_layers order;
  * model.layers comes in the order of the file's layer_names (both loaders assign weights
    by that position);
  * every config key thaw wrote (padding, strides, epsilon, activation, max_value, ...) has
    the same value in the loaded layer's get_config() (floats to 1e-6 relative: thaw writes
    the shortest float32 spelling, tf-keras hands back float32 values widened to float64;
    axis lists/negative axes normalised as Keras does);
  * every layer's get_weights() equals, bit for bit, the datasets its weight_names name;
  * it predicts on a seeded random batch of 2 (standard normal inputs).
The parent then requires both frameworks' predictions to agree within atol 1e-5: the two
run the same TensorFlow kernels on the same weights, so anything beyond float32 rounding
noise (~1e-7 on these O(1) values) is a real difference in how the model was loaded.

Exit status: 0 all passed, 1 any failure, 2 usage/build error. Ends with "N passed, N failed".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

FRAMEWORKS = ("keras3", "tf_keras")
ATOL = 1e-5
FLOAT_RTOL = 1e-6
IGNORED_KEYS = {"name", "trainable", "dtype"}
# Keys thaw writes in tf-keras's spelling that Keras 3 reads under another name:
# (class, key thaw writes) -> key in Keras 3's get_config().
KERAS3_KEY_ALIASES = {("LeakyReLU", "alpha"): "negative_slope"}
# Values Keras 3 reports under its own name: thaw writes "swish" (the one spelling both load),
# Keras 3's get_config() gives back its canonical "silu".
KERAS3_VALUE_ALIASES = {("activation", "swish"): "silu"}
# thaw writes MultiHeadAttention as the shim class of the generated thaw_fallbacks.py (imported
# from the .h5's folder when present: it registers the class with both Kerases). Its keys come
# back in the built form: attention_axes null -> the default [1] for (batch, seq, features)
# inputs (both Kerases); output_shape 4 -> [4] (Keras 3). The shim drops query_shape/key_shape/
# value_shape in Keras 3 (which rejects them; tf-keras builds the weights from them).
MHA_CLASS = "ThawMultiHeadAttention"
MHA_SHAPE_KEYS = {"query_shape", "key_shape", "value_shape"}
MODULE = "thaw_fallbacks.py"


# --------------------------------------------------------------------------- worker side


def _norm(v):
    if isinstance(v, tuple):
        v = list(v)
    if isinstance(v, list):
        return [_norm(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (list, dict)):  # numpy scalar
        return v.item()
    return v


def _same(a, b) -> bool:
    a, b = _norm(a), _norm(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or a == b and type(a) is type(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= FLOAT_RTOL * max(abs(a), abs(b), 1e-30)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _norm_axis(axis, rank):
    axis = _norm(axis)
    if isinstance(axis, list) and len(axis) == 1:
        axis = axis[0]
    if isinstance(axis, int) and axis < 0 and rank is not None:
        axis += rank
    return axis


def worker(framework: str, h5_path: str, inputs_npz: str, outputs_npz: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import h5py
    import numpy as np

    if framework == "keras3":
        import keras
    else:
        import tf_keras as keras

    problems: list[str] = []
    with h5py.File(h5_path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        mw = f["model_weights"]
        stored = {}
        layer_names = [n.decode() if isinstance(n, bytes) else n for n in mw.attrs["layer_names"]]
        for lname in mw.attrs["layer_names"]:
            lname = lname.decode() if isinstance(lname, bytes) else lname
            names = [n.decode() if isinstance(n, bytes) else n for n in mw[lname].attrs["weight_names"]]
            stored[lname] = [np.asarray(mw[lname][n]) for n in names]

    module = os.path.join(os.path.dirname(os.path.abspath(h5_path)), MODULE)
    if os.path.exists(module):
        import importlib.util

        spec = importlib.util.spec_from_file_location("thaw_fallbacks", module)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    model = keras.models.load_model(h5_path, compile=False)
    layers_cfg = config["config"]["layers"]
    loaded = {layer.name: layer for layer in model.layers}
    if sorted(loaded) != sorted(l["name"] for l in layers_cfg):
        problems.append(f"layers differ: loaded {sorted(loaded)}, file {sorted(l['name'] for l in layers_cfg)}")

    # Both loaders assign weights to model.layers by position in layer_names.
    if [layer.name for layer in model.layers] != layer_names:
        problems.append(f"model.layers order {[l.name for l in model.layers]} != layer_names {layer_names}")

    for entry in layers_cfg:
        name, cls = entry["name"], entry["class_name"]
        layer = loaded.get(name)
        if layer is None:
            problems.append(f"layer {name}: missing after load")
            continue
        if type(layer).__name__ != cls:
            problems.append(f"layer {name}: class {type(layer).__name__}, file says {cls}")
        if cls == "InputLayer":
            want = entry["config"]["batch_input_shape"]
            got = list(layer.output.shape)
            if not _same(got, want):
                problems.append(f"input {name}: shape {got}, file says {want}")
        else:
            got_cfg = layer.get_config()
            rank = len(layer.input.shape) if not isinstance(layer.input, list) else len(layer.input[0].shape)
            for key, want in entry["config"].items():
                if key in IGNORED_KEYS:
                    continue
                if framework == "keras3":
                    key = KERAS3_KEY_ALIASES.get((cls, key), key)
                if cls == MHA_CLASS:
                    if framework == "keras3" and key in MHA_SHAPE_KEYS:
                        continue
                    if key == "attention_axes" and want is None:
                        want = list(range(1, rank - 1))
                    if key == "output_shape" and framework == "keras3" and isinstance(want, int):
                        want = [want]
                if key not in got_cfg:
                    problems.append(f"layer {name} ({cls}): key {key!r} missing from the loaded config")
                    continue
                got = got_cfg[key]
                if isinstance(want, dict) and "class_name" in want and "config" in want:
                    # A nested layer (Bidirectional's `layer`): its class and every config key
                    # thaw wrote; the name is the loader's (Keras names it forward_<name>).
                    if not isinstance(got, dict) or got.get("class_name") != want["class_name"]:
                        problems.append(f"layer {name} ({cls}): {key} = {got!r}, file says {want!r}")
                        continue
                    for k, w in want["config"].items():
                        if k in IGNORED_KEYS:
                            continue
                        g = got.get("config", {}).get(k, "<missing>")
                        if not _same(g, w):
                            problems.append(f"layer {name} ({cls}): {key}.{k} = {g!r}, file says {w!r}")
                    continue
                if key == "axis":
                    got, want = _norm_axis(got, rank), _norm_axis(want, rank)
                if framework == "keras3" and isinstance(want, str):
                    want = KERAS3_VALUE_ALIASES.get((key, want), want)
                if not _same(got, want):
                    problems.append(f"layer {name} ({cls}): {key} = {got!r}, file says {want!r}")
        want_w = stored.get(name, [])
        got_w = layer.get_weights()
        if len(got_w) != len(want_w):
            problems.append(f"layer {name}: {len(got_w)} weights loaded, file has {len(want_w)}")
        for i, (g, w) in enumerate(zip(got_w, want_w)):
            if g.shape != w.shape or not np.array_equal(g, w):
                problems.append(f"layer {name}: weight #{i} differs from the file (shapes {g.shape} / {w.shape})")

    in_names = [n for n, _, _ in config["config"]["input_layers"]]
    out_names = [n for n, _, _ in config["config"]["output_layers"]]
    # Both Keras lines record (layer, node_index, tensor_index) on symbolic tensors.
    got_in = [t._keras_history[0].name for t in model.inputs]
    got_out = [t._keras_history[0].name for t in model.outputs]
    if got_in != in_names:
        problems.append(f"inputs {got_in}, file says {in_names}")
    if got_out != out_names:
        problems.append(f"outputs {got_out}, file says {out_names}")

    with np.load(inputs_npz) as z:
        xs = [z[f"in_{i}"] for i in range(len(z.files))]
    ys = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    if not isinstance(ys, (list, tuple)):
        ys = [ys]
    np.savez(outputs_npz, **{f"out_{i}": np.asarray(y) for i, y in enumerate(ys)})
    print(json.dumps({"problems": problems, "layers": len(layers_cfg)}))


# --------------------------------------------------------------------------- parent side


def _inputs_for(h5_path: str, npz_path: str) -> None:
    import h5py
    import numpy as np

    with h5py.File(h5_path, "r") as f:
        config = json.loads(f.attrs["model_config"])
    by_name = {l["name"]: l for l in config["config"]["layers"]}
    rng = np.random.default_rng(0)
    arrays = {}
    for i, (name, _, _) in enumerate(config["config"]["input_layers"]):
        cfg = by_name[name]["config"]
        shape = [2] + [d if d is not None else 4 for d in cfg["batch_input_shape"][1:]]
        if cfg.get("dtype") == "int32":
            arrays[f"in_{i}"] = rng.integers(0, 4, size=shape).astype(np.int32)
        else:
            arrays[f"in_{i}"] = rng.standard_normal(shape).astype(np.float32)
    np.savez(npz_path, **arrays)


def check(h5_path: str, work: str) -> list[str]:
    import numpy as np

    problems = []
    inputs = os.path.join(work, "inputs.npz")
    _inputs_for(h5_path, inputs)
    outs = {}
    for fw in FRAMEWORKS:
        out = os.path.join(work, f"out_{fw}.npz")
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", fw, h5_path, inputs, out],
            capture_output=True,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        last = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
        if proc.returncode != 0 or not last:
            tail = "\n      ".join(proc.stderr.strip().splitlines()[-6:])
            problems.append(f"{fw}: load/predict failed:\n      {tail}")
            continue
        result = json.loads(last[0])
        problems += [f"{fw}: {p}" for p in result["problems"]]
        with np.load(out) as z:
            outs[fw] = [z[f"out_{i}"] for i in range(len(z.files))]
    if len(outs) == 2:
        a, b = outs[FRAMEWORKS[0]], outs[FRAMEWORKS[1]]
        if len(a) != len(b):
            problems.append(f"output counts differ: {len(a)} vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            if x.shape != y.shape:
                problems.append(f"output #{i}: shapes {x.shape} vs {y.shape}")
            elif not np.allclose(x, y, atol=ATOL, rtol=0):
                problems.append(f"output #{i}: max |keras3 - tf_keras| = {np.max(np.abs(x - y)):.3g} > {ATOL}")
            else:
                print(f"    output #{i} {x.shape}: max |keras3 - tf_keras| = {np.max(np.abs(x - y)):.3g}")
    return problems


def _cargo_write(folder: str) -> list[str]:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    cmd = ["cargo", "test", "--lib", "keras::h5::tests::write_models_for_load_check", "--", "--exact"]
    proc = subprocess.run(cmd, cwd=root, env={**os.environ, "THAW_KERAS_CHECK_DIR": folder})
    if proc.returncode != 0:
        print(f"load_check: `{' '.join(cmd)}` failed in {root}", file=sys.stderr)
        sys.exit(2)
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".h5"))
    if not files:
        print(f"load_check: cargo wrote no .h5 into {folder}", file=sys.stderr)
        sys.exit(2)
    return files


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        worker(*argv[1:5])
        return 0
    if any(a.startswith("-") for a in argv):
        print(__doc__, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="thaw-load-check-") as tmp:
        files = argv or _cargo_write(os.path.join(tmp, "models"))
        passed = failed = 0
        for path in files:
            print(f"{path}:")
            problems = check(path, tmp)
            for p in problems:
                print(f"    FAIL {p}")
            if problems:
                failed += 1
            else:
                passed += 1
                print(f"    ok in {', '.join(FRAMEWORKS)}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:6])
    else:
        sys.exit(main(sys.argv[1:]))
