#!/usr/bin/env bash
# Builds fuzz/corpus/<target>/ (not committed) from the committed fixtures:
#   bash fuzz/seed.sh [path/to/thaw]
# load: every graph (.pb with selector byte 0, .pbtxt with 1); convert,
# interp, oracle: every .pb; keras_h5 / keras_archive: the hand-made Keras
# files of tests/data plus each fixture converted by thaw (convert -o);
# keras_config: each .h5 seed as that target's input (model_config + weight
# shapes), written by the smoke test (`cargo test`, debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
THAW=${1:-target/debug/thaw}
C=fuzz/corpus
mkdir -p "$C"/{load,convert,interp,oracle,keras_h5,keras_archive,keras_config}
n=0
for pb in fixtures/*/model.pb tests/data/*.pb; do
  name=$(echo "$pb" | tr '/' '_')
  { printf '\x00'; cat "$pb"; } > "$C/load/$name"
  for t in convert interp oracle; do cp "$pb" "$C/$t/$name"; done
  n=$((n + 1))
done
for txt in tests/data/*.pbtxt src/convert/testdata/*.pbtxt; do
  { printf '\x01'; cat "$txt"; } > "$C/load/$(echo "$txt" | tr '/' '_')"
done
for f in tests/data/*.h5; do case $(basename "$f") in fuzz_*) ;; *) cp "$f" "$C/keras_h5/";; esac; done
cp tests/data/*.keras "$C/keras_archive/"
for case in fixtures/*/; do
  c=$(basename "$case")
  # small fixtures only: the Keras targets read and write every input twice
  [ "$(stat -c %s "$case/model.pb")" -le 65536 ] || continue
  "$THAW" convert "$case/model.pb" -o "$C/keras_h5/$c.h5" >/dev/null 2>&1 || true
  "$THAW" convert "$case/model.pb" -o "$C/keras_archive/$c.keras" >/dev/null 2>&1 || true
done
rm -f "$C"/keras_h5/thaw_fallbacks.py "$C"/keras_archive/thaw_fallbacks.py
THAW_FUZZ_WRITE_SEEDS="$PWD/$C/keras_config" THAW_FUZZ_SMOKE_SECS=0 \
  cargo test -q --test fuzz_smoke fuzz_smoke_keras_config >/dev/null
for t in load convert interp oracle keras_h5 keras_archive keras_config; do
  echo "$t: $(ls "$C/$t" | wc -l) seeds, $(du -sh "$C/$t" | cut -f1)"
done
