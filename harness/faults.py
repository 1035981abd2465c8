"""Deliberately broken reconstructions of fixture models: is each fault found, and named?

For every cause kind thaw's diagnosis can name (issue 4: kernel_transposed, kernel_flipped,
kernel_axes, dense_transposed, padding, activation, bn_epsilon, bn_stats_swapped,
bn_affine_swapped, bias, weights_swapped, flatten_order), this script takes the `.h5` that
`thaw convert` writes for a fixture and breaks ONE layer of it with h5py, the way a hand rebuild
goes wrong: a config value left at the Keras default or mistyped in model_config (padding,
activation, epsilon, use_bias=False), or weights copied in the wrong layout or into the wrong
slot (HW transposed, flipped, OIHW/HWOI, a PyTorch (out, in) Dense matrix reshaped, CHW-ordered
Flatten rows, mean/variance or gamma/beta swapped, another layer's weights), or a layer added
that the graph does not have (an extra Activation('relu'); `--keras` mode only, as thaw's own
conversion has no graph tensor for it).

Each broken file is then checked in BOTH of thaw's modes:

- `--keras`: `thaw verify fixtures/<case>/model.pb --keras broken.h5` (the CLI, exit code 1
  expected), i.e. the user's hand-built model is aligned with the graph and verified; twice:
  with the converted layer names (aligned by name) and renamed to Keras's default names
  (`conv2d`, `batch_normalization_1`, `re_lu`, ..., as a rebuild that never sets `name=`;
  aligned by topology);
- `converted`: the same broken model stands in for thaw's own conversion (as if the converter
  had the bug): `tests/faults.rs::converted_mode_from_manifest`, an ignored Rust test driven by
  the manifest this script writes, swaps the broken model into the Conversion (its layer names
  are the converted ones, so the layer -> TF tensor map still holds) and calls
  `thaw::verify::verify_conversion`. thaw's CLI has no fault-injection flag on purpose.

A row is OK when the report's verdict is `fail`, `first_divergence.layer` is the faulted layer and
the expected kind is among its causes, or (`--keras`) a finding of that kind names the faulted layer.
Rows marked `known=` (in `known_modes`, or every mode) are documented gaps (shown as KNOWN,
not failures; they FAIL once they start passing, so the note gets removed). Before the faults,
every clean converted model must verify with `--keras`, under both namings, with every layer
aligned (no false alarm). Prints one Markdown table; exit 1 on any FAIL.

    $PY harness/faults.py [--thaw target/debug/thaw] [--work DIR] [--only KIND,KIND] [--skip-converted]

Deterministic: no random numbers (faults are fixed permutations/edits of the converted weights;
thaw's inputs are seeded). Needs only h5py and numpy from the pinned venv; builds thaw with cargo
unless --thaw is given. About 5 s once thaw and the Rust test binary are built (CI builds them
in `cargo test` first).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def str_array(names: list[str]) -> np.ndarray:
    """A string-list attribute as Keras and thaw write it (variable-length UTF-8; may be empty)."""
    return np.array(names, dtype=h5py.string_dtype("utf-8"))


class H5Model:
    """A thaw-written (Keras 2 layout) .h5 opened for editing: model_config and weights."""

    def __init__(self, path: Path):
        self.f = h5py.File(path, "r+")
        self.config = json.loads(self.f.attrs["model_config"])

    def layer_config(self, layer: str) -> dict:
        for entry in self.config["config"]["layers"]:
            if entry["name"] == layer:
                return entry["config"]
        raise KeyError(f"no layer {layer!r} in model_config")

    def _names(self, layer: str) -> list[str]:
        g = self.f["model_weights"][layer]
        return [n.decode() if isinstance(n, bytes) else str(n) for n in g.attrs["weight_names"]]

    def _path(self, layer: str, weight: str) -> str:
        for n in self._names(layer):
            if n.split("/")[-1].split(":")[0] == weight:
                return f"model_weights/{layer}/{n}"
        raise KeyError(f"layer {layer!r} has no weight {weight!r} (has {self._names(layer)})")

    def weight(self, layer: str, weight: str) -> np.ndarray:
        return self.f[self._path(layer, weight)][()]

    def set_weight(self, layer: str, weight: str, value: np.ndarray) -> None:
        ds = self.f[self._path(layer, weight)]
        if ds.shape != value.shape:
            raise ValueError(f"{layer}/{weight}: shape {value.shape}, file has {ds.shape}")
        ds[...] = value.astype(ds.dtype)

    def drop_weight(self, layer: str, weight: str) -> None:
        path = self._path(layer, weight)
        del self.f[path]
        g = self.f["model_weights"][layer]
        keep = [n for n in self._names(layer) if f"model_weights/{layer}/{n}" != path]
        g.attrs["weight_names"] = str_array(keep)

    def insert_after(self, anchor: str, entry: dict) -> None:
        """Adds the weightless layer `entry` (a model_config layer entry without inbound_nodes)
        after `anchor`: it reads `anchor`, and every layer or model output that read `anchor`
        reads it instead. An empty weights group is written for it, as Keras does."""
        cfg = self.config["config"]
        name = entry["name"]
        for layer in cfg["layers"]:
            for node in layer["inbound_nodes"]:
                for ref in node:
                    if ref[0] == anchor:
                        ref[0] = name
        for ref in cfg["output_layers"]:
            if ref[0] == anchor:
                ref[0] = name
        at = next(i for i, l in enumerate(cfg["layers"]) if l["name"] == anchor) + 1
        cfg["layers"].insert(at, dict(entry, inbound_nodes=[[[anchor, 0, 0, {}]]]))
        mw = self.f["model_weights"]
        mw.create_group(name).attrs["weight_names"] = str_array([])
        if "layer_names" in mw.attrs:
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in mw.attrs["layer_names"]]
            mw.attrs["layer_names"] = str_array(names + [name])

    def rename_to_defaults(self) -> dict[str, str]:
        """Gives every layer the name Keras would (class in snake case, numbered per class in
        config order: conv2d, conv2d_1, batch_normalization, re_lu, ...; inputs input_1, ...),
        as a hand rebuild that never sets `name=` has. Returns old name -> new name."""
        cfg = self.config["config"]
        used: dict[str, int] = {}
        new: dict[str, str] = {}
        for entry in cfg["layers"]:
            base = "input" if entry["class_name"] == "InputLayer" else snake_case(entry["class_name"])
            n = used.get(base, 0)
            used[base] = n + 1
            if base == "input":
                new[entry["name"]] = f"input_{n + 1}"
            else:
                new[entry["name"]] = base if n == 0 else f"{base}_{n}"
        for entry in cfg["layers"]:
            entry["name"] = entry["config"]["name"] = new[entry["name"]]
            for node in entry["inbound_nodes"]:
                for ref in node:
                    ref[0] = new[ref[0]]
        for key in ("input_layers", "output_layers"):
            for ref in cfg[key]:
                ref[0] = new[ref[0]]
        mw = self.f["model_weights"]
        for old, name in new.items():
            if old not in mw:
                continue
            mw.move(old, f"tmp__{name}")
        for old, name in new.items():
            if f"tmp__{name}" not in mw:
                continue
            mw.move(f"tmp__{name}", name)
            g = mw[name]
            if old in g:
                g.move(old, name)
            renamed = [n.decode() if isinstance(n, bytes) else str(n) for n in g.attrs["weight_names"]]
            renamed = [name + n[len(old):] if n.startswith(old + "/") else n for n in renamed]
            g.attrs["weight_names"] = str_array(renamed)
        if "layer_names" in mw.attrs:
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in mw.attrs["layer_names"]]
            mw.attrs["layer_names"] = str_array([new.get(n, n) for n in names])
        return new

    def close(self) -> None:
        self.f.attrs["model_config"] = json.dumps(self.config)
        self.f.close()


def snake_case(name: str) -> str:
    """keras.src.utils.naming.to_snake_case: Conv2D -> conv2d, ReLU -> re_lu."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


