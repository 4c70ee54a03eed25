#!/usr/bin/env bash
# Prefill/decode disaggregation (docs/gateway.md "Prefill/decode
# disaggregation"): a roleset of one prefill engine (kv_producer) and one
# decode engine (kv_consumer) as static backends ROLESET/ROLE=URL, plus a
# combined engine, behind the gateway's pd strategy. Non-streamed and
# streamed requests take the two legs (the engines' brix:kv_transfer_*
# counters: prefills on one, pulls on the other); a prefill's KV dropped
# (pin timeout) fails the decode cleanly, or is recomputed under
# kv_load_failure_policy recompute; a killed prefill engine makes the
# gateway route again to the combined engine.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

KVP='{"kv_connector":"NixlConnector","kv_role":"kv_producer"}'
KVC='{"kv_connector":"NixlConnector","kv_role":"kv_consumer"}'
KVR='{"kv_connector":"NixlConnector","kv_role":"kv_consumer","kv_load_failure_policy":"recompute"}'
start_engine prefill --model m --time-scale 20 --jitter 0 --kv-transfer-config "$KVP" \
    --kv-pin-timeout 20
PP=$ENGINE_PORT PPID_=$ENGINE_PID
wait_health "$PP"
start_engine decode --model m --time-scale 20 --jitter 0 --kv-transfer-config "$KVC"
PD=$ENGINE_PORT PDPID=$ENGINE_PID
wait_health "$PD"
start_engine combined --model m --time-scale 20 --jitter 0
PC=$ENGINE_PORT
wait_health "$PC"
start_engine decode-rc --model m --time-scale 20 --jitter 0 --kv-transfer-config "$KVR"
PR=$ENGINE_PORT
wait_health "$PR"

# a bad role is refused at start
"$BRIX" engine --model m --port "$(free_port)" \
    --kv-transfer-config '{"kv_connector":"NixlConnector","kv_role":"kv_sideways"}' \
    >"$E2E_TMP/bad.log" 2>&1 && fail "an unknown kv_role was accepted"
grep -q "kv_role must be" "$E2E_TMP/bad.log" || fail "no clear error for a bad kv_role"

GW_PORT=$(free_port) || fail "no free port"
"$BRIX" gateway --host 127.0.0.1 --port "$GW_PORT" --strategy pd --workers 2 \
    --backend "rs1/prefill=http://127.0.0.1:$PP" --backend "rs1/decode=http://127.0.0.1:$PD" \
    --backend "http://127.0.0.1:$PC" \
    --scrape-interval-ms 200 --models-interval-ms 300 --log-level debug \
    >"$E2E_TMP/gateway.log" 2>&1 &
GW_PID=$!
E2E_PIDS+=("$GW_PID")
E2E_LOGS+=("$E2E_TMP/gateway.log")
BASE="http://127.0.0.1:$GW_PORT"
wait_ready "$BASE/readyz" "$GW_PID"
wait_for 10 "the gateway did not see the three engines" \
    sh -c "curl -s '$BASE/metrics' | grep -c 'engine_ready.*} 1' | grep -qx 3"

PROMPT=$(words 300)
# 1. non-streamed: prefill on one engine, decode (a pull) on the other
BODY=$(jq -cn --arg p "$PROMPT" '{model:"m", prompt:$p, max_tokens:12, min_tokens:2}')
st=$(req POST /v1/completions "$BODY")
expect_status "$st" 200 "pd completion"
check "$E2E_TMP/body" '.usage.completion_tokens == 12 and (.choices[0].text | length) > 0' \
    "the decode leg's answer is not the full answer"
check "$E2E_TMP/body" 'has("kv_transfer_params") | not' "the client saw the prefill's params"
[ "$(header x-brix-prefill-pod)" = "127.0.0.1:$PP" ] || fail "prefill pod header: $(header x-brix-prefill-pod)"
[ "$(header target-pod-ip)" = "127.0.0.1:$PD" ] || fail "decode pod: $(header target-pod-ip)"
[ "$(metric "$PP" brix:kv_transfer_prefills_total)" = 1 ] || fail "the prefill engine counted no prefill"
[ "$(metric "$PP" brix:kv_transfer_served_total)" = 1 ] || fail "the prefill engine served no pull"
[ "$(metric "$PD" brix:kv_transfer_pulls_total)" = 1 ] || fail "the decode engine pulled nothing"
num_cmp "$(metric "$PP" vllm:generation_tokens_total)" == 1 || fail "the prefill engine generated more than one token"
num_cmp "$(metric "$PD" brix:kv_transfer_bytes_total)" ">" 0 || fail "no KV bytes crossed the link"

# 2. streamed chat: the decode leg streams
BODY=$(jq -cn --arg p "$PROMPT" '{model:"m", messages:[{role:"user",content:$p}], max_tokens:20,
    stream:true, stream_options:{include_usage:true}}')
st=$(req POST /v1/chat/completions "$BODY")
expect_status "$st" 200 "pd streamed chat"
grep -q '^data: \[DONE\]' "$E2E_TMP/body" || fail "the stream did not end with [DONE]"
n=$(grep -c '"delta":{"content"' "$E2E_TMP/body")
[ "$n" = 20 ] || fail "streamed $n tokens, want 20"
grep -q '"completion_tokens":20' "$E2E_TMP/body" || fail "no usage chunk of 20 tokens"
[ "$(metric "$PP" brix:kv_transfer_prefills_total)" = 2 ] || fail "second prefill not counted"
[ "$(metric "$PD" brix:kv_transfer_pulls_total)" = 2 ] || fail "second pull not counted"

