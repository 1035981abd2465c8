#!/usr/bin/env python3
"""Real-Keras round-trip check: do Keras 3 AND tf-keras load a .h5 and reproduce TensorFlow's outputs?

Usage (PY=$(harness/setup_venv.sh | tail -n1)):

    $PY harness/roundtrip.py --h5 out.h5 --io fixtures/<case>/io.npz [--atol 1e-4 --rtol 1e-3]
    $PY harness/roundtrip.py --pairs a.h5=fixtures/a/io.npz b.h5=fixtures/b/io.npz
    $PY harness/roundtrip.py --dir out/ [--fixtures fixtures/]
    $PY harness/roundtrip.py --manifest pairs.json     # [{"h5": "...", "io": "..."}], paths relative to it

--dir: every immediate subfolder S of the folder is one case; each *.h5 in S is checked against
  S/io.npz if present, else the path written in S/io.path (relative to S or absolute), else
  <--fixtures>/<name of S>/io.npz. So `thaw convert fixtures/<case>/model.pb -o out/<case>/model.h5`
  for every case, then `roundtrip.py --dir out --fixtures fixtures`, checks them all.

For each .h5 and each framework (--frameworks, default keras3,tf_keras) a separate subprocess
(one per framework, so the two Keras lines never share a process) runs
`load_model(path, compile=False)` (with `custom_objects` from the `thaw_fallbacks.py` thaw writes
next to a .h5 that has fallback `ThawTfOp` layers or a MultiHeadAttention, written as its loading
shim `ThawMultiHeadAttention`, when that file exists) and predicts on the
io.npz `input:` arrays. Model inputs are
matched to `input:<placeholder>` keys by name when every model input name equals a placeholder
name (after replacing non [A-Za-z0-9_] characters by "_"), else by order. Outputs are matched to
`output:` keys by order. A case passes iff shapes match and every element satisfies
|keras - tf| <= atol + rtol * |tf| (NaN fails).

Exit status: 0 all passed, 1 any load failure or mismatch (named in the table), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys

# Defaults: the converted model computes the same maths as the frozen graph but not always with
# the same float32 operation order (BatchNormalization folded vs. unfolded, explicit Pad vs SAME,
# fused vs separate bias). Each reordering costs a few ULPs per op; through ~100 layers that stays
# well below 1e-4 absolute / 1e-3 relative, while a wrong weight, layout or padding gives errors
# of order 1e-2..1 on these fixtures' O(1) activations.
DEFAULT_ATOL = 1e-4
DEFAULT_RTOL = 1e-3
FRAMEWORKS = ("keras3", "tf_keras")


# --------------------------------------------------------------------------- worker side


def _sanitize(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name.split(":")[0])


def _load_io(path):
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        inputs = [(k[len("input:"):], z[k]) for k in z.files if k.startswith("input:")]
        outputs = [(k[len("output:"):], z[k]) for k in z.files if k.startswith("output:")]
    if not inputs or not outputs:
        raise ValueError(f"{path}: needs input: and output: keys (found {len(inputs)} / {len(outputs)})")
    return inputs, outputs


def _model_input_names(model):
    names = getattr(model, "input_names", None)
    if names:
        return list(names)
    return [getattr(t, "name", "") or "" for t in model.inputs]


# thaw writes its custom classes' module (ThawTfOp, ThawMultiHeadAttention) next to a .h5 that needs it.
FALLBACK_MODULE = "thaw_fallbacks.py"


def _fallback_module(h5):
    """The generated fallback-layer module beside `h5`, imported (None when there is none).
    Imported from its path under a name unique to the folder, so several models' modules can be
    loaded in one process; importing it registers ThawTfOp with the Kerases it finds."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(h5)), FALLBACK_MODULE)
    if not os.path.exists(path):
        return None
    name = "thaw_fallbacks_" + re.sub(r"[^A-Za-z0-9_]", "_", os.path.dirname(path))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _check_one(K, framework, h5, io_path, atol, rtol, unsafe):
    import numpy as np

    res = {"h5": h5, "io": io_path, "framework": framework, "ok": False, "detail": "", "max_abs": None,
           "max_rel": None, "notes": []}
    try:
        inputs, outputs = _load_io(io_path)
    except Exception as e:  # noqa: BLE001 - reported, not raised
        res["detail"] = f"cannot read io.npz: {type(e).__name__}: {e}"
        return res
    try:
        kwargs = {"compile": False}
        if unsafe and framework == "keras3":
            kwargs["safe_mode"] = False
        fallbacks = _fallback_module(h5)
        if fallbacks is not None:
            kwargs["custom_objects"] = fallbacks.custom_objects(K)
            res["notes"].append(f"custom layers from {FALLBACK_MODULE}")
        model = K.models.load_model(h5, **kwargs)
    except Exception as e:  # noqa: BLE001
        res["detail"] = f"load failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
        return res

    names = _model_input_names(model)
    if len(names) != len(inputs):
        res["detail"] = f"model has {len(names)} inputs, io.npz has {len(inputs)}"
        return res
    by_name = {_sanitize(n): a for n, a in inputs}
    if len(inputs) > 1 and all(_sanitize(n) in by_name for n in names):
        feed = [by_name[_sanitize(n)] for n in names]
    else:
        feed = [a for _, a in inputs]
        if len(inputs) > 1:
            res["notes"].append("inputs matched by order")
    try:
        batch = int(feed[0].shape[0])
        pred = model.predict(feed[0] if len(feed) == 1 else feed, batch_size=batch, verbose=0)
    except Exception as e:  # noqa: BLE001
        res["detail"] = f"predict failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
        return res
    if isinstance(pred, dict):
        preds = list(pred.values())
    else:
        preds = list(pred) if isinstance(pred, (list, tuple)) else [pred]
    if len(preds) != len(outputs):
        res["detail"] = f"model has {len(preds)} outputs, io.npz has {len(outputs)}"
        return res

    max_abs, max_rel, problems = 0.0, 0.0, []
    for (oname, want), got in zip(outputs, preds):
        got = np.asarray(got)
        if got.shape != want.shape:
            problems.append(f"{oname}: shape {list(got.shape)} != tf {list(want.shape)}")
            continue
        want64, got64 = want.astype(np.float64), got.astype(np.float64)
        err = np.abs(got64 - want64)
        bound = atol + rtol * np.abs(want64)
        bad = ~(err <= bound)  # NaN counts as bad
        finite = err[np.isfinite(err)]
        if finite.size:
            max_abs = max(max_abs, float(finite.max()))
            max_rel = max(max_rel, float((finite / np.maximum(np.abs(want64[np.isfinite(err)]), 1e-12)).max()))
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            problems.append(
                f"{oname}: {int(bad.sum())}/{bad.size} elements off, first at {list(idx)}: "
                f"keras {got64[idx]:.6g} vs tf {want64[idx]:.6g}"
            )
    res["max_abs"], res["max_rel"] = max_abs, max_rel
    if problems:
        res["detail"] = "; ".join(problems)[:400]
        return res
    # Another batch: the model is written with batch None, so it must serve any batch, also when
    # the graph was frozen with a fixed one. batch + 1 samples in ONE call (the recorded ones and
    # the first again) must give the recorded outputs row for row.
    try:
        more = [np.concatenate([a, a[:1]]) for a in feed]
        pred = model.predict(more[0] if len(more) == 1 else more, batch_size=batch + 1, verbose=0)
    except Exception as e:  # noqa: BLE001
        res["detail"] = f"predict at batch {batch + 1} failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
        return res
    preds = list(pred.values()) if isinstance(pred, dict) else (list(pred) if isinstance(pred, (list, tuple)) else [pred])
    for (oname, want), got in zip(outputs, preds):
        want = np.concatenate([want, want[:1]]).astype(np.float64)
        got = np.asarray(got).astype(np.float64)
        if got.shape != want.shape or not np.all(np.abs(got - want) <= atol + rtol * np.abs(want)):
            problems.append(f"{oname}: at batch {batch + 1} the model does not give the recorded rows")
    if problems:
        res["detail"] = "; ".join(problems)[:400]
        return res
    res["notes"].append(f"also at batch {batch + 1}")
    res["ok"] = True
    return res


