# shellcheck shell=bash
# Helpers of the end-to-end tests (sourced, not run), over the ones every script shares
# (scripts/lib.sh: processes, ports, readiness). A test calls `e2e_init "$@"` first: it takes
# the brix binary from $1, makes a scratch directory ($E2E_TMP) and installs a trap that stops
# every process the test started and fails the test if a sanitizer reported an error in their
# logs.
#
#   port=$(free_port)                  a TCP port nobody listens on
#   start_engine NAME ARGS...          brix engine --host 127.0.0.1 --port P ARGS
#                                      sets ENGINE_PORT, ENGINE_PID; log $E2E_TMP/NAME.log
#   wait_health PORT [SECS]            until GET /health says 200
#   wait_ready URL [PID]               until URL says 200 (a gateway's /readyz), 20 s
#   start_redis [PORT]                 a throwaway redis-server (PORT again: a restart)
#                                      sets REDIS_PORT, REDIS_PID
#   stop_pid PID                       SIGTERM, SIGKILL after 5 s
#   req METHOD PATH [JSON]             curl to $BASE; prints the status, leaves the
#                                      body in $E2E_TMP/body and headers in $E2E_TMP/headers
#   check FILE JQ MSG                  jq -e FILTER FILE or fail
#   expect_status GOT WANT MSG
#   metric PORT NAME [LABEL=VALUE...]  value of a sample in GET /metrics
#   fail MSG                           print MSG and the engines' log tails, exit 1
#   wait_for SECS MSG CMD...           CMD until it succeeds (every 0.2 s), else fail MSG
#   up_start LOG STATE [ARGS...]       brix up --state STATE on 127.0.0.1, gateway port $GP,
#                                      admin port $AP, ARGS; sets UP_PID; returns once the
#                                      admin API ($BRIX_SERVER) answers
# A process a test starts by hand goes into E2E_PIDS (scripts/lib.sh's BX_PIDS under the
# tests' name) to be stopped at the end, its log into E2E_LOGS to be shown and checked.

set -uo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_NAME=$(basename "${0%.sh}")
BX_NAME=$E2E_NAME
# shellcheck source=../../scripts/lib.sh
source "$E2E_DIR/../../scripts/lib.sh"
declare -gn E2E_PIDS=BX_PIDS
E2E_LOGS=()

e2e_init() {
    if [ -z "${1:-}" ] || [ ! -x "$1" ]; then
        echo "usage: bash $0 /path/to/brix (got '${1:-}')" >&2
        exit 2
    fi
    bx_brix "$1"
    bx_need curl jq
    E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/brix-$E2E_NAME.XXXXXX")
    trap e2e_cleanup EXIT
    trap 'exit 130' INT TERM
}

log() { echo "[$E2E_NAME] $*"; }

show_logs() {
    local f
    for f in "${E2E_LOGS[@]}"; do
        echo "---- last lines of $f" >&2
        tail -n 25 "$f" >&2
    done
}

fail() {
    echo "FAIL [$E2E_NAME]: $*" >&2
    if [ -f "$E2E_TMP/body" ]; then
        echo "---- last response body:" >&2
        head -c 2000 "$E2E_TMP/body" >&2
        echo >&2
    fi
    show_logs
    exit 1
}

stop_pid() { bx_stop "$1" 5; }

e2e_cleanup() {
    local rc=$? f
    trap - EXIT
    bx_stop_all
    # A sanitizer report in any engine log fails the test even if every
    # assertion held (the ASan build runs these same scripts).
    for f in "${E2E_LOGS[@]}"; do
        if grep -qE 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:' "$f" 2>/dev/null; then
            echo "FAIL [$E2E_NAME]: sanitizer report in $f" >&2
            grep -E -A 30 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:' "$f" | head -n 60 >&2
            rc=1
        fi
    done
    if [ "$rc" -eq 0 ]; then
        rm -rf "$E2E_TMP"
        echo "PASS [$E2E_NAME]"
    else
        echo "[$E2E_NAME] logs kept in $E2E_TMP" >&2
    fi
    exit "$rc"
}

free_port() { bx_free_port; }

# start_engine NAME ARGS... : starts `brix engine` on a free port of 127.0.0.1.
start_engine() {
    local name=$1
    shift
    ENGINE_PORT=$(free_port) || fail "no free port"
    local logf="$E2E_TMP/$name.log"
    bx_start_engine "$logf" "$ENGINE_PORT" "$@"
    ENGINE_PID=$BX_LAST
    E2E_LOGS+=("$logf")
    log "started engine '$name' pid $ENGINE_PID port $ENGINE_PORT: $*"
}

# wait_health PORT [SECS] [PID]: waits until /health answers 200.
wait_health() {
    local port=$1 secs=${2:-20} pid=${3:-${ENGINE_PID:-}}
    bx_wait_http "http://127.0.0.1:$port/health" "$secs" "$pid" 2>"$E2E_TMP/wait.err" ||
        fail "engine on port $port (pid $pid) not healthy: $(cat "$E2E_TMP/wait.err")"
}

# wait_ready URL [PID]: waits until URL answers 200, fails after 20 s or if PID exits.
wait_ready() {
    bx_wait_http "$1" 20 "${2:-}" 2>"$E2E_TMP/wait.err" || fail "$(cat "$E2E_TMP/wait.err")"
}

# start_redis [PORT]: a redis-server without persistence on PORT (default a free one), up.
start_redis() {
    bx_start_redis "$E2E_TMP/redis.log" "${1:-}" 2>"$E2E_TMP/redis.err" ||
        fail "$(cat "$E2E_TMP/redis.err")"
    REDIS_PORT=$BX_REDIS_PORT
    REDIS_PID=$BX_LAST
}

