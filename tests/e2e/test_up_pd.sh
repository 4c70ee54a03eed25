#!/usr/bin/env bash
# A P/D group under `brix up` (docs/gateway.md "Prefill/decode disaggregation"): two plain
# Deployments of one model whose pod templates carry AIBrix's labels role-name (prefill,
# decode) and roleset-name (rs1), their engines given the role flags in their args as vLLM's
# (--kv-transfer-config with kv_producer / kv_consumer). The gateway groups the pods by those
# labels: a request with routing-strategy: pd goes to the prefill pod, then streams from the
# decode pod (x-brix-prefill-pod, target-pod), and the engines' counters show the prefills and
# the pulls.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

GP=$(free_port)
AP=$(free_port)
STATE="$E2E_TMP/state"
BASE="http://127.0.0.1:$GP"
export BRIX_SERVER="http://127.0.0.1:$AP"

dep() { # dep ROLE KV_ROLE
    cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: llm-$1
  labels:
    model.aibrix.ai/name: llm
spec:
  replicas: 1
  selector:
    matchLabels:
      model.aibrix.ai/name: llm
      role-name: $1
  template:
    metadata:
      labels:
        model.aibrix.ai/name: llm
        role-name: $1
        roleset-name: rs1
    spec:
      containers:
        - name: engine
          command: ["{brix}", "engine"]
          args: ["--port", "{port}", "--model", "{model}", "--time-scale", "20",
                 "--kv-transfer-config", '{"kv_connector":"NixlConnector","kv_role":"$2"}']
---
YAML
}
{ dep prefill kv_producer; dep decode kv_consumer; } >"$E2E_TMP/stack.yaml"

up_start up "$STATE" --hold-seconds 5 -f "$E2E_TMP/stack.yaml"
pd_ok() {
    local code
    code=$(req POST /v1/completions "$(jq -cn --arg p "$(words 200)" \
        '{model:"llm", prompt:$p, max_tokens:10, stream:true}')" -H 'routing-strategy: pd')
    [ "$code" = 200 ] && [ -n "$(header x-brix-prefill-pod)" ]
}
wait_for 40 "a pd request through both legs" pd_ok
[ "$(grep -c '"text"' "$E2E_TMP/body")" = 10 ] || fail "not 10 streamed tokens"
PADDR=$(header x-brix-prefill-pod)
DADDR=$(header target-pod-ip)
[ "$PADDR" != "$DADDR" ] || fail "prefill and decode on one pod"
case "$(header target-pod)" in llm-decode-*) ;; *) fail "decode leg on $(header target-pod)" ;; esac
PP=${PADDR##*:} PD=${DADDR##*:}
num_cmp "$(metric "$PP" brix:kv_transfer_prefills_total)" ">=" 1 || fail "no prefill counted on $PADDR"
num_cmp "$(metric "$PD" brix:kv_transfer_pulls_total)" ">=" 1 || fail "no pull counted on $DADDR"
# a whole answer too
st=$(req POST /v1/completions "$(jq -cn --arg p "$(words 200)" '{model:"llm", prompt:$p, max_tokens:6}')" \
    -H 'routing-strategy: pd')
expect_status "$st" 200 "pd whole answer"
check "$E2E_TMP/body" '.usage.completion_tokens == 6' "whole answer"
[ "$(header x-brix-prefill-pod)" = "$PADDR" ] || fail "whole answer: prefill on $(header x-brix-prefill-pod)"
log "ok"
