#!/usr/bin/env bash
# Cost of the exact (KV-event) prefix index in steady state (kvindex_apply.c): ns per
# BlockStored / BlockRemoved event and per block, a 512-block match over 8 engines (exact walk vs
# the approximate bisection), bytes per entry. Needs a built brixgateway + brixcommon:
#   bench/micro/kvindex_apply.sh build
set -euo pipefail

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ -d "$ROOT/$BUILD" ] && BUILD="$ROOT/$BUILD"
# shellcheck source=../../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
bx_workdir
TMP=$BX_WORK
bx_cc_gateway "$BUILD" "$ROOT/bench/micro/kvindex_apply.c" "$TMP/kvindex_apply"
"$TMP/kvindex_apply"
