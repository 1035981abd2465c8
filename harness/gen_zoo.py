#!/usr/bin/env python3
"""Generate real-architecture test cases (too big to commit) into a cache folder.

How to run (from the repository root):

    PY=$(harness/setup_venv.sh | tail -n1)
    $PY harness/gen_zoo.py                         # all, into ${THAW_ZOO:-$HOME/.cache/thaw/zoo}
    $PY harness/gen_zoo.py --out /tmp/zoo --only mobilenet_v2_k3
    $PY harness/gen_zoo.py --no-tensors            # io.npz with inputs/outputs only
    $PY harness/gen_zoo.py --list

Each architecture in ARCHS is built twice, with Keras 3 (`<name>_k3`) and with tf-keras
(`<name>_tk`), with weights=None, then every weight is randomised (BatchNormalization statistics
included, variance positive), the model is frozen exactly as in gen_fixtures.py, and
<out>/<name>_<fw>/{model.pb, io.npz, meta.json} are written with the same io.npz convention
(input:/output:/tensor: keys; see tfcommon.py). There is no size budget here unless --budget-mb is
given; meta.json says which tensor: keys were skipped, if any.

Adding an architecture is one line in ARCHS: name -> (seed, builder taking the Keras module).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfcommon  # noqa: E402  (sets TF environment before tensorflow is imported)
from gen_fixtures import batch_forms, generate_case  # noqa: E402


def _applications(K, cls: str, shape, **kwargs):
    """A keras.applications model with random init (weights=None), wrapped as a builder result."""
    model = getattr(K.applications, cls)(input_shape=shape, weights=None, **kwargs)
    return model, [("input", list(shape))]


# name -> (seed, builder(K) -> (model, input_specs)). Small inputs and widths keep tract quick.
# One (the smallest) member per keras.applications family; CI runs a subset (see .ci/run).
ARCHS = {
    "mobilenet_v2": (401, lambda K: _applications(K, "MobileNetV2", (96, 96, 3), alpha=0.35, classes=10)),
    "mobilenet": (402, lambda K: _applications(K, "MobileNet", (64, 64, 3), alpha=0.25, classes=10)),
    "mobilenet_v3_small": (403, lambda K: _applications(K, "MobileNetV3Small", (64, 64, 3), classes=10)),
    "mobilenet_v3_large": (404, lambda K: _applications(K, "MobileNetV3Large", (64, 64, 3), classes=10)),
    "resnet50": (405, lambda K: _applications(K, "ResNet50", (64, 64, 3), classes=10)),
    "resnet50_v2": (406, lambda K: _applications(K, "ResNet50V2", (64, 64, 3), classes=10)),
    "densenet121": (407, lambda K: _applications(K, "DenseNet121", (64, 64, 3), classes=10)),
    "efficientnet_b0": (408, lambda K: _applications(K, "EfficientNetB0", (64, 64, 3), classes=10)),
    "efficientnet_v2_b0": (409, lambda K: _applications(K, "EfficientNetV2B0", (64, 64, 3), classes=10)),
    "inception_v3": (410, lambda K: _applications(K, "InceptionV3", (75, 75, 3), classes=10)),
    "xception": (411, lambda K: _applications(K, "Xception", (71, 71, 3), classes=10)),
    "nasnet_mobile": (412, lambda K: _applications(K, "NASNetMobile", (64, 64, 3), classes=10)),
    "convnext_tiny": (413, lambda K: _applications(K, "ConvNeXtTiny", (64, 64, 3), classes=10)),
    "vgg16": (414, lambda K: _applications(K, "VGG16", (64, 64, 3), classes=10)),
}

# Made only when named (--only): the bench's big graph (benches/ratio.py, issue 11), VGG16 as
# published (224x224, 1000 classes, 528 MB of weights). Neither the zoo's default run nor CI
# makes it.
BENCH_ARCHS = {
    "vgg16_224": (415, lambda K: _applications(K, "VGG16", (224, 224, 3), classes=1000)),
}

FRAMEWORKS = {"k3": "keras3", "tk": "tf_keras"}


def cases(bench: bool = False):
    out = {}
    for arch, (seed, builder) in (ARCHS | BENCH_ARCHS if bench else ARCHS).items():
        for suffix, source in FRAMEWORKS.items():
            out[f"{arch}_{suffix}"] = (source, seed, builder, arch)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_out = os.environ.get("THAW_ZOO", os.path.join(os.path.expanduser("~"), ".cache", "thaw", "zoo"))
    ap.add_argument("--out", default=default_out, help=f"cache folder (default: {default_out})")
    ap.add_argument("--only", default="", help="comma-separated case names (e.g. mobilenet_v2_k3)")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--no-tensors", action="store_true", help="write only input:/output: keys")
    ap.add_argument("--budget-mb", type=float, default=None, help="drop largest tensor: keys past this size")
    ap.add_argument(
        "--batch",
        default="",
        help="forms to write: comma-separated fixed batch sizes and/or 'dynamic' (default: dynamic); "
        "'dynamic,1,2' writes <case>, <case>_b1 and <case>_b2 (graph frozen with that batch)",
    )
    args = ap.parse_args(argv)
    forms = batch_forms(args.batch)
    all_cases = cases(bench=bool(args.only))
    if args.list:
        for name, (source, seed, _, arch) in all_cases.items():
            print(f"{name:28s} {source:9s} seed {seed}")
        return 0
    names = [n for n in args.only.split(",") if n] or list(all_cases)
    unknown = [n for n in names if n not in all_cases]
    if unknown:
        ap.error(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(all_cases)}")
    budget = None if args.budget_mb is None else int(args.budget_mb * 1024 * 1024)
    for name in names:
        source, seed, builder, arch = all_cases[name]

        def described(K, builder=builder, arch=arch, source=source):
            return builder(K)

        described.__doc__ = f"{arch} from {source} applications, weights=None then randomised (see gen_zoo.py)."
        for suffix, fixed in forms:
            generate_case(
                name + suffix,
                source,
                seed,
                described,
                os.path.join(args.out, name + suffix),
                script="harness/gen_zoo.py",
                budget_bytes=budget,
                all_tensors=not args.no_tensors,
                fixed_batch=fixed,
            )
            tfcommon.log(f"[{name + suffix}] written to {os.path.join(args.out, name + suffix)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
