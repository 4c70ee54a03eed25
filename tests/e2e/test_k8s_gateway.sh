#!/usr/bin/env bash
# `brix gateway --kubernetes` against the fake Kubernetes API server (tests/k8s/fake_apiserver.py,
# a test fixture) and its cluster stand-in (tests/k8s/fake_kubelet.py: Deployment/ReplicaSet
# controllers, a scheduler and a kubelet running pods as `brix engine` processes on 127.0.0.x):
#   - the gateway is ready (/readyz) once it has listed the pods, before any model pod exists;
#   - the Ready pods of a Deployment become engines at podIP:port; a chat completion through the
#     gateway with the official openai npm client succeeds;
#   - a pod that is not Ready gets nothing; once Ready it gets requests; leaving Ready, no new
#     requests, and the one in flight on it finishes;
#   - a ModelAdapter routes its name only to the pods in its status.instances (the adapter is
#     loaded on both pods through the engines' LoRA endpoints, listed on one);
#   - scaling up: the new pod gets requests soon after its Ready (measured and printed; checked
#     against a generous bound); scaling down: removed pods get nothing;
#   - a second gateway replica, watching one namespace (--namespace), routes the same;
#   - a forced watch compaction (410) relists and loses no engine, nor a change made meanwhile.
# Skips when python3, kubectl or the fake is absent.
# Usage: bash tests/e2e/test_k8s_gateway.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
K8S_DIR="$E2E_DIR/../k8s"
for t in python3 kubectl node; do
    command -v "$t" >/dev/null || { log "SKIP: no $t"; exit 0; }
done
[ -f "$K8S_DIR/fake_apiserver.py" ] && [ -f "$K8S_DIR/fake_kubelet.py" ] ||
    { log "SKIP: no fake API server (tests/k8s)"; exit 0; }
source "$K8S_DIR/lib.sh"

fake_apiserver_start "$E2E_TMP" || fail "fake apiserver did not start"
K=(kubectl --kubeconfig "$KUBECONFIG_FAKE" --request-timeout=10s)
"${K[@]}" apply -f "$E2E_DIR/../../deploy/crds/modeladapters.model.aibrix.ai.yaml" >/dev/null ||
    fail "apply the ModelAdapter CRD"
fake_kubelet_start "$E2E_TMP" "$BRIX" 40 || fail "fake kubelet did not sync"

fake_model_deployment "$E2E_TMP/dep.yaml" llama 2 --time-scale 100 --enable-lora --allow-runtime-lora \
    --lora-load-seconds 0.01
GW_PORT=$(free_port)
"$BRIX" gateway --kubernetes --kubeconfig "$KUBECONFIG_FAKE" --port "$GW_PORT" \
    --access-log off --log-level debug >"$E2E_TMP/gateway.log" 2>&1 &
GW_PID=$!
E2E_PIDS+=("$GW_PID")
E2E_LOGS+=("$E2E_TMP/gateway.log")
BASE="http://127.0.0.1:$GW_PORT"
# ready once the pods are listed, with no model pod yet; the model is unknown until one is Ready
wait_ready "$BASE/readyz" "$GW_PID"
code=$(curl -s -o "$E2E_TMP/body" -w '%{http_code}' "$BASE/v1/chat/completions" \
    -H 'Content-Type: application/json' \
    -d '{"model":"llama","max_tokens":1,"messages":[{"role":"user","content":"x"}]}')
expect_status "$code" 404 "a model with no pod yet"
"${K[@]}" apply -f "$E2E_TMP/dep.yaml" >/dev/null || fail "apply deployment"

