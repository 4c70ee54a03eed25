#!/usr/bin/env bash
# Runtime LoRA adapters on brix engine, as vLLM serves them with
# VLLM_ALLOW_RUNTIME_LORA_UPDATING: load/unload bodies and status codes,
# /v1/models cards, requests to an adapter, vllm:lora_requests_info; without
# that variable or --allow-runtime-lora the endpoints do not exist (404).
# Usage: bash tests/e2e/test_engine_lora.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

MODEL=demo-llama
VLLM_ALLOW_RUNTIME_LORA_UPDATING=True start_engine lora --model "$MODEL" --enable-lora --max-loras 2 \
    --max-cpu-loras 4 --lora-load-seconds 0.05 --time-scale 20
BASE="http://127.0.0.1:$ENGINE_PORT"
wait_health "$ENGINE_PORT"
B="$E2E_TMP/body"

# --- load
code=$(req POST /v1/load_lora_adapter '{"lora_name":"sql","lora_path":"/models/sql"}')
expect_status "$code" 200 "load sql"
[ "$(cat "$B")" = "Success: LoRA adapter 'sql' added successfully." ] ||
    fail "load sql: body '$(head -c 200 "$B")', want vLLM's plain-text success line"
code=$(req POST /v1/load_lora_adapter '{"lora_name":"sql","lora_path":"/models/sql"}')
expect_status "$code" 400 "loading sql twice"
check "$B" '.error.code == 400 and (.error.message | test("sql"))' "loading twice: error body names the adapter"

# --- /v1/models lists the adapter
code=$(req GET /v1/models)
expect_status "$code" 200 "GET /v1/models"
check "$B" '(.data | length) == 2' "models: base + 1 adapter"
check "$B" '.data[] | select(.id == "sql") | .parent == "'$MODEL'" and .root == "/models/sql"
    and .owned_by == "vllm" and .object == "model"' "models: adapter card (parent = base, root = path)"
check "$B" '.data[] | select(.id == "'$MODEL'") | .parent == null' "models: base card keeps parent null"

# --- requests to the adapter
code=$(req POST /v1/chat/completions '{"model":"sql","messages":[{"role":"user","content":"select all rows"}],"max_tokens":4,"ignore_eos":true}')
expect_status "$code" 200 "chat to adapter sql"
check "$B" '.model == "sql" and .usage.completion_tokens == 4 and (.choices[0].message.content | length) > 0' \
    "chat to adapter: model is the adapter name"
code=$(req POST /v1/completions '{"model":"sql","prompt":"select","max_tokens":3,"ignore_eos":true}')
expect_status "$code" 200 "completion to adapter sql"
code=$(req POST /v1/chat/completions '{"model":"nosuch-adapter","messages":[{"role":"user","content":"x"}]}')
expect_status "$code" 404 "request to an unknown adapter"
check "$B" '.error.message == "The model `nosuch-adapter` does not exist." and .error.code == 404' \
    "unknown adapter: vLLM's message"

# --- metrics: lora_requests_info (labels max_lora, running/waiting adapters)
code=$(req GET /metrics)
expect_status "$code" 200 "GET /metrics"
cp "$B" "$E2E_TMP/metrics.txt"
check_exposition "$E2E_TMP/metrics.txt"
grep -q '^# TYPE vllm:lora_requests_info gauge' "$E2E_TMP/metrics.txt" || fail "metrics: no vllm:lora_requests_info gauge"
grep -E '^vllm:lora_requests_info\{' "$E2E_TMP/metrics.txt" | grep -q 'max_lora="2"' ||
    fail "metrics: lora_requests_info lacks max_lora=\"2\""
grep -E '^vllm:lora_requests_info\{' "$E2E_TMP/metrics.txt" | grep 'running_lora_adapters=' | grep -q 'waiting_lora_adapters=' ||
    fail "metrics: lora_requests_info lacks running/waiting_lora_adapters labels"

# While a request to sql runs, lora_requests_info names sql as running.
curl -sN --max-time 60 -o /dev/null -H 'Content-Type: application/json' "$BASE/v1/completions" \
    -d '{"model":"sql","prompt":"long","max_tokens":4000,"ignore_eos":true,"stream":true}' &
long_pid=$!
E2E_PIDS+=("$long_pid")
seen=0
for ((i = 0; i < 100; i++)); do
    if curl -s --max-time 5 "$BASE/metrics" | grep -E '^vllm:lora_requests_info\{' | grep -q 'running_lora_adapters="sql"'; then
        seen=1
        break
    fi
    sleep 0.1
