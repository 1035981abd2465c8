#!/usr/bin/env bash
# Print the path of thaw's pinned venv python, creating/refreshing the venv if needed.
#   PY=$(harness/venv_python.sh)
set -euo pipefail
"$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/setup_venv.sh" | tail -n1
