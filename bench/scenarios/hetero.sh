#!/usr/bin/env bash
# Heterogeneous GPUs (issue 18): for several load mixes, the cost per hour and SLO attainment
# of the GPU optimizer's mix against every single GPU type sized to meet the same SLO, and
# against random routing over the optimizer's mix.
#
#   bash bench/scenarios/hetero.sh [path/to/brix] [--quick] [--out DIR] [--publish] [--reprofile]
#   (HETERO_MIXES="mixed shifting" in the environment: only those mixes)
#
# One model (llm) on three simulated GPU types whose cost order flips with the request shape
# (docs/hetero.md "GPU types"): llama3-8b-a10g ($1.006/h), llama3-8b-a100-80g ($5.121/h),
# llama3-8b-h100 ($12.29/h), engines at --time-scale $SCALE (times and rates below are
# simulated: wall x SCALE). Requests: chats (128 in / 32 out) and documents (4096 in / 256 out).
# SLO: TTFT <= 5 s and TPOT <= 0.2 s per request.
#  1. Profiles: bench/scenarios/hetero/profiles/llm-<type>.json, made by `brix bench profile`
#     (the command is in bench/scenarios/hetero/README.md; --reprofile runs it again, about
#     6 minutes) on a 2 x 2 grid (128, 4096 in x 32, 256 out), SLO at p90, cost = the engine's
#     price. The optimizer reads copies with tputs x SCALE (it sees the gateway's wall-clock load).
#  2. Sizing, by brix's optimizer, once per steady load (a mix, or a phase of the shift): `brix up` runs one Deployment per type
#     (labelled model.aibrix.ai/name: llm; 0 a10g, 1 a100, 1 h100 replicas, no PodAutoscaler so
#     that the sizing load is served while the optimizer decides), --gpu-profiles on the
#     copies. The mix's trace goes through its gateway for one or two whole 10 s load windows;
#     the optimizer's /status then gives the mix over all types (its replicas per Deployment and
#     the assignment, GET /assignment/llm) and, with DELETE /monitor on the other Deployments,
#     each type alone sized by the same ILP for the same load windows.
#  3. Measurement, static: for each configuration the engines run at those counts behind a
#     `brix gateway` (--backend llm-<type>=URL): "optimizer" with the slo strategy and the
#     optimizer's assignment (served by tests/e2e/fake_gpu_optimizer.py from the file /assignment
#     answered), "random" the same engines with random routing, "only-<type>" least-request. The
#     same trace is replayed (`brix bench run --trace`); cost/h = sum of replicas x price
#     (constant: the counts are fixed), SLO attainment = requests meeting both bounds / requests.
#     The optimizer is not re-run live per configuration (30 configurations x ~40 s of windows
#     and KPA convergence would not fit the run); the sizes come from it, nothing else. The
#     shift's changes of counts between phases (engines starting, draining) are not measured.
# Mixes (simulated rps): short (chats $SHORT/s), long (documents $LONG/s), mixed (both), and
# shifting: $PHASES phases of equal length in which chats fall from $SHORT/s to 0 while documents
# rise from 0 to $LONG/s (phase k of P: chats $SHORT x (1 - k/(P-1)), documents $LONG x k/(P-1)).
# Each phase is sized and measured as a steady load (a phase with the same rates as an earlier
# mix reuses its runs: the first phase is "short", the last "long"): the optimizer re-solves for
# each phase's load, as it does live from the load monitor's windows. The shift's rows are the
# time-weighted mean of its phases ($/h and replicas: the mean; SLO attainment: over every
# request of every phase): "optimizer", "random" and "only-<type>" sized per phase (each type
# alone autoscaled with the load as the optimizer's mix is), and "fixed-<type>" (sized, not run)
# the static fleet of one type that meets the SLO through the whole shift: its peak phase's count.
# Prints and writes (results/hetero/<stamp>/): summary.csv (mix, config, $/h, SLO attainment,
# requests, answered, unserved load, replicas per type), runs.csv (the same per run, the shift's
# phases included), cost.png (cost per mix per config, attainment alongside), sizes.txt (the
# optimizer's reasons), the JSONL of every run.
# Invariants (--quick too): every request answered; on every mix the optimizer's mix costs no
# more than the cheapest single type that serves every shape of it (the shift: sized per phase
# too); the plot exists. --quick
# (about 45 s): the mixed load only, one sizing window, and only the optimizer's mix is run
# (2 s): the other configurations are sized, their rows have no requests.
# Timings and attainment are measured on this machine's shared CPUs: figures, not assertions.
set -euo pipefail
REPROFILE=0
args=()
for a in "$@"; do
    if [ "$a" = --reprofile ]; then REPROFILE=1; else args+=("$a"); fi
