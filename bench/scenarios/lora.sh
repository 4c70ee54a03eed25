#!/usr/bin/env bash
# LoRA density: N adapters on M shared engines (--enable-lora) against one engine per adapter,
# and the fewest engines that meet the same SLO.
#
#   bash bench/scenarios/lora.sh [path/to/brix] [--quick] [--out DIR] [--publish]
#
# N adapters (a0..aN-1), each with its own light Poisson load (the long tail of fine-tunes), all
# at once: one `brix bench run --model aI` per adapter, each with its own seed.
#   dedicated: N engines, engine i serves only adapter aI (--enable-lora --max-loras 1)
#   shared-M:  M engines, each serving every adapter (--enable-lora --max-loras 4
#              --max-cpu-loras N), for M = 1, 2, 4
# Engines: llama3-8b-h100, --max-num-seqs 16, behind `brix gateway --strategy least-request`,
# which routes `model=aI` to the engines that list aI in /v1/models. SLO: every request ok and
# TTFT p99 <= SLO_MS. Prints and writes (results/lora/<stamp>/): summary.csv (per configuration:
# engines, TTFT mean/p99, E2E p99, SLO met), engines_needed.txt, ttft_cdf.png, per-request JSONL.
# Times are simulated GPU time (wall x --time-scale).
# --quick: N=4, tiny load; checks invariants only. --publish copies to docs/results/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bs_init lora "$@"

PROFILE=llama3-8b-h100
if [ "$BS_QUICK" = 1 ]; then
    N=4 RATE=1 SECS=4 INLEN=128 OUTLEN=16 SCALE=10 SHARED="1 2" SLO_MS=500
else
    N=8 RATE=2 SECS=25 INLEN=512 OUTLEN=128 SCALE=1 SHARED="1 2 4" SLO_MS=500
fi
NPER=$(awk -v r="$RATE" -v s="$SECS" 'BEGIN { printf "%d", r * s }')
WRATE=$(awk -v r="$RATE" -v k="$SCALE" 'BEGIN { printf "%g", r * k }')
CSV="$BS_RES/summary.csv"
echo "config,engines,requests,ok,ttft_mean_ms,ttft_p50_ms,ttft_p99_ms,tpot_mean_ms,e2e_mean_ms,e2e_p99_ms,req_per_s,tok_per_s,slo_met" >"$CSV"
{
    echo "engines: profile=$PROFILE max_num_seqs=16 time_scale=$SCALE; shared: --max-loras 4 --max-cpu-loras $N; dedicated: --max-loras 1"
    echo "load: $N adapters x $RATE req/s (Poisson, own seed each) for ${SECS}s simulated, $INLEN in / $OUTLEN out; SLO: all ok and TTFT p99 <= ${SLO_MS} ms"
} >"$BS_RES/settings.txt"
cat "$BS_RES/settings.txt" >&2

