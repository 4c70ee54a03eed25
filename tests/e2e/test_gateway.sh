#!/usr/bin/env bash
# brix gateway in front of four simulated engines: the openai npm client
# (streaming and not), prefix-cache stickiness, malformed and oversized
# requests, an engine killed mid-stream (clean SSE error, no hang, with
# --migrate-attempts 0: test_gateway_migrate.sh continues such streams), retries
# to the survivors, and the gateway's /metrics. The gateway runs three
# workers (event loops on their own threads sharing the port): each curl is
# a new connection the kernel may give to any of them, so stickiness and
# the counters below also check that they share one picture of the fleet.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

ports=()
pids=()
for i in 1 2 3 4; do
    start_engine "e$i" --model m --time-scale 10 --jitter 0 --enable-lora --allow-runtime-lora \
        --max-loras 2 --lora-load-seconds 0.01
    ports+=("$ENGINE_PORT")
    pids+=("$ENGINE_PID")
done
for p in "${ports[@]}"; do wait_health "$p"; done

GW_PORT=$(free_port) || fail "no free port"
backends=()
for p in "${ports[@]}"; do backends+=(--backend "http://127.0.0.1:$p"); done
"$BRIX" gateway --host 127.0.0.1 --port "$GW_PORT" "${backends[@]}" \
    --scrape-interval-ms 200 --models-interval-ms 500 --max-body-bytes 65536 --workers 3 \
    --migrate-attempts 0 >"$E2E_TMP/gateway.log" 2>&1 &
GW_PID=$!
E2E_PIDS+=("$GW_PID")
E2E_LOGS+=("$E2E_TMP/gateway.log")
GW="http://127.0.0.1:$GW_PORT"
BASE=$GW
wait_ready "$GW/readyz" "$GW_PID"
# wait until all four engines are known
for _ in $(seq 100); do
    n=$(curl -s "$GW/metrics" | grep -c '^brix_gateway_engine_ready{.*} 1')
    [ "$n" = 4 ] && break
    sleep 0.1
done
[ "$n" = 4 ] || fail "gateway sees $n ready engines, expected 4"
log "gateway on $GW with 4 engines"

# 1. the official SDK through the gateway
BRIX_BASE_URL="$GW/v1" BRIX_MODEL=m node --test "$E2E_DIR/gateway_client.mjs" \
    >"$E2E_TMP/sdk.out" 2>&1 || { cat "$E2E_TMP/sdk.out"; fail "openai client tests failed"; }
log "openai client tests pass"

# 1b. LoRA-aware routing: an adapter loaded on one engine is served only there
curl -s -o /dev/null -H 'Content-Type: application/json' "http://127.0.0.1:${ports[1]}/v1/load_lora_adapter" \
    -d '{"lora_name":"sql","lora_path":"/adapters/sql"}'
for _ in $(seq 100); do
    curl -s "$GW/v1/models" | jq -e '.data | map(select(.id == "sql" and .parent == "m")) | length == 1' \
        >/dev/null && break
    sleep 0.1
done
curl -s "$GW/v1/models" | jq -e '.data | map(.id) | sort == ["m", "sql"]' >/dev/null ||
    fail "gateway /v1/models does not list the adapter"
for i in 1 2 3 4; do
    curl -s -D "$E2E_TMP/lh" -o "$E2E_TMP/lb" -H 'Content-Type: application/json' "$GW/v1/completions" \
        -d '{"model":"sql","prompt":"select","max_tokens":2}'
    t=$(grep -i '^target-pod:' "$E2E_TMP/lh" | tr -d '\r' | awk '{print $2}')
    [ "$t" = "127.0.0.1:${ports[1]}" ] || fail "adapter request went to '$t', not the engine with the adapter"
    check "$E2E_TMP/lb" '.model == "sql"' "adapter answer names the adapter"
done
log "adapter 'sql' routed only to the engine that loaded it"

# 2. malformed and oversized requests
code=$(req POST /v1/chat/completions '{bad json')
expect_status "$code" 400 "malformed JSON"
check "$E2E_TMP/body" '.error.code == 400 and .error.type == "BadRequestError"' "400 has an OpenAI error body"
grep -qi '^x-error-request-body-processing: true' "$E2E_TMP/headers" ||
    fail "malformed JSON without AIBrix's x-error-request-body-processing header"
