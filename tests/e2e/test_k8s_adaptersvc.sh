#!/usr/bin/env bash
# `brix controller`'s headless Service and EndpointSlice per ModelAdapter (ctl_adaptersvc_k8s.h),
# on the fake Kubernetes API server (tests/k8s/fake_apiserver.py) with the cluster stand-in
# (tests/k8s/fake_kubelet.py) running `brix engine` pods that listen on port 8123 (label
# model.aibrix.ai/port):
#   - an adapter loaded on two pods gets Service <adapter> (headless, no selector,
#     publishNotReadyAddresses, port http 8123, labels) and EndpointSlice <adapter> (IPv4, the two
#     pods' IPs, port http 8123, labels), both owned by the adapter (controller ownerReference);
#     the standby replica writes none of them;
#   - at steady state no writes (create, patch, delete) by brix-controller;
#   - scaling the model to 3 pods adds the third to the slice; spec.replicas 1 (the adapter
#     unloaded from two pods) leaves one;
#   - a hand edit of the Service (a selector, another port) is put back; a hand-deleted slice is
#     made again;
#   - after a handover (the leader killed) the new leader keeps the slice right, then writes
#     nothing;
#   - deleting the adapter deletes both through the API server's garbage collector, and they are
#     not made again;
#   - SIGTERM: exit 0 (sanitizer builds: no report).
# Skipped when kubectl, jq or python3 is absent.
# Usage: bash tests/e2e/test_k8s_adaptersvc.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
source "$E2E_DIR/../k8s/lib.sh"
k8s_e2e_start 60

# ---- a model Deployment of two engine pods on port 8123
fake_model_deployment "$E2E_TMP/model.yaml" llama 2 --time-scale 50 --enable-lora --allow-runtime-lora --max-loras 4
sed -i 's|model.aibrix.ai/port: "8000"|model.aibrix.ai/port: "8123"|; s|containerPort: 8000|containerPort: 8123|' \
    "$E2E_TMP/model.yaml"
grep -q '"8123"' "$E2E_TMP/model.yaml" || fail "port label not rewritten"
"${K[@]}" apply -f "$E2E_TMP/model.yaml" >/dev/null || fail "apply deployment"

k8s_wait_ready_pods llama 2

# ---- two controller replicas, leader-elected
start_controller() { # ID: k8s_start_controller, its pid kept in CTL_PIDS
    k8s_start_controller "$1"
    CTL_PIDS+=("$CTL_PID")
}
CTL_PIDS=()
start_controller a
for _ in $(seq 100); do
    "${K[@]}" get lease brix-controller-manager -o jsonpath='{.spec.holderIdentity}' 2>/dev/null |
        grep -q ctl-a && break
    sleep 0.1
done
start_controller b

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

slice_ips() { # the slice's addresses, sorted
    "${K[@]}" get endpointslice sql-lora -o json 2>/dev/null | jq -r '.endpoints[]?.addresses[]' | sort
}
instance_ips() { # the IPs of the pods in the adapter's status.instances, sorted
    local pods
    pods=$("${K[@]}" get modeladapter sql-lora -o json | jq -c '.status.instances // []')
    "${K[@]}" get pods -o json | jq -r --argjson p "$pods" \
        '.items[] | select(.metadata.name as $n | $p | index($n)) | .status.podIP' | sort
}
wait_slice() { # wait_slice N: the slice lists the N pods the adapter is loaded on
    local n=$1
    for _ in $(seq 300); do
        local want got
        want=$(instance_ips)
        got=$(slice_ips)
        [ "$(wc -l <<<"$want")" = "$n" ] && [ -n "$want" ] && [ "$want" = "$got" ] && return 0
        sleep 0.1
    done
    fail "slice: want the $n instances' IPs [$(instance_ips | tr '\n' ' ')], have [$(slice_ips | tr '\n' ' ')]: $("${K[@]}" get modeladapter sql-lora -o json | jq -c .status)"
}
wait_slice 2
[ "$(slice_ips)" = "$(k8s_ready_ips llama)" ] || fail "slice IPs are not the Ready pods': $(slice_ips) / $(k8s_ready_ips llama)"

uid=$("${K[@]}" get modeladapter sql-lora -o jsonpath='{.metadata.uid}')
owned() { # owned JSON: the adapter is its controller owner
    jq -e --arg uid "$uid" '.metadata.ownerReferences == [{"apiVersion": "model.aibrix.ai/v1alpha1",
        "kind": "ModelAdapter", "name": "sql-lora", "uid": $uid, "controller": true,
        "blockOwnerDeletion": true}]' <<<"$1" >/dev/null
}
svc=$("${K[@]}" get service sql-lora -o json) || fail "no Service sql-lora"
owned "$svc" || fail "Service owner: $(jq -c .metadata <<<"$svc")"
jq -e '.spec.clusterIP == "None" and .spec.selector == null and .spec.publishNotReadyAddresses == true
       and .spec.ports == [{"name": "http", "protocol": "TCP", "port": 8123, "targetPort": 8123}]
       and .metadata.labels["adapter.model.aibrix.ai/name"] == "sql-lora"
       and .metadata.labels["model.aibrix.ai/name"] == "llama"' <<<"$svc" >/dev/null ||
    fail "Service: $(jq -c . <<<"$svc")"
