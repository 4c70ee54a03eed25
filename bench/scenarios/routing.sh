#!/usr/bin/env bash
# Routing strategies side by side on a shared-prefix workload (seed claim: ~45 % better TTFT
# from prefix-cache routing).
#
#   bash bench/scenarios/routing.sh [path/to/brix] [--quick] [--out DIR] [--publish]
#
# For each strategy (random, least-request, least-kv-cache, prefix-cache, predicted-ttft):
# 8 fresh `brix engine` processes (llama3-8b-h100 profile, a small KV cache of --num-gpu-blocks
# blocks each so that one engine holds only a few of the shared prefixes) behind a fresh
# `brix gateway --strategy S`, and the same seeded `brix bench run --workload shared-prefix`.
# Prints and writes (results/routing/<stamp>/): summary.csv (TTFT mean/p99, TPOT, throughput,
# prefix-cache hit rate from the engines' vllm:prefix_cache_hits/queries counters), per-request
# JSONL per strategy, ttft_cdf.png. Times are simulated GPU time (wall x --time-scale).
# --quick: tiny run at a high time scale; checks invariants only (all answered, no errors,
# non-empty answers, plot produced). --publish copies the CSV and plot to docs/results/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bs_init routing "$@"

STRATS="random least-request least-kv-cache prefix-cache predicted-ttft"
ENGINES=8
if [ "$BS_QUICK" = 1 ]; then
    N=24 RATE=60 NGROUPS=8 PREFIX=1024 INLEN=64 OUTLEN=16 BLOCKS=512 SCALE=20
else
    N=480 RATE=16 NGROUPS=32 PREFIX=2048 INLEN=128 OUTLEN=64 BLOCKS=640 SCALE=1
fi
PROFILE=llama3-8b-h100
CSV="$BS_RES/summary.csv"
echo "strategy,requests,ok,ttft_mean_ms,ttft_p50_ms,ttft_p99_ms,tpot_mean_ms,e2e_mean_ms,e2e_p99_ms,req_per_s,tok_per_s,cache_hit_rate" >"$CSV"
{
    echo "engines=$ENGINES profile=$PROFILE num_gpu_blocks=$BLOCKS time_scale=$SCALE"
    echo "workload=shared-prefix requests=$N rate=$RATE groups=$NGROUPS prefix_len=$PREFIX input_len=$INLEN output_len=$OUTLEN seed=1"
} >"$BS_RES/settings.txt"
cat "$BS_RES/settings.txt" >&2

plots=''
for s in $STRATS; do
    echo "routing: $s ..." >&2
    bs_engines "$ENGINES" "$s" --model m --profile "$PROFILE" --time-scale "$SCALE" \
        --num-gpu-blocks "$BLOCKS" --max-model-len $((BLOCKS * 16))
    bs_gateway "$s" "${BS_BACKENDS[@]}" --strategy "$s" --scrape-interval-ms 250
    bs_bench "$s" "$BS_GW" --model m --workload shared-prefix --num-requests "$N" --rate "$RATE" \
        --num-prefix-groups "$NGROUPS" --prefix-len "$PREFIX" --input-len "$INLEN" \
        --output-len "$OUTLEN" --header "routing-strategy:$s" || true
    bs_metrics "$s" "${BS_URLS[@]}"
    bx_stop "$BS_GWPID"
    bs_stop_engines
    [ -s "$BS_RES/$s.jsonl" ] || { BS_FAIL=1; continue; }
    bs_check "$s" "$N"
    hits=$(python3 "$BS_PY" promsum vllm:prefix_cache_hits_total "$BS_RES/$s".metrics.*.txt)
    qs=$(python3 "$BS_PY" promsum vllm:prefix_cache_queries_total "$BS_RES/$s".metrics.*.txt)
    rate=$(awk -v h="$hits" -v q="$qs" 'BEGIN { if (q > 0) printf "%.3f", h / q; else print "nan" }')
    bs_csv "$CSV" "$s" "$(python3 "$BS_PY" stats "$BS_RES/$s.jsonl" "$SCALE")" "$rate"
    python3 "$BS_PY" cdf "$BS_RES/$s.jsonl" "$BS_RES/$s.cdf.dat" "$SCALE"
    plots="$plots${plots:+, }'$BS_RES/$s.cdf.dat' using 1:2 with lines lw 2 title '$s'"
done

echo
echo "routing over $ENGINES engines, shared-prefix ($NGROUPS groups x $PREFIX tokens + $INLEN own," \
    "$OUTLEN out), $N requests at $RATE/s; ms of simulated time"
bs_table "$CSV"
bs_plot "$BS_RES/ttft_cdf.png" "
set title 'TTFT CDF, $ENGINES engines, shared-prefix ($NGROUPS groups x $PREFIX tokens), $RATE req/s'
set xlabel 'TTFT (ms, simulated)'
set ylabel 'fraction of requests'
set logscale x
set key right bottom inside
plot $plots"
bs_publish "$CSV" "$BS_RES/ttft_cdf.png" "$BS_RES/settings.txt"
bs_finish
