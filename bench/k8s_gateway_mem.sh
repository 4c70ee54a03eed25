#!/usr/bin/env bash
# Memory of `brix gateway --kubernetes` with N pods labelled model.aibrix.ai/name in its informer
# (issue 15 asks for 10,000), against the fake Kubernetes API server of the tests
# (tests/k8s/fake_apiserver.py, a test fixture). The pods are shaped like a vLLM Deployment's
# (tests/k8s/bulk_pods.py: a container with args, env, resources, probes, volume mounts; no
# pod IP, so none is an engine and nothing is dialled): the figure is the informer's cache and
# the gateway's bookkeeping, not engines. Prints the gateway's RSS before and after the LIST,
# the time to list, the bytes of one pod's JSON, and the API requests the gateway made in a
# quiet 5 s afterwards (a watch only: none).
#
#   bash bench/k8s_gateway_mem.sh [path/to/brix] [pods]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BX_NAME=k8s_gateway_mem
# shellcheck source=../scripts/lib.sh
source "$HERE/../scripts/lib.sh"
BRIX=${1:-build/brix}
N=${2:-10000}
bx_brix "$BRIX"
bx_need python3 curl jq
K8S="$HERE/../tests/k8s"
[ -f "$K8S/fake_apiserver.py" ] || { echo "k8s_gateway_mem: no tests/k8s/fake_apiserver.py" >&2; exit 2; }
# shellcheck source=../tests/k8s/lib.sh
source "$K8S/lib.sh"
bx_workdir
fake_apiserver_start "$BX_WORK" || exit 1
BX_PIDS+=("$FAKE_API_PID")

echo "k8s_gateway_mem: creating $N pods in the fake"
python3 "$K8S/bulk_pods.py" --api "$FAKE_API" --count "$N" --prefix model --models 50 |
    jq .pod_bytes >"$BX_WORK/podsize"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# the baseline: the same gateway watching a namespace with no pods
P0=$(bx_free_port)
bx_start_gateway "$BX_WORK/gateway0.log" "$P0" --kubernetes --kubeconfig "$KUBECONFIG_FAKE" \
    --namespace empty --access-log off
bx_wait_http "http://127.0.0.1:$P0/readyz" 60 "$BX_LAST"
sleep 1
rss0=$(rss "$BX_LAST")
bx_stop "$BX_LAST"
GW_PORT=$(bx_free_port)
t0=$(date +%s.%N)
bx_start_gateway "$BX_WORK/gateway.log" "$GW_PORT" --kubernetes --kubeconfig "$KUBECONFIG_FAKE" \
    --access-log off
GW_PID=$BX_LAST
bx_wait_http "http://127.0.0.1:$GW_PORT/readyz" 120 "$GW_PID"
t1=$(date +%s.%N)
sleep 1
rss1=$(rss "$GW_PID")
r0=$(curl -s -H 'Authorization: Bearer fake-token' "$FAKE_API/fake/stats" | jq '[to_entries[] | select(.key | startswith("ua:brix")) | .value] | add // 0')
sleep 5
r1=$(curl -s -H 'Authorization: Bearer fake-token' "$FAKE_API/fake/stats" | jq '[to_entries[] | select(.key | startswith("ua:brix")) | .value] | add // 0')
echo "k8s_gateway_mem: $N pods (one pod's JSON as stored: $(cat "$BX_WORK/podsize") bytes)"
echo "  started, listed and ready in $(python3 -c "print(round($t1 - $t0, 2))") s"
echo "  gateway RSS: $((rss0 / 1024)) MiB with no pods, $((rss1 / 1024)) MiB with the pods cached" \
    "($(( (rss1 - rss0) * 1024 / N )) bytes a pod)"
echo "  API requests by the gateway in a quiet 5 s: $((r1 - r0))"
