"""Hand-built Keras models of a fixture, written the way "rebuild it in Keras by hand" recipes do.

The recipe: read the frozen graph's constants by node name, rebuild the architecture with
tf-keras layers under their DEFAULT names (input_1, zero_padding2d, conv2d, batch_normalization,
re_lu, ...), copy the weights in with set_weights, save as legacy .h5. thaw's `--keras` must
align such a model with the graph and verify it (tests/keras_flag.rs).

Writes, for fixtures/tf1_mobilenet_v1_tail/model.pb:
  tests/data/handmade_mobilenet_v1_tail.h5           the faithful rebuild
  tests/data/handmade_mobilenet_v1_tail_kernel_t.h5  stem kernel spatially transposed (kh <-> kw)
  tests/data/handmade_mobilenet_v1_tail_eps.h5       BatchNormalization left at Keras's default
                                                     epsilon 1e-3 (the graph uses 1.001e-5)
  tests/data/handmade_mobilenet_v1_tail_dropout.h5   faithful, plus Dropout, SpatialDropout2D and
                                                     GaussianNoise (identities at inference)

And the same rebuild in Keras 3 (default Keras 3 names: input_layer, conv2d, re_lu, ...), saved
as a `.keras` archive (zip of config.json + model.weights.h5), for `--keras m.keras`:
  tests/data/handmade_mobilenet_v1_tail_k3.keras         the faithful rebuild
  tests/data/handmade_mobilenet_v1_tail_k3_flatten.keras Dense rows copied in channels-first
                                                         (C, H, W) order after the Flatten
  tests/data/handmade_mobilenet_v1_tail_k3_nobias.keras  the 1x1 conv built with use_bias=False
                                                         (the graph's BiasAdd left out)
  tests/data/handmade_mobilenet_v1_tail_k3_dropout.keras faithful, plus Dropout, SpatialDropout2D,
                                                         GaussianNoise (also saved as Keras 3's
                                                         legacy handmade_mobilenet_v1_tail_k3_dropout.h5)

And fixtures/k3_transformer_block's own Keras 3 model (native MultiHeadAttention, whose weights sit
in sub-groups of the archive, and a Dropout), rebuilt with gen_fixtures.py's builder, seed and
weight randomisation, so its weights are the frozen graph's:
  tests/data/k3_transformer_block.keras

And, the same way, the Keras 3 models of the masked fixtures (Keras 3 records their masks as
NotEqual/Any op layers handed to the recurrent layers as `mask=` arguments), for `--keras` on a
masked model (tests/keras_flag.rs):
  tests/data/k3_mask_zero_rnn.keras, tests/data/k3_mask_zero_rnn.h5 (Keras 3's legacy .h5),
  tests/data/k3_masking_rnn.keras
  tests/data/k3_mask_zero_rnn_mask_by_hand.keras  the same layers and weights, but the LSTM called
      with mask=keras.ops.not_equal(ids, 1) (masks id 1, not the padding id 0): differs from the
      graph, and thaw must refuse its mask, not drop it

Deterministic: no random numbers (all weights come from the graph); pinned versions in
requirements.txt (tf-keras 2.21.0). Prints the check it makes: each rebuild's outputs vs
TensorFlow's stored outputs in io.npz (the faithful one must match, the faulty ones must not).

    $PY harness/make_handmade.py [--out tests/data]
(re-saving rewrites the files with new timestamps: to add a file, use --out /tmp/x and copy it)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
import keras  # noqa: E402  (Keras 3, for the .keras archives)

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "fixtures" / "tf1_mobilenet_v1_tail"


def graph_constants(pb: Path) -> dict[str, np.ndarray]:
    g = tf.compat.v1.GraphDef()
    g.ParseFromString(pb.read_bytes())
    return {n.name: tf.make_ndarray(n.attr["value"].tensor) for n in g.node if n.op == "Const"}


def build(c: dict[str, np.ndarray], fault: str | None) -> tf_keras.Model:
    """The recipe's model. Layer names are left to Keras (defaults)."""
    tf_keras.backend.clear_session()  # default names restart at conv2d, conv2d_1, ...
    L = tf_keras.layers
    eps = 1e-3 if fault == "eps" else 1.001e-5
    x_in = tf_keras.Input((12, 12, 3))
    x = L.ZeroPadding2D(1)(x_in)
    stem = L.Conv2D(8, 3, strides=2, padding="valid", use_bias=False)
    x = stem(x)
    bn = L.BatchNormalization(epsilon=eps)
    x = bn(x)
    x = L.ReLU(6.0)(x)
    if fault == "dropout":
        x = L.Dropout(0.5)(x)
    dw = L.DepthwiseConv2D(3, padding="same")
    x = dw(x)
    x = L.ReLU(6.0)(x)
    pw = L.Conv2D(12, 1, activation="relu")
    y = pw(x)
    if fault == "dropout":
        y = L.SpatialDropout2D(0.2)(y)
    y = L.AveragePooling2D(3, strides=2, padding="same")(y)
    a = L.AveragePooling2D(3, strides=1, padding="valid")(y)
    logits = L.Conv2D(5, 1)
    a = logits(a)
    a = L.Reshape((5,))(a)
    a = L.Softmax()(a)
    b = L.Flatten()(y)
    if fault == "dropout":
        b = L.GaussianNoise(0.1)(b)
    fc = L.Dense(4, activation="tanh")
    b = fc(b)
    model = tf_keras.Model(x_in, [a, b])
    kernel = c["stem/weights"]
    if fault == "kernel_t":
        kernel = np.transpose(kernel, (1, 0, 2, 3))
    stem.set_weights([kernel])
    bn.set_weights([c["stem/gamma"], c["stem/beta"], c["stem/moving_mean"], c["stem/moving_variance"]])
    dw.set_weights([c["dw/depthwise_weights"], c["dw/biases"]])
    pw.set_weights([c["pw/weights"], c["pw/biases"]])
    logits.set_weights([c["logits/weights"], c["logits/biases"]])
    fc.set_weights([c["fc/weights"], c["fc/biases"]])
    return model


