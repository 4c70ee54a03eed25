#!/usr/bin/env bash
# Decision time of the prefix-aware strategies (prefix-cache,
# predicted-ttft) for 8k- and 32k-token prompts over 64 engines, with the
# prefix index filled to its 64 MiB bound, against a plain memcpy of the
# request's key array; also the index's bytes per entry. Needs a built
# brixgateway + brixcommon (Release for meaningful numbers):
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-rel --target brixgateway brixcommon
#   bench/micro/prefix_decision.sh build-rel
set -euo pipefail

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ -d "$ROOT/$BUILD" ] && BUILD="$ROOT/$BUILD"
# shellcheck source=../../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
bx_workdir
TMP=$BX_WORK
bx_cc_gateway "$BUILD" "$ROOT/bench/micro/prefix_decision.c" "$TMP/prefix_decision"
"$TMP/prefix_decision"
