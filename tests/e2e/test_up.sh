#!/usr/bin/env bash
# `brix up` end to end, with real engine processes it launches: requests
# through the gateway; an engine killed is replaced; a LoRA adapter applied
# is loaded on an engine and serves (from a hub id, and downloaded from an
# http URL with its checksum checked); a burst makes KPA scale up and quiet
# scales it back down; a model at zero replicas serves its first request
# (held, then a replica is started); the CLI (apply/get/describe/delete);
# a restart of `brix up` adopts the running engines and keeps the state
# (objects, adapters, the autoscaler's strategy state).
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
  name: llm
  labels:
    model.aibrix.ai/name: llm
  annotations:
    brix.ai/drain-grace-seconds: "5"
spec:
  replicas: 2
  template:
    metadata:
      labels:
        model.aibrix.ai/name: llm
    spec:
      containers:
        - name: engine
          command: ["{brix}", "engine"]
          args: ["--port", "{port}", "--model", "{model}", "--enable-lora", "--max-loras", "4",
                 "--seed", "{replica}"]
---
apiVersion: model.aibrix.ai/v1alpha1
kind: ModelAdapter
metadata:
  name: sql-lora
spec:
  baseModel: llm
  podSelector:
    matchLabels:
      model.aibrix.ai/name: llm
  artifactURL: huggingface://org/sql-lora
  replicas: 1
---
apiVersion: autoscaling.aibrix.ai/v1alpha1
kind: PodAutoscaler
metadata:
  name: llm-kpa
  annotations:
    autoscaling.aibrix.ai/scale-down-cooldown-window: "2s"
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: llm
  minReplicas: 2
  maxReplicas: 4
  scalingStrategy: KPA
  observeWindowSeconds: 4
  panicWindowSeconds: 2
  metricsSources:
    - metricSourceType: pod
      protocolType: http
      port: "8000"
      path: /metrics
      targetMetric: num_requests_running
      targetValue: "2"
YAML

start_up() { # start_up LOGNAME [extra args]
    local name=$1
    shift
    up_start "$name" "$STATE" --hold-seconds 20 "$@"
}

# pods_json: the live pods as JSON (GET /v1/pods through the CLI)
pods_json() { "$BRIX" get pods -o json 2>/dev/null || echo '{"items":[]}'; }

# wait_for SECS MSG CMD...: until CMD succeeds

ready_pods() { # ready_pods DEPLOYMENT -> count of Ready pods
    pods_json | jq --arg d "$1" '[.items[] | select(.deployment == $d and .phase == "Ready")] | length'
}
ready_is() { [ "$(ready_pods "$1")" = "$2" ]; }
ready_at_least() { [ "$(ready_pods "$1")" -ge "$2" ]; }
ready_at_most() { [ "$(ready_pods "$1")" -le "$2" ] && [ "$(pods_json | jq --arg d "$1" '[.items[] | select(.deployment == $d)] | length')" -le "$2" ]; }
chat_ok() { # chat_ok MODEL
    local code
    code=$(req POST /v1/chat/completions \
        "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}],\"max_tokens\":4}")
    [ "$code" = 200 ]
}

log "starting brix up with a bad file: refused, naming the field"
printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\n  labels: {model.aibrix.ai/name: m}\nspec:\n  replicas: -1\n' >"$E2E_TMP/bad.yaml"
"$BRIX" up --state "$E2E_TMP/badstate" --port "$(free_port)" --admin-port "$(free_port)" \
    -f "$E2E_TMP/bad.yaml" >"$E2E_TMP/bad.log" 2>&1 && fail "brix up accepted an invalid deployment"
grep -q "spec.replicas" "$E2E_TMP/bad.log" || fail "error does not name the field: $(cat "$E2E_TMP/bad.log")"

log "starting brix up on the stack"
start_up up1 -f "$E2E_TMP/stack.yaml"
wait_for 30 "two engines Ready" ready_is llm 2
wait_for 15 "a chat through the gateway" chat_ok llm
check "$E2E_TMP/body" '.choices[0].message.content | length > 0' "chat answer has content"
# AIBrix's answer headers: target-pod names the replica as `brix get pods`
# shows it, target-pod-ip is its address
tp=$(header target-pod)
[ -n "$tp" ] || fail "no target-pod header"
pods_json | jq -e --arg n "$tp" --arg a "$(header target-pod-ip)" \
    '[.items[] | select(.name == $n and .url == "http://" + $a)] | length == 1' >/dev/null ||
    fail "target-pod '$tp' / target-pod-ip '$(header target-pod-ip)' is no pod: $(pods_json)"
