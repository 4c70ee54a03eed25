#!/usr/bin/env bash
# `brix up --engine simulator` runs AIBrix-shaped Deployments written for vLLM where vLLM is not
# installed: a `vllm serve MODEL --served-model-name ... --port 8000` Deployment serves its served
# name through the gateway, with the --lora-modules adapter it preloads listed and a ModelAdapter
# on it Running and serving; a `python3 -m vllm.entrypoints.openai.api_server` one serves too; a
# Deployment with no command (AIBrix's LoRA tutorial shape: image and model label) runs the
# simulator with LoRA enabled, so its ModelAdapter goes Running. The simulator has no model to
# load: the readiness probe's initialDelaySeconds (360, as AIBrix's quickstart writes it for a
# model download) is not waited for. Without the switch, where `vllm`
# is not on PATH, the pod's event says so and names the switch.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

GP=$(free_port)
AP=$(free_port)
STATE="$E2E_TMP/state"
BASE="http://127.0.0.1:$GP"
export BRIX_SERVER="http://127.0.0.1:$AP"

cat >"$E2E_TMP/stack.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: llama2-7b
  labels:
    model.aibrix.ai/name: llama2-7b
    model.aibrix.ai/port: "8000"
spec:
  replicas: 1
  selector:
    matchLabels:
      model.aibrix.ai/name: llama2-7b
  template:
    metadata:
      labels:
        model.aibrix.ai/name: llama2-7b
    spec:
      containers:
        - name: vllm-openai
          image: vllm/vllm-openai:v0.7.1
          command:
            - vllm
            - serve
            - /models/Llama-2-7b-hf
            - --host
            - "0.0.0.0"
            - --port
            - "8000"
            - --served-model-name
            - llama2-7b
            - --max-model-len
            - "2048"
            - --enable-lora
            - --max-loras
            - "2"
            - --max-lora-rank
            - "32"
            - --lora-modules
            - text2sql=/adapters/text2sql
            - --gpu-memory-utilization
            - "0.9"
          ports:
            - containerPort: 8000
              name: serve
          readinessProbe:
            httpGet:
              path: /health
              port: serve
            initialDelaySeconds: 360
            periodSeconds: 1
---
apiVersion: model.aibrix.ai/v1alpha1
kind: ModelAdapter
metadata:
  name: chat-lora
  labels:
    model.aibrix.ai/name: chat-lora
spec:
  baseModel: llama2-7b
  podSelector:
    matchLabels:
      model.aibrix.ai/name: llama2-7b
  artifactURL: huggingface://org/chat-lora
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: qwen-coder
  labels:
    model.aibrix.ai/name: qwen-coder
spec:
  replicas: 1
  template:
    metadata:
      labels:
        model.aibrix.ai/name: qwen-coder
    spec:
      containers:
        - name: vllm-openai
          image: vllm/vllm-openai:v0.7.1
          command: ["python3", "-m", "vllm.entrypoints.openai.api_server"]
          args: ["--model", "Qwen/Qwen2.5-Coder-1.5B", "--served-model-name", "qwen-coder",
                 "--port", "8000", "--trust-remote-code"]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: qwen-base
  labels:
    model.aibrix.ai/name: qwen-base
spec:
  replicas: 1
  template:
    metadata:
      labels:
        model.aibrix.ai/name: qwen-base
        adapter.model.aibrix.ai/enabled: "true"
    spec:
      containers:
        - name: vllm-openai
          image: vllm/vllm-openai:v0.7.1
---
apiVersion: model.aibrix.ai/v1alpha1
kind: ModelAdapter
metadata:
  name: qwen-lora
spec:
  baseModel: qwen-base
  podSelector:
    matchLabels:
      model.aibrix.ai/name: qwen-base
  artifactURL: huggingface://org/qwen-lora
YAML

