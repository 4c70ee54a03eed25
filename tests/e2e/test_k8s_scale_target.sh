#!/usr/bin/env bash
# PodAutoscalers whose scaleTargetRef is not a Deployment, in Kubernetes mode: `brix controller`
# and `brix gateway --kubernetes` on the fake API server (tests/k8s/fake_apiserver.py) with the
# cluster stand-in (tests/k8s/fake_kubelet.py, its StatefulSet controller running `brix engine`
# pods <sts>-0, <sts>-1, ...):
#   - a PodAutoscaler on an apps/v1 StatefulSet: the controller finds the plural and the scale
#     subresource through discovery, reads the StatefulSet's Scale (replicas, status.selector);
#     AbleToScale True;
#   - at steady state: no writes and no reads but watches (no GET of discovery or /scale);
#   - under load (two long streams on the one pod, targetValue 1 of num_requests_running: the
#     pods the Scale's selector selects are scraped, the CRD's status schema keeps no scrape
#     details to check) it scales the StatefulSet up through statefulsets/llama/scale, the new pod <sts>-1 becomes
#     Ready and the gateway routes requests to it;
#   - a PodAutoscaler on a kind without a scale subresource (apps/v1 DaemonSet) and one on a kind
#     the API does not serve get AbleToScale False / FailedGetScale (and a Warning event) and no
#     scaling; one created before its StatefulSet gets FailedGetScale "not found", then
#     SucceededGetScale once the StatefulSet exists.
# Skipped when kubectl, jq or python3 is absent.
# Usage: bash tests/e2e/test_k8s_scale_target.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
source "$E2E_DIR/../k8s/lib.sh"
k8s_e2e_start 60

# ---- a StatefulSet of model llama, one engine pod (slow decoding: a long stream stays running)
cat >"$E2E_TMP/sts.yaml" <<'YAML'
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: llama
  labels: {model.aibrix.ai/name: llama}
spec:
  replicas: 1
  serviceName: llama
  selector: {matchLabels: {model.aibrix.ai/name: llama, app: llama-sts}}
  template:
    metadata:
      labels: {model.aibrix.ai/name: llama, model.aibrix.ai/port: "8000", app: llama-sts}
    spec:
      containers:
      - name: engine
        image: brix:test
        command: [brix, engine]
        args: [--model, llama, --time-scale, "0.2"]
        ports: [{containerPort: 8000}]
YAML
"${K[@]}" apply -f "$E2E_TMP/sts.yaml" >/dev/null || fail "apply statefulset"

pod_addrs() { # "ip:8000" of the Ready, not terminating llama pods
    k8s_ready_ips llama | sed 's/$/:8000/'
}
k8s_wait_ready_pods llama 1
[ "$("${K[@]}" get pod llama-0 -o jsonpath='{.metadata.ownerReferences[0].kind}')" = StatefulSet ] ||
    fail "llama-0 is not the StatefulSet's: $("${K[@]}" get pods -o name)"

GW_PORT=$(free_port)
"$BRIX" gateway --kubernetes --kubeconfig "$KUBECONFIG_FAKE" --port "$GW_PORT" \
    --access-log off >"$E2E_TMP/gateway.log" 2>&1 &
E2E_PIDS+=("$!")
E2E_LOGS+=("$E2E_TMP/gateway.log")
BASE="http://127.0.0.1:$GW_PORT"
wait_ready "$BASE/readyz" "$!"

MP=$(free_port)
HP=$(free_port)
POD_NAMESPACE=default "$BRIX" controller --kubeconfig "$KUBECONFIG_FAKE" --bind-host 127.0.0.1 \
    --health-port "$HP" --metrics-port "$MP" --log-level debug >"$E2E_TMP/ctl.log" 2>&1 &
CTL_PID=$!
E2E_PIDS+=("$CTL_PID")
E2E_LOGS+=("$E2E_TMP/ctl.log")
for _ in $(seq 100); do curl -sf --max-time 2 "http://127.0.0.1:$HP/readyz" >/dev/null && break; sleep 0.1; done
curl -sf --max-time 2 "http://127.0.0.1:$HP/readyz" >/dev/null || fail "controller not ready"

