#!/usr/bin/env bash
# Kubernetes mode at scale (issue 15's figures), against the fake Kubernetes API server of the
# tests (tests/k8s/fake_apiserver.py, a test fixture) and its cluster stand-in
# (tests/k8s/fake_kubelet.py):
#
#  1. API requests per minute at steady state with PODS (1,000) pods and MODELS x ADAPTERS (100)
#     ModelAdapters, for `brix controller` (leader-elected, default Lease timings) and
#     `brix gateway --kubernetes`, by verb and resource (goal: watches only, no writes; the
#     Lease's renewal every 2 s is leader election itself). MODELS (10) Deployments of REPLICAS
#     (10) real `brix engine` pods (the stand-in runs them on 127.0.0.x) each get ADAPTERS (10)
#     adapters loaded on all their pods (AIBrix's load-on-all: 1,000 loads) and a PodAutoscaler
#     (KPA, min = max = REPLICAS, so it scrapes every pod each second and decides, but never
#     scales); the other pods are Ready pods of 40 other models at addresses nothing answers
#     (tests/k8s/bulk_pods.py), which the gateway probes and marks down.
#  2. Memory with BIG (10,000) pods in the informers: the controller's and the gateway's RSS
#     before any pod (each started alone on an empty namespace), with PODS pods, and with BIG
#     pods (the rest added as not-Ready pods shaped like a vLLM Deployment's); beside them, the
#     peer: an informer of the official JavaScript client (@kubernetes/client-node, from
#     tests/e2e/node_modules) holding the same pods (bench/k8s/informer_rss.mjs).
#
#   bash bench/k8s_scale.sh [path/to/brix]
#
# Environment: MODELS, REPLICAS, ADAPTERS, PODS, BIG as above; WINDOW=seconds counted (60);
# BX_KEEP=1 keeps the work directory (logs of every process).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BX_NAME=k8s_scale
# shellcheck source=../scripts/lib.sh
source "$HERE/../scripts/lib.sh"
BRIX=${1:-build/brix}
MODELS=${MODELS:-10}
REPLICAS=${REPLICAS:-10}
ADAPTERS=${ADAPTERS:-10}
PODS=${PODS:-1000}
BIG=${BIG:-10000}
WINDOW=${WINDOW:-60}
bx_brix "$BRIX"
bx_need python3 kubectl curl jq
K8S="$HERE/../tests/k8s"
[ -f "$K8S/fake_apiserver.py" ] || { echo "k8s_scale: no tests/k8s/fake_apiserver.py" >&2; exit 2; }
ENGINES=$((MODELS * REPLICAS))
[ "$ENGINES" -le 200 ] || { echo "k8s_scale: MODELS x REPLICAS over 200 (one 127.0.0.x each)" >&2; exit 2; }
[ "$PODS" -ge "$ENGINES" ] && [ "$BIG" -ge "$PODS" ] || { echo "k8s_scale: want ENGINES <= PODS <= BIG" >&2; exit 2; }
# shellcheck source=../tests/k8s/lib.sh
source "$K8S/lib.sh"
bx_workdir

fake_apiserver_start "$BX_WORK" || exit 1
BX_PIDS+=("$FAKE_API_PID")
K=(kubectl --kubeconfig "$KUBECONFIG_FAKE" --request-timeout=30s)
"${K[@]}" apply -k "$HERE/../deploy/crds" >/dev/null
fake_api POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"empty"}}' >/dev/null
bx_spawn "$BX_WORK/kubelet.log" python3 "$K8S/fake_kubelet.py" --server "$FAKE_API" \
    --brix "$BRIX" --workdir "$BX_WORK/pods" --ip-first 40 --ready-file "$BX_WORK/kubelet.ready"
for _ in $(seq 100); do [ -s "$BX_WORK/kubelet.ready" ] && break; sleep 0.1; done
[ -s "$BX_WORK/kubelet.ready" ] || { echo "k8s_scale: the stand-in did not sync" >&2; exit 1; }

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; } # KiB
mib() { python3 -c "print(round($1 / 1024, 1))"; }
wait_ready() { # wait_ready URL PID SECONDS
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        curl -sf --max-time 2 "$1" >/dev/null && return 0
        kill -0 "$2" 2>/dev/null || { echo "k8s_scale: process $2 exited" >&2; return 1; }
        sleep 0.1
    done
    echo "k8s_scale: $1 not ready" >&2
    return 1
}
CTL_HP=0 CTL_MP=0 CTL_PID=0
start_controller() { # start_controller NAMESPACE LOG
    CTL_HP=$(bx_free_port)
    CTL_MP=$(bx_free_port)
    POD_NAME=ctl-bench POD_NAMESPACE=$1 bx_spawn "$2" "$BRIX" controller \
        --kubeconfig "$KUBECONFIG_FAKE" --namespace "$1" --leader-elect --bind-host 127.0.0.1 \
        --health-port "$CTL_HP" --metrics-port "$CTL_MP"
    CTL_PID=$BX_LAST
}
ctl_leading() {
    curl -sf --max-time 2 "http://127.0.0.1:$CTL_MP/metrics" | grep -q '^brix_controller_leader 1'
}

