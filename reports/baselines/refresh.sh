#!/usr/bin/env bash
# Regenerates reports/baselines/<case>.json with thaw itself: each baseline is
# the report.json of `thaw verify fixtures/<case>/model.pb` with the default
# settings (seed 0, 4 samples, default tolerance), which is what
# tests/baseline.rs checks every fixture against.
#
#   bash reports/baselines/refresh.sh              # every fixture
#   bash reports/baselines/refresh.sh CASE...      # only these fixtures
#   bash reports/baselines/refresh.sh --missing    # fixtures without a baseline
#
# Run it after a deliberate change of conversion or numerics, and review the
# `git diff reports/baselines/` (or `thaw diff old new`) before committing.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet
cases=()
if [ "$#" -eq 0 ] || [ "$1" = "--missing" ]; then
  for dir in fixtures/*/; do
    c=$(basename "$dir")
    [ -f "fixtures/$c/model.pb" ] || continue
    if [ "${1:-}" = "--missing" ] && [ -f "reports/baselines/$c.json" ]; then continue; fi
    cases+=("$c")
  done
else
  cases=("$@")
fi
for c in ${cases[@]+"${cases[@]}"}; do
  [ -f "fixtures/$c/model.pb" ] || { echo "no fixture fixtures/$c/model.pb" >&2; exit 2; }
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
