#!/usr/bin/env bash
# KV-cache offloading on multi-turn chat: off, L1 (DRAM), L1+L2 (Redis) at equal GPU KV capacity
# (seed claim: up to 70 % lower latency and ~50 % more throughput).
#
#   bash bench/scenarios/kvoffload.sh [path/to/brix] [--quick] [--out DIR] [--publish]
#
# The runner of bench/micro/kvcache.sh part 4 (same engine flags and workload), with per-request JSONL
# and plots: one `brix engine` (llama3-8b-h100) per mode with the same --num-gpu-blocks, a GPU
# pool that holds only a few sessions' history, so a session's blocks are evicted between its
# turns; with --kv-offload they come back from L1/L2 at the simulated load bandwidth instead of
# being recomputed. The L1+L2 mode uses a redis-server started (and stopped) by this script.
# Two workloads, each under every mode: "burst" (every session starts at once: the GPU pool and
# the queue are full, so offload mostly buys throughput) and "long" (long conversations arriving
# at light load: TTFT is the prefill of the resent history, which offload turns into a load).
# Each turn resends the whole conversation.
# Prints and writes (results/kvoffload/<stamp>/): summary.csv (TTFT mean/p99, E2E, throughput,
# offload hits per tier), per-request JSONL, ttft_cdf.png and ttft_by_turn.png. Times are
# simulated GPU time (wall x --time-scale).
# --quick: tiny run at a high time scale; checks invariants only. --publish copies to docs/results/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bs_init kvoffload "$@"

if [ "$BS_QUICK" = 1 ]; then
    SESSIONS=4 TURNS=3 INLEN=256 OUTLEN=32 GPUBLOCKS=160 SCALE=50
    L_SESSIONS=2 L_TURNS=3 L_INLEN=256 L_OUTLEN=16 L_GPUBLOCKS=160 L_RATE=20 L_THINK=0.02
else
    SESSIONS=16 TURNS=5 INLEN=512 OUTLEN=64 GPUBLOCKS=512 SCALE=1
    L_SESSIONS=8 L_TURNS=8 L_INLEN=1024 L_OUTLEN=32 L_GPUBLOCKS=1024 L_RATE=1 L_THINK=1
fi
PROFILE=llama3-8b-h100
NREQ=$((SESSIONS * TURNS))
L_NREQ=$((L_SESSIONS * L_TURNS))
CSV="$BS_RES/summary.csv"
echo "mode,requests,ok,ttft_mean_ms,ttft_p50_ms,ttft_p99_ms,tpot_mean_ms,e2e_mean_ms,e2e_p99_ms,req_per_s,tok_per_s,l1_hit_blocks,l2_hit_blocks" >"$CSV"
{
    echo "engine: profile=$PROFILE num_gpu_blocks=$GPUBLOCKS (block 16) time_scale=$SCALE; offload: --kv-l1-gb 1, L1 20 GB/s, L2 5 GB/s (defaults)"
    echo "burst: multi-turn sessions=$SESSIONS turns=$TURNS input_len=$INLEN output_len=$OUTLEN rate=inf seed=1 num_gpu_blocks=$GPUBLOCKS"
    echo "long: multi-turn sessions=$L_SESSIONS turns=$L_TURNS input_len=$L_INLEN output_len=$L_OUTLEN rate=$L_RATE/s think_time=${L_THINK}s seed=1 num_gpu_blocks=$L_GPUBLOCKS"
} >"$BS_RES/settings.txt"
cat "$BS_RES/settings.txt" >&2

redis_ok=1
bs_redis || redis_ok=0
[ "$redis_ok" = 1 ] || { echo "kvoffload: no redis-server, the l1+l2 row is skipped" >&2; BS_FAIL=1; }

