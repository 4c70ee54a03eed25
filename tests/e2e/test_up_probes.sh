#!/usr/bin/env bash
# `brix up` honours a pod template's probes, as the kubelet does (Deployments in AIBrix's shape,
# ports named in containerPort and remapped to brix's port):
# - readinessProbe (httpGet on a named port, successThreshold 2): the pod is not Ready while its
#   path fails, Ready once it passes; when it fails again the pod leaves routing without a restart
#   (same pid, RESTARTS 0) and comes back when it passes;
# - livenessProbe (exec): failing failureThreshold times restarts the replica, counted in RESTARTS;
# - startupProbe: its budget (failureThreshold x periodSeconds) replaces the fixed startup timeout
#   (shortened here to 2 s by brix.ai/startup-timeout-seconds): an engine 6 s slow to start
#   becomes Ready without a restart (its tcpSocket livenessProbe passing); one slower than its
#   budget is restarted, the event says why.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

GP=$(free_port)
AP=$(free_port)
STATE="$E2E_TMP/state"
BASE="http://127.0.0.1:$GP"
export BRIX_SERVER="http://127.0.0.1:$AP"
UNREADY="$E2E_TMP/unready"
DEAD="$E2E_TMP/dead"
touch "$UNREADY"

cat >"$E2E_TMP/stack.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ready
  labels: {model.aibrix.ai/name: ready}
spec:
  replicas: 1
  template:
    metadata:
      labels: {model.aibrix.ai/name: ready}
    spec:
      containers:
        - name: engine
          command: ["{brix}", "engine"]
          args: ["--port", "8000", "--model", "ready", "--fault-unhealthy-file", "$UNREADY"]
          ports: [{containerPort: 8000, name: http}]
          readinessProbe:
            httpGet: {path: /health, port: http}
            periodSeconds: 1
            failureThreshold: 2
            successThreshold: 2
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: live
  labels: {model.aibrix.ai/name: live}
spec:
  replicas: 1
  template:
    metadata:
      labels: {model.aibrix.ai/name: live}
    spec:
      containers:
        - name: engine
          command: ["{brix}", "engine"]
          args: ["--port", "8000", "--model", "live"]
          ports: [{containerPort: 8000}]
          livenessProbe:
            exec: {command: [test, "!", -e, "$DEAD"]}
            periodSeconds: 1
            failureThreshold: 2
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: slow
  labels: {model.aibrix.ai/name: slow}
  annotations: {brix.ai/startup-timeout-seconds: "2"}
spec:
  replicas: 1
  template:
    metadata:
      labels: {model.aibrix.ai/name: slow}
    spec:
      containers:
        - name: engine
          command: ["{brix}", "engine"]
          args: ["--port", "8000", "--model", "slow", "--fault-startup-delay", "6"]
          startupProbe:
            httpGet: {path: /health, port: 8000}
            periodSeconds: 1
            failureThreshold: 20
          livenessProbe:
            tcpSocket: {port: 8000}
            periodSeconds: 1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: doomed
  labels: {model.aibrix.ai/name: doomed}
spec:
  replicas: 1
  template:
    metadata:
      labels: {model.aibrix.ai/name: doomed}
    spec:
      containers:
        - name: engine
          command: ["{brix}", "engine"]
          args: ["--port", "8000", "--model", "doomed", "--fault-startup-delay", "600"]
          startupProbe:
            httpGet: {path: /health, port: 8000}
            periodSeconds: 1
            failureThreshold: 2
YAML

"$BRIX" up --state "$STATE" --host 127.0.0.1 --port "$GP" --admin-port "$AP" --hold-seconds 1 \
    -f "$E2E_TMP/stack.yaml" >"$E2E_TMP/up.log" 2>&1 &
