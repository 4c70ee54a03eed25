#!/usr/bin/env bash
# `brix up` runs a KubeRay RayCluster (ray.io/v1) as a group of local engine
# processes (ctl_raycluster): a head and a worker group of 2 (templates
# without command: brix's engine). The members carry KubeRay's pod labels,
# the gateway routes to the head only, the RayCluster's status reaches
# state ready with its conditions; a worker SIGKILLed restarts the whole
# group as a unit (every member's pid changes, the status goes not ready,
# then ready again, with a GroupRestart event naming the member); deleting
# the RayCluster stops every member; a restart of `brix up` --keep-engines
# adopts the members. Under --engine simulator, a RayCluster
# written as AIBrix's sample is (a bash script that starts Ray, polls its
# dashboard, then runs vllm serve --tensor-parallel-size 2; a worker that
# evals $KUBERAY_GEN_RAY_START_CMD) runs brix's engine as head and worker;
# without the switch, where Ray is missing, an event names the switch.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

GP=$(free_port)
AP=$(free_port)
BASE="http://127.0.0.1:$GP"
export BRIX_SERVER="http://127.0.0.1:$AP"

cat >"$E2E_TMP/stack.yaml" <<'YAML'
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: rc
  labels:
    model.aibrix.ai/name: m1
spec:
  headGroupSpec:
    rayStartParams:
      dashboard-host: "0.0.0.0"
    template:
      metadata:
        labels:
          model.aibrix.ai/name: m1
      spec:
        containers:
          - name: ray-head
  workerGroupSpecs:
    - groupName: small-group
      replicas: 2
      minReplicas: 1
      maxReplicas: 5
      rayStartParams: {}
      template:
        spec:
          containers:
            - name: ray-worker
YAML

up_start up "$E2E_TMP/state" --engine simulator --keep-engines -f "$E2E_TMP/stack.yaml"

pods_json() { "$BRIX" get pods -o json 2>/dev/null || echo '{"items":[]}'; }
rc_pods() { pods_json | jq -c '[.items[] | select(.labels["ray.io/cluster"] == "rc")]'; }
ready_count() { rc_pods | jq '[.[] | select(.phase == "Ready")] | length'; }
three_ready() { [ "$(ready_count)" = 3 ]; }
no_members() { [ "$(rc_pods | jq length)" = 0 ]; }
status() { curl -sf --max-time 2 "$BRIX_SERVER/v1/objects/rayclusters/rc" | jq -c '.object.status // {}'; }
is_ready() { [ "$(status | jq -r '.state // ""')" = ready ]; }
not_ready() { status | jq -e '.state != "ready" and ([.conditions[] | select(.type == "RayClusterProvisioned")][0].status == "False")' >/dev/null; }
pids() { rc_pods | jq -r '[.[] | .pid] | sort | join(",")'; }
ask() {
    curl -s -o "$E2E_TMP/body" -w '%{http_code}' --max-time 20 -H 'Content-Type: application/json' \
        "$BASE/v1/completions" -d '{"model":"m1","prompt":"hi","max_tokens":2}' || true
}

wait_for 30 "three Ready members" three_ready
wait_for 10 "state ready" is_ready
rc_pods >"$E2E_TMP/pods.json"
check "$E2E_TMP/pods.json" 'length == 3' "three members"
check "$E2E_TMP/pods.json" '[.[] | select(.labels["ray.io/node-type"] == "head" and .labels["ray.io/group"] == "headgroup" and .labels["ray.io/is-ray-node"] == "yes" and .name == "rc-head-0")] | length == 1' "the head's labels and name"
check "$E2E_TMP/pods.json" '[.[] | select(.labels["ray.io/node-type"] == "worker" and .labels["ray.io/group"] == "small-group" and .labels["model.aibrix.ai/name"] == "m1")] | length == 2' "the workers' labels"
status >"$E2E_TMP/status.json"
check "$E2E_TMP/status.json" '.desiredWorkerReplicas == 2 and .readyWorkerReplicas == 2 and .availableWorkerReplicas == 2 and .head.podName == "rc-head-0" and .head.podIP == "127.0.0.1" and .observedGeneration >= 1' "status counts and head"
check "$E2E_TMP/status.json" '[.conditions[] | select((.type == "RayClusterProvisioned" or .type == "HeadPodReady") and .status == "True" and (.lastTransitionTime | test("^[0-9-]+T[0-9:]+Z$")))] | length == 2' "conditions True with lastTransitionTime"
log "3 members Ready with KubeRay's labels; status ready"

for _ in 1 2 3 4; do expect_status "$(ask)" 200 "a completion through the gateway"; done
HEAD_PORT=$(jq -r '.[] | select(.labels["ray.io/node-type"] == "head") | .port' "$E2E_TMP/pods.json")
[ "$(metric "$HEAD_PORT" vllm:request_success_total finished_reason=length)" = 4 ] || fail "the head did not serve the 4 requests"
for p in $(jq -r '.[] | select(.labels["ray.io/node-type"] == "worker") | .port' "$E2E_TMP/pods.json"); do
    n=$(metric "$p" vllm:request_success_total finished_reason=length)
    [ -z "$n" ] || [ "$n" = 0 ] || fail "worker on port $p served $n requests"
done
log "the gateway routes to the head only"

