#!/usr/bin/env bash
# KubeRay's RayCluster on the fake Kubernetes API server (tests/k8s/fake_apiserver.py) with the
# cluster stand-in (tests/k8s/fake_kubelet.py: pods run as `brix engine` processes on
# 127.0.0.x) and the fake KubeRay operator (tests/k8s/fake_kuberay.py), all test fixtures:
#   - a RayCluster applied with kubectl becomes a head pod and replicas x numOfHosts worker
#     pods with KubeRay's labels, the template's, an ownerReference to the cluster, and brix's
#     engine group env (BRIX_GROUP_SIZE on the head; BRIX_GROUP_LEADER = the head's
#     podIP:port and BRIX_GROUP_RANK 1..N-1 on the workers), running as local engines;
#   - its status in KubeRay's shape: state ready, RayClusterProvisioned and HeadPodReady True,
#     readyWorkerReplicas == desiredWorkerReplicas, head.podIP; `kubectl get rayclusters` shows
#     it, `kubectl get pods -l ray.io/node-type=head` the head;
#   - `brix gateway --kubernetes` routes the model to the head pod only (workers skipped);
#   - a deleted worker pod is created again with its rank and the cluster is ready again;
#   - a worker engine that stops answering (SIGSTOP) leaves Ready through its readiness probe
#     (the cluster's status counts it out, state no longer ready), is killed by its liveness
#     probe and restarted by the fake kubelet, and the cluster is ready again;
#   - `brix controller` with the three CRDs installed (RayClusterFleet, RayClusterReplicaSet,
#     RayCluster) syncs its store and is ready; it writes nothing to the RayCluster;
#   - deleting the RayCluster deletes its pods (garbage collection) and stops the engines.
# Skips when python3, kubectl or jq is absent.
# Usage: bash tests/e2e/test_k8s_raycluster.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
source "$E2E_DIR/../k8s/lib.sh"
k8s_e2e_start 60
fake_kuberay_start "$E2E_TMP" || fail "fake KubeRay did not start"

cat >"$E2E_TMP/rc.yaml" <<'YAML'
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: big
spec:
  headGroupSpec:
    rayStartParams: {}
    template:
      metadata:
        labels: {model.aibrix.ai/name: big, model.aibrix.ai/port: "8000"}
      spec:
        containers:
        - name: engine
          image: brix:test
          command: [brix, engine]
          args: [--model, big, --time-scale, "100"]
          ports: [{containerPort: 8000}]
          readinessProbe: {httpGet: {path: /health, port: 8000}, periodSeconds: 1, failureThreshold: 2}
          livenessProbe: {httpGet: {path: /health, port: 8000}, initialDelaySeconds: 5, periodSeconds: 1,
                          failureThreshold: 4}
  workerGroupSpecs:
  - groupName: gpu
    replicas: 2
    minReplicas: 0
    maxReplicas: 4
    rayStartParams: {}
    template:
      metadata:
        labels: {model.aibrix.ai/name: big, model.aibrix.ai/port: "8000"}
      spec:
        containers:
        - name: engine
          image: brix:test
          command: [brix, engine]
          args: [--model, big, --time-scale, "100"]
          ports: [{containerPort: 8000}]
          readinessProbe: {httpGet: {path: /health, port: 8000}, periodSeconds: 1, failureThreshold: 2}
          livenessProbe: {httpGet: {path: /health, port: 8000}, initialDelaySeconds: 5, periodSeconds: 1,
                          failureThreshold: 4}
YAML
t0=$(date +%s.%N)
"${K[@]}" apply -f "$E2E_TMP/rc.yaml" >/dev/null || fail "apply the RayCluster"

# rc_ready: the cluster's status says ready (KubeRay's three conditions of readiness)
rc_ready() {
    "${K[@]}" get raycluster big -o json | jq -e '.status as $s
        | $s.state == "ready" and $s.desiredWorkerReplicas == 2 and $s.readyWorkerReplicas == 2
        and any($s.conditions[]; .type == "RayClusterProvisioned" and .status == "True")
        and any($s.conditions[]; .type == "HeadPodReady" and .status == "True")' >/dev/null 2>&1
}
wait_rc_ready() {
    for _ in $(seq 300); do rc_ready && return 0; sleep 0.1; done
    fail "RayCluster not ready: $("${K[@]}" get raycluster big -o json | jq -c .status) $("${K[@]}" get pods -o wide 2>&1)"
}
wait_rc_ready
t_ready=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
PODS=$("${K[@]}" get pods -l ray.io/cluster=big -o json)
[ "$(jq '[.items[] | select(.metadata.labels["ray.io/node-type"] == "head")] | length' <<<"$PODS")" = 1 ] ||
    fail "want one head pod: $(jq -c '[.items[].metadata.name]' <<<"$PODS")"