def build_k3(c: dict[str, np.ndarray], fault: str | None) -> keras.Model:
    """The same recipe in Keras 3 (default Keras 3 layer names)."""
    keras.backend.clear_session()  # default names restart at conv2d, conv2d_1, ...
    L = keras.layers
    x_in = keras.Input((12, 12, 3))
    x = L.ZeroPadding2D(1)(x_in)
    stem = L.Conv2D(8, 3, strides=2, padding="valid", use_bias=False)
    x = stem(x)
    bn = L.BatchNormalization(epsilon=1.001e-5)
    x = bn(x)
    x = L.ReLU(6.0)(x)
    if fault == "dropout":
        x = L.Dropout(0.5)(x)
    dw = L.DepthwiseConv2D(3, padding="same")
    x = dw(x)
    x = L.ReLU(6.0)(x)
    pw = L.Conv2D(12, 1, activation="relu", use_bias=fault != "nobias")
    y = pw(x)
    if fault == "dropout":
        y = L.SpatialDropout2D(0.2)(y)
    y = L.AveragePooling2D(3, strides=2, padding="same")(y)
    a = L.AveragePooling2D(3, strides=1, padding="valid")(y)
    logits = L.Conv2D(5, 1)
    a = logits(a)
    a = L.Reshape((5,))(a)
    a = L.Softmax()(a)
    b = L.Flatten()(y)
    if fault == "dropout":
        b = L.GaussianNoise(0.1)(b)
    fc = L.Dense(4, activation="tanh")
    b = fc(b)
    model = keras.Model(x_in, [a, b])
    stem.set_weights([c["stem/weights"]])
    bn.set_weights([c["stem/gamma"], c["stem/beta"], c["stem/moving_mean"], c["stem/moving_variance"]])
    dw.set_weights([c["dw/depthwise_weights"], c["dw/biases"]])
    pw.set_weights([c["pw/weights"]] if fault == "nobias" else [c["pw/weights"], c["pw/biases"]])
    logits.set_weights([c["logits/weights"], c["logits/biases"]])
    fc_w = c["fc/weights"]
    if fault == "flatten":
        # Rows for a channels-first flatten of the (3, 3, 12) map, as a PyTorch port has them.
        fc_w = fc_w.reshape(3, 3, 12, 4).transpose(2, 0, 1, 3).reshape(108, 4)
    fc.set_weights([fc_w, c["fc/biases"]])
    return model


def build_fixture_model(case: str) -> keras.Model:
    """A Keras 3 fixture's own model (k3_transformer_block: native MultiHeadAttention, Dropout),
    with the very weights of its frozen graph: same builder, seed and weight randomisation as
    harness/gen_fixtures.py."""
    sys.path.insert(0, str(ROOT / "harness"))
    import gen_fixtures  # noqa: E402
    import tfcommon  # noqa: E402

    source, seed, builder = gen_fixtures.CASES[case]
    assert source == "keras3"
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model, _ = builder(keras)
    tfcommon.randomize_weights(model, np.random.default_rng([seed, 0]))
    return model


