#!/usr/bin/env bash
# brix engine speaks vLLM's OpenAI-compatible API: health, models, chat and
# completion (JSON and SSE), tokenize, embeddings, error bodies and metrics.
# Usage: bash tests/e2e/test_engine_api.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

MODEL=demo-llama
start_engine api --model "$MODEL" --max-model-len 256 --time-scale 20 --seed 7
BASE="http://127.0.0.1:$ENGINE_PORT"
wait_health "$ENGINE_PORT"
B="$E2E_TMP/body"

# --- /health: 200, empty body
code=$(req GET /health)
expect_status "$code" 200 "GET /health"
[ ! -s "$B" ] || fail "/health body should be empty, got '$(head -c 100 "$B")'"

# --- /v1/models
code=$(req GET /v1/models)
expect_status "$code" 200 "GET /v1/models"
check "$B" '.object == "list" and (.data | length) == 1' "/v1/models: a list with one model"
check "$B" ".data[0] | .id == \"$MODEL\" and .object == \"model\" and .owned_by == \"vllm\"
    and .root == \"$MODEL\" and .parent == null and .max_model_len == 256 and (.created | type) == \"number\"" \
    "/v1/models: model card of the served model"

# --- non-streaming chat
chat='{"model":"'$MODEL'","messages":[{"role":"user","content":"Tell me about the sea"}],"max_tokens":12,"ignore_eos":true}'
code=$(req POST /v1/chat/completions "$chat")
expect_status "$code" 200 "chat completion"
check "$B" '(.id | startswith("chatcmpl-")) and .object == "chat.completion" and .model == "'$MODEL'"
    and (.created | type) == "number"' "chat: id/object/model"
check "$B" '.choices | length == 1 and .[0].index == 0 and .[0].message.role == "assistant"
    and (.[0].message.content | type) == "string" and (.[0].message.content | length) > 0
    and .[0].finish_reason == "length"' "chat: one assistant choice finished by length"
check "$B" '.usage.completion_tokens == 12 and .usage.prompt_tokens > 0
    and .usage.total_tokens == .usage.prompt_tokens + .usage.completion_tokens' \
    "chat: usage with completion_tokens == max_tokens under ignore_eos"

# --- non-streaming completion (default max_tokens is 16)
code=$(req POST /v1/completions '{"model":"'$MODEL'","prompt":"Once upon a time","ignore_eos":true}')
expect_status "$code" 200 "completion"
check "$B" '(.id | startswith("cmpl-")) and .object == "text_completion" and .model == "'$MODEL'"' \
    "completion: id/object/model"
check "$B" '.choices[0].index == 0 and (.choices[0].text | type) == "string" and .choices[0].finish_reason == "length"
    and .choices[0].logprobs == null' "completion: choice shape"
check "$B" '.usage.completion_tokens == 16 and .usage.prompt_tokens > 0
    and .usage.total_tokens == .usage.prompt_tokens + .usage.completion_tokens' \
    "completion: default max_tokens 16 and consistent usage"
code=$(req POST /v1/completions '{"model":"'$MODEL'","prompt":"Once upon a time","max_tokens":5,"ignore_eos":true}')
expect_status "$code" 200 "completion with max_tokens"
check "$B" '.usage.completion_tokens == 5' "completion: completion_tokens == max_tokens (5)"

# --- streaming chat with include_usage
sse="$E2E_TMP/chat.sse"
curl -sSN --max-time 30 -H 'Content-Type: application/json' -o "$sse" -w '%{http_code}' "$BASE/v1/chat/completions" \
    -d '{"model":"'$MODEL'","messages":[{"role":"user","content":"hi"}],"max_tokens":6,"ignore_eos":true,
         "stream":true,"stream_options":{"include_usage":true}}' >"$E2E_TMP/code" || fail "streaming chat: curl failed"
expect_status "$(cat "$E2E_TMP/code")" 200 "streaming chat"
grep -v '^$' "$sse" | grep -qv '^data: ' && fail "streaming chat: a non-empty line without 'data: ' prefix"
[ "$(grep -v '^$' "$sse" | tail -n 1)" = "data: [DONE]" ] || fail "streaming chat: last event is not 'data: [DONE]'"
grep '^data: {' "$sse" | sed 's/^data: //' | jq -s . >"$E2E_TMP/chunks.json" || fail "streaming chat: a chunk is not JSON"
C="$E2E_TMP/chunks.json"
check "$C" 'length >= 3 and all(.[]; .object == "chat.completion.chunk" and (.id | startswith("chatcmpl-")))' \
    "streaming chat: every chunk is a chat.completion.chunk"
check "$C" '(map(.id) | unique | length) == 1' "streaming chat: one id for all chunks"
check "$C" '.[0].choices[0].delta.role == "assistant"' "streaming chat: first delta has role assistant"
check "$C" '.[-1].choices == [] and .[-1].usage.completion_tokens == 6
    and .[-1].usage.total_tokens == .[-1].usage.prompt_tokens + 6' "streaming chat: final usage chunk"
