#!/usr/bin/env bash
# `brix controller` on the fake Kubernetes API server (tests/k8s/fake_apiserver.py, a test
# fixture) with the cluster stand-in (tests/k8s/fake_kubelet.py) running `brix engine` pods:
#   - a ModelAdapter applied with kubectl gets the finalizer, is loaded on its pods (their
#     /v1/models list it), reaches phase Running with its instances, with Events on it;
#   - at steady state no API writes but the Lease's renewals;
#   - a PodAutoscaler applied while its watch is half-open, then compacted away, is found by the
#     relist and scales its Deployment through /scale; the adapter follows to the new pod;
#   - a Ready Ray worker pod of the model is no adapter candidate;
#   - two replicas with --leader-elect: one acts; killing it hands over within the lease duration;
#   - deleting the adapter unloads it from every pod (one engine stopped meanwhile) before its
#     finalizer goes;
#   - SIGTERM releases the Lease and exits 0 (sanitizer builds: no report).
# Skipped when kubectl, jq or python3 is absent.
# Usage: bash tests/e2e/test_k8s_controller.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
source "$E2E_DIR/../k8s/lib.sh"
k8s_e2e_start 40

# ---- a model Deployment of two engine pods
fake_model_deployment "$E2E_TMP/model.yaml" llama 2 --time-scale 50 --enable-lora --allow-runtime-lora --max-loras 4
"${K[@]}" apply -f "$E2E_TMP/model.yaml" >/dev/null || fail "apply deployment"

k8s_wait_ready_pods llama 2

# ---- two controller replicas, leader-elected (short lease for the test)
k8s_start_controller a
PID_a=$CTL_PID HP_a=$CTL_HP MP_a=$CTL_MP
for _ in $(seq 100); do
    "${K[@]}" get lease brix-controller-manager -o jsonpath='{.spec.holderIdentity}' 2>/dev/null |
        grep -q ctl-a && break
    sleep 0.1
done
k8s_start_controller b
PID_b=$CTL_PID HP_b=$CTL_HP MP_b=$CTL_MP
curl -sf --max-time 2 "http://127.0.0.1:$HP_a/healthz" >/dev/null || fail "healthz"
for _ in $(seq 50); do curl -sf --max-time 2 "http://127.0.0.1:$HP_b/readyz" >/dev/null && break; sleep 0.1; done
curl -sf --max-time 2 "http://127.0.0.1:$HP_b/readyz" >/dev/null || fail "standby not ready"
holder=$("${K[@]}" get lease brix-controller-manager -o jsonpath='{.spec.holderIdentity}')
[ "$holder" = ctl-a ] || fail "lease holder: '$holder'"

# ---- a ModelAdapter: finalizer, loaded on both pods, Running with instances
cat >"$E2E_TMP/adapter.yaml" <<'YAML'
apiVersion: model.aibrix.ai/v1alpha1
kind: ModelAdapter
metadata:
  name: sql-lora
spec:
  baseModel: llama
  podSelector:
    matchLabels: {model.aibrix.ai/name: llama, adapter.model.aibrix.ai/enabled: "true"}
  artifactURL: huggingface://org/sql-lora
YAML
"${K[@]}" apply -f "$E2E_TMP/adapter.yaml" >/dev/null || fail "apply adapter"
for _ in $(seq 200); do
    st=$("${K[@]}" get modeladapter sql-lora -o json)
    [ "$(jq -r '.status.phase' <<<"$st")" = Running ] &&
        [ "$(jq '.status.instances | length' <<<"$st")" = 2 ] && break
    sleep 0.1
done
jq -e '.status.phase == "Running" and (.status.instances | length) == 2' <<<"$st" >/dev/null ||
    fail "adapter status: $(jq -c .status <<<"$st")"
jq -e '.metadata.finalizers | index("adapter.model.aibrix.ai/finalizer")' <<<"$st" >/dev/null ||
    fail "no finalizer: $(jq -c .metadata <<<"$st")"
