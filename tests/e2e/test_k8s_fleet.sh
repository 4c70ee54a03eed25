#!/usr/bin/env bash
# A RayClusterFleet on the fake Kubernetes API server (tests/k8s/fake_apiserver.py) with the
# CRDs of deploy/ (AIBrix's RayClusterFleet/RayClusterReplicaSet, the test RayCluster CRD),
# the fake kubelet (pods run as `brix engine` on 127.0.0.x), the fake KubeRay operator
# (tests/k8s/fake_kuberay.py), `brix controller` (its fleet and replica-set controllers make
# RayClusterReplicaSets and ray.io/v1 RayClusters through the API server) and
# `brix gateway --kubernetes`; the Kubernetes version of tests/e2e/test_up_fleet.sh:
#   - a fleet of 2 replicas of 2-node groups (a head and one worker, brix engines as a group)
#     applied with kubectl serves through the gateway, from the heads only; kubectl shows one
#     RayClusterReplicaSet owned by the fleet (ownerReference with its uid) and two RayClusters
#     owned by the replica set;
#   - a worker SIGKILLed takes its group out of routing at once (its head leaves Ready, the
#     gateway stops sending to it) and the group comes back (the replica-set controller deletes
#     the RayCluster that is no longer ready and makes a replacement, docs/multinode.md);
#   - a template change (kubectl apply of a new head arg) rolls with maxSurge 1 /
#     maxUnavailable 0: never more than 3 RayClusters, never fewer than 2 ready ones, every
#     request of a `brix bench run` through the gateway meanwhile answered;
#   - `kubectl scale rayclusterfleet big --replicas 3` (the scale subresource) gives 3 groups;
#     status.scalingTargetSelector is the head selector; a PodAutoscaler bounded to 2..2 scales
#     it back to 2 through the same subresource;
#   - deleting the fleet deletes its replica sets, RayClusters and pods (garbage collection).
# Skips when python3, kubectl or jq is absent.
# Usage: bash tests/e2e/test_k8s_fleet.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
source "$E2E_DIR/../k8s/lib.sh"
k8s_e2e_start 80
fake_kuberay_start "$E2E_TMP" || fail "fake KubeRay did not start"

fleet() { # SEED
    cat <<YAML
apiVersion: orchestration.aibrix.ai/v1alpha1
kind: RayClusterFleet
metadata:
  name: big
  labels: {model.aibrix.ai/name: big}
spec:
  replicas: 2
  selector: {matchLabels: {model.aibrix.ai/name: big}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {model.aibrix.ai/name: big}}
    spec:
      headGroupSpec:
        rayStartParams: {}
        template:
          metadata: {labels: {model.aibrix.ai/name: big, model.aibrix.ai/port: "8000"}}
          spec:
            containers:
            - name: head
              image: brix:test
              command: [brix, engine]
              args: [--model, big, --seed, "$1", --group-timeout, "2", --time-scale, "0.2"]
              ports: [{containerPort: 8000}]
              readinessProbe: {httpGet: {path: /health, port: 8000}, periodSeconds: 1, failureThreshold: 1}
              lifecycle: {preStop: {sleep: {seconds: 3}}}
      workerGroupSpecs:
      - groupName: w
        replicas: 1
        minReplicas: 1
        maxReplicas: 1
        rayStartParams: {}
        template:
          metadata: {labels: {model.aibrix.ai/port: "8000"}}
          spec:
            containers:
            - name: worker
              image: brix:test
              command: [brix, engine]
              args: [--group-timeout, "2"]
              ports: [{containerPort: 8000}]
              lifecycle: {preStop: {sleep: {seconds: 3}}}
YAML
}
fleet 1 >"$E2E_TMP/v1.yaml"
fleet 2 >"$E2E_TMP/v2.yaml"

k8s_start_controller a
"${K[@]}" apply -f "$E2E_TMP/v1.yaml" >/dev/null || fail "apply the fleet"

GW_PORT=$(free_port)
"$BRIX" gateway --kubernetes --kubeconfig "$KUBECONFIG_FAKE" --port "$GW_PORT" --access-log off \
    >"$E2E_TMP/gateway.log" 2>&1 &
E2E_PIDS+=("$!")
E2E_LOGS+=("$E2E_TMP/gateway.log")
BASE="http://127.0.0.1:$GW_PORT"
wait_ready "$BASE/readyz"

