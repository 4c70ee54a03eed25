# Sourced by bench/autoscale.sh and bench/scenarios/autoscaling.sh: the stack both run under
# `brix up`, one Deployment of simulated engines (llama3-8b-h100, --max-num-seqs 8, time scale
# 0.25) and one PodAutoscaler on num_requests_running.
#
#   autoscale_write_stack STRATEGY FILE
#
# reads COOLDOWN, MAXR, OBSERVE, PANIC, TARGET and DRAIN_GRACE (seconds, default 10).
autoscale_write_stack() {
    cat >"$2" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: llm
  labels:
    model.aibrix.ai/name: llm
  annotations:
    brix.ai/drain-grace-seconds: "${DRAIN_GRACE:-10}"
spec:
  replicas: 1
  template:
    metadata:
      labels:
        model.aibrix.ai/name: llm
    spec:
      containers:
        - name: engine
          command: ["{brix}", "engine"]
          args: ["--host", "127.0.0.1", "--port", "{port}", "--model", "{model}",
                 "--profile", "llama3-8b-h100", "--max-num-seqs", "8", "--time-scale", "0.25",
                 "--seed", "{replica}", "--log-level", "warn"]
---
apiVersion: autoscaling.aibrix.ai/v1alpha1
kind: PodAutoscaler
metadata:
  name: llm-pa
  annotations:
    autoscaling.aibrix.ai/scale-down-cooldown-window: "$COOLDOWN"
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: llm
  minReplicas: 1
  maxReplicas: $MAXR
  scalingStrategy: $1
  observeWindowSeconds: $OBSERVE
  panicWindowSeconds: $PANIC
  metricsSources:
    - metricSourceType: pod
      protocolType: http
      port: "8000"
      path: /metrics
      targetMetric: num_requests_running
      targetValue: "$TARGET"
YAML
}
