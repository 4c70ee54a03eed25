#!/usr/bin/env bash
# Cost of the exact (KV-event) prefix index in steady state (kvindex_apply.c): ns per
# BlockStored / BlockRemoved event and per block, a 512-block match over 8 engines (exact walk vs
# the approximate bisection), bytes per entry. Needs a built brixgateway + brixcommon:
#   bench/micro/kvindex_apply.sh build
set -euo pipefail

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ -d "$ROOT/$BUILD" ] && BUILD="$ROOT/$BUILD"
for lib in libbrixgateway.a libbrixcommon.a; do
    [ -f "$BUILD/$lib" ] || { echo "no $lib in $BUILD" >&2; exit 1; }
done
# shellcheck source=../../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
bx_workdir
TMP=$BX_WORK
# shellcheck disable=SC2046
cc -std=c17 -O2 -Wall -Wextra -Werror -I"$ROOT/src" "$ROOT/bench/micro/kvindex_apply.c" \
    "$BUILD/libbrixgateway.a" "$BUILD/libbrixcommon.a" \
    $(pkg-config --libs libuv jansson yaml-0.1 libzmq msgpack libcbor libcrypto libcurl hiredis) \
    -lhttp_parser -lxxhash -lm -lpthread -o "$TMP/kvindex_apply"
"$TMP/kvindex_apply"