# --- the faults: each edits one layer the way a hand rebuild gets it wrong -------------------


def kernel_transposed(m: H5Model, layer: str) -> str:
    m.set_weight(layer, "kernel", np.transpose(m.weight(layer, "kernel"), (1, 0, 2, 3)))
    return "3x3 kernel copied with kh and kw swapped"


def kernel_flipped(m: H5Model, layer: str) -> str:
    m.set_weight(layer, "depthwise_kernel", m.weight(layer, "depthwise_kernel")[:, ::-1])
    return "depthwise kernel flipped left-right"


def kernel_axes_hwoi(m: H5Model, layer: str) -> str:
    m.set_weight(layer, "kernel", np.transpose(m.weight(layer, "kernel"), (0, 1, 3, 2)))
    return "kernel copied as HWOI (in/out swapped; 6x6 so the shape still fits)"


def kernel_axes_oihw_reshaped(m: H5Model, layer: str) -> str:
    k = m.weight(layer, "kernel")
    m.set_weight(layer, "kernel", np.ascontiguousarray(np.transpose(k, (3, 2, 0, 1))).reshape(k.shape))
    return "OIHW (PyTorch) kernel reshaped, not transposed, to HWIO"


def dense_transposed(m: H5Model, layer: str) -> str:
    k = m.weight(layer, "kernel")
    m.set_weight(layer, "kernel", np.ascontiguousarray(k.T).reshape(k.shape))
    return "Dense (out, in) matrix reshaped, not transposed, to (in, out)"


def padding_valid(m: H5Model, layer: str) -> str:
    cfg = m.layer_config(layer)
    assert cfg["padding"] == "same", cfg
    cfg["padding"] = "valid"
    return "padding='valid' (Keras's default) where the graph pads SAME"


def activation(new: str) -> Callable[[H5Model, str], str]:
    def f(m: H5Model, layer: str) -> str:
        cfg = m.layer_config(layer)
        old = cfg["activation"]
        cfg["activation"] = new
        return f"activation={new!r} instead of {old!r}"

    return f


def relu_uncapped(m: H5Model, layer: str) -> str:
    cfg = m.layer_config(layer)
    assert cfg["max_value"] == 6.0, cfg
    cfg["max_value"] = None
    return "ReLU() where the graph has relu6"


def bn_epsilon_default(m: H5Model, layer: str) -> str:
    cfg = m.layer_config(layer)
    old = cfg["epsilon"]
    assert abs(old - 1.001e-5) < 1e-9, cfg
    cfg["epsilon"] = 1e-3
    return f"epsilon left at Keras's default 1e-3 (graph: {old:g})"


def swap(a: str, b: str, what: str) -> Callable[[H5Model, str], str]:
    def f(m: H5Model, layer: str) -> str:
        va, vb = m.weight(layer, a), m.weight(layer, b)
        m.set_weight(layer, a, vb)
        m.set_weight(layer, b, va)
        return what

    return f