check "$C" '[.[] | select(.choices | length > 0) | .choices[0].finish_reason | select(. != null)] == ["length"]' \
    "streaming chat: exactly one finish_reason (length)"
check "$C" '[.[] | select(.choices | length > 0) | .choices[0].delta.content // ""] | join("") | length > 0' \
    "streaming chat: content was streamed"
check "$C" '[.[:-1][] | has("usage") and .usage != null] | any | not' \
    "streaming chat: usage only on the final chunk without continuous_usage_stats"

# --- streaming completion without include_usage
sse="$E2E_TMP/cmpl.sse"
curl -sSN --max-time 30 -H 'Content-Type: application/json' -o "$sse" "$BASE/v1/completions" \
    -d '{"model":"'$MODEL'","prompt":"count","max_tokens":4,"ignore_eos":true,"stream":true}' ||
    fail "streaming completion: curl failed"
[ "$(grep -v '^$' "$sse" | tail -n 1)" = "data: [DONE]" ] || fail "streaming completion: no final [DONE]"
grep '^data: {' "$sse" | sed 's/^data: //' | jq -s . >"$C" || fail "streaming completion: a chunk is not JSON"
check "$C" 'all(.[]; .object == "text_completion" and (.id | startswith("cmpl-")) and (.choices | length) == 1)' \
    "streaming completion: text_completion chunks with one choice"
check "$C" '[.[] | .choices[0].finish_reason | select(. != null)] == ["length"]' \
    "streaming completion: one finish_reason"
check "$C" 'all(.[]; (.usage // null) == null)' "streaming completion: no usage chunk unless asked"

# --- /tokenize
code=$(req POST /tokenize '{"model":"'$MODEL'","prompt":"hello brave new world"}')
expect_status "$code" 200 "tokenize"
check "$B" '.count > 0 and (.tokens | length) == .count and all(.tokens[]; type == "number") and .max_model_len == 256' \
    "tokenize: count matches tokens"
n_short=$(jq .count "$B")
code=$(req POST /tokenize '{"model":"'$MODEL'","prompt":"hello brave new world hello brave new world"}')
check "$B" ".count > $n_short" "tokenize: a longer prompt has more tokens"

# --- /v1/embeddings: deterministic
emb='{"model":"'$MODEL'","input":"the same sentence"}'
code=$(req POST /v1/embeddings "$emb")
expect_status "$code" 200 "embeddings"
check "$B" '.object == "list" and .data[0].object == "embedding" and .data[0].index == 0
    and (.data[0].embedding | length) > 0 and all(.data[0].embedding[]; type == "number")
    and .usage.prompt_tokens > 0' "embeddings: shape"
jq -c .data[0].embedding "$B" >"$E2E_TMP/emb1"
req POST /v1/embeddings "$emb" >/dev/null
jq -c .data[0].embedding "$B" >"$E2E_TMP/emb2"
cmp -s "$E2E_TMP/emb1" "$E2E_TMP/emb2" || fail "embeddings: the same input gave different vectors"
req POST /v1/embeddings '{"model":"'$MODEL'","input":"a different sentence"}' >/dev/null
jq -c .data[0].embedding "$B" >"$E2E_TMP/emb3"
cmp -s "$E2E_TMP/emb1" "$E2E_TMP/emb3" && fail "embeddings: different inputs gave the same vector"
code=$(req POST /v1/embeddings '{"model":"'$MODEL'","input":["one","two"]}')
expect_status "$code" 200 "embeddings with a list input"
check "$B" '(.data | length) == 2 and .data[1].index == 1' "embeddings: one vector per input"

# --- errors
code=$(req POST /v1/chat/completions '{"model": "'$MODEL'", "messages": [')
expect_status "$code" 400 "malformed JSON"
check "$B" '.error | (.message | type) == "string" and (.type | type) == "string" and has("param") and .code == 400' \
    "malformed JSON: OpenAI error body"
code=$(req POST /v1/completions '{"model":"nosuch","prompt":"hi"}')
expect_status "$code" 404 "unknown model"
check "$B" '.error.message == "The model `nosuch` does not exist." and .error.code == 404' \
    "unknown model: vLLM's message"
code=$(req POST /v1/chat/completions '{"model":"nosuch","messages":[{"role":"user","content":"hi"}]}')
expect_status "$code" 404 "unknown model (chat)"
long=$(words 600)
code=$(req POST /v1/completions '{"model":"'$MODEL'","prompt":"'"$long"'","max_tokens":4}')
expect_status "$code" 400 "prompt longer than --max-model-len"
check "$B" '.error.code == 400 and (.error.message | test("256"))' "context overflow: message names max_model_len"
code=$(req POST /v1/completions '{"model":"'$MODEL'","prompt":"hi","max_tokens":1000}')
expect_status "$code" 400 "prompt + max_tokens beyond --max-model-len"

# --- /version
code=$(req GET /version)
expect_status "$code" 200 "GET /version"
check "$B" '.version | type == "string"' "version: {version}"