# ---- baselines: each process alone on an empty namespace
start_controller empty "$BX_WORK/controller0.log"
wait_ready "http://127.0.0.1:$CTL_HP/readyz" "$CTL_PID" 60
for _ in $(seq 100); do ctl_leading && break; sleep 0.1; done
sleep 1
ctl_rss0=$(rss "$CTL_PID")
bx_stop "$CTL_PID"
P0=$(bx_free_port)
bx_start_gateway "$BX_WORK/gateway0.log" "$P0" --kubernetes --kubeconfig "$KUBECONFIG_FAKE" \
    --namespace empty --access-log off
wait_ready "http://127.0.0.1:$P0/readyz" "$BX_LAST" 60
sleep 1
gw_rss0=$(rss "$BX_LAST")
bx_stop "$BX_LAST"

# ---- MODELS Deployments of REPLICAS engine pods, and the other pods
t0=$(date +%s.%N)
for ((m = 0; m < MODELS; m++)); do
    fake_model_deployment "$BX_WORK/llm-$m.yaml" "llm-$m" "$REPLICAS" --time-scale 50 \
        --enable-lora --allow-runtime-lora --max-loras $((ADAPTERS + 4))
    "${K[@]}" apply -f "$BX_WORK/llm-$m.yaml" >/dev/null
done
ready_engines() {
    "${K[@]}" get pods -l model.aibrix.ai/name -o json |
        jq '[.items[] | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length'
}
for _ in $(seq 600); do
    [ "$(ready_engines)" = "$ENGINES" ] && break
    sleep 0.5
done
[ "$(ready_engines)" = "$ENGINES" ] || { echo "k8s_scale: $(ready_engines) of $ENGINES engine pods Ready" >&2; exit 1; }
echo "k8s_scale: $ENGINES engine pods Ready in $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s"
python3 "$K8S/bulk_pods.py" --api "$FAKE_API" --count $((PODS - ENGINES)) --prefix bare \
    --models 40 --ready-ip-base 127.2 >"$BX_WORK/bare.json"

# ---- the controller and the gateway, then the adapters and autoscalers
start_controller default "$BX_WORK/controller.log"
wait_ready "http://127.0.0.1:$CTL_HP/readyz" "$CTL_PID" 120
GW_PORT=$(bx_free_port)
bx_start_gateway "$BX_WORK/gateway.log" "$GW_PORT" --kubernetes --kubeconfig "$KUBECONFIG_FAKE" \
    --access-log off
GW_PID=$BX_LAST
wait_ready "http://127.0.0.1:$GW_PORT/readyz" "$GW_PID" 120
for _ in $(seq 300); do ctl_leading && break; sleep 0.1; done
ctl_leading || { echo "k8s_scale: the controller does not lead" >&2; exit 1; }
: >"$BX_WORK/objects.yaml"
for ((m = 0; m < MODELS; m++)); do
    for ((a = 0; a < ADAPTERS; a++)); do
        cat >>"$BX_WORK/objects.yaml" <<YAML
---
apiVersion: model.aibrix.ai/v1alpha1
kind: ModelAdapter
metadata: {name: llm-$m-lora-$a}
spec:
  baseModel: llm-$m
  podSelector: {matchLabels: {model.aibrix.ai/name: llm-$m}}
  artifactURL: huggingface://bench/llm-$m-lora-$a
YAML
    done
    cat >>"$BX_WORK/objects.yaml" <<YAML
---
apiVersion: autoscaling.aibrix.ai/v1alpha1
kind: PodAutoscaler
metadata: {name: llm-$m-kpa}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llm-$m}
  minReplicas: $REPLICAS
  maxReplicas: $REPLICAS
  scalingStrategy: KPA
  metricsSources:
  - {metricSourceType: pod, protocolType: http, port: "8000", path: /metrics,
     targetMetric: num_requests_running, targetValue: "8"}
YAML
done
t0=$(date +%s.%N)
"${K[@]}" apply -f "$BX_WORK/objects.yaml" >/dev/null
running() {
    "${K[@]}" get modeladapters -o json |
        jq --argjson r "$REPLICAS" '[.items[] | select(.status.phase == "Running" and (.status.instances | length) == $r)] | length'
}
want=$((MODELS * ADAPTERS))
for _ in $(seq 600); do
    [ "$(running)" = "$want" ] && break
    sleep 0.5
