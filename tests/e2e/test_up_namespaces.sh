#!/usr/bin/env bash
# brix up with namespaces and kubectl habits, through the real `brix` CLI:
# the same Deployment name in two namespaces runs twice (one replica each,
# each serving its own model); get -A lists both with a NAMESPACE column;
# -l filters; logs prints a pod's output and -f follows it across a
# restart; get -w prints a change as it happens; get all and the short and
# resource.group names; delete in one namespace leaves the other.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

GP=$(free_port)
AP=$(free_port)
BASE="http://127.0.0.1:$GP"
export BRIX_SERVER="http://127.0.0.1:$AP"

deployment() { # deployment NAMESPACE-LINE MODEL REPLICAS
    cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: llm
$1
  labels:
    model.aibrix.ai/name: $2
spec:
  replicas: $3
  template:
    metadata:
      labels:
        model.aibrix.ai/name: $2
        team: "${2}-team"
    spec:
      containers:
        - name: engine
          command: ["{brix}", "engine"]
          args: ["--port", "{port}", "--model", "{model}", "--enable-lora", "--max-loras", "4"]
YAML
}
deployment "" llm 1 >"$E2E_TMP/default.yaml"
{
    deployment "  namespace: team-a" llm-a 1
    cat <<'YAML'
---
apiVersion: autoscaling.aibrix.ai/v1alpha1
kind: PodAutoscaler
metadata:
  name: llm-pa
  namespace: team-a
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llm}
  minReplicas: 1
  maxReplicas: 2
  scalingStrategy: KPA
  metricsSources:
    - {metricSourceType: pod, protocolType: http, port: "8000", path: metrics,
       targetMetric: num_requests_running, targetValue: "50"}
YAML
    cat <<'YAML'
---
apiVersion: model.aibrix.ai/v1alpha1
kind: ModelAdapter
metadata:
  name: sql-lora
  namespace: team-a
spec:
  baseModel: llm-a
  podSelector:
    matchLabels: {model.aibrix.ai/name: llm-a}
  artifactURL: huggingface://org/sql-lora
---
apiVersion: model.aibrix.ai/v1alpha1
kind: ModelAdapter
metadata:
  name: stray-lora
  namespace: team-a
spec:
  podSelector:
    matchLabels: {model.aibrix.ai/name: llm}
  artifactURL: huggingface://org/stray-lora
YAML
} >"$E2E_TMP/team-a.yaml"

"$BRIX" up --state "$E2E_TMP/state" --host 127.0.0.1 --port "$GP" --admin-port "$AP" --hold-seconds 30 \
    -f "$E2E_TMP/default.yaml" >"$E2E_TMP/up.log" 2>&1 &
E2E_PIDS+=($!)
E2E_LOGS+=("$E2E_TMP/up.log")
for ((i = 0; i < 100; i++)); do
    curl -sf --max-time 1 "$BRIX_SERVER/healthz" >/dev/null && break
    sleep 0.1
done

ready() { # ready NAMESPACE N: N Ready pods there
    [ "$("$BRIX" get pods -n "$1" -o json 2>/dev/null | jq '[.items[] | select(.phase == "Ready")] | length')" = "$2" ]
}
chat_ok() {
    [ "$(req POST /v1/chat/completions "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2}")" = 200 ]
}

log "the same Deployment name in a second namespace is a second object"
"$BRIX" apply -f "$E2E_TMP/team-a.yaml" >"$E2E_TMP/apply.txt" 2>&1 || fail "apply: $(cat "$E2E_TMP/apply.txt")"
grep -q "^deployment/llm created" "$E2E_TMP/apply.txt" || fail "team-a's llm not created: $(cat "$E2E_TMP/apply.txt")"
wait_for 30 "llm Ready in default" ready default 1
wait_for 30 "llm Ready in team-a" ready team-a 1
wait_for 15 "model llm serves" chat_ok llm
wait_for 15 "model llm-a serves" chat_ok llm-a
# team-a's pod answers under its pod name, without the namespace key
tp=$(header target-pod)
[ "$tp" = llm-0 ] || fail "target-pod of team-a's pod is '$tp', want llm-0"

log "adapters pick pods of their own namespace; one is served under its name"
phase_of() { "$BRIX" get ma "$1" -n team-a -o json | jq -r '.status.phase // ""' 2>/dev/null; }
wait_for 30 "team-a's sql-lora Running" bash -c '[ "$("$0" get ma sql-lora -n team-a -o json | jq -r .status.phase)" = Running ]' "$BRIX"
wait_for 15 "a chat to sql-lora" chat_ok sql-lora
# stray-lora selects model llm's pods, which are default's: no candidate in team-a
sleep 1
[ "$("$BRIX" get ma stray-lora -n team-a -o json | jq '.status.candidates // 0')" = 0 ] ||
    fail "stray-lora found candidates outside team-a: $("$BRIX" get ma stray-lora -n team-a -o json | jq -c .status)"
