#!/usr/bin/env bash
# brix gateway with API keys: every route but /healthz and /readyz needs one
# (GET /v1/models, /metrics, the proxied POSTs, unknown paths and wrong
# methods answer 401 without a key or with a wrong one); keys come from
# --api-key, --api-key-file and BRIX_API_KEYS and each works; the health
# probes say only "ok" / "not ready"; --metrics-port serves /metrics alone
# without a key; the official openai client works with a key and gets an
# AuthenticationError with a wrong one.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

EP=$(free_port) || fail "no free port"
GP=$(free_port) || fail "no free port"
MP=$(free_port) || fail "no free port"
cat >"$E2E_TMP/keys.txt" <<'KEYS'
# gateway keys, one per line
   sk-file-key
KEYS
printf 'sk-file-two\r\n' >>"$E2E_TMP/keys.txt"

# the engine is not up yet: /readyz must say not ready
BRIX_API_KEYS="sk-env-a, sk-env-b" "$BRIX" gateway --host 127.0.0.1 --port "$GP" \
    --backend "http://127.0.0.1:$EP" --api-key sk-flag-key --api-key-file "$E2E_TMP/keys.txt" \
    --metrics-port "$MP" --scrape-interval-ms 200 --models-interval-ms 200 \
    >"$E2E_TMP/gateway.log" 2>&1 &
E2E_PIDS+=($!)
E2E_LOGS+=("$E2E_TMP/gateway.log")
BASE="http://127.0.0.1:$GP"
for _ in $(seq 100); do
    code=$(curl -s -o "$E2E_TMP/body" -w '%{http_code}' "$BASE/healthz")
    [ "$code" = 200 ] && break
    sleep 0.1
done
expect_status "$code" 200 "/healthz without a key"
[ "$(cat "$E2E_TMP/body")" = ok ] || fail "/healthz body is not just 'ok': $(cat "$E2E_TMP/body")"
code=$(req GET /readyz)
expect_status "$code" 503 "/readyz without a key, no engine ready"
[ "$(cat "$E2E_TMP/body")" = "not ready" ] || fail "/readyz body says more than 'not ready': $(cat "$E2E_TMP/body")"

"$BRIX" engine --host 127.0.0.1 --port "$EP" --model m --time-scale 10 --jitter 0 \
    >"$E2E_TMP/engine.log" 2>&1 &
E2E_PIDS+=($!)
E2E_LOGS+=("$E2E_TMP/engine.log")
wait_health "$EP" 20 "${E2E_PIDS[-1]}"
for _ in $(seq 100); do
    code=$(req GET /readyz)
    [ "$code" = 200 ] && break
    sleep 0.1
done
expect_status "$code" 200 "/readyz without a key, engine ready"
[ "$(cat "$E2E_TMP/body")" = ok ] || fail "/readyz body says more than 'ok': $(cat "$E2E_TMP/body")"
code=$(req GET /healthz "" -H "Authorization: Bearer wrong")
expect_status "$code" 200 "/healthz with a wrong key"
log "health probes open, bodies 'ok' / 'not ready'"

CHAT='{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":2}'
COMP='{"model":"m","prompt":"hi","max_tokens":2}'
EMB='{"model":"m","input":"hi"}'
# refused: every (method, path, body) without a key and with bad credentials
routes=("GET /v1/models" "GET /metrics" "POST /v1/chat/completions $CHAT"
    "POST /v1/completions $COMP" "POST /v1/embeddings $EMB" "GET /nope" "GET /v1/nope"
    "POST /v1/models" "DELETE /metrics")
creds=("" "Authorization: Bearer sk-flag-ke" "Authorization: Bearer sk-flag-keyx"
    "Authorization: Bearer wrong" "Authorization: sk-flag-key" "Authorization: Basic c2stZmxhZy1rZXk6"
    "X-Api-Key: sk-flag-key")
for r in "${routes[@]}"; do
    read -r method path body <<<"$r"
    for c in "${creds[@]}"; do
        if [ -n "$c" ]; then code=$(req "$method" "$path" "${body:-}" -H "$c"); else code=$(req "$method" "$path" "${body:-}"); fi
        expect_status "$code" 401 "$method $path with '${c:-no key}'"
        check "$E2E_TMP/body" '.error.type == "AuthenticationError" and .error.code == 401' \
            "$method $path 401 has an OpenAI error body"
        grep -qi '^www-authenticate: Bearer' "$E2E_TMP/headers" || fail "$method $path 401 without WWW-Authenticate"
        grep -q '127.0.0.1' "$E2E_TMP/body" && fail "$method $path 401 names an address"
    done
