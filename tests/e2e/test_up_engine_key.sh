#!/usr/bin/env bash
# AIBrix samples run vLLM with --api-key: under `brix up --engine simulator` the gateway learns
# each Deployment's engine key from its command line (`--api-key K` or `--api-key=K`) and sends it
# as Bearer on its /v1/models discovery, /metrics scrapes and forwarded requests, so a chat through
# the gateway is 200 (it was 404 "model does not exist": discovery got 401). The key is a secret:
# it is not in `brix get pods -o json`, `brix describe deploy` (shown <redacted>), the gateway's
# /metrics, brix up's stderr nor the pod log's launch line. `brix gateway --backend` takes the key
# with --backend-api-key (or $BRIX_BACKEND_API_KEY). A ModelAdapter on a keyed Deployment goes
# Running: the adapter controller sends the engine's key too.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

GP=$(free_port)
AP=$(free_port)
STATE="$E2E_TMP/state"
BASE="http://127.0.0.1:$GP"
export BRIX_SERVER="http://127.0.0.1:$AP"
K1=sk-e2eSecretOne4242
K2=sk-e2eSecretTwo4343

cat >"$E2E_TMP/stack.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: keyed-a
  labels:
    model.aibrix.ai/name: keyed-a
    model.aibrix.ai/port: "8000"
spec:
  replicas: 1
  selector:
    matchLabels:
      model.aibrix.ai/name: keyed-a
  template:
    metadata:
      labels:
        model.aibrix.ai/name: keyed-a
    spec:
      containers:
        - name: vllm-openai
          image: vllm/vllm-openai:v0.7.1
          command:
            - python3
            - -m
            - vllm.entrypoints.openai.api_server
            - --host
            - "0.0.0.0"
            - --port
            - "8000"
            - --model
            - /models/deepseek-coder-6.7b-instruct
            - --served-model-name
            - keyed-a
            - --api-key
            - $K1
          ports:
            - containerPort: 8000
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: keyed-b
  labels:
    model.aibrix.ai/name: keyed-b
spec:
  replicas: 1
  template:
    metadata:
      labels:
        model.aibrix.ai/name: keyed-b
    spec:
      containers:
        - name: vllm-openai
          image: vllm/vllm-openai:v0.7.1
          command: ["vllm", "serve", "/models/qwen", "--served-model-name", "keyed-b",
                    "--port", "8000", "--enable-lora", "--api-key=$K2"]
---
apiVersion: model.aibrix.ai/v1alpha1
kind: ModelAdapter
metadata:
  name: keyed-lora
spec:
  baseModel: keyed-b
  podSelector:
    matchLabels:
      model.aibrix.ai/name: keyed-b
  artifactURL: huggingface://org/keyed-lora
YAML

pods_json() { "$BRIX" get pods -o json 2>/dev/null || echo '{"items":[]}'; }
ready_is() { [ "$(pods_json | jq --arg d "$1" '[.items[] | select(.deployment == $d and .phase == "Ready")] | length')" = "$2" ]; }
chat_ok() { # chat_ok MODEL [AUTH]: a chat through the gateway is 200
    local code
    code=$(curl -s --max-time 5 -o "$E2E_TMP/body" -w '%{http_code}' -H 'Content-Type: application/json' \
        ${2:+-H "Authorization: $2"} "$BASE/v1/chat/completions" \
        -d "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],\"max_tokens\":4}")
    [ "$code" = 200 ]
}
wait_chat() { # wait_chat MSG MODEL [AUTH]: chat_ok within 20 s (a held request times out at 5 s)
    local msg=$1 end=$((SECONDS + 20))
    shift
    while ((SECONDS < end)); do
        chat_ok "$@" && return 0
        sleep 0.2
    done
    fail "$msg: last answer $(cat "$E2E_TMP/body" 2>/dev/null)"
}
no_key() { # no_key WHAT FILE: neither key is in FILE
    if grep -q -e "$K1" -e "$K2" "$2"; then fail "$1 shows an engine key: $(grep -e "$K1" -e "$K2" "$2" | head -3)"; fi
}

log "brix up: vLLM Deployments with --api-key K and --api-key=K serve through the gateway"
up_start up "$STATE" -f "$E2E_TMP/stack.yaml" --engine simulator
wait_for 30 "keyed-a Ready" ready_is keyed-a 1
wait_for 30 "keyed-b Ready" ready_is keyed-b 1
port_a=$(pods_json | jq -r '.items[] | select(.deployment == "keyed-a") | .port')
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_a/v1/models")
[ "$code" = 401 ] || fail "the engine runs without its key: GET /v1/models without it gave $code"
wait_chat "a chat to keyed-a (--api-key K)" keyed-a
check "$E2E_TMP/body" '.model == "keyed-a"' "the answer names keyed-a"
wait_chat "a chat to keyed-b (--api-key=K)" keyed-b
adapter_running() { [ "$("$BRIX" get adapters -o json | jq -r '.items[] | select(.metadata.name == "keyed-lora") | .status.phase')" = Running ]; }
wait_for 30 "keyed-lora Running: the adapter controller loads it with the engine's key" adapter_running
wait_chat "a chat to keyed-lora" keyed-lora
chat_ok keyed-a "Bearer not-the-engine-key" || fail "a client's own Authorization replaced the engine key: $(cat "$E2E_TMP/body")"