UP_PID=$!
E2E_PIDS+=("$UP_PID")
E2E_LOGS+=("$E2E_TMP/up.log")
for ((i = 0; i < 100; i++)); do
    curl -sf --max-time 1 "$BRIX_SERVER/healthz" >/dev/null && break
    kill -0 "$UP_PID" 2>/dev/null || fail "brix up exited: $(tail -n 5 "$E2E_TMP/up.log")"
    sleep 0.1
done

pods_json() { "$BRIX" get pods -o json 2>/dev/null || echo '{"items":[]}'; }
pod() { # pod DEPLOYMENT FIELD
    pods_json | jq -r --arg d "$1" --arg f "$2" '[.items[] | select(.deployment == $d)][0][$f]'
}
phase_is() { [ "$(pod "$1" phase)" = "$2" ]; }
phase_not() { local p; p=$(pod "$1" phase); [ -n "$p" ] && [ "$p" != null ] && [ "$p" != "$2" ]; }
restarted() { [ "$(pod "$1" restarts)" -ge 1 ] 2>/dev/null; }
event_has() { # event_has TEXT
    curl -s "$BRIX_SERVER/v1/events" | jq -e --arg t "$1" '[.. | objects | select(has("message")) | .message | select(contains($t))] | length > 0' >/dev/null
}
chat_code() {
    req POST /v1/chat/completions \
        "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2}"
}

log "readinessProbe: not Ready while its path fails"
wait_for 20 "the live deployment Ready (its liveness probe passes)" phase_is live Ready
phase_is ready Starting || fail "ready is $(pod ready phase) while /health fails"
pid=$(pod ready pid)
rm -f "$UNREADY"
wait_for 15 "ready Ready once /health passes" phase_is ready Ready
code=$(chat_code ready)
[ "$code" = 200 ] || fail "chat to ready: $code"
log "readinessProbe failing again: out of routing, not restarted"
touch "$UNREADY"
wait_for 15 "ready leaves Ready" phase_not ready Ready
event_has "not routed until it passes" || fail "no event saying the pod left routing"
code=$(chat_code ready)
[ "$code" != 200 ] || fail "a chat was routed to the unready pod"
sleep 3
[ "$(pod ready restarts)" = 0 ] || fail "the unready pod was restarted ($(pod ready restarts))"
[ "$(pod ready pid)" = "$pid" ] || fail "the unready pod's pid changed"
rm -f "$UNREADY"
wait_for 15 "ready Ready again" phase_is ready Ready
[ "$(pod ready pid)" = "$pid" ] || fail "the pod's pid changed"
code=$(chat_code ready)
[ "$code" = 200 ] || fail "chat to ready after it came back: $code"

log "livenessProbe failing restarts the replica, counted"
lpid=$(pod live pid)
[ "$(pod live restarts)" = 0 ] || fail "live restarted before its probe failed"
touch "$DEAD"
wait_for 20 "live restarted" restarted live
event_has "liveness probe exec test failed 2 times" || fail "no liveness event: $(curl -s "$BRIX_SERVER/v1/events" | head -c 2000)"
rm -f "$DEAD"
wait_for 20 "live Ready again" phase_is live Ready
[ "$(pod live pid)" != "$lpid" ] || fail "live kept its pid"

log "startupProbe: its budget replaces the startup timeout"
wait_for 30 "slow Ready" phase_is slow Ready
[ "$(pod slow restarts)" = 0 ] || fail "slow was restarted ($(pod slow restarts)) within its startupProbe budget"
event_has "startup probe passed" || fail "no event for the startup probe"
wait_for 20 "doomed restarted past its startupProbe budget" restarted doomed
event_has "startup probe GET /health failed 2 times" || fail "no event for the startup probe's failure"
# stopped here, once: the cleanup's second SIGTERM would make brix up exit without its engines
engine_pids=$(pods_json | jq -r '.items[] | select(.pid > 0) | .pid')
stop_pid "$UP_PID"
for p in $engine_pids; do
    for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && fail "engine $p left running after brix up stopped"
done
log "ok"