def worker(framework, jobs_path, atol, rtol, unsafe):
    """Runs in its own process: one framework, every job. Prints one JSON line per job."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    if framework == "keras3":
        import keras as K
    elif framework == "tf_keras":
        import tf_keras as K
    else:
        raise SystemExit(f"unknown framework {framework}")
    with open(jobs_path) as f:
        jobs = json.load(f)
    for job in jobs:
        res = _check_one(K, framework, job["h5"], job["io"], atol, rtol, unsafe)
        print("RESULT " + json.dumps(res), flush=True)


# --------------------------------------------------------------------------- driver side


def _pairs_from_dir(root, fixtures):
    pairs, errors = [], []
    for sub in sorted(os.listdir(root)):
        d = os.path.join(root, sub)
        if not os.path.isdir(d):
            continue
        h5s = sorted(f for f in os.listdir(d) if f.endswith(".h5"))
        if not h5s:
            continue
        io_path = None
        if os.path.isfile(os.path.join(d, "io.npz")):
            io_path = os.path.join(d, "io.npz")
        elif os.path.isfile(os.path.join(d, "io.path")):
            with open(os.path.join(d, "io.path")) as f:
                io_path = os.path.join(d, f.read().strip())
        elif fixtures and os.path.isfile(os.path.join(fixtures, sub, "io.npz")):
            io_path = os.path.join(fixtures, sub, "io.npz")
        for h in h5s:
            if io_path is None:
                errors.append((os.path.join(d, h), "no io.npz, io.path or --fixtures/<case>/io.npz found"))
            else:
                pairs.append((os.path.join(d, h), io_path))
    return pairs, errors


def _pairs_from_manifest(path):
    base = os.path.dirname(os.path.abspath(path))
    with open(path) as f:
        items = json.load(f)
    return [(os.path.join(base, it["h5"]), os.path.join(base, it["io"])) for it in items]


def run_framework(framework, pairs, atol, rtol, unsafe, tmpdir):
    jobs_path = os.path.join(tmpdir, f"jobs_{framework}.json")
    with open(jobs_path, "w") as f:
        json.dump([{"h5": h, "io": i} for h, i in pairs], f)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework, "--jobs", jobs_path,
           "--atol", repr(atol), "--rtol", repr(rtol)] + (["--unsafe"] if unsafe else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    results = [json.loads(line[len("RESULT "):]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    done = {(r["h5"], r["io"]) for r in results}
    for h, i in pairs:
        if (h, i) not in done:
            tail = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
            results.append({"h5": h, "io": i, "framework": framework, "ok": False, "max_abs": None,
                            "max_rel": None, "notes": [],
                            "detail": f"worker exited {proc.returncode} before this case: {tail}"[:400]})
    return results


def _fmt(x):
    return "-" if x is None else f"{x:.2e}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--h5")
    ap.add_argument("--io")
    ap.add_argument("--pairs", nargs="*", default=[], metavar="H5=IO_NPZ")
    ap.add_argument("--dir")
    ap.add_argument("--fixtures", help="with --dir: fixtures folder holding <case>/io.npz")
    ap.add_argument("--manifest")
    ap.add_argument("--atol", type=float, default=DEFAULT_ATOL)
    ap.add_argument("--rtol", type=float, default=DEFAULT_RTOL)
    ap.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    ap.add_argument("--unsafe", action="store_true", help="Keras 3 safe_mode=False (allow Lambda layers)")
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--jobs", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        worker(args.worker, args.jobs, args.atol, args.rtol, args.unsafe)
        return 0

    pairs, errors = [], []
    if args.h5 or args.io:
        if not (args.h5 and args.io):
            ap.error("--h5 and --io go together")
        pairs.append((args.h5, args.io))
    for p in args.pairs:
        if "=" not in p:
            ap.error(f"--pairs item {p!r} is not H5=IO_NPZ")
        h, i = p.split("=", 1)
        pairs.append((h, i))
    if args.dir:
        if not os.path.isdir(args.dir):
            ap.error(f"--dir {args.dir}: not a folder")
        p, e = _pairs_from_dir(args.dir, args.fixtures)
        pairs += p
        errors += e
    if args.manifest:
        pairs += _pairs_from_manifest(args.manifest)
    if not pairs and not errors:
        ap.error("nothing to check: give --h5/--io, --pairs, --dir or --manifest")
    frameworks = [f for f in args.frameworks.split(",") if f]
    for f in frameworks:
        if f not in FRAMEWORKS:
            ap.error(f"unknown framework {f!r}; known: {', '.join(FRAMEWORKS)}")
    for h, i in pairs:
        missing_files = [path for path in (h, i) if not os.path.isfile(path)]
        if missing_files:
            errors.append((h, "file not found: " + ", ".join(missing_files)))
    missing = {h for h, _ in errors}
    pairs = [(h, i) for h, i in pairs if h not in missing]

    import tempfile

    results = []
    with tempfile.TemporaryDirectory(prefix="thaw-roundtrip-") as tmp:
        for fw in frameworks:
            if pairs:
                results += run_framework(fw, pairs, args.atol, args.rtol, args.unsafe, tmp)
    for h, msg in errors:
        results.append({"h5": h, "io": "-", "framework": "-", "ok": False, "max_abs": None,
                        "max_rel": None, "notes": [], "detail": msg})

    order = {p: n for n, p in enumerate(pairs)}
    results.sort(key=lambda r: (order.get((r["h5"], r["io"]), len(order)), r["framework"]))
    w = max([len(r["h5"]) for r in results] + [4])
    print(f"{'h5':{w}s}  {'framework':9s}  {'status':6s}  {'max_abs':>8s}  {'max_rel':>8s}  detail")
    for r in results:
        detail = "; ".join([r["detail"]] * bool(r["detail"]) + r.get("notes", []))
        print(f"{r['h5']:{w}s}  {r['framework']:9s}  {'PASS' if r['ok'] else 'FAIL':6s}  "
              f"{_fmt(r['max_abs']):>8s}  {_fmt(r['max_rel']):>8s}  {detail}")
    n_ok = sum(r["ok"] for r in results)
    print(f"tolerance: |keras - tf| <= {args.atol:g} + {args.rtol:g} * |tf|")
    print(f"roundtrip: {n_ok} passed, {len(results) - n_ok} failed")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"atol": args.atol, "rtol": args.rtol, "results": results}, f, indent=2)
    return 0 if n_ok == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