grep -qi '^request-id: brx-' "$E2E_TMP/headers" || fail "error answer without request-id"
code=$(req POST /v1/completions '{"prompt":"x"}')
expect_status "$code" 400 "missing model"
code=$(req POST /v1/completions '{"model":"nope","prompt":"x"}')
expect_status "$code" 404 "unknown model"
grep -qi '^x-error-no-model-backends: nope' "$E2E_TMP/headers" ||
    fail "unknown model without x-error-no-model-backends: nope"
code=$(req POST /v1/completions '{"model":"m","prompt":"x"}' -H 'routing-strategy: bogus')
expect_status "$code" 400 "unknown routing strategy"
grep -qi '^x-error-routing: true' "$E2E_TMP/headers" || fail "bad strategy without x-error-routing"
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
printf '{"model":"m","prompt":"%s"}' "$big" >"$E2E_TMP/big.json"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$E2E_TMP/big.json" "$GW/v1/completions")
expect_status "$code" 413 "oversized body"
log "malformed and oversized requests rejected"

# 3. prefix-cache: the same long prompt goes back to the same engine
prompt=$(words 400)
body="{\"model\":\"m\",\"prompt\":\"$prompt\",\"max_tokens\":2,\"ignore_eos\":true}"
first=""
for i in 1 2 3 4 5; do
    curl -s -D "$E2E_TMP/h$i" -o /dev/null -H 'routing-strategy: prefix-cache' \
        -H 'Content-Type: application/json' "$GW/v1/completions" -d "$body"
    t=$(grep -i '^target-pod:' "$E2E_TMP/h$i" | tr -d '\r' | awk '{print $2}')
    [ -n "$t" ] || fail "no target-pod header"
    [ -z "$first" ] && first=$t
    [ "$t" = "$first" ] || fail "prefix-cache moved a repeated prompt from $first to $t"
done
log "prefix-cache keeps a repeated prompt on $first"

# 3b. session affinity: the answer names its engine in x-session-id
# (base64 of target-pod, as AIBrix), and sending it back lands there again;
# answers routed by other strategies carry none.
hdr() { grep -i "^$1:" "$2" | tr -d '\r' | awk '{print $2}'; }
curl -s -D "$E2E_TMP/sa0" -o /dev/null -H 'routing-strategy: session-affinity' \
    -H 'Content-Type: application/json' "$GW/v1/completions" -d '{"model":"m","prompt":"hi","max_tokens":2}'
sid=$(hdr x-session-id "$E2E_TMP/sa0")
pod=$(hdr target-pod-ip "$E2E_TMP/sa0")
[ -n "$sid" ] && [ "$(printf '%s' "$sid" | base64 -d)" = "$pod" ] ||
    fail "x-session-id '$sid' is not base64 of target-pod-ip '$pod'"
for i in 1 2 3 4 5 6; do
    curl -s -D "$E2E_TMP/sa$i" -o /dev/null -H 'routing-strategy: session-affinity' \
        -H "x-session-id: $sid" -H 'Content-Type: application/json' "$GW/v1/completions" \
        -d '{"model":"m","prompt":"again","max_tokens":2}'
    [ "$(hdr target-pod-ip "$E2E_TMP/sa$i")" = "$pod" ] || fail "session $sid left $pod"
done
curl -s -D "$E2E_TMP/sa7" -o /dev/null -H 'routing-strategy: least-request' \
    -H 'Content-Type: application/json' "$GW/v1/completions" -d '{"model":"m","prompt":"hi","max_tokens":2}'
[ -z "$(hdr x-session-id "$E2E_TMP/sa7")" ] || fail "least-request answer carries x-session-id"
log "session affinity keeps x-session-id $sid on $pod"

