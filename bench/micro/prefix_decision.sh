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
for lib in libbrixgateway.a libbrixcommon.a; do
    [ -f "$BUILD/$lib" ] || { echo "no $lib in $BUILD" >&2; exit 1; }
done
# shellcheck source=../../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
bx_workdir
TMP=$BX_WORK
# shellcheck disable=SC2046
cc -std=c17 -O2 -Wall -Wextra -Werror -I"$ROOT/src" "$ROOT/bench/micro/prefix_decision.c" \
    "$BUILD/libbrixgateway.a" "$BUILD/libbrixcommon.a" \
    $(pkg-config --libs libuv jansson yaml-0.1 libzmq msgpack libcbor libcrypto libcurl hiredis) \
    -lhttp_parser -lxxhash -lm -lpthread -o "$TMP/prefix_decision"
"$TMP/prefix_decision"