done
. "$(dirname "$0")/lib.sh"
bs_init hetero "${args[@]}"
H="$BS_HERE/hetero_mix.py"

SCALE=5 SHORT=8 LONG=1.5 TTFT=5 TPOT=0.2 MIN_ATT=0.99 PHASES=4
TYPES=(a10g a100-80g h100)
if [ "$BS_QUICK" = 1 ]; then
    MIXES=(mixed) WINDOWS=1 MEASURE=2
else
    MIXES=(short long mixed shifting) WINDOWS=2 MEASURE=20
fi
# shellcheck disable=SC2206 # HETERO_MIXES="mixed shifting": run only those
[ -n "${HETERO_MIXES:-}" ] && MIXES=($HETERO_MIXES)
price() { "$BRIX" engine --help 2>&1 | awk -v p="llama3-8b-$1" '$1 == p { for (i = 2; i <= NF; i++) if ($i ~ /^[0-9.]+$/) { print $i; exit } }'; }
declare -A PRICE
for t in "${TYPES[@]}"; do PRICE[$t]=$(price "$t"); done
{
    echo "types: ${TYPES[*]} (\$/h: $(for t in "${TYPES[@]}"; do printf '%s ' "${PRICE[$t]}"; done)); --time-scale $SCALE"
    echo "requests: chats 128 in / 32 out at $SHORT/s, documents 4096 in / 256 out at $LONG/s (simulated); the shift in $PHASES phases"
    echo "SLO: TTFT <= ${TTFT} s and TPOT <= ${TPOT} s per request; sizing $WINDOWS x 10 s windows; measured ${MEASURE} s wall per configuration"
} >"$BS_RES/settings.txt"
cat "$BS_RES/settings.txt" >&2

PROF="$BS_HERE/hetero/profiles"
if [ "$REPROFILE" = 1 ]; then
    PROF="$BS_RES/profiles"
    mkdir -p "$PROF"
    for t in "${TYPES[@]}"; do
        p=$(bx_free_port)
        bx_start_engine "$BS_RES/profile-$t.engine.log" "$p" --log-level warn --model llm \
            --profile "llama3-8b-$t" --time-scale 10
        e=$BX_LAST
        bx_wait_http "http://127.0.0.1:$p/health" 20 "$e"
        "$BRIX" bench profile --url "http://127.0.0.1:$p" --time-scale 10 --gpu "llm-$t" \
            --cost "${PRICE[$t]}" --slo-ttft "$TTFT" --slo-tpot "$TPOT" --percentile 90 \
            --input-lens 128,4096 --output-lens 32,256 --rates 1,2,4,6,8,12,16,24,32,48 \
            --num-prompts 150 --results "$PROF/llm-$t.jsonl" --profile-out "$PROF/llm-$t.json" \
            --no-progress >"$BS_RES/profile-$t.txt" 2>&1
        bx_stop "$e" 3
    done
fi
python3 "$H" wallprofiles "$PROF" "$BS_RES/wallprofiles" "$SCALE"

dep_yaml() { # NAME TYPE REPLICAS
    cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: llm-$2
  labels: {model.aibrix.ai/name: llm, model.aibrix.ai/min_replicas: "0"}
  annotations: {brix.ai/drain-grace-seconds: "1"}
spec:
  replicas: $3
  template:
    metadata:
      labels: {model.aibrix.ai/name: llm}
    spec:
      containers:
        - name: engine
          command: ["{brix}", "engine"]
          args: ["--port", "{port}", "--model", "llm", "--profile", "llama3-8b-$2",
                 "--time-scale", "$SCALE", "--log-level", "warn"]
---
YAML
}
{
    dep_yaml a10g a10g 0
    dep_yaml a100-80g a100-80g 1
    dep_yaml h100 h100 1
} >"$BS_RES/sizing.yaml"

