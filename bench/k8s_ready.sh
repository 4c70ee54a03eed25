#!/usr/bin/env bash
# Pod Ready -> first routed request through `brix gateway --kubernetes` (issue 15's goal: under
# 1 s), against the fake Kubernetes API server of the tests (tests/k8s/fake_apiserver.py, a test
# fixture) and its cluster stand-in (tests/k8s/fake_kubelet.py, which runs each pod as a local
# `brix engine` on 127.0.0.x and marks it Ready once /health answers). ROUNDS times: scale a
# Deployment of BASE engine pods up by one, see the new pod's Ready event on a pod watch, and
# time until the first answer whose target-pod header is that pod (SENDERS threads keep sending
# one-token chat completions); scale back down. Prints each round, then median, p99 and max.
#
#   bash bench/k8s_ready.sh [path/to/brix] [rounds]
#
# Environment: BASE=N pods before each scale-up (default 2), SENDERS=N (default 4),
# GW_FLAGS="..." more gateway flags.
# What it measures: the gateway's watch latency plus one rebuild of its engine set plus the
# first pick of the new pod; the stand-in's own delay to Ready is not in it. On a real cluster
# the watch goes through kube-apiserver's watch cache, typically milliseconds more.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BX_NAME=k8s_ready
# shellcheck source=../scripts/lib.sh
source "$HERE/../scripts/lib.sh"
BRIX=${1:-build/brix}
ROUNDS=${2:-20}
BASE=${BASE:-2}
SENDERS=${SENDERS:-4}
bx_brix "$BRIX"
bx_need python3 kubectl curl
K8S="$HERE/../tests/k8s"
[ -f "$K8S/fake_apiserver.py" ] || { echo "k8s_ready: no tests/k8s/fake_apiserver.py" >&2; exit 2; }
# shellcheck source=../tests/k8s/lib.sh
source "$K8S/lib.sh"
bx_workdir

fake_apiserver_start "$BX_WORK" || exit 1
BX_PIDS+=("$FAKE_API_PID")
bx_spawn "$BX_WORK/kubelet.log" python3 "$K8S/fake_kubelet.py" --server "$FAKE_API" \
    --brix "$BRIX" --workdir "$BX_WORK/pods" --ip-first 60 --ready-file "$BX_WORK/kubelet.ready"
for _ in $(seq 100); do [ -s "$BX_WORK/kubelet.ready" ] && break; sleep 0.1; done
[ -s "$BX_WORK/kubelet.ready" ] || { echo "k8s_ready: the stand-in did not sync" >&2; exit 1; }
cat >"$BX_WORK/dep.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: bench, labels: {model.aibrix.ai/name: bench}}
spec:
  replicas: $BASE
  selector: {matchLabels: {model.aibrix.ai/name: bench}}
  template:
    metadata: {labels: {model.aibrix.ai/name: bench, model.aibrix.ai/port: "8000"}}
    spec:
      containers:
      - {name: engine, image: brix, command: [brix, engine], args: [--model, bench, --time-scale, "1000"]}
YAML
kubectl --kubeconfig "$KUBECONFIG_FAKE" apply -f "$BX_WORK/dep.yaml" >/dev/null
GW_PORT=$(bx_free_port)
# shellcheck disable=SC2086
bx_start_gateway "$BX_WORK/gateway.log" "$GW_PORT" --kubernetes --kubeconfig "$KUBECONFIG_FAKE" \
    --access-log off ${GW_FLAGS:-}
GW_PID=$BX_LAST
for _ in $(seq 300); do
    n=$(curl -s "http://127.0.0.1:$GW_PORT/metrics" | grep -c '^brix_gateway_engine_ready{.*} 1' || true)
    [ "$n" -ge "$BASE" ] && break
    kill -0 "$GW_PID" || { tail "$BX_WORK/gateway.log" >&2; exit 1; }
    sleep 0.1
done
echo "k8s_ready: $BASE pods routable; $ROUNDS scale-ups by one, $SENDERS senders"
python3 "$K8S/ready_to_routed.py" --api "$FAKE_API" --gateway "http://127.0.0.1:$GW_PORT" \
    --deployment bench --model bench --rounds "$ROUNDS" --senders "$SENDERS"