done
log "${#routes[@]} routes x ${#creds[@]} bad credentials: 401"

# accepted: each key, whatever its source
for key in sk-flag-key sk-file-key sk-file-two sk-env-a sk-env-b; do
    H="Authorization: Bearer $key"
    code=$(req GET /v1/models "" -H "$H")
    expect_status "$code" 200 "GET /v1/models with $key"
    check "$E2E_TMP/body" '.data | map(.id) == ["m"]' "/v1/models with $key lists the model"
    code=$(req POST /v1/chat/completions "$CHAT" -H "$H")
    expect_status "$code" 200 "POST /v1/chat/completions with $key"
    code=$(req GET /metrics "" -H "$H")
    expect_status "$code" 200 "GET /metrics with $key"
    grep -q "^brix_gateway_engine_ready{engine=\"127.0.0.1:$EP\"} 1" "$E2E_TMP/body" ||
        fail "/metrics with $key lacks the engine"
done
H="Authorization: Bearer sk-flag-key"
code=$(req POST /v1/completions "$COMP" -H "$H")
expect_status "$code" 200 "POST /v1/completions with a key"
code=$(req POST /v1/embeddings "$EMB" -H "$H")
expect_status "$code" 200 "POST /v1/embeddings with a key"
code=$(req GET /nope "" -H "$H")
expect_status "$code" 404 "an unknown path with a key"
code=$(req GET /v1/models "" -H "authorization: bearer   sk-env-b")
expect_status "$code" 200 "scheme case-insensitive, blanks skipped"
log "keys from --api-key, --api-key-file and BRIX_API_KEYS accepted"

# --metrics-port: /metrics without a key, nothing else
code=$(curl -s -o "$E2E_TMP/body" -w '%{http_code}' "http://127.0.0.1:$MP/metrics")
expect_status "$code" 200 "--metrics-port /metrics without a key"
grep -q '^brix_gateway_requests_total{.*status="401"}' "$E2E_TMP/body" ||
    fail "the 401s are not counted in brix_gateway_requests_total"
# ... and each is in the access log (written a second after its first line), the path escaped
sleep 1.3
grep -q ' status=401 path=/v1/nope ' "$E2E_TMP/gateway.log" || fail "the 401s are not in the access log"
for p in /v1/models /healthz /v1/chat/completions; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "$H" "http://127.0.0.1:$MP$p")
    expect_status "$code" 404 "--metrics-port serves $p"
done
log "--metrics-port serves /metrics only, without a key"

# the official client with a key (and a wrong one: AuthenticationError)
BRIX_BASE_URL="$BASE/v1" BRIX_MODEL=m BRIX_API_KEY=sk-file-two node --test "$E2E_DIR/gateway_client.mjs" \
    >"$E2E_TMP/sdk.out" 2>&1 || { cat "$E2E_TMP/sdk.out"; fail "openai client tests with a key failed"; }
grep -q '^# skipped 0' "$E2E_TMP/sdk.out" || { cat "$E2E_TMP/sdk.out"; fail "the wrong-key client test was skipped"; }
log "openai client: works with a key, AuthenticationError with a wrong one"

# startup errors: an empty or unreadable key file, a bad BRIX_API_KEYS
printf '# nothing\n\n' >"$E2E_TMP/empty.txt"
# each must exit at once with an error (124: still running after 5 s, i.e. accepted)
bad_start() { # bad_start WHAT GREP_PATTERN ENV_ASSIGNMENT GATEWAY_ARGS...
    local what=$1 pat=$2 envset=$3 rc
    shift 3
    env "$envset" timeout 5 "$BRIX" gateway --host 127.0.0.1 --port 0 "$@" >"$E2E_TMP/bad.log" 2>&1
    rc=$?
    { [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; } || fail "$what was accepted (exit $rc)"
    grep -q "$pat" "$E2E_TMP/bad.log" || fail "$what: unclear error: $(cat "$E2E_TMP/bad.log")"
}
bad_start "an empty key file" 'no API key' BRIX_API_KEYS= --api-key-file "$E2E_TMP/empty.txt"
bad_start "a missing key file" 'missing.txt' BRIX_API_KEYS= --api-key-file "$E2E_TMP/missing.txt"
bad_start "a BRIX_API_KEYS value with a blank in a key" 'BRIX_API_KEYS' "BRIX_API_KEYS=ok,not ok"
log "bad key sources stop the start"
