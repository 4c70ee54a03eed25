#!/usr/bin/env bash
# The test stand-in for a cluster's controllers and kubelet (tests/k8s/fake_kubelet.py) on the
# fake Kubernetes API server: a Deployment whose container runs `brix engine` becomes Ready
# pods, each a local engine on its own 127.0.0.x address that answers at podIP:port; scaling
# adds and removes them; deleting the Deployment removes ReplicaSet, pods and processes; at
# steady state the stand-in makes no writes; a pod with a preStop sleep action keeps serving
# that long after its delete, then stops.
# Usage: bash tests/e2e/test_k8s_kubelet.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
bx_need python3 kubectl
source "$E2E_DIR/../k8s/lib.sh"

fake_apiserver_start "$E2E_TMP" || fail "fake apiserver did not start"
K=(kubectl --kubeconfig "$KUBECONFIG_FAKE" --request-timeout=10s)
fake_kubelet_start "$E2E_TMP" "$BRIX" 20 || fail "fake kubelet did not sync"
KUBELET_PID=$FAKE_KUBELET_PID

fake_model_deployment "$E2E_TMP/dep.yaml" llama 2 --time-scale 50
"${K[@]}" apply -f "$E2E_TMP/dep.yaml" >/dev/null || fail "apply deployment"

# ready_pods N: waits until exactly N pods of the Deployment are Ready
ready_pods() {
    local n=$1 got=""
    for _ in $(seq 200); do
        got=$("${K[@]}" get pods -l model.aibrix.ai/name=llama -o json |
            jq '[.items[] | select(.metadata.deletionTimestamp == null)
                 | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length')
        [ "$got" = "$n" ] && return 0
        sleep 0.1
    done
    fail "want $n Ready pods, have $got: $("${K[@]}" get pods -o wide 2>&1)"
}
ready_pods 2
for ip in $("${K[@]}" get pods -l model.aibrix.ai/name=llama -o jsonpath='{.items[*].status.podIP}'); do
    curl -sf --max-time 5 "http://$ip:8000/v1/models" | jq -e '.data[0].id == "llama"' >/dev/null ||
        fail "engine of pod at $ip:8000 does not serve llama"
done
"${K[@]}" get deploy llama -o jsonpath='{.status.readyReplicas}/{.status.replicas}' >"$E2E_TMP/out"
[ "$(cat "$E2E_TMP/out")" = "2/2" ] || fail "deployment status: $(cat "$E2E_TMP/out")"

# steady state: no writes by the stand-in
w1=$(fake_api GET /fake/stats | jq '.writes')
sleep 1
w2=$(fake_api GET /fake/stats | jq '.writes')
[ "$w1" = "$w2" ] || fail "writes at steady state: $w1 -> $w2"

"${K[@]}" scale deploy llama --replicas=3 >/dev/null || fail "scale up"
ready_pods 3
"${K[@]}" scale deploy llama --replicas=1 >/dev/null || fail "scale down"
ready_pods 1
for _ in $(seq 100); do
    [ "$("${K[@]}" get pods -o name | wc -l)" = 1 ] && break
    sleep 0.1
done
[ "$("${K[@]}" get pods -o name | wc -l)" = 1 ] || fail "terminated pods not removed"

"${K[@]}" delete deploy llama --timeout=10s >/dev/null || fail "delete deployment"
for _ in $(seq 100); do
    [ -z "$("${K[@]}" get pods,rs -o name)" ] && break
    sleep 0.1
done
[ -z "$("${K[@]}" get pods,rs -o name)" ] || fail "GC left: $("${K[@]}" get pods,rs -o name)"
for _ in $(seq 50); do [ -z "$(pgrep -P "$KUBELET_PID")" ] && break; sleep 0.1; done
[ -z "$(pgrep -P "$KUBELET_PID")" ] || fail "engines left running: $(pgrep -aP "$KUBELET_PID")"

# a pod with a preStop sleep action keeps its process that long after its delete
cat >"$E2E_TMP/prestop.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: prestop, labels: {model.aibrix.ai/name: llama}}
spec:
  containers:
  - name: engine
    image: brix:test
    command: [brix, engine]
    args: [--model, llama, --time-scale, "50"]
    ports: [{containerPort: 8000}]
    lifecycle: {preStop: {sleep: {seconds: 2}}}
YAML
"${K[@]}" apply -f "$E2E_TMP/prestop.yaml" >/dev/null || fail "apply the preStop pod"
ready_pods 1
PS_IP=$("${K[@]}" get pod prestop -o jsonpath='{.status.podIP}')
"${K[@]}" delete pod prestop --wait=false >/dev/null || fail "delete the preStop pod"
for _ in $(seq 50); do
    [ -n "$("${K[@]}" get pod prestop -o jsonpath='{.metadata.deletionTimestamp}')" ] && break
    sleep 0.1
done
sleep 0.5 # the stand-in has seen the delete
curl -sf --max-time 2 "http://$PS_IP:8000/health" >/dev/null || fail "the engine stopped before its preStop sleep ended"
for _ in $(seq 100); do "${K[@]}" get pod prestop >/dev/null 2>&1 || break; sleep 0.1; done
! "${K[@]}" get pod prestop >/dev/null 2>&1 || fail "the preStop pod was not removed"
! curl -sf --max-time 2 "http://$PS_IP:8000/health" >/dev/null || fail "the preStop pod's engine still runs"
log "a pod's preStop sleep: its engine serves during it, then stops and the pod goes"
# the engines' logs join the sanitizer check of the ASan build's run
for f in "$E2E_TMP"/pods/*.log; do E2E_LOGS+=("$f"); done
log "deployment -> ready engine pods at their podIPs, scaled 2 -> 3 -> 1, deleted with GC"