jq -e '.metadata.generation as $g | all(.status.conditions[]; .observedGeneration == $g)' <<<"$st" >/dev/null ||
    fail "observedGeneration: $(jq -c .status <<<"$st")"
for ip in $(k8s_ready_ips llama); do
    curl -sf --max-time 5 "http://$ip:8000/v1/models" | jq -e 'any(.data[]; .id == "sql-lora")' \
        >/dev/null || fail "sql-lora not loaded on $ip"
done
# decisions are core/v1 Events on the adapter
"${K[@]}" get events --field-selector involvedObject.name=sql-lora -o json |
    jq -e 'any(.items[]; .reason == "Loaded" and .involvedObject.kind == "ModelAdapter")' >/dev/null ||
    fail "no Loaded event: $("${K[@]}" get events -o json | jq -c '[.items[] | {reason, involvedObject}]')"
# the standby made no writes: every brix write came from the leader (one process per UA is not
# told apart, so check the standby's log instead)
grep -q "controllers started" "$E2E_TMP/ctl-b.log" && fail "standby started its controllers"
log "adapter: finalizer, loaded on 2 pods, Running with 2 instances"

# ---- steady state: no writes for 2 s. The Lease's renewals (PUT, every retry period) are the
# only updates leader election needs; every other write of the controller is a create, patch or
# delete (status, Events, /scale; the finalizer's PUT happened once, above).
brix_writes() {
    fake_api GET /fake/stats |
        jq '[to_entries[] | select(.key | test("^ua:brix-controller:(create|patch|delete)$")) | .value] | add // 0'
}
sleep 1
w1=$(brix_writes)
sleep 2
w2=$(brix_writes)
[ "$w1" = "$w2" ] || fail "brix-controller writes at steady state: $w1 -> $w2 ($(fake_api GET /fake/stats))"
log "steady state: no writes ($w1 writes so far)"

# ---- status writes that fail (503) are tried again: the adapter's status still gets to Running
# (the controller writes a status only when it changes, so a lost write used to stay lost)
fake_api POST /fake/fault '{"method":"PATCH","path":"modeladapters/flaky-lora/status","code":503,"count":4}' >/dev/null
sed 's/name: sql-lora/name: flaky-lora/; s#org/sql-lora#org/flaky-lora#' "$E2E_TMP/adapter.yaml" >"$E2E_TMP/flaky.yaml"
"${K[@]}" apply -f "$E2E_TMP/flaky.yaml" >/dev/null || fail "apply flaky-lora"
for _ in $(seq 300); do
    st=$("${K[@]}" get modeladapter flaky-lora -o json)
    [ "$(jq -r '.status.phase' <<<"$st")" = Running ] &&
        [ "$(jq '.status.instances | length' <<<"$st")" = 2 ] && break
    sleep 0.1
done
jq -e '.status.phase == "Running" and (.status.instances | length) == 2' <<<"$st" >/dev/null ||
    fail "flaky-lora status after failed writes: $(jq -c .status <<<"$st")"
retries=$(curl -sf --max-time 2 "http://127.0.0.1:$MP_a/metrics" | awk '$1 == "brix_controller_status_retries_total" {print $2}')
[ "${retries:-0}" -ge 1 ] || fail "no status retry counted: ${retries:-none}"
"${K[@]}" delete modeladapter flaky-lora --wait=false >/dev/null || fail "delete flaky-lora"
for _ in $(seq 100); do
    "${K[@]}" get modeladapter flaky-lora >/dev/null 2>&1 || break
    sleep 0.1
done
log "status writes failing with 503: tried again ($retries), Running"

