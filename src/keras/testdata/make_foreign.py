#!/usr/bin/env python3
"""Writes the Keras-made .h5 files that `keras::h5::tests::reads_files_keras_wrote` reads.

Pinned versions (the venv at /root/.cache/thaw/venv): tensorflow-cpu==2.21.0,
keras==3.15.1, tf-keras==2.21.0, h5py, numpy. Seeds fixed, so a rerun rewrites the same
models (the HDF5 bytes may differ in timestamps).

    /root/.cache/thaw/venv/bin/python src/keras/testdata/make_foreign.py

For each framework (`tk` = tf-keras `model.save("x.h5")`, `k3` = Keras 3
`keras.saving.save_model(model, "x.h5")`, its legacy h5 format) it writes into
src/keras/testdata/:
  <fw>_cnn.h5  a small Functional CNN with a skip connection (Conv2D, BatchNormalization,
               DepthwiseConv2D, ReLU(6), MaxPooling2D, Add, Concatenate,
               GlobalAveragePooling2D, Dense)
  <fw>_seq.h5  a Sequential CNN (Conv2D, MaxPooling2D, Flatten, Dense)
  <fw>_<model>.expected.json  what Keras itself reports after building the model: inputs,
               outputs, and per layer its class, inbound layer names and, per weight, the
               shape and float64 sum of layer.get_weights() — the independent witness the
               Rust reader is checked against.
Each framework runs in its own subprocess.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def build(framework: str) -> None:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np

    if framework == "k3":
        import keras

        keras.utils.set_random_seed(1)
    else:
        import tf_keras as keras
        import tensorflow as tf

        tf.random.set_seed(1)
    L = keras.layers

    x = L.Input((8, 8, 3), name="image")
    y = L.Conv2D(4, 3, padding="same", name="conv1")(x)
    y = L.BatchNormalization(epsilon=1e-3, name="bn1")(y)
    y = L.ReLU(max_value=6.0, name="relu6")(y)
    z = L.DepthwiseConv2D(3, padding="same", depth_multiplier=1, use_bias=False, name="dw")(y)
    s = L.Add(name="skip")([y, z])
    c = L.Concatenate(name="cat")([s, y])
    p = L.MaxPooling2D(2, name="pool")(c)
    g = L.GlobalAveragePooling2D(name="gap")(p)
    out = L.Dense(3, activation="softmax", name="probs")(g)
    cnn = keras.Model(x, out, name="cnn")

    seq = keras.Sequential(
        [
            L.Input((6, 6, 1), name="pixels"),
            L.Conv2D(2, 3, activation="relu", name="c"),
            L.MaxPooling2D(2, name="mp"),
            L.Flatten(name="flat"),
            L.Dense(2, name="logits"),
        ],
        name="seq",
    )

    # Moving statistics away from their 0/1 initial values, so a mix-up shows.
    bn = cnn.get_layer("bn1")
    gamma, beta, mean, var = bn.get_weights()
    rng = np.random.default_rng(2)
    bn.set_weights([gamma + 0.5, beta + 0.1, rng.standard_normal(4).astype("float32"),
                    (rng.random(4) + 0.5).astype("float32")])

    for name, model in (("cnn", cnn), ("seq", seq)):
        path = os.path.join(HERE, f"{framework}_{name}.h5")
        if framework == "k3":
            keras.saving.save_model(model, path)
        else:
            model.save(path)
        expected = {
            "inputs": [t._keras_history[0].name for t in model.inputs],
            "outputs": [t._keras_history[0].name for t in model.outputs],
            "layers": [],
        }
        for layer in model.layers:
            if type(layer).__name__ == "InputLayer":
                continue
            node = layer._inbound_nodes[0]
            if framework == "k3":
                inbound = [t._keras_history[0].name for t in node.arguments.keras_tensors]
            else:
                inbound = [t._keras_history[0].name for t in node.keras_inputs]
            expected["layers"].append({
                "name": layer.name,
                "class": type(layer).__name__,
                "inbound": inbound,
                "weights": [{"shape": list(w.shape), "sum": float(np.sum(w, dtype=np.float64))}
                            for w in layer.get_weights()],
            })
        with open(os.path.join(HERE, f"{framework}_{name}.expected.json"), "w") as f:
            json.dump(expected, f, indent=1)
            f.write("\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        build(sys.argv[1])
    else:
        for fw in ("tk", "k3"):
            subprocess.run([sys.executable, __file__, fw], check=True)
