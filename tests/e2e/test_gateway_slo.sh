#!/usr/bin/env bash
# Routing across GPU types (docs/hetero.md "Routing"): two engines of one
# model in two groups (static backends GROUP=URL: "gpu-a", "gpu-b"), the
# gateway's slo strategy and a fake GPU optimizer (fake_gpu_optimizer.py)
# whose assignment sends short prompts to gpu-a and long ones to gpu-b. The
# engines' own counters (vllm:request_success_total) say where requests
# landed; then the fixture's JSON is swapped and routing follows it. Two
# workers: the assignment is read from both loops' threads.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
bx_need python3

start_engine gpu-a --model m --time-scale 50 --jitter 0
PA=$ENGINE_PORT
start_engine gpu-b --model m --time-scale 50 --jitter 0
PB=$ENGINE_PORT
wait_health "$PA"
wait_health "$PB"

# short (16 in) and long (2048 in) cells, 16 out; the log2 midpoint is 181 tokens
assign() { # SHORT_GROUP LONG_GROUP GENERATION
    cat >"$E2E_TMP/opt/m.json.tmp" <<JSON
{"model": "m", "generation": $3, "ts": 1765000000,
 "deployments": [{"name": "gpu-a", "replicas": 1}, {"name": "gpu-b", "replicas": 1}],
 "cells": [{"in": 16, "out": 16, "share": {"$1": 1}},
           {"in": 2048, "out": 16, "share": {"$2": 1}}]}
JSON
    mv "$E2E_TMP/opt/m.json.tmp" "$E2E_TMP/opt/m.json"
}
mkdir -p "$E2E_TMP/opt"
python3 "$E2E_DIR/fake_gpu_optimizer.py" --dir "$E2E_TMP/opt" --port-file "$E2E_TMP/opt.port" \
    >"$E2E_TMP/opt.log" 2>&1 &
E2E_PIDS+=("$!")
E2E_LOGS+=("$E2E_TMP/opt.log")
wait_for 10 "the fake optimizer did not start" test -s "$E2E_TMP/opt.port"
OPT="http://127.0.0.1:$(cat "$E2E_TMP/opt.port")"

GW_PORT=$(free_port) || fail "no free port"
"$BRIX" gateway --host 127.0.0.1 --port "$GW_PORT" --strategy slo --workers 2 \
    --backend "gpu-a=http://127.0.0.1:$PA" --backend "gpu-b=http://127.0.0.1:$PB" \
    --gpu-optimizer "$OPT" --gpu-optimizer-interval-ms 200 \
    --scrape-interval-ms 200 --models-interval-ms 500 --log-level debug \
    >"$E2E_TMP/gateway.log" 2>&1 &
GW_PID=$!
E2E_PIDS+=("$GW_PID")
E2E_LOGS+=("$E2E_TMP/gateway.log")
BASE="http://127.0.0.1:$GW_PORT"
wait_ready "$BASE/readyz" "$GW_PID"

SHORT='{"model":"m","prompt":"hello there","max_tokens":16}'
LONG=$(jq -cn --arg p "$(printf 'the quick brown fox jumps over the lazy dog %.0s' $(seq 120))" \
    '{model:"m", prompt:$p, max_tokens:16}')

# no assignment yet (the optimizer has no file for m): least-request, said so
req POST /v1/completions "$SHORT" | grep -qx 200 || fail "request without an assignment failed"
grep -qi '^x-brix-routing-fallback: least-request' "$E2E_TMP/headers" ||
    fail "without an assignment slo did not fall back to least-request"
grep -q 'no GPU-optimizer assignment for model m' "$E2E_TMP/gateway.log" ||
    fail "no debug line says slo routed as least-request"
log "no assignment: least-request"

successes() { # PORT: finished requests of the engine
    curl -s --max-time 5 "http://127.0.0.1:$1/metrics" |
        awk '/^vllm:request_success_total[{ ]/ { s += $NF } END { print s + 0 }'
}

# routes until a request of BODY is answered by GROUP without a fallback
wait_routed() { # BODY GROUP
    local _
    for _ in $(seq 100); do
        if [ "$(req POST /v1/completions "$1")" = 200 ] &&
            grep -qi "^x-brix-gpu-group: $2" "$E2E_TMP/headers" &&
            ! grep -qi '^x-brix-routing-fallback' "$E2E_TMP/headers"; then
            return 0
        fi
        sleep 0.1
    done
    fail "requests never went to $2 by the assignment"
}

# N short and N long requests; the engines' counters must grow by what the
# assignment says
check_split() { # SHORT_GROUP_PORT LONG_GROUP_PORT WHAT
    local a0 b0 a1 b1 i n=6
    a0=$(successes "$1")
    b0=$(successes "$2")
    for i in $(seq $n); do
        req POST /v1/completions "$SHORT" | grep -qx 200 || fail "short request $i failed"
    done
    # an engine counts a request as it finishes it: give the last one a moment
    for _ in $(seq 50); do
        a1=$(successes "$1")
        [ $((a1 - a0)) -ge $n ] && break
        sleep 0.1
    done
    b1=$(successes "$2")
    [ $((a1 - a0)) = $n ] && [ "$b1" = "$b0" ] ||
        fail "$3: short requests: +$((a1 - a0)) on their group's engine, +$((b1 - b0)) on the other (want +$n, +0)"
    for i in $(seq $n); do
        req POST /v1/completions "$LONG" | grep -qx 200 || fail "long request $i failed"
    done
    for _ in $(seq 50); do
        b0=$(successes "$2")
        [ $((b0 - b1)) -ge $n ] && break
        sleep 0.1
    done
    a0=$(successes "$1")
    [ "$a0" = "$a1" ] && [ $((b0 - b1)) = $n ] ||
        fail "$3: long requests: +$((b0 - b1)) on their group's engine, +$((a0 - a1)) on the other (want +$n, +0)"
    log "$3: $n short on one engine, $n long on the other"
}

assign gpu-a gpu-b 1
wait_routed "$SHORT" gpu-a
wait_routed "$LONG" gpu-b
check_split "$PA" "$PB" "short to gpu-a, long to gpu-b"

# the optimizer changes its mind: routing follows
assign gpu-b gpu-a 2
wait_routed "$SHORT" gpu-b
wait_routed "$LONG" gpu-a
check_split "$PB" "$PA" "short to gpu-b, long to gpu-a"

# a broken document keeps the last good assignment (logged once)
echo '{"model": "m", "cells": [' >"$E2E_TMP/opt/m.json"
sleep 1
check_split "$PB" "$PA" "after a bad document"
n=$(grep -c 'gpu-optimizer: assignment of m: not JSON' "$E2E_TMP/gateway.log")
[ "$n" = 1 ] || fail "the bad document was logged $n times, want once"
log "a bad document keeps the last good assignment"
log "ok"