# 3. a dropped KV: the pin expires (20 simulated s = 1 s here), the pull fails cleanly
R=$(curl -s "http://127.0.0.1:$PP/v1/completions" -d "$(jq -cn --arg p "$PROMPT" \
    '{model:"m", prompt:$p, max_tokens:1, kv_transfer_params:{do_remote_decode:true}}')")
KTP=$(jq -c .kv_transfer_params <<<"$R")
[ "$(jq -r .do_remote_prefill <<<"$KTP")" = true ] || fail "prefill answer without params: $R"
[ "$(metric "$PP" brix:kv_transfer_pins)" = 1 ] || fail "the prefill's KV is not pinned"
# another engine id (the prefill engine restarted since): refused, the pin kept
BAD=$(jq -cn --arg p "$PROMPT" --argjson k "$KTP" \
    '{model:"m", prompt:$p, max_tokens:4, kv_transfer_params:($k + {remote_engine_id:"brix-0"})}')
st=$(BASE="http://127.0.0.1:$PD" req POST /v1/completions "$BAD")
expect_status "$st" 503 "a decode naming another prefill engine id"
[ "$(metric "$PP" brix:kv_transfer_pins)" = 1 ] || fail "a pull for another engine id took the pin"
wait_metric "$PP" 10 == 1 brix:kv_transfer_pins_expired_total
DEC=$(jq -cn --arg p "$PROMPT" --argjson k "$KTP" '{model:"m", prompt:$p, max_tokens:4, kv_transfer_params:$k}')
st=$(BASE="http://127.0.0.1:$PD" req POST /v1/completions "$DEC")
expect_status "$st" 503 "a decode whose KV was dropped"
check "$E2E_TMP/body" '.error.message | test("KV transfer failed.*expired")' "no clear error"
[ "$(metric "$PD" brix:kv_transfer_pull_failures_total)" = 2 ] || fail "pull failures not counted"
# ... or recomputed under kv_load_failure_policy recompute
st=$(BASE="http://127.0.0.1:$PR" req POST /v1/completions "$DEC")
expect_status "$st" 200 "a decode recomputing a dropped KV"
check "$E2E_TMP/body" '.usage.completion_tokens == 4' "the recomputed answer is short"
[ "$(metric "$PR" brix:kv_transfer_recomputed_total)" = 1 ] || fail "recompute not counted"

# 4. the decode engine SIGKILLed mid-stream: the stream is continued on the
# combined engine (docs/gateway.md "Streams that survive an engine's death"),
# from the client's body, not the decode leg's (whose KV was pulled already)
BODY=$(jq -cn --arg p "$PROMPT" '{model:"m", prompt:$p, max_tokens:3000, stream:true,
    stream_options:{include_usage:true}}')
curl -sN --max-time 30 -H 'Content-Type: application/json' "$BASE/v1/completions" -d "$BODY" \
    >"$E2E_TMP/mig.sse" &
CURL=$!
wait_for 10 "the pd stream did not start" sh -c "[ \$(grep -c '\"text\"' '$E2E_TMP/mig.sse') -ge 20 ]"
kill -9 "$PDPID"
wait "$CURL" || fail "the client's stream failed"
grep -q '^data: \[DONE\]' "$E2E_TMP/mig.sse" || fail "the continued stream did not end with [DONE]"
grep -q '"error"' "$E2E_TMP/mig.sse" && fail "an error event in the continued stream"
n=$(grep -c '"text"' "$E2E_TMP/mig.sse")
[ "$n" = 3000 ] || fail "the continued stream had $n tokens, want 3000"
grep -q '"completion_tokens":3000' "$E2E_TMP/mig.sse" || fail "no usage chunk of 3000 tokens"
[ "$(grep -o '"id":"[^"]*"' "$E2E_TMP/mig.sse" | sort -u | wc -l)" = 1 ] || fail "more than one id"
num_cmp "$(metric "$GW_PORT" brix_gateway_stream_migrations_total)" ">=" 1 ||
    fail "the stream ended before the kill (no migration counted)"
v=$(metric "$PC" brix:kv_transfer_pulls_total)
[ "${v:-0}" = 0 ] || fail "the continuation tried a KV pull"

# 5. the prefill engine killed: the gateway routes again without it (the
# roleset is incomplete: the combined engine), never a hang or a 5xx
kill -9 "$PPID_"
BODY=$(jq -cn --arg p "$PROMPT" '{model:"m", prompt:$p, max_tokens:8, stream:true}')
for i in 1 2 3; do
    st=$(req POST /v1/completions "$BODY")
    expect_status "$st" 200 "request $i after the prefill engine died"
    [ "$(grep -c '"text"' "$E2E_TMP/body")" = 8 ] || fail "request $i: not 8 tokens"
    [ -z "$(header x-brix-prefill-pod)" ] || fail "request $i still went through the dead prefill"
done
if grep -q "prefill engine 127.0.0.1:$PP failed" "$E2E_TMP/gateway.log"; then log "the prefill leg failed and was routed again"; else
    wait_for 5 "the gateway did not mark the prefill engine down" \
        sh -c "curl -s '$BASE/metrics' | grep -c 'engine_ready.*} 1' | grep -qx 1"
    log "the gateway saw the prefill engine down before the request"
fi
log "ok"