log "the key is in none of the outputs"
pods_json >"$E2E_TMP/pods.json"
jq -e '.items | length == 2' "$E2E_TMP/pods.json" >/dev/null || fail "pods: $(cat "$E2E_TMP/pods.json")"
no_key "brix get pods -o json" "$E2E_TMP/pods.json"
"$BRIX" describe deploy keyed-a >"$E2E_TMP/desc_a" 2>&1 || fail "describe: $(cat "$E2E_TMP/desc_a")"
"$BRIX" describe deploy keyed-b >"$E2E_TMP/desc_b" 2>&1 || fail "describe: $(cat "$E2E_TMP/desc_b")"
no_key "brix describe deploy" "$E2E_TMP/desc_a"
no_key "brix describe deploy" "$E2E_TMP/desc_b"
grep -q -- "--api-key <redacted>" "$E2E_TMP/desc_a" || fail "describe: no redacted key: $(grep Command "$E2E_TMP/desc_a")"
grep -q -- "--api-key=<redacted>" "$E2E_TMP/desc_b" || fail "describe: no redacted key: $(grep Command "$E2E_TMP/desc_b")"
curl -s "$BASE/metrics" >"$E2E_TMP/metrics"
grep -q . "$E2E_TMP/metrics" || fail "no gateway /metrics"
no_key "the gateway's /metrics" "$E2E_TMP/metrics"
curl -s "$BRIX_SERVER/v1/events" >"$E2E_TMP/events"
no_key "the events" "$E2E_TMP/events"
grep -h "brix: launching" "$STATE"/logs/keyed-*.log >"$E2E_TMP/launch"
grep -q -- "--api-key <redacted>" "$E2E_TMP/launch" || fail "launch line: $(cat "$E2E_TMP/launch")"
no_key "the pod log's launch line" "$E2E_TMP/launch"
stop_pid "$UP_PID"
no_key "brix up's stderr" "$E2E_TMP/up.log"

log "brix gateway --backend: a keyed engine needs --backend-api-key"
start_engine keyed --model m --api-key "$K1"
EP=$ENGINE_PORT
G1=$(free_port)
"$BRIX" gateway --host 127.0.0.1 --port "$G1" --backend "http://127.0.0.1:$EP" \
    --models-interval-ms 200 >"$E2E_TMP/gw_nokey.log" 2>&1 &
E2E_PIDS+=($!)
E2E_LOGS+=("$E2E_TMP/gw_nokey.log")
wait_ready "http://127.0.0.1:$G1/healthz"
BASE="http://127.0.0.1:$G1"
sleep 1 # a few discovery polls, all 401
chat_ok m && fail "a keyed engine served through a gateway that lacks its key"
G2=$(free_port)
BRIX_BACKEND_API_KEY=unused "$BRIX" gateway --host 127.0.0.1 --port "$G2" \
    --backend "http://127.0.0.1:$EP" --backend-api-key "$K1" --api-key gw-client-key \
    >"$E2E_TMP/gw_key.log" 2>&1 &
E2E_PIDS+=($!)
E2E_LOGS+=("$E2E_TMP/gw_key.log")
wait_ready "http://127.0.0.1:$G2/healthz"
BASE="http://127.0.0.1:$G2"
wait_chat "a chat through --backend-api-key (client sends the gateway's key)" m "Bearer gw-client-key"
chat_ok m && fail "the gateway's own --api-key is not enforced"
curl -s -H "Authorization: Bearer gw-client-key" "$BASE/metrics" >"$E2E_TMP/gw_metrics"
no_key "brix gateway's /metrics" "$E2E_TMP/gw_metrics"
G3=$(free_port)
BRIX_BACKEND_API_KEY="$K1" "$BRIX" gateway --host 127.0.0.1 --port "$G3" \
    --backend "http://127.0.0.1:$EP" >"$E2E_TMP/gw_env.log" 2>&1 &
E2E_PIDS+=($!)
E2E_LOGS+=("$E2E_TMP/gw_env.log")
wait_ready "http://127.0.0.1:$G3/healthz"
BASE="http://127.0.0.1:$G3"
wait_chat "a chat through \$BRIX_BACKEND_API_KEY" m
for f in gw_nokey gw_key gw_env; do no_key "brix gateway's log" "$E2E_TMP/$f.log"; done
log "ok"