def bias_missing(m: H5Model, layer: str) -> str:
    m.layer_config(layer)["use_bias"] = False
    m.drop_weight(layer, "bias")
    return "use_bias=False: the graph's BiasAdd was not carried over"


def weights_swapped_with(other: str) -> Callable[[H5Model, str], str]:
    def f(m: H5Model, layer: str) -> str:
        for w in ("gamma", "beta", "moving_mean", "moving_variance"):
            va, vb = m.weight(layer, w), m.weight(other, w)
            m.set_weight(layer, w, vb)
            m.set_weight(other, w, va)
        return f"set_weights of '{layer}' and '{other}' crossed (same shapes)"

    return f


def flatten_chw(h: int, w: int, c: int) -> Callable[[H5Model, str], str]:
    def f(m: H5Model, layer: str) -> str:
        k = m.weight(layer, "kernel")
        assert k.shape[0] == h * w * c, k.shape
        # Row (h, w, c) of the channels-last kernel lands where a channels-first
        # (PyTorch / Keras channels_first) Flatten would have it.
        chw = k.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(k.shape)
        m.set_weight(layer, "kernel", chw)
        return f"Dense rows in (C, H, W) order after Flatten of ({h}, {w}, {c})"

    return f


def relu6_to_identity(m: H5Model, layer: str) -> str:
    cfg = m.layer_config(layer)
    assert cfg["max_value"] == 6.0, cfg
    cfg["max_value"] = None
    cfg["negative_slope"] = 1.0
    return "ReLU(max_value=None, negative_slope=1): an identity where the graph has relu6"


def padding_split(new: list[list[int]]) -> Callable[[H5Model, str], str]:
    """ZeroPadding2D with the same totals per axis, split otherwise (issue 10)."""

    def f(m: H5Model, layer: str) -> str:
        cfg = m.layer_config(layer)
        old = [list(p) for p in cfg["padding"]]
        assert [sum(p) for p in old] == [sum(p) for p in new], (old, new)
        cfg["padding"] = new
        return f"ZeroPadding2D padding {new} instead of {old}"

    return f


def kernel_rotated(weight: str) -> Callable[[H5Model, str], str]:
    def f(m: H5Model, layer: str) -> str:
        m.set_weight(layer, weight, np.ascontiguousarray(m.weight(layer, weight)[::-1, ::-1]))
        return f"{weight} rotated 180 degrees"

    return f


def kernel_reversed_in_time(m: H5Model, layer: str) -> str:
    m.set_weight(layer, "kernel", np.ascontiguousarray(m.weight(layer, "kernel")[::-1]))
    return "Conv1D kernel reversed in time (steps axis flipped)"


def bias_zeroed(m: H5Model, layer: str) -> str:
    b = m.weight(layer, "bias")
    assert np.any(b != 0), "the bias is already zero"
    m.set_weight(layer, "bias", np.zeros_like(b))
    return f"bias zeroed (activation={m.layer_config(layer).get('activation')!r})"


def extra_relu(name: str) -> Callable[[H5Model, str], str]:
    """A layer the graph does not have: Activation("relu") after `anchor` (the Fault's layer),
    as a rebuild that adds an activation the original leaves linear. The layer to locate is the
    inserted one (Fault.located)."""

    def f(m: H5Model, anchor: str) -> str:
        entry = {"class_name": "Activation", "name": name,
                 "config": {"name": name, "activation": "relu", "trainable": True, "dtype": "float32"}}
        m.insert_after(anchor, entry)
        return f"an extra Activation('relu') '{name}' after '{anchor}', where the graph has none"

    return f


@dataclass
class Fault:
    kind: str  # the cause kind thaw must name
    case: str  # fixture
    layer: str  # the layer that is broken (and must be located)
    apply: Callable[[H5Model, str], str]
    # Why this fault is expected NOT to be located (a known gap, shown as KNOWN in the table and
    # not counted as a failure; if it starts being located, the row FAILs until this is removed).
    known: str | None = None
    # The modes (prefixes of the table's mode column) `known` applies to; empty: every mode.
    known_modes: tuple[str, ...] = ()
    # thaw's --input-range for this fault (both modes); the CLI's default otherwise.
    input_range: tuple[float, float] = (-1.0, 1.0)
    # The layer that must be located when it is not `layer` (a layer the fault inserts). Such a
    # fault adds a layer thaw's conversion has no tensor for, so it has no converted-mode row.
    located: str | None = None
    # Generated faults (--generated): which weight the fault edits (a layer with two kernels has
    # one fault per kernel) and the layer's class, for the kind x class table.
    variant: str = ""
    layer_class: str = ""

    @property
    def ident(self) -> str:
        wide = "" if self.input_range == (-1.0, 1.0) else f"-range{self.input_range[1]:g}"
        var = f"-{self.variant}" if self.variant else ""
        return f"{self.kind}-{self.case}-{self.layer}{var}{wide}"


