#!/usr/bin/env python3
"""Self-test of roundtrip.py, independent of the Rust converter.

    PY=$(harness/setup_venv.sh | tail -n1); $PY harness/test_roundtrip.py

It rebuilds committed tf-keras fixtures in Python with the generator's builders and seeds (so the
weights are the ones frozen into fixtures/<case>/model.pb), saves them as legacy .h5 with tf-keras,
and checks that:
  1. roundtrip.py passes them in BOTH Keras 3 and tf-keras against fixtures/<case>/io.npz
     (single-input two-output and two-input two-output models);
  2. after one kernel element is perturbed by +0.05, roundtrip.py fails, naming the file;
  3. a file that is not HDF5 is reported as a load failure;
  4. --dir mode with --fixtures finds the pairs by folder name.
Prints "N passed, N failed"; exit status 1 if any check failed.
"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tfcommon  # noqa: E402,F401  (environment first)
import numpy as np  # noqa: E402
import tf_keras  # noqa: E402

import gen_fixtures  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures")
CASES = ["tk_pool_flatten_dense", "tk_add_concat_two_inputs"]


def build(case):
    source, seed, builder = gen_fixtures.CASES[case]
    assert source == "tf_keras"
    tf_keras.backend.clear_session()
    model, _ = builder(tf_keras)
    tfcommon.randomize_weights(model, np.random.default_rng([seed, 0]))
    return model


def roundtrip(*args):
    cmd = [sys.executable, os.path.join(HERE, "roundtrip.py"), *args]
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def main():
    passed, failed = 0, 0

    def check(cond, what, out=""):
        nonlocal passed, failed
        if cond:
            passed += 1
            print(f"ok   {what}")
        else:
            failed += 1
            print(f"FAIL {what}\n{out}")

    with tempfile.TemporaryDirectory(prefix="thaw-rt-test-") as tmp:
        good = []
        for case in CASES:
            d = os.path.join(tmp, "good", case)
            os.makedirs(d)
            path = os.path.join(d, "model.h5")
            build(case).save(path, save_format="h5")
            good.append((path, os.path.join(FIXTURES, case, "io.npz")))

        rc, out = roundtrip("--pairs", *[f"{h}={i}" for h, i in good])
        check(rc == 0 and out.count("PASS") == 4, "exact rebuilds pass in keras3 and tf_keras", out)

        rc, out = roundtrip("--dir", os.path.join(tmp, "good"), "--fixtures", FIXTURES)
        check(rc == 0 and out.count("PASS") == 4, "--dir with --fixtures finds and passes both", out)

        model = build(CASES[0])
        layer = model.get_layer("dense_relu")
        w = layer.get_weights()
        w[0][3, 2] += 0.05
        layer.set_weights(w)
        bad = os.path.join(tmp, "perturbed.h5")
        model.save(bad, save_format="h5")
        rc, out = roundtrip("--h5", bad, "--io", good[0][1])
        check(rc == 1 and out.count("FAIL") == 2 and "perturbed.h5" in out and "elements off" in out,
              "a +0.05 perturbation of one weight fails in both frameworks", out)

        junk = os.path.join(tmp, "junk.h5")
        with open(junk, "w") as f:
            f.write("not hdf5")
        rc, out = roundtrip("--h5", junk, "--io", good[0][1])
        check(rc == 1 and "load failed" in out, "a non-HDF5 file is a load failure", out)

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
