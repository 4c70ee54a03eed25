#!/usr/bin/env bash
# The GPU optimizer in `brix controller` (docs/hetero.md, "Optimizer service") on the fake
# API server (tests/k8s/fake_apiserver.py) and its kubelet stand-in:
#   - two Deployments of model llm (replicas 0), a profile for each;
#     --gpu-optimizer-port serves /metrics/<ns>/<dep> in AIBrix's text (no load: 0 units),
#     /status names both Deployments with their profiles;
#   - keys ($BRIX_GPU_OPTIMIZER_API_KEYS): /status and /scale need one, /metrics does not;
#   - an optimizer-KPA PodAutoscaler (domain source on the optimizer's address) follows a
#     PUT /scale override: the Deployment's spec.replicas goes to 1 in the API server.
# Skipped when kubectl, jq or python3 is absent.
# Usage: bash tests/e2e/test_k8s_gpuopt.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
source "$E2E_DIR/../k8s/lib.sh"
k8s_e2e_start 30

mkdir -p "$E2E_TMP/profiles"
cat >"$E2E_TMP/profiles/a.json" <<'JSON'
{"gpu": "llm-a", "cost": 2.0, "created": 1700000000,
 "tputs": [[4.0, 1.0], [2.0, 0.5]], "indexes": [[16, 64], [64, 256]]}
JSON
cat >"$E2E_TMP/profiles/b.json" <<'JSON'
{"gpu": "default/llm-b", "cost": 4.0, "created": 1700000000,
 "tputs": [[6.0, 4.0], [3.0, 2.0]], "indexes": [[16, 64], [64, 256]]}
JSON

dep() { # dep NAME
    cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $1
  labels: {model.aibrix.ai/name: llm}
spec:
  replicas: 0
  selector: {matchLabels: {model.aibrix.ai/name: llm, app: $1}}
  template:
    metadata:
      labels: {model.aibrix.ai/name: llm, app: $1}
    spec:
      containers:
      - name: engine
        image: brix:test
        command: [brix, engine]
        args: [--model, llm]
        ports: [{containerPort: 8000}]
---
YAML
}
{
    dep llm-a
    dep llm-b
} >"$E2E_TMP/deps.yaml"
"${K[@]}" apply -f "$E2E_TMP/deps.yaml" >/dev/null || fail "apply deployments"

OP=$(free_port)
MP=$(free_port)
HP=$(free_port)
KEY=opt-key
BRIX_GPU_OPTIMIZER_API_KEYS=$KEY POD_NAMESPACE=default "$BRIX" controller \
    --kubeconfig "$KUBECONFIG_FAKE" --bind-host 127.0.0.1 --health-port "$HP" --metrics-port "$MP" \
    --gpu-optimizer-port "$OP" --gpu-profiles "$E2E_TMP/profiles" >"$E2E_TMP/ctl.log" 2>&1 &
E2E_PIDS+=("$!")
E2E_LOGS+=("$E2E_TMP/ctl.log")
OPT="http://127.0.0.1:$OP"
wait_ready "$OPT/healthz" "$!"

code() { curl -s -o "$E2E_TMP/body" -w '%{http_code}' --max-time 5 "$@" 2>/dev/null || echo 000; }
units_is() { # units_is DEP N
    [ "$(code "$OPT/metrics/default/$1")" = 200 ] &&
        [ "$(metric_in vllm:deployment_replicas model_name=llm <"$E2E_TMP/body")" = "$2" ]
}
log "no load: 0 units for both (the optimizer runs every 10 s; the first run at start)"
wait_for 20 "llm-a at 0 units" units_is llm-a 0
grep -qx '# TYPE vllm:deployment_replicas gauge' "$E2E_TMP/body" || fail "metric text: $(cat "$E2E_TMP/body")"
[ "$(code "$OPT/status")" = 401 ] || fail "/status without a key"
[ "$(code -H "Authorization: Bearer $KEY" "$OPT/status")" = 200 ] || fail "/status with the key"
check "$E2E_TMP/body" '.models[0].model == "llm" and (.models[0].deployments | length == 2)' "/status lists both"
check "$E2E_TMP/body" '[.models[0].deployments[] | select(.profile)] | length == 2' "both profiles matched (name, ns/name)"

cat >"$E2E_TMP/pa.yaml" <<YAML
apiVersion: autoscaling.aibrix.ai/v1alpha1
kind: PodAutoscaler
metadata:
  name: llm-a-optimizer-kpa
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llm-a}
  minReplicas: 0
  maxReplicas: 3
  scalingStrategy: KPA
  metricsSources:
  - metricSourceType: domain
    protocolType: http
    endpoint: 127.0.0.1:$OP
    path: /metrics/default/llm-a
    targetMetric: vllm:deployment_replicas
    targetValue: "100"
YAML
"${K[@]}" apply -f "$E2E_TMP/pa.yaml" >/dev/null || fail "apply the PodAutoscaler"

log "PUT /scale llm-a 1: 100 units, the KPA sets spec.replicas 1"
[ "$(code -X PUT --data '{"replicas":1}' "$OPT/scale/default/llm-a")" = 401 ] || fail "/scale without a key"
[ "$(code -H "Authorization: Bearer $KEY" -X PUT --data '{"replicas":1}' "$OPT/scale/default/llm-a")" = 200 ] ||
    fail "PUT /scale: $(cat "$E2E_TMP/body")"
units_is llm-a 100 || fail "llm-a not at 100 units after the override: $(cat "$E2E_TMP/body")"
replicas_is() { [ "$("${K[@]}" get deployment "$1" -o jsonpath='{.spec.replicas}')" = "$2" ]; }
wait_for 20 "llm-a spec.replicas 1" replicas_is llm-a 1
replicas_is llm-b 0 || fail "llm-b changed"
log "ok"