# ---- the PodAutoscaler on the StatefulSet
cat >"$E2E_TMP/pa.yaml" <<'YAML'
apiVersion: autoscaling.aibrix.ai/v1alpha1
kind: PodAutoscaler
metadata:
  name: llama-sts-hpa
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: llama}
  minReplicas: 1
  maxReplicas: 3
  schedules:
  - {name: all-day, timezone: Europe/Paris, startTime: "00:00", endTime: "23:59", maxReplicas: 3}
  scheduledBounds:
  - {name: every-minute, timezone: America/Los_Angeles, cron: "* * * * *", duration: 1m,
     startTime: "2020-01-01T00:00:00Z", maxReplicas: 3}
  scalingStrategy: HPA
  metricsSources:
  - {metricSourceType: pod, protocolType: http, port: "8000", path: /metrics,
     targetMetric: num_requests_running, targetValue: "1"}
YAML
"${K[@]}" apply -f "$E2E_TMP/pa.yaml" >/dev/null || fail "apply autoscaler"
cond() { # cond PA TYPE -> "status/reason"
    "${K[@]}" get podautoscaler "$1" -o json |
        jq -r --arg t "$2" '.status.conditions[]? | select(.type == $t) | "\(.status)/\(.reason)"'
}
for _ in $(seq 100); do
    [ "$(cond llama-sts-hpa AbleToScale)" = True/SucceededGetScale ] && break
    sleep 0.1
done
[ "$(cond llama-sts-hpa AbleToScale)" = True/SucceededGetScale ] ||
    fail "AbleToScale: $("${K[@]}" get podautoscaler llama-sts-hpa -o json | jq -c .status)"
grep -q 'scale target StatefulSet.apps/llama' "$E2E_TMP/ctl.log" &&
    fail "target error: $(grep 'scale target' "$E2E_TMP/ctl.log")"
log "PodAutoscaler on StatefulSet llama: AbleToScale True"
# status.scheduledBounds reaches the API server (the schedule covers all of the day in Paris but
# its last minute, 23:59, when the scheduledBounds entry, active at every minute, shows); the
# CRD keeps spec.scheduledBounds (an API server prunes fields its schema lacks)
[ "$("${K[@]}" get podautoscaler llama-sts-hpa -o json | jq -r '.spec.scheduledBounds[0].cron')" = "* * * * *" ] ||
    fail "spec.scheduledBounds pruned by the CRD schema"
sb=$("${K[@]}" get podautoscaler llama-sts-hpa -o json | jq -cS .status.scheduledBounds)
case "$sb" in
'{"activeSchedule":"all-day","effectiveMaxReplicas":3,"effectiveMinReplicas":1}') ;;
'{"activeSchedule":"every-minute","effectiveMaxReplicas":3,"effectiveMinReplicas":1}')
    [ "$(TZ=Europe/Paris date +%H:%M)" = 23:59 ] || fail "schedule all-day not active: $sb" ;;
*) fail "status.scheduledBounds: $sb" ;;
esac

# ---- steady state: no writes, no reads but watches
brix_calls() { # VERBS regex -> count of brix-controller requests with those verbs
    fake_api GET /fake/stats |
        jq --arg v "$1" '[to_entries[] | select(.key | test("^ua:brix-controller:(" + $v + ")$")) | .value] | add // 0'
}
target_reads() {
    curl -sf --max-time 2 "http://127.0.0.1:$MP/metrics" |
        sed -n 's/^brix_controller_scale_target_reads_total //p'
}
sleep 1
w1=$(brix_calls 'create|patch|update|delete') g1=$(brix_calls 'get') r1=$(target_reads)
sleep 3
w2=$(brix_calls 'create|patch|update|delete') g2=$(brix_calls 'get') r2=$(target_reads)
[ "$w1" = "$w2" ] || fail "writes at steady state: $w1 -> $w2 ($(fake_api GET /fake/stats))"
[ "$g1" = "$g2" ] || fail "GETs at steady state: $g1 -> $g2 ($(fake_api GET /fake/stats))"
if [ -z "$r1" ] || [ "$r1" != "$r2" ]; then
    fail "scale target reads at steady state: '$r1' -> '$r2'"
