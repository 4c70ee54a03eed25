#!/usr/bin/env bash
# KV events under `brix up` (docs/gateway.md "KV events"): a Deployment whose pod template
# carries AIBrix's label model.aibrix.ai/kv-events-enabled=true gets its brix engines started
# publishing vLLM's KV events at each replica's port + 700 (replay + 701): its args say
# AIBrix's one pair tcp://*:5557 / :5558, which two replicas on one host could not both bind,
# and brix up rewrites them per pod; a vLLM Deployment (run as brix's simulator) with vLLM's
# --kv-events-config JSON gets that JSON's endpoints rewritten the same way. brix up's gateway (--strategy prefix-cache) follows them:
# the engines' confidence turns exact and a request's blocks come back as BlockStored. A
# Deployment without the label is not followed (confidence 0, approximate).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

GP=$(free_port)
AP=$(free_port)
STATE="$E2E_TMP/state"
BASE="http://127.0.0.1:$GP"
export BRIX_SERVER="http://127.0.0.1:$AP"

dep() { # dep NAME REPLICAS LABEL_LINE EXTRA_ARGS
    cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $1
  labels:
    model.aibrix.ai/name: $1
spec:
  replicas: $2
  selector:
    matchLabels:
      model.aibrix.ai/name: $1
  template:
    metadata:
      labels:
        model.aibrix.ai/name: $1
        $3
    spec:
      containers:
        - name: engine
          command: ["brix", "engine"]
          args: ["--port", "8000", "--model", "$1", "--time-scale", "50", "--jitter", "0",
                 "--prefix-caching-hash-algo", "xxhash_cbor"$4]
---
YAML
}
{
    dep kvm 2 'model.aibrix.ai/kv-events-enabled: "true"' \
        ', "--kv-events", "tcp://*:5557", "--kv-events-replay", "tcp://*:5558"'
    dep plain 1 'app: plain' ''
    # AIBrix's vLLM way, run as brix's simulator: vLLM's --kv-events-config JSON, its endpoints
    # rewritten per pod
    cat <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: vkv
  labels:
    model.aibrix.ai/name: vkv
spec:
  replicas: 1
  template:
    metadata:
      labels:
        model.aibrix.ai/name: vkv
        model.aibrix.ai/kv-events-enabled: "true"
    spec:
      containers:
        - name: vllm-openai
          command: ["vllm", "serve", "/models/vkv", "--served-model-name", "vkv", "--port", "8000",
                    "--prefix-caching-hash-algo", "xxhash_cbor", "--kv-events-config",
                    '{"enable_kv_cache_events":true,"publisher":"zmq","endpoint":"tcp://*:5557","replay_endpoint":"tcp://*:5558","topic":"kv-events"}']
YAML
} >"$E2E_TMP/stack.yaml"

up_start up "$STATE" --strategy prefix-cache --engine simulator -f "$E2E_TMP/stack.yaml"

pods_json() { "$BRIX" get pods -o json 2>/dev/null || echo '{"items":[]}'; }
ready_ports() { # DEPLOYMENT: the ports of its Ready pods
    pods_json | jq -r --arg d "$1" '.items[] | select(.deployment == $d and .phase == "Ready") | .port'
}
n_ready() { [ "$(ready_ports "$1" | wc -l)" = "$2" ]; }
wait_for 20 "2 Ready kvm pods" n_ready kvm 2
wait_for 20 "1 Ready plain pod" n_ready plain 1
mapfile -t KP < <(ready_ports kvm)
PP=$(ready_ports plain)

conf() { metric "$GP" brix_gateway_kv_engine_confidence "engine=127.0.0.1:$1"; }
is_conf() { [ "$(conf "$1")" = "$2" ]; }
for p in "${KP[@]}"; do
    wait_for 20 "kvm engine $p never became exact ($(conf "$p"))" is_conf "$p" 1.0
    grep -q -- "--kv-events tcp://127\.0\.0\.1:$((p + 700)) .*--kv-events-replay tcp://127\.0\.0\.1:$((p + 701)) --kv-events-bind" \
        "$STATE/logs/"kvm-*.log || fail "no launch line with --kv-events at $((p + 700))"
done
log "kvm engines ${KP[*]} are followed, exact"
wait_for 20 "1 Ready vkv pod" n_ready vkv 1
VP=$(ready_ports vkv)
wait_for 20 "vLLM (simulated) engine $VP never became exact ($(conf "$VP"))" is_conf "$VP" 1.0

stored() { metric "$GP" brix_gateway_kv_blocks_stored_total; }
before=$(stored)
st=$(req POST /v1/completions "$(jq -cn --arg p "$(words 300)" '{model:"kvm", prompt:$p, max_tokens:4}')")
expect_status "$st" 200 "a request for kvm"
more_stored() { num_cmp "$(stored)" ">" "${before:-0}"; }
wait_for 10 "no BlockStored reached brix up's gateway" more_stored

st=$(req POST /v1/completions "$(jq -cn '{model:"plain", prompt:"hello there", max_tokens:2}')")
expect_status "$st" 200 "a request for plain"
# discovered and routed, never followed: approximate
[ "$(conf "$PP")" = "0.0" ] || fail "plain engine $PP has confidence $(conf "$PP"), want 0.0"
[ "$(metric "$GP" brix_gateway_kv_engines confidence=exact)" = "3.0" ] ||
    fail "brix_gateway_kv_engines{confidence=\"exact\"} is not 3"
log "ok"
