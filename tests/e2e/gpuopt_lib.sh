# shellcheck shell=bash
# Helpers of the heterogeneous-GPU end-to-end tests (docs/hetero.md: test_up_gpuopt*.sh,
# test_k8s_gpuopt*.sh, test_up_hetero.sh), sourced after lib.sh. One model, llm, one
# Deployment per GPU type.
#
#   up_dep_yaml NAME GPU-PROFILE MIN KPA [ENGINE-ARG...]
#       a Deployment for `brix up` on one simulated GPU type (brix engine --profile
#       GPU-PROFILE ENGINE-ARGS), floor MIN (model.aibrix.ai/min_replicas), 0 replicas,
#       drain grace 1 s; KPA 1: with a PodAutoscaler in AIBrix's optimizer-KPA shape
#       (samples/autoscaling/optimizer-kpa.yaml: domain source on aibrix-gpu-optimizer,
#       targetValue 100, maxReplicas 4), unchanged but for short windows (annotations)
#   k8s_dep_yaml NAME MIN
#       a Deployment for the fake API server (image brix:test, port 8000), floor MIN
#   code CURL-ARGS...        curl's status code (000: none); the body in $E2E_TMP/body
#   units_is DEP N           the optimizer ($OPT) serves vllm:deployment_replicas N for DEP
#   pods_json                brix get pods -o json (an empty list when it fails)
#   ready_pods DEP           DEP's pods in phase Ready
#   all_pods DEP             all of DEP's pods
# Writes nothing but $E2E_TMP/body; reads $OPT and $BRIX.

up_dep_yaml() {
    local name=$1 prof=$2 min=$3 kpa=$4 args="" a
    shift 4
    for a in "$@"; do args="$args, \"$a\""; done
    cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $name
  labels:
    model.aibrix.ai/name: llm
    model.aibrix.ai/min_replicas: "$min"
  annotations:
    brix.ai/drain-grace-seconds: "1"
spec:
  replicas: 0
  template:
    metadata:
      labels:
        model.aibrix.ai/name: llm
    spec:
      containers:
        - name: engine
          command: ["{brix}", "engine"]
          args: ["--port", "{port}", "--model", "{model}", "--profile", "$prof"$args]
---
YAML
    [ "$kpa" = 1 ] || return 0
    cat <<YAML
apiVersion: autoscaling.aibrix.ai/v1alpha1
kind: PodAutoscaler
metadata:
  name: $name-optimizer-kpa
  labels:
    app.kubernetes.io/name: aibrix
  annotations:
    autoscaling.aibrix.ai/scale-down-cooldown-window: "1s"
    autoscaling.aibrix.ai/scale-to-zero-grace-period: "1s"
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: $name
  minReplicas: 0
  maxReplicas: 4
  scalingStrategy: KPA
  observeWindowSeconds: 2
  panicWindowSeconds: 1
  metricsSources:
    - metricSourceType: domain
      protocolType: http
      endpoint: aibrix-gpu-optimizer.aibrix-system.svc.cluster.local:8080
      path: /metrics/default/$name
      targetMetric: vllm:deployment_replicas
      targetValue: "100"
---
YAML
}

k8s_dep_yaml() {
    cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $1
  labels: {model.aibrix.ai/name: llm, model.aibrix.ai/min_replicas: "$2"}
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

code() { curl -s -o "$E2E_TMP/body" -w '%{http_code}' --max-time 5 "$@" 2>/dev/null || echo 000; }

units_is() {
    [ "$(code "$OPT/metrics/default/$1")" = 200 ] &&
        [ "$(metric_in vllm:deployment_replicas model_name=llm <"$E2E_TMP/body")" = "$2" ]
}

pods_json() { "$BRIX" get pods -o json 2>/dev/null || echo '{"items":[]}'; }
ready_pods() { pods_json | jq --arg d "$1" '[.items[] | select(.deployment == $d and .phase == "Ready")] | length'; }
all_pods() { pods_json | jq --arg d "$1" '[.items[] | select(.deployment == $d)] | length'; }
