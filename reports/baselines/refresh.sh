#!/usr/bin/env bash
# Regenerates reports/baselines/<case>.json for every fixture, with thaw itself:
# each baseline is the report.json of `thaw verify fixtures/<case>/model.pb`
# with the default settings (seed 0, 4 samples, default tolerance), which is
# what tests/baseline.rs checks every fixture against.
# Run it after a deliberate change of conversion or numerics, and review the
# `git diff reports/baselines/` (or `thaw diff old new`) before committing.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet
for case in fixtures/*/; do
  c=$(basename "$case")
  [ -f "$case/model.pb" ] || continue
  # a stable, relative output folder keeps keras_file the same across refreshes
  out="target/thaw-baselines/$c"
  code=0
  target/debug/thaw verify "fixtures/$c/model.pb" --out "$out" > /dev/null || code=$?
  if [ "$code" -ne 0 ]; then
    echo "$c: thaw verify exited $code; a baseline records a passing run, fix that first" >&2
    exit 1
  fi
  cp "$out/report.json" "reports/baselines/$c.json"
  echo "reports/baselines/$c.json"
done
