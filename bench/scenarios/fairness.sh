#!/usr/bin/env bash
# Fairness across users of skewed rates: vtc-basic against least-request.
#
#   bash bench/scenarios/fairness.sh [path/to/brix] [--quick] [--out DIR] [--publish]
#
# For each strategy: fresh engines (llama3-8b-h100, --max-num-seqs 4) behind a fresh
# `brix gateway --strategy S`, and one `brix bench run --user U` per user, all at once: one
# heavy user sending far more than its share, three light users. Every user has its own seed.
# Prints and writes (results/fairness/<stamp>/): summary.csv (per strategy and user: requests,
# TTFT mean/p99, tokens served per second), gap.csv (largest difference of cumulative tokens
# served between the heaviest and the lightest user at any time, and between light users),
# service_<strategy>.png (cumulative tokens served per user over time) and ttft_cdf.png (TTFT CDF
# of the light users under each strategy). Times are simulated GPU time (wall x --time-scale).
# --quick: tiny run; checks invariants only. --publish copies CSVs and plots to docs/results/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bs_init fairness "$@"

STRATS="least-request vtc-basic"
USERS="heavy light1 light2 light3"
ENGINES=4
if [ "$BS_QUICK" = 1 ]; then
    SCALE=20 HEAVY_RATE=60 LIGHT_RATE=8 SECS=1 INLEN=128 OUTLEN=16 BIN=0.1
else
    SCALE=1 HEAVY_RATE=30 LIGHT_RATE=2 SECS=20 INLEN=256 OUTLEN=64 BIN=1
fi
PROFILE=llama3-8b-h100
# Wall-clock rates and duration (arrivals are planned in wall time; the engine runs SCALE x).
wrate() { awk -v r="$1" -v k="$SCALE" 'BEGIN { printf "%g", r * k }'; }
nreq() { awk -v r="$1" -v s="$SECS" 'BEGIN { printf "%d", r * s }'; }
CSV="$BS_RES/summary.csv"
GAP="$BS_RES/gap.csv"
echo "strategy,user,requests,ok,ttft_mean_ms,ttft_p50_ms,ttft_p99_ms,tpot_mean_ms,e2e_mean_ms,e2e_p99_ms,req_per_s,tok_per_s" >"$CSV"
echo "strategy,max_gap_heavy_vs_light_tokens,max_gap_between_light_users_tokens,light_ttft_p99_ms" >"$GAP"
{
    echo "engines=$ENGINES profile=$PROFILE max_num_seqs=4 time_scale=$SCALE"
    echo "users: heavy $HEAVY_RATE req/s, light1..3 $LIGHT_RATE req/s each, for ${SECS}s (simulated)," \
        "random prompts $INLEN in / $OUTLEN out, seeds 1..4"
} >"$BS_RES/settings.txt"
cat "$BS_RES/settings.txt" >&2

cdfplots=''
for s in $STRATS; do
    echo "fairness: $s ..." >&2
    bs_engines "$ENGINES" "$s" --model m --profile "$PROFILE" --time-scale "$SCALE" --max-num-seqs 4
    bs_gateway "$s" "${BS_BACKENDS[@]}" --strategy "$s" --scrape-interval-ms 250
    pids=() useed=0
    for u in $USERS; do
        useed=$((useed + 1))
        r=$LIGHT_RATE
        [ "$u" = heavy ] && r=$HEAVY_RATE
        bs_bench "$s-$u" "$BS_GW" --model m --user "$u" --seed "$useed" --rate "$(wrate "$r")" \
            --num-requests "$(nreq "$r")" --input-len "$INLEN" \
            --output-len "$OUTLEN" --len-dist uniform &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || BS_FAIL=1; done
    bx_stop "$BS_GWPID"
    bs_stop_engines
    files=()
    for u in $USERS; do
        r=$LIGHT_RATE
        [ "$u" = heavy ] && r=$HEAVY_RATE
        [ -s "$BS_RES/$s-$u.jsonl" ] || { BS_FAIL=1; continue; }
        bs_check "$s-$u" "$(nreq "$r")"
        bs_csv "$CSV" "$s" "$u" "$(python3 "$BS_PY" stats "$BS_RES/$s-$u.jsonl" "$SCALE")"
        files+=("$BS_RES/$s-$u.jsonl")
    done
    [ "${#files[@]}" = 4 ] || continue
    # Wall-clock bins of BIN/SCALE seconds; the plot's x axis is simulated seconds.
    g_all=$(python3 "$BS_PY" service "$BS_RES/service_$s.dat" "$(awk -v b="$BIN" -v k="$SCALE" 'BEGIN { print b / k }')" "${files[@]}")
    g_light=$(python3 "$BS_PY" service "$BS_RES/service_light_$s.dat" 1 "${files[@]:1}")
    cat "$BS_RES/$s-light1.jsonl" "$BS_RES/$s-light2.jsonl" "$BS_RES/$s-light3.jsonl" >"$BS_RES/$s-lights.jsonl"
    lp99=$(python3 "$BS_PY" stats "$BS_RES/$s-lights.jsonl" "$SCALE" | cut -d, -f5)
    bs_csv "$GAP" "$s" "$g_all" "$g_light" "$lp99"
    python3 "$BS_PY" cdf "$BS_RES/$s-lights.jsonl" "$BS_RES/$s-lights.cdf.dat" "$SCALE"
    python3 "$BS_PY" cdf "$BS_RES/$s-heavy.jsonl" "$BS_RES/$s-heavy.cdf.dat" "$SCALE"
    cdfplots="$cdfplots${cdfplots:+, }'$BS_RES/$s-lights.cdf.dat' using 1:2 with lines lw 2 title '$s, light users', '$BS_RES/$s-heavy.cdf.dat' using 1:2 with lines dt 2 lw 2 title '$s, heavy user'"
    bs_plot "$BS_RES/service_$s.png" "
set title 'tokens served per user over time, $s'
set xlabel 'time (s, simulated)'
set ylabel 'cumulative tokens served (prompt + output)'
set key left top inside
plot for [i=2:5] '$BS_RES/service_$s.dat' using (\$1*$SCALE):i with lines lw 2 title word('$USERS', i-1)"
done

echo
echo "fairness: heavy user $HEAVY_RATE req/s, three light users $LIGHT_RATE req/s each," \
    "$ENGINES engines (max 4 sequences each); ms of simulated time"
bs_table "$CSV"
echo
bs_table "$GAP"
bs_plot "$BS_RES/ttft_cdf.png" "
set title 'TTFT CDF per user class, heavy $HEAVY_RATE req/s vs light $LIGHT_RATE req/s'
set xlabel 'TTFT (ms, simulated)'
set ylabel 'fraction of requests'
set logscale x
set key right bottom inside
plot $cdfplots"
bs_publish "$CSV" "$GAP" "$BS_RES"/service_*.png "$BS_RES/ttft_cdf.png" "$BS_RES/settings.txt"
bs_finish