# ---- a compaction while a change happens: the relist misses nothing
# The PodAutoscaler watches go half-open (nothing delivered), the autoscaler is created, the
# history is compacted, then the watches are cut: the resume gets 410 and the relist must find it.
lists1=$(fake_api GET /fake/stats | jq '."ua:brix-controller:list" // 0')
fake_api POST /fake/watches '{"action":"hang","path":"podautoscalers"}' >/dev/null
sleep 0.3 # the fake applies a watch command on the watch's next turn (within 0.1 s)
cat >"$E2E_TMP/pa.yaml" <<'YAML'
apiVersion: autoscaling.aibrix.ai/v1alpha1
kind: PodAutoscaler
metadata:
  name: llama-hpa
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llama}
  minReplicas: 3
  maxReplicas: 4
  scalingStrategy: HPA
  metricsSources:
  - {metricSourceType: pod, protocolType: http, port: "8000", path: /metrics,
     targetMetric: num_requests_running, targetValue: "100"}
YAML
"${K[@]}" apply -f "$E2E_TMP/pa.yaml" >/dev/null || fail "apply autoscaler"
sleep 0.5
[ "$("${K[@]}" get deploy llama -o jsonpath='{.spec.replicas}')" = 2 ] || fail "watch was not held"
fake_api POST /fake/compact '{}' >/dev/null
fake_api POST /fake/watches '{"action":"drop","path":"podautoscalers"}' >/dev/null
# minReplicas 3 > 2: the autoscaler scales the Deployment up through /scale
for _ in $(seq 200); do
    [ "$("${K[@]}" get deploy llama -o jsonpath='{.spec.replicas}')" = 3 ] && break
    sleep 0.1
done
[ "$("${K[@]}" get deploy llama -o jsonpath='{.spec.replicas}')" = 3 ] ||
    fail "deployment not scaled: $("${K[@]}" get deploy llama -o jsonpath='{.spec.replicas}')"
grep -q 'scale to 3' "$E2E_TMP/ctl-a.log" || fail "not scaled by the leader through /scale"
lists2=$(fake_api GET /fake/stats | jq '."ua:brix-controller:list" // 0')
[ "$lists2" -gt "$lists1" ] || fail "no relist after the compaction ($lists1 -> $lists2)"
k8s_wait_ready_pods llama 3
# the new pod gets the adapter too
for _ in $(seq 200); do
    [ "$("${K[@]}" get modeladapter sql-lora -o jsonpath='{.status.instances}' | jq length)" = 3 ] && break
    sleep 0.1
done
[ "$("${K[@]}" get modeladapter sql-lora -o jsonpath='{.status.instances}' | jq length)" = 3 ] ||
    fail "adapter not on the third pod: $("${K[@]}" get modeladapter sql-lora -o json | jq -c .status)"
# a Ray worker pod of the same model (Ready, with an IP) is no engine: not a candidate
cat >"$E2E_TMP/worker.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: llama-ray-worker
  labels: {model.aibrix.ai/name: llama, adapter.model.aibrix.ai/enabled: "true", ray.io/node-type: worker}
spec:
  containers: [{name: ray, image: rayproject/ray:2.9}]
YAML
"${K[@]}" apply -f "$E2E_TMP/worker.yaml" >/dev/null || fail "apply ray worker pod"
for _ in $(seq 100); do
    [ "$("${K[@]}" get pod llama-ray-worker -o jsonpath='{.status.podIP}')" != "" ] && break
    sleep 0.1
done
sleep 1.5
[ "$("${K[@]}" get modeladapter sql-lora -o jsonpath='{.status.candidates}')" = 3 ] ||
    fail "a Ray worker became a candidate: $("${K[@]}" get modeladapter sql-lora -o json | jq -c .status)"
log "PodAutoscaler (applied across a compaction) scaled llama 2 -> 3 through /scale; adapter followed"

# ---- handover: kill the leader, the standby takes the Lease within the lease duration
kill -9 "$PID_a"
t0=$(date +%s%N)
for _ in $(seq 100); do
    [ "$("${K[@]}" get lease brix-controller-manager -o jsonpath='{.spec.holderIdentity}')" = ctl-b ] && break
    sleep 0.1