# 3c. AIBrix's answer headers: target-pod names the engine (a static
# --backend has no name: its address), target-pod-ip is ip:port;
# routing-strategy says what was asked, a fallback is reported apart;
# weighted lists and AIBrix's other names are accepted; request-id is a
# valid traceparent's trace id.
ask() { # ask NAME [curl args...]: headers of one completion in $E2E_TMP/$1
    local f=$1
    shift
    curl -s -D "$E2E_TMP/$f" -o "$E2E_TMP/$f.body" -w '%{http_code}' -H 'Content-Type: application/json' \
        "$@" "$GW/v1/completions" -d '{"model":"m","prompt":"hello there","max_tokens":2}'
}
code=$(ask ah0 -H 'routing-strategy: least-request')
expect_status "$code" 200 "least-request"
ip=$(hdr target-pod-ip "$E2E_TMP/ah0")
[[ "$ip" =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "target-pod-ip '$ip' is not ip:port"
[ "$(hdr target-pod "$E2E_TMP/ah0")" = "$ip" ] || fail "a static engine's target-pod is not its address"
[ "$(hdr routing-strategy "$E2E_TMP/ah0")" = least-request ] || fail "routing-strategy is not least-request"
[ -z "$(hdr x-brix-routing-fallback "$E2E_TMP/ah0")" ] || fail "least-request reported a fallback"
# session-affinity without a session: random decided; asked for is kept
ask ah1 -H 'routing-strategy: session-affinity' >/dev/null
[ "$(hdr routing-strategy "$E2E_TMP/ah1")" = session-affinity ] ||
    fail "routing-strategy '$(hdr routing-strategy "$E2E_TMP/ah1")', want what was asked"
[ "$(hdr x-brix-routing-fallback "$E2E_TMP/ah1")" = random ] || fail "no x-brix-routing-fallback: random"
for spec in 'prefix-cache:2,least-request' 'least-request:3, least-kv-cache' pd slo-pack-load \
    prefix-cache-preble least-utilization power-of-two 'pd,prefix-cache'; do
    code=$(ask ah2 -H "routing-strategy: $spec")
    expect_status "$code" 200 "routing-strategy $spec"
    want=$(printf '%s' "$spec" | tr -d ' ')
    [ "$spec" = 'pd,prefix-cache' ] && want=pd
    [ "$(hdr routing-strategy "$E2E_TMP/ah2")" = "$want" ] ||
        fail "routing-strategy $spec answered '$(hdr routing-strategy "$E2E_TMP/ah2")'"
done
for spec in 'random,least-request' 'least-request:0' 'least-request:x'; do
    code=$(ask ah3 -H "routing-strategy: $spec")
    expect_status "$code" 400 "routing-strategy $spec"
    grep -qi '^x-error-routing: true' "$E2E_TMP/ah3" || fail "$spec without x-error-routing"
    jq -e '.error.message | startswith("incorrect routing strategy")' "$E2E_TMP/ah3.body" >/dev/null ||
        fail "$spec: $(cat "$E2E_TMP/ah3.body")"
done
ask ah4 -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' >/dev/null
[ "$(hdr request-id "$E2E_TMP/ah4")" = 4bf92f3577b34da6a3ce929d0e0e4736 ] ||
    fail "request-id '$(hdr request-id "$E2E_TMP/ah4")' is not the traceparent's trace id"
ask ah5 -H 'traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01' >/dev/null
[[ "$(hdr request-id "$E2E_TMP/ah5")" == brx-* ]] || fail "an invalid traceparent was used"
log "answer headers: target-pod, target-pod-ip, routing-strategy, fallback, lists, traceparent"

# 4. an engine killed mid-stream: the client gets an SSE error event and the stream closes
slow="{\"model\":\"m\",\"prompt\":\"kill me\",\"max_tokens\":3000,\"ignore_eos\":true,\"stream\":true}"
curl -sN -m 20 -H 'routing-strategy: random' -H 'Content-Type: application/json' \
    -D "$E2E_TMP/kh" "$GW/v1/completions" -d "$slow" >"$E2E_TMP/killed.out" &
cpid=$!
victim=""
for _ in $(seq 100); do
    victim=$(grep -i '^target-pod:' "$E2E_TMP/kh" 2>/dev/null | tr -d '\r' | awk '{print $2}')
    [ -n "$victim" ] && [ -s "$E2E_TMP/killed.out" ] && break
    sleep 0.05
done
[ -n "$victim" ] || fail "streaming request never started"
vport=${victim##*:}
for i in 0 1 2 3; do
    if [ "${ports[$i]}" = "$vport" ]; then kill -9 "${pids[$i]}"; fi
done
wait "$cpid" || true
grep -q '"error"' "$E2E_TMP/killed.out" || fail "no SSE error event after the engine died"
log "engine $victim killed mid-stream: client got an error event and EOF"

# 5. the survivors take the traffic (retries before the first byte, breaker)
okc=0
for i in $(seq 12); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'routing-strategy: random' \
        -H 'Content-Type: application/json' "$GW/v1/completions" \
        -d '{"model":"m","prompt":"after the crash","max_tokens":2}')
    [ "$code" = 200 ] && okc=$((okc + 1))
done
[ "$okc" = 12 ] || fail "only $okc of 12 requests succeeded after one engine died"
log "12/12 requests served by the three survivors"

# 6. the gateway's own metrics
curl -s "$GW/metrics" >"$E2E_TMP/gw_metrics"
grep -q '^brix_gateway_requests_total{model="m",strategy="prefix-cache"' "$E2E_TMP/gw_metrics" ||
    fail "no request counter for prefix-cache"
grep -q '^brix_gateway_routing_decision_seconds_count' "$E2E_TMP/gw_metrics" || fail "no decision histogram"
awk '/^brix_gateway_prefix_index_entries / && $2 > 0 {ok = 1} END {exit !ok}' "$E2E_TMP/gw_metrics" ||
    fail "the prefix index reports no entries after prefix-cache requests"
check_exposition "$E2E_TMP/gw_metrics"
log "gateway /metrics well formed"
# 6b. one set of counters over all workers: 30 requests on 30 connections
ls_count() {
    curl -s "$GW/metrics" | awk '/^brix_gateway_requests_total\{model="m",strategy="least-busy-time"/ {n += $NF} END {print n + 0}'
}
before=$(ls_count)
cpids=()
for i in $(seq 30); do
    curl -s -o /dev/null -m 30 -H 'routing-strategy: least-busy-time' -H 'Content-Type: application/json' \
        "$GW/v1/completions" -d "{\"model\":\"m\",\"prompt\":\"count $i\",\"max_tokens\":2}" &
    cpids+=($!)
done
for p in "${cpids[@]}"; do wait "$p" || fail "a counted request failed"; done
after=$(ls_count)
[ "$((after - before))" = 30 ] || fail "requests counted over workers: $((after - before)), sent 30"
curl -s "$GW/metrics" | awk '/^brix_gateway_engine_inflight\{/ && $NF != 0 {bad = 1} END {exit bad}' ||
    fail "engine in-flight counts did not return to 0 after the requests ended"
log "30 concurrent requests counted once each across 3 workers; in-flight back to 0"
# 7. per-user limits in a real Redis: a user with rpm 2 gets 429 + Retry-After on the third request
start_redis
RP=$REDIS_PORT
redis-cli -p "$RP" set aibrix-users/alice '{"name":"alice","rpm":2,"tpm":100000}' >/dev/null ||
    fail "cannot write the user record"
G2P=$(free_port) || fail "no free port"
"$BRIX" gateway --host 127.0.0.1 --port "$G2P" --redis "127.0.0.1:$RP" \
    --backend "http://127.0.0.1:${ports[0]}" --backend "http://127.0.0.1:${ports[2]}" \
    --backend "http://127.0.0.1:${ports[3]}" --models-interval-ms 200 --workers 2 --busy-poll-us 500 \
    >"$E2E_TMP/gateway2.log" 2>&1 &
E2E_PIDS+=($!)
E2E_LOGS+=("$E2E_TMP/gateway2.log")
wait_ready "http://127.0.0.1:$G2P/readyz" "${E2E_PIDS[-1]}"
codes=""
for i in 1 2 3; do
    c=$(curl -s -D "$E2E_TMP/rl$i" -o "$E2E_TMP/rlb$i" -w '%{http_code}' -H 'Content-Type: application/json' \
        "http://127.0.0.1:$G2P/v1/completions" -d '{"model":"m","prompt":"hi","max_tokens":2,"user":"alice"}')
    codes+="$c "
done
[ "$codes" = "200 200 429 " ] || fail "alice (rpm 2) got '$codes', want '200 200 429 '"
grep -qi '^retry-after: [0-9]' "$E2E_TMP/rl3" || fail "429 without Retry-After"
grep -qi '^x-error-rpm-exceeded: true' "$E2E_TMP/rl3" || fail "429 without x-error-rpm-exceeded"
check "$E2E_TMP/rlb3" '.error.code == 429' "429 has an OpenAI error body"
[ -n "$(redis-cli -p "$RP" --scan --pattern 'aibrix:alice_RPM_CURRENT:*')" ] || fail "no AIBrix RPM key in Redis"
c=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    "http://127.0.0.1:$G2P/v1/completions" -d '{"model":"m","prompt":"hi","max_tokens":2,"user":"bob"}')
[ "$c" = 200 ] || fail "a user without a record got $c"
# Redis down: the gateway fails open by default and never crashes
redis-cli -p "$RP" shutdown nosave >/dev/null 2>&1 || true
sleep 0.2
c=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    "http://127.0.0.1:$G2P/v1/completions" -d '{"model":"m","prompt":"hi","max_tokens":2,"user":"alice"}')
[ "$c" = 200 ] || fail "with Redis down (fail-open) alice got $c"
log "per-user RPM limit: 200 200 429 with Retry-After; Redis down fails open"

log "all gateway checks passed"
