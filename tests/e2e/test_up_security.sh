#!/usr/bin/env bash
# `brix up` is closed by default: with the quickstart stack and no --host,
# its gateway and every engine it launches listen on 127.0.0.1 only (ss), the
# gateway enforces the API keys from the stack file's GatewayConfig (keys
# written in it and a key file beside it), --api-key-file and BRIX_API_KEYS,
# and the engines still take runtime adapters (brix up's controller loads
# sql-lora through them). `brix apply` of a GatewayConfig is a clear error;
# a misspelt GatewayConfig field stops brix up.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
command -v ss >/dev/null || fail "needs ss (iproute2)"

GP=$(free_port)
AP=$(free_port)
STATE="$E2E_TMP/state"
BASE="http://127.0.0.1:$GP"
export BRIX_SERVER="http://127.0.0.1:$AP"
ROOT=$(cd "$E2E_DIR/../.." && pwd)

mkdir -p "$E2E_TMP/stack"
printf '# keys beside the stack file\nsk-up-file\n' >"$E2E_TMP/stack/keys.txt"
cat >"$E2E_TMP/stack/gateway.yaml" <<'YAML'
apiVersion: brix.ai/v1alpha1
kind: GatewayConfig
metadata:
  name: gateway
spec:
  apiKeyFile: keys.txt
  apiKeys: [sk-up-stack]
YAML
printf 'sk-up-flag\n' >"$E2E_TMP/flag-keys.txt"

log "a misspelt GatewayConfig field stops brix up"
sed 's/apiKeyFile/apikeyfile/' "$E2E_TMP/stack/gateway.yaml" >"$E2E_TMP/stack/bad.yaml"
timeout 20 "$BRIX" up --state "$E2E_TMP/badstate" --port "$(free_port)" --admin-port "$(free_port)" \
    -f "$E2E_TMP/stack/bad.yaml" >"$E2E_TMP/bad.log" 2>&1 && fail "brix up accepted a misspelt GatewayConfig"
grep -q "apikeyfile" "$E2E_TMP/bad.log" || fail "error does not name the field: $(cat "$E2E_TMP/bad.log")"

log "brix up -f examples/quickstart.yaml -f gateway.yaml, no --host"
BRIX_API_KEYS=sk-up-env "$BRIX" up --state "$STATE" --port "$GP" --admin-port "$AP" \
    --api-key-file "$E2E_TMP/flag-keys.txt" -f "$ROOT/examples/quickstart.yaml" \
    -f "$E2E_TMP/stack/gateway.yaml" >"$E2E_TMP/up.log" 2>&1 &
UP_PID=$!
E2E_PIDS+=("$UP_PID")
E2E_LOGS+=("$E2E_TMP/up.log")
pods_json() { "$BRIX" get pods -o json 2>/dev/null || echo '{"items":[]}'; }
ready_pods() { pods_json | jq '[.items[] | select(.phase == "Ready")] | length'; }
for ((i = 0; i < 300; i++)); do
    [ "$(ready_pods)" -ge 2 ] 2>/dev/null && break
    kill -0 "$UP_PID" 2>/dev/null || fail "brix up exited: $(tail -n 5 "$E2E_TMP/up.log")"
    sleep 0.1
done
[ "$(ready_pods)" -ge 2 ] || fail "two engines not Ready after 30 s"
grep -q "gateway http://127.0.0.1:$GP (4 API keys)" "$E2E_TMP/up.log" ||
    fail "brix up does not report the gateway on 127.0.0.1 with 4 keys: $(head -n 5 "$E2E_TMP/up.log")"

# every listening socket of brix up and its engines is on 127.0.0.1
pids=("$UP_PID")
mapfile -t -O 1 pids < <(pods_json | jq -r '.items[].pid')
ss -Hltnp >"$E2E_TMP/ss.out"
mine=0
for pid in "${pids[@]}"; do
    while read -r line; do
        mine=$((mine + 1))
        addr=$(awk '{print $4}' <<<"$line")
        [[ "$addr" == 127.0.0.1:* ]] || fail "pid $pid listens beyond loopback: $line"
    done < <(grep "pid=$pid," "$E2E_TMP/ss.out")
done
[ "$mine" -ge 4 ] || fail "found $mine listening sockets of brix up and its engines, want >= 4: $(cat "$E2E_TMP/ss.out")"
grep -q " 127\.0\.0\.1:$GP " "$E2E_TMP/ss.out" || fail "the gateway is not on 127.0.0.1:$GP"
for port in $(pods_json | jq -r '.items[].port'); do
    [ "$(grep -c ":$port " "$E2E_TMP/ss.out")" = 1 ] && grep -q " 127\.0\.0\.1:$port " "$E2E_TMP/ss.out" ||
        fail "engine port $port is not on 127.0.0.1 alone: $(grep ":$port " "$E2E_TMP/ss.out")"
done
log "$mine listening sockets (gateway, admin API, ${#pids[@]} processes), all on 127.0.0.1"

# the keys
CHAT='{"model":"llama-3-8b","messages":[{"role":"user","content":"hi"}],"max_tokens":2}'
for p in /v1/models /metrics; do
    code=$(req GET "$p")
    expect_status "$code" 401 "GET $p without a key"
    code=$(req GET "$p" "" -H "Authorization: Bearer sk-up-wrong")
    expect_status "$code" 401 "GET $p with a wrong key"
done
code=$(req POST /v1/chat/completions "$CHAT")
expect_status "$code" 401 "chat without a key"
code=$(req GET /healthz)
expect_status "$code" 200 "/healthz without a key"
for key in sk-up-stack sk-up-file sk-up-flag sk-up-env; do
    code=$(req POST /v1/chat/completions "$CHAT" -H "Authorization: Bearer $key")
    expect_status "$code" 200 "chat with $key"
done
log "keys from GatewayConfig (apiKeys, apiKeyFile), --api-key-file and BRIX_API_KEYS enforced"

# the engines take runtime adapters: the controller loads sql-lora
H="Authorization: Bearer sk-up-stack"
for ((i = 0; i < 150; i++)); do
    req GET /v1/models "" -H "$H" >/dev/null
    jq -e '.data | map(.id) | index("sql-lora")' "$E2E_TMP/body" >/dev/null 2>&1 && break
    sleep 0.2
done
check "$E2E_TMP/body" '.data | map(.id) | index("sql-lora")' "the adapter was not loaded on an engine"
code=$(req POST /v1/completions '{"model":"sql-lora","prompt":"select","max_tokens":2}' -H "$H")
expect_status "$code" 200 "a completion to the adapter"
log "adapter loaded through the engines' runtime endpoints"

# a GatewayConfig is no object for brix apply
"$BRIX" apply -f "$E2E_TMP/stack/gateway.yaml" >"$E2E_TMP/apply.out" 2>&1 && fail "brix apply stored a GatewayConfig"
grep -q "brix up" "$E2E_TMP/apply.out" || fail "brix apply's error does not point to brix up: $(cat "$E2E_TMP/apply.out")"
log "brix apply of a GatewayConfig: $(head -n 1 "$E2E_TMP/apply.out")"
