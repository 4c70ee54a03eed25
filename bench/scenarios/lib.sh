# shellcheck shell=bash
# bench/scenarios/lib.sh: shared plumbing of the benchmark scenarios (sourced, not run).
#
# Owns: argument parsing common to every scenario ([BRIX] [--quick] [--out DIR] [--publish]),
# the results folder (bench/scenarios/results/<scenario>/<timestamp>[-quick]/, plus a `latest`
# link), the engines and gateway of a scenario (started at --log-level warn, logs in the results
# folder), seeded `brix bench run` calls that keep their JSONL and summary, CSV rows and
# terminal tables, gnuplot plots and invariant checks. Processes, ports and readiness come from
# scripts/lib.sh (bx_*): every process goes through bx_spawn, and the trap bs_init installs
# stops only those (by pid).
# Memory/ownership: everything lives in shell variables prefixed BS_ (and the functions bs_*);
# files written belong to the results folder of the run.
#
# A scenario does:
#   . "$(dirname "$0")/lib.sh"
#   bs_init routing "$@"          # sets BRIX, BS_QUICK, BS_RES, BS_PY; installs the trap
#   ... bs_engine / bs_gateway / bs_bench / bs_check / bs_csv / bs_plot_* / bx_* ...
#   bs_finish                     # table done; exits 1 if an invariant was violated

BS_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BS_ROOT=$(cd "$BS_HERE/../.." && pwd)
# shellcheck source=../../scripts/lib.sh
source "$BS_ROOT/scripts/lib.sh"
BS_PY="$BS_HERE/scen.py"
BS_FAIL=0
BS_QUICK=0
BS_PUBLISH=0

bs_usage() { # print the scenario's header comment (lines 2.. up to the first blank line)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

# bs_init NAME ARGS...: parse the common flags, make the results folder, install the trap.
bs_init() {
    BS_NAME=$1
    BX_NAME=$1
    shift
    local out='' a
    BRIX=''
    while [ $# -gt 0 ]; do
        a=$1
        case $a in
        --quick) BS_QUICK=1 ;;
        --publish) BS_PUBLISH=1 ;;
        --out) out=$2; shift ;;
        --out=*) out=${a#--out=} ;;
        -h | --help) bs_usage; exit 0 ;;
        -*) echo "$BS_NAME: unknown flag $a" >&2; exit 2 ;;
        *) [ -z "$BRIX" ] || { echo "$BS_NAME: one brix path only" >&2; exit 2; }; BRIX=$a ;;
        esac
        shift
    done
    bx_brix "${BRIX:-$BS_ROOT/build/brix}"
    bx_need curl python3 gnuplot
    local stamp
    stamp=$(date +%Y%m%d-%H%M%S)
    [ "$BS_QUICK" = 1 ] && stamp="$stamp-quick"
    if [ -n "$out" ]; then
        BS_RES=$out
    else
        BS_RES="$BS_HERE/results/$BS_NAME/$stamp"
    fi
    mkdir -p "$BS_RES"
    BS_RES=$(cd "$BS_RES" && pwd)
    if [ -z "$out" ]; then ln -sfn "$stamp" "$BS_HERE/results/$BS_NAME/latest"; fi
    trap bx_cleanup EXIT
    trap 'exit 130' INT TERM
    echo "$BS_NAME: results in $BS_RES" >&2
}

# bs_engine NAME PORT ARGS...: start `brix engine` on PORT (log NAME.engine.log), wait for /health.
bs_engine() {
    local name=$1 port=$2
    shift 2
    bx_start_engine "$BS_RES/$name.engine.log" "$port" --log-level warn "$@"
    bx_wait_http "http://127.0.0.1:$port/health" 20 "$BX_LAST"
}

# bs_engines N NAME ARGS...: start N engines; their URLs in BS_URLS, pids in BS_EPIDS,
# gateway flags in BS_BACKENDS. Starts all, then waits for all.
bs_engines() {
    local n=$1 name=$2 i p
    shift 2
    BS_URLS=() BS_EPIDS=() BS_BACKENDS=()
    for ((i = 0; i < n; i++)); do
        p=$(bx_free_port)
        bx_start_engine "$BS_RES/$name-$i.engine.log" "$p" --log-level warn --seed "$i" "$@"
        BS_EPIDS+=("$BX_LAST")
        BS_URLS+=("http://127.0.0.1:$p")
        BS_BACKENDS+=(--backend "http://127.0.0.1:$p")
    done
    for ((i = 0; i < n; i++)); do
        bx_wait_http "${BS_URLS[$i]}/health" 20 "${BS_EPIDS[$i]}" || return 1
    done
}

