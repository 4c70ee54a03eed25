#!/usr/bin/env bash
# Prefill/decode disaggregation against colocated engines, side by side in one run (AIBrix
# reports up to 2x better p95 ITL with P/D).
#
#   bash bench/scenarios/pd.sh [path/to/brix] [--quick] [--out DIR] [--publish]
#
# Two arms on the same seeded workload of long prompts and long outputs (`brix bench run
# --workload random`, streamed, Poisson arrivals):
#   colocated: 2 plain `brix engine` processes (PD_P + PD_D) behind `brix gateway --strategy least-request`;
#   pd:        1 prefill engine (--kv-transfer-config kv_producer) and 1 decode engine
#              (kv_consumer) as one roleset behind `brix gateway --strategy pd`; the decode
#              engine pulls each prompt's KV over the modelled link (--kv-link-gbps 25,
#              --kv-link-latency-us 50) instead of computing it.
# Same GPUs in both arms (2 x llama3-8b-h100 profile). Prints and writes (results/pd/<stamp>/):
# summary.csv (TTFT p50/p95/mean, ITL p50/p95/p99/mean over every inter-token gap, output
# tokens/s), the ratios pd / colocated, itl_cdf.png, per-request JSONL per arm, the engines'
# /metrics (brix:kv_transfer_* counters: prefills, pulls, bytes). Times are simulated GPU time
# (wall x --time-scale). --quick: tiny run at a high time scale; checks invariants only (all
# answered, no errors, every pd request took the two legs). --publish copies the CSV, the
# plot and the settings to docs/results/.
# Environment: PD_PROFILE (llama3-8b-h100), PD_RATE, PD_INLEN, PD_OUTLEN, PD_N override the
# workload; PD_P and PD_D (1 each) the group's prefill and decode engines (one roleset; the
# colocated arm gets PD_P + PD_D engines); PD_TAG (e.g. -a100) is appended to the output
# files' names.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bs_init pd "$@"
PDPY="$BS_HERE/pd_stats.py"

if [ "$BS_QUICK" = 1 ]; then
    N=16 RATE=8 INLEN=512 OUTLEN=32 SCALE=20
else
    N=${PD_N:-150} RATE=${PD_RATE:-2.5} INLEN=${PD_INLEN:-3000} OUTLEN=${PD_OUTLEN:-300} SCALE=1
fi
PROFILE=${PD_PROFILE:-llama3-8b-h100}
TAG=${PD_TAG:-}
NP=${PD_P:-1} ND=${PD_D:-1}
NC=$((NP + ND))
SHAPE="${NP}P + ${ND}D"
KVP='{"kv_connector":"NixlConnector","kv_role":"kv_producer"}'
KVC='{"kv_connector":"NixlConnector","kv_role":"kv_consumer"}'
CSV="$BS_RES/summary$TAG.csv"
echo "arm,requests,ok,ttft_p50_ms,ttft_p95_ms,ttft_mean_ms,itl_p50_ms,itl_p95_ms,itl_p99_ms,itl_mean_ms,out_tok_per_s" >"$CSV"
{
    echo "engines=$NC per arm profile=$PROFILE time_scale=$SCALE kv_link=25GB/s+50us"
    echo "workload=random requests=$N rate=$RATE input_len=$INLEN output_len=$OUTLEN len_dist=fixed stream seed=1"
    echo "colocated: $NC engines, gateway --strategy least-request; pd: $NP kv_producer + $ND kv_consumer (roleset rs1), gateway --strategy pd"
} >"$BS_RES/settings$TAG.txt"
cat "$BS_RES/settings$TAG.txt" >&2

run_arm() { # NAME GATEWAY-ARGS...
    local name=$1
    shift
    bs_gateway "$name" "$@" --scrape-interval-ms 250
    bs_bench "$name" "$BS_GW" --model m --workload random --num-requests "$N" --rate "$RATE" \
        --input-len "$INLEN" --output-len "$OUTLEN" --len-dist fixed || true
    bs_metrics "$name" "${BS_URLS[@]}"
    bx_stop "$BS_GWPID"
    bs_stop_engines
    [ -s "$BS_RES/$name.jsonl" ] || { BS_FAIL=1; return 0; }
    bs_check "$name" "$N"
    bs_csv "$CSV" "$name" "$(python3 "$PDPY" stats "$BS_RES/$name.jsonl" "$SCALE")"
    python3 "$PDPY" itlcdf "$BS_RES/$name.jsonl" "$BS_RES/$name.itl.dat" "$SCALE"
}