# req METHOD PATH [JSON] [extra curl args...]: request to $BASE.
req() {
    local method=$1 path=$2 body=${3:-}
    shift 2
    [ $# -gt 0 ] && shift
    local args=(-sS -o "$E2E_TMP/body" -D "$E2E_TMP/headers" -w '%{http_code}' --max-time 30 -X "$method")
    if [ -n "$body" ]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$body")
    fi
    curl "${args[@]}" "$@" "$BASE$path" 2>"$E2E_TMP/curl.err" || echo -n "000"
}

expect_status() {
    [ "$1" = "$2" ] || fail "$3: HTTP status $1, want $2"
}

# check FILE FILTER MSG: the jq filter must yield true (jq -e) on FILE.
check() {
    local file=$1 filter=$2 msg=$3
    jq -e "$filter" "$file" >/dev/null 2>"$E2E_TMP/jq.err" ||
        fail "$msg (jq -e '$filter' was not true) $(head -c 300 "$E2E_TMP/jq.err")"
}

header() { # header NAME: value of a response header of the last req, or empty
    grep -i "^$1:" "$E2E_TMP/headers" | head -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'
}

# metric PORT NAME [LABEL=VALUE...]: the value of the first sample of metric
# NAME (exact name, e.g. vllm:prompt_tokens_total) carrying every given label
# with that value. Prints nothing when there is no such sample.
metric() {
    local port=$1 name=$2
    shift 2
    curl -s --max-time 5 "http://127.0.0.1:$port/metrics" | metric_in "$name" "$@"
}

# metric_in NAME [LABEL=VALUE...]: the same on exposition text from stdin.
metric_in() {
    local name=$1
    shift
    awk -v name="$name" -v want="$*" '
        BEGIN { n = split(want, w, " ") }
        /^#/ || NF < 2 { next }
        {
            line = $0; series = line; labels = ""
            if (index(line, "{") > 0 && index(line, "{") < index(line, " ")) {
                mname = substr(line, 1, index(line, "{") - 1)
                rest = substr(line, index(line, "{") + 1)
                labels = substr(rest, 1, index(rest, "}") - 1)
                valpart = substr(rest, index(rest, "}") + 1)
            } else {
                mname = $1; valpart = substr(line, length($1) + 1)
            }
            if (mname != name) next
            for (i = 1; i <= n; i++) {
                eq = index(w[i], "=")
                lab = substr(w[i], 1, eq - 1) "=\"" substr(w[i], eq + 1) "\""
                if (index("," labels, "," lab) == 0) next
            }
            split(valpart, v, " "); print v[1]; exit
        }'
}

# A numeric comparison with awk: num_cmp A OP B  (OP: < <= > >= ==)
num_cmp() {
    awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
        if (a == "" || b == "") exit 1
        if (op == "<") exit !(a + 0 < b + 0)
        if (op == "<=") exit !(a + 0 <= b + 0)
        if (op == ">") exit !(a + 0 > b + 0)
        if (op == ">=") exit !(a + 0 >= b + 0)
        if (op == "==") exit !(a + 0 == b + 0)
        exit 1 }'
}

wait_for() {
    local secs=$1 msg=$2 i
    shift 2
    for ((i = 0; i < secs * 5; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    fail "timed out after ${secs}s: $msg"
}

UP_PID=
up_start() {
    local name=$1 state=$2 i
    shift 2
    "$BRIX" up --state "$state" --host 127.0.0.1 --port "$GP" --admin-port "$AP" "$@" \
        >"$E2E_TMP/$name.log" 2>&1 &
    UP_PID=$!
    E2E_PIDS+=("$UP_PID")
    E2E_LOGS+=("$E2E_TMP/$name.log")
    for ((i = 0; i < 100; i++)); do
        curl -sf --max-time 1 "$BRIX_SERVER/healthz" >/dev/null && return 0
        kill -0 "$UP_PID" 2>/dev/null || fail "brix up exited: $(tail -n 5 "$E2E_TMP/$name.log")"
        sleep 0.1
    done
    fail "brix up's admin API did not answer"
}

# wait_metric PORT SECS OP VALUE NAME [LABEL=VALUE...]: polls /metrics until
# the sample compares true (e.g. wait_metric $P 20 == 0 vllm:num_requests_running).
wait_metric() {
    local port=$1 secs=$2 op=$3 want=$4 v i
    shift 4
    for ((i = 0; i < secs * 10; i++)); do
        v=$(metric "$port" "$@")
        num_cmp "$v" "$op" "$want" && return 0
        sleep 0.1
    done
    fail "metric $* stayed at '$v' for ${secs}s, want $op $want"
}

# A prompt of N words (about 1-2 tokens each with the ~4 bytes/token tokenizer).
words() {
    local n=$1 i out=""
    for ((i = 0; i < n; i++)); do out+="word$((i % 97)) "; done
    printf '%s' "${out% }"
}

# check_exposition FILE: the metrics text must parse with promtool (exit 3 is
# lint advice only: vLLM's names contain ':'), and pass check_metrics.mjs
# (contiguous families, well-formed histograms).
check_exposition() {
    local f=$1 rc=0
    command -v promtool >/dev/null || fail "promtool not installed (bash scripts/deps.sh)"
    promtool check metrics <"$f" >"$E2E_TMP/promtool.out" 2>&1 || rc=$?
    if { [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; } || grep -q 'parsing error' "$E2E_TMP/promtool.out"; then
        grep -v 'should not contain' "$E2E_TMP/promtool.out" | head -n 20 >&2
        fail "promtool check metrics rejects $f (exit $rc)"
    fi
    node "$E2E_DIR/check_metrics.mjs" <"$f" 2>"$E2E_TMP/check_metrics.out" || {
        cat "$E2E_TMP/check_metrics.out" >&2
        fail "malformed exposition in $f"
    }
}