check_with() { # FILE NAME VALUE FILTER MSG: check with $NAME bound to VALUE
    jq -e --arg "$2" "$3" "$4" "$1" >/dev/null || fail "$5 ($(jq -c . "$1" | head -c 1500))"
}
rcs() { "${K[@]}" get rayclusters -o json 2>/dev/null || echo '{"items":[]}'; }
ready_groups() { rcs | jq '[.items[] | select(.status.state == "ready")] | length'; }
fleet_status() { "${K[@]}" get rayclusterfleet big -o json 2>/dev/null | jq -c '.status // {}'; }
fleet_done() { # N: N updated, available groups and nothing else
    fleet_status | jq -e --argjson n "$1" '.updatedReplicas == $n and .availableReplicas == $n
        and .replicas == $n' >/dev/null && [ "$(ready_groups)" = "$1" ] && [ "$(rcs | jq '.items | length')" = "$1" ]
}
ask() {
    curl -s -o "$E2E_TMP/body" -D "$E2E_TMP/headers" -w '%{http_code}' --max-time 20 \
        -H 'Content-Type: application/json' "$BASE/v1/completions" \
        -d '{"model":"big","prompt":"hi","max_tokens":2}' || true
}
head_ips() { # the podIPs of the Ready head pods, sorted
    "${K[@]}" get pods -l ray.io/node-type=head -o json | jq -r '.items[]
        | select(.metadata.deletionTimestamp == null)
        | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))
        | .status.podIP' | sort
}

wait_for 30 "2 ready groups" fleet_done 2
FLEET_UID=$("${K[@]}" get rayclusterfleet big -o jsonpath='{.metadata.uid}')
"${K[@]}" get rayclusterreplicasets -o json >"$E2E_TMP/rs.json"
check_with "$E2E_TMP/rs.json" uid "$FLEET_UID" '(.items | length == 1) and (.items[0] | (.metadata.name | startswith("big-"))
    and .metadata.labels["pod-template-hash"] != null
    and .metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    and (.metadata.ownerReferences | length == 1) and (.metadata.ownerReferences[0] | .kind == "RayClusterFleet"
        and .name == "big" and .uid == $uid and .controller == true)
    and .status.readyReplicas == 2)' "one replica set owned by the fleet, revision 1, 2 ready"
RS=$(jq -r '.items[0].metadata.name' "$E2E_TMP/rs.json")
RS_UID=$(jq -r '.items[0].metadata.uid' "$E2E_TMP/rs.json")
rcs >"$E2E_TMP/rc.json"
RS_NAME=$RS check_with "$E2E_TMP/rc.json" uid "$RS_UID" '(.items | length == 2) and all(.items[];
    .apiVersion == "ray.io/v1" and (.metadata.name | startswith($ENV.RS_NAME + "-"))
    and (.metadata.ownerReferences[0] | .kind == "RayClusterReplicaSet" and .name == $ENV.RS_NAME and .uid == $uid and .controller == true))' \
    "two RayClusters owned by the replica set"
"${K[@]}" get pods -o json >"$E2E_TMP/pods.json"
check "$E2E_TMP/pods.json" '[.items[] | select(.metadata.labels["orchestration.aibrix.ai/raycluster-fleet-name"] == "big")] | length == 4' "4 member pods carry the fleet's label"
HEADS=$(head_ips)
[ "$(wc -l <<<"$HEADS")" = 2 ] || fail "want 2 Ready heads: $HEADS"
got=""
for _ in $(seq 50); do
    got=$(for i in 1 2 3 4 5 6; do
        expect_status "$(ask)" 200 "a completion through the gateway"
        tr -d '\r' <"$E2E_TMP/headers" | sed -n 's/^target-pod-ip: //Ip' | sed 's/:[0-9]*$//'
    done | sort -u)
    [ "$got" = "$HEADS" ] && break
    sleep 0.2
done
[ "$got" = "$HEADS" ] || fail "requests went to [$(tr "\n" " " <<<"$got")], want the heads [$(tr "\n" " " <<<"$HEADS")]"
"${K[@]}" get rayclusterreplicasets >"$E2E_TMP/get.txt" 2>&1 && "${K[@]}" get rayclusters >>"$E2E_TMP/get.txt" 2>&1 ||
    fail "kubectl get: $(cat "$E2E_TMP/get.txt")"
grep -qE "^$RS " "$E2E_TMP/get.txt" || fail "kubectl get rayclusterreplicasets: $(cat "$E2E_TMP/get.txt")"
[ "$(grep -cE "^$RS-[a-z0-9]{5} +1 +1 +ready" "$E2E_TMP/get.txt")" = 2 ] || fail "kubectl get rayclusters: $(cat "$E2E_TMP/get.txt")"
log "fleet of 2 groups ready (replica set $RS owns two RayClusters); the gateway routes to the heads only"

