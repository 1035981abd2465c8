#!/usr/bin/env python3
"""Generate the real-Keras cross-check cases for thaw's Rust interpreter.

Pinned versions (the venv made by harness/setup_venv.sh):
    tensorflow-cpu==2.21.0, keras==3.15.1, numpy==2.4.6   (Python 3.11)
Fixed seed: numpy.random.default_rng(20240611); one derived stream per case.

For every case this builds ONE Keras 3 layer, gives it random weights, runs it
on a random input and writes `<case>.npz` next to this script with:
    x            the input (float32)
    y            Keras's output (float32)
    w_<name>     every weight under the name thaw's IR uses (`kernel`, `bias`,
                 `depthwise_kernel`, `gamma`, `beta`, `moving_mean`,
                 `moving_variance`); Keras 3 calls the depthwise kernel `kernel`,
                 so it is renamed here.
The layer configs are mirrored by hand in `src/interp/keras_cases.rs`; keep the
two in step (a mismatch makes the Rust test fail, it cannot pass silently).

Run:  TF_CPP_MIN_LOG_LEVEL=3 /root/.cache/thaw/venv/bin/python src/interp/testdata/gen.py
The .npz files are written with a fixed zip timestamp, so reruns on the same
machine give identical bytes.
"""

import io
import os
import sys
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

SEED = 20240611
HERE = os.path.dirname(os.path.abspath(__file__))


def case_list():
    """(name, layer factory, input shape, input scale)."""
    return [
        ("conv_same", lambda: layers.Conv2D(8, 3, padding="same", activation="relu"), (2, 7, 7, 4), 1.0),
        ("conv_valid", lambda: layers.Conv2D(6, (3, 2), padding="valid", use_bias=False), (2, 7, 8, 3), 1.0),
        ("conv_strided_same_even", lambda: layers.Conv2D(5, 4, strides=2, padding="same"), (1, 9, 8, 3), 1.0),
        ("conv_dilated", lambda: layers.Conv2D(4, 3, dilation_rate=2, padding="same"), (1, 9, 9, 3), 1.0),
        ("conv_grouped", lambda: layers.Conv2D(6, 3, groups=2, padding="same"), (1, 6, 6, 4), 1.0),
        (
            "dw_dm2_strided_same",
            lambda: layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2, padding="same"),
            (1, 9, 8, 3),
            1.0,
        ),
        ("avgpool_same", lambda: layers.AveragePooling2D(3, strides=2, padding="same"), (1, 7, 8, 3), 1.0),
        ("maxpool_same", lambda: layers.MaxPooling2D(3, strides=2, padding="same"), (1, 7, 7, 3), 1.0),
        ("dense", lambda: layers.Dense(5, activation="tanh"), (3, 7), 1.0),
        ("dense_rank3", lambda: layers.Dense(4), (2, 3, 6), 1.0),
        ("bn", lambda: layers.BatchNormalization(epsilon=1e-3), (2, 4, 4, 5), 2.0),
        ("relu6", lambda: layers.ReLU(max_value=6.0), (2, 5, 5, 3), 10.0),
        ("softmax", lambda: layers.Softmax(axis=-1), (2, 3, 7), 5.0),
        ("softmax_axis1", lambda: layers.Softmax(axis=1), (2, 3, 7), 5.0),
    ]


IR_NAMES = {("DepthwiseConv2D", "kernel"): "depthwise_kernel"}


def write_npz(path, arrays):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, buf.getvalue())


def main():
    assert keras.__version__ == "3.15.1", keras.__version__
    root = np.random.default_rng(SEED)
    total = 0
    for name, make, shape, scale in case_list():
        rng = np.random.default_rng(root.integers(2**63))
        layer = make()
        x = (rng.uniform(-1.0, 1.0, size=shape) * scale).astype(np.float32)
        layer.build(shape)
        weights = []
        for w in layer.weights:
            v = rng.uniform(-1.0, 1.0, size=tuple(w.shape)).astype(np.float32)
            if w.name == "moving_variance":
                v = rng.uniform(0.1, 2.0, size=tuple(w.shape)).astype(np.float32)
            weights.append(v)
        layer.set_weights(weights)
        y = np.asarray(layer(x, training=False)).astype(np.float32)
        arrays = {"x": x, "y": y}
        cls = type(layer).__name__
        for w, v in zip(layer.weights, weights):
            arrays["w_" + IR_NAMES.get((cls, w.name), w.name)] = v
        path = os.path.join(HERE, name + ".npz")
        write_npz(path, arrays)
        total += os.path.getsize(path)
        print(f"{name:24s} {cls:20s} x{list(x.shape)} -> y{list(y.shape)}  weights {sorted(arrays)}")
    print(f"total {total} bytes")
    if total > 300_000:
        sys.exit("testdata exceeds 300 KB")


if __name__ == "__main__":
    main()
