#!/usr/bin/env bash
# HPA, KPA and APA side by side on one bursty trace and on flat noisy load,
# with `brix up` running simulated engines (time-scaled so one engine
# saturates at about 4.5 requests/s on a small machine).
#
#   bash bench/autoscale.sh [path/to/brix] [--quick] [--out DIR]
#                           [--strategies "HPA KPA APA"] [--slo-ms 1000]
#
# For each strategy, two phases, each on a fresh `brix up` (own ports and
# --state dir) with one Deployment (replicas 1; `brix engine --max-num-seqs 8
# --time-scale 0.25`, so a 128-in/64-out chat request takes ~1.75 s and one
# engine serves ~4.5 requests/s) and one PodAutoscaler of that strategy on
# num_requests_running, target 4 per pod, min 1, max 6, observe window 30 s,
# panic window 3 s (Knative's 10 % of the stable window), scale-down cooldown 20 s:
#   bursty: Poisson arrivals at 1.5/s for 15 s, 8/s for 35 s, 1.5/s for 20 s
#   flat:   Poisson arrivals at 4.5/s for 60 s (about 2.2 pods at target)
# The same seeded trace is replayed with `brix bench run --trace` for every
# strategy. Ready pods and desiredScale are sampled every 0.25 s from the
# admin API (bench/autoscale_sample.py); bench/autoscale_report.py prints the
# table: step -> first desired increase, SLO attainment (ok and TTFT <= SLO),
# replica-seconds, direction changes of desiredScale. --quick shortens every
# phase and window (smoke check, ~2.5 min). A full run takes about 7.5 minutes.
# --observe S / --panic S / --cooldown D override the autoscaler's windows.
#
# Results (per strategy and phase: bench JSONL and summary, sampler CSV,
# meta, `brix describe pa`, the stack and brix up's log; summary.csv and
# table.md) go to --out, default ${TMPDIR:-/tmp}/brix-autoscale-<timestamp>
# (bench/results is not gitignored, so nothing is written in the tree).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../scripts/lib.sh
source "$HERE/../scripts/lib.sh"
BRIX=
QUICK=0
OUT=
STRATS="HPA KPA APA"
SLO_MS=1000
OBSERVE_SET='' PANIC_SET='' COOLDOWN_SET=''
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1 ;;
    --out) OUT=$2; shift ;;
    --out=*) OUT=${1#--out=} ;;
    --strategies) STRATS=$2; shift ;;
    --strategies=*) STRATS=${1#--strategies=} ;;
    --slo-ms) SLO_MS=$2; shift ;;
    --slo-ms=*) SLO_MS=${1#--slo-ms=} ;;
    --observe) OBSERVE_SET=$2; shift ;;
    --panic) PANIC_SET=$2; shift ;;
    --cooldown) COOLDOWN_SET=$2; shift ;;
    -h | --help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown flag $1" >&2; exit 2 ;;
    *) [ -z "$BRIX" ] || { echo "one brix path only" >&2; exit 2; }; BRIX=$1 ;;
    esac
    shift
done
bx_brix "${BRIX:-build/brix}"
bx_need curl python3
for s in $STRATS; do
    case $s in HPA | KPA | APA) ;; *) echo "unknown strategy $s" >&2; exit 2 ;; esac
done

# Workload and autoscaler settings.
PROMPT=128
OUTPUT=64
LOW=1.5
HIGH=8
FLAT=4.5
TARGET=4
MAXR=6
SAMPLE_S=0.25
if [ "$QUICK" = 1 ]; then
    LOW_S=5 HIGH_S=12 TAIL_S=8 FLAT_S=15
    OBSERVE=10 PANIC=3 COOLDOWN=5s
else
    LOW_S=15 HIGH_S=35 TAIL_S=20 FLAT_S=60
    OBSERVE=30 PANIC=3 COOLDOWN=20s
fi
OBSERVE=${OBSERVE_SET:-$OBSERVE}
PANIC=${PANIC_SET:-$PANIC}
COOLDOWN=${COOLDOWN_SET:-$COOLDOWN}
BURSTY_S=$((LOW_S + HIGH_S + TAIL_S))

