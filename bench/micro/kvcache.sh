#!/usr/bin/env bash
# libbrixkv benchmarks (issue 5, docs/kvcache.md "Benchmarks"), in one run:
#   1. L1 put/get GB/s against memcpy of the same bytes (goal >= 0.8x at >= 256 KiB)
#   2. prefix lookup of a 32k-token sequence (exists on a cached one, get of a missing one)
#   3. L2 (Redis) put/get against raw pipelined hiredis SET/GET (goal >= 0.9x)
#   4. multi-turn chat on `brix engine`: offload off, --kv-offload (L1), --kv-offload
#      --kv-redis (L1+L2) at equal GPU KV capacity: TTFT mean/p99, throughput, offload hits
# Parts 3 and 4 need redis-server; part 4 needs the brix binary. Needs a Release build:
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-rel --target brixkv brix -j2
#   bench/micro/kvcache.sh build-rel            # about 2 minutes
#   bench/micro/kvcache.sh build-rel --quick    # a few seconds (CI smoke)
#   bench/micro/kvcache.sh build-rel --only 4   # one part (1-4)
set -euo pipefail

BUILD=build-rel
QUICK=
ONLY=
prev=
for a in "$@"; do
    if [ "$prev" = --only ]; then
        ONLY=$a
        prev=
        continue
    fi
    case "$a" in
    --quick) QUICK=--quick ;;
    --only) prev=--only ;;
    -h | --help)
        sed -n '2,14p' "$0"
        exit 0
        ;;
    -*)
        echo "unknown option $a" >&2
        exit 2
        ;;
    *) BUILD=$a ;;
    esac
done
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ -d "$ROOT/$BUILD" ] && BUILD="$ROOT/$BUILD"
[ -f "$BUILD/libbrixkv.a" ] || {
    echo "no libbrixkv.a in $BUILD (cmake --build $BUILD --target brixkv)" >&2
    exit 1
}
btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
if [ "$btype" != Release ]; then
    echo "warning: $BUILD is a '${btype:-unknown}' build; numbers mean something only in Release" >&2
fi

# shellcheck source=../../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
bx_workdir
TMP=$BX_WORK

# shellcheck disable=SC2046
cc -std=c17 -O2 -Wall -Wextra -Werror -I"$ROOT/include" "$ROOT/bench/micro/kvcache_bench.c" \
    "$BUILD/libbrixkv.a" $(pkg-config --libs hiredis) -lxxhash -lpthread \
    -o "$TMP/kvcache_bench"

echo "== machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
part() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
if part 1; then
    echo
    echo "== 1. L1"
    "$TMP/kvcache_bench" l1 $QUICK
fi
if part 2; then
    echo
    echo "== 2. prefix lookup"
    "$TMP/kvcache_bench" lookup $QUICK
fi

# Starts a redis-server on a free port: its port in REDIS_PORT.
REDIS_PORT=
start_redis() {
    bx_start_redis "$TMP/redis.log" || return 1
    REDIS_PORT=$BX_REDIS_PORT
}

if part 3; then
    echo
    echo "== 3. L2"
    if [ ! -f "$ROOT/src/kv/kv_l2_redis.c" ]; then
        echo "L2: not built yet"
    elif ! command -v redis-server >/dev/null; then
        echo "L2: redis-server is missing (apt-get install redis-server)"
    else
        start_redis
        # brixkv (l2_sync=1, l2_conns=1) sends and reads L2 in pipelined batches of 64 blocks
        # (BRIXKV_CHUNK) on one connection; the raw peer does the same by hand: one
        # connection, 64 SETs (or GETs) a batch, each GET copied out of its reply.
        "$TMP/kvcache_bench" l2 "127.0.0.1:$REDIS_PORT" --conns 1 --batch 64 $QUICK
    fi
fi
part 4 || exit 0
echo

echo "== 4. multi-turn chat on brix engine"
BRIX="$BUILD/brix"
if [ ! -x "$BRIX" ]; then
    echo "multi-turn: no brix binary in $BUILD (cmake --build $BUILD --target brix)"
    exit 0
fi
if ! "$BRIX" engine --help 2>&1 | grep -q -- --kv-offload; then
    echo "multi-turn: engine has no --kv-offload yet"
    exit 0
fi
if [ -z "$REDIS_PORT" ]; then
    if command -v redis-server >/dev/null; then start_redis; fi
fi