[ "$(jq '[.items[] | select(.metadata.labels["ray.io/node-type"] == "worker")] | length' <<<"$PODS")" = 2 ] ||
    fail "want two worker pods"
RCUID=$("${K[@]}" get raycluster big -o jsonpath='{.metadata.uid}')
HEAD_IP=$(jq -r '.items[] | select(.metadata.labels["ray.io/node-type"] == "head") | .status.podIP' <<<"$PODS")
HEAD_NAME=$(jq -r '.items[] | select(.metadata.labels["ray.io/node-type"] == "head") | .metadata.name' <<<"$PODS")
[ "$("${K[@]}" get raycluster big -o jsonpath='{.status.head.podIP}')" = "$HEAD_IP" ] ||
    fail "status.head.podIP is not the head pod's ($HEAD_IP)"
# KubeRay's labels, the template's, the owner, and the engine group's env
jq -e --arg uid "$RCUID" --arg leader "http://$HEAD_IP:8000" '
    def env($n): .spec.containers[0].env // [] | map(select(.name == $n)) | .[0].value;
    all(.items[]; .metadata.labels["ray.io/cluster"] == "big"
        and .metadata.labels["ray.io/is-ray-node"] == "yes"
        and .metadata.labels["app.kubernetes.io/created-by"] == "kuberay-operator"
        and .metadata.labels["model.aibrix.ai/name"] == "big"
        and (.metadata.ownerReferences[0] | .kind == "RayCluster" and .uid == $uid and .controller))
    and all(.items[] | select(.metadata.labels["ray.io/node-type"] == "head");
        .metadata.labels["ray.io/group"] == "headgroup"
        and .metadata.labels["ray.io/identifier"] == "big-head" and env("BRIX_GROUP_SIZE") == "3")
    and all(.items[] | select(.metadata.labels["ray.io/node-type"] == "worker");
        .metadata.labels["ray.io/group"] == "gpu" and .metadata.labels["ray.io/identifier"] == "big-worker"
        and env("BRIX_GROUP_LEADER") == $leader)
    and ([.items[] | select(.metadata.labels["ray.io/node-type"] == "worker")
          | env("BRIX_GROUP_RANK")] | sort == ["1", "2"])' <<<"$PODS" >/dev/null ||
    fail "pods: $(jq -c '[.items[] | {n: .metadata.name, l: .metadata.labels, o: .metadata.ownerReferences, e: .spec.containers[0].env}]' <<<"$PODS")"
log "RayCluster big: head $HEAD_NAME at $HEAD_IP and two workers (ranks 1, 2), status ready ${t_ready}s after kubectl apply"

"${K[@]}" get rayclusters >"$E2E_TMP/get.out" 2>&1 || fail "kubectl get rayclusters: $(cat "$E2E_TMP/get.out")"
grep -qE '^big +2 +2 +ready' "$E2E_TMP/get.out" || fail "kubectl get rayclusters: $(cat "$E2E_TMP/get.out")"
[ "$("${K[@]}" get pods -l ray.io/node-type=head -o name)" = "pod/$HEAD_NAME" ] ||
    fail "kubectl get pods -l ray.io/node-type=head: $("${K[@]}" get pods -l ray.io/node-type=head -o name)"
log "kubectl get rayclusters: $(tail -n 1 "$E2E_TMP/get.out" | tr -s ' ')"

# ---- the gateway routes to the head only
GW_PORT=$(free_port)
"$BRIX" gateway --kubernetes --kubeconfig "$KUBECONFIG_FAKE" --port "$GW_PORT" --access-log off \
    >"$E2E_TMP/gateway.log" 2>&1 &
E2E_PIDS+=("$!")
E2E_LOGS+=("$E2E_TMP/gateway.log")
BASE="http://127.0.0.1:$GW_PORT"
wait_ready "$BASE/readyz"
targets() { # N: the distinct target-pod-ip of N chat completions for model big
    local i
    for i in $(seq "$1"); do
        curl -s -o /dev/null -D - --max-time 10 "$BASE/v1/chat/completions" \
            -H 'Content-Type: application/json' \
            -d "{\"model\":\"big\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi $i\"}]}" |
            tr -d '\r' | sed -n 's/^target-pod-ip: //Ip'
    done | sort -u
}
got=""
for _ in $(seq 50); do
    got=$(targets 8)
    [ "$got" = "$HEAD_IP:8000" ] && break
    sleep 0.2
done
[ "$got" = "$HEAD_IP:8000" ] || fail "requests went to [$(tr "\n" " " <<<"$got")], want the head $HEAD_IP:8000 only"
log "the gateway routes model big to the head pod only"