OUT=${OUT:-${TMPDIR:-/tmp}/brix-autoscale-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
echo "results: $OUT" >&2

# Every process this script starts, for the trap.
UP_PID='' SAMPLER_PID='' BENCH_PID='' PIDFILE=''
stop_all() {
    bx_stop "$BENCH_PID" 3
    bx_stop "$SAMPLER_PID" 3
    autoscale_stop_stack "$UP_PID" "$PIDFILE" 20
    BENCH_PID='' SAMPLER_PID='' UP_PID='' PIDFILE=''
}
trap stop_all EXIT
trap 'exit 130' INT TERM

now() { python3 -c 'import time; print("%.3f" % time.time())'; }

. "$(dirname "$0")/autoscale_stack.sh"
DRAIN_GRACE=10

run_phase() { # run_phase STRATEGY PHASE TRACE PLANNED_SECONDS [STEP_SECONDS]
    local s=$1 ph=$2 trace=$3 dur=$4 step=${5:-} base="$OUT/$1-$2"
    local gp ap admin t0 t1
    gp=$(bx_free_port)
    ap=$(bx_free_port)
    admin="http://127.0.0.1:$ap"
    PIDFILE="$base.pids"
    : >"$PIDFILE"
    local rc=0
    autoscale_start_stack "$s" "$base" "$gp" "$ap" "$s $ph" || rc=1
    UP_PID=$AS_UP_PID # stopped by the EXIT trap whatever happened
    [ "$rc" = 0 ] || exit 1
    python3 "$HERE/autoscale_sample.py" "$admin" llm llm-pa "$SAMPLE_S" "$base.csv" "$PIDFILE" &
    SAMPLER_PID=$!
    sleep 2 # a few idle samples and autoscaler ticks before the load
    echo "$s $ph: ${dur}s of load ..." >&2
    t0=$(now)
    "$BRIX" bench run --url "http://127.0.0.1:$gp" --model llm --endpoint chat --trace "$trace" \
        --timeout 120 --no-progress --output "$base.jsonl" --summary-json "$base.summary.json" \
        >"$base.bench.txt" 2>&1 &
    BENCH_PID=$!
    wait "$BENCH_PID" || { echo "$s $ph: brix bench run failed: $(tail -n 5 "$base.bench.txt")" >&2; exit 1; }
    BENCH_PID=''
    t1=$(now)
    sleep 0.5
    if [ -n "$step" ]; then
        printf '{"t0": %s, "dur": %s, "step": %s, "end": %s}\n' "$t0" "$dur" "$step" "$t1" >"$base.meta"
    else
        printf '{"t0": %s, "dur": %s, "end": %s}\n' "$t0" "$dur" "$t1" >"$base.meta"
    fi
    BRIX_SERVER=$admin "$BRIX" describe pa llm-pa >"$base.describe.txt" 2>&1 || true
    BRIX_SERVER=$admin "$BRIX" get events >"$base.events.txt" 2>&1 || true
    stop_all
    rm -rf "$base.state/brix.db-wal" "$base.state/brix.db-shm" 2>/dev/null || true
}

python3 "$HERE/autoscale_trace.py" "$LOW:$LOW_S,$HIGH:$HIGH_S,$LOW:$TAIL_S" 1 "$PROMPT" "$OUTPUT" \
    "$OUT/bursty.trace.jsonl" >/dev/null
python3 "$HERE/autoscale_trace.py" "$FLAT:$FLAT_S" 2 "$PROMPT" "$OUTPUT" "$OUT/flat.trace.jsonl" >/dev/null

for s in $STRATS; do
    run_phase "$s" bursty "$OUT/bursty.trace.jsonl" "$BURSTY_S" "$LOW_S"
    run_phase "$s" flat "$OUT/flat.trace.jsonl" "$FLAT_S"
done

{
    echo "load: bursty ${LOW}/s ${LOW_S}s -> ${HIGH}/s ${HIGH_S}s -> ${LOW}/s ${TAIL_S}s;" \
        "flat ${FLAT}/s ${FLAT_S}s (Poisson); ${PROMPT} in / ${OUTPUT} out tokens"
    echo "autoscaler: num_requests_running target $TARGET, min 1, max $MAXR, observe ${OBSERVE}s," \
        "panic ${PANIC}s, scale-down cooldown $COOLDOWN; engines: --max-num-seqs 8 --time-scale 0.25"
    echo
    # shellcheck disable=SC2086 # one argument per strategy
    python3 "$HERE/autoscale_report.py" "$OUT" "$SLO_MS" $STRATS
} | tee "$OUT/table.md"
echo "results: $OUT" >&2