sl=$("${K[@]}" get endpointslice sql-lora -o json) || fail "no EndpointSlice sql-lora"
owned "$sl" || fail "EndpointSlice owner: $(jq -c .metadata <<<"$sl")"
jq -e '.addressType == "IPv4" and .ports == [{"name": "http", "protocol": "TCP", "port": 8123}]
       and .metadata.labels["kubernetes.io/service-name"] == "sql-lora"
       and .metadata.labels["adapter.model.aibrix.ai/name"] == "sql-lora"
       and .metadata.labels["endpointslice.kubernetes.io/managed-by"] == "adapter-controller.brix"
       and all(.endpoints[]; .conditions.ready == true and .targetRef.kind == "Pod")' <<<"$sl" >/dev/null ||
    fail "EndpointSlice: $(jq -c . <<<"$sl")"
# the engines answer at the slice's addresses and port
for ip in $(slice_ips); do
    curl -sf --max-time 5 "http://$ip:8123/v1/models" | jq -e 'any(.data[]; .id == "sql-lora")' \
        >/dev/null || fail "sql-lora not served at $ip:8123"
done
grep -Eq "(Service|EndpointSlice) .*(created|patched)" "$E2E_TMP/ctl-b.log" &&
    fail "the standby wrote: $(grep -E 'created|patched' "$E2E_TMP/ctl-b.log")"
log "Service and EndpointSlice sql-lora: headless, port 8123, the 2 loaded pods, owned by the adapter"

# ---- steady state: no writes (the Lease's renewals are PUTs: "update", not counted)
brix_writes() {
    fake_api GET /fake/stats |
        jq '[to_entries[] | select(.key | test("^ua:brix-controller:(create|patch|delete)$")) | .value] | add // 0'
}
sleep 1
w1=$(brix_writes)
sleep 2
w2=$(brix_writes)
[ "$w1" = "$w2" ] || fail "brix-controller writes at steady state: $w1 -> $w2 ($(fake_api GET /fake/stats))"
log "steady state: no writes"

# ---- scale: a third pod gets the adapter and joins the slice; replicas 1 leaves one
"${K[@]}" scale deployment llama --replicas 3 >/dev/null || fail "scale"
k8s_wait_ready_pods llama 3
wait_slice 3
"${K[@]}" patch modeladapter sql-lora --type merge -p '{"spec":{"replicas":1}}' >/dev/null ||
    fail "patch replicas"
wait_slice 1
log "slice follows the adapter: 3 pods after a scale-up, 1 with spec.replicas 1"

# ---- hand edits are put back; a deleted slice is made again
"${K[@]}" patch service sql-lora --type merge \
    -p '{"spec":{"selector":{"app":"x"},"ports":[{"name":"http","port":9000,"targetPort":9000,"protocol":"TCP"}]}}' \
    >/dev/null || fail "edit service"
for _ in $(seq 100); do
    "${K[@]}" get service sql-lora -o json |
        jq -e '.spec.selector == null and .spec.ports[0].port == 8123' >/dev/null && break
    sleep 0.1
done
"${K[@]}" get service sql-lora -o json | jq -e '.spec.selector == null and .spec.ports[0].port == 8123' \
    >/dev/null || fail "Service not repaired: $("${K[@]}" get service sql-lora -o json | jq -c .spec)"
"${K[@]}" delete endpointslice sql-lora >/dev/null || fail "delete slice"
wait_slice 1
log "a hand-edited Service is repaired, a deleted slice made again"

# ---- handover: the new leader takes over from its warm caches; the slice still follows
# status.instances, then no writes. (The new leader's adapter controller reports the adapter
# Pending with no instances for a moment, docs/kubernetes.md, and the slice follows that: the
# count of its writes is reported, not asserted.)
# The standby's ModelAdapter watch is held (half-open) across the takeover, so the new leader
# writes the adapter's status (Pending, Unknown, then Running again as before) over a cache that
# still shows the old status: a write skipped as "equal to the cache" would leave it Unknown.
fake_api POST /fake/watches '{"action":"hang","path":"modeladapters"}' >/dev/null
sleep 0.3 # the fake applies a watch command on the watch's next turn (within 0.1 s)
kill -9 "${CTL_PIDS[0]}"
wait "${CTL_PIDS[0]}" 2>/dev/null
CTL_PIDS=("${CTL_PIDS[1]}")
# the hang guard: a lease duration (3 s) and retry periods, with room for a loaded machine
for _ in $(seq 300); do grep -q "controllers started" "$E2E_TMP/ctl-b.log" && break; sleep 0.1; done
grep -q "controllers started" "$E2E_TMP/ctl-b.log" ||
    fail "ctl-b did not take over: Lease $("${K[@]}" get lease brix-controller-manager -o json | jq -c .spec)"
