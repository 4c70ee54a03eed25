#!/usr/bin/env bash
# Fault injection of brix engine, used to test gateways and controllers:
# --fault-error-rate answers 500, --fault-crash-after-tokens kills the process
# mid-generation, --fault-startup-delay keeps /health at 503 for a while.
# Usage: bash tests/e2e/test_engine_faults.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

MODEL=demo-llama

# --- every request fails with an OpenAI-style 500; health stays up
start_engine errors --model "$MODEL" --fault-error-rate 1.0 --time-scale 20
BASE="http://127.0.0.1:$ENGINE_PORT"
wait_health "$ENGINE_PORT"
for path in /v1/completions /v1/chat/completions; do
    if [ "$path" = /v1/completions ]; then
        body='{"model":"'$MODEL'","prompt":"hi","max_tokens":3}'
    else
        body='{"model":"'$MODEL'","messages":[{"role":"user","content":"hi"}],"max_tokens":3}'
    fi
    for ((i = 0; i < 3; i++)); do
        code=$(req POST "$path" "$body")
        expect_status "$code" 500 "$path with --fault-error-rate 1.0"
        check "$E2E_TMP/body" '.error | (.message | type) == "string" and (.type | type) == "string"
            and has("param") and .code == 500' "$path: 500 with an OpenAI error body"
    done
done
code=$(req GET /health)
expect_status "$code" 200 "/health under --fault-error-rate"
code=$(req GET /v1/models)
expect_status "$code" 200 "/v1/models under --fault-error-rate (only inference fails)"
stop_pid "$ENGINE_PID"

# --- the process dies after emitting N tokens
N=5
start_engine crash --model "$MODEL" --fault-crash-after-tokens $N --time-scale 20
BASE="http://127.0.0.1:$ENGINE_PORT"
crash_pid=$ENGINE_PID
wait_health "$ENGINE_PORT"
sse="$E2E_TMP/crash.sse"
exec 3>&2 2>/dev/null # no "Killed" job notice from bash
curl -sN --max-time 30 -o "$sse" -H 'Content-Type: application/json' "$BASE/v1/completions" \
    -d '{"model":"'$MODEL'","prompt":"crash me","max_tokens":100,"ignore_eos":true,"stream":true}'
exited=0
for ((i = 0; i < 100; i++)); do
    if ! kill -0 "$crash_pid" 2>/dev/null; then
        exited=1
        wait "$crash_pid"
        status=$?
        break
    fi
    sleep 0.1
done
exec 2>&3 3>&-
[ "$exited" = 1 ] || fail "engine still alive 10s after --fault-crash-after-tokens $N was reached"
log "engine exited with status $status after the crash fault"
[ "$status" -ne 0 ] || fail "a crashed engine exited with status 0"
grep -q '\[DONE\]' "$sse" && fail "the stream completed although the engine should have crashed"
got=$(grep -c '"text"' "$sse")
[ "$got" -le "$N" ] || fail "received $got token chunks, want at most $N before the crash"
log "received $got of $N tokens before the crash"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/health")
[ "$code" = 000 ] || fail "/health answered $code after the crash"

# --- startup delay: 503 on /health first, then 200
start_engine slowstart --model "$MODEL" --fault-startup-delay 2 --time-scale 20
BASE="http://127.0.0.1:$ENGINE_PORT"
first=""
for ((i = 0; i < 100; i++)); do
    first=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/health")
    [ "$first" != 000 ] && break
    kill -0 "$ENGINE_PID" 2>/dev/null || fail "engine with --fault-startup-delay exited"
    sleep 0.05
done
[ "$first" = 503 ] || fail "first /health answer during --fault-startup-delay was '$first', want 503"
code=$(req POST /v1/completions '{"model":"'$MODEL'","prompt":"too early","max_tokens":2}')
[ "$code" = 503 ] || [ "$code" = 200 ] || fail "request during startup delay: status $code, want 503 (or 200 once ready)"
wait_health "$ENGINE_PORT" 15
code=$(req POST /v1/completions '{"model":"'$MODEL'","prompt":"ready now","max_tokens":2}')
expect_status "$code" 200 "a request after the startup delay"

log "all fault-injection checks passed"