# Workload: sessions of several turns, each turn resending the whole
# conversation. The GPU pool (--num-gpu-blocks) holds only a few sessions'
# history, so between turns a session's blocks are evicted; with offload
# they come back from L1/L2 at the simulated load bandwidth instead of
# being recomputed by prefill.
if [ -n "$QUICK" ]; then
    SESSIONS=4 TURNS=3 INLEN=256 OUTLEN=32 GPUBLOCKS=160 SCALE=50
else
    SESSIONS=16 TURNS=5 INLEN=512 OUTLEN=64 GPUBLOCKS=512 SCALE=1
fi
NREQ=$((SESSIONS * TURNS))

metric() { # file name label-filter -> summed value
    awk -v n="$1" -v f="$2" '$1 ~ "^"n && index($1, f) { s += $2 } END { printf "%d", s }' "$3"
}

run_mode() { # label, engine flags...
    local label=$1
    shift
    local port
    port=$(bx_free_port)
    bx_start_engine "$TMP/engine-$label.log" "$port" --time-scale "$SCALE" \
        --num-gpu-blocks "$GPUBLOCKS" --max-model-len $((GPUBLOCKS * 16)) --log-level warn "$@"
    local epid=$BX_LAST
    if ! bx_wait_http "http://127.0.0.1:$port/health" 10 "$epid"; then
        echo "multi-turn: engine ($label) did not start:" >&2
        tail -5 "$TMP/engine-$label.log" >&2
        return 1
    fi
    "$BRIX" bench run --url "http://127.0.0.1:$port" --workload multi-turn \
        --num-sessions "$SESSIONS" --turns "$TURNS" --num-requests "$NREQ" \
        --input-len "$INLEN" --output-len "$OUTLEN" --rate inf --seed 1 --no-progress \
        --summary-json "$TMP/sum-$label.json" >"$TMP/bench-$label.txt" 2>&1 || {
        echo "multi-turn: bench run ($label) failed:" >&2
        tail -5 "$TMP/bench-$label.txt" >&2
        return 1
    }
    curl -sf "http://127.0.0.1:$port/metrics" >"$TMP/metrics-$label.txt" || true
    bx_stop "$epid"
    local l1 l2
    l1=$(metric 'brix:kv_offload_hit_blocks_total' 'tier="l1"' "$TMP/metrics-$label.txt")
    l2=$(metric 'brix:kv_offload_hit_blocks_total' 'tier="l2"' "$TMP/metrics-$label.txt")
    python3 - "$TMP/sum-$label.json" "$label" "$l1" "$l2" "$SCALE" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
k = float(sys.argv[5])  # wall -> simulated time
t = s["ttft_ms"]
print("%-10s %10.1f %10.1f %8.2f %10.0f %8s %8s %4d/%d" % (
    sys.argv[2], t["mean"] * k, t["p99"] * k, s["request_throughput"] / k,
    s["total_token_throughput"] / k, sys.argv[3], sys.argv[4], s["successful"], s["requests"]))
PY
}

echo "$SESSIONS sessions x $TURNS turns (user message $INLEN tokens, answer $OUTLEN), all sessions"
echo "at once; --num-gpu-blocks $GPUBLOCKS (block 16), --time-scale $SCALE; times and rates"
echo "below are in simulated time (wall x $SCALE), tok/s counts prompt + output tokens"
if [ -n "$QUICK" ]; then
    echo "(--quick: at time-scale $SCALE the engine's real CPU work for offload is magnified"
    echo " $SCALE times, so these rows are a smoke test, not a comparison)"
fi
printf "%-10s %10s %10s %8s %10s %8s %8s %6s\n" mode "TTFT mean" "TTFT p99" "req/s" "tok/s" \
    "L1 hits" "L2 hits" "ok"
printf "%-10s %10s %10s %8s %10s %8s %8s %6s\n" "" "(ms)" "(ms)" "" "(total)" "(blocks)" \
    "(blocks)" ""
run_mode off
run_mode l1 --kv-offload --kv-l1-gb 1
if [ -n "$REDIS_PORT" ]; then
    redis-cli -p "$REDIS_PORT" flushall >/dev/null
    run_mode l1+l2 --kv-offload --kv-l1-gb 1 --kv-redis "127.0.0.1:$REDIS_PORT"
    # A second engine on the same Redis replaying the same conversations:
    # its L1 starts empty, so what it reuses comes from the first one via L2.
    run_mode l2-shared --kv-offload --kv-l1-gb 1 --kv-redis "127.0.0.1:$REDIS_PORT"
else
    echo "l1+l2: redis-server is missing"
fi
