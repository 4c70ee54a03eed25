#!/usr/bin/env bash
# Runs brix for a person to see: installs what is missing, builds (Release, in
# build/), starts two simulated vLLM engines on 127.0.0.1:8001 and :8002, sends
# each a chat completion, shows the answers and a few of their vLLM metrics,
# then stops them. Ports: BRIX_DEMO_PORTS="8001 8002".
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
read -r -a PORTS <<<"${BRIX_DEMO_PORTS:-8001 8002}"
MODEL=demo-llama
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/brix-demo.XXXXXX")
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    [ ${#PIDS[@]} -eq 0 ] || echo "stopped ${#PIDS[@]} engines (logs in $LOGDIR)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== installing dependencies (if missing)"
bash scripts/deps.sh
echo "== building (Release, build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >"$LOGDIR/cmake.log" 2>&1 ||
    { tail -n 30 "$LOGDIR/cmake.log"; exit 1; }
cmake --build build -j"${BRIX_JOBS:-2}" --target brix >>"$LOGDIR/cmake.log" 2>&1 ||
    { tail -n 30 "$LOGDIR/cmake.log"; exit 1; }

for port in "${PORTS[@]}"; do
    if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
        echo "port $port is already in use; set BRIX_DEMO_PORTS to two free ports" >&2
        exit 1
    fi
    build/brix engine --model "$MODEL" --host 127.0.0.1 --port "$port" --profile llama3-8b-h100 \
        --seed "$port" >"$LOGDIR/engine-$port.log" 2>&1 &
    PIDS+=($!)
    echo "== started brix engine on :$port (pid $!)"
done

for port in "${PORTS[@]}"; do
    for ((i = 0; i < 100; i++)); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/health")" = 200 ] && break
        sleep 0.1
    done
    [ "$i" -lt 100 ] || { tail -n 20 "$LOGDIR/engine-$port.log"; echo "engine :$port not healthy" >&2; exit 1; }
done

for port in "${PORTS[@]}"; do
    echo
    echo "== POST http://127.0.0.1:$port/v1/chat/completions"
    curl -sS --max-time 30 "http://127.0.0.1:$port/v1/chat/completions" -H 'Content-Type: application/json' \
        -d '{"model":"'$MODEL'","messages":[{"role":"user","content":"Say hello to brix."}],"max_tokens":24}' |
        jq '{id, model, answer: .choices[0].message.content, finish_reason: .choices[0].finish_reason, usage}'
    echo "== GET http://127.0.0.1:$port/metrics (a few lines)"
    curl -sS --max-time 5 "http://127.0.0.1:$port/metrics" |
        grep -E '^vllm:(num_requests_running|kv_cache_usage_perc|prompt_tokens_total|generation_tokens_total|time_to_first_token_seconds_(sum|count)|e2e_request_latency_seconds_count)\{'
done
echo
