#!/usr/bin/env bash
# Precise prefix routing from the engines' KV events against AIBrix's approximate prefix-cache
# algorithm, on the routing scenario's shared-prefix workload and on a multi-turn workload, in one
# run (docs/benchmarks.md §11).
#
#   bash bench/scenarios/kvrouting.sh [path/to/brix] [--quick] [--out DIR] [--publish]
#
# Every engine publishes vLLM's KV events (--kv-events on its port + 700, replay + 701). Per
# workload, with fresh engines and gateway each:
#   achievable      one engine with an unbounded KV cache, no gateway: the best hit rate
#                   the request sequence allows (every block computed once)
#   aibrix          --strategy prefix-cache, no KV events: AIBrix's approximate algorithm
#   predicted-ttft  --strategy predicted-ttft, no KV events (brix's approximate best)
#   prefix-cache+kv / predicted-ttft+kv   the same strategies with --kv-events-port-offset
# over 8 engines (llama3-8b-h100, --num-gpu-blocks blocks each). Writes summary.csv (TTFT, hit
# rate, hit rate / achievable), index.csv (per KV run: index update ns per event, bytes per
# entry, the hit rate the approximate and the exact index predicted against the engines' own),
# kvrouting.png. --quick: a tiny run checking invariants only.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bs_init kvrouting "$@"

ENGINES=8
O=700
PROFILE=llama3-8b-h100
if [ "$BS_QUICK" = 1 ]; then
    N=24 RATE=60 NGROUPS=8 PREFIX=1024 INLEN=64 OUTLEN=16 BLOCKS=512 SCALE=20
    MT_N=24 MT_RATE=20 MT_TURNS=3 MT_IN=64 MT_OUT=16 MT_THINK=0
else
    N=480 RATE=16 NGROUPS=32 PREFIX=2048 INLEN=128 OUTLEN=64 BLOCKS=640 SCALE=1
    MT_N=960 MT_RATE=4 MT_TURNS=8 MT_IN=512 MT_OUT=64 MT_THINK=1
fi
ENG=(--model m --profile "$PROFILE" --prefix-caching-hash-algo xxhash_cbor)
CSV="$BS_RES/summary.csv"
ICSV="$BS_RES/index.csv"
echo "workload,config,requests,ok,ttft_mean_ms,ttft_p50_ms,ttft_p99_ms,tpot_mean_ms,e2e_mean_ms,e2e_p99_ms,req_per_s,tok_per_s,cache_hit_rate,achievable,of_achievable" >"$CSV"
echo "workload,config,events,blocks,ns_per_event,ns_per_block,bytes_per_entry,exact_entries,hit_rate_engines,pred_hit_rate_exact,pred_hit_rate_approx,err_exact,err_approx,gaps,replays" >"$ICSV"
{
    echo "engines=$ENGINES profile=$PROFILE num_gpu_blocks=$BLOCKS time_scale=$SCALE kv_port_offset=$O"
    echo "shared-prefix: requests=$N rate=$RATE groups=$NGROUPS prefix_len=$PREFIX input_len=$INLEN output_len=$OUTLEN seed=1"
    echo "multi-turn: requests=$MT_N session_rate=$MT_RATE turns=$MT_TURNS input_len=$MT_IN output_len=$MT_OUT think_time=$MT_THINK seed=1"
} >"$BS_RES/settings.txt"
cat "$BS_RES/settings.txt" >&2

# a port P with P + O and P + O + 1 free too
kv_port() {
    local p i
    for ((i = 0; i < 50; i++)); do
        p=$(bx_free_port)
        python3 -c 'import socket,sys
for port in sys.argv[1:]:
    s = socket.socket()
    try: s.bind(("0.0.0.0", int(port)))
    except OSError: sys.exit(1)
    finally: s.close()' "$((p + O))" "$((p + O + 1))" && { echo "$p"; return 0; }
    done
    return 1
}

# kv_engines N NAME ARGS...: bs_engines with KV events at port + O (replay + O + 1).
kv_engines() {
    local n=$1 name=$2 i p
    shift 2
    BS_URLS=() BS_EPIDS=() BS_BACKENDS=()
    for ((i = 0; i < n; i++)); do
        p=$(kv_port)
        bx_start_engine "$BS_RES/$name-$i.engine.log" "$p" --log-level warn --seed "$i" "$@" \
            --kv-events "tcp://*:$((p + O))" --kv-events-replay "tcp://*:$((p + O + 1))"
        BS_EPIDS+=("$BX_LAST")
        BS_URLS+=("http://127.0.0.1:$p")
        BS_BACKENDS+=(--backend "http://127.0.0.1:$p")
    done
    for ((i = 0; i < n; i++)); do
        bx_wait_http "${BS_URLS[$i]}/health" 20 "${BS_EPIDS[$i]}" || return 1
    done
}