# brix up restarts (--keep-engines): the members are adopted, not restarted
BEFORE=$(pids)
LTT=$(status | jq -c '[.conditions[].lastTransitionTime]')
kill -TERM "$UP_PID"
wait "$UP_PID" 2>/dev/null
up_start up2 "$E2E_TMP/state" --engine simulator
wait_for 20 "the adopted group ready" is_ready
three_ready || fail "not every member Ready after adoption: $(rc_pods)"
[ "$(pids)" = "$BEFORE" ] || fail "members restarted instead of adopted: $BEFORE -> $(pids)"
[ "$(status | jq -c '[.conditions[].lastTransitionTime]')" = "$LTT" ] || fail "conditions moved: $LTT -> $(status)"
expect_status "$(ask)" 200 "a completion after brix up restarted"
log "brix up restarted: the members adopted (pids $BEFORE)"

# a worker dies: the group restarts as a unit
BEFORE=$(pids)
VICTIM=$(jq -r '[.[] | select(.labels["ray.io/node-type"] == "worker")][0].pid' "$E2E_TMP/pods.json")
kill -KILL "$VICTIM"
wait_for 20 "the status turns not ready" not_ready
wait_for 40 "the group ready again" is_ready
wait_for 10 "three Ready members again" three_ready
AFTER=$(pids)
for p in ${BEFORE//,/ }; do
    [[ ",$AFTER," != *",$p,"* ]] || fail "pid $p survived the unit restart (before $BEFORE, after $AFTER)"
done
curl -sf "$BRIX_SERVER/v1/events?kind=RayCluster&name=rc" >"$E2E_TMP/events.json" || fail "events"
check "$E2E_TMP/events.json" '[.. | objects | select(.reason? == "GroupRestart") | select(.message | test("rc-small-group-worker-"))] | length >= 1' "a GroupRestart event naming the worker"
for _ in 1 2 3; do expect_status "$(ask)" 200 "a completion after the restart"; done
log "worker SIGKILLed: every member restarted (pids $BEFORE -> $AFTER), ready again"

# delete: every member stops
curl -sf -X DELETE "$BRIX_SERVER/v1/objects/rayclusters/rc" >/dev/null || fail "delete the RayCluster"
wait_for 30 "every member stopped" no_members
for p in ${AFTER//,/ }; do
    kill -0 "$p" 2>/dev/null && fail "member pid $p still runs"
done
log "deleted: all members stopped"

# AIBrix's shape: scripts for Ray and vLLM, run by the simulator
cat >"$E2E_TMP/sample.yaml" <<'YAML'
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: qwen
spec:
  headGroupSpec:
    rayStartParams:
      dashboard-host: "0.0.0.0"
    template:
      metadata:
        labels:
          model.aibrix.ai/name: qwen-coder-7b-instruct
      spec:
        containers:
          - name: ray-head
            command: ["/bin/bash", "-c"]
            args:
              - >
                ulimit -n 65536 &&
                eval "$KUBERAY_GEN_RAY_START_CMD" &

                until curl --max-time 5 --fail http://127.0.0.1:8265 > /dev/null 2>&1; do
                  sleep 2;
                done &&

                vllm serve Qwen/Qwen2.5-Coder-7B-Instruct \
                  --served-model-name qwen-coder-7b-instruct \
                  --tensor-parallel-size 2 \
                  --distributed-executor-backend ray \
                  --host 0.0.0.0 \
                  --port 8000
  workerGroupSpecs:
    - groupName: small-group
      replicas: 1
      minReplicas: 1
      maxReplicas: 5
      rayStartParams: {}
      template:
        spec:
          containers:
            - name: ray-worker
              command: ["/bin/bash", "-c"]
              args:
                - >
                  ulimit -n 65536 &&
                  eval "$KUBERAY_GEN_RAY_START_CMD --node-ip-address=$MY_POD_IP" &&
                  tail -f /dev/null
YAML
"$BRIX" apply -f "$E2E_TMP/sample.yaml" >/dev/null || fail "apply the sample-shaped RayCluster"
qwen_ready() { [ "$(curl -sf "$BRIX_SERVER/v1/objects/rayclusters/qwen" | jq -r '.object.status.state // ""')" = ready ]; }
wait_for 30 "the sample-shaped RayCluster ready" qwen_ready
code=$(curl -s -o "$E2E_TMP/body" -w '%{http_code}' --max-time 20 -H 'Content-Type: application/json' \
    "$BASE/v1/completions" -d '{"model":"qwen-coder-7b-instruct","prompt":"hi","max_tokens":2}')
expect_status "$code" 200 "a completion from the simulated vLLM head"
grep -q -- 'engine --model Qwen/Qwen2.5-Coder-7B-Instruct .*--tensor-parallel-size 2' "$E2E_TMP/state/logs/qwen-head-0.log" ||
    fail "the head's launch line: $(grep -- '--- brix' "$E2E_TMP/state/logs/qwen-head-0.log")"
grep -q -- 'engine --port [0-9]' "$E2E_TMP/state/logs/qwen-small-group-worker-0-0.log" ||
    fail "the worker's launch line: $(grep -- '--- brix' "$E2E_TMP/state/logs/qwen-small-group-worker-0-0.log")"
log "AIBrix-shaped scripts: the head runs brix engine (TP 2), the worker brix engine --port"

# without --engine simulator, Ray missing here: an event on the RayCluster names the switch
if ! command -v ray >/dev/null; then
    GP=$(free_port)
    AP=$(free_port)
    export BRIX_SERVER="http://127.0.0.1:$AP"
    up_start up3 "$E2E_TMP/state3" -f "$E2E_TMP/sample.yaml"
    named() { curl -sf "$BRIX_SERVER/v1/events?kind=RayCluster&name=qwen" | jq -e '[.. | objects | select(.reason? == "FailedStart") | select(.message | test("ray: not found on PATH.*--engine simulator"))] | length >= 1' >/dev/null; }
    wait_for 10 "a FailedStart event naming --engine simulator" named
    log "no Ray here, no simulator: FailedStart names the switch"
fi
log "PASS"