# ---- a worker dies: its group leaves routing at once and comes back
W=$("${K[@]}" get pods -l ray.io/node-type=worker -o json | jq -c '[.items[]
    | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))][0]
    | {ip: .status.podIP, rc: .metadata.labels["ray.io/cluster"]}')
W_IP=$(jq -r .ip <<<"$W")
CL=$(jq -r .rc <<<"$W")
CL_HEAD=$("${K[@]}" get raycluster "$CL" -o jsonpath='{.status.head.podIP}')
W_PID=$(ps -eo pid=,args= | awk -v ip="$W_IP" '$0 ~ "engine --host " ip " " {print $1; exit}')
[ -n "$W_PID" ] || fail "no engine process of the worker at $W_IP"
removed=$(grep -c "discovery: engine $CL_HEAD:8000 removed" "$E2E_TMP/gateway.log")
t0=$(date +%s.%N)
kill -KILL "$W_PID"
head_unrouted() { # its head pod not Ready (or gone) and the gateway has dropped it
    ! grep -qx "$CL_HEAD" <<<"$(head_ips)" &&
        [ "$(grep -c "discovery: engine $CL_HEAD:8000 removed" "$E2E_TMP/gateway.log")" -gt "$removed" ]
}
wait_for 5 "the killed group's head out of routing" head_unrouted
t_out=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
for i in 1 2 3 4; do
    expect_status "$(ask)" 200 "a completion while the group is down"
    ! tr -d '\r' <"$E2E_TMP/headers" | grep -qi "^target-pod-ip: $CL_HEAD:" || fail "routed to the head of the dead group"
done
group_back() { # 2 ready groups, neither of them the killed one
    [ "$(rcs | jq --arg c "$CL" '[.items[] | select(.status.state == "ready" and .metadata.name != $c
        and .metadata.deletionTimestamp == null)] | length')" = 2 ] && [ "$(head_ips | wc -l)" = 2 ]
}
wait_for 20 "the group back (a replacement RayCluster ready)" group_back
t_back=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
wait_for 10 "the failed RayCluster deleted" bash -c "! ${K[*]} get raycluster $CL >/dev/null 2>&1"
expect_status "$(ask)" 200 "a completion after the group came back"
log "worker killed: group $CL out of routing after ${t_out}s, deleted, a replacement ready after ${t_back}s"

# ---- a template change rolls: maxSurge 1, maxUnavailable 0, under requests
# Every change of the RayClusters is recorded (a watch), to count them and their ready ones after
# each event rather than at the moments a poll happens to look.
kubectl --kubeconfig "$KUBECONFIG_FAKE" get rayclusters --watch --output-watch-events -o json >"$E2E_TMP/watch.json" 2>"$E2E_TMP/watch.err" &
WATCH=$!
E2E_PIDS+=("$WATCH")
listed() { [ "$(jq -s length "$E2E_TMP/watch.json" 2>/dev/null)" = 2 ]; }
wait_for 10 "the watch's first list of the 2 RayClusters" listed
"$BRIX" bench run --url "$BASE" --model big --rate 4 --duration 10 --input-len 32 --output-len 8 \
    --seed 3 --timeout 30 --no-progress --output "$E2E_TMP/load.jsonl" >"$E2E_TMP/load.txt" 2>&1 &
LOAD=$!
sleep 1
"${K[@]}" apply -f "$E2E_TMP/v2.yaml" >/dev/null || fail "apply v2"
rolled() { [ "$("${K[@]}" get rayclusterreplicasets -o json | jq '.items | length')" = 2 ] && fleet_done 2; }
wait_for 30 "the rollout to complete ($(fleet_status))" rolled
kill "$WATCH" 2>/dev/null || fail "the watch ended early: $(cat "$E2E_TMP/watch.err")"
# after each event: [RayClusters, ready ones not being deleted]
jq -s -c '[foreach .[] as $e ({}; if $e.type == "DELETED" then del(.[$e.object.metadata.name])
           else .[$e.object.metadata.name] = ($e.object.status.state == "ready"
                and $e.object.metadata.deletionTimestamp == null) end;
           [length, ([.[] | select(.)] | length)])] | .[1:]' "$E2E_TMP/watch.json" >"$E2E_TMP/counts.json" ||
    fail "the watch's events: $(head -c 300 "$E2E_TMP/watch.json") $(cat "$E2E_TMP/watch.err")"