FAULTS = [
    Fault("kernel_transposed", "k3_conv_strides_dilation", "conv_s2_same_relu", kernel_transposed),
    Fault("kernel_transposed", "tf1_vgg_style", "conv1", kernel_transposed),
    Fault("kernel_flipped", "k3_bn_depthwise_relu6", "dw1", kernel_flipped),
    Fault("kernel_flipped", "tk_inverted_residual", "b1_dw", kernel_flipped),
    Fault("kernel_axes", "tf1_vgg_style", "conv2", kernel_axes_hwoi),
    Fault("kernel_axes", "tk_conv_strides_dilation", "conv_s2_same_relu", kernel_axes_oihw_reshaped),
    Fault("dense_transposed", "tk_pool_flatten_dense", "dense_logits", dense_transposed),
    Fault("dense_transposed", "tf1_vgg_style", "logits", dense_transposed),
    # VALID makes the dilated 5x5 window larger than the 4x2 input: the layer cannot run at all
    # (once an internal error, exit 4); it fails, in isolation too, and SAME makes it pass.
    Fault("padding", "tk_conv_strides_dilation", "conv_d2_same_tanh", padding_valid),
    # Models that cannot run past the faulted layer: a smaller output reaches a layer that needs
    # a matching shape (Add of two branches, Concatenate with a skip connection, a Dense after
    # Flatten). Those layers get no value (cumulative `error`); the faulted one still fails in
    # isolation, so it is located and the padding hypothesis named.
    Fault("padding", "k3_add_concat_two_inputs", "conv_a", padding_valid),
    Fault("padding", "tk_unet_small", "enc2", padding_valid),
    Fault("padding", "k3_pool_flatten_dense", "conv_tanh", padding_valid),
    Fault("padding", "k3_bn_depthwise_relu6", "dw1", padding_valid),
    Fault("padding", "tf1_vgg_style", "conv1", padding_valid),
    Fault("activation", "k3_pool_flatten_dense", "conv_tanh", activation("linear")),
    Fault("activation", "tk_pool_flatten_dense", "dense_sigmoid", activation("tanh")),
    Fault("activation", "k3_conv_strides_dilation", "relu_standalone", activation("linear")),
    # relu6 -> relu is NOT observable numerically here: with inputs in [-1, 1] no pre-activation
    # of this fixture reaches 6, so both models compute the same values. `--keras` names it anyway
    # (the configuration diff: a finding of kind `activation`), and so does the converted mode
    # (the structural witness, src/verify/witness.rs: the graph computes the tensor with Relu6).
    Fault("activation", "k3_bn_depthwise_relu6", "stem_relu6", relu_uncapped),
    # ... and found once the inputs are wide enough for the cap to bite.
    Fault("activation", "k3_bn_depthwise_relu6", "stem_relu6", relu_uncapped, input_range=(-10, 10)),
    # A layer the graph lacks (unaligned, compared as an identity with its input's tensor):
    # located at itself, not at the layer after it. `--keras` only.
    Fault("activation", "k3_bn_depthwise_relu6", "stem_conv", extra_relu("extra_relu"),
          located="extra_relu"),
    # ... also right before the graph's own softmax (the softmax stays aligned with the user's).
    Fault("activation", "tf1_vgg_style", "logits", extra_relu("extra_relu"), located="extra_relu"),
    # Issue 10's examples that were located but named `other`.
    Fault("activation", "k3_bn_depthwise_relu6", "stem_relu6", relu6_to_identity, input_range=(-10, 10)),
    Fault("padding", "k3_bn_depthwise_relu6", "pad", padding_split([[2, 1], [1, 0]])),
    Fault("padding", "tk_inverted_residual", "b2_pad", padding_split([[1, 0], [1, 0]])),
    Fault("kernel_flipped", "k3_separable_crop_groups", "sep_same_relu", kernel_rotated("depthwise_kernel")),
    Fault("kernel_flipped", "k3_text_cnn", "conv_same_relu", kernel_reversed_in_time),
    Fault("bias", "k3_text_cnn", "dense_softmax", bias_zeroed),
    Fault("bn_epsilon", "k3_bn_depthwise_relu6", "stem_bn", bn_epsilon_default),
    Fault("bn_epsilon", "tf1_mobilenet_v1_tail", "stem_2", bn_epsilon_default),
    Fault("bn_stats_swapped", "tk_inverted_residual", "b1_expand_bn",
          swap("moving_mean", "moving_variance", "moving_mean and moving_variance swapped")),
    Fault("bn_stats_swapped", "k3_bn_depthwise_relu6", "dw1_bn",
          swap("moving_mean", "moving_variance", "moving_mean and moving_variance swapped")),
    Fault("bn_affine_swapped", "k3_inverted_residual", "b1_dw_bn", swap("gamma", "beta", "gamma and beta swapped")),
    Fault("bn_affine_swapped", "tf1_mobilenet_v1_tail", "stem_2", swap("gamma", "beta", "gamma and beta swapped")),
    Fault("bias", "tf1_mobilenet_v1_tail", "pw", bias_missing),
    Fault("bias", "k3_bn_depthwise_relu6", "pw_relu6", bias_missing),
    Fault("weights_swapped", "tk_inverted_residual", "b1_expand_bn", weights_swapped_with("b1_dw_bn")),
    Fault("weights_swapped", "k3_inverted_residual", "b1_expand_bn", weights_swapped_with("b1_dw_bn")),
    Fault("flatten_order", "tk_pool_flatten_dense", "dense_relu", flatten_chw(3, 3, 4)),
    Fault("flatten_order", "tf1_mobilenet_v1_tail", "fc_1", flatten_chw(3, 3, 12)),
]

KINDS = sorted({f.kind for f in FAULTS} | {"gate_order"})


# --- the generated corpus (issue 10 §4): every cause kind on every layer it applies to --------
#
# Faults are derived from what a layer HAS (a kernel with spatial axes, an IO matrix, an
# activation, a SAME padding or explicit pads, an epsilon, statistics, an affine pair, a bias),
# read from the converted .h5, never from a list of classes: a new layer class is covered the
# day its conversion writes such a field. One fault per (fixture, class, kind, weight): the
# first layer of that class where the fault applies and changes the numbers.