sleep 1
fake_api POST /fake/watches '{"action":"release","path":"modeladapters"}' >/dev/null
wait_slice 1
sleep 1
w1=$(brix_writes)
sleep 2
w2=$(brix_writes)
[ "$w1" = "$w2" ] || fail "writes at steady state after the handover: $w1 -> $w2"
grep -E "(Service|EndpointSlice) default/sql-lora: created" "$E2E_TMP/ctl-b.log" &&
    fail "the new leader created them again"
log "handover: slice still right, then no writes; the new leader patched them $(grep -cE '(Service|EndpointSlice) default/sql-lora: patched' "$E2E_TMP/ctl-b.log") times"

# ---- delete the adapter: the garbage collector takes both, nothing makes them again
"${K[@]}" delete modeladapter sql-lora --wait=false >/dev/null || fail "delete adapter"
left() { "${K[@]}" get modeladapter,service,endpointslice -o name 2>/dev/null | grep -c sql-lora; }
for _ in $(seq 300); do
    [ "$(left)" = 0 ] && break
    sleep 0.1
done
"${K[@]}" get modeladapter sql-lora >/dev/null 2>&1 && fail "adapter still there"
sleep 1.5
"${K[@]}" get service sql-lora >/dev/null 2>&1 && fail "Service left after the adapter went"
"${K[@]}" get endpointslice sql-lora >/dev/null 2>&1 && fail "EndpointSlice left after the adapter went"
log "adapter deleted: its Service and EndpointSlice went with it (garbage collection)"
log "Service/EndpointSlice writes: $(cat "$E2E_TMP"/ctl-*.log | grep -cE '(Service|EndpointSlice) default/sql-lora: (created|patched)'), failed: $(cat "$E2E_TMP"/ctl-*.log | grep -cE '(Service|EndpointSlice) default/sql-lora: .* failed')"

# ---- a Service of the adapter's name that is not the adapter's (no label): left alone, said
# once, not retried (a create refused with 409 must not repeat at every backoff)
svc_creates() { fake_api GET /fake/stats | jq '."res:brix-controller:create:services" // 0'; }
fake_api POST /api/v1/namespaces/default/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"clash-lora"},"spec":{"ports":[{"port":80}]}}' >/dev/null
sed 's/name: sql-lora/name: clash-lora/; s#org/sql-lora#org/clash-lora#' "$E2E_TMP/adapter.yaml" >"$E2E_TMP/clash.yaml"
c0=$(svc_creates)
"${K[@]}" apply -f "$E2E_TMP/clash.yaml" >/dev/null || fail "apply clash-lora"
for _ in $(seq 100); do
    grep -q "Service default/clash-lora exists and is not the adapter's" "$E2E_TMP"/ctl-*.log && break
    sleep 0.1
done
grep -q "Service default/clash-lora exists and is not the adapter's" "$E2E_TMP"/ctl-*.log ||
    fail "the clash was not reported: $(fake_api GET /fake/stats | jq -c 'with_entries(select(.key | test("services")))')"
c1=$(svc_creates)
sleep 3.5 # past the first two backoffs (1 s, 2 s)
c2=$(svc_creates)
[ "$c1" = "$c2" ] || fail "the clashing Service was posted again: $c0 -> $c1 -> $c2"
[ "$("${K[@]}" get service clash-lora -o jsonpath='{.spec.ports[0].port}')" = 80 ] ||
    fail "the foreign Service was changed"
"${K[@]}" delete modeladapter clash-lora --wait=false >/dev/null || fail "delete clash-lora"
log "a foreign Service of the adapter's name: left alone, reported once, no retries ($((c2 - c0)) create)"

# ---- SIGTERM: the leader exits 0 (sanitizer builds: no report; the module closes cleanly)
for p in "${CTL_PIDS[@]}"; do kill -TERM "$p"; done
for p in "${CTL_PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && fail "controller $p did not exit on SIGTERM"
    rc=0
    wait "$p" || rc=$?
    [ "$rc" = 0 ] || fail "controller $p exited $rc"
done
grep -l "Sanitizer" "$E2E_TMP"/ctl-*.log && fail "sanitizer report: $(grep -h -A20 Sanitizer "$E2E_TMP"/ctl-*.log | head -40)"
log "SIGTERM: exit 0"