most=$(jq 'map(.[0]) | max' "$E2E_TMP/counts.json")
fewest=$(jq 'map(.[1]) | min' "$E2E_TMP/counts.json")
[ "$(jq length "$E2E_TMP/counts.json")" -gt 6 ] || fail "too few events seen: $(cat "$E2E_TMP/counts.json")"
[ "$most" -le 3 ] || fail "$most RayClusters during the rollout (replicas 2 + maxSurge 1): $(cat "$E2E_TMP/counts.json")"
[ "$fewest" -ge 2 ] || fail "$fewest ready groups during the rollout (maxUnavailable 0): $(cat "$E2E_TMP/counts.json")"
wait "$LOAD" || true
[ -s "$E2E_TMP/load.jsonl" ] || fail "no requests during the rollout: $(tail -n 3 "$E2E_TMP/load.txt")"
jq -s -e 'length > 10 and all(.ok)' "$E2E_TMP/load.jsonl" >/dev/null ||
    fail "requests failed during the rollout: $(jq -c 'select(.ok | not) | .error' "$E2E_TMP/load.jsonl" | head -n 3)"
"${K[@]}" get rayclusterreplicasets -o json >"$E2E_TMP/rs2.json"
check "$E2E_TMP/rs2.json" '[.items[] | select(.metadata.annotations["deployment.kubernetes.io/revision"] == "2" and .spec.replicas == 2)] | length == 1' "the new replica set at 2, revision 2"
check "$E2E_TMP/rs2.json" '[.items[] | select(.metadata.annotations["deployment.kubernetes.io/revision"] == "1" and .spec.replicas == 0)] | length == 1' "the old one kept at 0"
rcs >"$E2E_TMP/rc2.json"
check "$E2E_TMP/rc2.json" 'all(.items[]; .spec.headGroupSpec.template.spec.containers[0].args | index("2") != null)' "the RayClusters run the new head args"
log "rolled: at most $most RayClusters, at least $fewest ready over $(jq length "$E2E_TMP/counts.json") events; $(jq -s length "$E2E_TMP/load.jsonl") requests all answered"

# ---- the scale subresource
"${K[@]}" scale rayclusterfleet big --replicas 3 >"$E2E_TMP/scale.txt" 2>&1 || fail "kubectl scale: $(cat "$E2E_TMP/scale.txt")"
wait_for 30 "3 groups after kubectl scale" fleet_done 3
fleet_status >"$E2E_TMP/fleet.json"
check "$E2E_TMP/fleet.json" '.scalingTargetSelector == "orchestration.aibrix.ai/raycluster-fleet-name=big,ray.io/node-type=head"
    and ([.conditions[] | select(.type == "Available" and .status == "True")] | length == 1)' "status: the head selector, Available"
[ "$("${K[@]}" get rayclusterfleet big -o jsonpath='{.spec.replicas}')" = 3 ] || fail "spec.replicas is not 3"
[ "$(head_ips | wc -l)" = 3 ] || fail "want 3 Ready heads: $(head_ips)"
log "kubectl scale --replicas 3: 3 groups; scalingTargetSelector is the head selector"

# ---- a PodAutoscaler (bounds 2..2) scales the fleet through the same subresource
cat >"$E2E_TMP/pa.yaml" <<'YAML'
apiVersion: autoscaling.aibrix.ai/v1alpha1
kind: PodAutoscaler
metadata: {name: big-pa}
spec:
  scaleTargetRef: {apiVersion: orchestration.aibrix.ai/v1alpha1, kind: RayClusterFleet, name: big}
  minReplicas: 2
  maxReplicas: 2
  scalingStrategy: KPA
  metricsSources:
  - {metricSourceType: pod, protocolType: http, port: "8000", path: /metrics, targetMetric: num_requests_running, targetValue: "4"}
YAML
"${K[@]}" apply -f "$E2E_TMP/pa.yaml" >/dev/null || fail "apply the PodAutoscaler"
wait_for 30 "2 groups after the PodAutoscaler" fleet_done 2
[ "$("${K[@]}" get rayclusterfleet big -o jsonpath='{.spec.replicas}')" = 2 ] || fail "spec.replicas is not 2"
log "a PodAutoscaler (2..2) scaled the fleet to 2 groups"

# ---- deleting the fleet deletes everything under it
"${K[@]}" delete rayclusterfleet big --wait=false >/dev/null || fail "delete the fleet"
all_gone() {
    local left
    left=$("${K[@]}" get rayclusterreplicasets,rayclusters,pods -o name) && [ -z "$left" ]
}
wait_for 20 "the replica sets, RayClusters and pods gone" all_gone
log PASS