hit_rate() { # NAME: sum of the engines' hits / queries
    local h q
    h=$(python3 "$BS_PY" promsum vllm:prefix_cache_hits_total "$BS_RES/$1".metrics.*.txt)
    q=$(python3 "$BS_PY" promsum vllm:prefix_cache_queries_total "$BS_RES/$1".metrics.*.txt)
    awk -v h="$h" -v q="$q" 'BEGIN { if (q > 0) printf "%.3f", h / q; else print "nan" }'
}

gwm() { # NAME METRIC: a gateway counter from NAME.gateway.metrics.txt
    python3 "$BS_PY" promsum "$2" "$BS_RES/$1.gateway.metrics.txt"
}

# run WORKLOAD CONFIG: one fresh fleet + gateway, the workload, its rows.
run() {
    local wl=$1 cfg=$2 name="$1.$2" strat kv=() bench=()
    case $cfg in
    aibrix) strat=prefix-cache ;;
    predicted-ttft) strat=predicted-ttft ;;
    prefix-cache+kv) strat=prefix-cache kv=(--kv-events-port-offset "$O") ;;
    predicted-ttft+kv) strat=predicted-ttft kv=(--kv-events-port-offset "$O") ;;
    esac
    if [ "$wl" = shared-prefix ]; then
        bench=(--workload shared-prefix --num-requests "$N" --rate "$RATE" --num-prefix-groups
            "$NGROUPS" --prefix-len "$PREFIX" --input-len "$INLEN" --output-len "$OUTLEN")
    else
        bench=(--workload multi-turn --num-requests "$MT_N" --rate "$MT_RATE" --turns "$MT_TURNS"
            --input-len "$MT_IN" --output-len "$MT_OUT" --think-time "$MT_THINK")
    fi
    echo "kvrouting: $wl / $cfg ..." >&2
    if [ "$cfg" = achievable ]; then
        kv_engines 1 "$name" "${ENG[@]}" --time-scale "$SCALE" --num-gpu-blocks 200000 \
            --max-model-len 65536
        bs_bench "$name" "${BS_URLS[0]}" --model m "${bench[@]}" || true
        bs_metrics "$name" "${BS_URLS[@]}"
        bs_stop_engines
        ACH[$wl]=$(hit_rate "$name")
        bs_check "$name" "$( [ "$wl" = shared-prefix ] && echo "$N" || echo "$MT_N")"
        bs_csv "$CSV" "$wl" "$cfg" "$(python3 "$BS_PY" stats "$BS_RES/$name.jsonl" "$SCALE")" \
            "${ACH[$wl]}" "${ACH[$wl]}" 1.000
        return 0
    fi
    kv_engines "$ENGINES" "$name" "${ENG[@]}" --time-scale "$SCALE" --num-gpu-blocks "$BLOCKS" \
        --max-model-len $((BLOCKS * 16))
    bs_gateway "$name" "${BS_BACKENDS[@]}" --strategy "$strat" --scrape-interval-ms 250 "${kv[@]}"
    if [ ${#kv[@]} -gt 0 ]; then # every stream followed before the first request
        local i
        for ((i = 0; i < 100; i++)); do
            curl -s "$BS_GW/metrics" | grep -q "^brix_gateway_kv_engines{confidence=\"exact\"} $ENGINES" && break
            sleep 0.1
        done
    fi
    bs_bench "$name" "$BS_GW" --model m "${bench[@]}" --header "routing-strategy:$strat" || true
    bs_metrics "$name" "${BS_URLS[@]}"
    curl -s --max-time 5 "$BS_GW/metrics" >"$BS_RES/$name.gateway.metrics.txt" || true
    bx_stop "$BS_GWPID"
    bs_stop_engines
    [ -s "$BS_RES/$name.jsonl" ] || { BS_FAIL=1; return 0; }
    bs_check "$name" "$( [ "$wl" = shared-prefix ] && echo "$N" || echo "$MT_N")"
    local rate
    rate=$(hit_rate "$name")
    bs_csv "$CSV" "$wl" "$cfg" "$(python3 "$BS_PY" stats "$BS_RES/$name.jsonl" "$SCALE")" "$rate" \
        "${ACH[$wl]}" "$(awk -v r="$rate" -v a="${ACH[$wl]}" 'BEGIN { printf "%.3f", (a > 0 ? r / a : 0) }')"
    [ ${#kv[@]} -gt 0 ] || return 0
    # the index's own figures, and the hit rate each index predicted for the engines chosen
    # (blocks x block size over the engines' prompt tokens) against the engines' own
    local ev nb ns by cap ent q pe pa
    ev=$(gwm "$name" brix_gateway_kv_events_total)
    nb=$(($(gwm "$name" brix_gateway_kv_blocks_stored_total) + $(gwm "$name" brix_gateway_kv_blocks_removed_total)))
    ns=$(gwm "$name" brix_gateway_kv_apply_ns_total)
    by=$(gwm "$name" brix_gateway_kv_index_bytes)
    cap=$(gwm "$name" brix_gateway_kv_index_capacity)
    ent=$(gwm "$name" brix_gateway_kv_index_entries)
    q=$(python3 "$BS_PY" promsum vllm:prefix_cache_queries_total "$BS_RES/$name".metrics.*.txt)
    pe=$(gwm "$name" brix_gateway_kv_pred_exact_blocks_total)
    pa=$(gwm "$name" brix_gateway_kv_pred_exact_approx_blocks_total)
    if [ "$ev" = 0 ] || [ "$q" = 0 ]; then
        echo "kvrouting: INVARIANT no KV events or no engine queries in $name" >&2
        BS_FAIL=1
    fi
    bs_csv "$ICSV" "$wl" "$cfg" "$ev" "$nb" \
        "$(awk -v n="$ns" -v e="$ev" 'BEGIN { printf "%.0f", (e > 0 ? n / e : 0) }')" \
        "$(awk -v n="$ns" -v e="$nb" 'BEGIN { printf "%.0f", (e > 0 ? n / e : 0) }')" \
        "$(awk -v b="$by" -v c="$cap" 'BEGIN { printf "%.1f", (c > 0 ? b / c : 0) }')" "$ent" \
        "$rate" \
        "$(awk -v p="$pe" -v q="$q" 'BEGIN { printf "%.3f", (q > 0 ? p * 16 / q : 0) }')" \
        "$(awk -v p="$pa" -v q="$q" 'BEGIN { printf "%.3f", (q > 0 ? p * 16 / q : 0) }')" \
        "$(awk -v p="$pe" -v q="$q" -v r="$rate" 'BEGIN { d = p * 16 / q - r; printf "%.3f", (d < 0 ? -d : d) }')" \
        "$(awk -v p="$pa" -v q="$q" -v r="$rate" 'BEGIN { d = p * 16 / q - r; printf "%.3f", (d < 0 ? -d : d) }')" \
        "$(gwm "$name" brix_gateway_kv_gaps_total)" "$(gwm "$name" brix_gateway_kv_replays_total)"
}

declare -A ACH
for wl in shared-prefix multi-turn; do
    for cfg in achievable aibrix predicted-ttft prefix-cache+kv predicted-ttft+kv; do
        run "$wl" "$cfg"
    done
done

echo
echo "KV-event routing over $ENGINES engines; ms of simulated time"
bs_table "$CSV"
echo
bs_table "$ICSV"
python3 - "$CSV" "$BS_RES/ratios.txt" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
out = []
for wl in ("shared-prefix", "multi-turn"):
    r = {x["config"]: x for x in rows if x["workload"] == wl}
    if "aibrix" not in r:
        continue
    base = float(r["aibrix"]["ttft_mean_ms"])
    cands = [c for c in ("predicted-ttft", "prefix-cache+kv", "predicted-ttft+kv") if c in r]
    best = min(cands, key=lambda c: float(r[c]["ttft_mean_ms"]))
    out.append("%s: best %s mean TTFT %.1f ms = %.2fx aibrix (%.1f ms); hit rate %s = %s of achievable %s"
               % (wl, best, float(r[best]["ttft_mean_ms"]), float(r[best]["ttft_mean_ms"]) / base,
                  base, r[best]["cache_hit_rate"], r[best]["of_achievable"], r[best]["achievable"]))
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
# two panels: hit rate / achievable and mean TTFT, per config and workload
python3 - "$CSV" "$BS_RES/plot.dat" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
cfgs = ["aibrix", "predicted-ttft", "prefix-cache+kv", "predicted-ttft+kv"]
with open(sys.argv[2], "w") as f:
    f.write("# config sp_frac mt_frac sp_ttft mt_ttft\n")
    for c in cfgs:
        v = {}
        for x in rows:
            if x["config"] == c:
                v[x["workload"]] = x
        g = lambda w, k: v[w][k] if w in v else "nan"  # noqa: E731
        f.write("%s %s %s %s %s\n" % (c, g("shared-prefix", "of_achievable"), g("multi-turn", "of_achievable"),
                                     g("shared-prefix", "ttft_mean_ms"), g("multi-turn", "ttft_mean_ms")))
PY
bs_plot "$BS_RES/kvrouting.png" "
set multiplot layout 1,2 title 'KV-event routing, $ENGINES engines ($PROFILE, $BLOCKS blocks each)'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -25
set key top left
set title 'cache hit rate / achievable'
set yrange [0:1.1]
plot '$BS_RES/plot.dat' using 2:xtic(1) title 'shared-prefix', '' using 3 title 'multi-turn'
set title 'mean TTFT (ms, simulated)'
set yrange [0:*]
plot '$BS_RES/plot.dat' using 4:xtic(1) title 'shared-prefix', '' using 5 title 'multi-turn'
unset multiplot"
bs_publish "$CSV" "$ICSV" "$BS_RES/ratios.txt" "$BS_RES/kvrouting.png" "$BS_RES/settings.txt"
bs_finish
