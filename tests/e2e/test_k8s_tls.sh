#!/usr/bin/env bash
# brix's Kubernetes client over TLS, as every real API server speaks it: the fake API server
# (tests/k8s/fake_apiserver.py, a test fixture) serves https with a CA of its own and wants a
# bearer token or a client certificate of that CA.
#   - `brix gateway --kubernetes` with a kubeconfig holding the CA and a token lists and watches:
#     a pod created after it is ready (at a real `brix engine`) is routed;
#   - the same with a client certificate and key in place of the token;
#   - `brix controller` with the certificate kubeconfig lists its caches and takes the Lease;
#   - a kubeconfig trusting another CA never gets ready, and says why (the certificate);
#   - a wrong token never gets ready, and says why (401 Unauthorized).
# Skipped without python3, openssl, jq or kubectl.
# Usage: bash tests/e2e/test_k8s_tls.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
for t in python3 openssl jq kubectl; do
    command -v "$t" >/dev/null || {
        log "SKIP: $t not installed"
        exit 0
    }
done
source "$E2E_DIR/../k8s/lib.sh"
fake_apiserver_start_tls "$E2E_TMP/api" || fail "fake apiserver (https) did not start"
[[ $FAKE_API == https://* ]] || fail "the fake is not serving https: $FAKE_API"
kubectl --kubeconfig "$KUBECONFIG_FAKE" --request-timeout=10s apply -k "$E2E_DIR/../../deploy/crds" \
    >/dev/null || fail "CRDs (kubectl over https)"

start_engine eng --model tls-model --time-scale 100
wait_health "$ENGINE_PORT"

# make_pod NAME: a Ready pod of tls-model at the engine (created, then its status patched)
make_pod() {
    fake_api POST /api/v1/namespaces/default/pods "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",
        \"metadata\":{\"name\":\"$1\",\"labels\":{\"model.aibrix.ai/name\":\"tls-model\",
        \"model.aibrix.ai/port\":\"$ENGINE_PORT\"}},
        \"spec\":{\"schedulerName\":\"none\",\"containers\":[{\"name\":\"e\",\"image\":\"brix\"}]}}" \
        >"$E2E_TMP/pod.json"
    jq -e .metadata.uid "$E2E_TMP/pod.json" >/dev/null || fail "create pod $1: $(cat "$E2E_TMP/pod.json")"
    curl -sS --max-time 10 --cacert "$FAKE_API_CA" -H 'Authorization: Bearer fake-token' \
        -X PATCH -H 'Content-Type: application/merge-patch+json' \
        --data-binary '{"status":{"phase":"Running","podIP":"127.0.0.1","conditions":[{"type":"Ready","status":"True"}]}}' \
        "$FAKE_API/api/v1/namespaces/default/pods/$1/status" >"$E2E_TMP/pod.json"
    jq -e '.status.podIP == "127.0.0.1"' "$E2E_TMP/pod.json" >/dev/null ||
        fail "pod $1 status: $(cat "$E2E_TMP/pod.json")"
}

# gateway_on KUBECONFIG LOG: starts a gateway; GW_PID, BASE
gateway_on() {
    GW_PORT=$(free_port)
    "$BRIX" gateway --kubernetes --kubeconfig "$1" --port "$GW_PORT" --access-log off \
        >"$2" 2>&1 &
    GW_PID=$!
    E2E_PIDS+=("$GW_PID")
    E2E_LOGS+=("$2")
    BASE="http://127.0.0.1:$GW_PORT"
}

# routed POD_NAME: a chat completion for tls-model answered 200 (the pod is routed)
routed() {
    local code i
    for i in $(seq 100); do
        code=$(curl -s -o "$E2E_TMP/body" -w '%{http_code}' --max-time 10 "$BASE/v1/chat/completions" \
            -H 'Content-Type: application/json' \
            -d '{"model":"tls-model","max_tokens":1,"messages":[{"role":"user","content":"x"}]}')
        [ "$code" = 200 ] && return 0
        sleep 0.1
    done
    fail "tls-model not routed through the gateway (last HTTP $code)"
}

# ---- token + CA: list (ready), then watch (a pod created afterwards is routed)
gateway_on "$KUBECONFIG_FAKE" "$E2E_TMP/gw-token.log"
wait_ready "$BASE/readyz" "$GW_PID"
make_pod tls-a
routed
grep -q "pods listed" "$E2E_TMP/gw-token.log" || fail "no LIST logged: $(tail -5 "$E2E_TMP/gw-token.log")"
stop_pid "$GW_PID"
log "token and CA: listed and watched over https, pod routed"

# ---- client certificate + key, no token
grep -q "client-certificate-data" "$KUBECONFIG_FAKE_CERT" || fail "no client certificate kubeconfig"
grep -q "token:" "$KUBECONFIG_FAKE_CERT" && fail "the certificate kubeconfig has a token"
gateway_on "$KUBECONFIG_FAKE_CERT" "$E2E_TMP/gw-cert.log"
wait_ready "$BASE/readyz" "$GW_PID"
routed
stop_pid "$GW_PID"
log "client certificate: listed and routed"

# ---- the controller with the certificate: caches listed, Lease taken
HP=$(free_port)
MP=$(free_port)
POD_NAME=ctl-tls POD_NAMESPACE=default "$BRIX" controller --kubeconfig "$KUBECONFIG_FAKE_CERT" \
    --leader-elect --bind-host 127.0.0.1 --health-port "$HP" --metrics-port "$MP" \
    >"$E2E_TMP/ctl.log" 2>&1 &
CTL_PID=$!
E2E_PIDS+=("$CTL_PID")
E2E_LOGS+=("$E2E_TMP/ctl.log")
for _ in $(seq 200); do
    curl -sf --max-time 2 "http://127.0.0.1:$MP/metrics" | grep -q '^brix_controller_leader 1' && break
    sleep 0.1
done
curl -sf --max-time 2 "http://127.0.0.1:$MP/metrics" | grep -q '^brix_controller_leader 1' ||
    fail "the controller did not lead over https: $(tail -5 "$E2E_TMP/ctl.log")"
wait_ready "http://127.0.0.1:$HP/readyz" "$CTL_PID"
holder=$(fake_api GET /apis/coordination.k8s.io/v1/namespaces/default/leases/brix-controller-manager |
    jq -r .spec.holderIdentity)
[ "$holder" = ctl-tls ] || fail "Lease holder: $holder"
stop_pid "$CTL_PID"
log "controller: caches listed and Lease taken with a client certificate"

# ---- another CA: the handshake fails, never ready, the log says why
mkdir -p "$E2E_TMP/other"
(cd "$E2E_TMP/other" && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca \
    -keyout ca.key -out ca.crt 2>/dev/null) || fail "openssl"
fake_kubeconfig "$E2E_TMP/kc-other-ca" "$FAKE_API" fake-token "$E2E_TMP/other/ca.crt"
gateway_on "$E2E_TMP/kc-other-ca" "$E2E_TMP/gw-badca.log"
for _ in $(seq 30); do
    grep -qi "certificate" "$E2E_TMP/gw-badca.log" && break
    sleep 0.1
done
grep -qi "certificate" "$E2E_TMP/gw-badca.log" ||
    fail "an untrusted server certificate was not reported: $(tail -5 "$E2E_TMP/gw-badca.log")"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE/readyz")
[ "$code" = 503 ] || fail "ready against an untrusted server: HTTP $code"
stop_pid "$GW_PID"
log "another CA: not ready, the certificate named in the log"

# ---- a wrong token: 401, never ready
fake_kubeconfig "$E2E_TMP/kc-bad-token" "$FAKE_API" wrong-token "$FAKE_API_CA"
gateway_on "$E2E_TMP/kc-bad-token" "$E2E_TMP/gw-badtok.log"
for _ in $(seq 30); do
    grep -q "Unauthorized\|401" "$E2E_TMP/gw-badtok.log" && break
    sleep 0.1
done
grep -q "Unauthorized\|401" "$E2E_TMP/gw-badtok.log" ||
    fail "a refused token was not reported: $(tail -5 "$E2E_TMP/gw-badtok.log")"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE/readyz")
[ "$code" = 503 ] || fail "ready with a refused token: HTTP $code"
stop_pid "$GW_PID"
log "wrong token: not ready, 401 in the log"