# size MIX: brix up, the trace through its gateway for WINDOWS whole windows, then the
# optimizer's results: $BS_RES/<mix>.sizes (config type replicas) and <mix>.assignment.json
size() {
    local mix=$1 gp ap op up opt i t n0 p
    gp=$(bx_free_port) ap=$(bx_free_port) op=$(bx_free_port)
    opt="http://127.0.0.1:$op"
    bx_spawn "$BS_RES/$mix.up.log" "$BRIX" up -f "$BS_RES/sizing.yaml" --state "$BS_RES/$mix.state" \
        --host 127.0.0.1 --port "$gp" --admin-port "$ap" --log-level warn \
        --gpu-profiles "$BS_RES/wallprofiles" --gpu-optimizer-port "$op" \
        --gpu-optimizer-period 1 --gpu-optimizer-scale-down-delay 0 \
        --gpu-optimizer-window $((WINDOWS * 10 + 10))
    up=$BX_LAST
    for ((i = 0; i < 150; i++)); do
        [ "$(curl -s --max-time 2 "http://127.0.0.1:$ap/v1/pods" | python3 -c '
import json, sys
print(sum(1 for p in json.load(sys.stdin)["items"] if p.get("phase") == "Ready"))' 2>/dev/null || echo 0)" = 2 ] && break
        kill -0 "$up" 2>/dev/null || { echo "hetero: brix up exited: $(tail -n 5 "$BS_RES/$mix.up.log")" >&2; return 1; }
        sleep 0.2
    done
    bx_wait_http "http://127.0.0.1:$gp/readyz" 20 "$up"
    sleep 1
    local load b
    # a steady load: it runs on while the results are read; the optimizer's window
    # (WINDOWS + 1) x 10 s holds, WINDOWS x 10 s after the first boundary, only whole windows
    bx_spawn "$BS_RES/$mix.sizing.txt" "$BRIX" bench run --url "http://127.0.0.1:$gp" --model llm \
        --trace "$BS_RES/$mix.size-trace.jsonl" --seed 1 --timeout 120 --no-progress \
        --output "$BS_RES/$mix.sizing.jsonl"
    load=$BX_LAST
    b=$(python3 -c 'import math, time; print(math.ceil(time.time() / 10) * 10)')
    python3 -c "import time; time.sleep(max(0, $b + $WINDOWS * 10 + 1.3 - time.time()))"
    status() { curl -s --max-time 5 "$opt/status" >"$BS_RES/$mix.status.json"; }
    settle() { # wait for an optimizer run that began after the last change
        status
        n0=$(python3 "$H" runs "$BS_RES/$mix.status.json")
        for ((i = 0; i < 50; i++)); do
            sleep 0.1
            status
            [ "$(python3 "$H" runs "$BS_RES/$mix.status.json")" -ge $((n0 + 1)) ] && return 0
        done
        echo "hetero: the optimizer did not run (mix $mix)" >&2
        return 1
    }
    settle
    curl -s --max-time 5 "$opt/assignment/llm" >"$BS_RES/$mix.assignment.json"
    python3 "$H" replicas "$BS_RES/$mix.status.json" | sed -e 's/^llm-//' -e 's/^/optimizer /' >"$BS_RES/$mix.sizes"
    printf '%s optimizer: %s\n' "$mix" "$(jq -r '.models[0].resultReason' "$BS_RES/$mix.status.json")" >>"$BS_RES/sizes.txt"
    for t in "${TYPES[@]}"; do
        local o
        for o in "${TYPES[@]}"; do
            if [ "$o" = "$t" ]; then
                curl -s --max-time 5 -X POST "$opt/monitor/default/llm-$o" >/dev/null
            else
                curl -s --max-time 5 -X DELETE "$opt/monitor/default/llm-$o" >/dev/null
            fi
        done
        settle
        python3 "$H" replicas "$BS_RES/$mix.status.json" | sed -e 's/^llm-//' -e "s/^/only-$t /" >>"$BS_RES/$mix.sizes"
        printf '%s only-%s: %s\n' "$mix" "$t" "$(jq -r '.models[0].resultReason' "$BS_RES/$mix.status.json")" >>"$BS_RES/sizes.txt"
    done
    [ -n "${load:-}" ] && { kill -KILL "$load" 2>/dev/null || true; bx_reap "$load" 1; }
    # one SIGTERM (a second one makes brix up exit without its engines), then those engines
    # should any be left
    curl -s --max-time 2 "http://127.0.0.1:$ap/v1/pods" | jq -r '.items[].pid // empty' >"$BS_RES/$mix.pids" || true
    kill -TERM "$up" 2>/dev/null || true
    bx_reap "$up" 10
    while read -r p; do
        [ -n "$p" ] && grep -qa engine "/proc/$p/cmdline" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    done <"$BS_RES/$mix.pids"
    return 0
}

# measure MIX CONFIG STRATEGY: run CONFIG's engines behind a gateway, replay the trace
measure() {
    local mix=$1 cfg=$2 strat=$3 t n i p cost=0 reps="" flags=() src=$2 uns
    local name=$1.$2
    local urls=() pids=()
    [ "$cfg" = random ] && src=optimizer
    uns=$(awk -v c="$src" '$1 == c && $2 == "_unserved" { print $3 / '"$SCALE"' }' "$BS_RES/$mix.sizes")
    for t in "${TYPES[@]}"; do
        n=$(awk -v c="$src" -v t="$t" '$1 == c && $2 == t { print $3 }' "$BS_RES/$mix.sizes")
        n=${n:-0}
        reps="$reps,$n"
        cost=$(python3 -c "print(round($cost + $n * ${PRICE[$t]}, 3))")
        [ "$BS_QUICK" = 1 ] && [ "$cfg" != optimizer ] && continue # not run: below
        for ((i = 0; i < n; i++)); do
            p=$(bx_free_port)
            bx_start_engine "$BS_RES/$name.$t-$i.engine.log" "$p" --log-level warn --seed "$i" \
                --model llm --profile "llama3-8b-$t" --time-scale "$SCALE"
            pids+=("$BX_LAST")
            urls+=("http://127.0.0.1:$p")
            flags+=(--backend "llm-$t=http://127.0.0.1:$p")
        done
    done
    if [ "$BS_QUICK" = 1 ] && [ "$cfg" != optimizer ]; then
        # --quick sizes the other configurations but runs only the optimizer's (CI's minute)
        bs_csv "$BS_RES/runs.csv" "$mix" "$cfg" "$cost" nan 0 0 "${uns:-0}" "${reps#,}"
        return 0
    fi
    if [ ${#pids[@]} = 0 ]; then
        if [ "${uns:-0}" = 0 ]; then
            echo "hetero: INVARIANT $mix/$cfg: the optimizer gave no replicas" >&2
            BS_FAIL=1
        fi # else this type serves none of the mix within the SLO: nothing to run
        bs_csv "$BS_RES/runs.csv" "$mix" "$cfg" "$cost" 0 0 0 "${uns:-0}" "${reps#,}"
        return 0
    fi
    for ((i = 0; i < ${#pids[@]}; i++)); do bx_wait_http "${urls[$i]}/health" 20 "${pids[$i]}"; done
    [ "$strat" = slo ] && flags+=(--gpu-optimizer "$FAKEOPT" --gpu-optimizer-interval-ms 500)
    cp "$BS_RES/$mix.assignment.json" "$BS_RES/assign/llm.json"
    bs_gateway "$name" --strategy "$strat" --scrape-interval-ms 250 "${flags[@]}"
    [ "$strat" = slo ] && sleep 0.6 # the first assignment poll
    bs_bench "$name" "$BS_GW" --model llm --trace "$BS_RES/$mix.trace.jsonl" || true
    read -r nreq nok nmet < <(python3 "$H" slo "$BS_RES/$name.jsonl" "$SCALE" "$TTFT" "$TPOT")
    bs_csv "$BS_RES/runs.csv" "$mix" "$cfg" "$cost" \
        "$(python3 -c "print('%.4f' % ($nmet / max($nreq, 1)))")" "$nreq" "$nok" "${uns:-0}" "${reps#,}"
    # nothing of these is reused: no drain
    kill -KILL "$BS_GWPID" "${pids[@]}" 2>/dev/null || true
    bx_reap "$BS_GWPID" 1
    for p in "${pids[@]}"; do bx_reap "$p" 1; done
}

mkdir -p "$BS_RES/assign"
bx_spawn "$BS_RES/fakeopt.log" python3 "$BS_ROOT/tests/e2e/fake_gpu_optimizer.py" --dir "$BS_RES/assign" \
    --port-file "$BS_RES/fakeopt.port"
for ((i = 0; i < 50; i++)); do [ -s "$BS_RES/fakeopt.port" ] && break; sleep 0.1; done
FAKEOPT="http://127.0.0.1:$(cat "$BS_RES/fakeopt.port")"

HDR="mix,config,cost_per_hour,slo_attainment,requests,answered,unserved_rps,$(IFS=,; echo "${TYPES[*]}")"
echo "$HDR" >"$BS_RES/runs.csv"
: >"$BS_RES/sizes.txt"
declare -A LOADS # "chats docs" -> the name of the load sized and measured at those rates
# run_load NAME CHATS DOCS: size and measure a steady load of CHATS chats/s and DOCS
# documents/s (simulated); its rows in runs.csv under NAME. The same rates again reuse the
# runs made under the first name (the traces would be the same: same seeds).
run_load() {
    local name=$1 c=$2 d=$3 prev cfg t
    prev=${LOADS["$c $d"]:-}
    if [ -n "$prev" ]; then
        echo "hetero: $name: the same load as $prev: its runs" >&2
        awk -F, -v p="$prev" -v n="$name" 'BEGIN { OFS = "," } $1 == p { $1 = n; print }' \
            "$BS_RES/runs.csv" >"$BS_RES/$name.rows"
        cat "$BS_RES/$name.rows" >>"$BS_RES/runs.csv"
        cp "$BS_RES/$prev.sizes" "$BS_RES/$name.sizes"
        local why
        why=$(grep "^$prev " "$BS_RES/sizes.txt" | sed "s/^$prev /$name /")
        echo "$why" >>"$BS_RES/sizes.txt"
        return 0
    fi
    python3 "$H" trace mixed "$c" "$d" $((WINDOWS * 10 + 30)) "$SCALE" 1 "$BS_RES/$name.size-trace.jsonl" >/dev/null
    python3 "$H" trace mixed "$c" "$d" "$MEASURE" "$SCALE" 2 "$BS_RES/$name.trace.jsonl" >/dev/null
    echo "hetero: $name ($c chats/s, $d documents/s): sizing with the optimizer" >&2
    size "$name"
    measure "$name" optimizer slo
    measure "$name" random random
    for t in "${TYPES[@]}"; do measure "$name" "only-$t" least-request; done
    LOADS["$c $d"]=$name
    echo "hetero: $name: done ($SECONDS s)" >&2
}

specs=()
for mix in "${MIXES[@]}"; do
    case $mix in
    short) run_load short "$SHORT" 0; specs+=(short) ;;
    long) run_load long 0 "$LONG"; specs+=(long) ;;
    mixed) run_load mixed "$SHORT" "$LONG"; specs+=(mixed) ;;
    shifting)
        ph=()
        for ((k = 0; k < PHASES; k++)); do
            read -r c d < <(python3 -c "x = $k / ($PHASES - 1); print('%g %g' % (round($SHORT * (1 - x), 3), round($LONG * x, 3)))")
            run_load "shift-$((k + 1))" "$c" "$d"
            ph+=("shift-$((k + 1))")
        done
        specs+=("shifting=$(IFS=+; echo "${ph[*]}")")
        ;;
    *) echo "hetero: unknown mix $mix" >&2; exit 2 ;;
    esac
done
python3 "$H" summary "$BS_RES/runs.csv" "$BS_RES/summary.csv" "${specs[@]}"

python3 "$H" verdict "$BS_RES/summary.csv" "$MIN_ATT" mixed shifting | tee "$BS_RES/verdict.txt" || BS_FAIL=1
python3 "$H" plotdata "$BS_RES/summary.csv" "$BS_RES/cost.dat" "$BS_RES/cost.gp"
bs_plot "$BS_RES/cost.png" "
load '$BS_RES/cost.gp'
set title 'optimizer mix vs each GPU type alone vs random routing (bars: \$/h, the shift time-weighted)'
set style fill solid 0.8 border -1
set boxwidth 0.9
set ylabel '\$ per hour'
set y2label 'SLO attainment (%)'
set yrange [0:*]
set y2range [0:105]
set ytics nomirror
set y2tics
plot '$BS_RES/cost.dat' using 1:2:4 with boxes lc variable notitle, \\
     for [k=1:nkeys] keyentry with boxes fill solid 0.8 lc k title word(keys, k), \\
     '$BS_RES/cost.dat' using 1:(\$5 > 0 ? \$2 : NaN) with boxes fill pattern 4 lc rgb 'black' title 'leaves load unserved', \\
     '$BS_RES/cost.dat' using 1:3 axes x1y2 with points pt 7 ps 1.3 lc rgb 'black' title 'SLO attainment'"
bs_table "$BS_RES/summary.csv"
bs_publish "$BS_RES/summary.csv" "$BS_RES/runs.csv" "$BS_RES/cost.png" "$BS_RES/settings.txt" "$BS_RES/sizes.txt"
bs_finish
