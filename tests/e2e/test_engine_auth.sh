#!/usr/bin/env bash
# What brix engine exposes: without --host it listens on loopback only
# (vLLM listens on every interface; brix is loopback unless told); with
# --api-key or VLLM_API_KEY, paths under /v1 need the key (vLLM's 401
# {"error":"Unauthorized"}) while /health, /metrics, /version stay open.
# Usage: bash tests/e2e/test_engine_auth.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
command -v ss >/dev/null || fail "needs ss (iproute2)"

# --- the default address is 127.0.0.1
P=$(free_port) || fail "no free port"
"$BRIX" engine --port "$P" --model m --time-scale 20 >"$E2E_TMP/default.log" 2>&1 &
ENGINE_PID=$!
E2E_PIDS+=("$ENGINE_PID")
E2E_LOGS+=("$E2E_TMP/default.log")
wait_health "$P"
ss -Hltn "sport = :$P" >"$E2E_TMP/ss.out"
[ "$(wc -l <"$E2E_TMP/ss.out")" = 1 ] || fail "port $P: want one listening socket: $(cat "$E2E_TMP/ss.out")"
grep -q " 127\.0\.0\.1:$P " "$E2E_TMP/ss.out" ||
    fail "brix engine without --host listens beyond loopback: $(cat "$E2E_TMP/ss.out")"
log "no --host: listening on 127.0.0.1:$P only"

# --- --api-key (and VLLM_API_KEY): /v1 needs it, the rest is open
VLLM_API_KEY=sk-env start_engine keyed --model m --time-scale 20 --api-key sk-flag --enable-lora \
    --allow-runtime-lora --lora-load-seconds 0.01
BASE="http://127.0.0.1:$ENGINE_PORT"
wait_health "$ENGINE_PORT"
COMP='{"model":"m","prompt":"hi","max_tokens":2}'
for r in "GET /v1/models" "POST /v1/completions $COMP" "POST /v1/chat/completions {}" \
    "POST /v1/load_lora_adapter {\"lora_name\":\"x\",\"lora_path\":\"/x\"}" "GET /v1/nope"; do
    read -r method path body <<<"$r"
    for c in "" "Authorization: Bearer wrong" "Authorization: Bearer sk-fla"; do
        if [ -n "$c" ]; then code=$(req "$method" "$path" "${body:-}" -H "$c"); else code=$(req "$method" "$path" "${body:-}"); fi
        expect_status "$code" 401 "$method $path with '${c:-no key}'"
        check "$E2E_TMP/body" '.error == "Unauthorized"' "$method $path: vLLM's 401 body"
    done
done
for key in sk-flag sk-env; do
    code=$(req GET /v1/models "" -H "Authorization: Bearer $key")
    expect_status "$code" 200 "GET /v1/models with $key"
    code=$(req POST /v1/completions "$COMP" -H "Authorization: Bearer $key")
    expect_status "$code" 200 "POST /v1/completions with $key"
done
code=$(req POST /v1/load_lora_adapter '{"lora_name":"x","lora_path":"/x"}' -H "Authorization: Bearer sk-flag")
expect_status "$code" 200 "load_lora_adapter with the key"
for p in /health /metrics /version /load; do
    code=$(req GET "$p")
    expect_status "$code" 200 "GET $p without a key"
done
log "--api-key / VLLM_API_KEY guard /v1, /health and /metrics stay open"