fi
log "steady state: no writes, no GETs ($r1 discovery and Scale reads in all)"

# ---- load: two long streams on llama-0 -> num_requests_running 2 > 1 per pod: scale up
for i in 1 2; do
    curl -sN --max-time 120 "$BASE/v1/chat/completions" -H 'Content-Type: application/json' \
        -d "{\"model\":\"llama\",\"stream\":true,\"max_tokens\":4000,\"ignore_eos\":true,\"messages\":[{\"role\":\"user\",\"content\":\"long $i\"}]}" \
        >/dev/null 2>&1 &
    E2E_PIDS+=("$!")
done
for _ in $(seq 200); do
    [ "$("${K[@]}" get statefulset llama -o jsonpath='{.spec.replicas}')" -ge 2 ] && break
    sleep 0.1
done
reps=$("${K[@]}" get statefulset llama -o jsonpath='{.spec.replicas}')
[ "$reps" -ge 2 ] || fail "StatefulSet not scaled up: $reps ($("${K[@]}" get podautoscaler llama-sts-hpa -o json | jq -c .status))"
[ "$(brix_calls 'patch')" -gt 0 ] || fail "no PATCH"
grep -q 'StatefulSet.apps/llama: scaled to' "$E2E_TMP/ctl.log" ||
    fail "not scaled through statefulsets/llama/scale: $(grep -i scale "$E2E_TMP/ctl.log" | tail -5)"
"${K[@]}" get events --field-selector involvedObject.name=llama-sts-hpa -o json |
    jq -e 'any(.items[]; .reason == "SuccessfulRescale")' >/dev/null || fail "no SuccessfulRescale event"
for _ in $(seq 300); do
    [ "$("${K[@]}" get pod llama-1 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] && break
    sleep 0.1
done
NEW=$("${K[@]}" get pod llama-1 -o jsonpath='{.status.podIP}'):8000
[ "$NEW" != ":8000" ] || fail "llama-1 has no IP: $("${K[@]}" get pods -o wide)"
# the gateway routes to the new pod
got=""
for _ in $(seq 50); do
    got=$(for i in $(seq 8); do
        curl -s -o /dev/null -D - --max-time 10 "$BASE/v1/chat/completions" \
            -H 'Content-Type: application/json' \
            -d "{\"model\":\"llama\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi $i\"}]}" |
            tr -d '\r' | sed -n 's/^target-pod-ip: //Ip'
    done | sort -u)
    grep -qx "$NEW" <<<"$got" && break
    sleep 0.2
done
grep -qx "$NEW" <<<"$got" || fail "no request went to the new pod $NEW: [$(tr '\n' ' ' <<<"$got")]"
log "under load: StatefulSet llama scaled 1 -> $reps through /scale; llama-1 ($NEW) Ready and routed to"

# ---- kinds that cannot be scaled: a DaemonSet (no scale subresource), a kind not served
cat >"$E2E_TMP/bad.yaml" <<'YAML'
apiVersion: autoscaling.aibrix.ai/v1alpha1
kind: PodAutoscaler
metadata:
  name: ds-hpa
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: DaemonSet, name: agents}
  maxReplicas: 3
  scalingStrategy: HPA
  metricsSources:
  - {metricSourceType: pod, protocolType: http, port: "8000", path: /metrics,
     targetMetric: num_requests_running, targetValue: "1"}
---
apiVersion: autoscaling.aibrix.ai/v1alpha1
kind: PodAutoscaler
metadata:
  name: nokind-hpa
spec:
  scaleTargetRef: {apiVersion: example.com/v1, kind: Widget, name: w}
  maxReplicas: 3
  scalingStrategy: HPA
  metricsSources:
  - {metricSourceType: pod, protocolType: http, port: "8000", path: /metrics,
     targetMetric: num_requests_running, targetValue: "1"}