# --- /metrics: valid exposition with vLLM's names, counters grow
code=$(req GET /metrics)
expect_status "$code" 200 "GET /metrics"
cp "$B" "$E2E_TMP/metrics1.txt"
check_exposition "$E2E_TMP/metrics1.txt"
for s in "vllm:num_requests_running model_name=$MODEL" "vllm:num_requests_waiting model_name=$MODEL" \
    "vllm:prompt_tokens_total model_name=$MODEL" "vllm:generation_tokens_total model_name=$MODEL" \
    "vllm:time_to_first_token_seconds_bucket model_name=$MODEL le=+Inf" \
    "vllm:e2e_request_latency_seconds_count model_name=$MODEL" \
    "vllm:kv_cache_usage_perc model_name=$MODEL" "vllm:gpu_cache_usage_perc model_name=$MODEL" \
    "vllm:request_success_total model_name=$MODEL finished_reason=length"; do
    v=$(metric_in $s <"$E2E_TMP/metrics1.txt")
    [ -n "$v" ] || fail "/metrics lacks $s"
done
p1=$(metric_in vllm:prompt_tokens_total model_name=$MODEL <"$E2E_TMP/metrics1.txt")
g1=$(metric_in vllm:generation_tokens_total model_name=$MODEL <"$E2E_TMP/metrics1.txt")
t1=$(metric_in vllm:time_to_first_token_seconds_count model_name=$MODEL <"$E2E_TMP/metrics1.txt")
s1=$(metric_in vllm:request_success_total model_name=$MODEL finished_reason=length <"$E2E_TMP/metrics1.txt")
num_cmp "$(metric_in vllm:kv_cache_usage_perc model_name=$MODEL <"$E2E_TMP/metrics1.txt")" '==' 0 ||
    fail "kv_cache_usage_perc not 0 while idle"
grep -q '^# TYPE vllm:time_to_first_token_seconds histogram' "$E2E_TMP/metrics1.txt" ||
    fail "/metrics: TTFT is not typed histogram"
grep -q '^# TYPE vllm:prompt_tokens_total counter' "$E2E_TMP/metrics1.txt" ||
    grep -q '^# TYPE vllm:prompt_tokens counter' "$E2E_TMP/metrics1.txt" ||
    fail "/metrics: prompt_tokens is not typed counter"

code=$(req POST /v1/completions '{"model":"'$MODEL'","prompt":"one more request please","max_tokens":7,"ignore_eos":true}')
expect_status "$code" 200 "completion before the second scrape"
ptoks=$(jq .usage.prompt_tokens "$B")
req GET /metrics >/dev/null
cp "$B" "$E2E_TMP/metrics2.txt"
p2=$(metric_in vllm:prompt_tokens_total model_name=$MODEL <"$E2E_TMP/metrics2.txt")
g2=$(metric_in vllm:generation_tokens_total model_name=$MODEL <"$E2E_TMP/metrics2.txt")
t2=$(metric_in vllm:time_to_first_token_seconds_count model_name=$MODEL <"$E2E_TMP/metrics2.txt")
s2=$(metric_in vllm:request_success_total model_name=$MODEL finished_reason=length <"$E2E_TMP/metrics2.txt")
num_cmp "$p2" '==' "$(awk -v a="$p1" -v b="$ptoks" 'BEGIN{print a+b}')" ||
    fail "prompt_tokens_total went $p1 -> $p2, want +$ptoks"
num_cmp "$g2" '==' "$(awk -v a="$g1" 'BEGIN{print a+7}')" || fail "generation_tokens_total went $g1 -> $g2, want +7"
num_cmp "$t2" '==' "$(awk -v a="$t1" 'BEGIN{print a+1}')" || fail "TTFT histogram count went $t1 -> $t2, want +1"
num_cmp "$s2" '==' "$(awk -v a="$s1" 'BEGIN{print a+1}')" || fail "request_success_total{length} went $s1 -> $s2, want +1"
num_cmp "$(metric_in vllm:num_requests_running model_name=$MODEL <"$E2E_TMP/metrics2.txt")" '==' 0 ||
    fail "num_requests_running not 0 after every request finished"

# --- --served-model-name: the API name differs from the model path (root)
start_engine served --model /models/llama-3-8b --served-model-name chat-8b --time-scale 20
BASE="http://127.0.0.1:$ENGINE_PORT"
wait_health "$ENGINE_PORT"
code=$(req GET /v1/models)
expect_status "$code" 200 "GET /v1/models (served name)"
check "$B" '.data | length == 1 and .[0].id == "chat-8b" and .[0].root == "/models/llama-3-8b" and .[0].parent == null' \
    "models: id = --served-model-name, root = --model"
code=$(req POST /v1/completions '{"model":"chat-8b","prompt":"hi","max_tokens":2}')
expect_status "$code" 200 "completion to the served name"
check "$B" '.model == "chat-8b"' "completion: model is the served name"
[ -n "$(metric "$ENGINE_PORT" vllm:num_requests_running model_name=chat-8b)" ] ||
    fail "metrics: model_name label is not the served name"

log "all API checks passed"