# the engine's group (its GPU type, for the slo strategies) is its Deployment
[ "$(header x-brix-gpu-group)" = llm ] || fail "x-brix-gpu-group '$(header x-brix-gpu-group)', want llm"

log "the CLI shows the deployment and its pods"
"$BRIX" get models >"$E2E_TMP/get.txt" || fail "brix get models failed"
grep -q "^llm " "$E2E_TMP/get.txt" || fail "brix get models: $(cat "$E2E_TMP/get.txt")"
"$BRIX" describe deployment llm >"$E2E_TMP/describe.txt" || fail "brix describe failed"
grep -q "Ready" "$E2E_TMP/describe.txt" || fail "describe shows no Ready event: $(head -c 1500 "$E2E_TMP/describe.txt")"

log "the adapter is loaded on one engine and serves"
adapter_running() { "$BRIX" get adapters -o json | jq -e '.items[] | select(.metadata.name == "sql-lora") | .status.phase == "Running"' >/dev/null 2>&1; }
wait_for 30 "adapter Running" adapter_running
wait_for 15 "a chat to the adapter" chat_ok sql-lora
lora_pod=$(header target-pod-ip)
[ -n "$lora_pod" ] || fail "no target-pod-ip for the adapter"
curl -s "http://$lora_pod/v1/models" | jq -e '.data[] | select(.id == "sql-lora")' >/dev/null ||
    fail "the engine the adapter was routed to does not list it"

log "an engine killed with SIGKILL is replaced"
victim=$(pods_json | jq -r '[.items[] | select(.deployment == "llm" and .phase == "Ready")][0].pid')
[ "$victim" -gt 0 ] 2>/dev/null || fail "no pid for a Ready pod"
kill -9 "$victim"
replaced() {
    pods_json | jq -e --argjson v "$victim" '[.items[] | select(.deployment == "llm" and .phase == "Ready" and .pid != $v)] | length >= 2' >/dev/null
}
wait_for 30 "the killed engine replaced" replaced
pods_json | jq -e '[.items[] | select(.deployment == "llm") | .restarts] | add >= 1' >/dev/null ||
    fail "no restart counted"

log "a burst makes KPA scale up"
burst_pids=()
for i in $(seq 16); do
    curl -s -o /dev/null --max-time 60 -H 'Content-Type: application/json' \
        -d '{"model":"llm","prompt":"go","max_tokens":3000,"ignore_eos":true}' "$BASE/v1/completions" &
    burst_pids+=($!)
done
wait_for 30 "KPA scaled up to 3 or more" ready_at_least llm 3
"$BRIX" get autoscalers -o json | jq -e '.items[0].status.desiredScale >= 3' >/dev/null ||
    fail "autoscaler status: $("$BRIX" get autoscalers -o json)"
for p in "${burst_pids[@]}"; do kill "$p" 2>/dev/null; done
wait "${burst_pids[@]}" 2>/dev/null
log "quiet scales it back down"
wait_for 60 "KPA scaled down to its minimum" ready_at_most llm 2
wait_for 15 "a chat after the scale-down" chat_ok llm

log "scale from zero: a model at 0 replicas serves its first request"
cat >"$E2E_TMP/zero.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: zero
  labels:
    model.aibrix.ai/name: zero
spec:
  replicas: 0
  template:
    spec:
      containers:
        - name: engine
          args: ["--port", "{port}", "--model", "{model}"]
---
apiVersion: autoscaling.aibrix.ai/v1alpha1
kind: PodAutoscaler
metadata:
  name: zero-kpa
  annotations:
    autoscaling.aibrix.ai/scale-down-cooldown-window: "1s"
    autoscaling.aibrix.ai/scale-to-zero-grace-period: "2s"
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: zero
  minReplicas: 0
  maxReplicas: 2
  scalingStrategy: KPA
  observeWindowSeconds: 2
  panicWindowSeconds: 1
  metricsSources:
    - metricSourceType: pod
      protocolType: http
      port: "8000"
      path: /metrics
      targetMetric: num_requests_running
      targetValue: "4"
YAML
"$BRIX" apply -f "$E2E_TMP/zero.yaml" >"$E2E_TMP/apply.txt" || fail "apply failed: $(cat "$E2E_TMP/apply.txt")"
grep -q "created" "$E2E_TMP/apply.txt" || fail "apply said: $(cat "$E2E_TMP/apply.txt")"
sleep 1
[ "$(ready_pods zero)" = 0 ] || fail "zero has pods before any request"
code=$(req POST /v1/completions '{"model":"zero","prompt":"wake up","max_tokens":4}')
expect_status "$code" 200 "the first request to a scaled-to-zero model"
[ "$(ready_pods zero)" -ge 1 ] || fail "no replica of zero after its first request"