YAML
"${K[@]}" apply -f "$E2E_TMP/bad.yaml" >/dev/null || fail "apply the other autoscalers"
for pa in ds-hpa nokind-hpa; do
    for _ in $(seq 100); do
        [ "$(cond $pa AbleToScale)" = False/FailedGetScale ] && break
        sleep 0.1
    done
    [ "$(cond $pa AbleToScale)" = False/FailedGetScale ] ||
        fail "$pa AbleToScale: $("${K[@]}" get podautoscaler $pa -o json | jq -c .status)"
done
"${K[@]}" get podautoscaler ds-hpa -o json |
    jq -e 'any(.status.conditions[]; .type == "AbleToScale" and (.message | test("no scale subresource")))' \
        >/dev/null || fail "ds-hpa message: $("${K[@]}" get podautoscaler ds-hpa -o json | jq -c .status.conditions)"
"${K[@]}" get podautoscaler nokind-hpa -o json |
    jq -e 'any(.status.conditions[]; .type == "AbleToScale" and (.message | test("example.com/v1")))' \
        >/dev/null || fail "nokind-hpa message: $("${K[@]}" get podautoscaler nokind-hpa -o json | jq -c .status.conditions)"
grep -Eq '(DaemonSet.apps/agents|Widget.example.com/w): scale' "$E2E_TMP/ctl.log" && fail "a scale was tried"
"${K[@]}" get events --field-selector involvedObject.name=ds-hpa -o json |
    jq -e 'any(.items[]; .reason == "FailedGetScale" and .type == "Warning")' >/dev/null ||
    fail "no FailedGetScale event on ds-hpa: $("${K[@]}" get events -o json | jq -c '[.items[] | {reason, involvedObject}]')"
log "DaemonSet and unserved kind: AbleToScale False/FailedGetScale (Warning event), not scaled"

# ---- a target that does not exist yet: FailedGetScale "not found", then found once created
sed -e 's/name: ds-hpa/name: late-hpa/' -e 's/kind: DaemonSet, name: agents/kind: StatefulSet, name: late/' \
    -e 's/maxReplicas: 3/minReplicas: 1\n  maxReplicas: 1/' <(sed -n '1,/^---$/p' "$E2E_TMP/bad.yaml" | sed '$d') \
    >"$E2E_TMP/late.yaml"
"${K[@]}" apply -f "$E2E_TMP/late.yaml" >/dev/null || fail "apply late-hpa: $(cat "$E2E_TMP/late.yaml")"
for _ in $(seq 100); do
    [ "$(cond late-hpa AbleToScale)" = False/FailedGetScale ] && break
    sleep 0.1
done
"${K[@]}" get podautoscaler late-hpa -o json |
    jq -e 'any(.status.conditions[]; .type == "AbleToScale" and .status == "False" and (.message | test("not found")))' \
        >/dev/null || fail "late-hpa before its target: $("${K[@]}" get podautoscaler late-hpa -o json | jq -c .status)"
sed -e 's/name: llama$/name: late/' -e 's/replicas: 1/replicas: 1\n  podManagementPolicy: Parallel/' \
    -e 's/image: brix:test/image: busybox/' -e 's/command: \[brix, engine\]/command: [sleep, "3600"]/' \
    -e 's/model.aibrix.ai\/name: llama, app: llama-sts/model.aibrix.ai\/name: late, app: late-sts/g' \
    -e 's/labels: {model.aibrix.ai\/name: llama}/labels: {model.aibrix.ai\/name: late}/' \
    "$E2E_TMP/sts.yaml" >"$E2E_TMP/late-sts.yaml"
"${K[@]}" apply -f "$E2E_TMP/late-sts.yaml" >/dev/null || fail "apply late statefulset: $(cat "$E2E_TMP/late-sts.yaml")"
for _ in $(seq 100); do
    [ "$(cond late-hpa AbleToScale)" = True/SucceededGetScale ] && break
    sleep 0.1
done
[ "$(cond late-hpa AbleToScale)" = True/SucceededGetScale ] ||
    fail "late-hpa after its target appeared: $("${K[@]}" get podautoscaler late-hpa -o json | jq -c .status)"
log "a PodAutoscaler created before its StatefulSet: FailedGetScale (not found), then SucceededGetScale"

kill -TERM "$CTL_PID"
wait "$CTL_PID" || fail "controller exit status $?"
log "PASS"