start_up() { # start_up LOGNAME [extra args]
    local name=$1
    shift
    up_start "$name" "$STATE" --hold-seconds 5 "$@"
}
pods_json() { "$BRIX" get pods -o json 2>/dev/null || echo '{"items":[]}'; }
ready_is() { [ "$(pods_json | jq --arg d "$1" '[.items[] | select(.deployment == $d and .phase == "Ready")] | length')" = "$2" ]; }
chat_ok() { # chat_ok MODEL
    local code
    code=$(req POST /v1/chat/completions \
        "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}],\"max_tokens\":4}")
    [ "$code" = 200 ]
}
adapter_phase() { "$BRIX" get adapters -o json | jq -r --arg n "$1" '.items[] | select(.metadata.name == $n) | .status.phase'; }
adapter_running() { [ "$(adapter_phase "$1")" = Running ]; }
event_has() { # event_has TEXT: an event's message holds TEXT
    curl -s "$BRIX_SERVER/v1/events" | jq -e --arg t "$1" '[.. | objects | select(has("message")) | .message | select(contains($t))] | length > 0' >/dev/null
}

if ! command -v vllm >/dev/null; then
    log "without the switch, vllm missing from PATH is said, with the switch named"
    start_up nosim -f "$E2E_TMP/stack.yaml"
    wait_for 20 "a FailedStart event naming the switch" event_has "vllm: not found on PATH"
    event_has "brix up --engine simulator" || fail "the event does not name the switch"
    if command -v python3 >/dev/null && ! python3 -c 'import vllm' 2>/dev/null; then
        wait_for 20 "python3 -m vllm... exiting, with the hint" event_has "where vLLM is not installed"
    fi
    ready_is qwen-base 1 || wait_for 20 "the no-command Deployment Ready" ready_is qwen-base 1
    stop_pid "$UP_PID"
    rm -rf "$STATE"
fi

log "with --engine simulator the vLLM Deployments run brix engine"
start_up sim -f "$E2E_TMP/stack.yaml" --engine=simulator
wait_for 30 "llama2-7b Ready" ready_is llama2-7b 1
wait_for 30 "qwen-coder Ready" ready_is qwen-coder 1
wait_for 15 "a chat to the served name" chat_ok llama2-7b
check "$E2E_TMP/body" '.model == "llama2-7b"' "answer names the served model"
pod=$(header target-pod)
[ -n "$pod" ] || fail "no target-pod header"
launch=$(grep -h "brix: launching" "$STATE"/logs/llama2-7b-*.log | tail -1)
grep -q -- "engine --model /models/Llama-2-7b-hf --port [0-9]* --served-model-name llama2-7b --max-model-len 2048 --enable-lora --max-loras 2 --max-lora-rank 32 --lora-modules text2sql=/adapters/text2sql --gpu-memory-utilization 0.9" <<<"$launch" ||
    fail "translated command line: $launch"
grep -q "accepted and not acted on.*--max-lora-rank 32" "$STATE"/logs/llama2-7b-*.log ||
    fail "no warning naming the options the simulator ignores"
port=$(pods_json | jq -r '.items[] | select(.deployment == "llama2-7b") | .port')
curl -s "http://127.0.0.1:$port/v1/models" | jq -e '[.data[].id] | index("llama2-7b") != null and index("text2sql") != null' >/dev/null ||
    fail "the engine does not list its served name and --lora-modules adapter: $(curl -s "http://127.0.0.1:$port/v1/models")"
code=$(curl -s -o "$E2E_TMP/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"model":"text2sql","prompt":"select","max_tokens":3}' "http://127.0.0.1:$port/v1/completions")
[ "$code" = 200 ] || fail "the preloaded adapter does not serve: $code $(cat "$E2E_TMP/body")"
wait_for 30 "chat-lora Running on the vllm serve Deployment" adapter_running chat-lora
wait_for 15 "a chat to chat-lora" chat_ok chat-lora
wait_for 15 "a chat to the python -m Deployment" chat_ok qwen-coder
log "vllm serve and python -m Deployments serve under the simulator, adapters included"

log "a Deployment without command runs the simulator with LoRA: its adapter goes Running"
wait_for 30 "qwen-base Ready" ready_is qwen-base 1
wait_for 30 "qwen-lora Running (was Failed: LoRA not enabled)" adapter_running qwen-lora
wait_for 15 "a chat to qwen-lora" chat_ok qwen-lora
# stopped here, once: the cleanup's second SIGTERM would make brix up exit without its engines
engine_pids=$(pods_json | jq -r '.items[] | select(.pid > 0) | .pid')
stop_pid "$UP_PID"
for p in $engine_pids; do
    for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && fail "engine $p left running after brix up stopped"
done
log "ok"