common=(--model m --profile "$PROFILE" --time-scale "$SCALE")
echo "pd: colocated ..." >&2
bs_engines "$NC" colocated "${common[@]}"
run_arm colocated "${BS_BACKENDS[@]}" --strategy least-request

echo "pd: pd ($SHAPE) ..." >&2
BS_URLS=() BS_EPIDS=()
backends=()
for ((i = 0; i < NC; i++)); do
    p=$(bx_free_port)
    role=prefill kv=$KVP
    if ((i >= NP)); then role=decode kv=$KVC; fi
    bx_start_engine "$BS_RES/pd-$role-$i.engine.log" "$p" --log-level warn "${common[@]}" \
        --seed "$i" --kv-transfer-config "$kv"
    BS_EPIDS+=("$BX_LAST")
    BS_URLS+=("http://127.0.0.1:$p")
    backends+=(--backend "rs1/$role=http://127.0.0.1:$p")
    bx_wait_http "http://127.0.0.1:$p/health" 20 "$BX_LAST"
done
run_arm pd "${backends[@]}" --strategy pd

# every pd request took the two legs: N prefills answered, N pulls, no failure (metrics files
# 0..NP-1 are the prefill engines', the rest the decode engines')
pf=() df=()
for ((i = 0; i < NC; i++)); do
    if ((i < NP)); then pf+=("$BS_RES/pd.metrics.$i.txt"); else df+=("$BS_RES/pd.metrics.$i.txt"); fi
done
pre=$(python3 "$BS_PY" promsum brix:kv_transfer_prefills_total "${pf[@]}")
pulls=$(python3 "$BS_PY" promsum brix:kv_transfer_pulls_total "${df[@]}")
fails=$(python3 "$BS_PY" promsum brix:kv_transfer_pull_failures_total "${df[@]}")
echo "pd: prefills answered $pre, KV pulls $pulls, pull failures $fails" >&2
if ! awk -v a="$pre" -v b="$pulls" -v f="$fails" -v n="$N" 'BEGIN { exit !(a == n && b == n && f == 0) }'; then
    echo "pd: INVARIANT every request takes the two legs: prefills $pre, pulls $pulls, failures $fails (want $N, $N, 0)" >&2
    BS_FAIL=1
fi

echo
echo "P/D ($SHAPE) vs $NC colocated engines, $N requests at $RATE/s, $INLEN in /" \
    "$OUTLEN out; ms of simulated time"
bs_table "$CSV"
python3 - "$CSV" <<'PY' | tee "$BS_RES/ratios$TAG.txt"
import csv, sys
rows = {r["arm"]: r for r in csv.DictReader(open(sys.argv[1]))}
c, p = rows.get("colocated"), rows.get("pd")
if c and p:
    for k in ("ttft_p50_ms", "ttft_p95_ms", "itl_p50_ms", "itl_p95_ms", "itl_p99_ms", "out_tok_per_s"):
        a, b = float(c[k]), float(p[k])
        print("%-14s colocated %9.2f  pd %9.2f  pd/colocated %.2fx" % (k, a, b, b / a if a else float("nan")))
PY
bs_plot "$BS_RES/itl_cdf$TAG.png" "
set title 'ITL CDF: P/D ($SHAPE) vs $NC colocated, $PROFILE, $INLEN in / $OUTLEN out, $RATE req/s'
set xlabel 'inter-token latency (ms, simulated)'
set ylabel 'fraction of gaps'
set logscale x
set key right bottom inside
plot '$BS_RES/colocated.itl.dat' using 1:2 with lines lw 2 title 'colocated ($NC engines)', \
     '$BS_RES/pd.itl.dat' using 1:2 with lines lw 2 title 'P/D ($SHAPE)'"
bs_publish "$CSV" "$BS_RES/itl_cdf$TAG.png" "$BS_RES/settings$TAG.txt" "$BS_RES/ratios$TAG.txt"
bs_finish
