#!/usr/bin/env bash
# Load clustering for the heterogeneous-GPU optimizer: AIBrix's DBSCAN
# centroids against brix's per-request snapping (opt_core), on synthetic
# traces (short chats, long documents, mixed, shifting, scattered noise, a
# low rate): the load matrix W, the ILP's cost, the mix and the fraction of
# the actual load the mix serves (coverage). Needs a built brixopt +
# brixcommon (Release for meaningful solve times):
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
#   cmake --build build --target brixopt brixcommon
#   bench/micro/opt_cluster_compare.sh build [SEEDS]
set -euo pipefail

BUILD=${1:-build}
SEEDS=${2:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ -d "$ROOT/$BUILD" ] && BUILD="$ROOT/$BUILD"
for lib in libbrixopt.a libbrixcommon.a; do
    [ -f "$BUILD/$lib" ] || { echo "no $lib in $BUILD" >&2; exit 1; }
done
# shellcheck source=../../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
bx_workdir
cc -std=c17 -O2 -Wall -Wextra -Werror -I"$ROOT/src" "$ROOT/bench/micro/opt_cluster_compare.c" \
    "$BUILD/libbrixopt.a" "$BUILD/libbrixcommon.a" \
    -lglpk -ljansson -lm -o "$BX_WORK/opt_cluster_compare"
"$BX_WORK/opt_cluster_compare" "$SEEDS"