# bs_stop_engines: stop the engines of the last bs_engines.
bs_stop_engines() {
    local p
    for p in "${BS_EPIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${BS_EPIDS[@]}"; do bx_stop "$p" 3; done
    BS_EPIDS=()
}

# bs_gateway NAME ARGS...: start `brix gateway` on a free port (URL in BS_GW, pid BS_GWPID),
# wait for /readyz and one scrape interval.
bs_gateway() {
    local name=$1
    shift
    local p
    p=$(bx_free_port)
    bx_start_gateway "$BS_RES/$name.gateway.log" "$p" --log-level warn "$@"
    BS_GWPID=$BX_LAST
    BS_GW="http://127.0.0.1:$p"
    bx_wait_http "$BS_GW/readyz" 20 "$BS_GWPID" || return 1
    sleep 0.6 # the first /metrics scrape of every engine (--scrape-interval-ms 250 below)
}

# bs_redis: start a throwaway redis-server (no persistence); its address in BS_REDIS.
bs_redis() {
    bx_start_redis "$BS_RES/redis.log" || return 1
    # shellcheck disable=SC2034 # read by the scenario that sourced this file
    BS_REDIS="127.0.0.1:$BX_REDIS_PORT"
}

# bs_bench NAME URL ARGS...: seeded `brix bench run` (seed 1 unless ARGS give one) writing
# NAME.jsonl, NAME.summary.json and NAME.bench.txt in the results folder.
bs_bench() {
    local name=$1 url=$2
    shift 2
    local seed=(--seed 1) a
    for a in "$@"; do [ "$a" = --seed ] && seed=(); done
    "$BRIX" bench run --url "$url" --no-progress --timeout 120 "${seed[@]}" "$@" \
        --output "$BS_RES/$name.jsonl" --summary-json "$BS_RES/$name.summary.json" \
        >"$BS_RES/$name.bench.txt" 2>&1 || {
        echo "$BS_NAME: brix bench run ($name) failed:" >&2
        tail -n 5 "$BS_RES/$name.bench.txt" >&2
        BS_FAIL=1
        return 1
    }
}

# bs_check NAME N: invariants of NAME.jsonl: N requests, all ok, no error, non-empty answers.
bs_check() {
    python3 "$BS_PY" check "$BS_RES/$1.jsonl" "$2" || BS_FAIL=1
}

# bs_metrics NAME URL...: save each engine's /metrics as NAME.metrics.<i>.txt.
bs_metrics() {
    local name=$1 i=0 u
    shift
    for u in "$@"; do
        curl -s --max-time 5 "$u/metrics" >"$BS_RES/$name.metrics.$i.txt" || true
        i=$((i + 1))
    done
}

# bs_csv FILE FIELD...: append one CSV row (fields must not contain commas).
bs_csv() {
    local f=$1
    shift
    (IFS=,; echo "$*") >>"$f"
}

# bs_table CSV: print a CSV as an aligned terminal table.
bs_table() {
    python3 "$BS_PY" table "$1"
}

# bs_plot OUT.png GNUPLOT-BODY: render with gnuplot (pngcairo if present, else png).
bs_plot() {
    local out=$1 body=$2 term=pngcairo
    gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo || term=png
    gnuplot <<GP >"$BS_RES/gnuplot.log" 2>&1 || { echo "$BS_NAME: gnuplot failed for $out" >&2; cat "$BS_RES/gnuplot.log" >&2; BS_FAIL=1; return 1; }
set terminal $term size 900,540 font ",10"
set output "$out"
set grid
set key outside right top
$body
GP
    bs_expect_png "$out"
}

# bs_expect_png FILE: an invariant: FILE is a non-empty PNG.
bs_expect_png() {
    if [ ! -s "$1" ] || [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" != '211PNG' ]; then
        echo "$BS_NAME: INVARIANT plot $1 was not produced" >&2
        BS_FAIL=1
    fi
}

# bs_publish FILE...: with --publish, copy results into docs/results/ as <scenario>-<file>.
bs_publish() {
    [ "$BS_PUBLISH" = 1 ] || return 0
    if [ "$BS_FAIL" != 0 ]; then
        echo "$BS_NAME: an invariant was violated; nothing published" >&2
        return 0
    fi
    mkdir -p "$BS_ROOT/docs/results"
    local f
    for f in "$@"; do cp "$f" "$BS_ROOT/docs/results/$BS_NAME-$(basename "$f")"; done
}

# bs_finish: report the verdict of the invariants; exits non-zero on a violation.
bs_finish() {
    if [ "$BS_FAIL" != 0 ]; then
        echo "$BS_NAME: FAILED (an invariant was violated; see above and $BS_RES)" >&2
        exit 1
    fi
    echo "$BS_NAME: ok (results in $BS_RES)" >&2
}