# pod_addrs: "ip:8000" of the Ready, not terminating pods of the Deployment
pod_addrs() {
    "${K[@]}" get pods -l model.aibrix.ai/name=llama -o json |
        jq -r '.items[] | select(.metadata.deletionTimestamp == null)
               | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))
               | "\(.status.podIP):8000"' | sort
}
ready_pods() { # N: waits until N pods of the Deployment are Ready (and no others)
    local got=""
    for _ in $(seq 200); do
        got=$(pod_addrs | wc -l)
        [ "$got" = "$1" ] && [ "$("${K[@]}" get pods -l app!=manual -o name | wc -l)" = "$1" ] &&
            return 0
        sleep 0.1
    done
    fail "want $1 Ready pods, have $got: $("${K[@]}" get pods -o wide 2>&1)"
}
# targets MODEL N: sends N chat completions, prints the sorted distinct target-pod-ip values
targets() {
    local i
    for i in $(seq "$2"); do
        curl -s -o /dev/null -D - --max-time 10 "$BASE/v1/chat/completions" \
            -H 'Content-Type: application/json' \
            -d "{\"model\":\"$1\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi $i\"}]}" |
            tr -d '\r' | sed -n 's/^target-pod-ip: //Ip'
    done | sort -u
}
# routed_to ADDRS: waits (10 s) until requests for llama reach exactly the set ADDRS
routed_to() {
    local want got=""
    want=$(printf '%s\n' "$@" | sort -u)
    for _ in $(seq 50); do
        got=$(targets llama 12)
        [ "$got" = "$want" ] && return 0
        sleep 0.2
    done
    fail "requests went to [$(echo $got)], want [$(echo $want)]"
}

ready_pods 2
mapfile -t ADDRS < <(pod_addrs)
routed_to "${ADDRS[@]}"
log "two Ready pods of the Deployment are engines: ${ADDRS[*]}"

# AIBrix's answer headers: target-pod is the Pod's name, target-pod-ip its podIP:port
for i in 1 2 3 4; do
    curl -s -o /dev/null -D "$E2E_TMP/tp.h" --max-time 10 "$BASE/v1/chat/completions" \
        -H 'Content-Type: application/json' \
        -d "{\"model\":\"llama\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"n $i\"}]}"
    tp=$(tr -d '\r' <"$E2E_TMP/tp.h" | sed -n 's/^target-pod: //Ip')
    tip=$(tr -d '\r' <"$E2E_TMP/tp.h" | sed -n 's/^target-pod-ip: //Ip')
    [ -n "$tp" ] && [ "$tp" != "$tip" ] || fail "target-pod '$tp' is not a pod name (target-pod-ip '$tip')"
    pip=$("${K[@]}" get pod "$tp" -o jsonpath='{.status.podIP}') || fail "no pod named '$tp'"
    [ "$pip:8000" = "$tip" ] || fail "pod $tp has IP $pip, target-pod-ip says $tip"
done
log "target-pod names the pod ($tp), target-pod-ip is its address ($tip)"

