#!/usr/bin/env bash
# HPA, KPA and APA side by side on a bursty trace and on flat noisy load (seed claim:
# second-level autoscaling).
#
#   bash bench/scenarios/autoscaling.sh [path/to/brix] [--quick] [--out DIR] [--publish]
#
# The stack and workload of bench/autoscale.sh (whose helpers autoscale_trace.py,
# autoscale_sample.py and autoscale_report.py are used as they are), with shorter phases so that
# a full run fits in about 2 minutes: the three strategies run at the same time, each on its own
# `brix up` (own ports and --state dir) with one Deployment (replicas 1; `brix engine
# --max-num-seqs 8 --time-scale 0.25`, one engine serves ~4.5 requests/s of 128 in / 64 out)
# and one PodAutoscaler on num_requests_running, target 4 per pod, min 1, max 6.
#   bursty: Poisson 1.5/s, then 8/s, then 1.5/s;  flat: Poisson 4.5/s (~2.2 pods at target)
# The same seeded traces are replayed with `brix bench run --trace` for every strategy; Ready
# pods and desiredScale are sampled every 0.25 s from the admin API.
# Prints and writes (results/autoscaling/<stamp>/): table.md and summary.csv of
# autoscale_report.py (step -> first desired increase / first new Ready pod, SLO attainment
# = ok and TTFT <= 1000 ms, replica-seconds, direction changes), replicas_<phase>.png (Ready
# pods and desiredScale over time per strategy) and the per-request JSONL. Times are wall clock.
# --quick: short phases and windows; checks invariants only. --publish copies to docs/results/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bs_init autoscaling "$@"
AS="$BS_ROOT/bench"

STRATS="HPA KPA APA"
PROMPT=128 OUTPUT=64 LOW=1.5 HIGH=8 FLAT=4.5 TARGET=4 MAXR=6 SAMPLE_S=0.25 SLO_MS=1000
if [ "$BS_QUICK" = 1 ]; then
    LOW_S=3 HIGH_S=6 TAIL_S=3 FLAT_S=5 OBSERVE=6 PANIC=2 COOLDOWN=3s
else
    LOW_S=10 HIGH_S=30 TAIL_S=15 FLAT_S=40 OBSERVE=30 PANIC=3 COOLDOWN=20s
fi
BURSTY_S=$((LOW_S + HIGH_S + TAIL_S))
{
    echo "engine: llama3-8b-h100 --max-num-seqs 8 --time-scale 0.25 (4x slower than the profile's GPU)"
    echo "load: bursty ${LOW}/s ${LOW_S}s -> ${HIGH}/s ${HIGH_S}s -> ${LOW}/s ${TAIL_S}s; flat ${FLAT}/s ${FLAT_S}s; ${PROMPT} in / ${OUTPUT} out"
    echo "autoscaler: num_requests_running target $TARGET, min 1, max $MAXR, observe ${OBSERVE}s, panic ${PANIC}s, scale-down cooldown $COOLDOWN; SLO TTFT <= ${SLO_MS} ms"
} >"$BS_RES/settings.txt"
cat "$BS_RES/settings.txt" >&2

. "$(dirname "$0")/../autoscale_stack.sh"
DRAIN_GRACE=2

# One strategy's phases, in a subshell with its own trap: `brix up`, sampler, bench.
run_strategy() { # STRATEGY
    # Plain (not local) variables: the EXIT trap runs after this function has returned; the
    # subshell keeps them to itself.
    s=$1 up='' smp='' pidfile=''
    stop_mine() {
        bx_stop "$smp" 3
        autoscale_stop_stack "$up" "$pidfile" 10
        up='' smp='' pidfile=''
        return 0
    }
    trap stop_mine EXIT
    trap 'exit 130' TERM INT
    local ph trace dur step base gp ap admin t0 t1 rc
    for ph in bursty flat; do
        if [ "$ph" = bursty ]; then dur=$BURSTY_S step=$LOW_S; else dur=$FLAT_S step=''; fi
        trace="$BS_RES/$ph.trace.jsonl"
        base="$BS_RES/$s-$ph"
        gp=$(bx_free_port) ap=$(bx_free_port)
        admin="http://127.0.0.1:$ap"
        pidfile="$base.pids"
        : >"$pidfile"
        rc=0
        autoscale_start_stack "$s" "$base" "$gp" "$ap" "$s $ph" || rc=1
        up=$AS_UP_PID # stopped by the trap whatever happened
        [ "$rc" = 0 ] || return 1
        python3 "$AS/autoscale_sample.py" "$admin" llm llm-pa "$SAMPLE_S" "$base.csv" "$pidfile" &
        smp=$!
        sleep 1 # a few idle samples and autoscaler ticks before the load
        echo "autoscaling: $s $ph, ${dur}s of load ..." >&2
        t0=$(python3 -c 'import time; print("%.3f" % time.time())')
        "$BRIX" bench run --url "http://127.0.0.1:$gp" --model llm --endpoint chat --trace "$trace" \
            --timeout 120 --no-progress --output "$base.jsonl" --summary-json "$base.summary.json" \
            >"$base.bench.txt" 2>&1 || { echo "$s $ph: brix bench run failed: $(tail -n 5 "$base.bench.txt")" >&2; return 1; }
        t1=$(python3 -c 'import time; print("%.3f" % time.time())')
        sleep 0.5
        if [ -n "$step" ]; then
            printf '{"t0": %s, "dur": %s, "step": %s, "end": %s}\n' "$t0" "$dur" "$step" "$t1" >"$base.meta"
        else
            printf '{"t0": %s, "dur": %s, "end": %s}\n' "$t0" "$dur" "$t1" >"$base.meta"
        fi
        BRIX_SERVER=$admin "$BRIX" describe pa llm-pa >"$base.describe.txt" 2>&1 || true
        stop_mine
        pidfile=''
        rm -rf "$base.state"
    done
}

