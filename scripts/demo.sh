#!/usr/bin/env bash
# Runs brix's main job for a person to see: installs what is missing, builds
# (Release, in build/), starts the local stack from examples/quickstart.yaml
# (`brix up`: the gateway on :8888, the admin API on :8889, two simulated
# vLLM engines, a LoRA adapter and a KPA autoscaler), sends chat completions
# through the gateway to the base model and to the adapter, shows the
# stack with `brix get`, then stops it (engines drained and stopped).
# Ports: BRIX_DEMO_PORT (8888) and BRIX_DEMO_ADMIN_PORT (8889).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
GP=${BRIX_DEMO_PORT:-8888}
AP=${BRIX_DEMO_ADMIN_PORT:-8889}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/brix-demo.XXXXXX")
UP_PID=

cleanup() {
    if [ -n "$UP_PID" ] && kill -0 "$UP_PID" 2>/dev/null; then
        kill -TERM "$UP_PID" 2>/dev/null || true
        wait "$UP_PID" 2>/dev/null || true
        echo "== stopped brix up (log, engine logs and state in $WORK)"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== installing dependencies (if missing)"
bash scripts/deps.sh
echo "== building (Release, build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >"$WORK/cmake.log" 2>&1 ||
    { tail -n 30 "$WORK/cmake.log"; exit 1; }
cmake --build build -j"${BRIX_JOBS:-2}" --target brix >>"$WORK/cmake.log" 2>&1 ||
    { tail -n 30 "$WORK/cmake.log"; exit 1; }

for port in "$GP" "$AP"; do
    if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
        echo "port $port is in use; set BRIX_DEMO_PORT / BRIX_DEMO_ADMIN_PORT to free ports" >&2
        exit 1
    fi
done
echo "== brix up -f examples/quickstart.yaml"
build/brix up -f examples/quickstart.yaml --state "$WORK/state" --host 127.0.0.1 --port "$GP" \
    --admin-port "$AP" >"$WORK/up.log" 2>&1 &
UP_PID=$!
export BRIX_SERVER="http://127.0.0.1:$AP"

wait_until() { # wait_until SECS DESCRIPTION CMD...
    local secs=$1 what=$2 i
    shift 2
    for ((i = 0; i < secs * 5; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        kill -0 "$UP_PID" 2>/dev/null || { tail -n 30 "$WORK/up.log"; echo "brix up exited" >&2; exit 1; }
        sleep 0.2
    done
    tail -n 30 "$WORK/up.log"
    echo "timed out waiting for $what" >&2
    exit 1
}
ready2() { [ "$(build/brix get pods -o json | jq '[.items[] | select(.phase == "Ready")] | length')" -ge 2 ]; }
adapter_running() { build/brix get adapters -o json | jq -e '.items[] | select(.status.phase == "Running")'; }
chat() { # chat MODEL
    curl -sS --max-time 30 "http://127.0.0.1:$GP/v1/chat/completions" -H 'Content-Type: application/json' \
        -D "$WORK/headers" -d '{"model":"'"$1"'","messages":[{"role":"user","content":"Say hello to brix."}],"max_tokens":24}'
}
wait_until 60 "two engines Ready" ready2
wait_until 60 "the adapter loaded" adapter_running

for model in llama-3-8b sql-lora; do
    echo
    echo "== POST http://127.0.0.1:$GP/v1/chat/completions  model=$model"
    chat "$model" | jq '{model, answer: .choices[0].message.content, usage}'
    grep -iE '^(target-pod|routing-strategy):' "$WORK/headers" | tr -d '\r'
done
echo
echo "== brix get models"
build/brix get models
echo "== brix get pods"
build/brix get pods
echo "== brix get adapters"
build/brix get adapters
echo "== brix get autoscalers"
build/brix get autoscalers
echo