def _weight_names(m: H5Model, layer: str) -> list[str]:
    if layer not in m.f["model_weights"]:
        return []
    return [n.split("/")[-1].split(":")[0] for n in m._names(layer)]


def _set(weight: str, fn: Callable[[np.ndarray], np.ndarray], what: str) -> Callable[[H5Model, str], str]:
    def f(m: H5Model, layer: str) -> str:
        m.set_weight(layer, weight, np.ascontiguousarray(fn(m.weight(layer, weight))))
        return what

    return f


def _config(key: str, value, what: str) -> Callable[[H5Model, str], str]:
    def f(m: H5Model, layer: str) -> str:
        m.layer_config(layer)[key] = value
        return what

    return f


def _other_split(pads: list[list[int]]) -> list[list[int]] | None:
    """The same total per axis, split differently (first axis with a total > 0)."""
    for i, (a, b) in enumerate(pads):
        if a + b > 0:
            new = [list(p) for p in pads]
            new[i] = [a + 1, b - 1] if b > 0 else [a - 1, b + 1]
            return new
    return None


def capability_faults(m: H5Model, layer: str, cls: str) -> list[tuple[str, str, Callable[[H5Model, str], str]]]:
    """(kind, variant, fault) for every fault `layer` admits, by what it has."""
    out = []
    cfg = m.layer_config(layer)
    names = _weight_names(m, layer)
    for w in names:
        if not w.endswith("kernel"):
            continue
        k = m.weight(layer, w)
        if k.ndim >= 3:  # a conv's spatial axes first, then (in, out); or attention's (in, heads, size)
            spatial = [a for a in range(k.ndim - 2) if k.shape[a] > 1] if "kernel_size" in cfg else []
            if spatial:
                a = spatial[-1]
                out.append(("kernel_flipped", w, _set(w, lambda v, a=a: np.flip(v, a), f"{w} flipped along axis {a}")))
            if spatial and k.ndim == 4 and k.shape[0] == k.shape[1] > 1:
                out.append(("kernel_transposed", w,
                            _set(w, lambda v: np.transpose(v, (1, 0, 2, 3)), f"{w} with kh and kw swapped")))
            if k.size > 1:
                out.append(("kernel_axes", w, _set(
                    w, lambda v: np.transpose(v, tuple(range(v.ndim))[::-1]).reshape(v.shape),
                    f"{w} in reversed axis order reshaped (not transposed) to its shape")))
        elif k.ndim == 2 and k.shape[0] > 1 and k.shape[1] > 1:
            out.append(("dense_transposed", w,
                        _set(w, lambda v: v.T.reshape(v.shape), f"{w} (out, in) reshaped, not transposed")))
    act = cfg.get("activation")
    if isinstance(act, str) and cls != "Activation":
        new = "relu" if act == "linear" else "linear"
        out.append(("activation", "", _config("activation", new, f"activation={new!r} instead of {act!r}")))
    elif cls == "Activation" and isinstance(act, str):
        new = "tanh" if act != "tanh" else "sigmoid"
        out.append(("activation", "", _config("activation", new, f"Activation({new!r}) instead of {act!r}")))
    if cls == "ReLU" and cfg.get("max_value") is not None:
        out.append(("activation", "", _config("max_value", None, "ReLU() where the graph has a capped relu")))
    pad = cfg.get("padding")
    if pad == "same" and any(s > 1 for s in (cfg.get("kernel_size") or cfg.get("pool_size") or [1])):
        out.append(("padding", "", _config("padding", "valid", "padding='valid' where the graph pads SAME")))
    elif isinstance(pad, list) and pad and all(isinstance(p, list) for p in pad):
        new = _other_split(pad)
        if new is not None:
            out.append(("padding", "", _config("padding", new, f"padding {new} instead of {pad}")))
    elif isinstance(pad, list) and len(pad) == 2 and all(isinstance(p, int) for p in pad):  # ZeroPadding1D
        if sum(pad) > 0:
            new = [pad[0] + 1, pad[1] - 1] if pad[1] > 0 else [pad[0] - 1, pad[1] + 1]
            out.append(("padding", "", _config("padding", new, f"padding {new} instead of {pad}")))
    eps = cfg.get("epsilon")
    if isinstance(eps, (int, float)):
        new = 1e-3 if abs(eps - 1e-3) > 1e-9 else 1e-5
        out.append(("bn_epsilon", "", _config("epsilon", new, f"epsilon {new:g} instead of {eps:g}")))
    if "moving_mean" in names and "moving_variance" in names:
        out.append(("bn_stats_swapped", "", swap("moving_mean", "moving_variance", "mean and variance swapped")))
    if "gamma" in names and "beta" in names:
        out.append(("bn_affine_swapped", "", swap("gamma", "beta", "gamma and beta swapped")))
    if "bias" in names and np.any(m.weight(layer, "bias") != 0):
        out.append(("bias", "", bias_zeroed))
    if cls in ("LSTM", "GRU"):  # gated: gate blocks along the weights' last axis (ifco / zrh)
        out.append(("gate_order", "", gates_1_2_swapped))
    return out