python3 "$AS/autoscale_trace.py" "$LOW:$LOW_S,$HIGH:$HIGH_S,$LOW:$TAIL_S" 1 "$PROMPT" "$OUTPUT" \
    "$BS_RES/bursty.trace.jsonl" >/dev/null
python3 "$AS/autoscale_trace.py" "$FLAT:$FLAT_S" 2 "$PROMPT" "$OUTPUT" "$BS_RES/flat.trace.jsonl" >/dev/null
NB=$(wc -l <"$BS_RES/bursty.trace.jsonl")
NF=$(wc -l <"$BS_RES/flat.trace.jsonl")

spids=()
for s in $STRATS; do
    run_strategy "$s" &
    spids+=($!)
    BX_PIDS+=($!)
done
for p in "${spids[@]}"; do wait "$p" || BS_FAIL=1; done
BX_PIDS=()

for s in $STRATS; do
    for ph in bursty flat; do
        n=$NB
        [ "$ph" = flat ] && n=$NF
        if [ -s "$BS_RES/$s-$ph.jsonl" ]; then bs_check "$s-$ph" "$n"; else BS_FAIL=1; fi
    done
done

echo
# shellcheck disable=SC2086 # one argument per strategy
python3 "$AS/autoscale_report.py" "$BS_RES" "$SLO_MS" $STRATS | tee "$BS_RES/table.md"

for ph in bursty flat; do
    plots='' c=0
    for s in $STRATS; do
        c=$((c + 1))
        [ -s "$BS_RES/$s-$ph.csv" ] || continue
        python3 - "$BS_RES/$s-$ph.csv" "$BS_RES/$s-$ph.meta" "$BS_RES/$s-$ph.rep.dat" <<'PY'
import csv, json, sys
t0 = json.load(open(sys.argv[2]))["t0"]
with open(sys.argv[3], "w") as f:
    for r in csv.DictReader(open(sys.argv[1])):
        d = r.get("desired") or "nan"
        f.write("%.2f %s %s\n" % (float(r["t_wall"]) - t0, r["ready"], d))
PY
        plots="$plots${plots:+, }'$BS_RES/$s-$ph.rep.dat' using 1:2 with steps lw 2 lc $c title '$s ready', '$BS_RES/$s-$ph.rep.dat' using 1:3 with steps dt 2 lc $c title '$s desired'"
    done
    if [ "$ph" = bursty ]; then
        marks="set arrow from $LOW_S, graph 0 to $LOW_S, graph 1 nohead dt 3
set arrow from $((LOW_S + HIGH_S)), graph 0 to $((LOW_S + HIGH_S)), graph 1 nohead dt 3
set label 'burst ${HIGH}/s' at $((LOW_S + 1)), $((MAXR + 0)).5"
        title="bursty load (${LOW}/s -> ${HIGH}/s -> ${LOW}/s)"
    else
        marks=''
        title="flat Poisson load ${FLAT}/s"
    fi
    [ -n "$plots" ] || { BS_FAIL=1; continue; }
    bs_plot "$BS_RES/replicas_$ph.png" "
set title 'replicas over time, $title'
set xlabel 'seconds since the load started'
set ylabel 'pods'
set yrange [0:$((MAXR + 1))]
$marks
plot $plots"
done
bs_publish "$BS_RES/summary.csv" "$BS_RES/table.md" "$BS_RES"/replicas_*.png "$BS_RES/settings.txt"
bs_finish
