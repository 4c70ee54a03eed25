#!/usr/bin/env bash
# A client that disconnects mid-stream aborts its request: the engine stops
# generating for it and frees its KV blocks (running -> 0, KV usage -> 0) long
# before the request could have finished.
# Usage: bash tests/e2e/test_engine_disconnect.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

MODEL=demo-llama
MAX_TOKENS=2000
start_engine disc --model "$MODEL" --time-scale 1
BASE="http://127.0.0.1:$ENGINE_PORT"
wait_health "$ENGINE_PORT"

g0=$(metric "$ENGINE_PORT" vllm:generation_tokens_total model_name=$MODEL)
[ -n "$g0" ] || fail "no vllm:generation_tokens_total in /metrics"
a0=$(metric "$ENGINE_PORT" vllm:request_success_total model_name=$MODEL finished_reason=abort)

# A long streaming request (2000 tokens: seconds of simulated decode at
# --time-scale 1), read by a curl we kill once the first chunks are in.
sse="$E2E_TMP/stream.sse"
curl -sN --max-time 120 -o "$sse" -H 'Content-Type: application/json' "$BASE/v1/chat/completions" \
    -d '{"model":"'$MODEL'","messages":[{"role":"user","content":"'"$(words 200)"'"}],
         "max_tokens":'$MAX_TOKENS',"ignore_eos":true,"stream":true}' &
curl_pid=$!
E2E_PIDS+=("$curl_pid")

chunks() { local n; n=$(grep -c '"content"' "$sse" 2>/dev/null); echo "${n:-0}"; }
for ((i = 0; i < 200; i++)); do
    [ "$(chunks)" -ge 5 ] && break
    kill -0 "$curl_pid" 2>/dev/null || fail "the streaming request ended before its first chunks"
    sleep 0.05
done
[ "$(chunks)" -ge 5 ] || fail "no streamed chunks within 10s"

# While it streams: one request running, KV blocks in use.
num_cmp "$(metric "$ENGINE_PORT" vllm:num_requests_running model_name=$MODEL)" '==' 1 ||
    fail "num_requests_running is not 1 while the request streams"
num_cmp "$(metric "$ENGINE_PORT" vllm:kv_cache_usage_perc model_name=$MODEL)" '>' 0 ||
    fail "kv_cache_usage_perc is 0 while a request holds blocks"

exec 3>&2 2>/dev/null # no "Killed" job notice from bash
kill -KILL "$curl_pid"
wait "$curl_pid"
exec 2>&3 3>&-
grep -q '\[DONE\]' "$sse" && fail "the stream finished before the client disconnected; raise MAX_TOKENS"

wait_metric "$ENGINE_PORT" 10 == 0 vllm:num_requests_running model_name=$MODEL
wait_metric "$ENGINE_PORT" 10 == 0 vllm:kv_cache_usage_perc model_name=$MODEL
num_cmp "$(metric "$ENGINE_PORT" vllm:gpu_cache_usage_perc model_name=$MODEL)" '==' 0 ||
    fail "gpu_cache_usage_perc is not 0 after the abort"

# The request was cut short, not run to completion.
g1=$(metric "$ENGINE_PORT" vllm:generation_tokens_total model_name=$MODEL)
gen=$(awk -v a="$g1" -v b="$g0" 'BEGIN { print a - b }')
num_cmp "$gen" '<' "$MAX_TOKENS" || fail "generated $gen tokens: the aborted request ran to completion"
num_cmp "$gen" '>=' 5 || fail "generated only $gen tokens, but 5 chunks were streamed"
# vLLM counts aborted requests as request_success_total{finished_reason="abort"}.
if [ -n "$a0" ]; then
    a1=$(metric "$ENGINE_PORT" vllm:request_success_total model_name=$MODEL finished_reason=abort)
    num_cmp "$a1" '==' "$(awk -v a="$a0" 'BEGIN { print a + 1 }')" ||
        fail "request_success_total{finished_reason=abort} went $a0 -> $a1, want +1"
fi

# The engine still serves.
code=$(req POST /v1/completions '{"model":"'$MODEL'","prompt":"still alive?","max_tokens":2}')
expect_status "$code" 200 "a request after the abort"
log "disconnect freed the request after $gen of $MAX_TOKENS tokens"
