#!/usr/bin/env bash
# `brix up` runs a RayClusterFleet (AIBrix's shape) of 2 replicas, each a 2-node group (a head
# and one worker, brix engine as a group): the fleet controller makes one RayClusterReplicaSet,
# which makes two RayClusters, which run as 4 engine processes; the gateway serves the model
# through the heads only; `brix get` shows the fleet, its replica set and its RayClusters.
# A worker SIGKILLed takes its group out of routing at once (its head leaves the gateway's
# engines before the group is back) and the group comes back as a unit. A template change rolls
# with maxSurge 1 / maxUnavailable 0: never more than 3 RayClusters, never fewer than 2 ready
# ones, and in the end 2 of the new revision (the old replica set kept at 0 for history) with
# every request sent meanwhile answered. A PodAutoscaler whose bounds are 3..3 scales the fleet
# to 3 groups; deleting the fleet stops every engine.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

GP=$(free_port)
AP=$(free_port)
BASE="http://127.0.0.1:$GP"
export BRIX_SERVER="http://127.0.0.1:$AP"

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
          metadata: {annotations: {brix.ai/drain-grace-seconds: "5"}}
          spec:
            containers:
              - name: head
                command: ["{brix}", engine, --port, "{port}", --model, big, --seed, "$1",
                          --group-timeout, "2", --time-scale, "0.2"]
      workerGroupSpecs:
        - groupName: w
          replicas: 1
          minReplicas: 1
          maxReplicas: 1
          rayStartParams: {}
          template:
            spec:
              containers:
                - name: worker
                  command: ["{brix}", engine, --port, "{port}", --group-timeout, "2"]
YAML
}
fleet 1 >"$E2E_TMP/v1.yaml"
fleet 2 >"$E2E_TMP/v2.yaml"
up_start up "$E2E_TMP/state" -f "$E2E_TMP/v1.yaml"

obj() { curl -sf --max-time 2 "$BRIX_SERVER/v1/objects/$1" || echo '{"items":[]}'; }
pods() { "$BRIX" get pods -o json 2>/dev/null || echo '{"items":[]}'; }
ready_groups() { obj raycluster | jq '[.items[] | select(.status.state == "ready")] | length'; }
groups() { obj raycluster | jq '.items | length'; }
fleet_status() { curl -sf --max-time 2 "$BRIX_SERVER/v1/objects/rayclusterfleet/big" | jq -c '.object.status // {}'; }
fleet_done() { # N: N updated, available groups and nothing else
    fleet_status | jq -e --argjson n "$1" '.updatedReplicas == $n and .availableReplicas == $n and .replicas == $n' >/dev/null &&
        [ "$(ready_groups)" = "$1" ] && [ "$(groups)" = "$1" ]
}
ask() {
    curl -s -o "$E2E_TMP/body" -D "$E2E_TMP/headers" -w '%{http_code}' --max-time 20 \
        -H 'Content-Type: application/json' "$BASE/v1/completions" \
        -d '{"model":"big","prompt":"hi","max_tokens":2}' || true
}

wait_for 40 "2 ready groups" fleet_done 2
pods >"$E2E_TMP/pods.json"
check "$E2E_TMP/pods.json" '[.items[] | select(.labels["orchestration.aibrix.ai/raycluster-fleet-name"] == "big")] | length == 4' "4 member pods carry the fleet's label"
check "$E2E_TMP/pods.json" '[.items[] | select(.labels["ray.io/node-type"] == "head" and .phase == "Ready")] | length == 2' "2 Ready heads"
obj rayclusterreplicaset >"$E2E_TMP/rs.json"
check "$E2E_TMP/rs.json" '(.items | length == 1) and (.items[0].metadata.name | startswith("big-")) and .items[0].metadata.labels["pod-template-hash"] != null and .items[0].metadata.annotations["deployment.kubernetes.io/revision"] == "1" and .items[0].status.readyReplicas == 2' "one replica set, revision 1, 2 ready"
fleet_status >"$E2E_TMP/fleet.json"
check "$E2E_TMP/fleet.json" '.scalingTargetSelector == "orchestration.aibrix.ai/raycluster-fleet-name=big,ray.io/node-type=head" and ([.conditions[] | select(.type == "Available" and .status == "True")] | length == 1)' "status: scale selector, Available"
"$BRIX" get rayclusterfleets >"$E2E_TMP/get.txt" 2>&1 || fail "brix get rayclusterfleets: $(cat "$E2E_TMP/get.txt")"
grep -Eq '^big +2/2 +2 +2 ' "$E2E_TMP/get.txt" || fail "brix get rayclusterfleets: $(cat "$E2E_TMP/get.txt")"
for _ in 1 2 3 4; do
    expect_status "$(ask)" 200 "a completion through the gateway"
    grep -qi '^target-pod: .*-head-0' "$E2E_TMP/headers" || fail "routed to a non-head pod: $(grep -i target-pod "$E2E_TMP/headers")"
done
log "fleet of 2 groups ready; the gateway routes to heads"