def gates_1_2_swapped(m: H5Model, layer: str) -> str:
    """Gate blocks in another framework's order, in every weight: TF1's LSTMCell/BlockLSTM i,c,f,o
    (Keras: i,f,c,o), PyTorch's GRU r,z,n (Keras: z,r,h)."""
    cls = next(e["class_name"] for e in m.config["config"]["layers"] if e["name"] == layer)
    g, order, name = {"LSTM": (4, [0, 2, 1, 3], "i,c,f,o"), "GRU": (3, [1, 0, 2], "r,z,h")}[cls]
    for w in _weight_names(m, layer):
        v = m.weight(layer, w)
        b = v.shape[-1] // g
        m.set_weight(layer, w, np.concatenate([v[..., k * b:(k + 1) * b] for k in order], axis=-1))
    return f"gate blocks in {cls}'s other common order ({name}) in kernel, recurrent kernel and bias"


# Documented gaps of the generated corpus, by (kind, class) or, for one row, (kind, class, case,
# layer): shown as KNOWN, and FAIL once they start passing (so this list only shrinks).
#
# Empty now: the numeric bias fit (`compare/hypotheses.rs::fitted_bias_hypotheses`) needs at least
# two output values per fitted bias value, and a recurrent layer returning only its last step had
# fewer on the 4 verified samples (LSTM(4): 16 outputs for 16 biases); a failing model's diagnosis
# now also reads the graph on 3 more seeded input sets (`verify/compare.rs::DIAGNOSIS_RUNS`).
GENERATED_GAPS: dict[tuple[str, ...], tuple[str, tuple[str, ...]]] = {}
UNOBSERVABLE = ("numerically unobservable: the faulted layer's numbers are exactly the graph's on the seeded "
                "inputs (verdict pass); `--keras` names it from the configuration")


def generated_faults(case: str, h5: Path) -> list[Fault]:
    m = H5Model(h5)
    faults, seen = [], set()
    try:
        for entry in m.config["config"]["layers"]:
            cls, layer = entry["class_name"], entry["name"]
            if cls == "InputLayer":
                continue
            for kind, variant, apply in capability_faults(m, layer, cls):
                key = (cls, kind, variant)
                if key in seen:
                    continue
                seen.add(key)
                known, modes = (GENERATED_GAPS.get((kind, cls, case, layer))
                                or GENERATED_GAPS.get((kind, cls), (None, ())))
                faults.append(Fault(kind, case, layer, apply, variant=variant, layer_class=cls,
                                    known=known, known_modes=modes))
    finally:
        m.f.close()
    return faults


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, **kw)


def judge(fault: Fault, report_path: Path, layer: str | None = None) -> dict:
    """The row's outcome from a report.json; `layer` is the faulted layer's name in that model
    (default: its converted name)."""
    layer = layer or fault.layer
    if not report_path.is_file():
        err = report_path.parent / "error.txt"
        why = err.read_text().strip().splitlines()[0][:120] if err.is_file() else "no report"
        return {"located": "-", "kinds": f"({why})", "after": "-", "ok": False, "verdict": "-"}
    r = json.loads(report_path.read_text())
    fd = r.get("first_divergence") or {}
    causes = fd.get("causes") or []
    kinds = []
    for c in causes:
        if c["kind"] not in kinds:
            kinds.append(c["kind"])
    matching = [c["max_abs_after_fix"] for c in causes if c["kind"] == fault.kind]
    after = f"{min(matching):.2e}" if matching else "-"
    located = fd.get("layer", "-")
    ok = r.get("verdict") == "fail" and located == layer and bool(matching)
    # `--keras` only: a configuration/weight finding (report.json `findings[]`) names the layer and
    # the kind before any numbers, also where the inputs never expose the difference (relu6 vs
    # relu below 6). It counts as located only at the faulted layer with the fault's kind.
    found = [x for x in r.get("findings") or [] if x.get("layer") == layer and x.get("kind") == fault.kind]
    if not ok and found and r.get("verdict") == "fail":
        ok, located = True, f"{layer} (finding)"
        kinds = kinds + [k for k in [fault.kind] if k not in kinds]
    # The faulted layer's own (isolated) error: exactly 0 means the fault changes no number on
    # these inputs (relu6 -> relu where nothing reaches 6).
    iso = [(x.get("isolated") or {}).get("max_abs") for x in r.get("layers") or [] if x.get("name") == layer]
    return {"located": located, "kinds": ", ".join(kinds) or f"(verdict {r.get('verdict')})",
            "after": after, "ok": ok,
            "verdict": r.get("verdict"), "isolated": iso[0] if iso else None}


SAVE_ARCHIVES = """
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, sys.argv[1])
import keras
from roundtrip import _fallback_module
saved = []
for src, dst in json.loads(sys.stdin.read()):
    try:
        fallbacks = _fallback_module(src)
        kw = {"custom_objects": fallbacks.custom_objects(keras)} if fallbacks else {}
        keras.models.load_model(src, compile=False, **kw).save(dst)
        saved.append(dst)
    except Exception as e:  # a broken model Keras cannot build: reported, not a row
        print(f"{src}: {type(e).__name__}: {str(e)[:200]}", file=sys.stderr)
print(json.dumps(saved))
"""