# the official openai npm client through the gateway
(cd "$E2E_DIR" && BRIX_BASE_URL="$BASE/v1" node --input-type=module -e "
import OpenAI from 'openai';
const c = new OpenAI({ baseURL: process.env.BRIX_BASE_URL, apiKey: 'x', maxRetries: 0 });
const ids = []; for await (const m of c.models.list()) ids.push(m.id);
if (!ids.includes('llama')) throw new Error('models: ' + ids);
const r = await c.chat.completions.create({ model: 'llama', max_tokens: 5,
    messages: [{ role: 'user', content: 'hello' }] });
if (!r.choices[0].message.content) throw new Error('empty answer');
const s = await c.chat.completions.create({ model: 'llama', max_tokens: 5, stream: true,
    messages: [{ role: 'user', content: 'hello' }] });
let n = 0; for await (const ch of s) n += (ch.choices[0]?.delta?.content ?? '').length;
if (!n) throw new Error('empty stream');
") >"$E2E_TMP/node.out" 2>&1 || fail "openai client: $(cat "$E2E_TMP/node.out")"
log "openai npm client: models.list, chat completion and a stream through the gateway"

# --- a pod that is not Ready gets nothing; Ready, requests; leaving Ready, no new requests while
# its request in flight finishes. Its engine is started by hand (model slow, time scale 0.5)
# and its status set by hand: the stand-in never schedules it (another scheduler).
MPORT=$(free_port)
MADDR="127.0.0.9:$MPORT"
"$BRIX" engine --host 127.0.0.9 --port "$MPORT" --model slow --time-scale 0.5 \
    >"$E2E_TMP/manual.log" 2>&1 &
E2E_PIDS+=("$!")
E2E_LOGS+=("$E2E_TMP/manual.log")
for _ in $(seq 100); do curl -sf "http://$MADDR/health" >/dev/null && break; sleep 0.1; done
cat >"$E2E_TMP/manual.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: manual
  labels: {app: manual, model.aibrix.ai/name: slow, model.aibrix.ai/port: "$MPORT"}
spec:
  schedulerName: by-hand
  containers: [{name: engine, image: other:1}]
YAML
"${K[@]}" apply -f "$E2E_TMP/manual.yaml" >/dev/null || fail "create pod manual"
set_manual() { # READY(True|False)
    "${K[@]}" patch pod manual --subresource=status --type=merge -p \
        "{\"status\":{\"phase\":\"Running\",\"podIP\":\"127.0.0.9\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"$1\"}]}}" \
        >/dev/null || fail "patch manual status"
}
set_manual False
sleep 0.5
[ -z "$(targets slow 5)" ] || fail "a pod that is not Ready got requests"
# a known model whose pods are not Ready is 503 with Retry-After (AIBrix: known, no routable
# pod), not 404; crash-looping pods say so
slow_status() {
    curl -s -o "$E2E_TMP/slow.body" -D "$E2E_TMP/slow.h" -w '%{http_code}' --max-time 10 \
        "$BASE/v1/chat/completions" -H 'Content-Type: application/json' \
        -d '{"model":"slow","max_tokens":1,"messages":[{"role":"user","content":"x"}]}'
}
code=$(slow_status)
expect_status "$code" 503 "a model whose only pod is not Ready"
grep -qi '^x-error-no-model-backends: true' "$E2E_TMP/slow.h" || fail "no x-error-no-model-backends: true"
grep -qi '^retry-after: 5' "$E2E_TMP/slow.h" || fail "not Ready: no Retry-After: 5: $(cat "$E2E_TMP/slow.h")"
"${K[@]}" patch pod manual --subresource=status --type=merge -p \
    '{"status":{"containerStatuses":[{"name":"engine","ready":false,"restartCount":5,"image":"other:1","imageID":"","state":{"waiting":{"reason":"CrashLoopBackOff","message":"back-off"}}}]}}' \
    >/dev/null || fail "patch manual: CrashLoopBackOff"
for _ in $(seq 50); do
    code=$(slow_status)
    grep -q crash-looping "$E2E_TMP/slow.body" && break
    sleep 0.1
done
expect_status "$code" 503 "a model whose only pod crash-loops"
jq -e '.error.message | test("crash-looping")' "$E2E_TMP/slow.body" >/dev/null ||
    fail "crash-looping pod: $(cat "$E2E_TMP/slow.body")"
grep -qi '^retry-after: 10' "$E2E_TMP/slow.h" || fail "crash-looping: no Retry-After: 10"
"${K[@]}" patch pod manual --subresource=status --type=json \
    -p '[{"op":"remove","path":"/status/containerStatuses"}]' >/dev/null ||
    fail "patch manual: no CrashLoopBackOff"
log "a model whose pods are not Ready or crash-loop: 503 at once with Retry-After"
set_manual True
for _ in $(seq 50); do [ "$(targets slow 1)" = "$MADDR" ] && break; sleep 0.1; done
[ "$(targets slow 3)" = "$MADDR" ] || fail "the Ready pod manual gets no requests"
curl -sN --max-time 20 "$BASE/v1/chat/completions" -H 'Content-Type: application/json' \
    -d '{"model":"slow","stream":true,"max_tokens":150,"ignore_eos":true,"messages":[{"role":"user","content":"long"}]}' \
    >"$E2E_TMP/stream.out" 2>&1 &
STREAM_PID=$!
sleep 0.4
set_manual False
for _ in $(seq 50); do [ -z "$(targets slow 1)" ] && break; sleep 0.05; done
[ -z "$(targets slow 3)" ] || fail "a pod no longer Ready still gets new requests"
kill -0 "$STREAM_PID" 2>/dev/null || fail "the stream ended before the pod left Ready (make it longer)"
wait "$STREAM_PID"
tail -n 3 "$E2E_TMP/stream.out" | grep -q '^data: \[DONE\]' ||
    fail "the request in flight on the pod that left Ready did not finish: $(tail -c 300 "$E2E_TMP/stream.out")"
log "a pod not Ready gets nothing; Ready, it gets requests; leaving Ready, none new, the one in flight finished"
"${K[@]}" delete pod manual --wait=false >/dev/null

# --- ModelAdapter: loaded on both pods, listed on one: routed only there
for a in "${ADDRS[@]}"; do
    code=$(curl -s -o "$E2E_TMP/body" -w '%{http_code}' "http://$a/v1/load_lora_adapter" \
        -H 'Content-Type: application/json' -d '{"lora_name":"sql","lora_path":"/models/sql"}')
    expect_status "$code" 200 "load sql on $a"
done
cat >"$E2E_TMP/ma.yaml" <<'YAML'
apiVersion: model.aibrix.ai/v1alpha1
kind: ModelAdapter
metadata: {name: sql}
spec:
  baseModel: llama
  podSelector: {matchLabels: {model.aibrix.ai/name: llama}}
  artifactURL: huggingface://example/sql-lora
YAML
"${K[@]}" apply -f "$E2E_TMP/ma.yaml" >/dev/null || fail "apply ModelAdapter"
sleep 0.3
code=$(curl -s -o "$E2E_TMP/body" -w '%{http_code}' "$BASE/v1/chat/completions" \
    -H 'Content-Type: application/json' \
    -d '{"model":"sql","max_tokens":1,"messages":[{"role":"user","content":"x"}]}')
expect_status "$code" 404 "adapter without status.instances (loaded on the engines, not listed)"
POD0=$("${K[@]}" get pods -l app!=manual -o json |
    jq -r --arg ip "${ADDRS[0]%:8000}" '.items[] | select(.status.podIP == $ip) | .metadata.name')
"${K[@]}" patch modeladapter sql --subresource=status --type=merge \
    -p "{\"status\":{\"phase\":\"Running\",\"instances\":[\"$POD0\"]}}" >/dev/null ||
    fail "patch ModelAdapter status"
for _ in $(seq 50); do
    got=$(targets sql 12)
    [ "$got" = "${ADDRS[0]}" ] && break
    sleep 0.1
done
[ "$got" = "${ADDRS[0]}" ] || fail "adapter sql went to [$(echo $got)], want only ${ADDRS[0]} ($POD0)"
log "ModelAdapter sql (status.instances=[$POD0]) routes only to ${ADDRS[0]}"
# a ModelAdapter whose status is Failed: 503 at once, not an unknown model
"${K[@]}" apply -f - >/dev/null <<'YAML' || fail "apply ModelAdapter bad"
apiVersion: model.aibrix.ai/v1alpha1
kind: ModelAdapter
metadata: {name: bad}
spec:
  baseModel: llama
  podSelector: {matchLabels: {model.aibrix.ai/name: llama}}
  artifactURL: huggingface://example/bad-lora
YAML
"${K[@]}" patch modeladapter bad --subresource=status --type=merge \
    -p '{"status":{"phase":"Failed"}}' >/dev/null || fail "patch ModelAdapter bad status"
for _ in $(seq 50); do
    code=$(curl -s -o "$E2E_TMP/body" -D "$E2E_TMP/bad.h" -w '%{http_code}' "$BASE/v1/chat/completions" \
        -H 'Content-Type: application/json' \
        -d '{"model":"bad","max_tokens":1,"messages":[{"role":"user","content":"x"}]}')
    [ "$code" = 503 ] && break
    sleep 0.1
done
expect_status "$code" 503 "a Failed ModelAdapter"
jq -e '.error.message == "adapter bad is Failed"' "$E2E_TMP/body" >/dev/null || fail "Failed adapter: $(cat "$E2E_TMP/body")"
grep -qi '^retry-after: 10' "$E2E_TMP/bad.h" || fail "Failed adapter: no Retry-After: 10"
"${K[@]}" delete modeladapter bad >/dev/null
log "a Failed ModelAdapter: 503 at once"

# --- a second replica (as behind a Service), watching the namespace only: the same routing
GW2_PORT=$(free_port)
"$BRIX" gateway --kubernetes --kubeconfig "$KUBECONFIG_FAKE" --namespace default \
    --port "$GW2_PORT" --access-log off >"$E2E_TMP/gateway2.log" 2>&1 &
E2E_PIDS+=("$!")
E2E_LOGS+=("$E2E_TMP/gateway2.log")
wait_ready "http://127.0.0.1:$GW2_PORT/readyz" "$!"
BASE1=$BASE
BASE="http://127.0.0.1:$GW2_PORT"
routed_to "${ADDRS[@]}"
[ "$(targets sql 6)" = "${ADDRS[0]}" ] || fail "second replica: adapter sql not routed to ${ADDRS[0]}"
BASE=$BASE1
log "a second gateway replica (--namespace default) routes the same, the adapter included"

# --- scale up: each new pod gets requests once Ready (2 rounds)
python3 "$K8S_DIR/ready_to_routed.py" --api "$FAKE_API" --gateway "$BASE" --deployment llama \
    --model llama --rounds 2 --timeout 20 >"$E2E_TMP/r2r.out" 2>&1 ||
    fail "ready_to_routed: $(cat "$E2E_TMP/r2r.out")"
sed 's/^/    /' "$E2E_TMP/r2r.out"
# (The script fails when a Ready pod gets no request within --timeout, a hang guard; the
# time it took is reported, not asserted: bench/k8s_ready.sh measures it.)
max=$(tail -n 1 "$E2E_TMP/r2r.out" | jq '.max_ms')
log "scale-up: each new pod got requests after Ready (max ${max} ms; bench/k8s_ready.sh measures it)"

# --- scale down to 1: the removed pods get nothing
ready_pods 2
"${K[@]}" scale deploy llama --replicas=1 >/dev/null || fail "scale down"
ready_pods 1
mapfile -t ADDRS < <(pod_addrs)
routed_to "${ADDRS[@]}"
log "scaled down to one pod: requests only to ${ADDRS[*]}"

# --- compaction: the watches get 410, the gateway relists; a change meanwhile is not lost
lists_before=$(grep -c 'kubernetes: pods listed' "$E2E_TMP/gateway.log")
fake_api POST /fake/compact '{"expireWatches":true}' >/dev/null || fail "compact"
"${K[@]}" scale deploy llama --replicas=2 >/dev/null || fail "scale up after compaction"
ready_pods 2
mapfile -t ADDRS < <(pod_addrs)
routed_to "${ADDRS[@]}"
for _ in $(seq 50); do
    [ "$(grep -c 'kubernetes: pods listed' "$E2E_TMP/gateway.log")" -gt "$lists_before" ] && break
    sleep 0.1
done
[ "$(grep -c 'kubernetes: pods listed' "$E2E_TMP/gateway.log")" -gt "$lists_before" ] ||
    fail "no relist after the compaction"
log "after a compaction (410): relisted, both pods routed: ${ADDRS[*]}"
log "PASS"
