"""`thaw verify --dump-values` round-trips through numpy.

For each fixture given, runs `thaw verify` on the fixture's own inputs
(`--inputs io.npz`) with `--dump-values`, then with `numpy.load` alone:
- every `sample_<i>.npz` holds exactly the keys reports/README.md promises
  (`input/<name>`, `graph/<layer>`, `keras/<layer>`, names %-escaped) for the
  inputs and layers report.json lists, each array a batch of one;
- the inputs in the dump are the fixture's inputs, sample by sample;
- each layer's max abs difference, recomputed from the npz over all samples
  (float32, as thaw computes it), equals report.json's cumulative `max_abs`
  exactly;
- where the fixture's io.npz holds TensorFlow's value of the layer's tensor
  (`tensor:<tf_node>`), the dumped graph value matches it within thaw's
  default tolerance (atol 1e-4, rtol 1e-3, the `approximate` preset): the
  graph side of the dump is TensorFlow's value, not only thaw's.

Usage: dump_values_check.py --thaw target/debug/thaw CASE [CASE ...]
(CASE: a fixture folder name, e.g. k3_inverted_residual). Exit 1 on any
mismatch, with one line per problem.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PREFIXES = ("input", "graph", "keras")


def escape(name):
    """reports/README.md's key escaping: keep [A-Za-z0-9_.-], %XX the rest."""
    # quote() never escapes "~"; thaw does (it is not in the kept set).
    return urllib.parse.quote(name, safe="_.-").replace("~", "%7E")


def max_abs(k, g):
    """thaw's max abs: the largest finite |k - g|; inf if a non-finite
    difference is not NaN on both sides."""
    d = np.abs(k.astype(np.float32) - g.astype(np.float32))
    finite = np.isfinite(d)
    both_nan = np.isnan(k) & np.isnan(g)
    if np.any(~finite & ~both_nan & (k != g)):
        return np.float32(np.inf)
    return np.float32(d[finite].max()) if finite.any() else np.float32(0)


def check(thaw, case, work):
    problems = []
    fixture = ROOT / "fixtures" / case
    out, dump = work / case / "report", work / case / "values"
    meta = json.loads((fixture / "meta.json").read_text())
    outs = [a for o in meta["outputs"] for a in ("--output-tensor", o)]
    run = subprocess.run(
        [thaw, "verify", str(fixture / "model.pb"), "--inputs", str(fixture / "io.npz"),
         "--out", str(out), "--dump-values", str(dump), *outs],
        capture_output=True, text=True)
    if run.returncode != 0:
        return [f"{case}: thaw verify exited {run.returncode}: {run.stderr.strip()}"]
    report = json.loads((out / "report.json").read_text())
    io = np.load(fixture / "io.npz")
    n = report["samples"]
    files = sorted(dump.glob("sample_*.npz"))
    if len(files) != n:
        problems.append(f"{case}: {len(files)} sample files for {n} samples")
    listed = {Path(f).name for f in report["files"] if f.endswith(".npz")}
    if listed != {f"sample_{i}.npz" for i in range(n)}:
        problems.append(f"{case}: report.json files[] lists {sorted(listed)}")
    layers = report["layers"]
    inputs = [i["name"] for i in report["inputs"]]
    want = {f"input/{escape(i)}" for i in inputs}
    want |= {f"{p}/{escape(l['name'])}" for l in layers for p in ("graph", "keras")}
    worst = {l["name"]: np.float32(0) for l in layers}
    tf_checked = set()
    for i in range(n):
        z = np.load(dump / f"sample_{i}.npz")
        keys = set(z.files)
        if keys != want:
            problems.append(f"{case} sample {i}: keys differ: missing {sorted(want - keys)[:5]}, "
                            f"extra {sorted(keys - want)[:5]}")
            continue
        for k in keys:
            prefix, name = k.split("/", 1)
            assert prefix in PREFIXES and escape(urllib.parse.unquote(name)) == name
            if z[k].shape[:1] != (1,):
                problems.append(f"{case} sample {i}: {k} has shape {z[k].shape}, not a batch of one")
        for name in inputs:
            fed = io[f"input:{name}"][i:i + 1].astype(np.float32)
            if not np.array_equal(z[f"input/{escape(name)}"], fed):
                problems.append(f"{case} sample {i}: input {name} is not the fixture's")
        for l in layers:
            g, k = z[f"graph/{escape(l['name'])}"], z[f"keras/{escape(l['name'])}"]
            worst[l["name"]] = max(worst[l["name"]], max_abs(k, g))
            tf_key = f"tensor:{l['tf_node']}"
            if tf_key in io.files:
                tf = io[tf_key][i:i + 1]
                if tf.shape != g.shape or not np.allclose(g, tf, atol=1e-4, rtol=1e-3):
                    problems.append(f"{case} sample {i}: graph/{l['name']} differs from "
                                    f"TensorFlow's {l['tf_node']}")
                tf_checked.add(l["name"])
    for l in layers:
        reported = l["cumulative"]["max_abs"]
        if reported is None or np.float32(reported) != worst[l["name"]]:
            problems.append(f"{case}: layer {l['name']}: max abs from the npz "
                            f"{worst[l['name']]!r}, report.json {reported!r}")
    nonzero = sum(1 for v in worst.values() if v > 0)
    print(f"{case}: {n} samples, {len(layers)} layers: max abs recomputed "
          f"({nonzero} non-zero, largest {max(worst.values()):.3e}); "
          f"{len(tf_checked)} graph values checked against TensorFlow's"
          + ("" if not problems else f"; {len(problems)} PROBLEM(S)"))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--thaw", default=str(ROOT / "target/debug/thaw"))
    ap.add_argument("cases", nargs="+")
    args = ap.parse_args()
    problems = []
    with tempfile.TemporaryDirectory() as work:
        for case in args.cases:
            problems += check(args.thaw, case, Path(work))
    for p in problems:
        print("FAIL", p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
