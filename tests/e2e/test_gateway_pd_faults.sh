#!/usr/bin/env bash
# The pd strategy's prefill leg when it does not answer (docs/gateway.md "Prefill/decode
# disaggregation", Errors): a roleset whose prefill engine hangs (--fault-hang-rate 1), its
# decode engine and a combined engine, the gateway's prefill deadline at 1 s
# (AIBRIX_PREFILL_REQUEST_TIMEOUT). A request's prefill leg times out and the request is routed
# again without that engine (the combined one answers); a client that leaves during the prefill
# leg cancels it, and every engine's in-flight count returns to 0.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

start_engine prefill-hang --model m --time-scale 20 --jitter 0 --fault-hang-rate 1 \
    --kv-transfer-config '{"kv_connector":"NixlConnector","kv_role":"kv_producer"}'
PP=$ENGINE_PORT
wait_health "$PP"
start_engine decode --model m --time-scale 20 --jitter 0 \
    --kv-transfer-config '{"kv_connector":"NixlConnector","kv_role":"kv_consumer"}'
PD=$ENGINE_PORT
wait_health "$PD"
start_engine combined --model m --time-scale 20 --jitter 0
PC=$ENGINE_PORT
wait_health "$PC"

GW_PORT=$(free_port) || fail "no free port"
AIBRIX_PREFILL_REQUEST_TIMEOUT=1 "$BRIX" gateway --host 127.0.0.1 --port "$GW_PORT" \
    --strategy pd --backend "rs1/prefill=http://127.0.0.1:$PP" \
    --backend "rs1/decode=http://127.0.0.1:$PD" --backend "http://127.0.0.1:$PC" \
    --scrape-interval-ms 200 --models-interval-ms 300 >"$E2E_TMP/gateway.log" 2>&1 &
GW_PID=$!
E2E_PIDS+=("$GW_PID")
E2E_LOGS+=("$E2E_TMP/gateway.log")
BASE="http://127.0.0.1:$GW_PORT"
wait_ready "$BASE/readyz" "$GW_PID"
wait_for 10 "the gateway did not see the three engines" \
    sh -c "curl -s '$BASE/metrics' | grep -c 'engine_ready.*} 1' | grep -qx 3"

BODY=$(jq -cn --arg p "$(words 100)" '{model:"m", prompt:$p, max_tokens:6}')
# 1. the prefill leg times out: routed again, to the combined engine
st=$(req POST /v1/completions "$BODY")
expect_status "$st" 200 "a request whose prefill engine hangs"
check "$E2E_TMP/body" '.usage.completion_tokens == 6' "the answer after the timeout"
[ "$(header target-pod-ip)" = "127.0.0.1:$PC" ] || fail "answered by $(header target-pod-ip), want the combined engine"
[ -z "$(header x-brix-prefill-pod)" ] || fail "the answer names a prefill engine"
grep -q "prefill engine 127.0.0.1:$PP failed" "$E2E_TMP/gateway.log" || fail "the timeout was not logged"

# 2. a client that leaves during the prefill leg: the leg is cancelled, nothing stays in flight
curl -s -o /dev/null --max-time 0.5 -H 'Content-Type: application/json' -d "$BODY" \
    "$BASE/v1/completions"
inflight_zero() { # every engine's brix_gateway_engine_inflight is 0
    curl -s "$BASE/metrics" | awk '/^brix_gateway_engine_inflight\{/ { n++; if ($2 + 0 != 0) bad = 1 }
        END { exit !(n == 3 && !bad) }'
}
wait_for 5 "an engine's in-flight count stayed above 0 after the client left" inflight_zero
wait_for 5 "the client's leaving was not logged as 499" grep -q "status=499" "$E2E_TMP/gateway.log"
kill -0 "$GW_PID" || fail "the gateway died"
st=$(req POST /v1/completions "$BODY")
expect_status "$st" 200 "a request after the cancel"
log "ok"