done
got=$(running)
[ "$got" = "$want" ] || { echo "k8s_scale: $got of $want adapters Running on $REPLICAS pods" >&2; exit 1; }
echo "k8s_scale: $want adapters loaded on $REPLICAS pods each ($((want * REPLICAS)) loads) and Running in" \
    "$(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s"

# ---- steady state: WINDOW seconds of API requests, by client, verb and resource
sleep 10
fake_api GET /fake/stats >"$BX_WORK/stats0.json"
sleep "$WINDOW"
fake_api GET /fake/stats >"$BX_WORK/stats1.json"
ctl_rss1=$(rss "$CTL_PID")
gw_rss1=$(rss "$GW_PID")
echo "k8s_scale: steady state, $PODS pods ($ENGINES engines), $want adapters, $MODELS autoscalers;" \
    "API requests a minute over ${WINDOW} s:"
python3 - "$BX_WORK/stats0.json" "$BX_WORK/stats1.json" "$WINDOW" <<'PY'
import json, sys
a, b, w = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), float(sys.argv[3])
for ua, who in (("brix-controller", "controller"), ("brix", "gateway")):
    rows = {k.split(":", 2)[2]: b[k] - a.get(k, 0) for k in b
            if k.startswith("res:%s:" % ua) and b[k] - a.get(k, 0) > 0}
    writes = sum(v for k, v in rows.items() if not k.startswith(("watch:", "list:", "get:")))
    lease = rows.get("update:leases", 0)
    total = sum(rows.values())
    print("  %-10s %5.1f/min in all; %5.1f/min writes besides the Lease's renewals (goal 0)" % (
        who, total * 60 / w, (writes - lease) * 60 / w))
    for k in sorted(rows):
        print("    %-32s %6.1f/min" % (k, rows[k] * 60 / w))
print("  watches open at the end: %d (all clients)" % b.get("watchesOpen", 0))
PY

# ---- memory with BIG pods
if [ "$BIG" -gt "$PODS" ]; then
    python3 "$K8S/bulk_pods.py" --api "$FAKE_API" --count $((BIG - PODS)) --start "$PODS" \
        --prefix idle --models 50 >"$BX_WORK/idle.json"
fi
for _ in $(seq 600); do
    n=$(curl -sf --max-time 2 "http://127.0.0.1:$CTL_MP/metrics" | awk '$1 == "brix_controller_pods" {print $2}')
    [ "${n%.*}" -ge "$BIG" ] 2>/dev/null && break
    sleep 0.5
done
sleep 3
ctl_rss2=$(rss "$CTL_PID")
gw_rss2=$(rss "$GW_PID")
peer="" peer0=""
if command -v node >/dev/null && [ -d "$HERE/../tests/e2e/node_modules/@kubernetes/client-node" ]; then
    mkdir -p "$BX_WORK/node"
    cp "$HERE/k8s/informer_rss.mjs" "$BX_WORK/node/"
    ln -s "$(cd "$HERE/../tests/e2e/node_modules" && pwd)" "$BX_WORK/node/node_modules"
    peer0=$(node --expose-gc "$BX_WORK/node/informer_rss.mjs" "$KUBECONFIG_FAKE" empty 0 |
        jq -r .rss_kib)
    peer=$(node --expose-gc "$BX_WORK/node/informer_rss.mjs" "$KUBECONFIG_FAKE" default "$BIG" |
        jq -r .rss_kib)
fi
echo "k8s_scale: memory (RSS) with no pods / $PODS pods / $BIG pods in the informers"
echo "  controller: $(mib "$ctl_rss0") / $(mib "$ctl_rss1") / $(mib "$ctl_rss2") MiB"
echo "  gateway:    $(mib "$gw_rss0") / $(mib "$gw_rss1") / $(mib "$gw_rss2") MiB"
if [ -n "$peer" ]; then
    echo "  peer, an informer of @kubernetes/client-node (node $(node --version)): $(mib "$peer0") MiB with" \
        "no pods, $(mib "$peer") MiB with $BIG"
    echo "  ratio to the peer with $BIG pods: controller $(python3 -c "print(round($ctl_rss2 / $peer, 2))")," \
        "gateway $(python3 -c "print(round($gw_rss2 / $peer, 2))")"
else
    echo "  peer: skipped (node or tests/e2e/node_modules missing: bash scripts/deps.sh)"
fi
echo "  one pod's JSON as stored: $(jq .pod_bytes "$BX_WORK/bare.json") bytes"
