#!/usr/bin/env bash
# brix gateway's circuit breaker counts transitions, not failures: one
# engine with 8 requests in flight is SIGKILLed, so 8 failures arrive
# together; brix_gateway_breaker_opens_total must say 1 (it said 6: every
# failure after the third counted as an opening). Then the half-open probe
# to the still-dead engine re-opens it (2), and once the engine is back the
# next probe closes it (state 0, still 2 openings).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

start_engine e1 --model m --jitter 0
EP=$ENGINE_PORT
wait_health "$EP"

GW_PORT=$(free_port) || fail "no free port"
# discovery and scrapes slow enough that only the breaker decides what happens
"$BRIX" gateway --host 127.0.0.1 --port "$GW_PORT" --backend "http://127.0.0.1:$EP" \
    --scrape-interval-ms 60000 --models-interval-ms 60000 --breaker-failures 3 \
    --breaker-open-ms 500 --max-retries 0 >"$E2E_TMP/gateway.log" 2>&1 &
E2E_PIDS+=($!)
E2E_LOGS+=("$E2E_TMP/gateway.log")
BASE="http://127.0.0.1:$GW_PORT"
wait_ready "$BASE/readyz" "${E2E_PIDS[-1]}"

# 8 long requests in flight on the one engine, then it dies under them
long='{"model":"m","prompt":"long","max_tokens":3000,"ignore_eos":true}'
cpids=()
for i in $(seq 8); do
    curl -s -o /dev/null -w '%{http_code}' --max-time 30 -H 'Content-Type: application/json' \
        "$BASE/v1/completions" -d "$long" >"$E2E_TMP/long$i.code" &
    cpids+=($!)
done
wait_metric "$GW_PORT" 10 == 8 brix_gateway_engine_inflight engine="127.0.0.1:$EP"
kill -9 "$ENGINE_PID"
wait "$ENGINE_PID" 2>/dev/null
for p in "${cpids[@]}"; do wait "$p"; done
for i in $(seq 8); do
    c=$(cat "$E2E_TMP/long$i.code")
    [ "$c" = 502 ] || [ "$c" = 503 ] || fail "request $i on the killed engine got '$c', want 502/503"
done
opens=$(metric "$GW_PORT" brix_gateway_breaker_opens_total)
num_cmp "$opens" == 1 || fail "8 failures at once opened the breaker once, but opens_total says '$opens'"
num_cmp "$(metric "$GW_PORT" brix_gateway_engine_breaker_state engine="127.0.0.1:$EP")" == 1 ||
    fail "breaker not open after the engine died"
log "8 requests failed together on a dead engine: breaker_opens_total 1"

# cool-down over: the next request is the probe; the engine is still dead
sleep 0.7
short='{"model":"m","prompt":"hi","max_tokens":2}'
code=$(req POST /v1/completions "$short")
[ "$code" = 502 ] || [ "$code" = 503 ] || fail "probe to a dead engine got $code"
opens=$(metric "$GW_PORT" brix_gateway_breaker_opens_total)
num_cmp "$opens" == 2 || fail "a failed half-open probe re-opens once: opens_total '$opens', want 2"

# the engine is back on the same port: the next probe closes the breaker
"$BRIX" engine --host 127.0.0.1 --port "$EP" --model m --jitter 0 >"$E2E_TMP/e1b.log" 2>&1 &
ENGINE_PID=$!
E2E_PIDS+=("$ENGINE_PID")
E2E_LOGS+=("$E2E_TMP/e1b.log")
wait_health "$EP"
sleep 0.7
code=$(req POST /v1/completions "$short")
expect_status "$code" 200 "the probe to the restarted engine"
num_cmp "$(metric "$GW_PORT" brix_gateway_engine_breaker_state engine="127.0.0.1:$EP")" == 0 ||
    fail "breaker not closed after a good probe"
opens=$(metric "$GW_PORT" brix_gateway_breaker_opens_total)
num_cmp "$opens" == 2 || fail "closing is not an opening: opens_total '$opens', want 2"
code=$(req POST /v1/completions "$short")
expect_status "$code" 200 "traffic after the breaker closed"
log "half-open probe: failure re-opens (2), success closes (still 2)"