done
t1=$(date +%s%N)
[ "$("${K[@]}" get lease brix-controller-manager -o jsonpath='{.spec.holderIdentity}')" = ctl-b ] ||
    fail "no handover to ctl-b"
ms=$(((t1 - t0) / 1000000)) # reported, not asserted (the loop above is the hang guard)
for _ in $(seq 100); do grep -q "controllers started" "$E2E_TMP/ctl-b.log" && break; sleep 0.1; done
grep -q "controllers started" "$E2E_TMP/ctl-b.log" || fail "new leader did not start its controllers"
log "handover to ctl-b after ${ms} ms"
curl -sf --max-time 2 "http://127.0.0.1:$MP_b/metrics" | grep -q '^brix_controller_leader 1$' ||
    fail "metrics of the new leader: $(curl -s "http://127.0.0.1:$MP_b/metrics")"

# ---- delete: unloaded from every pod before the finalizer goes. One engine is stopped
# (SIGSTOP: its pod stays Ready, its unload waits): the adapter must stay, being deleted, until
# that engine has answered too.
ips=$(k8s_ready_ips llama)
slow_ip=$(head -n1 <<<"$ips")
slow_pid=$(pgrep -f "engine --host $slow_ip --port 8000" | head -n1)
[ -n "$slow_pid" ] || fail "no engine process for $slow_ip"
kill -STOP "$slow_pid"
"${K[@]}" delete modeladapter sql-lora --wait=false >/dev/null || {
    kill -CONT "$slow_pid"
    fail "delete adapter"
}
sleep 1.5
dts=$("${K[@]}" get modeladapter sql-lora -o jsonpath='{.metadata.deletionTimestamp}' 2>&1)
kill -CONT "$slow_pid"
if [ -z "$dts" ] || [[ $dts == *NotFound* ]]; then
    fail "adapter gone while an engine had not yet unloaded it ($dts)"
fi
for ip in $ips; do
    [ "$ip" = "$slow_ip" ] && continue
    curl -sf --max-time 5 "http://$ip:8000/v1/models" | jq -e 'all(.data[]; .id != "sql-lora")' \
        >/dev/null || fail "sql-lora still loaded on $ip while the adapter is being deleted"
done
for _ in $(seq 200); do
    "${K[@]}" get modeladapter sql-lora >/dev/null 2>&1 || break
    sleep 0.1
done
"${K[@]}" get modeladapter sql-lora >/dev/null 2>&1 && fail "adapter still there: $("${K[@]}" get modeladapter sql-lora -o json)"
for ip in $ips; do
    curl -sf --max-time 5 "http://$ip:8000/v1/models" | jq -e 'all(.data[]; .id != "sql-lora")' \
        >/dev/null || fail "sql-lora still loaded on $ip after the adapter went"
done
grep -q "finalizer removed" "$E2E_TMP/ctl-b.log" || fail "finalizer not removed by the leader"
log "adapter deleted: unloaded from every pod, then its finalizer removed"

# ---- shutdown: SIGTERM releases the Lease and exits 0 (sanitizer builds: cleanly)
kill -TERM "$PID_b"
rc=0
for _ in $(seq 100); do kill -0 "$PID_b" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID_b" 2>/dev/null && fail "controller did not exit on SIGTERM"
wait "$PID_b" || rc=$?
[ "$rc" = 0 ] || fail "controller exited $rc: $(tail -n 20 "$E2E_TMP/ctl-b.log")"
grep -q "Sanitizer" "$E2E_TMP/ctl-b.log" && fail "sanitizer report: $(grep -A20 Sanitizer "$E2E_TMP/ctl-b.log" | head -40)"
holder=$("${K[@]}" get lease brix-controller-manager -o jsonpath='{.spec.holderIdentity}')
[ -z "$holder" ] || fail "Lease not released: holder '$holder'"
log "SIGTERM: Lease released, exit 0"