plots=''
# run_config LABEL ENGINES: load every adapter through a gateway over the engines in BS_URLS.
run_config() {
    local label=$1 m=$2 i pids=() files=()
    bs_gateway "$label" "${BS_BACKENDS[@]}" --strategy least-request --scrape-interval-ms 250 \
        --models-interval-ms 250
    # the gateway must list every adapter before the load starts
    for ((i = 0; i < 100; i++)); do
        [ "$(curl -s "$BS_GW/v1/models" | python3 -c 'import json,sys; print(len([m for m in json.load(sys.stdin)["data"] if m["id"] != "m"]))' 2>/dev/null)" = "$N" ] && break
        sleep 0.05
    done
    for ((i = 0; i < N; i++)); do
        bs_bench "$label-a$i" "$BS_GW" --model "a$i" --seed $((i + 1)) --rate "$WRATE" \
            --num-requests "$NPER" --input-len "$INLEN" --output-len "$OUTLEN" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || BS_FAIL=1; done
    bx_stop "$BS_GWPID"
    bs_stop_engines
    for ((i = 0; i < N; i++)); do
        [ -s "$BS_RES/$label-a$i.jsonl" ] || { BS_FAIL=1; continue; }
        bs_check "$label-a$i" "$NPER"
        files+=("$BS_RES/$label-a$i.jsonl")
    done
    cat "${files[@]}" >"$BS_RES/$label.jsonl"
    local st p99 met=no
    st=$(python3 "$BS_PY" stats "$BS_RES/$label.jsonl" "$SCALE")
    p99=$(echo "$st" | cut -d, -f5)
    if [ "$(echo "$st" | cut -d, -f2)" = $((N * NPER)) ] &&
        awk -v p="$p99" -v s="$SLO_MS" 'BEGIN { exit !(p <= s) }'; then met=yes; fi
    bs_csv "$CSV" "$label" "$m" "$st" "$met"
    python3 "$BS_PY" cdf "$BS_RES/$label.jsonl" "$BS_RES/$label.cdf.dat" "$SCALE"
    plots="$plots${plots:+, }'$BS_RES/$label.cdf.dat' using 1:2 with lines lw 2 title '$label ($m engines)'"
}

echo "lora: dedicated ($N engines) ..." >&2
args=()
BS_URLS=() BS_EPIDS=() BS_BACKENDS=()
for ((i = 0; i < N; i++)); do
    p=$(bx_free_port)
    bx_start_engine "$BS_RES/dedicated-$i.engine.log" "$p" \
        --log-level warn --seed "$i" --model m --profile "$PROFILE" --time-scale "$SCALE" \
        --max-num-seqs 16 --enable-lora --max-loras 1 --lora-modules "a$i=/models/loras/a$i"
    BS_EPIDS+=("$BX_LAST")
    BS_URLS+=("http://127.0.0.1:$p")
    BS_BACKENDS+=(--backend "http://127.0.0.1:$p")
done
for ((i = 0; i < N; i++)); do bx_wait_http "${BS_URLS[$i]}/health" 20 "${BS_EPIDS[$i]}"; done
run_config dedicated "$N"

for m in $SHARED; do
    echo "lora: shared on $m engine(s) ..." >&2
    args=()
    for ((i = 0; i < N; i++)); do args+=(--lora-modules "a$i=/models/loras/a$i"); done
    bs_engines "$m" "shared-$m" --model m --profile "$PROFILE" --time-scale "$SCALE" \
        --max-num-seqs 16 --enable-lora --max-loras 4 --max-cpu-loras "$N" "${args[@]}"
    run_config "shared-$m" "$m"
done

echo
echo "LoRA density: $N adapters x $RATE req/s each ($INLEN in / $OUTLEN out); SLO TTFT p99 <= ${SLO_MS} ms;" \
    "ms of simulated time"
bs_table "$CSV"
python3 - "$CSV" "$N" <<'PY' | tee "$BS_RES/engines_needed.txt"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
ded = [r for r in rows if r["config"] == "dedicated"]
sh = sorted((int(r["engines"]), r) for r in rows if r["config"].startswith("shared") and r["slo_met"] == "yes")
d = ded[0]["engines"] + (" (SLO met)" if ded and ded[0]["slo_met"] == "yes" else " (SLO missed)") if ded else "?"
s = str(sh[0][0]) if sh else "none of those tried"
print("engines needed for the SLO: one per adapter %s; shared with --enable-lora %s" % (d, s))
PY
bs_plot "$BS_RES/ttft_cdf.png" "
set title 'TTFT CDF, $N LoRA adapters x $RATE req/s: dedicated engines vs shared'
set xlabel 'TTFT (ms, simulated)'
set ylabel 'fraction of requests'
set logscale x
set key right bottom inside
plot $plots"
bs_publish "$CSV" "$BS_RES/engines_needed.txt" "$BS_RES/ttft_cdf.png" "$BS_RES/settings.txt"
bs_finish