# a worker dies: its group leaves routing at once and comes back as a unit
read -r WPID CL < <(pods | jq -r '[.items[] | select(.labels["ray.io/node-type"] == "worker" and .phase == "Ready")][0] | "\(.pid) \(.labels["ray.io/cluster"])"')
HEAD_OLD=$(pods | jq -r --arg c "$CL" '.items[] | select(.labels["ray.io/cluster"] == $c and .labels["ray.io/node-type"] == "head") | .pid')
kill -KILL "$WPID"
head_unrouted() { # the killed group's head is not Ready (the gateway has dropped it)
    ! pods | jq -e --arg c "$CL" --argjson p "$HEAD_OLD" '.items[] | select(.labels["ray.io/cluster"] == $c and .pid == $p and .phase == "Ready")' >/dev/null
}
wait_for 5 "the killed group's head out of routing" head_unrouted
group_back() {
    pods | jq -e --arg c "$CL" --argjson w "$WPID" --argjson h "$HEAD_OLD" '[.items[] | select(.labels["ray.io/cluster"] == $c and .phase == "Ready" and .pid != $w and .pid != $h)] | length == 2' >/dev/null &&
        [ "$(ready_groups)" = 2 ]
}
wait_for 30 "the group back as a unit (new head and worker pids)" group_back
expect_status "$(ask)" 200 "a completion after the group came back"
log "worker killed: group out of routing, back as a unit"

# a template change rolls: maxSurge 1, maxUnavailable 0, under requests
"$BRIX" bench run --url "$BASE" --model big --rate 4 --duration 12 --input-len 32 --output-len 8 \
    --seed 3 --timeout 30 --no-progress --output "$E2E_TMP/load.jsonl" >"$E2E_TMP/load.txt" 2>&1 &
LOAD=$!
sleep 1
"$BRIX" apply -f "$E2E_TMP/v2.yaml" >"$E2E_TMP/apply.txt" 2>&1 || fail "apply v2: $(cat "$E2E_TMP/apply.txt")"
most=0 fewest=9
for ((i = 0; i < 300; i++)); do
    g=$(groups) r=$(ready_groups)
    [ "$g" -gt "$most" ] && most=$g
    [ "$r" -lt "$fewest" ] && fewest=$r
    obj rayclusterreplicaset | jq -e '.items | length == 2' >/dev/null && fleet_done 2 && break
    sleep 0.1
done
[ "$i" -lt 300 ] || fail "the rollout did not complete: $(fleet_status)"
[ "$most" -le 3 ] || fail "$most RayClusters during the rollout (replicas 2 + maxSurge 1)"
[ "$fewest" -ge 2 ] || fail "$fewest ready groups during the rollout (maxUnavailable 0)"
wait "$LOAD" || true
[ -s "$E2E_TMP/load.jsonl" ] || fail "no requests during the rollout: $(tail -n 3 "$E2E_TMP/load.txt")"
jq -s -e 'length > 10 and all(.ok)' "$E2E_TMP/load.jsonl" >/dev/null ||
    fail "requests failed during the rollout: $(jq -c 'select(.ok | not) | .error' "$E2E_TMP/load.jsonl" | head -n 3)"
obj rayclusterreplicaset >"$E2E_TMP/rs2.json"
check "$E2E_TMP/rs2.json" '[.items[] | select(.metadata.annotations["deployment.kubernetes.io/revision"] == "2" and .spec.replicas == 2)] | length == 1' "the new replica set at 2, revision 2"
check "$E2E_TMP/rs2.json" '[.items[] | select(.metadata.annotations["deployment.kubernetes.io/revision"] == "1" and .spec.replicas == 0)] | length == 1' "the old one kept at 0"
log "rolled: at most $most RayClusters, at least $fewest ready; $(jq -s length "$E2E_TMP/load.jsonl") requests all answered"

# a PodAutoscaler scales the fleet
cat >"$E2E_TMP/pa.yaml" <<'YAML'
apiVersion: autoscaling.aibrix.ai/v1alpha1
kind: PodAutoscaler
metadata: {name: big-pa}
spec:
  scaleTargetRef: {apiVersion: orchestration.aibrix.ai/v1alpha1, kind: RayClusterFleet, name: big}
  minReplicas: 3
  maxReplicas: 3
  scalingStrategy: KPA
  metricsSources:
    - {metricSourceType: pod, protocolType: http, port: "8000", path: /metrics, targetMetric: num_requests_running, targetValue: "4"}
YAML
"$BRIX" apply -f "$E2E_TMP/pa.yaml" >"$E2E_TMP/apply-pa.txt" 2>&1 || fail "apply pa: $(cat "$E2E_TMP/apply-pa.txt")"
wait_for 40 "3 groups after the autoscaler" fleet_done 3
log "PodAutoscaler scaled the fleet to 3 groups"

"$BRIX" delete rayclusterfleet big >/dev/null 2>&1 || fail "delete the fleet"
no_engines() { [ "$(pods | jq '[.items[] | select(.labels["ray.io/cluster"] != null)] | length')" = 0 ] && [ "$(groups)" = 0 ]; }
wait_for 30 "every member gone" no_engines
log "ok"
