# Sourced by bench/autoscale.sh and bench/scenarios/autoscaling.sh: the stack both run under
# `brix up`, one Deployment of simulated engines (llama3-8b-h100, --max-num-seqs 8, time scale
# 0.25) and one PodAutoscaler on num_requests_running.
#
#   autoscale_write_stack STRATEGY FILE
#   autoscale_start_stack STRATEGY BASE GATEWAY_PORT ADMIN_PORT LABEL
#   autoscale_stop_stack UP_PID PIDFILE SECS
# (the scripts that source this file have sourced scripts/lib.sh)
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

# autoscale_start_stack STRATEGY BASE GATEWAY_PORT ADMIN_PORT LABEL
#   writes BASE.stack.yaml, starts `$BRIX up` on it (state BASE.state, log BASE.up.log), sets
#   AS_UP_PID, and waits until one engine is Ready and the gateway answers a chat. 0, or 1 with
#   a message on stderr.
autoscale_start_stack() {
    local s=$1 base=$2 gp=$3 ap=$4 label=$5 i
    local admin="http://127.0.0.1:$ap"
    autoscale_write_stack "$s" "$base.stack.yaml"
    rm -rf "$base.state"
    "$BRIX" up -f "$base.stack.yaml" --state "$base.state" --host 127.0.0.1 --port "$gp" \
        --admin-port "$ap" --log-level warn >"$base.up.log" 2>&1 &
    AS_UP_PID=$!
    for ((i = 0; i < 300; i++)); do
        [ "$(curl -s --max-time 1 "$admin/v1/pods?deployment=llm" |
            python3 -c 'import json,sys; print(sum(p["phase"]=="Ready" for p in json.load(sys.stdin)["items"]))' \
                2>/dev/null)" = 1 ] && break
        kill -0 "$AS_UP_PID" 2>/dev/null || {
            echo "$label: brix up exited: $(tail -n 5 "$base.up.log")" >&2
            return 1
        }
        sleep 0.1
    done
    [ "$i" -lt 300 ] || { echo "$label: no Ready engine after 30 s" >&2; return 1; }
    for ((i = 0; i < 100; i++)); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' \
            -d '{"model":"llm","messages":[{"role":"user","content":"hi"}],"max_tokens":2}' \
            "http://127.0.0.1:$gp/v1/chat/completions")" = 200 ] && break
        sleep 0.1
    done
    [ "$i" -lt 100 ] || { echo "$label: the gateway does not serve" >&2; return 1; }
}

# autoscale_stop_stack UP_PID PIDFILE SECS: stops `brix up` (SIGTERM, SIGKILL after SECS), then
#   SIGKILLs every `brix engine` of PIDFILE still alive: brix up stops its engines, this is for
#   when it could not. Only a live `brix engine` is killed (a pid may have been reused).
autoscale_stop_stack() {
    local p
    bx_stop "$1" "$3"
    [ -n "$2" ] && [ -f "$2" ] || return 0
    while read -r p; do
        if [ -n "$p" ] && grep -qa engine "/proc/$p/cmdline" 2>/dev/null; then
            kill -KILL "$p" 2>/dev/null || true
        fi
    done <"$2"
}
