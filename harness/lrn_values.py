"""Expected values of TensorFlow's LRN for the unit test
`interp::fallback::tests::lrn_matches_tensorflow` (src/interp/fallback.rs).

    $PY harness/lrn_values.py

Input: shape (1, 1, 2, 7), x[i] = (i * 0.37) % 2 - 1 over the flat index i
(two pixels, seven channels, so the channel window is clipped at both ends).
Two settings: TF's defaults (depth_radius 5, bias 1, alpha 1, beta 0.5) and
(depth_radius 2, bias 1.5, alpha 0.3, beta 0.75). Prints Rust array literals.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf

x = ((np.arange(14, dtype=np.float64) * 0.37) % 2 - 1).astype(np.float32).reshape(1, 1, 2, 7)
for kw in ({}, dict(depth_radius=2, bias=1.5, alpha=0.3, beta=0.75)):
    y = tf.nn.local_response_normalization(x, **kw).numpy().ravel()
    print(kw, "[" + ", ".join(f"{v:.8e}" for v in y) + "]")
