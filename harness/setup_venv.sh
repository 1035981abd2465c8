#!/usr/bin/env bash
# Create (or refresh) thaw's pinned Python virtualenv and print its python path.
#
#   harness/setup_venv.sh            # venv at ${THAW_VENV:-$HOME/.cache/thaw/venv}
#   PY=$(harness/setup_venv.sh | tail -n1)
#
# Idempotent: the venv holds a stamp file with the sha256 of harness/requirements.txt;
# when the stamp matches and the interpreter works, nothing is installed. Otherwise the
# venv is created if missing (python3.11, or python3 when that is 3.11), requirements are
# installed with pip, `pip check` is run, the pinned imports are tested, and only then the
# stamp is written. Any failure exits non-zero with a message on stderr: no silent skip.
# All progress goes to stderr; the LAST stdout line is the venv's python path.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
req="$here/requirements.txt"
venv="${THAW_VENV:-$HOME/.cache/thaw/venv}"
stamp="$venv/.thaw-requirements.sha256"
py="$venv/bin/python"

die() { echo "setup_venv.sh: ERROR: $*" >&2; exit 1; }
log() { echo "setup_venv.sh: $*" >&2; }

[[ -f "$req" ]] || die "requirements file not found: $req"
want="$(sha256sum "$req" | cut -d' ' -f1)" || die "cannot hash $req"

if [[ -x "$py" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && "$py" -c 'import sys' 2>/dev/null; then
    log "venv up to date: $venv"
    echo "$py"
    exit 0
fi

if [[ ! -x "$py" ]]; then
    base=""
    for cand in python3.11 python3; do
        if command -v "$cand" >/dev/null 2>&1 &&
           [[ "$("$cand" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" == "3.11" ]]; then
            base="$(command -v "$cand")"
            break
        fi
    done
    [[ -n "$base" ]] || die "no Python 3.11 found (tried python3.11, python3); install Python 3.11 first"
    log "creating venv at $venv with $base"
    "$base" -m venv "$venv" || die "could not create venv at $venv with $base"
fi

rm -f "$stamp"
log "installing $req into $venv"
"$py" -m pip install --disable-pip-version-check -q -r "$req" >&2 \
    || die "pip install -r $req failed (venv: $venv)"
"$py" -m pip check --disable-pip-version-check >&2 \
    || die "pip check reports broken requirements in $venv"

# Verify the pinned versions really are what the interpreter imports.
TF_CPP_MIN_LOG_LEVEL=3 "$py" - "$req" >&2 <<'PYEOF' || die "installed packages do not match $req"
import importlib.metadata as md, re, sys
bad = []
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
    if not m:
        sys.exit(f"unpinned requirement (use name==version): {line!r}")
    name, ver = m.groups()
    try:
        have = md.version(name)
    except md.PackageNotFoundError:
        bad.append(f"{name}: not installed (want {ver})")
        continue
    if have != ver:
        bad.append(f"{name}: have {have}, want {ver}")
if bad:
    sys.exit("\n".join(bad))
import tensorflow, keras, tf_keras, h5py, numpy, model_explorer, ai_edge_model_explorer_adapter  # noqa: F401  (import smoke test)
print("setup_venv.sh: imports ok: tensorflow", tensorflow.__version__, "keras", keras.__version__,
      "tf_keras", tf_keras.__version__)
PYEOF

echo "$want" > "$stamp" || die "cannot write stamp $stamp"
log "venv ready: $venv"
echo "$py"
