#!/usr/bin/env bash
# The slo queue (docs/hetero.md "Routing"): AIBrix's `slo` (=
# slo-least-load-pulling) holds a request in the gateway while every engine
# it may use is at --slo-max-outstanding, and sends it when one is under the
# cap again. One engine of type gpu-a, the fake GPU optimizer assigning
# every request to gpu-a, --slo-max-outstanding 1: four concurrent slow
# requests all complete and the engine never runs more than one (its
# vllm:num_requests_running, sampled while they run). Then a gateway with
# --slo-queue-max 1 --slo-queue-timeout-ms 1000: with one long request
# running, of two more one is held and the other answered 429 at once
# (queue full), and the held one 429 when its wait ends (timeout), both
# with Retry-After.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
bx_need python3

start_engine gpu-a --model m --jitter 0
PA=$ENGINE_PORT
wait_health "$PA"

mkdir -p "$E2E_TMP/opt"
cat >"$E2E_TMP/opt/m.json" <<JSON
{"model": "m", "generation": 1, "ts": 1765000000,
 "deployments": [{"name": "gpu-a", "replicas": 1}],
 "cells": [{"in": 16, "out": 128, "share": {"gpu-a": 1}}]}
JSON
python3 "$E2E_DIR/fake_gpu_optimizer.py" --dir "$E2E_TMP/opt" --port-file "$E2E_TMP/opt.port" \
    >"$E2E_TMP/opt.log" 2>&1 &
E2E_PIDS+=("$!")
E2E_LOGS+=("$E2E_TMP/opt.log")
wait_for 10 "the fake optimizer did not start" test -s "$E2E_TMP/opt.port"
OPT="http://127.0.0.1:$(cat "$E2E_TMP/opt.port")"

start_gateway() { # NAME ARGS...: a gateway with the slo strategy in front of the engine
    local name=$1
    shift
    GW_PORT=$(free_port) || fail "no free port"
    "$BRIX" gateway --host 127.0.0.1 --port "$GW_PORT" --strategy slo --workers 1 \
        --backend "gpu-a=http://127.0.0.1:$PA" --gpu-optimizer "$OPT" \
        --gpu-optimizer-interval-ms 200 --slo-max-outstanding 1 "$@" \
        >"$E2E_TMP/$name.log" 2>&1 &
    GW_PID=$!
    E2E_PIDS+=("$GW_PID")
    E2E_LOGS+=("$E2E_TMP/$name.log")
    BASE="http://127.0.0.1:$GW_PORT"
    wait_ready "$BASE/readyz" "$GW_PID"
    # routed by the assignment (no least-request fallback) before the test proper
    local _
    for _ in $(seq 100); do
        if [ "$(req POST /v1/completions '{"model":"m","prompt":"hi","max_tokens":4}')" = 200 ] &&
            grep -qi '^x-brix-gpu-group: gpu-a' "$E2E_TMP/headers" &&
            ! grep -qi '^x-brix-routing-fallback' "$E2E_TMP/headers"; then
            return 0
        fi
        sleep 0.1
    done
    fail "the gateway never routed by the assignment"
}

running() { # the engine's requests running now
    curl -s --max-time 5 "http://127.0.0.1:$PA/metrics" |
        awk '/^vllm:num_requests_running[{ ]/ { s += $NF } END { print s + 0 }'
}

post() { # TAG MAX_TOKENS: a completion in the background, status to $E2E_TMP/TAG.code
    curl -sS -o "$E2E_TMP/$1.body" -D "$E2E_TMP/$1.headers" -w '%{http_code}' --max-time 60 \
        -H 'Content-Type: application/json' \
        --data-binary "{\"model\":\"m\",\"prompt\":\"hello there\",\"max_tokens\":$2}" \
        "$BASE/v1/completions" >"$E2E_TMP/$1.code" 2>>"$E2E_TMP/curl.err" &
    CURL_PIDS+=("$!")
}

# 1. four concurrent slow requests (about a second each): one at a time
start_gateway gw1 --slo-queue-timeout-ms 60000
CURL_PIDS=()
for i in 1 2 3 4; do post "q$i" 150; done
max=0
samples=0
while :; do
    alive=0
    for p in "${CURL_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 1 ] || break
    r=$(running)
    [ "$r" -gt "$max" ] && max=$r
    samples=$((samples + 1))
    sleep 0.05
done
wait "${CURL_PIDS[@]}"
for i in 1 2 3 4; do
    [ "$(cat "$E2E_TMP/q$i.code")" = 200 ] ||
        fail "held request $i: HTTP $(cat "$E2E_TMP/q$i.code"): $(cat "$E2E_TMP/q$i.body")"
done
[ "$max" -le 1 ] || fail "the engine ran $max requests at once with --slo-max-outstanding 1"
[ "$max" = 1 ] || fail "no sample ($samples) saw the engine run a request"
log "4 concurrent requests, cap 1: all 200, the engine ran at most $max at once ($samples samples)"
kill "$GW_PID" 2>/dev/null
wait "$GW_PID" 2>/dev/null

# 2. a queue of one and a 1 s wait, while a long request (several seconds) runs
start_gateway gw2 --slo-queue-max 1 --slo-queue-timeout-ms 1000
CURL_PIDS=()
post long 1000
one_running() { [ "$(running)" = 1 ]; }
wait_for 10 "the long request never ran" one_running
LONG_PID=${CURL_PIDS[0]}
CURL_PIDS=()
post b 16
post c 16
wait "${CURL_PIDS[@]}"
full=0
timeout=0
for t in b c; do
    [ "$(cat "$E2E_TMP/$t.code")" = 429 ] ||
        fail "request $t: HTTP $(cat "$E2E_TMP/$t.code"), want 429: $(cat "$E2E_TMP/$t.body")"
    grep -qi '^retry-after: [0-9]' "$E2E_TMP/$t.headers" || fail "request $t: 429 without Retry-After"
    grep -qi '^x-error-slo-queue: full' "$E2E_TMP/$t.headers" && full=$((full + 1))
    grep -qi '^x-error-slo-queue: timeout' "$E2E_TMP/$t.headers" && timeout=$((timeout + 1))
done
[ "$full" = 1 ] && [ "$timeout" = 1 ] ||
    fail "want one 429 for a full queue and one after the wait, got $full full, $timeout timeout"
wait "$LONG_PID"
[ "$(cat "$E2E_TMP/long.code")" = 200 ] || fail "the long request: HTTP $(cat "$E2E_TMP/long.code")"
log "queue of 1: one 429 at once (full), one 429 after its wait (timeout), Retry-After on both"
log "ok"