def save_as_keras_archives(pairs: list[tuple[str, str]]) -> set[str]:
    """Loads each .h5 in Keras 3 and saves it as .keras; returns the archives written."""
    if not pairs:
        return set()
    p = subprocess.run([sys.executable, "-c", SAVE_ARCHIVES, str(ROOT / "harness")], input=json.dumps(pairs),
                       capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError(f"saving .keras archives failed:\n{p.stderr[-3000:]}")
    return set(json.loads(p.stdout.strip().splitlines()[-1]))


def kind_class_table(rows, result) -> str:
    """Cause kind x layer class: located-and-named / faults, per mode ("2/2 · 2/2" = --keras · converted)."""
    modes = sorted({mode for _, _, mode, _ in rows}, key=lambda m: (m != "--keras", m))
    cells: dict[tuple[str, str], dict[str, list[int]]] = {}
    for f, _, mode, row in rows:
        c = cells.setdefault((f.kind, f.layer_class), {m: [0, 0] for m in modes})
        c[mode][1] += 1
        c[mode][0] += result(f, mode, row) == "OK"
    classes = sorted({k[1] for k in cells})
    kinds = sorted({k[0] for k in cells})
    lines = [f"located with the right kind / faults ({' · '.join(modes)})", "",
             "| class | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    for cls in classes:
        out = []
        for kind in kinds:
            c = cells.get((kind, cls))
            out.append(" · ".join(f"{c[m][0]}/{c[m][1]}" for m in modes) if c else "")
        lines.append(f"| {cls} | " + " | ".join(out) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--thaw", type=Path, help="thaw binary (default: cargo build, target/debug/thaw)")
    ap.add_argument("--work", type=Path, help="keep the broken models and reports here (default: a temp dir)")
    ap.add_argument("--only", help="comma-separated cause kinds")
    ap.add_argument("--skip-converted", action="store_true", help="only the --keras mode (no cargo test)")
    ap.add_argument("--generated", nargs="?", const="all", metavar="CASES",
                    help="instead of the hand-written faults, the generated corpus: every cause kind on every "
                    "layer class it applies to, in the given fixtures (comma-separated; default: all)")
    ap.add_argument("--skip-archives", action="store_true", help="--generated: no .keras rows (no Keras import)")
    ap.add_argument("--table", type=Path, help="also write the kind x class table (Markdown) here")
    args = ap.parse_args(argv)
    t0 = time.monotonic()

    faults = FAULTS
    if args.generated:
        cases = (sorted(p.name for p in FIXTURES.iterdir() if (p / "model.pb").is_file())
                 if args.generated == "all" else args.generated.split(","))
        faults = [Fault("", c, "", lambda m, l: "") for c in cases]  # placeholders: cases to convert
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - set(KINDS)
        if unknown:
            ap.error(f"unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
        if not args.generated:
            faults = [f for f in FAULTS if f.kind in wanted]

    thaw = args.thaw
    if thaw is None:
        b = run(["cargo", "build", "--quiet", "--bin", "thaw"])
        if b.returncode != 0:
            print(b.stderr, file=sys.stderr)
            return 1
        thaw = ROOT / "target" / "debug" / "thaw"
    thaw = thaw.resolve()

    tmp = None
    if args.work is None:
        tmp = tempfile.TemporaryDirectory(prefix="thaw-faults-")
        work = Path(tmp.name)
    else:
        work = args.work.resolve()
        work.mkdir(parents=True, exist_ok=True)

    problems = []
    # 1. Clean conversions: written once per case, and no false alarm with --keras.
    clean = {}
    for case in sorted({f.case for f in faults}):
        pb = FIXTURES / case / "model.pb"
        h5 = work / "clean" / case / f"{case}.h5"  # a folder per case: thaw_fallbacks.py goes beside
        h5.parent.mkdir(parents=True, exist_ok=True)
        c = run([str(thaw), "convert", str(pb), "-o", str(h5)])
        if c.returncode != 0:
            problems.append(f"thaw convert {case}: exit {c.returncode}: {c.stderr.strip()}")
            continue
        renamed = work / "clean" / case / f"{case}_default_names.h5"
        shutil.copyfile(h5, renamed)
        m = H5Model(renamed)
        m.rename_to_defaults()
        m.close()
        for model, out in [(h5, case), (renamed, f"{case}_default_names")]:
            v = run([str(thaw), "verify", str(pb), "--keras", str(model), "--out", str(work / "clean" / out)])
            if v.returncode != 0:
                problems.append(f"clean {model.name} with --keras: exit {v.returncode} (expected 0)\n{v.stdout}{v.stderr}")
            al = work / "clean" / out / "alignment.json"
            if al.is_file():
                a = json.loads(al.read_text())
                if a["unaligned_user"] or a["unaligned_converted"]:
                    problems.append(f"clean {model.name}: unaligned layers {a['unaligned_user']} / "
                                    f"{a['unaligned_converted']}")
        clean[case] = h5

    if args.generated:
        faults = [f for case, h5 in clean.items() for f in generated_faults(case, h5)]
        if args.only:
            faults = [f for f in faults if f.kind in wanted]

    # 2. One broken copy per fault; --keras mode through the CLI.
    rows = []
    manifest = []
    for f in faults:
        if f.case not in clean:
            continue
        d = work / f.ident
        d.mkdir(parents=True, exist_ok=True)
        broken = d / "broken.h5"
        shutil.copyfile(clean[f.case], broken)
        if (clean[f.case].parent / "thaw_fallbacks.py").is_file():
            shutil.copyfile(clean[f.case].parent / "thaw_fallbacks.py", d / "thaw_fallbacks.py")
        m = H5Model(broken)
        what = f.apply(m, f.layer)
        m.close()
        pb = FIXTURES / f.case / "model.pb"
        # The same fault in a rebuild with Keras's default names (aligned by topology, not name).
        renamed = d / "broken_default_names.h5"
        shutil.copyfile(broken, renamed)
        m = H5Model(renamed)
        new = m.rename_to_defaults()
        m.close()
        target = f.located or f.layer
        modes = [("--keras", broken, "keras", target)]
        if not args.generated:
            modes.append(("--keras, default names", renamed, "keras_default_names", new[target]))
        for mode, h5, out, layer in modes:
            lo, hi = f.input_range
            v = run([str(thaw), "verify", str(pb), "--keras", str(h5), "--out", str(d / out),
                     f"--input-range={lo:g},{hi:g}"])
            row = judge(f, d / out / "report.json", layer)
            if v.returncode != 1:
                row["ok"] = False
                why = v.stderr.strip().splitlines()[0][:120] if v.stderr.strip() else f"verdict {row['verdict']}"
                row["kinds"] = f"(exit {v.returncode}: {why})"
            rows.append((f, what, mode, row))
        if f.located is None:
            manifest.append({"model": str(pb), "h5": str(broken), "out": str(d / "converted"),
                             "input_range": list(f.input_range)})

    # 2b. (--generated) The same broken models as Keras 3 `.keras` archives, saved by real Keras 3
    # from the broken .h5 (one process for all), through `--keras`. A broken model Keras itself
    # cannot build (a VALID padding that shrinks what a later layer expects) has no .keras row.
    if args.generated and not args.skip_archives:
        todo = [(f, work / f.ident / "broken.h5", work / f.ident / "broken.keras") for f in faults
                if f.case in clean and (work / f.ident / "broken.h5").is_file()]
        saved = save_as_keras_archives([(str(h5), str(k)) for _, h5, k in todo])
        for f, _, archive in todo:
            if str(archive) not in saved:
                continue
            pb = FIXTURES / f.case / "model.pb"
            out = work / f.ident / "keras_archive"
            v = run([str(thaw), "verify", str(pb), "--keras", str(archive), "--out", str(out)])
            row = judge(f, out / "report.json", f.located or f.layer)
            if v.returncode != 1:
                row["ok"] = False
                why = v.stderr.strip().splitlines()[0][:120] if v.stderr.strip() else f"verdict {row['verdict']}"
                row["kinds"] = f"(exit {v.returncode}: {why})"
            rows.append((f, "", "--keras .keras", row))
        unbuildable = len(todo) - len(saved)
        if unbuildable:
            print(f"{unbuildable} broken model(s) Keras 3 cannot build or save (no .keras row)", file=sys.stderr)

    # 3. The converted-model mode, in one cargo test run over the manifest.
    if not args.skip_converted and manifest:
        mf = work / "manifest.json"
        mf.write_text(json.dumps(manifest, indent=1))
        env = dict(os.environ, THAW_FAULTS_MANIFEST=str(mf))
        t = run(["cargo", "test", "--quiet", "--test", "faults", "--", "--ignored", "--exact",
                 "converted_mode_from_manifest"], env=env)
        if t.returncode != 0:
            problems.append(f"cargo test --test faults converted_mode_from_manifest failed:\n{t.stdout[-3000:]}{t.stderr[-3000:]}")
        for f in faults:
            if f.case in clean and f.located is None:
                rows.append((f, "", "converted", judge(f, work / f.ident / "converted" / "report.json")))

    if args.generated:
        # A converted-mode pass whose faulted layer is exactly right in isolation is a fault these
        # inputs cannot show, and that no finding names (the converted mode's only non-numeric check is
        # the activation witness, src/verify/witness.rs): a documented gap.
        for f, _, mode, row in rows:
            if mode == "converted" and not f.known and row["verdict"] == "pass" and row.get("isolated") == 0.0:
                f.known, f.known_modes = UNOBSERVABLE, ("converted",)
    rows.sort(key=lambda r: (KINDS.index(r[0].kind), r[0].case, r[0].layer, r[0].input_range, r[2]))
    def result(f: Fault, mode: str, row: dict) -> str:
        if f.known and (not f.known_modes or mode.startswith(f.known_modes)):
            return "FAIL (located: remove `known`)" if row["ok"] else "KNOWN"
        return "OK" if row["ok"] else "FAIL"

    print("| fault kind | fixture | faulted layer (converted name) | mode | located layer | kinds found | max_abs_after_fix | result |")
    print("|---|---|---|---|---|---|---|---|")
    for f, _, mode, row in rows:
        if f.input_range != (-1.0, 1.0):
            mode += f", inputs in [{f.input_range[0]:g}, {f.input_range[1]:g}]"
        faulted = f.layer if f.located is None else f"{f.located} (inserted after {f.layer})"
        print(f"| {f.kind} | {f.case} | {faulted} | {mode} | {row['located']} | {row['kinds']} | "
              f"{row['after']} | {result(f, mode, row)} |")
    print()
    for f, what, mode, _ in rows:
        if mode == "--keras":
            print(f"- {f.ident}: {what}" + (f" — KNOWN GAP: {f.known}" if f.known else ""))
    if args.generated:
        table = kind_class_table(rows, result)
        print("\n" + table)
        if args.table:
            args.table.write_text(table)
    failed = sum(result(r[0], r[2], r[3]).startswith("FAIL") for r in rows)
    known = sum(result(r[0], r[2], r[3]) == "KNOWN" for r in rows)
    for p in problems:
        print(f"\nPROBLEM: {p}", file=sys.stderr)
    print(f"\nfaults: {len(rows) - failed - known} OK, {failed} FAIL, {known} KNOWN ({2 * len(clean)} clean models checked, "
          f"{len(problems)} problems) in {time.monotonic() - t0:.0f} s")
    if tmp is not None:
        tmp.cleanup()
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
