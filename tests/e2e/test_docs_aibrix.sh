#!/usr/bin/env bash
# docs/aibrix.md stays true: every field of the CRDs in deploy/crds has a
# verdict row (tests/docs/check_aibrix.py).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
python3 "$root/tests/docs/check_aibrix.py" "$root"