def build_k3_mask_by_hand() -> keras.Model:
    """fixtures/k3_mask_zero_rnn's model (gen_fixtures.build_mask_zero_rnn, its weights) with the
    LSTM's mask made by hand: `keras.ops.not_equal(ids, 1)` instead of the Embedding's `ids != 0`
    (the GRU and SimpleRNN get it through the LSTM)."""
    ref = build_fixture_model("k3_mask_zero_rnn")
    L = keras.layers
    ids = keras.Input((8,), name="ids", dtype="int32")
    e = L.Embedding(6, 4, mask_zero=True, name="embed")(ids)
    s = L.LSTM(4, return_sequences=True, name="lstm_seq")(e, mask=keras.ops.not_equal(ids, 1))
    s = L.GRU(4, go_backwards=True, return_sequences=True, name="gru_back")(s)
    h = L.SimpleRNN(3, name="rnn_last")(s)
    y = L.Dense(2, name="head")(h)
    model = keras.Model(ids, y, name="model")
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(ref.get_layer(layer.name).get_weights())
    return model


def matches_tf(model, case: Path = CASE) -> bool:
    io = np.load(case / "io.npz")
    x = [io[k] for k in io.files if k.startswith("input:")]
    got = model.predict(x[0] if len(x) == 1 else x, verbose=0)
    got = got if isinstance(got, (list, tuple)) else [got]
    want = [io[k] for k in io.files if k.startswith("output:")]
    # Same rule and tolerances as thaw's defaults (atol 1e-4, rtol 1e-3).
    return all(np.allclose(g, w, atol=1e-4, rtol=1e-3) for g, w in zip(got, want))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "data")
    args = ap.parse_args(argv)
    consts = graph_constants(CASE / "model.pb")
    ok = True
    for fault, suffix in [(None, ""), ("kernel_t", "_kernel_t"), ("eps", "_eps"), ("dropout", "_dropout")]:
        model = build(consts, fault)
        path = args.out / f"handmade_mobilenet_v1_tail{suffix}.h5"
        model.save(path, save_format="h5", include_optimizer=False)
        same = matches_tf(model)
        expected = fault in (None, "dropout")
        print(f"{path.name}: {'matches' if same else 'differs from'} TensorFlow "
              f"({'as expected' if same == expected else 'UNEXPECTED'})")
        ok &= same == expected
    for fault, suffix in [(None, ""), ("flatten", "_flatten"), ("nobias", "_nobias"), ("dropout", "_dropout")]:
        model = build_k3(consts, fault)
        path = args.out / f"handmade_mobilenet_v1_tail_k3{suffix}.keras"
        model.save(path)
        same = matches_tf(model)
        expected = fault in (None, "dropout")
        print(f"{path.name}: {'matches' if same else 'differs from'} TensorFlow "
              f"({'as expected' if same == expected else 'UNEXPECTED'})")
        ok &= same == expected
    # Keras 3's own legacy .h5 of the Dropout rebuild (model.save("m.h5")).
    path = args.out / "handmade_mobilenet_v1_tail_k3_dropout.h5"
    model = build_k3(consts, "dropout")
    model.save(path)
    same = matches_tf(model)
    print(f"{path.name}: {'matches' if same else 'differs from'} TensorFlow")
    ok &= same
    # A native Keras 3 MultiHeadAttention in a .keras archive.
    path = args.out / "k3_transformer_block.keras"
    model = build_fixture_model("k3_transformer_block")
    model.save(path)
    same = matches_tf(model, ROOT / "fixtures" / "k3_transformer_block")
    print(f"{path.name}: {'matches' if same else 'differs from'} TensorFlow")
    ok &= same
    # Masked Keras 3 models (their masks as NotEqual/Any op layers and mask= arguments).
    for case, files in [("k3_mask_zero_rnn", [".keras", ".h5"]), ("k3_masking_rnn", [".keras"])]:
        model = build_fixture_model(case)
        same = matches_tf(model, ROOT / "fixtures" / case)
        for ext in files:
            model.save(args.out / f"{case}{ext}")
            print(f"{case}{ext}: {'matches' if same else 'differs from'} TensorFlow")
        ok &= same
    path = args.out / "k3_mask_zero_rnn_mask_by_hand.keras"
    model = build_k3_mask_by_hand()
    model.save(path)
    same = matches_tf(model, ROOT / "fixtures" / "k3_mask_zero_rnn")
    print(f"{path.name}: {'matches' if same else 'differs from'} TensorFlow "
          f"({'UNEXPECTED' if same else 'as expected'})")
    ok &= not same
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
