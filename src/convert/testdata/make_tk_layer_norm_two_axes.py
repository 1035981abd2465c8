#!/usr/bin/env python3
"""Writes tk_layer_norm_two_axes.pbtxt (run from the repository root with the pinned venv:
/root/.cache/thaw/venv/bin/python src/convert/testdata/make_tk_layer_norm_two_axes.py > src/convert/testdata/tk_layer_norm_two_axes.pbtxt,
then put back the two comment lines at its top). Used by convert/layer_norm.rs tests."""
import sys; sys.path.insert(0, "harness")
import tfcommon
import tf_keras as K
from google.protobuf import text_format
x_in = K.Input((3, 4), name="input")
y = K.layers.LayerNormalization(axis=[1, 2], center=False, scale=False, name="ln_two_axes")(x_in)
m = K.Model(x_in, y, name="model")
gd, outs = tfcommon.freeze_keras(m, [("input", [3, 4])])
print(outs, file=sys.stderr)
for n in gd.node:
    n.ClearField("experimental_type")  # not in thaw's vendored NodeDef proto
print(text_format.MessageToString(gd))
