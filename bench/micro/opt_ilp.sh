#!/usr/bin/env bash
# Solve time of the optimizer's ILP (src/opt/opt_ilp.c, Melange's ILP on
# GLPK) on random realistic instances: 4 GPU types x 100 buckets and x 400
# buckets, N instances each (default 200), p50/p99/max against the 100 ms
# goal and how many GLPK proved optimal within the time limit (default
# 1000 ms, the solver's default). A third argument "total" draws the
# model's whole load (5..500 rps) instead of each bucket's (2..300 rps).
# Needs a built brixopt + brixcommon (Release for meaningful numbers):
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
#   cmake --build build --target brixopt brixcommon
#   bench/micro/opt_ilp.sh build [instances] [time_limit_ms] [total]
set -euo pipefail

BUILD=${1:-build}
shift || true
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ -d "$ROOT/$BUILD" ] && BUILD="$ROOT/$BUILD"
for lib in libbrixopt.a libbrixcommon.a; do
    [ -f "$BUILD/$lib" ] || { echo "no $lib in $BUILD" >&2; exit 1; }
done
# shellcheck source=../../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
bx_workdir
TMP=$BX_WORK
cc -std=c17 -O2 -Wall -Wextra -Werror -I"$ROOT/src" "$ROOT/bench/micro/opt_ilp_bench.c" \
    "$BUILD/libbrixopt.a" "$BUILD/libbrixcommon.a" -lglpk -lm -o "$TMP/opt_ilp_bench"
"$TMP/opt_ilp_bench" "$@"