done
[ "$seen" = 1 ] || fail "metrics: lora_requests_info never showed running_lora_adapters=\"sql\" during a request"
stop_pid "$long_pid"
wait_metric "$ENGINE_PORT" 20 == 0 vllm:num_requests_running model_name=$MODEL

# --- a second adapter, then unload
code=$(req POST /v1/load_lora_adapter '{"lora_name":"chat2","lora_path":"/models/chat2"}')
expect_status "$code" 200 "load chat2"
code=$(req GET /v1/models)
check "$B" '[.data[].id] | sort == (["'$MODEL'","chat2","sql"] | sort)' "models: base + sql + chat2"

code=$(req POST /v1/unload_lora_adapter '{"lora_name":"sql"}')
expect_status "$code" 200 "unload sql"
[ "$(cat "$B")" = "Success: LoRA adapter 'sql' removed successfully." ] ||
    fail "unload sql: body '$(head -c 200 "$B")', want vLLM's plain-text success line"
code=$(req POST /v1/unload_lora_adapter '{"lora_name":"sql"}')
expect_status "$code" 404 "unloading sql twice"
check "$B" '.error.code == 404' "unloading twice: OpenAI error body"
code=$(req GET /v1/models)
check "$B" '[.data[].id] | index("sql") == null' "models: sql gone after unload"
code=$(req POST /v1/chat/completions '{"model":"sql","messages":[{"role":"user","content":"x"}]}')
expect_status "$code" 404 "request to an unloaded adapter"

# --- malformed requests
code=$(req POST /v1/load_lora_adapter '{"lora_name":"x"}')
expect_status "$code" 400 "load without lora_path"
check "$B" '.error.code == 400' "load without lora_path: error body"
code=$(req POST /v1/load_lora_adapter '{"lora_path":"/models/x"}')
expect_status "$code" 400 "load without lora_name"
code=$(req POST /v1/unload_lora_adapter '{}')
expect_status "$code" 400 "unload without lora_name"
code=$(req POST /v1/load_lora_adapter '{"lora_name":')
expect_status "$code" 400 "load with malformed JSON"

# --- an engine without --enable-lora has no runtime endpoints (vLLM: 404)
start_engine nolora --model "$MODEL" --time-scale 20
wait_health "$ENGINE_PORT"
BASE="http://127.0.0.1:$ENGINE_PORT"
code=$(req POST /v1/load_lora_adapter '{"lora_name":"sql","lora_path":"/models/sql"}')
[ "$code" = 404 ] || [ "$code" = 400 ] || fail "load_lora_adapter without --enable-lora: status $code, want 404 (or 400)"

# --- --enable-lora alone serves adapters, not the runtime endpoints (vLLM: 404)
start_engine lorafixed --model "$MODEL" --enable-lora --lora-modules sql=/models/sql --time-scale 20
wait_health "$ENGINE_PORT"
BASE="http://127.0.0.1:$ENGINE_PORT"
for ep in load_lora_adapter unload_lora_adapter; do
    code=$(req POST "/v1/$ep" '{"lora_name":"x","lora_path":"/models/x"}')
    expect_status "$code" 404 "$ep with --enable-lora but no runtime updating"
done
code=$(req POST /v1/completions '{"model":"sql","prompt":"hi","max_tokens":2}')
expect_status "$code" 200 "a --lora-modules adapter still serves"
VLLM_ALLOW_RUNTIME_LORA_UPDATING=0 start_engine lorazero --model "$MODEL" --enable-lora --time-scale 20
wait_health "$ENGINE_PORT"
BASE="http://127.0.0.1:$ENGINE_PORT"
code=$(req POST /v1/load_lora_adapter '{"lora_name":"x","lora_path":"/models/x"}')
expect_status "$code" 404 "load_lora_adapter with VLLM_ALLOW_RUNTIME_LORA_UPDATING=0"
start_engine loraflag --model "$MODEL" --enable-lora --allow-runtime-lora --lora-load-seconds 0.01 \
    --time-scale 20
wait_health "$ENGINE_PORT"
BASE="http://127.0.0.1:$ENGINE_PORT"
code=$(req POST /v1/load_lora_adapter '{"lora_name":"x","lora_path":"/models/x"}')
expect_status "$code" 200 "load_lora_adapter with --allow-runtime-lora"

log "all LoRA checks passed"