plots='' tplots=''
# The workload run_mode sends: burst (set_burst) or long (set_long).
set_burst() { W_PREFIX='' W_SESSIONS=$SESSIONS W_TURNS=$TURNS W_INLEN=$INLEN W_OUTLEN=$OUTLEN W_GPUBLOCKS=$GPUBLOCKS W_NREQ=$NREQ W_RATE=inf W_THINK=0; }
set_long() { W_PREFIX='long-' W_SESSIONS=$L_SESSIONS W_TURNS=$L_TURNS W_INLEN=$L_INLEN W_OUTLEN=$L_OUTLEN W_GPUBLOCKS=$L_GPUBLOCKS W_NREQ=$L_NREQ W_RATE=$L_RATE W_THINK=$L_THINK; }
run_mode() { # LABEL ENGINE-FLAGS...
    local label=$W_PREFIX$1 port
    shift
    echo "kvoffload: $label ..." >&2
    port=$(bx_free_port)
    bs_engine "$label" "$port" --model m --profile "$PROFILE" --time-scale "$SCALE" \
        --num-gpu-blocks "$W_GPUBLOCKS" --max-model-len $((W_GPUBLOCKS * 16)) "$@" || { BS_FAIL=1; return 0; }
    local epid=$BX_LAST
    bs_bench "$label" "http://127.0.0.1:$port" --model m --workload multi-turn \
        --num-sessions "$W_SESSIONS" --turns "$W_TURNS" --num-requests "$W_NREQ" \
        --input-len "$W_INLEN" --output-len "$W_OUTLEN" --rate "$W_RATE" --think-time "$W_THINK" || true
    bs_metrics "$label" "http://127.0.0.1:$port"
    bx_stop "$epid"
    [ -s "$BS_RES/$label.jsonl" ] || { BS_FAIL=1; return 0; }
    bs_check "$label" "$W_NREQ"
    local m="$BS_RES/$label.metrics.0.txt" l1 l2
    l1=$(awk '$1 ~ /^brix:kv_offload_hit_blocks_total/ && index($1, "tier=\"l1\"") { s += $2 } END { printf "%d", s }' "$m")
    l2=$(awk '$1 ~ /^brix:kv_offload_hit_blocks_total/ && index($1, "tier=\"l2\"") { s += $2 } END { printf "%d", s }' "$m")
    bs_csv "$CSV" "$label" "$(python3 "$BS_PY" stats "$BS_RES/$label.jsonl" "$SCALE")" "$l1" "$l2"
    python3 "$BS_PY" cdf "$BS_RES/$label.jsonl" "$BS_RES/$label.cdf.dat" "$SCALE"
    python3 "$BS_PY" byturn "$BS_RES/$label.jsonl" "$BS_RES/$label.turn.dat" "$SCALE"
    plots="$plots${plots:+, }'$BS_RES/$label.cdf.dat' using 1:2 with lines lw 2 title '$label'"
    tplots="$tplots${tplots:+, }'$BS_RES/$label.turn.dat' using 1:2 with linespoints lw 2 title '$label'"
}

for wl in set_burst set_long; do
    $wl
    run_mode off
    run_mode l1 --kv-offload --kv-l1-gb 1
    if [ "$redis_ok" = 1 ]; then
        redis-cli -p "${BS_REDIS#*:}" flushall >/dev/null
        run_mode l1+l2 --kv-offload --kv-l1-gb 1 --kv-redis "$BS_REDIS"
    fi
done

echo
echo "burst: $SESSIONS sessions x $TURNS turns ($INLEN-token messages, $OUTLEN-token answers), all at" \
    "once, --num-gpu-blocks $GPUBLOCKS; long: $L_SESSIONS sessions x $L_TURNS turns ($L_INLEN-token" \
    "messages) starting at $L_RATE/s, ${L_THINK}s between turns, --num-gpu-blocks $L_GPUBLOCKS;" \
    "ms of simulated time"
bs_table "$CSV"
python3 - "$CSV" <<'PY'
import csv, sys
rows = {r["mode"]: r for r in csv.DictReader(open(sys.argv[1]))}
for p in ("", "long-"):
    off = rows.get(p + "off")
    for m in ("l1", "l1+l2"):
        r = rows.get(p + m)
        if off and r:
            f = lambda k: float(r[k]) / float(off[k]) - 1
            print("%-12s vs %-8s TTFT mean %+.0f %%, TTFT p99 %+.0f %%, throughput %+.0f %%" % (
                p + m, p + "off:", 100 * f("ttft_mean_ms"), 100 * f("ttft_p99_ms"), 100 * f("tok_per_s")))
PY
bs_plot "$BS_RES/ttft_cdf.png" "
set title 'multi-turn TTFT CDF: burst ($SESSIONS x $TURNS turns) and long ($L_SESSIONS x $L_TURNS turns, light load)'
set xlabel 'TTFT (ms, simulated)'
set ylabel 'fraction of requests'
set logscale x
set key right bottom inside
plot $plots"
bs_plot "$BS_RES/ttft_by_turn.png" "
set title 'mean TTFT per turn (the conversation grows every turn)'
set xlabel 'turn'
set ylabel 'mean TTFT (ms, simulated)'
set xtics 1
set key left top inside
plot $tplots"
bs_publish "$CSV" "$BS_RES/ttft_cdf.png" "$BS_RES/ttft_by_turn.png" "$BS_RES/settings.txt"
bs_finish
