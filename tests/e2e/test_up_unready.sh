#!/usr/bin/env bash
# `brix up`: a model that cannot become ready is answered 503 at once
# instead of being held for --hold-seconds (here 120 s, so a held request
# would outlast curl's 20 s limit): a Deployment at 0 replicas with no
# autoscaler, a Deployment whose every replica crash-loops, an adapter
# whose status is Failed. The answers carry AIBrix's
# x-error-no-model-backends; Retry-After where the model may recover.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

GP=$(free_port)
AP=$(free_port)
BASE="http://127.0.0.1:$GP"
export BRIX_SERVER="http://127.0.0.1:$AP"

cat >"$E2E_TMP/stack.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: llm
  labels:
    model.aibrix.ai/name: llm
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: engine
          command: ["{brix}", "engine"]
          args: ["--port", "{port}", "--model", "{model}", "--enable-lora"]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: idle
  labels:
    model.aibrix.ai/name: idle
spec:
  replicas: 0
  template:
    spec:
      containers:
        - name: engine
          command: ["{brix}", "engine"]
          args: ["--port", "{port}", "--model", "{model}"]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: crashy
  labels:
    model.aibrix.ai/name: crashy
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: engine
          command: ["sh", "-c", "exit 3", "{port}"]
YAML

"$BRIX" up --state "$E2E_TMP/state" --host 127.0.0.1 --port "$GP" --admin-port "$AP" \
    --hold-seconds 120 -f "$E2E_TMP/stack.yaml" >"$E2E_TMP/up.log" 2>&1 &
UP_PID=$!
E2E_PIDS+=("$UP_PID")
E2E_LOGS+=("$E2E_TMP/up.log")
for _ in $(seq 100); do
    curl -sf --max-time 1 "$BRIX_SERVER/healthz" >/dev/null && break
    kill -0 "$UP_PID" 2>/dev/null || fail "brix up exited: $(tail -n 5 "$E2E_TMP/up.log")"
    sleep 0.1
done
pods_json() { "$BRIX" get pods -o json 2>/dev/null || echo '{"items":[]}'; }
phase_of() { pods_json | jq -r --arg d "$1" '[.items[] | select(.deployment == $d) | .phase] | join(",")'; }
wait_phase() { # wait_phase DEPLOYMENT REGEX: until some pod of it has a phase matching REGEX
    local i
    for ((i = 0; i < 150; i++)); do
        [[ ",$(phase_of "$1")," =~ ,($2), ]] && return 0
        sleep 0.2
    done
    fail "no pod of $1 reached $2: $(pods_json)"
}
ask() { # ask MODEL: one completion, 20 s at most; prints the status
    curl -s -o "$E2E_TMP/body" -D "$E2E_TMP/headers" -w '%{http_code}' --max-time 20 \
        -H 'Content-Type: application/json' "$BASE/v1/completions" \
        -d "{\"model\":\"$1\",\"prompt\":\"hi\",\"max_tokens\":2}" || true
}
wait_phase llm Ready
code=$(ask llm)
expect_status "$code" 200 "the ready model"

# 1. zero replicas, no autoscaler: nothing will start it
code=$(ask idle)
expect_status "$code" 503 "a model at 0 replicas with no autoscaler"
[ "$(header x-error-no-model-backends)" = true ] || fail "no x-error-no-model-backends: $(cat "$E2E_TMP/headers")"
[ -z "$(header retry-after)" ] || fail "Retry-After for a model nothing will start"
check "$E2E_TMP/body" '.error.message | test("0 replicas and no autoscaler")' "the answer says why"
log "0 replicas, no autoscaler: 503 at once"

# 2. every replica crash-looping
wait_phase crashy 'Backoff|CrashLoopBackOff'
code=$(ask crashy)
expect_status "$code" 503 "a crash-looping model"
[ "$(header retry-after)" = 10 ] || fail "crash-looping: Retry-After '$(header retry-after)', want 10"
check "$E2E_TMP/body" '.error.message | test("crash-looping")' "the answer says why"
log "crash-looping replicas: 503 at once, Retry-After"

# 3. a Failed adapter (its artifact cannot be fetched)
NOPE=$(free_port)
cat >"$E2E_TMP/adapter.yaml" <<YAML
apiVersion: model.aibrix.ai/v1alpha1
kind: ModelAdapter
metadata:
  name: broken
spec:
  baseModel: llm
  podSelector:
    matchLabels:
      model.aibrix.ai/name: llm
  artifactURL: http://127.0.0.1:$NOPE/adapter.bin
YAML
"$BRIX" apply -f "$E2E_TMP/adapter.yaml" >/dev/null || fail "apply the adapter"
failed() { "$BRIX" get adapters -o json | jq -e '.items[] | select(.metadata.name == "broken") | .status.phase == "Failed"' >/dev/null 2>&1; }
for _ in $(seq 100); do failed && break; sleep 0.2; done
failed || fail "the adapter is not Failed: $("$BRIX" get adapters -o json)"
code=$(ask broken)
expect_status "$code" 503 "a Failed adapter"
check "$E2E_TMP/body" '.error.message | test("adapter broken is Failed")' "the answer says why"
[ "$(header retry-after)" = 10 ] || fail "Failed adapter: Retry-After '$(header retry-after)', want 10"
log "Failed adapter: 503 at once"
log "PASS"