[ "$(phase_of stray-lora)" != Running ] || fail "stray-lora runs on another namespace's pod"
"$BRIX" get ma -n team-a >"$E2E_TMP/ma.txt"
head -n 1 "$E2E_TMP/ma.txt" | grep -q "^NAME *PHASE *DESIRED *READY *CANDIDATES *MODEL PATH *AGE" || fail "ma columns: $(cat "$E2E_TMP/ma.txt")"

log "get -A: both, NAMESPACE first"
"$BRIX" get deploy -A >"$E2E_TMP/all-ns.txt" || fail "get deploy -A failed"
head -n 1 "$E2E_TMP/all-ns.txt" | grep -q "^NAMESPACE *NAME *READY" || fail "header: $(cat "$E2E_TMP/all-ns.txt")"
grep -q "^default *llm *1/1" "$E2E_TMP/all-ns.txt" || fail "default/llm: $(cat "$E2E_TMP/all-ns.txt")"
grep -q "^team-a *llm *1/1" "$E2E_TMP/all-ns.txt" || fail "team-a/llm: $(cat "$E2E_TMP/all-ns.txt")"
"$BRIX" get pods -A >"$E2E_TMP/pods.txt"
grep -q "^team-a *llm-0 *1/1 *Running " "$E2E_TMP/pods.txt" || fail "pods -A: $(cat "$E2E_TMP/pods.txt")"
"$BRIX" get deploy llm -o json | jq -e '.metadata.namespace == "default" and .spec.replicas == 1' >/dev/null ||
    fail "default's llm changed: $("$BRIX" get deploy llm -o json)"

log "-l selects by label"
[ "$("$BRIX" get pods -A -l team=llm-a-team -o name)" = "pod/llm-0" ] || fail "-l: $("$BRIX" get pods -A -l team=llm-a-team -o wide)"
[ "$("$BRIX" get pods -A -l 'team!=llm-a-team' -o json | jq -r '.items[].namespace')" = default ] ||
    fail "-l !=: $("$BRIX" get pods -A -l 'team!=llm-a-team')"

log "short names, resource.group names and get all"
"$BRIX" get po -n team-a -o name | grep -qx "pod/llm-0" || fail "get po"
"$BRIX" get deployments.apps -n team-a -o name | grep -qx "deployment.apps/llm" || fail "get deployments.apps"
"$BRIX" get pa -n team-a >"$E2E_TMP/pa.txt" || fail "get pa"
head -n 1 "$E2E_TMP/pa.txt" | grep -q "^NAME *MINPODS *MAXPODS *REPLICAS *STRATEGY *AGE" || fail "pa columns: $(cat "$E2E_TMP/pa.txt")"
"$BRIX" get podautoscalers.autoscaling.aibrix.ai -A -o name | grep -qx "podautoscaler.autoscaling.aibrix.ai/llm-pa" || fail "get podautoscalers.autoscaling.aibrix.ai"
[ -z "$("$BRIX" get pa -o name)" ] || fail "the autoscaler shows in default"
"$BRIX" get all -n team-a >"$E2E_TMP/all.txt" || fail "get all"
for n in pod/llm-0 deployment.apps/llm podautoscaler.autoscaling.aibrix.ai/llm-pa; do
    grep -q "^$n " "$E2E_TMP/all.txt" || fail "get all lacks $n: $(cat "$E2E_TMP/all.txt")"
done

log "logs: the pod's output; -f follows it across a restart"
"$BRIX" logs llm-0 -n team-a --tail 50 >"$E2E_TMP/logs.txt" || fail "brix logs failed"
grep -q "launching team-a:llm-0" "$E2E_TMP/logs.txt" || fail "logs: $(head -c 600 "$E2E_TMP/logs.txt")"
[ "$("$BRIX" logs pod/llm-0 -n team-a --tail 1 | wc -l)" = 1 ] || fail "--tail 1"
BRIX_CLI_MAX_POLLS=120 "$BRIX" logs llm-0 -n team-a -f >"$E2E_TMP/follow.txt" 2>&1 &
FOLLOW=$!
E2E_PIDS+=("$FOLLOW")
BRIX_CLI_MAX_POLLS=120 "$BRIX" get deploy -n team-a -w >"$E2E_TMP/watch.txt" 2>&1 &
WATCH=$!
E2E_PIDS+=("$WATCH")
sleep 1
pid=$("$BRIX" get pods -n team-a -o json | jq -r '.items[0].pid')
[ "$pid" -gt 0 ] 2>/dev/null || fail "no pid for team-a's llm-0"
kill -9 "$pid"
wait_for 30 "logs -f prints the restart" grep -q "launching team-a:llm-0 (restart 1)" "$E2E_TMP/follow.txt"
wait_for 30 "llm back in team-a" ready team-a 1