# ---- a deleted worker pod comes back with its rank
W1=$(jq -r '.items[] | select(.metadata.labels["ray.io/node-type"] == "worker")
     | select(any(.spec.containers[0].env[]; .name == "BRIX_GROUP_RANK" and .value == "1")) | .metadata.name' <<<"$PODS")
t0=$(date +%s.%N)
"${K[@]}" delete pod "$W1" --wait=false >/dev/null || fail "delete worker $W1"
for _ in $(seq 300); do
    new=$("${K[@]}" get pods -l ray.io/node-type=worker -o json | jq -r --arg old "$W1" '.items[]
        | select(.metadata.name != $old and .metadata.deletionTimestamp == null)
        | select(any(.spec.containers[0].env[]; .name == "BRIX_GROUP_RANK" and .value == "1"))
        | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))
        | .metadata.name')
    [ -n "$new" ] && break
    sleep 0.1
done
[ -n "$new" ] || fail "worker rank 1 was not created again: $("${K[@]}" get pods -o wide 2>&1)"
wait_rc_ready
t_back=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
[ "$("${K[@]}" get raycluster big -o json | jq -r --arg n "$W1" '[.status.conditions[]
    | select(.type == "RayClusterProvisioned")][0].status')" = True ] || fail "RayClusterProvisioned went back"
for _ in $(seq 100); do "${K[@]}" get pod "$W1" >/dev/null 2>&1 || break; sleep 0.1; done
! "${K[@]}" get pod "$W1" >/dev/null 2>&1 || fail "$W1 is still there"
log "worker $W1 deleted: $new created with rank 1, the cluster is ready again (${t_back}s after the delete)"

# ---- a worker that stops answering leaves Ready (readiness probe), is killed by its liveness
# probe and restarted; the cluster counts it out, then in again
W2=$("${K[@]}" get pods -l ray.io/node-type=worker -o json | jq -r '.items[]
     | select(any(.spec.containers[0].env[]; .name == "BRIX_GROUP_RANK" and .value == "2"))
     | .metadata.name')
W2_IP=$("${K[@]}" get pod "$W2" -o jsonpath='{.status.podIP}')
W2_PID=$(ps -eo pid=,args= | awk -v ip="$W2_IP" '$0 ~ "engine --host " ip " " {print $1; exit}')
[ -n "$W2_PID" ] || fail "no engine process of $W2 ($W2_IP)"
kill -STOP "$W2_PID" # the liveness probe's SIGKILL ends it
for _ in $(seq 150); do
    [ "$("${K[@]}" get raycluster big -o jsonpath='{.status.readyWorkerReplicas}')" = 1 ] && break
    sleep 0.1
done
st=$("${K[@]}" get raycluster big -o json | jq -c .status)
jq -e '.readyWorkerReplicas == 1 and .state == null' <<<"$st" >/dev/null ||
    fail "a stopped worker still counted: $st"
restarts() { "${K[@]}" get pod "$W2" -o jsonpath='{.status.containerStatuses[0].restartCount}'; }
for _ in $(seq 200); do
    [ "$(restarts)" -ge 1 ] 2>/dev/null && break
    sleep 0.1
done
wait_rc_ready
# at least once (an engine group restarts its members again when its leader restarts)
[ "$(restarts)" -ge 1 ] 2>/dev/null || fail "$W2 was not restarted by its liveness probe"
log "worker $W2 stopped: not Ready (cluster not ready), restarted by its liveness probe, ready again"

# ---- brix controller syncs its store with the three kinds' CRDs installed
k8s_start_controller a
for _ in $(seq 100); do
    curl -sf --max-time 2 "http://127.0.0.1:$CTL_HP/readyz" >/dev/null && break
    sleep 0.1
done
curl -sf --max-time 2 "http://127.0.0.1:$CTL_HP/readyz" >/dev/null ||
    fail "brix controller not ready: $(tail -n 20 "$E2E_TMP/ctl-a.log")"
grep -q 'caches synced' "$E2E_TMP/ctl-a.log" || fail "brix controller: no 'caches synced'"
! grep -q 'not served' "$E2E_TMP/ctl-a.log" || fail "brix controller: a kind's CRD not served: $(grep 'not served' "$E2E_TMP/ctl-a.log")"
log "brix controller synced (RayClusterFleet, RayClusterReplicaSet, RayCluster served)"

# ---- deleting the RayCluster deletes its pods
"${K[@]}" delete raycluster big --wait=false >/dev/null || fail "delete the RayCluster"
for _ in $(seq 300); do
    [ -z "$("${K[@]}" get pods -l ray.io/cluster=big -o name)" ] && break
    sleep 0.1
done
[ -z "$("${K[@]}" get pods -l ray.io/cluster=big -o name)" ] ||
    fail "pods left: $("${K[@]}" get pods -o wide 2>&1)"
for _ in $(seq 100); do
    curl -s --max-time 1 "http://$HEAD_IP:8000/health" >/dev/null || break
    sleep 0.1
done
! curl -s --max-time 1 "http://$HEAD_IP:8000/health" >/dev/null || fail "the head engine still runs"
log "RayCluster deleted: its pods and engines are gone"
log PASS