log "an adapter from an http URL is downloaded, checked and loaded; a bad checksum fails"
mkdir -p "$E2E_TMP/www"
head -c 100000 /dev/urandom >"$E2E_TMP/www/adapter.bin"
sum=$(sha256sum "$E2E_TMP/www/adapter.bin" | cut -d' ' -f1)
WP=$(free_port)
(cd "$E2E_TMP/www" && exec python3 -m http.server "$WP" --bind 127.0.0.1 >"$E2E_TMP/www.log" 2>&1) &
E2E_PIDS+=($!)
wait_for 10 "the artifact server" curl -sf -o /dev/null "http://127.0.0.1:$WP/adapter.bin"
cat >"$E2E_TMP/http-lora.yaml" <<YAML
apiVersion: model.aibrix.ai/v1alpha1
kind: ModelAdapter
metadata:
  name: http-lora
spec:
  baseModel: llm
  artifactURL: http://127.0.0.1:$WP/adapter.bin
  replicas: 1
  additionalConfig:
    sha256: "$sum"
---
apiVersion: model.aibrix.ai/v1alpha1
kind: ModelAdapter
metadata:
  name: bad-lora
spec:
  baseModel: llm
  artifactURL: http://127.0.0.1:$WP/adapter.bin
  additionalConfig:
    sha256: "$(printf '0%.0s' $(seq 64))"
YAML
"$BRIX" apply -f "$E2E_TMP/http-lora.yaml" >/dev/null || fail "apply of the http adapters failed"
phase_is() { "$BRIX" get adapters -o json | jq -e --arg n "$1" --arg p "$2" '.items[] | select(.metadata.name == $n) | .status.phase == $p' >/dev/null 2>&1; }
wait_for 30 "http-lora Running" phase_is http-lora Running
wait_for 15 "a chat to http-lora" chat_ok http-lora
wait_for 30 "bad-lora Failed on its checksum" phase_is bad-lora Failed
"$BRIX" describe adapter bad-lora | grep -qi "sha256\|checksum" || fail "bad-lora's status does not say why: $("$BRIX" describe adapter bad-lora | tail -n 15)"
"$BRIX" delete -f "$E2E_TMP/http-lora.yaml" >/dev/null || fail "delete -f failed"

log "restart: brix up stops with --keep-engines, a new one adopts the engines"
before=$(pods_json | jq -c '[.items[] | select(.deployment == "llm") | .pid] | sort')
kill -TERM "$UP_PID"
wait "$UP_PID" 2>/dev/null
for p in $(echo "$before" | jq -r '.[]'); do
    kill -0 "$p" 2>/dev/null && fail "engine $p survived a stop without --keep-engines"
done
start_up up2 --keep-engines
wait_for 30 "engines Ready after restart" ready_at_least llm 1
grep -q "autoscaler llm-kpa: resumed its strategy state" "$E2E_TMP/up2.log" ||
    fail "the restarted brix up did not resume the autoscaler's strategy state"
wait_for 30 "adapter Running after restart" adapter_running
wait_for 15 "a chat after the restart" chat_ok llm
before=$(pods_json | jq -c '[.items[] | select(.deployment == "llm") | .pid] | sort')
kill -TERM "$UP_PID"
wait "$UP_PID" 2>/dev/null
for p in $(echo "$before" | jq -r '.[]'); do
    kill -0 "$p" 2>/dev/null || fail "engine $p stopped despite --keep-engines"
done
start_up up3
wait_for 30 "engines Ready after the adopting restart" ready_at_least llm 1
after=$(pods_json | jq -c '[.items[] | select(.deployment == "llm") | .pid] | sort')
[ "$before" = "$after" ] || fail "engines not adopted: before $before, after $after"
wait_for 15 "a chat on adopted engines" chat_ok llm

log "delete: the deployment's engines stop"
"$BRIX" delete deployment zero >/dev/null || fail "delete failed"
wait_for 20 "zero's pods gone" ready_at_most zero 0
kill -TERM "$UP_PID"
wait "$UP_PID" 2>/dev/null
for p in $(echo "$after" | jq -r '.[]'); do
    kill -0 "$p" 2>/dev/null && fail "engine $p left running after brix up stopped"
done
exit 0