log "get -w prints a change as it happens; team-a's autoscaler owns team-a's llm"
deployment "  namespace: team-a" llm-a 2 | "$BRIX" apply -f - >/dev/null || fail "scale to 2"
wait_for 30 "the watch shows 2 replicas" grep -q "^llm *[0-9]/2 " "$E2E_TMP/watch.txt"
head -n 1 "$E2E_TMP/watch.txt" | grep -q "^NAME *READY" || fail "watch header: $(cat "$E2E_TMP/watch.txt")"
# its autoscaler (KPA, nothing running) brings it back to minReplicas
pa_scaled() { "$BRIX" get pa llm-pa -n team-a -o json | jq -e '.status.desiredScale == 1 and .status.actualScale == 1' >/dev/null 2>&1; }
wait_for 30 "team-a's autoscaler at 1" pa_scaled
# the autoscaler owns team-a's llm (spec.replicas 2 is not what runs); default's is not autoscaled
"$BRIX" get deploy llm -n team-a -o json | jq -e '.status.autoscaledReplicas == 1' >/dev/null ||
    fail "team-a's llm is not autoscaled: $("$BRIX" get deploy llm -n team-a -o json | jq -c .status)"
"$BRIX" get deploy llm -o json | jq -e '.status.autoscaledReplicas == null' >/dev/null ||
    fail "default's llm is autoscaled: $("$BRIX" get deploy llm -o json | jq -c .status)"
[ "$("$BRIX" get pods -n team-a -o json | jq '.items | length')" = 1 ] || fail "team-a runs $("$BRIX" get pods -n team-a)"
ready default 1 || fail "default's llm changed: $("$BRIX" get pods -A)"
stop_pid "$WATCH"
stop_pid "$FOLLOW"

log "a request for a scaled-to-zero team-a model's adapter wakes its deployment"
cat >"$E2E_TMP/zero.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: zero
  namespace: team-a
  labels: {model.aibrix.ai/name: zm}
spec:
  replicas: 0
  template:
    spec:
      containers:
        - name: engine
          args: ["--port", "{port}", "--model", "{model}", "--enable-lora"]
---
apiVersion: autoscaling.aibrix.ai/v1alpha1
kind: PodAutoscaler
metadata:
  name: zero-kpa
  namespace: team-a
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: zero}
  minReplicas: 0
  maxReplicas: 1
  scalingStrategy: KPA
  metricsSources:
    - {metricSourceType: pod, protocolType: http, port: "8000", path: /metrics,
       targetMetric: num_requests_running, targetValue: "4"}
---
apiVersion: model.aibrix.ai/v1alpha1
kind: ModelAdapter
metadata:
  name: zero-lora
  namespace: team-a
spec:
  baseModel: zm
  podSelector:
    matchLabels: {model.aibrix.ai/name: zm}
  artifactURL: huggingface://org/zero-lora
YAML
"$BRIX" apply -f "$E2E_TMP/zero.yaml" >/dev/null || fail "apply zero.yaml"
sleep 1
[ "$("$BRIX" get pods -n team-a -l model.aibrix.ai/name=zm -o name)" = "" ] || fail "zero has pods before any request"
chat_ok zero-lora || fail "the first request to zero-lora: $(cat "$E2E_TMP/body")"
[ -n "$("$BRIX" get pods -n team-a -l model.aibrix.ai/name=zm -o name)" ] || fail "no pod of zero after the request"

log "delete in team-a leaves default's llm"
"$BRIX" delete deploy llm -n team-a >"$E2E_TMP/delete.txt" || fail "delete -n team-a"
llm_a_gone() { [ -z "$("$BRIX" get pods -n team-a -l model.aibrix.ai/name=llm-a -o name)" ]; }
wait_for 30 "team-a's llm pods gone" llm_a_gone
ready default 1 || fail "default's llm is gone: $("$BRIX" get pods -A)"
chat_ok llm || fail "model llm no longer serves"
"$BRIX" get deploy llm >/dev/null || fail "default's llm deleted"

log "ok"
