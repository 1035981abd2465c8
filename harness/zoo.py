#!/usr/bin/env python3
"""The zoo run: real architectures through `thaw verify` and the real-Keras round trip, with a fidelity table.

How to run (from the repository root, after `cargo build`):

    PY=$(harness/setup_venv.sh | tail -n1)
    $PY harness/zoo.py                          # every case of gen_zoo.py (generated on demand into the cache)
    $PY harness/zoo.py --only resnet50_k3,xception_tk
    $PY harness/zoo.py --ci                     # the subset CI runs (see CI_SUBSET)
    $PY harness/zoo.py --batch dynamic,1,2      # each case also frozen with fixed batch 1 and 2 (<case>_b1, _b2)
    $PY harness/zoo.py --markdown zoo.md --json zoo.json

For each case (`<arch>_k3` from Keras 3, `<arch>_tk` from tf-keras, see gen_zoo.py):
1. the frozen graph is generated into the cache (`${THAW_ZOO:-~/.cache/thaw/zoo}/<case>/`) if it is not there yet
   (`--regenerate` forces it);
2. `thaw verify <case>/model.pb --out <out>/<case>` runs and is timed (wall clock, including tract and the .h5 write);
3. the `.h5` thaw wrote is loaded by Keras 3 and by tf-keras (`roundtrip.py`, one process per framework for all cases),
   and its predictions are compared with TensorFlow's outputs stored in io.npz.

The fidelity columns compare the original Keras model's layers (by class, from meta.json's `keras_layers`, written when
the case was generated) with the layers thaw reconstructed (report.json's `layers[].class_name`), and count the fallback
layers (report.json's `fallback_layers`). A case passes when verify exits 0 and both Kerases load and match.
Exit status: 0 when every case passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

# Small enough for CI on 2 cores (each verify < 5 s, generation ~10 s), and between them they exercise the Keras 3 and
# tf-keras freezing paths of depthwise/separable convs, residual adds, squeeze-and-excitation, preprocessing layers and
# 100+-layer depth; EfficientNetV2B0 (Keras 3) is the model whose random weights amplify float32 rounding past the
# cumulative tolerance, so it checks the `drift` verdict end to end (exit 0, every layer right in isolation).
CI_SUBSET = ["mobilenet_v2_k3", "mobilenet_v2_tk", "mobilenet_v3_small_k3", "mobilenet_v3_small_tk", "resnet50_k3",
             "efficientnet_b0_tk", "efficientnet_v2_b0_k3", "inception_v3_k3", "xception_tk"]

# Keras classes that leave nothing in an inference graph (so a reconstruction rightly has none of them).
NO_INFERENCE_OPS = {"InputLayer", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
                    "AlphaDropout", "ActivityRegularization"}


def zoo_cases() -> list[str]:
    from gen_zoo import cases  # light import: gen_zoo only imports TensorFlow when it generates

    return list(cases())


def generate(cases: list[str], zoo: str, py: str, batch: str = "") -> None:
    cmd = [py, os.path.join(HERE, "gen_zoo.py"), "--out", zoo, "--no-tensors", "--only", ",".join(cases)]
    if batch:
        cmd += ["--batch", batch]
    print(f"generating {len(cases)} case(s): {' '.join(cases)}", flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def verify(thaw: str, case_dir: str, out: str) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([thaw, "verify", os.path.join(case_dir, "model.pb"), "--out", out],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    res = {"exit": proc.returncode, "verify_s": wall, "stderr": proc.stderr.strip().splitlines()[-3:]}
    report_path = os.path.join(out, "report.json")
    if os.path.isfile(report_path):
        with open(report_path) as f:
            res["report"] = json.load(f)
    return res


def fidelity(meta: dict, report: dict | None) -> dict:
    original = collections.Counter({k: v for k, v in meta.get("keras_layers", {}).items()})
    rebuilt = collections.Counter(l["class_name"] for l in (report or {}).get("layers", []))
    kept = collections.Counter({k: v for k, v in original.items() if k not in NO_INFERENCE_OPS})
    diff = []
    for cls in sorted(set(kept) | set(rebuilt)):
        if kept[cls] != rebuilt[cls]:
            diff.append(f"{cls} {kept[cls]}→{rebuilt[cls]}")
    return {
        "original": sum(original.values()),
        "original_computing": sum(kept.values()),
        "reconstructed": sum(rebuilt.values()),
        "class_differences": diff,
        "fallbacks": len((report or {}).get("fallback_layers", []) or []),
    }


def worst_error(report: dict | None) -> tuple[float | None, float | None]:
    """(max abs over the model's outputs, max abs over every layer), cumulative mode."""
    if not report or not report.get("layers"):
        return None, None
    # Schema 3 nests the cumulative check in `cumulative{}`; schema 2 kept it flat.
    cum = [(l, (l.get("cumulative") or l).get("max_abs")) for l in report["layers"]]
    outs = [m for l, m in cum if l.get("is_output") and m is not None]
    every = [m for _, m in cum if m is not None]
    return (max(outs) if outs else None), (max(every) if every else None)


def _fmt(x, spec=".1e"):
    return "-" if x is None else format(x, spec)


def markdown(rows: list[dict]) -> str:
    head = ("| case | verify | layers original → reconstructed | fallbacks | max abs (outputs) | max abs (any layer) "
            "| verify time | Keras 3 | tf-keras | class differences |\n|---|---|---|---|---|---|---|---|---|---|\n")
    body = []
    for r in rows:
        f = r["fidelity"]
        body.append(
            f"| {r['case']} | {r['verdict']} | {f['original']} ({f['original_computing']} computing) → "
            f"{f['reconstructed']} | {f['fallbacks']} | {_fmt(r['max_abs_outputs'])} | {_fmt(r['max_abs_layers'])} | "
            f"{_fmt(r['verify_s'], '.2f')} s | {r['roundtrip'].get('keras3', '-')} | {r['roundtrip'].get('tf_keras', '-')} | "
            f"{', '.join(f['class_differences']) or 'same'} |")
    return head + "\n".join(body) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_zoo = os.environ.get("THAW_ZOO", os.path.join(os.path.expanduser("~"), ".cache", "thaw", "zoo"))
    ap.add_argument("--zoo", default=default_zoo, help=f"cache of generated cases (default: {default_zoo})")
    ap.add_argument("--out", default=None, help="where reports and .h5 go (default: a temporary folder)")
    ap.add_argument("--thaw", default=os.path.join(ROOT, "target", "debug", "thaw"), help="the thaw binary")
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--ci", action="store_true", help=f"only the CI subset: {', '.join(CI_SUBSET)}")
    ap.add_argument("--regenerate", action="store_true", help="regenerate cases even when cached")
    ap.add_argument("--no-roundtrip", action="store_true", help="skip the real-Keras load check")
    ap.add_argument("--markdown", help="also write the table to this file")
    ap.add_argument("--json", help="also write every result to this JSON file")
    ap.add_argument(
        "--batch",
        default="",
        help="forms to run: comma-separated 'dynamic' and/or fixed batch sizes, e.g. dynamic,1,2 "
        "(cases <case>, <case>_b1, <case>_b2; default: dynamic only)",
    )
    args = ap.parse_args(argv)
    from gen_fixtures import batch_forms  # light import, as gen_zoo's

    forms = batch_forms(args.batch)

    known = zoo_cases()
    names = CI_SUBSET if args.ci else ([n for n in args.only.split(",") if n] or known)
    unknown = [n for n in names if n not in known]
    if unknown:
        ap.error(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(known)}")
    if not os.path.isfile(args.thaw):
        ap.error(f"--thaw {args.thaw}: not found (run `cargo build` first)")

    bases = names
    names = [b + suffix for b in bases for suffix, _ in forms]
    missing = [
        b
        for b in bases
        if args.regenerate
        or any(not os.path.isfile(os.path.join(args.zoo, b + suffix, "model.pb")) for suffix, _ in forms)
    ]
    if missing:
        generate(missing, args.zoo, sys.executable, args.batch)

    out = args.out or tempfile.mkdtemp(prefix="thaw-zoo-")
    rows = []
    for name in names:
        case_dir = os.path.join(args.zoo, name)
        with open(os.path.join(case_dir, "meta.json")) as f:
            meta = json.load(f)
        res = verify(args.thaw, case_dir, os.path.join(out, name))
        report = res.get("report")
        verdict = {0: "PASS", 1: "FAIL", 2: "bad input", 3: "UNSUPPORTED", 4: "internal error"}.get(res["exit"], str(res["exit"]))
        if res["exit"] == 0 and (res.get("report") or {}).get("verdict") == "drift":
            verdict = "DRIFT"  # exit 0: every layer right in isolation, float32 drift only
        max_out, max_any = worst_error(report)
        row = {"case": name, "exit": res["exit"], "verdict": verdict, "verify_s": res["verify_s"],
               "fidelity": fidelity(meta, report), "max_abs_outputs": max_out, "max_abs_layers": max_any,
               "first_divergence": (report or {}).get("first_divergence"),
               "unsupported": len((report or {}).get("unsupported_ops", []) or []),
               "h5": os.path.join(out, name, "model.h5"), "io": os.path.join(case_dir, "io.npz"), "roundtrip": {}}
        print(f"{name:26s} {verdict:12s} {res['verify_s']:6.2f} s  layers {row['fidelity']['reconstructed']:4d}  "
              f"max abs {_fmt(max_any)}", flush=True)
        if res["exit"] not in (0, 1):
            print("    " + "\n    ".join(res["stderr"]), flush=True)
        rows.append(row)

    checkable = [r for r in rows if os.path.isfile(r["h5"])]
    if checkable and not args.no_roundtrip:
        rt_json = os.path.join(out, "roundtrip.json")
        subprocess.run([sys.executable, os.path.join(HERE, "roundtrip.py"), "--json", rt_json, "--pairs",
                        *[f"{r['h5']}={r['io']}" for r in checkable]], stdout=subprocess.DEVNULL)
        with open(rt_json) as f:
            results = json.load(f)["results"]
        by_h5 = {r["h5"]: r for r in rows}
        for res in results:
            row = by_h5.get(res["h5"])
            if row is not None:
                row["roundtrip"][res["framework"]] = (f"ok {_fmt(res['max_abs'])}" if res["ok"]
                                                      else f"FAIL ({(res.get('detail') or '')[:80]})")

    table = markdown(rows)
    print()
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    def passed(r):
        return (r["exit"] == 0 and r["fidelity"]["fallbacks"] == 0 and
                (args.no_roundtrip or all(str(r["roundtrip"].get(fw, "")).startswith("ok") for fw in ("keras3", "tf_keras"))))
    n_ok = sum(passed(r) for r in rows)
    print(f"zoo: {n_ok} passed, {len(rows) - n_ok} failed (pass = verify exit 0, no fallback layer, both Kerases load and match)")
    return 0 if n_ok == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
