#!/usr/bin/env python3
"""`thaw verify` against tract alone, whole process against whole process (issue 11).

How to run (from the repository root, after `cargo build --all-targets`):

    PY=/root/.cache/thaw/venv/bin/python
    $PY harness/gen_zoo.py --out ~/.cache/thaw/bench-zoo --no-tensors --batch 1 \\
        --only mobilenet_v2_k3,resnet50_k3,inception_v3_k3,vgg16_224_k3
    $PY benches/ratio.py                       # every case in the cache, 3 rounds
    $PY benches/ratio.py --zoo DIR --only resnet50_k3_b1 --rounds 5 --json out.json
    $PY benches/ratio.py --baseline /tmp/thaw-before   # a before/after in the same rounds

For every case (`<zoo>/<case>/model.pb`) it writes one `.npz` of `--samples` seeded
samples (uniform in [-1, 1], batch first, the keys of the case's `io.npz`), then runs, in
alternation, `rounds` times each:
- `thaw verify MODEL --inputs NPZ --out TMP` (the binary given by --thaw);
- `tract_alone MODEL NPZ` (benches/tract_alone.rs: load, `into_optimized`, run the same
  samples at the graph's batch, fetch the graph's outputs).
Each child is timed from spawn to exit and its peak RSS read from `os.wait4`'s rusage, so
both numbers cover the whole process (start-up, reading, freeing). Alternating the two sides
makes the ratio robust to the machine's load: each round's ratio is taken from two adjacent
runs, and the table shows medians. The size-vs-cost table fits cost = a + slope * size over
the cases (least squares) for both sides.

Both binaries must come from the same cargo profile (the default `dev` profile builds tract
and every dependency at opt-level 3 and thaw's own code at 1; see Cargo.toml).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def newest(pattern: str) -> str | None:
    found = [p for p in glob.glob(pattern) if os.access(p, os.X_OK) and not p.endswith(".d")]
    return max(found, key=os.path.getmtime) if found else None


def run(cmd: list[str], ok: tuple[int, ...] = (0, 1)) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MiB and exit code of one child process; an exit code
    outside `ok` stops the bench (`thaw verify` exits 1 on a failing verdict, but
    tract_alone only on an error: a baseline that stopped early measures nothing)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    if p.returncode not in ok:
        sys.exit(f"{' '.join(cmd)} exited {p.returncode}:\n{err[-2000:]}")
    return wall, usage.ru_maxrss / 1024.0, p.returncode


def make_inputs(case_dir: str, samples: int, seed: int, path: str) -> None:
    """`samples` seeded samples with the keys and per-sample shapes of the case's io.npz."""
    io = np.load(os.path.join(case_dir, "io.npz"))
    rng = np.random.default_rng(seed)
    arrays = {
        k: rng.uniform(-1.0, 1.0, (samples,) + io[k].shape[1:]).astype(np.float32)
        for k in io.files
        if k.startswith("input:")
    }
    np.savez(path, **arrays)


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares intercept and slope (slope 0 with fewer than two sizes)."""
    if len(set(xs)) < 2:
        return (statistics.fmean(ys) if ys else 0.0), 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - slope * mx, slope


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_zoo = os.path.join(os.path.expanduser("~"), ".cache", "thaw", "bench-zoo")
    ap.add_argument("--zoo", default=default_zoo, help=f"generated cases (default: {default_zoo})")
    ap.add_argument("--only", default="", help="comma-separated case names (default: every case)")
    ap.add_argument("--thaw", default=os.path.join(ROOT, "target", "debug", "thaw"))
    ap.add_argument(
        "--baseline",
        default=None,
        help="another thaw binary (e.g. before a change) run in the same rounds: its ratios are shown too",
    )
    ap.add_argument("--tract", default=None, help="tract_alone binary (default: newest in target/debug/deps)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write every measurement here")
    args = ap.parse_args(argv)
    tract = args.tract or newest(os.path.join(ROOT, "target", "debug", "deps", "tract_alone-*"))
    if not tract or not os.path.exists(args.thaw):
        sys.exit("build first: cargo build --all-targets (no thaw or tract_alone binary found)")
    names = [n for n in args.only.split(",") if n] or sorted(
        d for d in os.listdir(args.zoo) if os.path.exists(os.path.join(args.zoo, d, "model.pb"))
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="thaw-ratio-") as tmp:
        for name in names:
            case = os.path.join(args.zoo, name)
            model = os.path.join(case, "model.pb")
            npz = os.path.join(tmp, f"{name}.npz")
            make_inputs(case, args.samples, args.seed, npz)
            out = os.path.join(tmp, name)
            thaw_cmd = [args.thaw, "verify", model, "--inputs", npz, "--out", out]
            runs = {"thaw": [], "tract": [], "baseline": []}
            stages = []
            verdict = None
            for _ in range(args.rounds):
                runs["thaw"].append(run(thaw_cmd))
                with open(os.path.join(out, "report.json")) as f:
                    report = json.load(f)
                # timings.json since report schema 5 (report.json is byte-identical across runs)
                tpath = os.path.join(out, "timings.json")
                if os.path.exists(tpath):
                    with open(tpath) as f:
                        stages.append(json.load(f))
                else:
                    stages.append(report.get("timings", {}))
                verdict = report.get("verdict")
                runs["tract"].append(run([tract, model, npz], ok=(0,)))
                if args.baseline:
                    runs["baseline"].append(run([args.baseline] + thaw_cmd[1:]))
            med = lambda side, i: statistics.median(r[i] for r in runs[side])  # noqa: E731
            ratio = lambda i, side="thaw": statistics.median(  # noqa: E731
                a[i] / b[i] for a, b in zip(runs[side], runs["tract"])
            )
            timings = {k: statistics.median(s.get(k, 0.0) for s in stages) for k in stages[0]}
            rows.append(
                {
                    "case": name,
                    "size_mb": os.path.getsize(model) / 2**20,
                    "verdict": verdict,
                    "thaw_wall_s": med("thaw", 0),
                    "tract_wall_s": med("tract", 0),
                    "wall_ratio": ratio(0),
                    "thaw_rss_mib": med("thaw", 1),
                    "tract_rss_mib": med("tract", 1),
                    "rss_ratio": ratio(1),
                    "timings_ms": timings,
                    "baseline": None
                    if not args.baseline
                    else {
                        "wall_s": med("baseline", 0),
                        "wall_ratio": ratio(0, "baseline"),
                        "rss_mib": med("baseline", 1),
                        "rss_ratio": ratio(1, "baseline"),
                    },
                    "runs": runs,
                }
            )
            r = rows[-1]
            print(
                f"{name}: thaw {r['thaw_wall_s']:.2f} s {r['thaw_rss_mib']:.0f} MiB, tract "
                f"{r['tract_wall_s']:.2f} s {r['tract_rss_mib']:.0f} MiB (verdict {verdict})",
                file=sys.stderr,
                flush=True,
            )
    print(f"median of {args.rounds} alternating rounds, {args.samples} samples; ratio = thaw / tract per round\n")
    print("| case | .pb MiB | thaw wall s | tract wall s | wall ratio | thaw RSS MiB | tract RSS MiB | RSS ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['case']} | {r['size_mb']:.1f} | {r['thaw_wall_s']:.2f} | {r['tract_wall_s']:.2f} | "
            f"{r['wall_ratio']:.2f} | {r['thaw_rss_mib']:.0f} | {r['tract_rss_mib']:.0f} | {r['rss_ratio']:.2f} |"
        )
    if args.baseline:
        print(f"\nbaseline {args.baseline}, in the same rounds (ratio = baseline / tract per round):\n")
        print("| case | baseline wall s | wall ratio | baseline RSS MiB | RSS ratio |")
        print("|---|---|---|---|---|")
        for r in rows:
            b = r["baseline"]
            print(
                f"| {r['case']} | {b['wall_s']:.2f} | {b['wall_ratio']:.2f} | {b['rss_mib']:.0f} | "
                f"{b['rss_ratio']:.2f} |"
            )
    print("\nthaw's own timings (median ms):\n")
    keys = list(rows[0]["timings_ms"]) if rows else []
    print("| case | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for r in rows:
        print(f"| {r['case']} | " + " | ".join(f"{r['timings_ms'].get(k, 0):.0f}" for k in keys) + " |")
    xs = [r["size_mb"] for r in rows]
    print("\ngrowth with model size (least squares over the cases, cost = a + slope * MiB of .pb):\n")
    print("| measure | thaw a | thaw slope | tract a | tract slope |")
    print("|---|---|---|---|---|")
    for label, key, unit in (("wall", "wall_s", "s"), ("peak RSS", "rss_mib", "MiB")):
        ta, ts = fit(xs, [r[f"thaw_{key}"] for r in rows])
        ra, rs = fit(xs, [r[f"tract_{key}"] for r in rows])
        print(f"| {label} ({unit}) | {ta:.2f} | {ts:.4f}/MiB | {ra:.2f} | {rs:.4f}/MiB |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
